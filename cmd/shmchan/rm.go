package main

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/shmchan/shmchan/internal/inspect"
	"github.com/shmchan/shmchan/shm"
)

func runRm(c *cli, args []string) int {
	fset := c.flags("rm")
	force := fset.Bool("force", false, "remove even an object that a live process holds")
	if st, done := c.parse(fset, args, "some"); done {
		return st
	}
	status := exitOK
	for _, name := range fset.Args() {
		o, err := inspect.Load(name)
		if errors.Is(err, fs.ErrNotExist) {
			c.errorf("rm %s: no such object", name)
			status = exitProblem
			continue
		}
		if err == nil && !*force {
			if live := liveHolders(o); live != "" {
				c.errorf("rm %s: in use (%s); %s", name, live, inUseNote)
				status = exitProblem
				continue
			}
		}
		if err := shm.Remove(name); err != nil {
			c.errorf("%v", err)
			status = exitProblem
			continue
		}
		fmt.Fprintf(c.stdout, "removed %s\n", name)
	}
	return status
}

// liveHolders names the live processes holding o's roles, or its live
// creator if no role was ever claimed: "sender pid 42".
func liveHolders(o *inspect.Object) string {
	var s []string
	claimed := false
	for _, r := range o.Roles {
		if r.State == inspect.StateAlive {
			s = append(s, fmt.Sprintf("%s pid %d", r.Role, r.PID))
		}
		if r.State != inspect.StateNone {
			claimed = true
		}
	}
	if !claimed && o.Creator != nil && o.Creator.State == inspect.StateAlive {
		s = append(s, fmt.Sprintf("creator pid %d", o.Creator.PID))
	}
	return strings.Join(s, ", ")
}

// gcEntry is one line of gc's report.
type gcEntry struct {
	Name    string `json:"name"`
	Kind    string `json:"kind"`
	Roles   string `json:"roles"`
	Removed bool   `json:"removed"`
	Error   string `json:"error,omitempty"`
}

func runGC(c *cli, args []string) int {
	fset := c.flags("gc")
	yes := fset.Bool("yes", false, "remove what is listed (without it, gc only lists)")
	asJSON := fset.Bool("json", false, "print a JSON array of what was found")
	prefix := fset.String("prefix", "", "only objects whose names start with this")
	if st, done := c.parse(fset, args, "none"); done {
		return st
	}
	objs, err := list(*prefix)
	if err != nil {
		c.errorf("gc: %v", err)
		return exitProblem
	}
	entries := []gcEntry{}
	status := exitOK
	for _, o := range objs {
		if !inspect.Garbage(o) {
			continue
		}
		e := gcEntry{Name: o.Name, Kind: o.Kind, Roles: roles(o)}
		if *yes {
			// RemoveGarbage judges again, with every role fenced: a process
			// that claimed a role since List keeps its object.
			if err := inspect.RemoveGarbage(o.Name); err != nil && !errors.Is(err, fs.ErrNotExist) {
				e.Error = err.Error()
			} else {
				e.Removed = true
			}
		}
		if !e.Removed {
			status = exitProblem
		}
		entries = append(entries, e)
	}
	if *asJSON {
		if err := writeJSON(c.stdout, entries); err != nil {
			return exitProblem
		}
		return status
	}
	for _, e := range entries {
		switch {
		case e.Removed:
			fmt.Fprintf(c.stdout, "removed %s (%s: %s)\n", e.Name, e.Kind, e.Roles)
		case e.Error != "":
			fmt.Fprintf(c.stdout, "kept    %s: %s\n", e.Name, e.Error)
		default:
			fmt.Fprintf(c.stdout, "garbage %s (%s: %s)\n", e.Name, e.Kind, e.Roles)
		}
	}
	if !*yes && len(entries) > 0 {
		fmt.Fprintf(c.stdout, "%d object(s) nobody alive holds; shmchan gc --yes removes them\n", len(entries))
	}
	return status
}
