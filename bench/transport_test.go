//go:build unix

package bench

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shmchan/shmchan/internal/testproc"
)

// conn is one end of a bidirectional message link between the parent and its
// peer. Neither end is safe for concurrent use; each workload drives an end
// from one goroutine.
type conn interface {
	// send sends msg, waiting for room if the transport has flow control.
	send(msg []byte) error
	// recv returns the next message. The result may alias buf (copying
	// transports) or shared memory (zero-copy), and is valid until the next
	// recv. After the peer's closeSend it returns io.EOF.
	recv(buf []byte) ([]byte, error)
	// closeSend ends the outgoing direction: the peer's recv returns io.EOF
	// once it has everything sent before.
	closeSend() error
	// close releases the end and everything it holds.
	close() error
}

// listening is the parent's half of a link that the child has not joined
// yet.
type listening struct {
	args   []string   // how the child dials: names, paths, addresses
	files  []*os.File // inherited by the child as fds 3, 4, ...; closed in the parent after Start
	accept func() (conn, error)
	// abort unblocks the parent's end if the child dies, where nothing in
	// the OS or the protocol would tell it (nil where something does).
	abort func()
}

// transport is one way of moving messages between two processes.
type transport struct {
	name string
	// listen makes the parent's side for messages of up to size bytes and
	// registers the removal of what it creates with tb.Cleanup.
	listen func(tb testing.TB, size int) (*listening, error)
	// dial makes the child's end from listening.args and the inherited
	// files.
	dial func(args []string, files []*os.File, size int) (conn, error)
	// pair makes both ends in one process; only the in-process reference
	// has it, and then listen and dial are nil.
	pair func(size int) (parent, peer conn)
	// lossy marks a transport without flow control or integrity (the
	// streaming baseline): its receivers count lost, torn and repeated
	// messages instead of failing on them, and its closeSend may be lost
	// and is repeated until the peer answers.
	lossy bool
}

// transports lists every message transport, in report order.
var transports []*transport

func register(t *transport) *transport {
	transports = append(transports, t)
	return t
}

func lookup(name string) (*transport, error) {
	for _, t := range transports {
		if t.name == name {
			return t, nil
		}
	}
	return nil, fmt.Errorf("bench: no transport %q", name)
}

// pick returns the named transports, failing the benchmark on a typo.
func pick(tb testing.TB, names ...string) []*transport {
	tb.Helper()
	ts := make([]*transport, len(names))
	for i, n := range names {
		t, err := lookup(n)
		if err != nil {
			tb.Fatal(err)
		}
		ts[i] = t
	}
	return ts
}

// peerParams is what a peer role needs to know, passed to a child as flags.
type peerParams struct {
	transport string
	size      int // message size in bytes
	warmup    int // round trips before the measured part
}

func (p peerParams) flags() []string {
	return []string{"-transport=" + p.transport, "-size=" + strconv.Itoa(p.size), "-warmup=" + strconv.Itoa(p.warmup)}
}

// report is what a peer tells the parent on its control stream, one JSON
// object a line.
type report struct {
	Recv    int64 `json:"recv"`              // messages received intact and in order (or first seen)
	Lost    int64 `json:"lost,omitempty"`    // messages never received
	Torn    int64 `json:"torn,omitempty"`    // messages with bytes from two writes, or a bad length
	Dup     int64 `json:"dup,omitempty"`     // intact messages received again, or older than one already seen
	CPUNs   int64 `json:"cpu_ns,omitempty"`  // CPU time (user+system, all threads) the peer used
	WallNs  int64 `json:"wall_ns,omitempty"` // wall time over which CPUNs was taken
	Mallocs int64 `json:"mallocs,omitempty"` // heap allocations the peer made while measured
}

// role is the body of a peer: it drives c until the parent is done and
// writes reports to ctl.
type role func(c conn, p peerParams, ctl io.Writer) error

// roles are the peer roles, registered with testproc under "bench-"+name.
var roles = map[string]role{}

func registerRole(name string, r role) {
	roles[name] = r
	testproc.Register("bench-"+name, func(args []string) int {
		if err := runChild(r, args); err != nil {
			fmt.Fprintf(os.Stderr, "bench-%s: %v\n", name, err)
			return 1
		}
		return 0
	})
}

