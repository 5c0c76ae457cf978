package shmvar_test

import (
	"expvar"
	"fmt"
	"os"
	"strconv"

	"github.com/shmchan/shmchan/shm"
	"github.com/shmchan/shmchan/shm/shmvar"
)

// A channel's counters under /debug/vars.
func Example() {
	name := "example-shmvar-" + strconv.Itoa(os.Getpid())
	ch, err := shm.CreateChannel(name, 4096, shm.RemoveOnClose())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ch.Close()
	tx, _ := ch.Sender()
	rx, _ := ch.Receiver()
	_ = tx.Send([]byte("hello"))
	_, _ = rx.Recv(nil)

	shmvar.Publish("shm.example", ch)
	fmt.Println(expvar.Get("shm.example").String())
	// Output:
	// {"Sender":{"Messages":1,"Bytes":5,"Waits":0,"Parks":0,"Wakes":0,"Takeovers":0},"Receiver":{"Messages":1,"Bytes":5,"Waits":0,"Parks":0,"Wakes":0,"Takeovers":0}}
}
