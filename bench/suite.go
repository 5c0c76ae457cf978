package bench

// The plan of the suite: which transports each benchmark runs, at which
// sizes. The benchmarks read it, and so does the report generator
// (bench/cmd/report), which uses it to count the runs for its progress line
// and to lay out its tables.

// Sizes are the message sizes of every workload, in bytes.
var Sizes = []int{8, 64, 1 << 10, 64 << 10, 1 << 20}

// Floors are the payload-free ping-pongs that BenchmarkPingPong runs first,
// as size=0.
var Floors = []string{"floor-atomic", "floor-futex"}

// PayloadFloors are the floors that move a payload, which BenchmarkPingPong
// runs after Floors at their own size (transport=NAME/size=N).
var PayloadFloors = map[string]int{"floor-payload64": 64}

// PayloadFloorNames lists PayloadFloors in report order.
var PayloadFloorNames = []string{"floor-payload64"}

// Transports of each benchmark, in report order.
var (
	PingPongTransports   = []string{"shmchan-spin", "shmchan-adaptive", "shmchan-block", "shmchan-zc", "shmchan-zc-read", "streaming", "uds", "pipe", "tcp", "gochan"}
	ThroughputTransports = []string{"shmchan-spin", "shmchan-adaptive", "shmchan-block", "shmchan-zc", "shmchan-batch", "streaming", "uds", "pipe", "tcp", "gochan"}
	IntegrityTransports  = []string{"shmchan-spin", "shmchan-adaptive", "shmchan-block", "shmchan-zc", "streaming", "uds"}
	IdleTransports       = []string{"shmchan-spin", "shmchan-adaptive", "shmchan-block", "streaming", "uds"}
)

// Descriptions says in a few words what each transport is.
var Descriptions = map[string]string{
	"shmchan-spin":      "shm.Channel per direction, WithWait(Spin)",
	"shmchan-adaptive":  "shm.Channel per direction, WithWait(Adaptive) (the default)",
	"shmchan-block":     "shm.Channel per direction, WithWait(Block)",
	"shmchan-zc":        "shm.Channel (Adaptive) through Reserve/Commit and Peek/Release",
	"shmchan-zc-read":   "shmchan-zc whose recv also reads every byte in place (as the copying Recv does); PingPong only",
	"shmchan-batch":     "shm.Channel (Spin) through SendBatch (32 messages a call) and RecvBatch (up to 32); Throughput only",
	"streaming":         "the article's ShareMemoryChannel over shm.Segment's stream view (no flow control)",
	"uds":               "unix domain stream socket, 4-byte length prefix",
	"pipe":              "a pair of pipes, 4-byte length prefix",
	"tcp":               "TCP on 127.0.0.1 with TCP_NODELAY, 4-byte length prefix",
	"gochan":            "Go channel of pooled buffers between two goroutines (one process, reference only)",
	"floor-atomic":      "two processes bouncing one cache line with sync/atomic, no payload",
	"floor-futex":       "two processes waking each other with raw FUTEX_WAIT/FUTEX_WAKE, no payload",
	"floor-payload64":   "two processes handing a 64-byte payload and a sequence word back and forth in two cache lines (payload line, then word line), sync/atomic",
	"memcpy":            "copy() of the message in one goroutine: single-core memory bandwidth",
	"floor-atomic+work": "floor-atomic, each side also making one Send and one Recv through a channel of its own process (BenchmarkPaired only)",
	"proto-ring":        "the bare ring of bench/proto_test.go (packed records, count published every record), no library code (BenchmarkPaired only)",
}

// ServiceConnTransports are the transports of BenchmarkConnRoundTrip
// (services_test.go): a byte stream over an shm.Conn, the same Conn's
// channels as messages (the raw channel round trip), the Conn with
// WithWait(shm.Block) on both ends (every round trip parks: two wakeups,
// through the poller), the same with shm.WithDirectPark (each end parks on
// its own futex), and a unix-socket net.Conn.
var ServiceConnTransports = []string{"shm-conn", "shm-channel", "shm-conn-block", "shm-conn-direct", "unix-conn"}

// GRPCTransports are the networks of BenchmarkGRPCUnary: grpc-go over an shm
// listener with the default wait, with WithWait(shm.Block) on both ends,
// over a unix socket, and over grpc-go's in-memory bufconn listener with
// the server in the same process (a transport that costs nearly nothing:
// gRPC's own cost per call, the floor any transport could reach).
var GRPCTransports = []string{"shm", "shm-block", "unix", "bufconn"}

// PairedArm is one arm of BenchmarkPaired: a transport (or floor) at a size.
type PairedArm struct {
	Transport string
	Size      int
}

// PairedArms are the arms of BenchmarkPaired, in the order of its cycle.
// The first is floor-atomic, the denominator of every ratio.
var PairedArms = []PairedArm{
	{"floor-atomic", 0},
	{"floor-payload64", 64},
	{"floor-atomic+work", 8},
	{"proto-ring", 8},
	{"shmchan-spin", 8},
	{"shmchan-adaptive", 8},
	{"shmchan-zc", 8},
	{"proto-ring", 64},
	{"shmchan-spin", 64},
	{"shmchan-adaptive", 64},
	{"shmchan-zc", 64},
	{"shmchan-zc-read", 64},
}