// runChild is the child side of every role: parse the flags, dial, say
// "ready" and run the role.
func runChild(r role, args []string) error {
	fs := flag.NewFlagSet("peer", flag.ContinueOnError)
	var p peerParams
	var nfiles int
	fs.StringVar(&p.transport, "transport", "", "transport name")
	fs.IntVar(&p.size, "size", 0, "message size")
	fs.IntVar(&p.warmup, "warmup", 0, "warm-up round trips")
	fs.IntVar(&nfiles, "files", 0, "inherited files, from fd 3")
	if err := fs.Parse(args); err != nil {
		return err
	}
	tr, err := lookup(p.transport)
	if err != nil {
		return err
	}
	if tr.dial == nil {
		return fmt.Errorf("transport %s runs in one process only", tr.name)
	}
	// Inherited descriptors arrive blocking (exec hands over what File.Fd
	// made blocking). Make them non-blocking before wrapping them, so that
	// the child, like the parent, waits in Go's network poller.
	files := make([]*os.File, nfiles)
	for i := range files {
		fd := 3 + i
		if err := unix.SetNonblock(fd, true); err != nil {
			return fmt.Errorf("inherited fd %d: %w", fd, err)
		}
		files[i] = os.NewFile(uintptr(fd), "inherited-"+strconv.Itoa(fd))
	}
	defer pinHot(1)()
	c, err := tr.dial(fs.Args(), files, p.size)
	if err != nil {
		return fmt.Errorf("dial %s: %w", tr.name, err)
	}
	ctl := bufio.NewWriter(os.Stdout)
	if _, err := fmt.Fprintln(ctl, "ready"); err != nil {
		return errors.Join(err, c.close())
	}
	if err := ctl.Flush(); err != nil {
		return errors.Join(err, c.close())
	}
	return errors.Join(r(c, p, flushWriter{ctl}), c.close())
}

// flushWriter flushes after every write, so that a report line reaches the
// parent at once.
type flushWriter struct{ w *bufio.Writer }

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err == nil {
		err = f.w.Flush()
	}
	return n, err
}

// peer is the parent's handle on a running peer.
type peer struct {
	c     conn
	lines chan string // the peer's control lines; closed at its EOF
	exit  chan error  // receives the peer's result once, then is closed
	name  string

	mu     sync.Mutex
	exited bool
	err    error // the peer's result, once exited
}

// startPeer starts role r for the transport with the given parameters, in a
// child process (or a goroutine for the in-process reference), waits until
// it is ready, and returns the parent's end. The peer is stopped at the end
// of the benchmark (tb.Cleanup) if the workload did not finish it.
func startPeer(tb testing.TB, tr *transport, roleName string, p peerParams) *peer {
	tb.Helper()
	r := roles[roleName]
	if r == nil {
		tb.Fatalf("bench: no role %q", roleName)
	}
	p.transport = tr.name
	pr := newPeer(roleName + "/" + tr.name)
	if tr.pair != nil {
		pr.startInProcess(tb, tr, r, p)
	} else {
		pr.startChild(tb, tr, roleName, p)
	}
	pr.ready(tb)
	return pr
}

func newPeer(name string) *peer {
	return &peer{lines: make(chan string, 16), exit: make(chan error, 1), name: name}
}

func (pr *peer) startInProcess(tb testing.TB, tr *transport, r role, p peerParams) {
	parent, child := tr.pair(p.size)
	pr.c = parent
	rd, wr := io.Pipe()
	go pr.scan(rd)
	go func() {
		fmt.Fprintln(wr, "ready")
		err := errors.Join(r(child, p, wr), child.close())
		wr.Close()
		pr.exit <- err
		close(pr.exit)
	}()
	tb.Cleanup(func() {
		pr.c.close()
		if err := pr.wait(10 * time.Second); err != nil {
			tb.Errorf("bench: peer %s: %v", pr.name, err)
		}
	})
}

