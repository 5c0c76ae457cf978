package testproc

import (
	"os"
	"strings"
)

// EmulatorEnv names a user-mode emulator that children must run under, with
// its arguments, split on spaces: "qemu-aarch64-static", say. .ci/arm64.sh
// sets it when it runs linux/arm64 test binaries on an x86-64 host whose
// kernel has no binfmt_misc handler for them: the parent runs under the
// emulator because the script starts it that way, but a child that
// re-executes os.Executable() would be handed to the kernel, which cannot
// run it. With EmulatorEnv set, Command and CommandPath start the emulator
// with the test binary as its first argument instead. Unset or empty, they
// start the binary itself.
const EmulatorEnv = "SHMCHAN_TEST_EMULATOR"

// emulated returns the program and arguments that run path with args: path
// itself, or the emulator of EmulatorEnv followed by path.
func emulated(path string, args []string) (string, []string) {
	emu := strings.Fields(os.Getenv(EmulatorEnv))
	if len(emu) == 0 {
		return path, args
	}
	return emu[0], append(append(emu[1:], path), args...)
}
