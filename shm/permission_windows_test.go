package shm_test

import (
	"testing"

	"github.com/shmchan/shmchan/internal/testproc"
)

func TestPermission(t *testing.T) {
	testproc.MarkUsed("open-expect")
	t.Skip("runs children as user nobody: POSIX only")
}
