package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"time"

	"github.com/shmchan/shmchan/internal/inspect"
)

// statRow is one end of one object over one interval: rates per second.
type statRow struct {
	Time     string  `json:"time"`
	Name     string  `json:"name"`
	End      string  `json:"end"` // "sender", "receiver", "writer"
	Messages float64 `json:"messages_per_s"`
	Bytes    float64 `json:"bytes_per_s"`
	Waits    float64 `json:"waits_per_s"`
	Parks    float64 `json:"parks_per_s"`
	Wakes    float64 `json:"wakes_per_s"`
	Takeover uint64  `json:"takeovers"` // total, not a rate
	Fill     string  `json:"fill"`
	State    string  `json:"state"` // the role's state
}

// statFormat is a report line: time, name (padded to the longest), end,
// then the rates.
const statFormat = "%-8s  %-*s  %-8s  %9s  %11s  %7s  %7s  %7s  %9s  %-16s  %s\n"

// headerEvery repeats the column header, as vmstat does.
const headerEvery = 20

func runStat(c *cli, args []string) int {
	fset := c.flags("stat")
	count := fset.Int("count", 0, "stop after this many reports (0: until interrupted)")
	interval := fset.Duration("interval", time.Second, "time between reports")
	asJSON := fset.Bool("json", false, "print one JSON object per end and report")
	if st, done := c.parse(fset, args, "some"); done {
		return st
	}
	if *interval <= 0 || *count < 0 {
		c.errorf("stat: --interval must be positive and --count not negative")
		return exitUsage
	}
	names := fset.Args()
	prev, at, status := c.sample(names)
	if status != exitOK {
		return status
	}
	for _, n := range names {
		if o := prev[n]; o.Stats == nil {
			c.errorf("stat %s: no counters (its creator did not enable them: an older shmchan, or not a channel or mailbox); only the fill is shown", n)
		}
	}
	width := 4
	for _, n := range names {
		width = max(width, len(n))
	}
	tick := time.NewTicker(*interval)
	defer tick.Stop()
	for report := 0; *count == 0 || report < *count; report++ {
		select {
		case <-tick.C:
		case <-c.stop:
			return exitOK
		}
		cur, now, status := c.sample(names)
		if status != exitOK {
			return status
		}
		secs := now.Sub(at).Seconds()
		var rows []statRow
		for _, n := range names {
			rows = append(rows, rates(prev[n], cur[n], secs, now)...)
		}
		prev, at = cur, now
		if *asJSON {
			enc := json.NewEncoder(c.stdout)
			for _, r := range rows {
				if err := enc.Encode(r); err != nil {
					return exitProblem
				}
			}
			continue
		}
		// Fixed columns, as vmstat's: every report lines up with the header.
		if report%headerEvery == 0 {
			fmt.Fprintf(c.stdout, statFormat, "TIME", width, "NAME", "END", "MSG/S", "BYTES/S", "WAITS/S", "PARKS/S", "WAKES/S", "TAKEOVERS", "FILL", "STATE")
		}
		for _, r := range rows {
			fmt.Fprintf(c.stdout, statFormat, r.Time, width, r.Name, r.End, fmt.Sprintf("%.0f", r.Messages), size(uint64(r.Bytes))+"/s",
				fmt.Sprintf("%.0f", r.Waits), fmt.Sprintf("%.0f", r.Parks), fmt.Sprintf("%.0f", r.Wakes), fmt.Sprint(r.Takeover), r.Fill, r.State)
		}
	}
	return exitOK
}

// sample reads every named object once.
func (c *cli) sample(names []string) (map[string]*inspect.Object, time.Time, int) {
	objs := make(map[string]*inspect.Object, len(names))
	for _, n := range names {
		o, err := inspect.Load(n)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				c.errorf("stat %s: no such object (removed?)", n)
			} else {
				c.errorf("stat %s: %v", n, err)
			}
			return nil, time.Time{}, exitProblem
		}
		objs[n] = o
	}
	return objs, time.Now(), exitOK
}

// rates turns two samples of one object into one row per end.
func rates(a, b *inspect.Object, secs float64, now time.Time) []statRow {
	ends := make([]string, 0, len(b.Stats))
	for e := range b.Stats {
		ends = append(ends, e)
	}
	slices.Sort(ends) // "receiver" < "sender"; "writer"
	slices.Reverse(ends)
	if len(ends) == 0 {
		return []statRow{{Time: now.Format(time.TimeOnly), Name: b.Name, End: "-", Fill: fill(b), State: roles(b)}}
	}
	per := func(x, y uint64) float64 {
		if y < x { // counters never go back; a new object under the old name does
			return float64(y) / secs
		}
		return float64(y-x) / secs
	}
	var rows []statRow
	for _, e := range ends {
		x, y := a.Stats[e], b.Stats[e]
		if a.Stats == nil {
			x = inspect.Counters{}
		}
		state := ""
		for _, r := range b.Roles {
			if r.Role == e {
				state = r.State
			}
		}
		rows = append(rows, statRow{
			Time: now.Format(time.TimeOnly), Name: b.Name, End: e,
			Messages: per(x.Messages, y.Messages), Bytes: per(x.Bytes, y.Bytes),
			Waits: per(x.Waits, y.Waits), Parks: per(x.Parks, y.Parks), Wakes: per(x.Wakes, y.Wakes),
			Takeover: y.Takeovers, Fill: fill(b), State: state,
		})
	}
	return rows
}
