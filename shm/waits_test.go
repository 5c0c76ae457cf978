package shm

import (
	"testing"
	"time"

	"github.com/shmchan/shmchan/internal/waits"
)

// TestWaitTable compares the wait engine's constants with the table of
// docs/design.md ("Waits"), the one source for them: every shm.* name in a
// numeric row must be one of these, with the table's value, and each of
// these must appear in the table. shm/c/interop's TestWaitTableC does the
// same for the C macros.
func TestWaitTable(t *testing.T) {
	rows, err := waits.Load("../docs/design.md")
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]int64{
		"shm.checkEvery":         checkEvery,
		"shm.blockPolls":         blockPolls,
		"shm.spinYield":          int64(spinYield),
		"shm.spinFor":            int64(spinFor),
		"shm.yieldFor":           int64(yieldFor),
		"shm.maxSleep":           int64(maxSleep),
		"shm.livenessTick":       int64(livenessTick),
		"shm.openPollFirst":      int64(openPollFirst),
		"shm.openPollMax":        int64(openPollMax),
		"shm.DefaultOpenTimeout": int64(DefaultOpenTimeout),
	}
	seen := map[string]bool{}
	for _, r := range rows {
		for _, name := range r.Go {
			if len(name) < 4 || name[:4] != "shm." || !r.Numeric {
				continue
			}
			v, ok := have[name]
			if !ok {
				t.Errorf("table row %q names %s, which this test does not know", r.What, name)
				continue
			}
			seen[name] = true
			if v != r.N {
				t.Errorf("%s = %v, the table says %s (%q)", name, time.Duration(v), r.Value, r.What)
			}
		}
	}
	for name := range have {
		if !seen[name] {
			t.Errorf("%s is not in the table of docs/design.md", name)
		}
	}
}
