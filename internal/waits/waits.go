// Package waits reads the wait table of docs/design.md ("Waits"): the one
// statement of what Spin, Block and Adaptive do, the open back-off and every
// timeout, for Go and for C. Tests in shm, sync/seqlock and shm/c/interop
// compare the values each implementation uses with it, so that the table,
// the Go constants and the C macros cannot drift apart.
package waits

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Row is one row of the table.
type Row struct {
	What    string
	Value   string   // as written: "50 µs", "64", "—", "caller's"
	Numeric bool     // Value is a count or a duration
	N       int64    // the count, or the duration in nanoseconds
	Go      []string // the Go names (package.identifier), in backquotes in the Go column
	C       []string // the C names, in backquotes in the C column
}

// header is the table's header row.
const header = "| what | value | Go | C |"

var (
	ident = regexp.MustCompile("`([^`]+)`")
	value = regexp.MustCompile(`^([0-9]+)(?: (ns|µs|ms|s))?$`)
)

var units = map[string]time.Duration{"ns": time.Nanosecond, "µs": time.Microsecond, "ms": time.Millisecond, "s": time.Second}

// Load parses the table in the file at path (docs/design.md).
func Load(path string) ([]Row, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(b)
}

// Parse parses the table out of a Markdown document.
func Parse(doc []byte) ([]Row, error) {
	sc := bufio.NewScanner(bytes.NewReader(doc))
	in, line := false, 0
	var rows []Row
	for sc.Scan() {
		line++
		l := strings.TrimSpace(sc.Text())
		if !in {
			in = l == header
			continue
		}
		if strings.HasPrefix(l, "|---") {
			continue
		}
		if !strings.HasPrefix(l, "|") {
			break
		}
		cells := strings.Split(strings.Trim(l, "|"), " | ")
		if len(cells) != 4 {
			return nil, fmt.Errorf("waits: line %d: %d cells, want 4: %q", line, len(cells), l)
		}
		r := Row{What: strings.TrimSpace(cells[0]), Value: strings.TrimSpace(cells[1])}
		if m := value.FindStringSubmatch(r.Value); m != nil {
			n, err := strconv.ParseInt(m[1], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("waits: line %d: %v", line, err)
			}
			if m[2] != "" {
				n *= int64(units[m[2]])
			}
			r.Numeric, r.N = true, n
		}
		for _, m := range ident.FindAllStringSubmatch(cells[2], -1) {
			r.Go = append(r.Go, m[1])
		}
		for _, m := range ident.FindAllStringSubmatch(cells[3], -1) {
			r.C = append(r.C, m[1])
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("waits: no table %q found", header)
	}
	return rows, nil
}

// Values returns the numeric value of every name that a numeric row lists,
// Go and C names alike. A name listed twice with different values is an
// error.
func Values(rows []Row) (map[string]int64, error) {
	m := map[string]int64{}
	for _, r := range rows {
		if !r.Numeric {
			continue
		}
		for _, name := range append(append([]string(nil), r.Go...), r.C...) {
			if v, ok := m[name]; ok && v != r.N {
				if strings.HasPrefix(name, "wake.") {
					continue // one Go function holds both ends of a back-off
				}
				return nil, fmt.Errorf("waits: %s is both %d and %d", name, v, r.N)
			}
			m[name] = r.N
		}
	}
	return m, nil
}