func (pr *peer) startChild(tb testing.TB, tr *transport, roleName string, p peerParams) {
	tb.Helper()
	l, err := tr.listen(tb, p.size)
	if err != nil {
		tb.Fatalf("bench: listen %s: %v", tr.name, err)
	}
	args := append(p.flags(), "-files="+strconv.Itoa(len(l.files)))
	pr.spawn(tb, "bench-"+roleName, append(args, l.args...), l.files, l.abort)
	c, err := l.accept()
	if err != nil {
		tb.Fatalf("bench: accept %s: %v (peer: %v)", tr.name, err, pr.wait(5*time.Second))
	}
	pr.c = c
	tb.Cleanup(func() {
		err := pr.c.close()
		if werr := pr.wait(10 * time.Second); werr != nil {
			err = errors.Join(err, werr)
		}
		if err != nil {
			tb.Errorf("bench: peer %s: %v", pr.name, err)
		}
	})
}

// spawn starts a child running the testproc role with args, inheriting
// files, with its standard output as the control stream.
func (pr *peer) spawn(tb testing.TB, role string, args []string, files []*os.File, abort func()) {
	tb.Helper()
	cmd := testproc.Command(tb, role, args...)
	cmd.ExtraFiles = files
	rd, wr, err := os.Pipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stdout = wr
	err = cmd.Start()
	wr.Close()
	for _, f := range files {
		f.Close() // the child holds its copies; EOF and EPIPE now work both ways
	}
	if err != nil {
		rd.Close()
		tb.Fatalf("bench: start peer %s: %v", pr.name, err)
	}
	go pr.scan(rd)
	go pr.watch(cmd, abort)
}

// ready waits for the peer's "ready" line.
func (pr *peer) ready(tb testing.TB) {
	tb.Helper()
	select {
	case line, ok := <-pr.lines:
		if !ok || line != "ready" {
			err := pr.wait(10 * time.Second)
			tb.Fatalf("bench: peer %s did not get ready (said %q): %v", pr.name, line, err)
		}
	case <-time.After(20 * time.Second):
		tb.Fatalf("bench: peer %s not ready after 20s", pr.name)
	}
}

// dead reports whether the peer has ended.
func (pr *peer) dead() bool {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return pr.exited
}

// watch waits for the child and, if it dies while the parent may still be
// blocked on it, aborts the parent's end.
func (pr *peer) watch(cmd *exec.Cmd, abort func()) {
	err := cmd.Wait()
	pr.mu.Lock()
	pr.exited, pr.err = true, err
	pr.mu.Unlock()
	if err != nil && abort != nil {
		abort()
	}
	pr.exit <- err
	close(pr.exit)
}

func (pr *peer) scan(r io.ReadCloser) {
	defer r.Close()
	defer close(pr.lines)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		pr.lines <- sc.Text()
	}
}

// wait waits up to timeout for the peer to end and returns its result.
func (pr *peer) wait(timeout time.Duration) error {
	select {
	case err, ok := <-pr.exit:
		if !ok {
			pr.mu.Lock()
			defer pr.mu.Unlock()
			return pr.err
		}
		pr.mu.Lock()
		pr.exited, pr.err = true, err
		pr.mu.Unlock()
		return err
	case <-time.After(timeout):
		return fmt.Errorf("peer %s still running after %v", pr.name, timeout)
	}
}

// report reads the peer's next report line.
func (pr *peer) report(timeout time.Duration) (report, error) {
	var rep report
	select {
	case line, ok := <-pr.lines:
		if !ok {
			return rep, fmt.Errorf("peer %s ended without a report: %v", pr.name, pr.wait(5*time.Second))
		}
		if err := json.Unmarshal([]byte(line), &rep); err != nil {
			return rep, fmt.Errorf("peer %s: bad report %q: %w", pr.name, line, err)
		}
		return rep, nil
	case <-time.After(timeout):
		return rep, fmt.Errorf("peer %s: no report after %v", pr.name, timeout)
	}
}

// finish ends the outgoing direction and waits for the peer to end cleanly.
func (pr *peer) finish() error {
	err := pr.c.closeSend()
	if werr := pr.wait(20 * time.Second); werr != nil {
		err = errors.Join(err, werr)
	}
	return err
}

// writeReport writes rep as one control line.
func writeReport(ctl io.Writer, rep report) error {
	b, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	_, err = ctl.Write(append(b, '\n'))
	return err
}

// argValue returns the value of "key=value" in args.
func argValue(args []string, key string) (string, error) {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, key+"="); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("bench: missing argument %s= in %q", key, args)
}
