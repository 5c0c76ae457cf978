package proc

import "os"

// Placeholder until the Windows issue lands: a token names a PID only and
// every process reads as alive.

func selfToken() Token { return Make(os.Getpid(), 0) }

func alive(Token) bool { return true }
