package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shmchan/shmchan/shm"
)

// A C client (client.c, built with the C API) against this Go server, in two
// processes.
func TestCClient(t *testing.T) {
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler")
	}
	bin := filepath.Join(t.TempDir(), "echo-client")
	c := "../../../shm/c"
	build := exec.Command(cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-O2", "-I", c,
		"../client.c", c+"/shmchan.c", c+"/shmchan_net.c", "-lrt", "-o", bin)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the C client: %v\n%s", err, out)
	}
	name := fmt.Sprintf("echotest-%d", os.Getpid())
	l, err := shm.Listen(name)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- serve(l) }()
	defer func() {
		_ = l.Close()
		if err := <-done; !errors.Is(err, shm.ErrClosed) {
			t.Errorf("serve: %v", err)
		}
		if err := shm.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Error(err)
		}
	}()
	for _, n := range []string{"1", "1000"} {
		cmd := exec.Command(bin, name, n)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("C client: %v\n%s", err, out)
		}
		t.Logf("C client: %s", strings.TrimSpace(string(out)))
		des, _ := os.ReadDir("/dev/shm")
		for _, de := range des {
			if strings.HasPrefix(de.Name(), fmt.Sprintf("shmc-%d-", cmd.Process.Pid)) {
				t.Errorf("left in /dev/shm: %s", de.Name())
			}
		}
	}
	// A C dial to a name without a listener fails cleanly.
	out, err := exec.Command(bin, name+"x", "1").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "dial") {
		t.Errorf("C dial without a listener: %v, %s", err, out)
	}
}
