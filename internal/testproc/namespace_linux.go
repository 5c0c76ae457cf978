package testproc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The namespace and user harness of the role-lock tests (internal/platform,
// shm): it runs a child command inside a new PID namespace, under another
// uid, or with /proc mounted hidepid=2 in a new mount namespace, with the
// real tools (unshare, setpriv, mount). Each wrapper prepends its tool to
// cmd, so they compose: the wrapper applied last is the outermost, so apply
// AsUser before InPIDNamespace or WithHiddenProc (those need root).

// ExitKernelRefused is the status a wrapper's shell exits with when the
// kernel refuses the namespace or the mount; the test then skips.
const ExitKernelRefused = 97

// NeedRoot skips t unless it runs as root with the tools on PATH.
func NeedRoot(t testing.TB, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: namespaces, mounts and other uids")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (util-linux): %v", tool, err)
		}
	}
}

// prepend makes cmd run as prefix... followed by its own path and arguments.
func prepend(t testing.TB, cmd *exec.Cmd, prefix ...string) {
	t.Helper()
	p, err := exec.LookPath(prefix[0])
	if err != nil {
		t.Fatal(err)
	}
	args := append(append([]string{}, prefix...), cmd.Path)
	cmd.Args = append(args, cmd.Args[1:]...)
	cmd.Path = p
}

// InPIDNamespace runs cmd as PID 1 of a new PID namespace with its own /proc
// (unshare --pid --fork --mount-proc). --kill-child makes the kernel SIGKILL
// it when the unshare process dies, so killing cmd.Process kills the child.
func InPIDNamespace(t testing.TB, cmd *exec.Cmd) {
	prepend(t, cmd, "unshare", "--pid", "--fork", "--mount-proc", "--kill-child")
}

// AsUser runs cmd under uid and gid uid, with no supplementary groups (setpriv).
func AsUser(t testing.TB, cmd *exec.Cmd, uid string) {
	prepend(t, cmd, "setpriv", "--reuid", uid, "--regid", uid, "--clear-groups", "--")
}

// WithHiddenProc runs cmd in a new mount namespace whose /proc is a new proc
// instance mounted hidepid=2: a process sees only its own user's /proc/PID
// entries (kill(2) still finds the others). The host's /proc is untouched.
func WithHiddenProc(t testing.TB, cmd *exec.Cmd) {
	prepend(t, cmd, "unshare", "--mount", "--propagation", "private", "--",
		"sh", "-c", fmt.Sprintf(`mount -t proc -o hidepid=2 proc /proc || exit %d; exec "$@"`, ExitKernelRefused), "sh")
}

// Refused reports whether err is a wrapper's "the kernel refused" exit.
func Refused(err error) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee) && ee.ExitCode() == ExitKernelRefused
}

// CopyForOthers copies this test binary where other users can run it: a
// directory of mode 0755 (t.TempDir is 0700), removed at the end.
func CopyForOthers(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "shmchan-others-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for d := filepath.Dir(dir); d != filepath.Dir(d); d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm()&0o001 == 0 {
			t.Skipf("%s is not searchable by other users: set TMPDIR", d)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, filepath.Base(exe))
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// Innermost returns the PID (in this namespace) of the last process in the
// chain of children that starts at pid: the real child when wrappers
// (unshare, setpriv) run it. Kill that one to kill the child: unshare's
// --kill-child parent-death signal is cleared when setpriv changes the uid.
func Innermost(t testing.TB, pid int) int {
	t.Helper()
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
		if err != nil {
			t.Fatalf("children of %d: %v", pid, err)
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			return pid
		}
		if pid, err = strconv.Atoi(f[0]); err != nil {
			t.Fatal(err)
		}
	}
}
