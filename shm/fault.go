package shm

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// The fault guard. A peer that truncates the object (ftruncate) makes the
// next access to the vanished pages raise SIGBUS, and an access through a
// mapping that is gone raises SIGSEGV: shared memory is untrusted input that
// no bounds check can vet. Every exported call that touches a mapping
// therefore starts with
//
//	defer guard(&err, debug.SetPanicOnFault(true))
//
// SetPanicOnFault makes the runtime turn a fault of this goroutine at a
// non-nil address into a panic whose value has an Addr method, instead of
// crashing the process; guard recovers it, restores the goroutine's previous
// setting, and returns an error matching ErrCorrupt. Any other panic goes
// on. The call's handle is then in an unknown state: close it (Close is
// guarded too). A nil dereference is still a plain panic: the runtime does
// not treat it as a fault.
//
// The cost is one deferred call per API call, and no allocation unless a
// fault happens (docs/design.md has the measurement).

// guard is the deferred half of the fault guard; prev is what
// debug.SetPanicOnFault(true) returned.
func guard(err *error, prev bool) {
	r := recover()
	debug.SetPanicOnFault(prev)
	if r == nil {
		return
	}
	*err = faultError(r)
}

// faultError turns the value of a recovered fault into an error matching
// ErrCorrupt, and panics again with any other value.
func faultError(r any) error {
	if _, ok := r.(runtime.Error); ok {
		if f, ok := r.(interface{ Addr() uintptr }); ok {
			return fmt.Errorf("%w: memory fault at %#x: the shared object shrank (a peer truncated it?) or is unmapped", ErrCorrupt, f.Addr())
		}
	}
	panic(r)
}

// guarded runs f under the fault guard, for the open paths (which are not
// hot: the closure may allocate).
func guarded(f func() error) (err error) {
	defer guard(&err, debug.SetPanicOnFault(true))
	return f()
}
