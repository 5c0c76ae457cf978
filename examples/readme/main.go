// Command readme is the README's example, compiled so that it stays true:
// it runs both halves, the receiver in a goroutine.
package main

import (
	"fmt"
	"log"
	"os"
	"strconv"

	"github.com/shmchan/shmchan/shm"
)

func main() {
	name := "readme-" + strconv.Itoa(os.Getpid())
	// Process A: create the channel and send.
	ch, err := shm.CreateChannel(name, 1<<20, shm.RemoveOnClose())
	if err != nil {
		log.Fatal(err)
	}
	defer ch.Close()
	tx, _ := ch.Sender()
	tx.Send([]byte("hello"))
	tx.Close() // the receiver drains what is left, then gets io.EOF

	// Process B: open it and receive.
	chB, err := shm.OpenChannel(name)
	if err != nil {
		log.Fatal(err)
	}
	defer chB.Close()
	rx, _ := chB.Receiver()
	for msg, err := rx.Recv(nil); err == nil; msg, err = rx.Recv(msg[:0]) {
		fmt.Printf("%s\n", msg)
	}
}
