package interop_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/shmchan/shmchan/internal/layout"
)

// The shared corruption corpus (testdata/corpus): images that Go's and C's
// readers must treat the same way. testdata/corpus/MANIFEST lists each image
// with the mode that reads it (golden.c's read-chan, send-chan, read-mbox)
// and the end it must reach: for a corrupt image ErrCorrupt
// (SHMCHAN_ERR_CORRUPT), or the more specific error docs/layout.md names for
// it ("What an opener checks": ErrNotChannel, ErrVersionMismatch,
// ErrNotReady). An image is either one of the hand-written ones below
// (testdata/corpus/NAME.img, made by patching a golden image) or, as
// "fuzz:PATH", an entry of a Go fuzz corpus (shm/testdata/fuzz), valid ones
// included, which must then end the same way in both languages too.

const corpusDir = "testdata/corpus"

// patch is one change to a golden image: put the little-endian value of
// size bytes at off, or (size 0) cut the image to off bytes.
type patch struct {
	off  int
	size int
	val  uint64
}

// handWritten are the hand-written corrupt images: a golden image and the
// patches that break it. Offsets in the data region are given from the
// channel's header page (layout.ChanHeaderSize + place).
var handWritten = []struct {
	name, base string
	patches    []patch
}{
	// The opener's checks, in the order of docs/layout.md.
	{"chan-truncated-header", "chan-1-sent", []patch{{off: layout.ChanHeaderSize - 1}}},
	{"chan-bad-magic", "chan-1-sent", []patch{{layout.ChanOffMagic, 4, 0x584D4853}}}, // "SHMX"
	{"chan-no-version", "chan-1-sent", []patch{{layout.ChanOffVersion, 4, 0}}},
	{"chan-version-1", "chan-1-sent", []patch{{layout.ChanOffVersion, 4, 1}}},
	{"chan-version-3", "chan-1-sent", []patch{{layout.ChanOffVersion, 4, 3}}},
	{"chan-header-size", "chan-1-sent", []patch{{layout.ChanOffHeaderSize, 4, 8192}}},
	{"chan-data-offset", "chan-1-sent", []patch{{layout.ChanOffDataOffset, 8, 4224}}},
	{"chan-flags-incompatible", "chan-1-sent", []patch{{layout.ChanOffFlags, 4, 1}}},
	{"chan-capacity-not-pow2", "chan-1-sent", []patch{{layout.ChanOffCapacity, 8, 1000}}},
	{"chan-capacity-too-small", "chan-1-sent", []patch{{layout.ChanOffCapacity, 8, 512}, {layout.ChanOffMaxMessage, 8, 248}}},
	{"chan-capacity-past-segment", "chan-1-sent", []patch{{layout.ChanOffCapacity, 8, 2048}, {layout.ChanOffMaxMessage, 8, 1016}}},
	{"chan-max-message", "chan-1-sent", []patch{{layout.ChanOffMaxMessage, 8, 505}}},
	{"chan-header-only", "chan-1-sent", []patch{{off: layout.ChanHeaderSize}}},
	// Records (chan-1-sent: 100 bytes at 0, 200 at 112, 1 at 320, terminator at 336).
	{"chan-kind-0", "chan-1-sent", []patch{{layout.ChanHeaderSize + 4, 4, 0}}},
	{"chan-kind-3", "chan-1-sent", []patch{{layout.ChanHeaderSize + 4, 4, 3}}},
	{"chan-len-over-max", "chan-1-sent", []patch{{layout.ChanHeaderSize, 4, 505}}},
	{"chan-second-kind-3", "chan-1-sent", []patch{{layout.ChanHeaderSize + 112 + 4, 4, 3}}},
	{"chan-padding-at-0", "chan-1-sent", []patch{{layout.ChanHeaderSize, 8, 2<<32 | 1016}}},
	{"chan-head-unaligned", "chan-1-sent", []patch{{layout.ChanOffHead, 8, 4}}},
	{"chan-head-ahead", "chan-1-sent", []patch{{layout.ChanOffHead, 8, 8}}}, // inside the first record's payload
	// chan-2-wrapped: head 336, 400 bytes at 336, padding at 744 (len 272), 300 bytes at 0.
	{"chan-head-behind", "chan-2-wrapped", []patch{{layout.ChanOffHead, 8, 328}}}, // inside an old record
	{"chan-padding-short", "chan-2-wrapped", []patch{{layout.ChanHeaderSize + 744, 4, 264}}},
	{"chan-padding-long", "chan-2-wrapped", []patch{{layout.ChanHeaderSize + 744, 4, 280}}},
	{"chan-len-past-region", "chan-2-wrapped", []patch{{layout.ChanHeaderSize + 744, 8, 1<<32 | 300}}},
	{"chan-len-past-region-max", "chan-2-wrapped", []patch{{layout.ChanHeaderSize + 744, 8, 1<<32 | 504}}},
	// No terminator: padding after the last record leads back to the first
	// one, so the records from head run past one capacity.
	{"chan-no-terminator", "chan-1-sent", []patch{{layout.ChanHeaderSize + 336, 8, 2<<32 | 680}}},

	// Mailbox (mbox-1-published: latest 5, slot 2 holds version 5, slots of 256 bytes).
	{"mbox-truncated-header", "mbox-1-published", []patch{{off: layout.MboxHeaderSize - 8}}},
	{"mbox-bad-magic", "mbox-1-published", []patch{{layout.MboxOffMagic, 4, 0x434D4853}}}, // a channel's magic
	{"mbox-no-version", "mbox-1-published", []patch{{layout.MboxOffVersion, 4, 0}}},
	{"mbox-version-1", "mbox-1-published", []patch{{layout.MboxOffVersion, 4, 1}}},
	{"mbox-header-size", "mbox-1-published", []patch{{layout.MboxOffHeaderSize, 4, 8192}}},
	{"mbox-slots-offset", "mbox-1-published", []patch{{layout.MboxOffSlotsOffset, 8, 4224}}},
	{"mbox-flags-incompatible", "mbox-1-published", []patch{{layout.MboxOffFlags, 4, 0x8000}}},
	{"mbox-max-value-0", "mbox-1-published", []patch{{layout.MboxOffMaxValue, 8, 0}}},
	{"mbox-slot-size", "mbox-1-published", []patch{{layout.MboxOffSlotSize, 8, 384}}},
	{"mbox-slot-count-1", "mbox-1-published", []patch{{layout.MboxOffSlotCount, 4, 1}}},
	{"mbox-slot-count-17", "mbox-1-published", []patch{{layout.MboxOffSlotCount, 4, 17}}},
	{"mbox-slots-past-segment", "mbox-1-published", []patch{{layout.MboxOffSlotCount, 4, 4}}},
	{"mbox-truncated-slots", "mbox-1-published", []patch{{off: layout.MboxHeaderSize + 2*256}}},
	{"mbox-latest-over-max", "mbox-1-published", []patch{{layout.MboxOffLatest, 8, layout.MboxMaxVersion + 1}}},
	{"mbox-torn-slot", "mbox-1-published", []patch{{layout.MboxHeaderSize + 2*256, 8, 11}}},         // seq 2v+1: mid-publish
	{"mbox-stale-slot", "mbox-1-published", []patch{{layout.MboxHeaderSize + 2*256, 8, 4}}},         // seq of version 2
	{"mbox-latest-ahead", "mbox-1-published", []patch{{layout.MboxOffLatest, 8, 7}}},                // slot 1 holds version 4
	{"mbox-len-over-max", "mbox-1-published", []patch{{layout.MboxHeaderSize + 2*256 + 8, 8, 101}}}, // slot 2's len
}

