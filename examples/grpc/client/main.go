// Command client calls the server's health service n times over a shmchan
// connection (see ../server).
package main

import (
	"context"
	"flag"
	"log"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/shmchan/shmchan/shm"
)

func main() {
	name := flag.String("name", "grpc-demo", "listener name")
	n := flag.Int("n", 1000, "unary calls")
	flag.Parse()
	cc, err := grpc.NewClient("passthrough:///"+*name,
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return shm.DialContext(ctx, addr, shm.WithWait(shm.Block))
		}),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer cc.Close()
	hc := healthpb.NewHealthClient(cc)
	start := time.Now()
	for i := range *n {
		if _, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
			log.Fatalf("call %d: %v", i, err)
		}
	}
	el := time.Since(start)
	log.Printf("%d unary calls in %v (%v per call)", *n, el, el/time.Duration(*n))
}
