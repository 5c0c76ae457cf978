package shm_test

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"strconv"

	"github.com/shmchan/shmchan/shm"
)

// exampleName returns a name for an example's segment. The process id keeps
// two runs of the examples at the same time apart.
func exampleName(topic string) string {
	return examplePrefix + strconv.Itoa(os.Getpid()) + "-" + topic
}

// Create makes a named segment; Open maps the same memory by name, here in
// the same process, usually in another one.
func ExampleCreate() {
	name := exampleName("create")
	seg, err := shm.Create(name, 4096, shm.RemoveOnClose())
	if err != nil {
		log.Fatal(err)
	}
	defer seg.Close() // unmaps, then removes the name

	if _, err := seg.WriteAt([]byte("hello, shared memory"), 0); err != nil {
		log.Fatal(err)
	}

	peer, err := shm.Open(name, shm.ReadOnly())
	if err != nil {
		log.Fatal(err)
	}
	defer peer.Close()
	buf := make([]byte, 20)
	if _, err := peer.ReadAt(buf, 0); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s (%d bytes)\n", buf, peer.Size())

	_, err = peer.WriteAt([]byte("x"), 0)
	fmt.Println(errors.Is(err, shm.ErrReadOnly))
	// Output:
	// hello, shared memory (4096 bytes)
	// true
}

// A second Create of the same name fails with fs.ErrExist, and an Open of a
// missing name with fs.ErrNotExist, as the os package's calls do.
func ExampleOpen_errors() {
	name := exampleName("errors")
	_, err := shm.Open(name)
	fmt.Println(errors.Is(err, fs.ErrNotExist))

	seg, err := shm.Create(name, 64, shm.RemoveOnClose())
	if err != nil {
		log.Fatal(err)
	}
	defer seg.Close()
	_, err = shm.Create(name, 64)
	fmt.Println(errors.Is(err, fs.ErrExist))

	_, err = shm.Create("no/slashes", 64)
	fmt.Println(errors.Is(err, shm.ErrInvalidName))
	// Output:
	// true
	// true
	// true
}

// OpenOrCreate lets any number of processes start in any order: exactly one
// of them creates the segment.
func ExampleOpenOrCreate() {
	name := exampleName("ooc")
	first, created, err := shm.OpenOrCreate(name, 4096)
	if err != nil {
		log.Fatal(err)
	}
	defer first.Close()
	fmt.Println("first call created it:", created)

	second, created, err := shm.OpenOrCreate(name, 8192, shm.RemoveOnClose())
	if err != nil {
		log.Fatal(err)
	}
	defer second.Close()
	fmt.Println("second call created it:", created, "size", second.Size())
	// Output:
	// first call created it: true
	// second call created it: false size 4096
}

// A Stream is an io.ReadWriteSeeker over the segment, so the fmt, io and
// encoding packages work on shared memory.
func ExampleSegment_NewStream() {
	seg, err := shm.Create(exampleName("stream"), 32, shm.RemoveOnClose())
	if err != nil {
		log.Fatal(err)
	}
	defer seg.Close()

	st := seg.NewStream()
	fmt.Fprintf(st, "%s=%d;", "answer", 42)
	pos, _ := st.Seek(0, io.SeekCurrent)
	fmt.Println("cursor at", pos)

	// A write past the end writes what fits and says so.
	n, err := fmt.Fprint(st, "a sentence that is too long to fit")
	fmt.Println(n, errors.Is(err, shm.ErrOutOfRange))

	st.Seek(0, io.SeekStart)
	all, err := io.ReadAll(st)
	fmt.Printf("%q %v\n", all, err)
	// Output:
	// cursor at 10
	// 22 true
	// "answer=42;a sentence that is too" <nil>
}

// The atomic accessors coordinate processes through aligned words of the
// segment, here a counter and a flag.
func ExampleSegment_AddUint64() {
	seg, err := shm.Create(exampleName("atomic"), 64, shm.RemoveOnClose())
	if err != nil {
		log.Fatal(err)
	}
	defer seg.Close()

	for range 3 {
		seg.AddUint64(0, 1)
	}
	n, _ := seg.LoadUint64(0)
	fmt.Println("count", n)

	won, _ := seg.CompareAndSwapUint32(8, 0, 1)
	again, _ := seg.CompareAndSwapUint32(8, 0, 1)
	fmt.Println("claimed", won, "claimed again", again)

	_, err = seg.LoadUint64(4)
	fmt.Println(errors.Is(err, shm.ErrMisaligned))
	// Output:
	// count 3
	// claimed true claimed again false
	// true
}

func ExampleValidateName() {
	for _, name := range []string{"orders.v1", "", ".hidden", "a/b", "thirty-one-bytes-is-one-too-many"} {
		fmt.Printf("%q: %v\n", name, shm.ValidateName(name))
	}
	// Output:
	// "orders.v1": <nil>
	// "": shm: invalid name: empty
	// ".hidden": shm: invalid name: ".hidden" must start with a letter, a digit or '_'
	// "a/b": shm: invalid name: "a/b" has byte '/' at 1; allowed are letters, digits, '_', '-' and '.'
	// "thirty-one-bytes-is-one-too-many": shm: invalid name: 32 bytes, the limit is 30
}

// SendBatch copies several messages into a channel and publishes them with
// one store; RecvBatch takes up to len(bufs) messages and hands their space
// back with one store. Either end may be a peer that sends and receives one
// message at a time: the layout is the same.
func ExampleSender_SendBatch() {
	name := exampleName("batch")
	ch, err := shm.CreateChannel(name, 1<<12)
	if err != nil {
		log.Fatal(err)
	}
	defer shm.Remove(name)
	defer ch.Close()
	tx, err := ch.Sender()
	if err != nil {
		log.Fatal(err)
	}
	rx, err := ch.Receiver()
	if err != nil {
		log.Fatal(err)
	}

	msgs := [][]byte{[]byte("one"), []byte("two"), []byte("three")}
	for len(msgs) > 0 { // SendBatch sends what fits; send the rest again
		n, err := tx.SendBatch(msgs)
		if err != nil {
			log.Fatal(err)
		}
		msgs = msgs[n:]
	}

	// Buffers with room take the messages without allocating.
	bufs := make([][]byte, 8)
	for i := range bufs {
		bufs[i] = make([]byte, 0, 64)
	}
	n, err := rx.RecvBatch(bufs)
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range bufs[:n] {
		fmt.Printf("%s ", m)
	}
	st, err := ch.Stats()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("| received", st.Receiver.Messages)
	// Output:
	// one two three | received 3
}
