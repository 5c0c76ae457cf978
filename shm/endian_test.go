package shm_test

import (
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"testing"

	"github.com/shmchan/shmchan/internal/platform"
	"github.com/shmchan/shmchan/internal/testproc"
	"github.com/shmchan/shmchan/shm"
)

func init() {
	testproc.Register("big-endian", bigEndian)
}

// bigEndian: args name. On a big-endian machine, creating a channel or a
// mailbox fails with errors.ErrUnsupported and opening the parent's channel
// with ErrVersionMismatch, before any field is read.
func bigEndian(args []string) int {
	if platform.LittleEndian {
		return childFail("GOARCH=%s is little-endian", runtime.GOARCH)
	}
	if _, err := shm.CreateChannel(args[0]+"x", 1<<12); !errors.Is(err, errors.ErrUnsupported) {
		return childFail("CreateChannel on %s: %v, want errors.ErrUnsupported", runtime.GOARCH, err)
	}
	if _, err := shm.CreateMailbox(args[0]+"y", 64); !errors.Is(err, errors.ErrUnsupported) {
		return childFail("CreateMailbox on %s: %v, want errors.ErrUnsupported", runtime.GOARCH, err)
	}
	if _, err := shm.OpenChannel(args[0], shm.AllowOwner(0)); !errors.Is(err, shm.ErrVersionMismatch) {
		return childFail("OpenChannel on %s: %v, want ErrVersionMismatch", runtime.GOARCH, err)
	}
	fmt.Println("refused")
	return 0
}

// TestBigEndianRefused builds this test binary for linux/s390x (big-endian)
// and runs it under qemu-user against a channel made here: the s390x
// process must refuse to create or open (Go used to open it and misread
// the little-endian fields, while C refused).
func TestBigEndianRefused(t *testing.T) {
	if testing.Short() {
		testproc.MarkUsed("big-endian")
		t.Skip("builds the package for s390x: not in -short")
	}
	qemu, err := exec.LookPath("qemu-s390x-static")
	if err != nil {
		testproc.MarkUsed("big-endian")
		t.Skipf("needs qemu-user-static for s390x: %v", err)
	}
	ch := newChannel(t, 1<<12)
	bin := testproc.BuildTest(t, "GOOS=linux", "GOARCH=s390x", "CGO_ENABLED=0")
	cmd := testproc.CommandPath(t, bin, "big-endian", ch.Name())
	cmd.Args = append([]string{qemu, bin}, cmd.Args[1:]...)
	cmd.Path = qemu
	out, err := cmd.Output()
	if err != nil || string(out) != "refused\n" {
		t.Fatalf("s390x child: %v, said %q", err, out)
	}
}
