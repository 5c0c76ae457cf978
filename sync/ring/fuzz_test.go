package ring_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/shmchan/shmchan/sync/ring"
)

// fuzzSeed is one FuzzConsumer input: the ring's capacity as 64<<(capLog%7),
// the shared head, the region's bytes (zero-extended or cut to the
// capacity), and edits, 3 bytes each (a little-endian u16 offset and a
// value), that a hostile producer applies to the region between the
// consumer's calls.
type fuzzSeed struct {
	name   string
	capLog byte
	head   uint64
	region []byte
	edits  []byte
}

// ringSeed builds a seed from a live ring of capacity 64<<capLog: write
// runs fn on a fresh producer and consumer.
func ringSeed(name string, capLog byte, head uint64, edits []byte, write func(p *ring.Producer, c *ring.Consumer) error) fuzzSeed {
	sh := &shared{head: head}
	data := newRegion(64 << capLog)
	p, err := ring.NewProducer(&sh.head, data)
	if err != nil {
		panic(err)
	}
	c, err := ring.NewConsumer(&sh.head, data)
	if err != nil {
		panic(err)
	}
	if err := write(p, c); err != nil {
		panic(fmt.Sprintf("seed %s: %v", name, err))
	}
	return fuzzSeed{name, capLog, sh.head, bytes.Clone(data), edits}
}

// fuzzSeeds are the seed corpus: live rings, empty, holding messages,
// wrapped behind padding, and corrupt ones. They are also committed under
// testdata/fuzz/FuzzConsumer (see TestFuzzConsumerCorpus).
func fuzzSeeds() []fuzzSeed {
	writeN := func(sizes ...int) func(p *ring.Producer, c *ring.Consumer) error {
		return func(p *ring.Producer, c *ring.Consumer) error {
			for i, n := range sizes {
				if err := p.TryWrite(payload(i, n)); err != nil {
					return err
				}
			}
			return nil
		}
	}
	// wrapped leaves records behind padding: write and read a, then write b.
	wrapped := func(a, b []int) func(p *ring.Producer, c *ring.Consumer) error {
		return func(p *ring.Producer, c *ring.Consumer) error {
			if err := writeN(a...)(p, c); err != nil {
				return err
			}
			for range a {
				if _, err := c.TryRead(nil); err != nil {
					return err
				}
			}
			return writeN(b...)(p, c)
		}
	}
	seeds := []fuzzSeed{
		ringSeed("empty", 0, 0, nil, writeN()),
		ringSeed("messages", 2, 0, nil, writeN(0, 1, 7, 8, 24, 120)),
		ringSeed("full", 0, 0, nil, writeN(0, 8, 24)),
		ringSeed("wrapped", 1, 0, nil, wrapped([]int{40, 40}, []int{40, 5, 0})),
		ringSeed("late-head", 1, 8*1000, nil, wrapped([]int{56, 16}, []int{56, 0})),
		ringSeed("edited", 2, 0, []byte{4, 0, 3, 20, 0, 0xFF, 64, 0, 2}, writeN(3, 9, 30, 0, 60)),
	}
	corrupt := func(name string, capLog byte, head uint64, recs ...rec) fuzzSeed {
		data := make([]byte, 64<<capLog)
		for _, r := range recs {
			putRecord(data, r.at, r.n, r.kind)
		}
		return fuzzSeed{name, capLog, head, data, nil}
	}
	return append(seeds,
		corrupt("kind-3", 0, 0, rec{0, 8, 3}),
		corrupt("len-over-max", 2, 0, rec{0, 121, kindMessage}),
		corrupt("padding-short", 2, 128, rec{128, 64, kindPadding}),
		corrupt("padding-at-0", 2, 0, rec{0, 248, kindPadding}),
		corrupt("no-terminator", 2, 0, rec{0, 56, kindMessage}, rec{64, 56, kindMessage}, rec{128, 56, kindMessage}, rec{192, 56, kindMessage}),
		corrupt("unaligned-head", 0, 4, rec{0, 8, kindMessage}),
	)
}

// marshal encodes the seed as a "go test fuzz v1" corpus file.
func (s fuzzSeed) marshal() []byte {
	return fmt.Appendf(nil, "go test fuzz v1\nbyte(%q)\nuint64(%d)\n[]byte(%q)\n[]byte(%q)\n", s.capLog, s.head, s.region, s.edits)
}

