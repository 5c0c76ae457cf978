//go:build cgo

package interop_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/shmchan/shmchan/internal/layout"
	"github.com/shmchan/shmchan/shm/c/interop"
)

// The C header's listener numbers are docs/layout.md's.
func TestListenerLayoutMatchesC(t *testing.T) {
	if d := cmp.Diff(layout.ListenerDoc, interop.CListenerOffsets); d != "" {
		t.Errorf("shmchan_net.h differs from docs/layout.md (-doc +C):\n%s", d)
	}
}
