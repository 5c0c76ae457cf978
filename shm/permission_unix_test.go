//go:build unix

package shm_test

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"

	"github.com/shmchan/shmchan/internal/testproc"
	"github.com/shmchan/shmchan/shm"
)

// TestPermission runs children as user nobody against segments of different
// modes: the OS must refuse what the mode does not grant with
// fs.ErrPermission, and grant what it does.
func TestPermission(t *testing.T) {
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		testproc.MarkUsed("open-expect")
		t.Skip("needs root, to run a child as nobody")
	}
	bin := copyForNobody(t)
	const nobody = 65534
	tests := []struct {
		opts   []shm.Option
		access string // of the child
		want   string
	}{
		{nil, "rw", "permission"}, // the default mode, 0600
		{nil, "ro", "permission"},
		{[]shm.Option{shm.WithMode(0o644)}, "ro", "ok"},
		{[]shm.Option{shm.WithMode(0o644)}, "rw", "permission"},
		{[]shm.Option{shm.WithMode(0o666)}, "rw", "ok"},
	}
	for _, tt := range tests {
		s := create(t, 64, tt.opts...)
		cmd := testproc.CommandPath(t, bin, "open-expect", s.Name(), tt.access, tt.want)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
		out, err := cmd.Output()
		if err != nil {
			t.Errorf("child as nobody, %s open of %s: %v", tt.access, s.Name(), err)
			continue
		}
		if uid := field(out, "uid"); uid != strconv.Itoa(nobody) {
			t.Errorf("child ran as uid %s, want %d", uid, nobody)
		}
		wantCount := uint32(0)
		if tt.access == "rw" && tt.want == "ok" {
			wantCount = 1
		}
		if got, _ := s.LoadUint32(0); got != wantCount {
			t.Errorf("child as nobody, %s open of %s: count %d, want %d", tt.access, s.Name(), got, wantCount)
		}
	}
}

// copyForNobody copies this test binary where user nobody can run it: a
// directory of mode 0755 (t.TempDir is 0700), removed at the end.
func copyForNobody(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", testPrefix+"-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			t.Skipf("%s is not searchable by other users (mode %v): set TMPDIR", d, fi.Mode())
		}
		if d == filepath.Dir(d) {
			break
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
	bin := filepath.Join(dir, "shm.test")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(bin, 0o755); err != nil { // whatever the umask
		t.Fatal(err)
	}
	return bin
}
