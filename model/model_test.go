package model

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A config is one verification run of a model: a .pml file and the macros
// that select its configuration (and, for a mutant, its bug).
type config struct {
	name    string
	file    string
	defines []string
}

// claims are the LTL properties of each model. Every run also checks every
// assertion. "all" is the conjunction, used for the clean runs.
var claims = map[string][]string{
	"channel.pml": {"no_lost_wakeup", "no_lost_wakeup_tx", "eof_after_all"},
	"mailbox.pml": {"no_lost_wakeup", "latest_names_complete"},
	"batch.pml":   {"no_lost_wakeup", "no_lost_wakeup_tx", "eof_after_all"},
}

// clean are the configurations that must pass.
var clean = []config{
	{"channel", "channel.pml", nil},
	{"channel/sizes-3-3-1", "channel.pml", []string{"SIZES331"}},
	{"mailbox/readers", "mailbox.pml", nil},
	{"mailbox/wait", "mailbox.pml", []string{"WAIT"}},
	{"batch", "batch.pml", nil},
}

// mutants are deliberate protocol bugs, each of which the checker must
// report, and the property that is expected to catch it (a PROP tag of an
// assertion in the model, or "ltl <claim>"). The search order of pan is
// deterministic, so the first violation found is too.
var mutants = []struct {
	config
	what string
	want string
}{
	{config{"MUT_NO_PARK_RECHECK", "channel.pml", []string{"MUT_NO_PARK_RECHECK"}},
		"the receiver's park sleeps without the re-check after setting the parked flag", "ltl no_lost_wakeup"},
	{config{"MUT_TX_NO_PARK_RECHECK", "channel.pml", []string{"MUT_TX_NO_PARK_RECHECK"}},
		"the sender's park sleeps without the re-check after setting the parked flag", "ltl no_lost_wakeup_tx"},
	{config{"MUT_NOTIFY_NO_BUMP", "channel.pml", []string{"MUT_NOTIFY_NO_BUMP"}},
		"notify wakes the peer without incrementing its seq word first", "ltl no_lost_wakeup"},
	{config{"MUT_HEADER_FIRST", "channel.pml", []string{"MUT_HEADER_FIRST"}},
		"the header is stored before the payload", "torn"},
	{config{"MUT_NO_TERMINATOR", "channel.pml", []string{"MUT_NO_TERMINATOR"}},
		"the zero terminator is not written", "order"},
	{config{"MUT_CLAIM_NO_RECHECK", "channel.pml", []string{"MUT_CLAIM_NO_RECHECK"}},
		"a claim does not re-check closed after taking the role", "closed"},
	{config{"MUT_EOF_NO_RELOAD", "channel.pml", []string{"MUT_EOF_NO_RELOAD"}},
		"EOF without loading the header again after seeing tx_closed", "eof"},
	{config{"MUT_TAKEOVER_NO_WAKE", "channel.pml", []string{"MUT_TAKEOVER_NO_WAKE"}},
		"a new end does not wake its peer after a predecessor died in notify", "ltl no_lost_wakeup"},
	{config{"MUT_NO_WALK", "channel.pml", []string{"MUT_NO_WALK"}},
		"a new sender starts at head instead of walking to the first zero header", "torn"},
	{config{"MUT_BATCH_FIRST_EARLY", "batch.pml", []string{"MUT_BATCH_FIRST_EARLY"}},
		"a batch's first header is stored before its later records are written", "torn"},
	{config{"MUT_BATCH_NOTIFY_FIRST", "batch.pml", []string{"MUT_BATCH_NOTIFY_FIRST"}},
		"a batch receiver loads tx_parked before it stores head", "ltl no_lost_wakeup_tx"},
	{config{"MUT_READER_NO_RECHECK", "mailbox.pml", []string{"MUT_READER_NO_RECHECK"}},
		"a mailbox reader skips the seqlock's second check", "torn"},
	{config{"MUT_LATEST_FIRST", "mailbox.pml", []string{"MUT_LATEST_FIRST"}},
		"the writer stores latest before the slot's even sequence", "corrupt"},
	{config{"MUT_WAIT_NO_RECHECK", "mailbox.pml", []string{"WAIT", "MUT_WAIT_NO_RECHECK"}},
		"a waiting reader sleeps without re-checking latest after incrementing waiters", "ltl no_lost_wakeup"},
}

// result is what one pan run reported.
type result struct {
	errors   int
	stored   int64
	depth    int64
	vector   int
	memoryMB string
	seconds  string        // pan's elapsed (wall-clock) time
	cpu      time.Duration // pan's user + system CPU time
	complete bool          // the whole state space was searched
	property string        // what was violated (errors > 0)
	output   string
}

func (r result) String() string {
	return fmt.Sprintf("%d states stored, depth %d, state vector %d bytes, %s MB, %s s elapsed, %.1f s CPU",
		r.stored, r.depth, r.vector, r.memoryMB, r.seconds, r.cpu.Seconds())
}

func needTools(t *testing.T) {
	t.Helper()
	if raceEnabled {
		t.Skip("model: the SPIN check runs in the plain test run; -race sees nothing of it")
	}
	if testing.Short() {
		t.Skip("model: the SPIN check takes about a minute; skipped with -short")
	}
	for _, tool := range []string{"spin", "gcc"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: install it (Debian: apt-get install spin gcc; .ci/run does)", tool)
		}
	}
}

