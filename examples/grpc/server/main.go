// Command server serves gRPC (the standard health service) on a shmchan
// listener: gRPC's HTTP/2 transport runs over shm.Conn, a net.Conn made of
// two shared-memory channels.
//
//	go run ./server -name grpc-demo &
//	go run ./client -name grpc-demo -n 1000
package main

import (
	"flag"
	"log"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/shmchan/shmchan/shm"
)

func main() {
	name := flag.String("name", "grpc-demo", "listener name")
	flag.Parse()
	l, err := shm.Listen(*name)
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	s := grpc.NewServer()
	healthpb.RegisterHealthServer(s, health.NewServer())
	log.Printf("serving gRPC on shm listener %q", *name)
	if err := s.Serve(l); err != nil {
		log.Fatal(err)
	}
}