// TestFuzzConsumerCorpus checks that the committed seed corpus holds every
// seed of fuzzSeeds. With SHMCHAN_UPDATE_CORPUS=1 it writes them instead.
func TestFuzzConsumerCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzConsumer")
	update := os.Getenv("SHMCHAN_UPDATE_CORPUS") == "1"
	if update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range fuzzSeeds() {
		path := filepath.Join(dir, s.name)
		if update {
			if err := os.WriteFile(path, s.marshal(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("seed %s: %v (regenerate with SHMCHAN_UPDATE_CORPUS=1)", s.name, err)
		} else if !bytes.Equal(got, s.marshal()) {
			t.Errorf("seed %s: %s differs from fuzzSeeds (regenerate with SHMCHAN_UPDATE_CORPUS=1)", s.name, path)
		}
	}
}

// FuzzConsumer attaches a consumer (and a producer) to arbitrary bytes and
// an arbitrary head, then peeks and releases (every third read a batch read,
// every third write a batch) while a hostile producer edits the region: nothing panics, every error is ErrCorrupt (or ErrEmpty,
// ErrFull, ErrTooLarge where they apply), and every slice returned lies
// inside the region.
//
//	go test ./sync/ring -run '^$' -fuzz '^FuzzConsumer$' -fuzztime 20s
func FuzzConsumer(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s.capLog, s.head, s.region, s.edits)
	}
	f.Fuzz(func(t *testing.T, capLog byte, head uint64, region, edits []byte) {
		capacity := 64 << (capLog % 7)
		data := newRegion(capacity)
		copy(data, region)
		sh := &shared{head: head}

		// edit applies the next hostile edit, if any is left.
		edit := func() bool {
			if len(edits) < 3 {
				return false
			}
			off := int(binary.LittleEndian.Uint16(edits)) % capacity
			data[off], edits = edits[2], edits[3:]
			return true
		}

		c, err := ring.NewConsumer(&sh.head, data)
		if err != nil {
			if !errors.Is(err, ring.ErrCorrupt) {
				t.Fatalf("NewConsumer: %v, want ErrCorrupt", err)
			}
		} else {
			if c.Capacity() != capacity || c.MaxMessage() != capacity/2-8 {
				t.Fatalf("Capacity %d, MaxMessage %d over %d bytes", c.Capacity(), c.MaxMessage(), capacity)
			}
			bufs := make([][]byte, 3)
			for i := 0; i < 2*capacity/8+len(edits)/3+2; i++ {
				if i%3 == 2 {
					// Every third read is a batch read of up to three.
					before := sh.head
					n, _, err := c.TryReadBatch(bufs)
					if err == ring.ErrEmpty {
						if !edit() {
							break
						}
						continue
					}
					if err != nil {
						if !errors.Is(err, ring.ErrCorrupt) || n != 0 || sh.head != before {
							t.Fatalf("TryReadBatch: %d, %v (head %d -> %d); want 0, ErrCorrupt, head unchanged", n, err, before, sh.head)
						}
						break
					}
					for _, m := range bufs[:n] {
						if len(m) > c.MaxMessage() {
							t.Fatalf("TryReadBatch: %d bytes, max %d", len(m), c.MaxMessage())
						}
					}
					if step := sh.head - before; n < 1 || n > len(bufs) || step%8 != 0 || step < 8*uint64(n) || step > uint64(capacity-8) {
						t.Fatalf("TryReadBatch read %d and moved head from %d to %d in a %d-byte ring", n, before, sh.head, capacity)
					}
					edit()
					continue
				}
				msg, err := c.TryPeek()
				if err == ring.ErrEmpty {
					if !edit() {
						break
					}
					continue
				}
				if err != nil {
					if !errors.Is(err, ring.ErrCorrupt) || msg != nil {
						t.Fatalf("TryPeek: %d bytes, %v; want ErrCorrupt", len(msg), err)
					}
					break
				}
				if len(msg) > c.MaxMessage() || cap(msg) != len(msg) || offsetIn(data, msg) < 0 {
					t.Fatalf("TryPeek: %d bytes (cap %d) at offset %d of a %d-byte region", len(msg), cap(msg), offsetIn(data, msg), capacity)
				}
				before := sh.head
				if err := c.Release(); err != nil {
					t.Fatalf("Release after TryPeek: %v", err)
				}
				if step := sh.head - before; step%8 != 0 || step < 8 || step > uint64(capacity-8) {
					t.Fatalf("Release moved head from %d to %d in a %d-byte ring", before, sh.head, capacity)
				}
				edit()
			}
		}

		// The producer walks the same records to find where to continue,
		// then writes a few.
		p, err := ring.NewProducer(&sh.head, data)
		if err != nil {
			if !errors.Is(err, ring.ErrCorrupt) {
				t.Fatalf("NewProducer: %v, want ErrCorrupt", err)
			}
			return
		}
		if free := p.Free(); free < 0 || free > capacity-8 {
			t.Fatalf("Free() = %d in a %d-byte ring", free, capacity)
		}
		batch := make([][]byte, 3)
		for i := range 8 {
			n := (i * 37) % (p.MaxMessage() + 2)
			if i%3 == 2 {
				// A batch of three: as many as fit, published by one store.
				for j := range batch {
					batch[j] = make([]byte, (n+j*11)%(p.MaxMessage()+2))
				}
				free := p.Free()
				got, _, err := p.TryWriteBatch(batch)
				switch {
				case err == nil:
					if got < 1 || got > len(batch) || p.Free() > free {
						t.Fatalf("TryWriteBatch = %d (free %d -> %d)", got, free, p.Free())
					}
				case errors.Is(err, ring.ErrTooLarge):
					if len(batch[0]) <= p.MaxMessage() || got != 0 {
						t.Fatalf("TryWriteBatch = %d, %v with a first message of %d, MaxMessage %d", got, err, len(batch[0]), p.MaxMessage())
					}
				case err != ring.ErrFull && !errors.Is(err, ring.ErrCorrupt):
					t.Fatalf("TryWriteBatch: %d, %v", got, err)
				}
				continue
			}
			buf, err := p.TryReserve(n)
			switch {
			case err == nil:
				if len(buf) != n || offsetIn(data, buf) < 0 {
					t.Fatalf("TryReserve(%d): %d bytes at offset %d", n, len(buf), offsetIn(data, buf))
				}
				if err := p.Commit(n); err != nil {
					t.Fatalf("Commit(%d): %v", n, err)
				}
			case errors.Is(err, ring.ErrTooLarge):
				if n <= p.MaxMessage() {
					t.Fatalf("TryReserve(%d) = %v with MaxMessage %d", n, err, p.MaxMessage())
				}
			case err != ring.ErrFull && !errors.Is(err, ring.ErrCorrupt):
				t.Fatalf("TryReserve(%d): %v", n, err)
			}
		}
	})
}
