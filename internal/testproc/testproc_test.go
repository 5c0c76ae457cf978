package testproc_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/shmchan/shmchan/internal/testproc"
)

func init() {
	testproc.Register("echo", func(args []string) int {
		fmt.Printf("args=%q short=%v role=%s\n", args, testing.Short(), os.Getenv(testproc.RoleEnv))
		fmt.Fprintln(os.Stderr, "a line for the log")
		return 0
	})
	testproc.Register("exit", func(args []string) int {
		code, err := strconv.Atoi(args[0])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 100
		}
		return code
	})
	testproc.Register("fault-once", func(args []string) int {
		// The first start fails as Wine's loader does (see wine.go); the
		// next one, which finds the marker file, works.
		if _, err := os.Stat(args[0]); err != nil {
			if err := os.WriteFile(args[0], nil, 0o600); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			fmt.Fprintln(os.Stderr, "panic: Failed to load ws2_32.dll: DLL initialization failed.")
			return 2
		}
		fmt.Println("ready")
		_, _ = io.Copy(io.Discard, os.Stdin)
		return 0
	})
	testproc.Register("block", func([]string) int {
		fmt.Println("ready")
		_, _ = io.Copy(io.Discard, os.Stdin) // until the parent closes stdin, or kills us
		return 0
	})
}

func TestMain(m *testing.M) { testproc.Main(m) }

func TestCommandArgs(t *testing.T) {
	args := []string{"plain", "with space", "--", "-test.v", ""}
	out, err := testproc.Command(t, "echo", args...).Output()
	if err != nil {
		t.Fatalf("echo: %v", err)
	}
	want := fmt.Sprintf("args=%q short=%v role=echo\n", args, testing.Short())
	if diff := cmp.Diff(want, string(out)); diff != "" {
		t.Errorf("echo output (-want +got):\n%s", diff)
	}
}

func TestCommandExitCode(t *testing.T) {
	for _, code := range []int{0, 1, 3} {
		err := testproc.Command(t, "exit", strconv.Itoa(code)).Run()
		got := 0
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			got = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("exit %d: %v", code, err)
		}
		if got != code {
			t.Errorf("exit %d: got exit code %d", code, got)
		}
	}
}

// TestCommandKilledAtCleanup starts a child that would run forever and
// leaves it to the subtest's cleanup.
func TestCommandKilledAtCleanup(t *testing.T) {
	var cmd *exec.Cmd
	t.Run("leaves-child-running", func(t *testing.T) {
		cmd = testproc.Command(t, "block")
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		_ = stdin // never closed: only a kill ends the child
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatalf("start block: %v", err)
		}
		line := make([]byte, len("ready\n"))
		if _, err := io.ReadFull(stdout, line); err != nil {
			t.Fatalf("read ready: %v", err)
		}
	})
	if cmd.ProcessState == nil {
		t.Fatal("child not waited for after cleanup")
	}
	if cmd.ProcessState.Success() {
		t.Errorf("child exited with %v, want killed", cmd.ProcessState)
	}
}

// TestStartAgain: under Wine, Start starts a child again whose first start
// failed in the way Wine's loader fails; anywhere else that child fails the
// test.
func TestStartAgain(t *testing.T) {
	// Not in t.TempDir(): Go's RemoveAll fails under Wine 8 ("Invalid function").
	marker := filepath.Join(os.TempDir(), testproc.Name(t, "testproc"))
	t.Cleanup(func() { os.Remove(marker) })
	tb := &fatalTB{TB: t}
	cmd := testproc.Command(t, "fault-once", marker)
	c := testproc.Start(tb, cmd, "ready")
	if !testproc.UnderWine() {
		if tb.msg == "" {
			t.Fatal("Start: a child that died before its first line did not fail the test")
		}
		t.Logf("not under Wine: %s", tb.msg)
		return
	}
	if tb.msg != "" {
		t.Fatalf("Start under Wine: %s", tb.msg)
	}
	if c.Cmd != cmd {
		t.Fatal("Start returned another command than the caller's")
	}
	c.Stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the child started again: %v", err)
	}
}

func TestDispatchUnknownRole(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// CommandPath, unlike Command, starts a role it does not know (under
	// the emulator of EmulatorEnv, if set); take its output back from the log.
	cmd := testproc.CommandPath(t, exe, "no-such-role")
	cmd.Stderr = nil
	out, err := cmd.CombinedOutput()
	if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("unknown role: got %v, want exit status 2; output:\n%s", err, out)
	}
	if !strings.Contains(string(out), "no-such-role") {
		t.Errorf("unknown role: output does not name the role:\n%s", out)
	}
}

func TestName(t *testing.T) {
	prefix := testproc.ProcessPrefix("pkgtest")
	seen := map[string]bool{}
	for range 1000 {
		name := testproc.Name(t, "pkgtest")
		if !strings.HasPrefix(name, prefix) {
			t.Fatalf("Name(t, %q) = %q, want prefix %q", "pkgtest", name, prefix)
		}
		if len(name) > testproc.MaxNameLen {
			t.Fatalf("Name(t, %q) = %q: %d bytes, want at most %d", "pkgtest", name, len(name), testproc.MaxNameLen)
		}
		if seen[name] {
			t.Fatalf("Name(t, %q) returned %q twice", "pkgtest", name)
		}
		seen[name] = true
	}
}

// fatalTB records Fatalf instead of ending the test.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Fatalf(format string, args ...any) { f.msg = fmt.Sprintf(format, args...) }

func TestNameBadPrefix(t *testing.T) {
	for _, prefix := range []string{"", "-x", ".x", "a/b", "a b", "é", strings.Repeat("p", 25)} {
		tb := &fatalTB{TB: t}
		name := testproc.Name(tb, prefix)
		if tb.msg == "" {
			t.Errorf("Name(t, %q) = %q, want a fatal error", prefix, name)
		}
	}
}

func TestBuildTest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a test binary")
	}
	bin := testproc.BuildTest(t, "CGO_ENABLED=0")
	out, err := testproc.CommandPath(t, bin, "echo", "x").Output()
	if err != nil {
		t.Fatalf("echo in %s: %v", bin, err)
	}
	if want := `args=["x"] short=false role=echo` + "\n"; string(out) != want {
		t.Errorf("echo in %s: got %q, want %q", bin, out, want)
	}
}