// corpusImage builds a hand-written image from the checked-in golden images.
func corpusImage(t *testing.T, base string, patches []patch) []byte {
	t.Helper()
	img, err := os.ReadFile(filepath.Join(goldenDir, base+".img"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range patches {
		if p.size == 0 {
			img = img[:p.off]
			continue
		}
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], p.val)
		copy(img[p.off:p.off+p.size], b[:p.size])
	}
	return img
}

// TestCorpusImagesCurrent checks that testdata/corpus/*.img are the
// patched golden images that handWritten describes (-update rewrites them).
func TestCorpusImagesCurrent(t *testing.T) {
	for _, h := range handWritten {
		img := corpusImage(t, h.base, h.patches)
		path := filepath.Join(corpusDir, h.name+".img")
		if *update {
			if err := os.WriteFile(path, img, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, img) {
			t.Errorf("%s is not current (err %v): rewrite it with -update", path, err)
		}
	}
}

// loadCorpusEntry returns the bytes of a manifest entry: NAME.img in
// testdata/corpus, or fuzz:PATH, a Go fuzz corpus file (relative to the
// repository root) holding one []byte.
func loadCorpusEntry(t *testing.T, file string) []byte {
	t.Helper()
	path, ok := strings.CutPrefix(file, "fuzz:")
	if !ok {
		b, err := os.ReadFile(filepath.Join(corpusDir, file))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	b, err := os.ReadFile(filepath.Join("../../..", path))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(string(b), "\n", 3)
	if len(lines) < 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "[]byte(") {
		t.Fatalf("%s: not a fuzz corpus file of one []byte", path)
	}
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return []byte(s)
}

// TestCorpus reads every manifest entry with Go and with the C reader built
// with ASan and UBSan: both must reach the manifest's end (never crash,
// never accept a corrupt image) and print the same lines on the way.
func TestCorpus(t *testing.T) {
	prog := goldenProgram(t, true)
	f, err := os.Open(filepath.Join(corpusDir, "MANIFEST"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	counts := map[string]int{}
	files := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 3 {
			t.Fatalf("MANIFEST: bad line %q", line)
		}
		file, mode, expect := fields[0], fields[1], fields[2]
		files[file] = true
		img := loadCorpusEntry(t, file)
		name := place(t, img)
		goLines := goRead(mode, name)
		// The reader may have changed the object (head, owner): read the
		// original image in C.
		name = place(t, img)
		cLines := cRead(t, prog, mode, name)
		want := "end " + expect
		if g := goLines[len(goLines)-1]; g != want {
			t.Errorf("%s %s: Go ends %q, the manifest says %q", file, mode, g, want)
		}
		if c := cLines[len(cLines)-1]; c != want {
			t.Errorf("%s %s: C ends %q, the manifest says %q", file, mode, c, want)
		}
		if !slicesEqual(goLines, cLines) {
			t.Errorf("%s %s: Go and C differ:\nGo:\n\t%s\nC:\n\t%s", file, mode,
				strings.Join(goLines, "\n\t"), strings.Join(cLines, "\n\t"))
		}
		counts[expect]++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, h := range handWritten {
		if !files[h.name+".img"] {
			t.Errorf("%s.img is not in the MANIFEST", h.name)
		}
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	t.Logf("corpus: %d reads of %d images, Go and C (ASan+UBSan) agree on each; ends: %v", total, len(files), counts)
}
