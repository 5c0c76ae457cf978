package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shmchan/shmchan/internal/inspect"
)

// size formats a byte count with a binary unit: "1.0MiB", "512B".
func size(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	d, e := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		d *= unit
		e++
	}
	return fmt.Sprintf("%.1f%ciB", float64(n)/float64(d), "KMGTPE"[e])
}

// age formats seconds as "42s", "3m", "5h", "2d"; a negative age (not
// known: Windows keeps no creation time for a named mapping) as "?".
func age(sec int64) string {
	d := time.Duration(sec) * time.Second
	switch {
	case sec < 0:
		return "?"
	case d < time.Minute:
		return fmt.Sprintf("%ds", sec)
	case d < time.Hour:
		return fmt.Sprintf("%dm", sec/60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", sec/3600)
	}
	return fmt.Sprintf("%dd", sec/86400)
}

// uid formats an owner's uid, "?" if not known (-1).
func uid(id int) string {
	if id < 0 {
		return "?"
	}
	return fmt.Sprint(id)
}

// roles formats who holds an object's roles: "sender 1234 alive, receiver closed".
func roles(o *inspect.Object) string {
	var parts []string
	for _, r := range o.Roles {
		switch r.State {
		case inspect.StateAlive, inspect.StateDead:
			parts = append(parts, fmt.Sprintf("%s %d %s", r.Role, r.PID, r.State))
		default:
			parts = append(parts, r.Role+" "+r.State)
		}
	}
	return strings.Join(parts, ", ")
}

// table is a tabwriter whose Flush trims the padding at the end of each
// line (an empty last column would leave it).
type table struct {
	*tabwriter.Writer
	buf bytes.Buffer
	out io.Writer
}

func newTable(out io.Writer) *table {
	t := &table{out: out}
	t.Writer = tabwriter.NewWriter(&t.buf, 0, 4, 2, ' ', 0)
	return t
}

// Flush writes the table out.
func (t *table) Flush() error {
	if err := t.Writer.Flush(); err != nil {
		return err
	}
	var b strings.Builder
	for line := range strings.Lines(t.buf.String()) {
		b.WriteString(strings.TrimRight(line, " \n"))
		b.WriteByte('\n')
	}
	t.buf.Reset()
	_, err := io.WriteString(t.out, b.String())
	return err
}

// writeJSON writes v as indented JSON and a newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
