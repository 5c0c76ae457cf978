package ring

import "errors"

// Errors returned by the ring. Package shm re-exports them under the same
// names, so errors.Is works against either.
var (
	// ErrFull reports that there is no room for the record now.
	ErrFull = errors.New("shmchan: channel full")
	// ErrEmpty reports that there is no record to read now.
	ErrEmpty = errors.New("shmchan: channel empty")
	// ErrTooLarge reports a message larger than the ring's maximum.
	ErrTooLarge = errors.New("shmchan: message too large")
	// ErrCorrupt reports an index or record that breaks the layout's
	// invariants: the peer is buggy or hostile, or the memory was overwritten.
	ErrCorrupt = errors.New("shmchan: corrupt shared memory")
	// ErrNoReservation reports Commit without Reserve, or Release without Peek.
	ErrNoReservation = errors.New("shmchan: nothing reserved or peeked")
)
