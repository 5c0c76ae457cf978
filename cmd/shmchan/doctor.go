package main

import (
	"fmt"
	"strconv"
	"strings"
)

// Outcomes of a doctor check.
const (
	checkOK   = "ok"
	checkInfo = "info"
	checkWarn = "warn"
	checkFail = "FAIL"
)

// finding is one doctor check's result.
type finding struct {
	Check   string `json:"check"`  // "shm-space", "futex", ...
	Status  string `json:"status"` // checkOK, checkInfo, checkWarn, checkFail
	Message string `json:"message"`
	Fix     string `json:"fix,omitempty"` // what to do, when Status is warn or FAIL
}

// defaultNeed is what doctor checks /dev/shm's free space against when
// --need is not given: a few channels of a few MiB each.
const defaultNeed = 16 << 20

func runDoctor(c *cli, args []string) int {
	fset := c.flags("doctor")
	needS := fset.String("need", size(defaultNeed), "the space your programs ask for in /dev/shm (the sum of their channels' and mailboxes' sizes): 64M, 1G, 1048576")
	asJSON := fset.Bool("json", false, "print the findings as a JSON array")
	if st, done := c.parse(fset, args, "none"); done {
		return st
	}
	need, err := parseSize(*needS)
	if err != nil {
		c.errorf("doctor: --need: %v", err)
		return exitUsage
	}
	fs := diagnose(need)
	status := exitOK
	for _, f := range fs {
		if f.Status == checkFail {
			status = exitProblem
		}
	}
	if *asJSON {
		if err := writeJSON(c.stdout, fs); err != nil {
			return exitProblem
		}
		return status
	}
	for _, f := range fs {
		fmt.Fprintf(c.stdout, "%-5s %-11s %s\n", f.Status, f.Check, f.Message)
		if f.Fix != "" {
			fmt.Fprintf(c.stdout, "      %-11s fix: %s\n", "", f.Fix)
		}
	}
	return status
}

// parseSize reads "1048576", "64K", "16M", "1G", "2GiB", "1.5G".
func parseSize(s string) (uint64, error) {
	t := strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(strings.TrimSpace(s)), "B"), "I")
	mult := uint64(1)
	if n := len(t); n > 0 {
		if i := strings.IndexByte("KMGT", t[n-1]); i >= 0 {
			mult = 1 << (10 * (i + 1))
			t = t[:n-1]
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%q is not a size (1048576, 64M, 1G)", s)
	}
	return uint64(v * float64(mult)), nil
}
