package waits

import "testing"

// TestDesignTable parses the real table: every numeric row names one Go and
// one C value, so that both languages are checked for each.
func TestDesignTable(t *testing.T) {
	rows, err := Load("../../docs/design.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range rows {
		if !r.Numeric {
			continue
		}
		n++
		if len(r.Go) != 1 || len(r.C) != 1 {
			t.Errorf("row %q: Go %q, C %q: want one name each", r.What, r.Go, r.C)
		}
	}
	if n < 10 {
		t.Errorf("only %d numeric rows", n)
	}
	if _, err := Values(rows); err != nil {
		t.Error(err)
	}
}

func TestParse(t *testing.T) {
	doc := "x\n| what | value | Go | C |\n|---|---|---|---|\n| a | 50 µs | `shm.a` | `A_NS` |\n| b | 64 | `shm.b` | `B` |\n| c | — | `shm.c` | — |\n\nafter\n"
	rows, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[0].N != 50000 || rows[1].N != 64 || rows[2].Numeric {
		t.Fatalf("rows = %+v", rows)
	}
	if rows[0].Go[0] != "shm.a" || rows[0].C[0] != "A_NS" {
		t.Fatalf("names = %+v", rows[0])
	}
}
