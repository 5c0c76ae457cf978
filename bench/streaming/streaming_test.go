package streaming

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"testing"

	"github.com/shmchan/shmchan/shm"
)

var counter atomic.Int64

// newPair creates a channel and opens a second handle on it, as a reader in
// another process would.
func newPair(t *testing.T, maxPayload int) (w, r *Channel) {
	t.Helper()
	name := fmt.Sprintf("streaming-%d-%d", os.Getpid(), counter.Add(1))
	w, err := Create(name, maxPayload)
	if err != nil {
		t.Fatalf("Create(%q): %v", name, err)
	}
	t.Cleanup(func() {
		w.Release()
		shm.Remove(name)
	})
	r, err = Open(name)
	if err != nil {
		t.Fatalf("Open(%q): %v", name, err)
	}
	t.Cleanup(func() { r.Release() })
	return w, r
}

func TestWriteRead(t *testing.T) {
	w, r := newPair(t, 64)
	if err := w.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	got, err := r.Read(nil)
	if err != nil || string(got) != "hello" {
		t.Fatalf("Read = %q, %v; want \"hello\"", got, err)
	}
	flag, err := w.seg.ReadUint8(0)
	if err != nil || flag != FlagRead {
		t.Fatalf("flag after Read = %d, %v; want %d (read)", flag, err, FlagRead)
	}
}

// TestOverwriteLoses shows the missing flow control: a second Write before
// the reader reads replaces the first message.
func TestOverwriteLoses(t *testing.T) {
	w, r := newPair(t, 64)
	w.Write([]byte("first"))
	w.Write([]byte("second"))
	got, err := r.Read(nil)
	if err != nil || string(got) != "second" {
		t.Fatalf("Read = %q, %v; want \"second\" (the first is lost)", got, err)
	}
}

// TestTornRead replays the interleaving that tears a message: the reader
// polls between the writer's flag and its payload, and reads the new length
// with the old bytes.
func TestTornRead(t *testing.T) {
	w, r := newPair(t, 64)
	w.Write([]byte("old message"))
	if _, err := r.Read(nil); err != nil {
		t.Fatal(err)
	}
	// The writer's first two stores of "new message!" (flag, then length)...
	w.st.Seek(0, io.SeekStart)
	w.st.WriteByte(FlagUnread)
	w.st.Write([]byte{12, 0, 0, 0})
	// ...and the reader polls now, before the payload store.
	got, err := r.Read(nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := "old message\x00"; string(got) != want {
		t.Fatalf("Read = %q; want %q: the new length over the old bytes", got, want)
	}
}

// TestCloseOverwrites shows that Close replaces an unread message.
func TestCloseOverwrites(t *testing.T) {
	w, r := newPair(t, 64)
	w.Write([]byte("never read"))
	w.Close()
	if got, err := r.Read(nil); err != io.EOF {
		t.Fatalf("Read after Close = %q, %v; want io.EOF", got, err)
	}
}

// TestBadLength checks that a length that does not fit the segment fails
// the read instead of reading outside the record.
func TestBadLength(t *testing.T) {
	w, r := newPair(t, 16)
	for _, n := range []int32{-1, 17, 1 << 30} {
		w.st.Seek(0, io.SeekStart)
		w.st.WriteByte(FlagUnread)
		var b [4]byte
		b[0], b[1], b[2], b[3] = byte(n), byte(n>>8), byte(n>>16), byte(n>>24)
		w.st.Write(b[:])
		if _, err := r.Read(nil); !errors.Is(err, ErrBadLength) {
			t.Fatalf("length %d: Read error %v, want ErrBadLength", n, err)
		}
	}
}

func TestWriteTooLarge(t *testing.T) {
	w, _ := newPair(t, 16)
	if err := w.Write(bytes.Repeat([]byte{1}, 17)); !errors.Is(err, shm.ErrTooLarge) {
		t.Fatalf("Write of 17 bytes into a 16-byte channel: %v, want ErrTooLarge", err)
	}
}
