package platform

import (
	"os/exec"
	"testing"
)

func TestDeadAndZombie(t *testing.T) {
	cmd := exec.Command("sleep", "10")
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	pid := cmd.Process.Pid
	_, start, err := stat(pid)
	if err != nil {
		t.Fatal(err)
	}
	tok := MakeToken(pid, start)
	if !Alive(tok) {
		t.Fatalf("running child reads as dead")
	}
	cmd.Process.Kill()
	// Not reaped yet: a zombie must read as dead.
	for i := 0; i < 1000 && Alive(tok); i++ {
		exec.Command("true").Run()
	}
	if Alive(tok) {
		t.Fatalf("killed (zombie) child reads as alive")
	}
	cmd.Wait()
	if Alive(tok) {
		t.Fatalf("reaped child reads as alive")
	}
}
