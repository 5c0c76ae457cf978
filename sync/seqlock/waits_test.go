package seqlock

import (
	"testing"

	"github.com/shmchan/shmchan/internal/waits"
)

// TestSeqlockWaitTable compares retriesBeforeYield with its row in the wait
// table of docs/design.md, the one source for it (C: MB_RETRIES_BEFORE_YIELD,
// checked by shm/c/interop's TestWaitTableC).
func TestSeqlockWaitTable(t *testing.T) {
	rows, err := waits.Load("../../docs/design.md")
	if err != nil {
		t.Fatal(err)
	}
	v, err := waits.Values(rows)
	if err != nil {
		t.Fatal(err)
	}
	want, ok := v["seqlock.retriesBeforeYield"]
	if !ok {
		t.Fatal("seqlock.retriesBeforeYield is not in the table of docs/design.md")
	}
	if retriesBeforeYield != want {
		t.Errorf("retriesBeforeYield = %d, the table says %d", retriesBeforeYield, want)
	}
}
