package testproc_test

import (
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/shmchan/shmchan/internal/testproc"
)

func init() {
	testproc.Register("print-mark", func([]string) int {
		fmt.Println(os.Getenv("SHMCHAN_EMULATOR_MARK"))
		return 0
	})
}

// TestEmulator starts a child through a stand-in emulator, env(1), which
// runs its arguments as a command after setting a variable: the child sees
// the variable only if Command put the emulator in front of the binary.
func TestEmulator(t *testing.T) {
	envTool, err := exec.LookPath("env")
	if err != nil {
		testproc.MarkUsed("print-mark")
		t.Skipf("no env(1) to stand in for an emulator: %v", err)
	}
	// Under a real emulator (.ci/arm64.sh), env(1) starts that one.
	t.Setenv(testproc.EmulatorEnv, envTool+" SHMCHAN_EMULATOR_MARK=emulated "+os.Getenv(testproc.EmulatorEnv))
	cmd := testproc.Command(t, "print-mark")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child under %q: %v", os.Getenv(testproc.EmulatorEnv), err)
	}
	if got, want := string(out), "emulated\n"; got != want {
		t.Errorf("child printed %q, want %q; args %q", got, want, cmd.Args)
	}
	if cmd.Args[0] != envTool || len(cmd.Args) < 3 {
		t.Errorf("cmd.Args = %q, want the emulator first", cmd.Args)
	}
}
