// Package bench is shmchan's cross-process benchmark suite. It has no API:
// everything is in its tests, which a user runs with the standard tools.
//
//	cd bench                                     # its own module: bench/go.mod
//	go test ./...                                # harness checks at small counts
//	go test -run='^$' -bench=. .                 # the whole suite
//	go test -run='^$' -bench='PingPong/transport=(shmchan-spin|uds)/size=64$' .
//	go run ./cmd/report                          # bounded suite, docs/benchmarks.md and charts (make bench)
//
// Every transport runs between two real OS processes (the test binary
// re-executes itself through internal/testproc), except the in-process Go
// channel, which is a reference only:
//
//	shmchan-spin, shmchan-adaptive, shmchan-block  shm.Channel, one per direction, in each wait strategy
//	shmchan-zc                                     shm.Channel (adaptive) through Reserve/Commit and Peek/Release
//	shmchan-zc-read                                shmchan-zc whose recv reads every byte in place (PingPong only)
//	shmchan-batch                                  shm.Channel (spin) through SendBatch, 32 messages a call, and
//	                                               RecvBatch, up to 32 (Throughput only)
//	streaming                                      the article's ShareMemoryChannel (package streaming)
//	uds                                            unix domain stream socket, 4-byte length prefix
//	pipe                                           a pair of pipes, 4-byte length prefix
//	tcp                                            TCP over 127.0.0.1 with TCP_NODELAY, 4-byte length prefix
//	gochan                                         a Go channel of pooled buffers, in one process
//	floor-atomic                                   two processes bouncing one cache line of a /dev/shm page
//	floor-futex                                    two processes waking each other with raw futex(2) calls
//	floor-payload64                                two processes handing a 64-byte payload and a sequence
//	                                               word back and forth in two cache lines (size=64)
//
// The benchmarks, named benchstat-style by their parameters:
//
//	BenchmarkPingPong/transport=T/size=N    round trip: send N bytes, the peer echoes them.
//	                                         ns/op is the mean; p50-ns, p99-ns, p99.9-ns and
//	                                         max-ns come from an HdrHistogram of every round trip.
//	                                         The floors carry no payload and run as size=0.
//	BenchmarkThroughput/transport=T/size=N  one-way stream of N-byte messages; MB/s (SetBytes)
//	                                         and msg/s. The receiver checks every sequence number.
//	BenchmarkIntegrity/transport=T/size=N   the same stream with every byte checked; lost/op,
//	                                         torn/op and dup/op count the messages the streaming
//	                                         baseline overwrote, tore or delivered twice.
//	BenchmarkIdle/transport=T               cpu-% is the CPU time a receiver blocked in recv
//	                                         uses per second of idleness, in percent of one core.
//	BenchmarkConnRoundTrip/transport=T/size=N  services (services_test.go): a round trip over an
//	                                         shm.Conn (shm-conn), its channels as messages
//	                                         (shm-channel) and a unix-socket net.Conn (unix-conn).
//	BenchmarkGRPCUnary/transport=T          a grpc-go unary call over shm (default wait), shm-block
//	                                         (WithWait(shm.Block)) and a unix socket; p50-ns, p99-ns.
//	BenchmarkProtoTurn, BenchmarkProtoRing,  the prototypes (proto_test.go): minimal two-process
//	BenchmarkProtoPublish, BenchmarkProtoCopy  programs, no library code, each isolating one
//	                                         cache-line effect (docs/design.md, "Where the cache
//	                                         lines go"); p50-ns for round trips, msg/s one-way.
//	BenchmarkPaired/transport=T/size=N      the floors and shmchan's 8 B and 64 B round trips in one
//	                                         pair of processes, in blocks of 1000 round trips taken in
//	                                         turn (paired_test.go): p50-ns, and ratio, the median over
//	                                         the cycles of each block's p50 ÷ floor-atomic's in the
//	                                         same cycle, milliseconds apart.
//
// BenchmarkGRPCUnary also reports cs/op: the context switches of every thread
// of both processes per call (ctxsw_test.go).
//
// A parent process always drives the workload and takes the measurement; the
// child (the peer) echoes, sinks or idles, and reports on its standard output.
//
// SHMCHAN_BENCH_PIN=P,C binds the thread that measures in the parent to CPU P
// and the one that answers in the child to CPU C, for the ping-pong,
// throughput, floor and prototype benchmarks (pin_linux_test.go), as a
// latency-sensitive deployment pins its threads: the two then never share a
// CPU, nor does the scheduler move them. Unset, nothing is pinned, as in
// `make bench`; the report's -pin auto sets it to the first two CPUs it may
// use. It shortens the round trips' tails and slows 1 MiB streams
// (docs/design.md, "The machine's two speeds").
package bench