// TestModels checks every clean configuration completely, against every
// assertion and the conjunction of the LTL claims. It must find nothing.
func TestModels(t *testing.T) {
	needTools(t)
	for _, c := range clean {
		t.Run(c.name, func(t *testing.T) {
			r := build(t, c).verify(t, "all")
			if r.errors != 0 {
				t.Fatalf("%s: %s violated\n%s", c.name, r.property, tail(r.output, 40))
			}
			if !r.complete {
				t.Fatalf("%s: search not complete\n%s", c.name, tail(r.output, 40))
			}
			t.Logf("%s: errors 0; %v", c.name, r)
		})
	}
}

// TestMutants checks that each deliberate bug is reported, and by the
// property expected.
func TestMutants(t *testing.T) {
	needTools(t)
	for _, m := range mutants {
		t.Run(m.name, func(t *testing.T) {
			var r result
			p := build(t, m.config)
			// The expected claim first: a claim that finds nothing costs a
			// whole search.
			order := claims[m.file]
			if c, ok := strings.CutPrefix(m.want, "ltl "); ok {
				order = append([]string{c}, slices.DeleteFunc(slices.Clone(order), func(x string) bool { return x == c })...)
			}
			for _, claim := range order {
				if r = p.verify(t, claim); r.errors > 0 {
					break
				}
			}
			if r.errors == 0 {
				t.Fatalf("%s (%s) survived: no property caught it", m.name, m.what)
			}
			if r.property != m.want {
				t.Errorf("%s (%s): caught by %s, want %s", m.name, m.what, r.property, m.want)
			}
			t.Logf("%s (%s): caught by %s after %d states (%s s)", m.name, m.what, r.property, r.stored, r.seconds)
		})
	}
}

// pan is a compiled verifier for one configuration.
type pan struct {
	config
	dir  string
	src  []byte
	defs []string
}

// build runs spin -a and gcc on one configuration in a temporary directory.
func build(t *testing.T, c config) *pan {
	t.Helper()
	p := &pan{config: c, dir: t.TempDir()}
	var err error
	if p.src, err = os.ReadFile(c.file); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p.dir, c.file), p.src, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, d := range c.defines {
		p.defs = append(p.defs, "-D"+d)
	}
	run(t, p.dir, "spin", append(append([]string{"-a"}, p.defs...), c.file)...)
	// SAFETY: the properties are safety properties (assertions and []
	// claims), so no cycle detection. MEMLIM: fail rather than swap on a
	// shared machine (MB).
	run(t, p.dir, "gcc", "-O2", "-DSAFETY", "-DMEMLIM=4096", "-o", "pan", "pan.c")
	return p
}

// verify runs pan with one claim and, if it reports a violation, replays
// the trail to name the property.
func (p *pan) verify(t *testing.T, claim string) result {
	t.Helper()
	cmd := exec.Command("./pan", "-m1000000", "-N", claim)
	cmd.Dir = p.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pan -N %s: %v\n%s", claim, err, tail(string(out), 40))
	}
	r := parse(t, string(out))
	r.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if r.errors > 0 {
		trail := run(t, p.dir, "spin", append(append([]string{"-t"}, p.defs...), p.file)...)
		r.property = property(t, trail, p.src, claim)
	}
	return r
}

var (
	reVector = regexp.MustCompile(`State-vector (\d+) byte, depth reached (\d+), errors: (\d+)`)
	reStored = regexp.MustCompile(`(\d+) states, stored`)
	reMemory = regexp.MustCompile(`([0-9.]+)\s+total actual memory usage`)
	reTime   = regexp.MustCompile(`pan: elapsed time ([0-9.e+]+) seconds`)
	reError  = regexp.MustCompile(`spin: (\S+):(\d+), Error: assertion violated`)
	reProp   = regexp.MustCompile(`PROP\(([a-z_]+)\)`)
)

func parse(t *testing.T, out string) result {
	t.Helper()
	r := result{output: out}
	m := reVector.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("pan printed no summary:\n%s", tail(out, 40))
	}
	r.vector, _ = strconv.Atoi(m[1])
	r.depth, _ = strconv.ParseInt(m[2], 10, 64)
	r.errors, _ = strconv.Atoi(m[3])
	if m := reStored.FindStringSubmatch(out); m != nil {
		r.stored, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := reMemory.FindStringSubmatch(out); m != nil {
		r.memoryMB = m[1]
	}
	if m := reTime.FindStringSubmatch(out); m != nil {
		r.seconds = m[1]
	}
	r.complete = r.errors == 0 && !strings.Contains(out, "Search not completed") &&
		!strings.Contains(out, "max search depth too small") && !strings.Contains(out, "-DMEMLIM bound")
	return r
}

// property names what a replayed trail violated: "ltl <claim>" for the
// never claim, else the PROP tag on the assertion's line of the model.
func property(t *testing.T, trail string, src []byte, claim string) string {
	t.Helper()
	m := reError.FindStringSubmatch(trail)
	if m == nil {
		return "unknown (replay: " + tail(trail, 5) + ")"
	}
	if strings.HasSuffix(m[1], ".tmp") || strings.HasSuffix(m[1], ".nvr") {
		return "ltl " + claim
	}
	n, _ := strconv.Atoi(m[2])
	lines := strings.Split(string(src), "\n")
	if n < 1 || n > len(lines) {
		return "unknown line " + m[2]
	}
	if p := reProp.FindStringSubmatch(lines[n-1]); p != nil {
		return p[1]
	}
	return "untagged assertion at line " + m[2] + ": " + strings.TrimSpace(lines[n-1])
}

// run runs a tool in dir and returns its combined output, failing the test
// if it exits non-zero.
func run(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, tail(string(out), 40))
	}
	return string(out)
}

func tail(s string, n int) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
