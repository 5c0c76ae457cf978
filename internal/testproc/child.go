package testproc

import (
	"bufio"
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
func Start(t testing.TB, cmd *exec.Cmd, want string) *Child {
	t.Helper()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatalf("testproc: %v: %v", cmd.Args, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("testproc: %v: %v", cmd.Args, err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("testproc: %v: %v", cmd.Args, err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	c := &Child{Cmd: cmd, Stdin: stdin, Out: bufio.NewReader(stdout)}
	if want != "" {
		c.Expect(t, want)
	}
	return c
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
