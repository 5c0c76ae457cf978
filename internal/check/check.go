// Package check hands package shm's opener checks (docs/layout.md, "What an
// opener checks") to the tools inside this module, such as the shmchan
// command's internal/inspect, without making them part of shm's API: a
// diagnostic tool must judge a segment exactly as an opener would, so it
// calls the same code rather than a copy.
//
// Package shm fills the variables in an init function; importing shm (which
// any user of them does, for its sentinel errors) guarantees they are set.
package check

// Channel and Mailbox validate the header of a mapped segment without
// waiting for a creator that is still setting it up (a missing version is
// shm.ErrNotReady at once). They only read mem, so a read-only mapping will
// do. The errors are shm's: shm.ErrNotChannel, shm.ErrNotReady,
// shm.ErrVersionMismatch, shm.ErrCorrupt, with the values that failed.
var (
	Channel func(mem []byte) error
	Mailbox func(mem []byte) error
	// Listener also checks the slot table against the mapping.
	Listener func(mem []byte) error
)
