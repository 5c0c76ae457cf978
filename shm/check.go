package shm

import "github.com/shmchan/shmchan/internal/check"

// The opener checks, for the module's tools (package internal/check).
func init() {
	check.Channel = func(mem []byte) error { return checkChannel(mem, 0) }
	check.Mailbox = func(mem []byte) error { return checkMailbox(mem, 0) }
	check.Listener = func(mem []byte) error {
		if err := checkListener(mem, 0); err != nil {
			return err
		}
		_, err := mapSlots(mem)
		return err
	}
}
