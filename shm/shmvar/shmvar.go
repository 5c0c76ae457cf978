// Package shmvar publishes the counters of shmchan channels and mailboxes
// as expvar variables, so that a program's /debug/vars (net/http's expvar
// handler) shows them next to its own:
//
//	ch, _ := shm.OpenChannel("orders")
//	shmvar.Publish("shm.orders", ch)
//
// gives, on every read of /debug/vars,
//
//	"shm.orders": {"Sender": {"Messages": 1042, "Bytes": 66688, ...}, "Receiver": {...}}
//
// It is its own package because importing expvar registers /debug/vars on
// http.DefaultServeMux, which package shm must not do to its importers.
package shmvar

import (
	"expvar"

	"github.com/shmchan/shmchan/shm"
)

// Source is what Publish reads: a channel or a mailbox.
type Source interface {
	*shm.Channel | *shm.Mailbox
}

// Func returns an expvar.Func that reads src's counters each time it is
// shown (shm.ChannelStats or shm.MailboxStats). After src's Close, or for an
// object created without counters, it shows {"error": "..."} instead.
func Func[S Source](src S) expvar.Func {
	return func() any {
		var v any
		var err error
		switch s := any(src).(type) {
		case *shm.Channel:
			v, err = s.Stats()
		case *shm.Mailbox:
			v, err = s.Stats()
		}
		if err != nil {
			return map[string]string{"error": err.Error()}
		}
		return v
	}
}

// Publish registers src's counters under name with expvar.Publish, which
// panics if name is already registered. Publish a handle that stays open for
// the life of the program (a closed one shows an error).
func Publish[S Source](name string, src S) {
	expvar.Publish(name, Func(src))
}
