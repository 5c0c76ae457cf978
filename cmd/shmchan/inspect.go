package main

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/shmchan/shmchan/internal/inspect"
)

func runInspect(c *cli, args []string) int {
	fset := c.flags("inspect")
	asJSON := fset.Bool("json", false, "print the object as JSON")
	if st, done := c.parse(fset, args, "one"); done {
		return st
	}
	name := fset.Arg(0)
	d, err := inspect.Inspect(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			c.errorf("inspect %s: no such object (shmchan ls lists them)", name)
		} else {
			c.errorf("inspect %s: %v", name, err)
		}
		return exitProblem
	}
	status := exitOK
	if d.Err != nil {
		status = exitProblem
	}
	if *asJSON {
		if err := writeJSON(c.stdout, d); err != nil {
			return exitProblem
		}
		return status
	}
	w := c.stdout
	fmt.Fprintf(w, "name:    %s\n", d.Name)
	fmt.Fprintf(w, "kind:    %s", d.Kind)
	if d.Version != 0 {
		fmt.Fprintf(w, ", layout version %d", d.Version)
	}
	fmt.Fprintf(w, ", %d bytes, mode %s, uid %s, age %s\n", d.Size, d.Mode, uid(d.UID), age(d.AgeSec))
	switch d.Kind {
	case inspect.KindChannel:
		fmt.Fprintf(w, "ring:    %d bytes, largest message %d, %s\n", d.Capacity, d.MaxMessage, fill(d.Object))
	case inspect.KindMailbox:
		fmt.Fprintf(w, "values:  up to %d bytes, newest version %d\n", d.MaxValue, d.Latest)
	}
	if len(d.Roles) > 0 && d.Creator != nil {
		fmt.Fprintf(w, "roles:   %s; creator pid %d %s\n", roles(d.Object), d.Creator.PID, d.Creator.State)
	}
	if d.Err == nil {
		fmt.Fprintln(w, "verdict: sound: the library opens it")
	} else {
		fmt.Fprintf(w, "verdict: %s\n", d.Problem)
		if d.Explain != "" {
			fmt.Fprintf(w, "         %s\n", d.Explain)
		}
	}
	if len(d.Fields) > 0 {
		fmt.Fprintln(w)
		tw := newTable(w)
		fmt.Fprintln(tw, "OFFSET\tFIELD\tVALUE\tMEANING")
		for _, f := range d.Fields {
			fmt.Fprintf(tw, "0x%03x\t%s\t%d\t%s\n", f.Offset, f.Name, f.Value, f.Note)
		}
		if err := tw.Flush(); err != nil {
			return exitProblem
		}
	}
	return status
}
