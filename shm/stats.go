package shm

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/shmchan/shmchan/internal/layout"
)

// Stats are one end's counters, kept in shared memory by whichever process
// holds the end (docs/layout.md, "Counters"). They count from the object's
// creation, across every process that has held the role, so a sender that
// took over from a dead one continues its predecessor's counts.
type Stats struct {
	Messages  uint64 // messages sent (sender) or received (receiver); values published (mailbox writer)
	Bytes     uint64 // payload bytes of those messages or values
	Waits     uint64 // Send/Reserve calls that found the ring full, Recv/Peek calls that found it empty, and waited
	Parks     uint64 // sleeps on the shared wait word (futex waits on Linux)
	Wakes     uint64 // wakeups of a parked peer (the only system calls of the message path)
	Takeovers uint64 // claims of the role from a process that died holding it
}

// ChannelStats are a channel's counters, one set per end.
type ChannelStats struct {
	Sender, Receiver Stats
}

// MailboxStats are a mailbox's counters: the writer's. Readers, of which
// there may be many, keep none: a shared reader count would be a contended
// read-modify-write on every read.
type MailboxStats struct {
	Writer Stats
}

// errNoStats is what Stats returns for an object whose creator kept no
// counters (an older shmchan, or a C creator without them).
var errNoStats = fmt.Errorf("created without counters (flag bit 16 unset): %w", errors.ErrUnsupported)

// loadStats reads a counter line, each count with one atomic load (the line
// as a whole is not a snapshot: counts may be a few messages apart).
func loadStats(l *layout.Stats) Stats {
	// SYNC(stats): atomic loads; pair with the stores in count, made by the
	// end's holder in whichever process.
	return Stats{
		Messages:  atomic.LoadUint64(&l.Messages),
		Bytes:     atomic.LoadUint64(&l.Bytes),
		Waits:     atomic.LoadUint64(&l.Waits),
		Parks:     atomic.LoadUint64(&l.Parks),
		Wakes:     atomic.LoadUint64(&l.Wakes),
		Takeovers: atomic.LoadUint64(&l.Takeovers),
	}
}

// Stats returns the channel's counters, both ends', whichever processes
// hold them. It may be called at any time from any goroutine, concurrently
// with sends and receives, until Close. It fails with an error matching
// errors.ErrUnsupported for a channel created without counters, and with
// ErrClosed after Close.
func (c *Channel) Stats() (ChannelStats, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ChannelStats{}, wrap("stats", c.Name(), ErrClosed)
	}
	if c.txStats == &c.localStats[0] {
		return ChannelStats{}, wrap("stats", c.Name(), errNoStats)
	}
	return ChannelStats{Sender: loadStats(c.txStats), Receiver: loadStats(c.rxStats)}, nil
}

// Stats returns the mailbox writer's counters, whichever process writes. It
// may be called at any time from any goroutine until Close. It fails with an
// error matching errors.ErrUnsupported for a mailbox created without
// counters, and with ErrClosed after Close.
func (m *Mailbox) Stats() (MailboxStats, error) {
	if m.closed.Load() {
		return MailboxStats{}, wrap("stats", m.Name(), ErrClosed)
	}
	if m.st == &m.localStats {
		return MailboxStats{}, wrap("stats", m.Name(), errNoStats)
	}
	return MailboxStats{Writer: loadStats(m.st)}, nil
}
