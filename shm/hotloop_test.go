package shm_test

import (
	"os"
	"strconv"
	"testing"

	"github.com/shmchan/shmchan/shm"
)

// TestHotLoop sends and receives SHMCHAN_HOTLOOP_N messages on one channel
// in one goroutine, for counting the instructions of the per-message path
// with callgrind, which does not depend on the machine's load:
//
//	go test -c -o /tmp/shm.test ./shm
//	for n in 20000 120000; do GODEBUG=asyncpreemptoff=1 SHMCHAN_HOTLOOP_N=$n SHMCHAN_HOTLOOP_API=copy \
//	  SHMCHAN_HOTLOOP_SIZE=64 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//	  /tmp/shm.test -test.run '^TestHotLoop$' 2>&1 | grep Collected; done
//
// The difference of the two counts over the difference of the two N is the
// instructions per message (one send and one receive), without the start-up.
// (asyncpreemptoff: callgrind 3.19 aborts on the runtime's preemption
// signal.)
// SHMCHAN_HOTLOOP_API is copy (Send, Recv) or zc (Reserve and Commit, Peek
// and Release); SHMCHAN_HOTLOOP_SIZE the payload in bytes. Without
// SHMCHAN_HOTLOOP_N the test runs 1000 messages of each kind, as a check.
func TestHotLoop(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SHMCHAN_HOTLOOP_N"))
	apis, sizes := []string{"copy", "zc"}, []int{8, 64}
	if n == 0 {
		n = 1000
	} else {
		apis = []string{os.Getenv("SHMCHAN_HOTLOOP_API")}
		size, _ := strconv.Atoi(os.Getenv("SHMCHAN_HOTLOOP_SIZE"))
		sizes = []int{size}
	}
	for _, api := range apis {
		for _, size := range sizes {
			hotLoop(t, api, size, n)
		}
	}
}

func hotLoop(t *testing.T, api string, size, n int) {
	ch, err := shm.CreateChannel(newName(t), 1<<16, shm.WithWait(shm.Spin))
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	tx, err := ch.Sender()
	if err != nil {
		t.Fatal(err)
	}
	rx, err := ch.Receiver()
	if err != nil {
		t.Fatal(err)
	}
	msg, buf := make([]byte, size), make([]byte, 0, size)
	for i := range n {
		msg[0] = byte(i)
		switch api {
		case "copy":
			if err := tx.Send(msg); err != nil {
				t.Fatal(err)
			}
			got, err := rx.Recv(buf[:0])
			if err != nil || len(got) != size || got[0] != byte(i) {
				t.Fatalf("Recv %d: %d bytes, %v", i, len(got), err)
			}
		case "zc":
			b, err := tx.Reserve(size)
			if err != nil {
				t.Fatal(err)
			}
			b[0] = byte(i)
			if err := tx.Commit(size); err != nil {
				t.Fatal(err)
			}
			got, err := rx.Peek()
			if err != nil || len(got) != size || got[0] != byte(i) {
				t.Fatalf("Peek %d: %d bytes, %v", i, len(got), err)
			}
			if err := rx.Release(); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("SHMCHAN_HOTLOOP_API=%q: want copy or zc", api)
		}
	}
}
