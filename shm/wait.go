package shm

// WaitStrategy says how a blocking channel or mailbox call waits for its peer.
type WaitStrategy int

const (
	// Adaptive spins for 20 µs, then yields the processor until 100 µs,
	// then parks on the shared wait word. It is the default: it is nearly as fast as Spin when
	// both sides are busy and costs nearly nothing when they are idle.
	Adaptive WaitStrategy = iota
	// Spin polls shared memory without ever sleeping: the lowest latency,
	// at the cost of a whole core while it waits. After 50 µs without
	// progress it also yields the processor between polls (sched_yield), so
	// that a peer sharing its core still runs.
	Spin
	// Block parks at once on the shared wait word (a futex on Linux).
	Block
)

// String returns "adaptive", "spin" or "block".
func (w WaitStrategy) String() string {
	switch w {
	case Adaptive:
		return "adaptive"
	case Spin:
		return "spin"
	case Block:
		return "block"
	}
	return "WaitStrategy(?)"
}

// WithWait selects the wait strategy of a channel or mailbox end. The
// default is Adaptive.
func WithWait(w WaitStrategy) Option {
	return func(o *options) { o.wait = w }
}
