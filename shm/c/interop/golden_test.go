package interop_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shmchan/shmchan/internal/layout"
	"github.com/shmchan/shmchan/shm"
)

// update rewrites the checked-in golden images and corpus images:
//
//	go test ./shm/c/interop -run 'Golden|Corpus' -update
//
// Go and C must still agree byte for byte; -update never papers over a
// difference between them. A changed image is a layout change: see
// testdata/golden/README.md.
var update = flag.Bool("update", false, "rewrite testdata/golden/*.img and testdata/corpus/*.img")

const goldenDir = "testdata/golden"

// snapshots are the images the golden script takes, in order.
var snapshots = []string{
	"chan-0-created", "chan-1-sent", "chan-2-wrapped", "chan-3-closed",
	"mbox-0-created", "mbox-1-published", "mbox-2-closed",
}

// normalise zeroes, in place, the fields of an image that legitimately
// differ between runs, and nothing else: the process tokens (PID and start
// time) of the creator and of the role owners. Nothing else in layout v2
// depends on the process or the clock. Channel images start with SHMC,
// mailbox images with SHMB.
func normalise(img []byte) []byte {
	var offs []int
	switch string(img[:4]) {
	case "SHMC":
		offs = []int{layout.ChanOffCreator, layout.ChanOffTxOwner, layout.ChanOffRxOwner}
	case "SHMB":
		offs = []int{layout.MboxOffCreator, layout.MboxOffOwner}
	}
	for _, off := range offs {
		clear(img[off : off+8])
	}
	return img
}

// payload is message k's n bytes: byte i is k*37 + i*11 + 1 (golden.c's payload).
func payload(k, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(k*37 + i*11 + 1)
	}
	return b
}

// snapshot copies the object name, as it is now, through a mapping of its own.
func snapshot(t *testing.T, name string) []byte {
	t.Helper()
	seg, err := shm.Open(name)
	if err != nil {
		t.Fatalf("snapshot: Open(%q): %v", name, err)
	}
	defer seg.Close()
	return bytes.Clone(seg.Bytes())
}

// goScript runs the golden script in Go, step for step as golden.c's
// script, and returns the raw snapshots by name.
func goScript(t *testing.T) map[string][]byte {
	cname, mname := newName(t), newName(t)
	snaps := map[string][]byte{}
	ch, err := shm.CreateChannel(cname, layout.ChanMinCapacity)
	if err != nil {
		t.Fatalf("CreateChannel: %v", err)
	}
	defer ch.Close()
	tx, err := ch.Sender()
	if err != nil {
		t.Fatal(err)
	}
	rx, err := ch.Receiver()
	if err != nil {
		t.Fatal(err)
	}
	send := func(k, n int) {
		if err := tx.TrySend(payload(k, n)); err != nil {
			t.Fatalf("send %d: %v", k, err)
		}
	}
	recv := func(k, n int) {
		got, err := rx.TryRecv(nil)
		if err != nil || !bytes.Equal(got, payload(k, n)) {
			t.Fatalf("recv %d: %d bytes, %v", k, len(got), err)
		}
	}
	snaps["chan-0-created"] = snapshot(t, cname)
	send(0, 100)
	send(1, 200)
	send(2, 1)
	snaps["chan-1-sent"] = snapshot(t, cname)
	recv(0, 100)
	recv(1, 200)
	recv(2, 1)
	send(3, 400)
	send(4, 300) // does not fit before the end: padding at 744, the record at 0
	snaps["chan-2-wrapped"] = snapshot(t, cname)
	recv(3, 400)
	recv(4, 300)
	send(5, 0)
	send(6, 5)
	recv(5, 0)
	if err := tx.Close(); err != nil {
		t.Fatal(err)
	}
	snaps["chan-3-closed"] = snapshot(t, cname)
	if err := ch.Close(); err != nil {
		t.Fatal(err)
	}

	mb, err := shm.CreateMailbox(mname, 100)
	if err != nil {
		t.Fatalf("CreateMailbox: %v", err)
	}
	defer mb.Close()
	snaps["mbox-0-created"] = snapshot(t, mname)
	for i, n := range []int{10, 100, 1, 64, 33} {
		if _, err := mb.Publish(payload(10+i, n)); err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}
	snaps["mbox-1-published"] = snapshot(t, mname)
	if err := mb.Close(); err != nil {
		t.Fatal(err)
	}
	snaps["mbox-2-closed"] = snapshot(t, mname)
	return snaps
}

