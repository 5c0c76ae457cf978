package interop_test

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/shmchan/shmchan/internal/waits"
)

// TestWaitTableC builds testdata/waits.c, which prints the wait schedule
// shmchan.c is compiled with, and compares every value with the table of
// docs/design.md ("Waits"), the one source for it: each C name of a numeric
// row must be printed with the table's value, and each printed macro must be
// in the table. Package shm's TestWaitTable checks the Go side against the
// same table.
func TestWaitTableC(t *testing.T) {
	rows, err := waits.Load("../../../docs/design.md")
	if err != nil {
		t.Fatal(err)
	}
	prog := buildCWith(t, "waits", []string{"testdata/waits.c"}, "-O0", "-Wno-unused-function")
	out, err := exec.Command(prog).Output()
	if err != nil {
		t.Fatalf("%s: %v", prog, err)
	}
	have := map[string]int64{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		name, v, ok := strings.Cut(l, " ")
		n, err := strconv.ParseInt(v, 10, 64)
		if !ok || err != nil {
			t.Fatalf("waits: bad line %q", l)
		}
		have[name] = n
	}
	seen := map[string]bool{}
	for _, r := range rows {
		if !r.Numeric {
			continue
		}
		if len(r.C) == 0 {
			t.Errorf("numeric row %q names no C value", r.What)
		}
		for _, name := range r.C {
			v, ok := have[name]
			if !ok {
				t.Errorf("row %q names %s, which testdata/waits.c does not print", r.What, name)
				continue
			}
			seen[name] = true
			if v != r.N {
				t.Errorf("C %s = %d, the table says %s (%d) for %q", name, v, r.Value, r.N, r.What)
			}
		}
	}
	for name := range have {
		if !seen[name] {
			t.Errorf("C %s is not in the table of docs/design.md", name)
		}
	}
	t.Logf("%d C values match the table", len(seen))
}
