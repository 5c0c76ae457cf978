// Command server is an echo server on a shmchan listener, for the C client
// in ../client.c (or any shm.Dial client): every connection gets back what
// it sends.
//
//	go run ./examples/echo/server -name echo-demo &
//	make -C shm/c && shm/c/build/echo-client echo-demo 1000
package main

import (
	"flag"
	"io"
	"log"

	"github.com/shmchan/shmchan/shm"
)

func main() {
	name := flag.String("name", "echo-demo", "listener name")
	flag.Parse()
	l, err := shm.Listen(*name)
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	log.Printf("echo server on shm listener %q", *name)
	log.Fatal(serve(l))
}

// serve echoes every connection that l accepts, until Accept fails.
func serve(l *shm.Listener) error {
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			_, _ = io.Copy(c, c)
		}()
	}
}
