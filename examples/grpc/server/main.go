// Command server serves gRPC (the standard health service) on a shmchan
// listener: gRPC's HTTP/2 transport runs over shm.Conn, a net.Conn made of
// two shared-memory channels.
//
//	go run ./server -name grpc-demo &
//	go run ./client -name grpc-demo -n 1000
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/shmchan/shmchan/shm"
)

func main() {
	name := flag.String("name", "grpc-demo", "listener name")
	flag.Parse()
	l, err := shm.Listen(*name, shm.WithWait(shm.Block))
	if err != nil {
		log.Fatal(err)
	}
	s := grpc.NewServer()
	healthpb.RegisterHealthServer(s, health.NewServer())
	// On SIGINT or SIGTERM, stop: that closes the listener and removes its name.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log.Printf("serving gRPC on shm listener %q", *name)
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	select {
	case err := <-done:
		log.Fatal(err)
	case <-ctx.Done():
	}
	s.GracefulStop() // closes l, which removes its name
	<-done
}
