package ring

import "errors"

// Errors returned by the ring. Package shm lifts them into its own sentinels
// (shm.ErrFull and so on): a bare sentinel is replaced, one wrapped with
// context is wrapped again, so errors.Is matches the shm sentinel.
var (
	// ErrFull reports that there is no room for the record now.
	ErrFull = errors.New("ring: full")
	// ErrEmpty reports that there is no record to read now.
	ErrEmpty = errors.New("ring: empty")
	// ErrTooLarge reports a record larger than the ring's maximum.
	ErrTooLarge = errors.New("ring: record too large")
	// ErrCorrupt reports an index or record that breaks the layout's
	// invariants: the peer is buggy or hostile, or the memory was overwritten.
	ErrCorrupt = errors.New("ring: corrupt record or index")
	// ErrNoReservation reports Commit without Reserve, or Release without Peek.
	ErrNoReservation = errors.New("ring: nothing reserved or peeked")
)
