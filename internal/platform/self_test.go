package platform

import (
	"sync"
	"testing"
)

// TestSelfConcurrent: the first calls of Self may come from two goroutines
// at once (two handles claiming roles). Under -race, the lazy global that
// Self used to be was reported as a data race here.
func TestSelfConcurrent(t *testing.T) {
	const n = 8
	var wg sync.WaitGroup
	got := make([]Token, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			got[i] = Self()
		}()
	}
	close(start)
	wg.Wait()
	for i, tok := range got {
		if tok == 0 || tok != got[0] {
			t.Fatalf("Self() in goroutine %d = %#x, in goroutine 0 %#x", i, tok, got[0])
		}
	}
}
