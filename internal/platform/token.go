package platform

// Token identifies one process instance in a way that survives PID reuse,
// so that one process can tell from shared memory whether the peer that
// claimed a role is still alive.
//
// A Token packs a process ID (low 32 bits) with the low 32 bits of the
// process's start time (high 32 bits), as the OS reports it: clock ticks
// since boot on Linux (field 22 of /proc/PID/stat), the creation FILETIME on
// Windows, the start timeval on macOS. A PID that was reused by a new process
// no longer matches the token's start time, so the old owner reads as dead.
// The zero Token means "no process".
type Token uint64

// MakeToken builds a Token from a PID and a start-time stamp.
func MakeToken(pid int, start uint64) Token {
	return Token(uint64(uint32(pid)) | uint64(uint32(start))<<32)
}

// PID returns the process ID in the token.
func (t Token) PID() int { return int(uint32(t)) }

// Start returns the low 32 bits of the start-time stamp in the token.
func (t Token) Start() uint32 { return uint32(t >> 32) }

var self Token

// Self returns the calling process's token. It is computed once.
func Self() Token {
	if self == 0 {
		self = selfToken()
	}
	return self
}

// Alive reports whether the process that t names is still running. It makes
// a system call or two: call it when a wait has gone on for a while, not per
// message. A zombie (killed but not yet reaped) counts as dead. Where the OS
// gives no start time, a token with start 0 is checked by PID alone.
func Alive(t Token) bool {
	if t == 0 {
		return false
	}
	return alive(t)
}