// goldenProgram builds testdata/golden.c, optimised or with the sanitizers.
func goldenProgram(t *testing.T, sanitize bool) string {
	t.Helper()
	if sanitize {
		return buildC(t, "golden-san", []string{"testdata/golden.c"},
			"-O1", "-g", "-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=all")
	}
	return buildC(t, "golden", []string{"testdata/golden.c"}, "-O2")
}

// cScript runs the golden script in C and returns the raw snapshots by name.
func cScript(t *testing.T) map[string][]byte {
	prog := goldenProgram(t, false)
	dir := t.TempDir()
	cname, mname := newName(t), newName(t)
	if out, err := exec.Command(prog, "script", dir, cname, mname).CombinedOutput(); err != nil {
		t.Fatalf("golden script: %v\n%s", err, out)
	}
	snaps := map[string][]byte{}
	for _, s := range snapshots {
		b, err := os.ReadFile(filepath.Join(dir, s+".img"))
		if err != nil {
			t.Fatal(err)
		}
		snaps[s] = b
	}
	return snaps
}

// firstDiff describes where two images first differ.
func firstDiff(a, b []byte) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("first difference at offset %#x: %#02x vs %#02x (%d bytes differ in all)", i, a[i], b[i], countDiff(a, b))
		}
	}
	return fmt.Sprintf("lengths %d and %d", len(a), len(b))
}

func countDiff(a, b []byte) int {
	n := 0
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			n++
		}
	}
	return n + max(len(a), len(b)) - min(len(a), len(b))
}

