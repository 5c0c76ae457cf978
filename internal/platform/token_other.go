//go:build !linux && !darwin && !windows

package platform

import "os"

// No shared-memory path exists on this OS (segment_other.go), so no peer can
// claim a role; a token names a PID only, and Alive cannot tell, so it says
// alive (as for another user's process on Windows: a false "dead" would hand
// a live peer's role away).

func selfToken() Token { return MakeToken(os.Getpid(), 0) }

func alive(Token) bool { return true }
