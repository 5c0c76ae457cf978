package shm_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"

	"github.com/shmchan/shmchan/shm"
)

// A writer publishes; a reader, usually in another process, reads the
// newest value. Values the reader did not read in time are simply skipped.
func ExampleMailbox() {
	name := fmt.Sprintf("example-%d-mailbox", os.Getpid())
	w, err := shm.CreateMailbox(name, 64, shm.RemoveOnClose())
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()

	r, err := shm.OpenMailbox(name) // in the reading process
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	for _, s := range []string{"21.0 °C", "21.5 °C", "22.0 °C"} {
		if _, err := w.Publish([]byte(s)); err != nil {
			log.Fatal(err)
		}
	}
	buf := make([]byte, r.MaxValue()) // Latest into buf never allocates
	v, version, err := r.Latest(buf)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s (version %d)\n", v, version)
	// Output: 22.0 °C (version 3)
}

// WaitNewer sleeps until the writer publishes something newer than the
// version the reader has, and says how many values it skipped; after the
// writer closes the mailbox it returns io.EOF.
func ExampleMailbox_WaitNewer() {
	name := fmt.Sprintf("example-%d-waitnewer", os.Getpid())
	w, err := shm.CreateMailbox(name, 64, shm.RemoveOnClose())
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	r, err := shm.OpenMailbox(name)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	publish := func(s string) {
		if _, err := w.Publish([]byte(s)); err != nil {
			log.Fatal(err)
		}
	}
	ctx := context.Background()
	buf := make([]byte, r.MaxValue())
	var last uint64
	read := func() {
		v, version, err := r.WaitNewer(ctx, last, buf)
		if errors.Is(err, io.EOF) {
			fmt.Println("writer closed the mailbox")
			return
		}
		if err != nil {
			log.Fatal(err)
		}
		skipped := uint64(0)
		if last > 0 {
			skipped = version - last - 1
		}
		fmt.Printf("%s: version %d, skipped %d\n", v, version, skipped)
		last = version
	}

	publish("frame 1")
	read()
	publish("frame 2")
	publish("frame 3")
	publish("frame 4")
	read()
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
	read()
	// Output:
	// frame 1: version 1, skipped 0
	// frame 4: version 4, skipped 2
	// writer closed the mailbox
}