// TestGoldenImages runs the golden script in Go and in C and compares the
// normalised snapshots with each other and with the checked-in images.
func TestGoldenImages(t *testing.T) {
	goldenProgram(t, false) // first: skips where there is no C compiler (Wine)
	goSnaps, cSnaps := goScript(t), cScript(t)
	for _, s := range snapshots {
		g, c := normalise(goSnaps[s]), normalise(cSnaps[s])
		if !bytes.Equal(g, c) {
			t.Errorf("%s: Go and C images differ: %s", s, firstDiff(g, c))
			continue
		}
		path := filepath.Join(goldenDir, s+".img")
		if *update {
			if err := os.WriteFile(path, g, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s: %v (write it with -update)", s, err)
			continue
		}
		if !bytes.Equal(g, want) {
			t.Errorf("%s: Go and C agree, but differ from %s (a layout change? see %s/README.md; -update rewrites): %s",
				s, path, goldenDir, firstDiff(g, want))
		}
	}
	t.Logf("%d golden images: Go and C byte-identical after normalisation", len(snapshots))
}

// ---- Reading an image, in Go and in C ----------------------------------------

// goldenQuick are the options of every Go reader of an image: as golden.c's
// quick, a short open timeout so that an image without a version is
// ErrNotReady at once.
func goldenQuick() []shm.Option {
	return []shm.Option{shm.WithOpenTimeout(time.Millisecond), shm.WithWait(shm.Spin)}
}

// codeName names an error as golden.c's codename names a C code.
func codeName(err error) string {
	for _, c := range []struct {
		err  error
		name string
	}{
		{io.EOF, "eof"}, {shm.ErrCorrupt, "corrupt"}, {shm.ErrNotChannel, "not_channel"},
		{shm.ErrVersionMismatch, "version_mismatch"}, {shm.ErrNotReady, "not_ready"},
		{shm.ErrEmpty, "empty"}, {shm.ErrFull, "full"}, {shm.ErrClosed, "closed"},
		{shm.ErrBusy, "busy"}, {shm.ErrPeerGone, "peer_gone"}, {shm.ErrTooLarge, "too_large"},
		{shm.ErrInvalidSize, "invalid_size"},
	} {
		if errors.Is(err, c.err) {
			return c.name
		}
	}
	if err == nil {
		return "ok"
	}
	return "other: " + err.Error()
}

// goRead is the Go twin of golden.c's read-chan, send-chan and read-mbox.
func goRead(mode, name string) []string {
	var lines []string
	end := func(err error) []string { return append(lines, "end "+codeName(err)) }
	switch mode {
	case "read-chan":
		ch, err := shm.OpenChannel(name, goldenQuick()...)
		if err != nil {
			return end(err)
		}
		defer ch.Close()
		rx, err := ch.Receiver()
		for i := 0; err == nil && i < 1000; i++ {
			var msg []byte
			if msg, err = rx.TryRecv(nil); err == nil {
				lines = append(lines, "msg "+hex.EncodeToString(msg))
			}
		}
		return end(err)
	case "send-chan":
		ch, err := shm.OpenChannel(name, goldenQuick()...)
		if err != nil {
			return end(err)
		}
		defer ch.Close()
		tx, err := ch.Sender()
		for i := 0; err == nil && i < 8; i++ {
			n := i * 97 % (ch.MaxMessage() + 1)
			if err = tx.TrySend(payload(20+i, n)); err == nil {
				lines = append(lines, fmt.Sprintf("sent %d", n))
			}
		}
		return end(err)
	case "read-mbox":
		mb, err := shm.OpenMailbox(name, goldenQuick()...)
		if err != nil {
			return end(err)
		}
		defer mb.Close()
		v, ver, err := mb.Latest(nil)
		if err == nil || err == io.EOF {
			lines = append(lines, fmt.Sprintf("value %d %s", ver, hex.EncodeToString(v)))
		}
		return end(err)
	}
	panic("goRead: mode " + mode)
}

// cRead runs golden.c's mode on the object name and returns its lines.
func cRead(t *testing.T, prog, mode, name string) []string {
	t.Helper()
	cmd := exec.Command(prog, mode, name)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("golden %s on %s: %v (a crash or a sanitizer report is a failure)\n%s", mode, name, err, stderr.String())
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// place writes img into a fresh, real shared-memory object and returns its
// name; the test removes it at the end.
func place(t *testing.T, img []byte) string {
	t.Helper()
	name := newName(t)
	seg, err := shm.Create(name, int64(len(img)))
	if err != nil {
		t.Fatalf("Create(%q, %d): %v", name, len(img), err)
	}
	copy(seg.Bytes(), img)
	if err := seg.Close(); err != nil {
		t.Fatal(err)
	}
	return name
}

// crossExpect is what a reader of each final golden image gets: the messages
// still in the ring (or the mailbox's newest value), then the end.
var crossExpect = map[string]struct {
	mode  string
	lines []string
}{
	"chan-0-created": {"read-chan", []string{"end empty"}},
	"chan-1-sent": {"read-chan", []string{
		"msg " + hex.EncodeToString(payload(0, 100)),
		"msg " + hex.EncodeToString(payload(1, 200)),
		"msg " + hex.EncodeToString(payload(2, 1)),
		"end empty"}},
	"chan-2-wrapped": {"read-chan", []string{
		"msg " + hex.EncodeToString(payload(3, 400)),
		"msg " + hex.EncodeToString(payload(4, 300)),
		"end empty"}},
	"chan-3-closed":    {"read-chan", []string{"msg " + hex.EncodeToString(payload(6, 5)), "end eof"}},
	"mbox-0-created":   {"read-mbox", []string{"value 0 ", "end ok"}},
	"mbox-1-published": {"read-mbox", []string{"value 5 " + hex.EncodeToString(payload(14, 33)), "end ok"}},
	"mbox-2-closed":    {"read-mbox", []string{"value 5 " + hex.EncodeToString(payload(14, 33)), "end eof"}},
}

// TestGoldenCrossRead writes each language's images into real shared-memory
// objects and reads them with the other language (and the checked-in ones
// with both): every reader gets the same messages and values.
func TestGoldenCrossRead(t *testing.T) {
	prog := goldenProgram(t, false)
	goSnaps, cSnaps := goScript(t), cScript(t)
	n := 0
	for _, s := range snapshots {
		want := crossExpect[s]
		checked, err := os.ReadFile(filepath.Join(goldenDir, s+".img"))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			what   string
			img    []byte
			reader string
		}{
			{"Go's image read by C", normalise(goSnaps[s]), "c"},
			{"C's image read by Go", normalise(cSnaps[s]), "go"},
			{"checked-in image read by C", checked, "c"},
			{"checked-in image read by Go", checked, "go"},
		} {
			name := place(t, c.img)
			var got []string
			if c.reader == "c" {
				got = cRead(t, prog, want.mode, name)
			} else {
				got = goRead(want.mode, name)
			}
			if !slicesEqual(got, want.lines) {
				t.Errorf("%s, %s: got\n\t%s\nwant\n\t%s", s, c.what, strings.Join(got, "\n\t"), strings.Join(want.lines, "\n\t"))
			}
			n++
		}
	}
	t.Logf("%d cross-reads of %d images: all as expected", n, len(snapshots))
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
