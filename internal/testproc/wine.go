package testproc

import (
	"bytes"
	"io"
	"sync"
)

// Wine (the Windows compatibility layer that .ci/windows.sh runs the
// Windows suites under) sometimes fails to start a process for reasons of
// its own. In CI, about one start in a few hundred of the crash trials,
// which kill children at random moments, failed in one of two ways:
//
//   - CreateProcess fails: "fork/exec ...: Internal error."
//     (ERROR_INTERNAL_ERROR), see wineStartFault;
//   - the child starts but its loader cannot initialise a DLL, so the Go
//     runtime panics before main: "Failed to load ws2_32.dll: DLL
//     initialization failed." (net's init calls WSAStartup), and Wine's
//     ld.so prints "Inconsistency detected by ld.so: dl-fini.c" as it exits.
//
// Neither runs a line of the test's code, so Start starts a fresh copy of
// the child when one of them happens under Wine, and logs it. On Windows
// itself, and on every other system, a child that fails to start fails the
// test.

// startAttempts is how many times Start tries a child under Wine.
const startAttempts = 3

// loaderFault is what the Go runtime prints when Windows' loader cannot
// initialise a DLL that a package's init needs.
var loaderFault = []byte("DLL initialization failed")

// faultSniffer passes a child's standard error on to w and remembers whether
// it showed loaderFault. A line can arrive in pieces, so it keeps the end of
// the previous write.
type faultSniffer struct {
	w io.Writer

	mu    sync.Mutex
	tail  []byte
	fault bool
}

func (s *faultSniffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	buf := append(s.tail, p...)
	if bytes.Contains(buf, loaderFault) {
		s.fault = true
	}
	if n := len(loaderFault) - 1; len(buf) > n {
		buf = buf[len(buf)-n:]
	}
	s.tail = append(s.tail[:0], buf...)
	s.mu.Unlock()
	if s.w == nil {
		return len(p), nil
	}
	return s.w.Write(p)
}

func (s *faultSniffer) sawFault() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fault
}
