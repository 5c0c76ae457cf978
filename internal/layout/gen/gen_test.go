package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// header is the checked-in generated file, relative to this directory.
const header = "../../../shm/c/shmchan_layout.h"

// TestGeneratedHeaderCurrent regenerates shm/c/shmchan_layout.h into a
// temporary file and fails if it differs from the checked-in one: the C
// header and internal/layout must never drift apart.
func TestGeneratedHeaderCurrent(t *testing.T) {
	tmp := filepath.Join(t.TempDir(), "shmchan_layout.h")
	if err := os.WriteFile(tmp, render(), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(header)
	if err != nil {
		t.Fatalf("read %s: %v", header, err)
	}
	want, _ := os.ReadFile(tmp)
	if bytes.Equal(got, want) {
		return
	}
	diff, _ := exec.Command("diff", "-u", header, tmp).CombinedOutput()
	t.Fatalf("%s is not current: run `go generate ./internal/layout` and commit it.\n%s", header, diff)
}
