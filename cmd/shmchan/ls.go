package main

import (
	"fmt"
	"strings"

	"github.com/shmchan/shmchan/internal/inspect"
)

func runLs(c *cli, args []string) int {
	fs := c.flags("ls")
	asJSON := fs.Bool("json", false, "print a JSON array, one object per element")
	noRaw := fs.Bool("no-raw", false, "skip objects that are not shmchan's")
	prefix := fs.String("prefix", "", "only objects whose names start with this")
	if st, done := c.parse(fs, args, "none"); done {
		return st
	}
	objs, err := list(*prefix)
	if err != nil {
		c.errorf("ls: %v", err)
		return exitProblem
	}
	if *noRaw {
		kept := objs[:0]
		for _, o := range objs {
			if o.Kind != inspect.KindRaw {
				kept = append(kept, o)
			}
		}
		objs = kept
	}
	if *asJSON {
		if objs == nil {
			objs = []*inspect.Object{}
		}
		if err := writeJSON(c.stdout, objs); err != nil {
			return exitProblem
		}
		return exitOK
	}
	tw := newTable(c.stdout)
	fmt.Fprintln(tw, "NAME\tKIND\tV\tSIZE\tCAPACITY\tFILL\tROLES\tAGE\tPROBLEM")
	for _, o := range objs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			o.Name, o.Kind, version(o), size(uint64(o.Size)), capacity(o), fill(o), dash(roles(o)), age(o.AgeSec), o.Problem)
	}
	if err := tw.Flush(); err != nil {
		return exitProblem
	}
	return exitOK
}

// list reads the objects whose names start with prefix.
func list(prefix string) ([]*inspect.Object, error) {
	objs, err := inspect.List()
	kept := objs[:0]
	for _, o := range objs {
		if strings.HasPrefix(o.Name, prefix) {
			kept = append(kept, o)
		}
	}
	return kept, err
}

func version(o *inspect.Object) string {
	if o.Version == 0 {
		return "-"
	}
	return fmt.Sprint(o.Version)
}

func capacity(o *inspect.Object) string {
	switch {
	case o.Capacity != 0:
		return size(o.Capacity)
	case o.MaxValue != 0:
		return size(o.MaxValue) + " value"
	}
	return "-"
}

func fill(o *inspect.Object) string {
	switch o.Kind {
	case inspect.KindChannel:
		if o.Capacity == 0 || o.Err != nil {
			return "-"
		}
		return fmt.Sprintf("%s %.1f%%", size(o.Used), 100*float64(o.Used)/float64(o.Capacity))
	case inspect.KindMailbox:
		return fmt.Sprintf("v%d", o.Latest)
	case inspect.KindListener:
		if o.Err == nil {
			return fmt.Sprintf("%d/%d slots", o.SlotsBusy, o.Slots)
		}
	}
	return "-"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
