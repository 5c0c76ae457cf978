package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shmchan/shmchan/internal/testproc"
	"github.com/shmchan/shmchan/shm"
)

// TestWindowsTool runs the subcommands against a channel that a real
// process made and holds, on Windows, where objects can be named but not
// listed: ls and gc say so (exit 1); inspect judges the sender by its named
// mutex, alive, then dead after TerminateProcess; rm refuses the live one.
// This process keeps the channel open throughout, as a peer would: on
// Windows an object lives only while some process has it open.
func TestWindowsTool(t *testing.T) {
	// The other roles serve the tests that list /dev/shm (Linux only).
	testproc.MarkUsed("claim", "cli", "create", "listener", "mailbox", "pingpong")
	name := object(t, "win-hold")
	c := start(t, "ready", "channel", name, "hold")
	defer c.kill(t)
	ch, err := shm.OpenChannel(name)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	pid := c.Cmd.Process.Pid

	for _, cmd := range []string{"ls", "gc"} {
		if st, out, errs := run(t, cmd); st != exitProblem || !strings.Contains(errs, "cannot be listed") {
			t.Errorf("%s: status %d, output %q, errors %q; want %d and \"cannot be listed\"", cmd, st, out, errs, exitProblem)
		}
	}
	st, out, errs := run(t, "inspect", name)
	if i := strings.Index(out, "\n\n"); i > 0 {
		t.Logf("inspect, the holder alive:\n%s", out[:i])
	}
	if want := fmt.Sprintf("sender %d alive", pid); st != exitOK || !strings.Contains(out, want) || !strings.Contains(out, "uid ?, age ?") {
		t.Errorf("inspect: status %d, errors %q, output lacks %q or \"uid ?, age ?\":\n%s", st, errs, want, out)
	}
	if st, _, errs := run(t, "rm", name); st != exitProblem || !strings.Contains(errs, fmt.Sprintf("in use (sender pid %d)", pid)) {
		t.Errorf("rm of the live one: status %d, errors %q", st, errs)
	}
	if _, err := ch.Sender(); err == nil {
		t.Fatal("Sender() here succeeded while the child holds it")
	}

	c.kill(t) // TerminateProcess
	killed := time.Now()
	want := fmt.Sprintf("sender %d dead", pid)
	for {
		st, out, errs := run(t, "inspect", name)
		if i := strings.Index(out, "\n\n"); st == exitOK && strings.Contains(out, want) && i > 0 {
			t.Logf("inspect %v after the kill:\n%s", time.Since(killed).Round(time.Microsecond), out[:i])
			break
		}
		if time.Since(killed) > 5*time.Second {
			t.Fatalf("inspect 5 s after the kill: status %d, errors %q, output lacks %q:\n%s", st, errs, want, out)
		}
		time.Sleep(time.Millisecond)
	}
	if err := ch.Close(); err != nil {
		t.Fatal(err)
	}
	// Nobody has it open now: the kernel has deleted it.
	if st, _, errs := run(t, "inspect", name); st != exitProblem || !strings.Contains(errs, "no such object") {
		t.Errorf("inspect with no process holding it: status %d, errors %q; want \"no such object\"", st, errs)
	}
}
