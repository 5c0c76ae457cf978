package platform

import (
	"io"
	"os"
	"testing"

	"golang.org/x/sys/windows"

	"github.com/shmchan/shmchan/internal/testproc"
)

func init() {
	// idle: wait until standard input closes.
	testproc.Register("idle", func([]string) int {
		_, _ = io.Copy(io.Discard, os.Stdin)
		return 0
	})
}

func TestMain(m *testing.M) { testproc.Main(m) }

// TestDeadAndExited: a running child is alive; once killed it is dead, both
// while the os/exec handle still holds its process object (Windows' zombie)
// and after Wait released it.
func TestDeadAndExited(t *testing.T) {
	cmd := testproc.Command(t, "idle")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if err != nil {
		t.Fatal(err)
	}
	start, err := creationTime(h)
	windows.CloseHandle(h)
	if err != nil {
		t.Fatal(err)
	}
	tok := MakeToken(pid, start)
	if !Alive(tok) {
		t.Fatalf("running child %d reads as dead", pid)
	}
	if Alive(MakeToken(pid, start+1)) {
		t.Fatalf("a token with another creation time reads as alive (PID reuse not detected)")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	// os/exec still holds a handle: the process object exists, signalled.
	for i := 0; i < 1000 && Alive(tok); i++ {
		windows.SleepEx(1, false)
	}
	if Alive(tok) {
		t.Fatalf("killed child reads as alive while its object is held")
	}
	cmd.Wait()
	if Alive(tok) {
		t.Fatalf("reaped child reads as alive")
	}
}

func TestNoSuchPID(t *testing.T) {
	// Windows PIDs are multiples of 4; this one is not.
	if Alive(MakeToken(0x7ffffff1, 1)) {
		t.Fatalf("a PID that names no process reads as alive")
	}
}
