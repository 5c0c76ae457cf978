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
		// retry sees the child's standard error for Wine's loader fault;
		// nil where a failed start fails the test.
		var retry *faultSniffer
		if wine && attempt < startAttempts {
			retry = &faultSniffer{w: cmd.Stderr}
			cmd.Stderr = retry
		}
		c, fault := start(t, cmd, want, retry)
		if fault == "" {
			return c
		}
		t.Logf("testproc: Wine failed to start %v (attempt %d of %d: %s); starting it again", c.args(), attempt, startAttempts, fault)
		cmd.Stderr = retry.w
		*cmd = *again(t, cmd) // the fresh, unstarted command takes the caller's place
	}
}

// start is one attempt of Start. With retry set, a child that failed from a
// fault of Wine's does not fail the test: start reaps it and returns the
// fault's description.
func start(t testing.TB, cmd *exec.Cmd, want string, retry *faultSniffer) (*Child, string) {
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
		if retry != nil && wineStartFault(err) {
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
	if retry != nil && line == "" {
		werr := cmd.Wait() // stdout is at its end: the child has exited, or closed it
		if retry.sawFault() {
			return c, fmt.Sprintf("%s, %v", loaderFault, werr)
		}
	}
	t.Fatalf("child %v said %q, %v; want %q", c.args(), line, err, want)
	return nil, ""
}

// again returns a fresh, unstarted copy of cmd: the same program,
// arguments, environment, directory, files and standard error, under a
// context that ends as Command's does.
func again(t testing.TB, cmd *exec.Cmd) *exec.Cmd {
	ctx, cancel := testContext(t)
	t.Cleanup(cancel)
	fresh := exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
	fresh.Env, fresh.Dir, fresh.Stderr = cmd.Env, cmd.Dir, cmd.Stderr
	fresh.ExtraFiles, fresh.SysProcAttr, fresh.WaitDelay = cmd.ExtraFiles, cmd.SysProcAttr, cmd.WaitDelay
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
