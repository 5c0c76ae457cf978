// Package model holds the SPIN models of the shmchan protocols and the tests
// that check them and the numbered protocol steps.
//
//   - channel.pml models the channel: the ring with wrap-around, padding and
//     the terminator, publication, the parked-flag handshake over futex
//     semantics, close and EOF, crashes after any step, takeover under role
//     locks that the kernel releases.
//   - mailbox.pml models the mailbox: the triple-buffered seqlock with
//     several readers and a writer that may die mid-publish, and the
//     waiters/wake_seq handshake of WaitNewer.
//
// TestModels runs SPIN (spin, gcc, pan) on each clean model, which must
// pass, and on every mutant, which must fail; TestSteps checks that the
// procedure steps numbered in docs/layout.md are the ones tagged STEP(x.y)
// in the Go and C sources and the models. README.md records the figures.
//
// There is no Go API here: the package exists for its tests (go test
// ./model/, or make model).
package model
