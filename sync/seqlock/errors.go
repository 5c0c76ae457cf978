package seqlock

import "errors"

// Errors returned by the package. Package shm wraps them in its own
// sentinels (shm.ErrCorrupt, shm.ErrTooLarge), so errors.Is works against
// either.
var (
	// ErrCorrupt reports a version, slot sequence or length in the region
	// that no correct writer can produce: the writer is buggy or hostile, or
	// the memory was overwritten.
	ErrCorrupt = errors.New("seqlock: corrupt shared memory")

	// ErrTooLarge reports a value longer than the slots hold.
	ErrTooLarge = errors.New("seqlock: value too large")
)
