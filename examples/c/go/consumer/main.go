// Command consumer is the Go counterpart of examples/c/consumer.c: it prints
// every message received on the channel NAME, one per line, until the
// producer closes its end, and then removes the channel. Pair it with the C
// producer; see examples/c/README.md.
//
//	go run ./examples/c/go/consumer NAME
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/shmchan/shmchan/shm"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: consumer NAME")
		os.Exit(2)
	}
	n, err := run(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "consumer:", err)
		os.Exit(1)
	}
	fmt.Printf("consumer: received %d messages\n", n)
}

func run(name string) (int, error) {
	ch, _, err := shm.OpenOrCreateChannel(name, 1<<16, shm.WithWait(shm.Block), shm.RemoveOnClose())
	if err != nil {
		return 0, err
	}
	defer ch.Close()
	rx, err := ch.Receiver()
	if err != nil {
		return 0, err
	}
	for n := 0; ; n++ {
		msg, err := rx.Peek() // zero copy: read in place, then release
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		fmt.Printf("%s\n", msg)
		if err := rx.Release(); err != nil {
			return n, err
		}
	}
}
