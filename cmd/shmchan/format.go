package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
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

// age formats seconds as "42s", "3m", "5h", "2d".
func age(sec int64) string {
	d := time.Duration(sec) * time.Second
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", sec)
	case d < time.Hour:
		return fmt.Sprintf("%dm", sec/60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", sec/3600)
	}
	return fmt.Sprintf("%dd", sec/86400)
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

// writeJSON writes v as indented JSON and a newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
