package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/shmchan/shmchan/internal/layout"
	"github.com/shmchan/shmchan/internal/platform"
	"github.com/shmchan/shmchan/internal/testproc"
	"github.com/shmchan/shmchan/shm"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// prefix starts the name of every object these tests make.
var prefix = testproc.ProcessPrefix("clitest")

func init() {
	testproc.Register("channel", childChannel)
	testproc.Register("mailbox", childMailbox)
	testproc.Register("claim", childClaim)
	testproc.Register("listener", func(args []string) int {
		l, err := shm.Listen(args[0])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer l.Close()
		fmt.Println("ready")
		_, _ = io.Copy(io.Discard, os.Stdin)
		return 0
	})
	testproc.Register("pingpong", childPingPong)
	testproc.Register("create", func(args []string) int {
		size, _ := strconv.ParseInt(args[1], 10, 64)
		seg, err := shm.Create(args[0], size)
		if err == nil {
			seg.Close()
			_ = shm.Remove(args[0])
			fmt.Println("created")
			return 1
		}
		fmt.Println(err)
		return 0
	})
	testproc.Register("cli", func(args []string) int {
		c := &cli{stdout: os.Stdout, stderr: os.Stderr, stop: make(chan struct{})}
		return c.main(args)
	})
}

// TestMain dispatches the children and, in the parent, fails the run if a
// test left an object behind.
func TestMain(m *testing.M) {
	testproc.Dispatch()
	code := testproc.Run(m)
	if runtime.GOOS == "linux" {
		ents, _ := os.ReadDir("/dev/shm")
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), prefix) {
				fmt.Fprintf(os.Stderr, "test left %s in /dev/shm\n", e.Name())
				_ = shm.Remove(e.Name())
				code = 1
			}
		}
	}
	os.Exit(code)
}

