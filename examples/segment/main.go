// Command segment shows two processes sharing a named shared-memory segment.
//
// The writer (the default role) creates the segment, starts a copy of this
// program as the reader, and writes a few records through the segment's
// Stream view (an io.Writer). The reader opens the segment by name and reads
// the records through the random-access view (ReadUint32 and ReadAt). Two
// atomic words tell each side when the other is ready. At the end the
// writer closes the segment, which removes its name (RemoveOnClose).
//
//	go run ./examples/segment
//	CGO_ENABLED=0 go run ./examples/segment   # the pure-Go path
package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/shmchan/shmchan/shm"
)

// The segment's layout. Both processes are this program, so the layout is a
// set of constants; see README.md for the table.
const (
	size        = 4096
	magic       = 0x444d4853 // "SHMD", little-endian
	magicOff    = 0          // uint32, written through the Stream
	countOff    = 4          // uint32, number of records
	readyOff    = 8          // uint32, atomic: the writer stores 1 when the records are complete
	attachedOff = 12         // uint32, atomic: the reader stores 1 once it has the segment open
	ackOff      = 16         // uint32, atomic: the reader stores how many records it read
	recordsOff  = 24         // records: uint32 length, then the bytes
)

// timeout bounds every wait for the other process.
const timeout = 5 * time.Second

var records = []string{
	"hello from the writer",
	"these bytes went through an io.Writer",
	"and come back through ReadAt",
}

func main() {
	role := flag.String("role", "writer", "writer (creates the segment and starts the reader) or reader")
	name := flag.String("name", "", "segment name (the reader's; the writer picks one)")
	flag.Parse()
	log.SetFlags(0)
	log.SetOutput(os.Stdout) // the transcript; errors end it with a non-zero status
	// A closed stdout (| head) must not kill us before the cleanup: without
	// SIGPIPE the transcript just stops.
	signal.Ignore(syscall.SIGPIPE)

	var err error
	switch *role {
	case "writer":
		log.SetPrefix("writer: ")
		err = writer()
	case "reader":
		log.SetPrefix("reader: ")
		err = reader(*name)
	default:
		err = fmt.Errorf("unknown role %q", *role)
	}
	if err != nil {
		log.Fatal(err)
	}
}

func writer() error {
	name := fmt.Sprintf("segment-demo-%d", os.Getpid())
	seg, err := shm.Create(name, size, shm.RemoveOnClose())
	if err != nil {
		return err
	}
	defer seg.Close() // a no-op after the Close below; removes the name on an early return
	log.Printf("created %q, %d bytes (%s); on Linux it is /dev/shm/%s", name, seg.Size(), shm.Implementation(), name)
	removeOnSignal(name)

	exe, err := os.Executable()
	if err != nil {
		return err
	}
	child := exec.Command(exe, "-role=reader", "-name="+name)
	child.Stdout, child.Stderr = os.Stdout, os.Stderr
	if err := child.Start(); err != nil {
		return err
	}
	log.Printf("started the reader, pid %d", child.Process.Pid)
	defer child.Process.Kill() // in case we fail before Wait

	if err := waitWord(seg, attachedOff, 1); err != nil {
		return fmt.Errorf("waiting for the reader to attach: %w", err)
	}
	log.Printf("the reader has the segment open; writing %d records through the Stream view", len(records))

	st := seg.NewStream()
	header := []uint32{magic, uint32(len(records))}
	if err := binary.Write(st, binary.LittleEndian, header); err != nil {
		return err
	}
	if _, err := st.Seek(recordsOff, io.SeekStart); err != nil {
		return err
	}
	for _, r := range records {
		if err := binary.Write(st, binary.LittleEndian, uint32(len(r))); err != nil {
			return err
		}
		if _, err := io.WriteString(st, r); err != nil {
			return err
		}
	}
	end, _ := st.Seek(0, io.SeekCurrent)
	log.Printf("wrote bytes %d to %d; setting the ready word", recordsOff, end)
	// SYNC(ready): release. Publishes the header and the records; pairs with
	// the acquire in reader.
	if err := seg.StoreUint32(readyOff, 1); err != nil {
		return err
	}

	if err := child.Wait(); err != nil {
		return fmt.Errorf("reader: %w", err)
	}
	// SYNC(ack): acquire; pairs with the reader's release store (and its exit).
	ack, err := seg.LoadUint32(ackOff)
	if err != nil {
		return err
	}
	log.Printf("the reader exited 0 and acknowledged %d of %d records", ack, len(records))
	if ack != uint32(len(records)) {
		return errors.New("the reader missed records")
	}

	if err := seg.Close(); err != nil {
		return err
	}
	_, err = shm.Open(name)
	log.Printf("closed the segment; its name is gone: %v", errors.Is(err, fs.ErrNotExist))
	return nil
}

func reader(name string) error {
	seg, err := shm.Open(name)
	if err != nil {
		return err
	}
	defer seg.Close()
	log.Printf("opened %q by name, %d bytes (%s)", name, seg.Size(), shm.Implementation())

	// SYNC(attached): release; pairs with the writer's wait.
	if err := seg.StoreUint32(attachedOff, 1); err != nil {
		return err
	}
	// SYNC(ready): acquire; pairs with the writer's release store. After it
	// the header and the records are complete.
	if err := waitWord(seg, readyOff, 1); err != nil {
		return fmt.Errorf("waiting for the writer: %w", err)
	}

	if m, err := seg.ReadUint32(magicOff); err != nil || m != magic {
		return fmt.Errorf("magic = %#x, %v; want %#x", m, err, uint32(magic))
	}
	count, err := seg.ReadUint32(countOff)
	if err != nil {
		return err
	}
	log.Printf("the ready word is set; the header says %d records", count)

	// The writer's bytes are untrusted: check each length before using it.
	off := int64(recordsOff)
	var n uint32
	for ; n < count; n++ {
		length, err := seg.ReadUint32(off)
		if err != nil {
			return fmt.Errorf("record %d at %d: %w", n, off, err)
		}
		if int64(length) > seg.Size()-off-4 {
			return fmt.Errorf("record %d at %d: length %d runs past the end", n, off, length)
		}
		buf := make([]byte, length)
		if _, err := seg.ReadAt(buf, off+4); err != nil {
			return fmt.Errorf("record %d at %d: %w", n, off, err)
		}
		log.Printf("record %d at offset %3d, %2d bytes: %q", n, off, length, buf)
		off += 4 + int64(length)
	}

	// SYNC(ack): release; pairs with the writer's load after Wait.
	if err := seg.StoreUint32(ackOff, n); err != nil {
		return err
	}
	log.Printf("acknowledged %d records; exiting", n)
	return nil
}

// removeOnSignal removes name if Ctrl-C or a kill ends the program, which
// skips the deferred Close.
func removeOnSignal(name string) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-sigs
		_ = shm.Remove(name)
		fmt.Fprintf(os.Stderr, "writer: %v: removed %q\n", sig, name)
		os.Exit(1)
	}()
}

// waitWord polls the 32-bit word at off until it holds want, for at most
// timeout. A real program would sleep on a futex (see the channels) rather
// than poll; for a one-off handshake polling is plenty.
func waitWord(seg *shm.Segment, off int64, want uint32) error {
	deadline := time.Now().Add(timeout)
	for {
		v, err := seg.LoadUint32(off)
		if err != nil {
			return err
		}
		if v == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("word at %d is %d after %v, want %d: %w", off, v, timeout, want, os.ErrDeadlineExceeded)
		}
		time.Sleep(time.Millisecond)
	}
}
