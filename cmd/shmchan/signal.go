package main

import (
	"os"
	"os/signal"
)

// interrupted returns a channel closed on the first interrupt (Ctrl-C), so
// that stat ends its loop with status 0, as vmstat does.
func interrupted() <-chan struct{} {
	done := make(chan struct{})
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	go func() {
		<-sig
		signal.Stop(sig)
		close(done)
	}()
	return done
}
