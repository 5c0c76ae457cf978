// Command producer is the Go counterpart of examples/c/producer.c: it sends
// COUNT text messages ("message 0", "message 1", ...) on the channel NAME and
// closes its end. Pair it with the C consumer (or the other way round, with
// examples/c/go/consumer and the C producer); see examples/c/README.md.
//
//	go run ./examples/c/go/producer NAME [COUNT]
package main

import (
	"fmt"
	"os"
	"strconv"

	"github.com/shmchan/shmchan/shm"
)

func main() {
	if len(os.Args) < 2 || len(os.Args) > 3 {
		fmt.Fprintln(os.Stderr, "usage: producer NAME [COUNT]")
		os.Exit(2)
	}
	count := 10
	if len(os.Args) == 3 {
		n, err := strconv.Atoi(os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, "producer: bad COUNT:", err)
			os.Exit(2)
		}
		count = n
	}
	if err := run(os.Args[1], count); err != nil {
		fmt.Fprintln(os.Stderr, "producer:", err)
		os.Exit(1)
	}
	fmt.Printf("producer: sent %d messages\n", count)
}

func run(name string, count int) error {
	// Either side may start first: the channel is opened, or created with a
	// 64 KiB ring. The consumer removes it at the end.
	ch, _, err := shm.OpenOrCreateChannel(name, 1<<16, shm.WithWait(shm.Block))
	if err != nil {
		return err
	}
	defer ch.Close()
	tx, err := ch.Sender()
	if err != nil {
		return err
	}
	for i := range count {
		if err := tx.Send(fmt.Appendf(nil, "message %d", i)); err != nil {
			return err
		}
	}
	return tx.Close() // the consumer gets EOF after the last message
}
