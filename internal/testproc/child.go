package testproc

import (
	"bufio"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// Child is a role started with pipes on its standard input and output, for
// a test that drives it by lines: the role says "ready" (or what it has
// done), the test answers on Stdin.
type Child struct {
	Cmd   *exec.Cmd
	Stdin io.WriteCloser
	Out   *bufio.Reader
}

// Start starts cmd (from Command or CommandPath, possibly wrapped by another
// program) with pipes on its standard input and output and, unless want is
// empty, waits for its first line, which must be want. The child is killed
// and reaped when the test ends, if it still runs.
//
// Under Wine, a child that Wine itself fails to start (see wine.go) is
// started again, up to 3 times in all, in place: cmd becomes the fresh
// command, so the caller's pointer stays good.
func Start(t testing.TB, cmd *exec.Cmd, want string) *Child {
	t.Helper()
	wine := UnderWine()
	for attempt := 1; ; attempt++ {
		var sniff *faultSniffer
		if wine {
			sniff = &faultSniffer{w: cmd.Stderr}
			cmd.Stderr = sniff
		}
		c, fault := start(t, cmd, want, wine && attempt < startAttempts, sniff)
		if fault == "" {
			return c
		}
		t.Logf("testproc: Wine failed to start %v (attempt %d of %d: %s); starting it again", c.args(), attempt, startAttempts, fault)
		fresh := again(t, cmd)
		if sniff != nil {
			fresh.Stderr = sniff.w
		}
		*cmd = *fresh // the fresh, unstarted command takes the caller's place
	}
}

// start is one attempt of Start. If retry is set and the child failed from
// a fault of Wine's, it returns the fault's description instead of failing
// the test, having reaped the child.
func start(t testing.TB, cmd *exec.Cmd, want string, retry bool, sniff *faultSniffer) (*Child, string) {
	t.Helper()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatalf("testproc: %v: %v", cmd.Args, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("testproc: %v: %v", cmd.Args, err)
	}
	c := &Child{Cmd: cmd, Stdin: stdin, Out: bufio.NewReader(stdout)}
	if err := cmd.Start(); err != nil {
		if retry && wineStartFault(err) {
			return c, err.Error()
		}
		t.Fatalf("testproc: %v: %v", cmd.Args, err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	if want == "" {
		return c, ""
	}
	line, err := c.Out.ReadString('\n')
	if strings.TrimSpace(line) == want {
		return c, ""
	}
	if retry && line == "" && sniff != nil {
		werr := cmd.Wait() // stdout is at its end: the child has exited, or closed it
		if sniff.sawFault() {
			return c, fmt.Sprintf("%s, %v", loaderFault, werr)
		}
	}
	t.Fatalf("child %v said %q, %v; want %q", c.args(), line, err, want)
	return nil, ""
}

// again returns a fresh, unstarted copy of cmd, a command from Command or
// CommandPath, with cmd's environment, directory and standard error.
func again(t testing.TB, cmd *exec.Cmd) *exec.Cmd {
	t.Helper()
	mu.Lock()
	s, ok := specs[cmd]
	mu.Unlock()
	if !ok {
		t.Fatalf("testproc: cannot start %v again: it was not made by Command or CommandPath", cmd.Args)
	}
	fresh := CommandPath(t, s.path, s.role, s.args...)
	mu.Lock()
	specs[cmd] = s // cmd's pointer is where fresh will live
	mu.Unlock()
	fresh.Env, fresh.Dir, fresh.Stderr = cmd.Env, cmd.Dir, cmd.Stderr
	return fresh
}

// Expect reads the child's next line and fails the test unless it is want
// (space around it ignored).
func (c *Child) Expect(t testing.TB, want string) {
	t.Helper()
	if line, err := c.Out.ReadString('\n'); strings.TrimSpace(line) != want {
		t.Fatalf("child %v said %q, %v; want %q", c.args(), line, err, want)
	}
}

// Discard reads the rest of the child's output in the background, so that
// it never blocks on a full pipe.
func (c *Child) Discard() { go io.Copy(io.Discard, c.Out) }

// args returns what the child was given after the test flags: its
// arguments, for messages.
func (c *Child) args() []string {
	for i, a := range c.Cmd.Args {
		if a == "--" {
			return c.Cmd.Args[i+1:]
		}
	}
	return c.Cmd.Args
}
