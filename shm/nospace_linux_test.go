package shm_test

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/shmchan/shmchan/shm"
)

// TestCreateNoSpace asks for more than /dev/shm can ever hold. The kernel
// refuses such a reservation up front (mm/shmem.c, shmem_fallocate: "avoid a
// swapstorm if len is impossible to satisfy"), so the test fills nothing; a
// size between the free and the total space would fill /dev/shm for every
// process on the machine before failing.
func TestCreateNoSpace(t *testing.T) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(shmDir, &st); err != nil {
		t.Skipf("statfs %s: %v", shmDir, err)
	}
	total := int64(st.Blocks) * int64(st.Bsize)
	if total == 0 {
		t.Skipf("%s has no size limit", shmDir)
	}
	size := total + 1<<30
	if size > shm.MaxSize {
		t.Skipf("%s holds %d bytes: more than MaxSize", shmDir, total)
	}
	name := newName(t)
	s, err := shm.Create(name, size)
	if err == nil {
		closeSegment(t, s)
		t.Fatalf("Create(%q, %d) with %d bytes in %s: no error", name, size, total, shmDir)
	}
	if !errors.Is(err, shm.ErrNoSpace) || !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Create(%q, %d) = %v, want ErrNoSpace wrapping ENOSPC", name, size, err)
	}
	// The error says what was asked and what is free, so that the reader
	// knows by how much /dev/shm falls short.
	if want := fmt.Sprintf("%d bytes asked, ", size); !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), " free of ") {
		t.Errorf("Create(%q, %d) = %q, want it to contain %q and the free space", name, size, err, want)
	}
	if exists(t, name) {
		t.Errorf("failed Create(%q) left the entry in %s", name, shmDir)
	}
}