// childChannel makes a channel NAME and, by MODE:
//   - hold: claims the sender, sends 3 messages of 100 bytes, says "ready"
//     and holds the role until its stdin closes (or it is killed);
//   - closed: the same, then closes the sender, receives one message and
//     closes the receiver, says "ready" and exits.
func childChannel(args []string) int {
	name, mode := args[0], args[1]
	ch, err := shm.CreateChannel(name, 4096)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	tx, err := ch.Sender()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for range 3 {
		if err := tx.Send(make([]byte, 100)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	if mode == "closed" {
		rx, err := ch.Receiver()
		if err == nil {
			err = tx.Close()
		}
		if err == nil {
			_, err = rx.Recv(nil)
		}
		if err == nil {
			err = rx.Close()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	fmt.Println("ready")
	if mode == "hold" {
		_, _ = io.Copy(io.Discard, os.Stdin)
	}
	return 0
}

// childMailbox makes a mailbox NAME, publishes two values, says "ready" and
// holds the writer role until its stdin closes.
func childMailbox(args []string) int {
	mb, err := shm.CreateMailbox(args[0], 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, v := range []string{"one", "two"} {
		if _, err := mb.Publish([]byte(v)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// childClaim opens the channel NAME, says "opened", waits for a line on
// stdin, claims the receiver and says what came of it: "claimed present"
// (and the name still exists), "claimed gone" (it claimed an object whose
// name was already removed), "busy", or the error. It then holds the role
// until its stdin closes.
func childClaim(args []string) int {
	name := args[0]
	ch, err := shm.OpenChannel(name)
	if err != nil {
		fmt.Println("open:", err)
		return 0
	}
	defer ch.Close()
	fmt.Println("opened")
	in := bufio.NewReader(os.Stdin)
	if _, err := in.ReadString('\n'); err != nil {
		return 1
	}
	_, err = ch.Receiver()
	switch {
	case errors.Is(err, shm.ErrBusy):
		fmt.Println("busy")
	case err != nil:
		fmt.Println("claim:", err)
	default:
		if _, serr := os.Lstat("/dev/shm/" + name); serr == nil {
			fmt.Println("claimed present")
		} else {
			fmt.Println("claimed gone")
		}
	}
	_, _ = io.Copy(io.Discard, in)
	return 0
}

// childPingPong makes the channel NAME and streams 64-byte messages through
// it, from one goroutine to another, until its stdin closes.
func childPingPong(args []string) int {
	ch, err := shm.CreateChannel(args[0], 1<<16)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	tx, _ := ch.Sender()
	rx, _ := ch.Receiver()
	stop := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(stop) }()
	go func() {
		buf := make([]byte, 0, 64)
		for {
			var err error
			if buf, err = rx.Recv(buf[:0]); err != nil {
				return
			}
		}
	}()
	fmt.Println("ready")
	msg := make([]byte, 64)
	for {
		select {
		case <-stop:
			return 0
		default:
		}
		if err := tx.Send(msg); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
}

// child is a started child process.
type child struct{ *testproc.Child }

// start starts role and waits for its first line, which must be want.
func start(t *testing.T, want string, role string, args ...string) *child {
	t.Helper()
	return &child{testproc.Start(t, testproc.Command(t, role, args...), want)}
}

// end closes the child's stdin and waits for it.
func (c *child) end(t *testing.T) {
	t.Helper()
	c.Stdin.Close()
	if err := c.Cmd.Wait(); err != nil {
		t.Errorf("%v: %v", c.Cmd.Args, err)
	}
}

// kill SIGKILLs the child and reaps it.
func (c *child) kill(t *testing.T) {
	t.Helper()
	_ = c.Cmd.Process.Kill()
	_ = c.Cmd.Wait()
}

// object returns a fresh object name, removed when the test ends.
func object(t *testing.T, suffix string) string {
	t.Helper()
	name := prefix + suffix
	t.Cleanup(func() {
		if err := shm.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Remove(%q): %v", name, err)
		}
	})
	return name
}

// run runs the command line in this process and returns its status and
// output.
func run(t *testing.T, args ...string) (status int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	c := &cli{stdout: &out, stderr: &errb, stop: make(chan struct{})}
	status = c.main(args)
	return status, out.String(), errb.String()
}

func needLinux(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("lists /dev/shm: Linux only")
	}
}

// fixture makes the objects most tests look at, each by a real process:
// a channel whose sender lives (hold), one whose sender was SIGKILLed
// (killed), one whose ends both closed (closed), a mailbox whose writer
// lives (mbox), a channel whose header a peer corrupted (corrupt), and a
// segment that is not shmchan's (raw). It returns the live children, which
// the test ends.
func fixture(t *testing.T) (names map[string]string, live []*child) {
	t.Helper()
	names = map[string]string{}
	for _, s := range []string{"a-hold", "b-killed", "c-closed", "d-mbox", "e-corrupt", "f-raw", "g-lsn"} {
		names[s[2:]] = object(t, s)
	}
	live = append(live, start(t, "ready", "channel", names["hold"], "hold"))
	start(t, "ready", "channel", names["killed"], "hold").kill(t)
	start(t, "ready", "channel", names["closed"], "closed").end(t)
	live = append(live, start(t, "ready", "mailbox", names["mbox"]))
	live = append(live, start(t, "ready", "listener", names["lsn"]))
	start(t, "ready", "channel", names["corrupt"], "closed").end(t)
	seg, err := shm.Open(names["corrupt"])
	if err != nil {
		t.Fatal(err)
	}
	// Capacity 3000: not a power of two.
	if err := seg.StoreUint64(layout.ChanOffCapacity, 3000); err != nil {
		t.Fatal(err)
	}
	seg.Close()
	raw, err := shm.Create(names["raw"], 4096)
	if err != nil {
		t.Fatal(err)
	}
	raw.Close()
	return names, live
}

// normalise rewrites JSON output into the stable form of the golden files:
// the test's name prefix, PIDs, tokens, ages and uids masked, and PIDs and
// start times inside notes too.
func normalise(t *testing.T, out string, keep func(map[string]any) bool) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if arr, ok := v.([]any); ok && keep != nil {
		var kept []any
		for _, e := range arr {
			if keep(e.(map[string]any)) {
				kept = append(kept, e)
			}
		}
		v = kept
	}
	note := regexp.MustCompile(`pid \d+, start \d+`)
	rolePID := regexp.MustCompile(`(sender|receiver|writer|creator) \d+ (alive|dead)`)
	var walk func(any) any
	walk = func(x any) any {
		switch x := x.(type) {
		case map[string]any:
			for k, e := range x {
				switch k {
				case "pid", "token", "age_seconds", "uid":
					x[k] = 0
				default:
					x[k] = walk(e)
				}
			}
			if n, _ := x["name"].(string); n == "creator" || strings.HasSuffix(n, "_owner") || n == "owner" {
				x["value"] = 0
			}
		case []any:
			for i := range x {
				x[i] = walk(x[i])
			}
		case string:
			x = note.ReplaceAllString(strings.ReplaceAll(x, prefix, "NAME-"), "pid PID, start START")
			return rolePID.ReplaceAllString(x, "$1 PID $2")
		}
		return x
	}
	b, err := json.MarshalIndent(walk(v), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}

// golden compares got with testdata/NAME.golden (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s (go test -update rewrites it):\n%s", name, path, got)
	}
}

func ours(o map[string]any) bool { n, _ := o["name"].(string); return strings.HasPrefix(n, prefix) }

func TestLs(t *testing.T) {
	needLinux(t)
	names, live := fixture(t)
	defer func() {
		for _, c := range live {
			c.end(t)
		}
	}()
	st, out, errs := run(t, "ls", "--json", "--prefix", prefix)
	if st != exitOK {
		t.Fatalf("ls --json: status %d, %s", st, errs)
	}
	golden(t, "ls", normalise(t, out, ours))

	st, out, _ = run(t, "ls", "--prefix", prefix)
	if st != exitOK {
		t.Fatalf("ls: status %d", st)
	}
	t.Logf("ls:\n%s", out)
	for _, want := range []string{
		names["hold"] + " +channel +2 +8.0KiB +4.0KiB +336B 8.2% +sender \\d+ alive, receiver none",
		names["killed"] + " +channel .* sender \\d+ dead, receiver none",
		names["closed"] + " +channel .* sender closed, receiver closed",
		names["mbox"] + " +mailbox +2 .* v2 +writer \\d+ alive",
		names["corrupt"] + " +channel .* shm: corrupt shared memory: capacity 3000",
		names["raw"] + " +raw +- +4.0KiB",
		names["lsn"] + " +listener +2 .* 0/\\d+ slots +listener \\d+ alive",
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("ls output does not match %q", want)
		}
	}
	st, out, _ = run(t, "ls", "--no-raw", "--prefix", prefix)
	if st != exitOK || strings.Contains(out, names["raw"]) || !strings.Contains(out, names["hold"]) {
		t.Errorf("ls --no-raw: status %d, output\n%s", st, out)
	}
}

func TestInspect(t *testing.T) {
	needLinux(t)
	names, live := fixture(t)
	defer func() {
		for _, c := range live {
			c.end(t)
		}
	}()
	st, out, errs := run(t, "inspect", "--json", names["hold"])
	if st != exitOK {
		t.Fatalf("inspect --json: status %d, %s", st, errs)
	}
	golden(t, "inspect-channel", normalise(t, out, nil))
	st, out, _ = run(t, "inspect", "--json", names["mbox"])
	if st != exitOK {
		t.Fatalf("inspect --json mailbox: status %d", st)
	}
	golden(t, "inspect-mailbox", normalise(t, out, nil))

	st, out, _ = run(t, "inspect", names["hold"])
	t.Logf("inspect:\n%s", out)
	for _, want := range []string{"verdict: sound", `0x088 +tx_owner +\d+ +pid \d+, start \d+: alive`,
		`0x100 +head +0 +place 0; the records end at 336 \(336 bytes unread\)`, `tx_stats.messages +3\n`, `tx_stats.bytes +300\n`} {
		if st != exitOK || !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("inspect %s: status %d, output lacks %q", names["hold"], st, want)
		}
	}
	// A corrupt header: the library's verdict, explained; status 1.
	st, out, _ = run(t, "inspect", names["corrupt"])
	t.Logf("inspect corrupt:\n%s", out)
	if st != exitProblem || !strings.Contains(out, "capacity 3000") || !strings.Contains(out, "ErrCorrupt: ") {
		t.Errorf("inspect of a corrupt channel: status %d, output\n%s", st, out)
	}
	if st, _, errs := run(t, "inspect", prefix+"missing"); st != exitProblem || !strings.Contains(errs, "no such object") {
		t.Errorf("inspect of a missing object: status %d, %s", st, errs)
	}
}

func TestGC(t *testing.T) {
	needLinux(t)
	names, live := fixture(t)
	defer func() {
		for _, c := range live {
			c.end(t)
		}
	}()
	st, out, _ := run(t, "gc", "--json", "--prefix", prefix)
	if st != exitProblem {
		t.Errorf("gc with garbage, without --yes: status %d, want %d", st, exitProblem)
	}
	golden(t, "gc", normalise(t, out, nil))
	for _, n := range names {
		if _, err := os.Lstat("/dev/shm/" + n); err != nil {
			t.Errorf("gc without --yes removed %s", n)
		}
	}
	st, out, _ = run(t, "gc", "--yes", "--prefix", prefix)
	t.Logf("gc --yes:\n%s", out)
	if st != exitOK {
		t.Errorf("gc --yes: status %d", st)
	}
	for k, n := range names {
		_, err := os.Lstat("/dev/shm/" + n)
		gone := errors.Is(err, fs.ErrNotExist)
		if want := k == "killed" || k == "closed"; gone != want {
			t.Errorf("after gc --yes, %s (%s) removed: %v, want %v", n, k, gone, want)
		}
	}
	if st, out, _ := run(t, "gc", "--prefix", prefix); st != exitOK || out != "" {
		t.Errorf("gc with nothing left: status %d, output %q", st, out)
	}
}

// TestGCRace races gc --yes against a process that claims the receiver of
// a channel whose sender was killed: whoever wins, gc never removes an
// object whose role a live process holds.
func TestGCRace(t *testing.T) {
	needLinux(t)
	outcomes := map[string]int{}
	n := 30
	if testing.Short() {
		n = 10
	}
	for i := range n {
		name := object(t, fmt.Sprintf("race-%d", i))
		start(t, "ready", "channel", name, "hold").kill(t)
		c := start(t, "opened", "claim", name)
		fmt.Fprintln(c.Stdin, "go")
		st, out, errs := run(t, "gc", "--yes", "--prefix", name)
		line, err := c.Out.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		line = strings.TrimSpace(line)
		outcomes[line]++
		_, serr := os.Lstat("/dev/shm/" + name)
		present := serr == nil
		switch line {
		case "claimed present":
			if !present {
				t.Errorf("round %d: gc removed %s while the child held its receiver (gc: %d %q %q)", i, name, st, out, errs)
			}
		case "claimed gone", "busy":
			// gc fenced the roles first: the child lost, or claimed the
			// object after its name was gone.
			if present {
				t.Errorf("round %d: child says %q but %s exists", i, line, name)
			}
		default:
			t.Errorf("round %d: child: %s", i, line)
		}
		c.end(t)
	}
	t.Logf("outcomes over %d rounds: %v", n, outcomes)
}

func TestRm(t *testing.T) {
	needLinux(t)
	names, live := fixture(t)
	defer func() {
		for _, c := range live {
			c.end(t)
		}
	}()
	if st, _, errs := run(t, "rm", names["hold"]); st != exitProblem || !strings.Contains(errs, "in use (sender pid") {
		t.Errorf("rm of a held channel: status %d, %s", st, errs)
	}
	if _, err := os.Lstat("/dev/shm/" + names["hold"]); err != nil {
		t.Errorf("rm without --force removed a held channel: %v", err)
	}
	if st, out, errs := run(t, "rm", names["killed"], names["raw"]); st != exitOK || strings.Count(out, "removed") != 2 {
		t.Errorf("rm of a dead channel and a raw segment: status %d, %q %q", st, out, errs)
	}
	if st, _, _ := run(t, "rm", "--force", names["hold"]); st != exitOK {
		t.Errorf("rm --force: status %d", st)
	}
	if st, _, errs := run(t, "rm", names["killed"]); st != exitProblem || !strings.Contains(errs, "no such object") {
		t.Errorf("rm of a missing object: status %d, %s", st, errs)
	}
}

func TestStat(t *testing.T) {
	needLinux(t)
	name := object(t, "stat")
	c := start(t, "ready", "pingpong", name)
	defer c.end(t)
	st, out, errs := run(t, "stat", "--json", "--count", "2", "--interval", "200ms", name)
	if st != exitOK {
		t.Fatalf("stat: status %d, %s", st, errs)
	}
	var rows []statRow
	dec := json.NewDecoder(strings.NewReader(out))
	for dec.More() {
		var r statRow
		if err := dec.Decode(&r); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
	if len(rows) != 4 {
		t.Fatalf("stat --count 2 of one channel: %d rows, want 4:\n%s", len(rows), out)
	}
	for _, r := range rows {
		// stat reads an end's message and byte counters one after the
		// other while the end goes on counting, so a rate can be a few
		// messages off the other (a CI run under -race measured 0.0005%):
		// 64 bytes each within 0.1%.
		if r.Messages <= 0 || math.Abs(r.Bytes-64*r.Messages) > 1e-3*r.Bytes || r.State != "alive" {
			t.Errorf("row %+v: want messages flowing, 64 bytes each, end alive", r)
		}
	}
	st, out, _ = run(t, "stat", "--count", "1", "--interval", "100ms", name)
	t.Logf("stat:\n%s", out)
	if st != exitOK || !strings.Contains(out, "MSG/S") || !strings.Contains(out, "sender") {
		t.Errorf("stat: status %d, output\n%s", st, out)
	}
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want int
	}{
		{nil, exitUsage},
		{[]string{"frobnicate"}, exitUsage},
		{[]string{"-h"}, exitOK},
		{[]string{"ls", "-h"}, exitOK},
		{[]string{"ls", "extra"}, exitUsage},
		{[]string{"inspect"}, exitUsage},
		{[]string{"stat"}, exitUsage},
		{[]string{"stat", "--interval", "0s", "x"}, exitUsage},
		{[]string{"rm"}, exitUsage},
		{[]string{"gc", "--bogus"}, exitUsage},
		{[]string{"doctor", "--need", "lots"}, exitUsage},
	} {
		if st, _, _ := run(t, tc.args...); st != tc.want {
			t.Errorf("shmchan %q: status %d, want %d", tc.args, st, tc.want)
		}
	}
	for _, tc := range []struct {
		in   string
		want uint64
	}{{"1048576", 1 << 20}, {"64M", 64 << 20}, {"1G", 1 << 30}, {"2GiB", 2 << 30}, {"1.5k", 1536}} {
		if got, err := parseSize(tc.in); err != nil || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

// needRoot skips a test that needs root and a util-linux tool.
func needRoot(t *testing.T, tool string) {
	t.Helper()
	needLinux(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := exec.LookPath(tool); err != nil {
		t.Skip(tool + " not installed")
	}
}

// exported copies the test binary where any user may run it.
func exported(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "shmchan-cli-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "shmchan.test")
	if err := os.WriteFile(path, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestLsUnreadable lists, as another user, a channel that root made with
// the default mode 0600: it is listed as unreadable, and ls succeeds.
func TestLsUnreadable(t *testing.T) {
	needRoot(t, "setpriv")
	name := object(t, "private")
	start(t, "ready", "channel", name, "closed").end(t)
	cmd := testproc.CommandPath(t, exported(t), "cli", "ls", "--json", "--prefix", name)
	cmd.Path, _ = exec.LookPath("setpriv")
	cmd.Args = append([]string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", cmd.Args[0]}, cmd.Args[1:]...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ls as uid 65534: %v", err)
	}
	golden(t, "ls-unreadable", normalise(t, string(out), nil))
	if !strings.Contains(string(out), `"kind": "unreadable"`) {
		t.Errorf("ls as another user:\n%s", out)
	}
}

// TestDoctorSmallShm runs doctor in a mount namespace whose /dev/shm is a
// 1 MiB tmpfs, and asks for 4 MiB: it reports the shortfall, with the fix,
// and fails.
func TestDoctorSmallShm(t *testing.T) {
	needRoot(t, "unshare")
	cmd := testproc.Command(t, "cli", "doctor", "--need", "4M")
	script := `mount -t tmpfs -o size=1m,mode=1777 tmpfs /dev/shm && exec "$0" "$@"`
	cmd.Args = append([]string{"unshare", "-m", "--propagation", "private", "sh", "-c", script, cmd.Path}, cmd.Args[1:]...)
	cmd.Path, _ = exec.LookPath("unshare")
	out, err := cmd.Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitProblem {
		t.Fatalf("doctor on a 1 MiB /dev/shm: %v, want exit status %d\n%s", err, exitProblem, out)
	}
	t.Logf("doctor:\n%s", out)
	for _, want := range []string{
		"FAIL  shm-space   /dev/shm: 1.0MiB free of 1.0MiB; 4.0MiB asked (--need): 3.0MiB short (1048576 bytes free, 4194304 asked)",
		"--shm-size", "emptyDir", "ok    futex", "ok    ofd-locks", "ok    fallocate",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("doctor output lacks %q", want)
		}
	}
	// The same /dev/shm for the library: ErrNoSpace names both numbers.
	cmd = testproc.Command(t, "create", "clitest-nospace", "2097152")
	cmd.Args = append([]string{"unshare", "-m", "--propagation", "private", "sh", "-c", script, cmd.Path}, cmd.Args[1:]...)
	cmd.Path, _ = exec.LookPath("unshare")
	out, err = cmd.Output()
	if err != nil {
		t.Fatalf("create on a 1 MiB /dev/shm: %v", err)
	}
	if want := "2097152 bytes asked, 1048576 free of 1048576 in /dev/shm"; !strings.Contains(string(out), want) {
		t.Errorf("Create on a 1 MiB /dev/shm: %s; want it to say %q", out, want)
	}
}

func TestDoctorHere(t *testing.T) {
	needLinux(t)
	st, out, _ := run(t, "doctor", "--json", "--need", "1")
	var fs []finding
	if err := json.Unmarshal([]byte(out), &fs); err != nil {
		t.Fatalf("doctor --json: %v\n%s", err, out)
	}
	var checks []string
	for _, f := range fs {
		checks = append(checks, f.Check)
		if f.Status == checkFail && st != exitProblem {
			t.Errorf("doctor found %+v but exited %d", f, st)
		}
	}
	for _, want := range []string{"shm-space", "shm-perm", "umask", "namespaces", "futex", "ofd-locks", "fallocate"} {
		if !slices.Contains(checks, want) {
			t.Errorf("doctor --json lacks the %s check: %v", want, checks)
		}
	}
}

// TestLivenessFromLocks: in layout version 2 on Linux a role is held while
// its lock is, whatever its token says. A channel whose sender was killed,
// with a live process's token (this one's) written over its owner field, is
// still dead to ls and garbage to gc.
func TestLivenessFromLocks(t *testing.T) {
	needLinux(t)
	name := object(t, "stale-token")
	start(t, "ready", "channel", name, "hold").kill(t)
	seg, err := shm.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := seg.StoreUint64(layout.ChanOffTxOwner, uint64(platform.Self())); err != nil {
		t.Fatal(err)
	}
	seg.Close()
	st, out, _ := run(t, "ls", "--prefix", name)
	if want := fmt.Sprintf("sender %d dead", os.Getpid()); st != exitOK || !strings.Contains(out, want) {
		t.Errorf("ls: status %d, output lacks %q:\n%s", st, want, out)
	}
	if st, out, _ := run(t, "gc", "--yes", "--prefix", name); st != exitOK || !strings.Contains(out, "removed "+name) {
		t.Errorf("gc --yes: status %d, output %q", st, out)
	}
}

// TestDoctorPeerPIDNamespace: a sender in a PID namespace of its own, sharing
// this /dev/shm, holds its role lock under a PID that means nothing here:
// ls shows it alive (the lock says so), and doctor names it as a peer in
// another PID namespace.
func TestDoctorPeerPIDNamespace(t *testing.T) {
	needRoot(t, "unshare")
	name := object(t, "pidns")
	cmd := testproc.Command(t, "channel", name, "hold")
	cmd.Args = append([]string{"unshare", "--pid", "--fork", "--mount", "--mount-proc", cmd.Path}, cmd.Args[1:]...)
	cmd.Path, _ = exec.LookPath("unshare")
	c := &child{testproc.Start(t, cmd, "ready")}
	defer c.end(t)
	st, out, _ := run(t, "ls", "--prefix", name)
	if st != exitOK || !regexp.MustCompile(`sender \d+ alive`).MatchString(out) {
		t.Errorf("ls of a channel held from another PID namespace: status %d\n%s", st, out)
	}
	_, out, _ = run(t, "doctor", "--json", "--need", "1")
	var fs []finding
	if err := json.Unmarshal([]byte(out), &fs); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range fs {
		if f.Check == "peer-pidns" && strings.Contains(f.Message, name+" (sender") {
			found = true
			t.Logf("doctor: %s", f.Message)
		}
	}
	if !found {
		t.Errorf("doctor did not name the peer in another PID namespace:\n%s", out)
	}
}
