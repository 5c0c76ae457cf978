package testproc

import (
	"bytes"
	"testing"
)

// TestFaultSniffer finds the loader's message however the child's writes
// split it, and passes every byte on.
func TestFaultSniffer(t *testing.T) {
	msg := []byte("panic: Failed to load ws2_32.dll: DLL initialization failed.\n")
	for _, step := range []int{1, 2, 7, len(msg)} {
		var got bytes.Buffer
		s := &faultSniffer{w: &got}
		for i := 0; i < len(msg); i += step {
			s.Write(msg[i:min(i+step, len(msg))])
		}
		if !s.sawFault() {
			t.Errorf("writes of %d bytes: fault not seen", step)
		}
		if !bytes.Equal(got.Bytes(), msg) {
			t.Errorf("writes of %d bytes: passed on %q", step, got.Bytes())
		}
	}
	s := &faultSniffer{}
	s.Write([]byte("DLL initialization "))
	s.Write([]byte("went well"))
	if s.sawFault() {
		t.Error("fault seen in a message without it")
	}
}
