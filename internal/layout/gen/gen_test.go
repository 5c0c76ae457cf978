package main

import (
	"bytes"
	"os"
	"os/exec"
	"testing"
)

// header is the checked-in generated file, relative to this directory.
const header = "../../../shm/c/shmchan_layout.h"

// TestGeneratedHeaderCurrent regenerates shm/c/shmchan_layout.h and fails
// if it differs from the checked-in one, showing the diff against the
// regenerated file: the C header and internal/layout must never drift apart.
func TestGeneratedHeaderCurrent(t *testing.T) {
	want := render()
	got, err := os.ReadFile(header)
	if err != nil {
		t.Fatalf("read %s: %v", header, err)
	}
	if bytes.Equal(got, want) {
		return
	}
	// A temporary file of our own, not t.TempDir: under Wine its removal
	// fails ("Invalid function") and would fail the test.
	diff := []byte("(no diff(1) here)")
	if f, err := os.CreateTemp("", "shmchan_layout-*.h"); err == nil {
		_, _ = f.Write(want)
		_ = f.Close()
		if out, err := exec.Command("diff", "-u", header, f.Name()).CombinedOutput(); err == nil || len(out) > 0 {
			diff = out
		}
		_ = os.Remove(f.Name())
	}
	t.Fatalf("%s is not current: run `go generate ./internal/layout` and commit it.\n%s", header, diff)
}
