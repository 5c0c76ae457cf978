//go:build unix

package bench

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
)

// Messages carry a sequence number in their first 8 bytes (little-endian),
// which every receiver checks. That is the whole check of the ping-pong and
// throughput workloads, so that checking costs the same for every transport
// and almost nothing.
//
// The integrity workload checks every byte instead, with the checked format:
//
//	[0:4)       uint32 sequence number
//	[4:8)       uint32 mix(seq), so that a header from two writes is caught
//	[8:size-8)  body: one of 16 random patterns, chosen by seq % 16
//	[size-8:]   uint32 seq, uint32 mix(seq ^ trailerKey)
//
// (an 8-byte message is the header alone). Neighbouring messages differ in
// every byte with high probability, so a copy that mixes two writes fails
// the check wherever the writes meet.

func stampSeq(msg []byte, seq uint64) { binary.LittleEndian.PutUint64(msg, seq) }

func seqOf(msg []byte) uint64 { return binary.LittleEndian.Uint64(msg) }

const (
	patterns   = 16
	trailerKey = 0xa5a5a5a5
)

// mix is a 32-bit finaliser (murmur3's fmix32): every input bit affects
// every output bit.
func mix(x uint32) uint32 {
	x ^= x >> 16
	x *= 0x85ebca6b
	x ^= x >> 13
	x *= 0xc2b2ae35
	x ^= x >> 16
	return x
}

// pattern fills and checks messages in the checked format for one size.
type pattern struct {
	size   int
	bodies [patterns][]byte
}

func newPattern(size int) *pattern {
	p := &pattern{size: size}
	body := max(size-16, 0)
	r := rand.New(rand.NewPCG(0x5eed, uint64(size)))
	for i := range p.bodies {
		b := make([]byte, body)
		for j := 0; j+8 <= len(b); j += 8 {
			binary.LittleEndian.PutUint64(b[j:], r.Uint64())
		}
		for j := len(b) &^ 7; j < len(b); j++ {
			b[j] = byte(r.Uint32())
		}
		p.bodies[i] = b
	}
	return p
}

// fill writes message seq into dst, which has len p.size.
func (p *pattern) fill(dst []byte, seq uint32) {
	binary.LittleEndian.PutUint32(dst[0:], seq)
	binary.LittleEndian.PutUint32(dst[4:], mix(seq))
	if p.size < 16 {
		return
	}
	copy(dst[8:], p.bodies[seq%patterns])
	binary.LittleEndian.PutUint32(dst[p.size-8:], seq)
	binary.LittleEndian.PutUint32(dst[p.size-4:], mix(seq^trailerKey))
}

// check reports whether m is an intact message, and its sequence number.
func (p *pattern) check(m []byte) (seq uint32, ok bool) {
	if len(m) != p.size || len(m) < 8 {
		return 0, false
	}
	seq = binary.LittleEndian.Uint32(m[0:])
	if binary.LittleEndian.Uint32(m[4:]) != mix(seq) {
		return seq, false
	}
	if p.size < 16 {
		return seq, true
	}
	if binary.LittleEndian.Uint32(m[p.size-8:]) != seq || binary.LittleEndian.Uint32(m[p.size-4:]) != mix(seq^trailerKey) {
		return seq, false
	}
	return seq, bytes.Equal(m[8:p.size-8], p.bodies[seq%patterns])
}

// tally counts what a receiver got from a stream of sequence numbers 0, 1,
// 2, ... that may lose, reorder or repeat messages.
type tally struct {
	next uint64 // one past the highest sequence number received
	recv int64  // messages received whose number was higher than any before
	dup  int64  // intact messages whose number was not higher (stale or repeated)
	torn int64  // messages that failed their check
}

func (t *tally) add(seq uint64) {
	if seq < t.next {
		t.dup++
		return
	}
	t.next = seq + 1
	t.recv++
}
