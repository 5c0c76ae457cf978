package wake

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestEventName(t *testing.T) {
	tests := []struct{ name, want string }{
		{"ch.data", `Local\shmchan.wake:ch.data`},
		{`Local\ch.space`, `Local\shmchan.wake:ch.space`},
		{`Global\ch.data`, `Global\shmchan.wake:ch.data`},
		{"", ""},
		{`Local\`, ""},
		{`a\b`, ""},
		{"a\x00b", ""},
	}
	for _, tt := range tests {
		got, err := eventName(tt.name)
		if tt.want == "" {
			if err == nil {
				t.Errorf("eventName(%q) = %q, want an error", tt.name, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("eventName(%q) = %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

func TestOpenNeedsName(t *testing.T) {
	var word uint32
	if _, err := Open(&word, ""); err == nil || !strings.Contains(err.Error(), "needs a name") {
		t.Fatalf("Open without a name: %v, want an error saying a name is needed", err)
	}
}

// TestStaleSignal documents the cost of the auto-reset event: a Wake that
// finds nobody asleep leaves the event set, so the next Wait returns at once
// (a spurious wakeup the contract allows); the one after sleeps again.
func TestStaleSignal(t *testing.T) {
	var word uint32
	waiter, waker := openPair(t, &word)
	atomic.AddUint32(&word, 1)
	if err := waker.Wake(); err != nil {
		t.Fatal(err)
	}
	val := atomic.LoadUint32(&word)
	start := time.Now()
	if err := waiter.Wait(val, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("Wait after an unconsumed Wake slept %v; want the stale signal to end it", el)
	}
	start = time.Now()
	if err := waiter.Wait(val, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 20*time.Millisecond {
		t.Fatalf("second Wait returned after %v: the stale signal was not consumed", el)
	}
}
