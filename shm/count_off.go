//go:build shmchan_nocount

package shm

// count does nothing in a build with the shmchan_nocount tag: the baseline
// against which the counters' cost is measured (docs/benchmarks.md,
// "Counters"; go test -tags shmchan_nocount -bench ...). The counters still
// exist and Stats still reads them; they stay zero.
func count(p *uint64, n uint64) {}
