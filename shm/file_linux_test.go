package shm_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/shmchan/shmchan/shm"
)

// TestCreateFileModeExact: CreateFile applies WithMode exactly, whatever
// the umask (it used to leak in: 0644 under umask 077 gave 0600).
func TestCreateFileModeExact(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "f")
	s, err := shm.CreateFile(path, 4096, shm.WithMode(0o644))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o644 {
		t.Fatalf("CreateFile with WithMode(0644) under umask 077: mode %v, want 0644", got)
	}
}

// TestCreateFileNoSpace: on a file system with less room than asked for,
// CreateFile fails with ErrNoSpace and leaves no file (it used to succeed
// with a sparse file, and the first touch of a missing block was a SIGBUS).
// The file system is a 1 MiB tmpfs mounted for the test.
func TestCreateFileNoSpace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to mount a small tmpfs")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("mount a 1 MiB tmpfs: %v", err)
	}
	defer syscall.Unmount(dir, 0)
	path := filepath.Join(dir, "big")
	s, err := shm.CreateFile(path, 16<<20)
	if err == nil {
		s.Close()
		t.Fatalf("CreateFile of 16 MiB on a 1 MiB tmpfs: no error")
	}
	if !errors.Is(err, shm.ErrNoSpace) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("CreateFile = %v, want ErrNoSpace wrapping ENOSPC", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("failed CreateFile left %s: %v", path, err)
	}
	// What fits still works.
	s, err = shm.CreateFile(path, 64<<10)
	if err != nil {
		t.Fatalf("CreateFile of 64 KiB: %v", err)
	}
	s.Close()
}
