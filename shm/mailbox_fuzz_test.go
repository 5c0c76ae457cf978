package shm_test

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/shmchan/shmchan/shm"
)

// mbImage returns the bytes of a live mailbox for values of up to 100 bytes
// after publishes publishes (and Close of the writer if closeIt), as a fuzz
// seed.
func mbImage(f *testing.F, publishes int, closeIt bool) []byte {
	name := newName(f)
	m, err := shm.CreateMailbox(name, 100)
	if err != nil {
		f.Fatal(err)
	}
	// Remove the name now: a fuzz worker is killed at the end, before
	// cleanups run, and must leave nothing in /dev/shm.
	defer shm.Remove(name)
	for i := 1; i <= publishes; i++ {
		val := make([]byte, mbSize(uint64(i), 100))
		mbStamp(val, uint64(i))
		if _, err := m.Publish(val); err != nil {
			f.Fatal(err)
		}
	}
	seg, err := shm.Open(name)
	if err != nil {
		f.Fatal(err)
	}
	defer seg.Close()
	img := make([]byte, seg.Size())
	if _, err := seg.ReadAt(img, 0); err != nil {
		f.Fatal(err)
	}
	if closeIt {
		img[0x088] = 1 // closed
	}
	if err := m.Close(); err != nil {
		f.Fatal(err)
	}
	return img
}

// FuzzOpenMailbox opens a segment holding arbitrary bytes as a mailbox, then
// reads, waits and publishes: every call returns a value or an error (most
// often ErrNotChannel, ErrVersionMismatch, ErrCorrupt or ErrNotReady), and
// none panics, hangs, or touches memory outside the segment.
//
// Run it with:
//
//	go test ./shm -run '^$' -fuzz '^FuzzOpenMailbox$' -fuzztime 30s -fuzzminimizetime 100x
//
// (a segment is at least 4 KiB, and the default minimisation of every new
// interesting input takes longer than a short CI run).
func FuzzOpenMailbox(f *testing.F) {
	f.Add(mbImage(f, 0, false))
	f.Add(mbImage(f, 2, false))
	f.Add(mbImage(f, 7, true))
	odd := mbImage(f, 4, false)
	odd[0x1000+(5%3)*256] = 2*5 + 1 // writer died writing version 5
	f.Add(odd)
	f.Add(mbImage(f, 1, false)[:4096])
	f.Add([]byte("SHMB"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 || len(data) > 1<<20 {
			return
		}
		name := newName(t)
		seg, err := shm.Create(name, int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		defer seg.Close()
		if _, err := seg.WriteAt(data, 0); err != nil {
			t.Fatal(err)
		}
		m, err := shm.OpenMailbox(name, shm.WithOpenTimeout(0), shm.WithWait(shm.Block))
		// The mappings outlive the name: remove it now, so that a fuzz
		// worker killed at the end leaves nothing in /dev/shm.
		if err := shm.Remove(name); err != nil {
			t.Fatal(err)
		}
		if err != nil {
			return
		}
		defer m.Close()
		max := m.MaxValue()
		if int64(max) > seg.Size() {
			t.Fatalf("opened a mailbox of %d-byte values in a %d-byte segment", max, seg.Size())
		}
		v, ver, err := m.Latest(nil)
		if err == nil && len(v) > max {
			t.Fatalf("Latest returned %d bytes, the limit is %d", len(v), max)
		}
		// A done context: WaitNewer returns a newer value, io.EOF, an
		// error, or ctx.Err(), without sleeping (parking is tested elsewhere).
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if v, _, err := m.WaitNewer(ctx, ver, nil); err == nil && len(v) > max {
			t.Fatalf("WaitNewer returned %d bytes, the limit is %d", len(v), max)
		}
		if _, err := m.Publish(make([]byte, min(max, 64))); err == nil {
			if _, _, err := m.Latest(nil); err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, shm.ErrCorrupt) {
				t.Fatalf("Latest after Publish: %v", err)
			}
		}
	})
}
