package platform

import (
	"os"
	"testing"
)

func TestSelfAlive(t *testing.T) {
	s := Self()
	if s.PID() != os.Getpid() {
		t.Fatalf("Self().PID() = %d, want %d", s.PID(), os.Getpid())
	}
	if s.Start() == 0 {
		t.Fatalf("Self().Start() = 0: no start time read")
	}
	if !Alive(s) {
		t.Fatalf("Alive(Self()) = false")
	}
	if Alive(0) {
		t.Fatalf("Alive(0) = true")
	}
	if Alive(MakeToken(s.PID(), uint64(s.Start())+1)) {
		t.Fatalf("a token with another start time reads as alive (PID reuse not detected)")
	}
}
