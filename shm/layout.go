package shm

import (
	"unsafe"

	"github.com/shmchan/shmchan/internal/layout"
)

// chanHeader mirrors the channel's header page (docs/layout.md, version 1).
// Its offsets are asserted against the named constants of internal/layout at
// compile time below; the C header asserts the same numbers.
type chanHeader struct {
	magic      uint32 // "SHMC"
	version    uint32 // stored last by the creator
	headerSize uint32 // 4096
	flags      uint32 // bits 0-15 incompatible, 16-31 compatible
	capacity   uint64 // data region bytes, a power of two
	dataOffset uint64 // 4096
	maxMessage uint64 // capacity/2 - 8
	creator    uint64 // creator's process token
	_          [layout.OffSenderLine - layout.OffCreator - 8]byte

	_       uint64 // sender line: reserved
	txOwner uint64
	_       [layout.OffHead - layout.OffTxOwner - 8]byte

	head    uint64 // receiver line
	rxOwner uint64
	_       [layout.OffDataSeq - layout.OffRxOwner - 8]byte

	dataSeq  uint32 // receiver signal line
	rxParked uint32
	rxClosed uint32
	_        [layout.OffSpaceSeq - layout.OffRxClosed - 4]byte

	spaceSeq uint32 // sender signal line
	txParked uint32
	txClosed uint32
	_        [layout.ChanHeader - layout.OffTxClosed - 4]byte
}

// Compile-time layout assertions: each line fails to compile (a negative or
// non-constant array length) if an offset drifts from internal/layout.
var _ = [1]struct{}{}[unsafe.Offsetof(chanHeader{}.version)-layout.OffVersion]
var _ = [1]struct{}{}[unsafe.Offsetof(chanHeader{}.headerSize)-layout.OffHeaderSize]
var _ = [1]struct{}{}[unsafe.Offsetof(chanHeader{}.flags)-layout.OffFlags]
var _ = [1]struct{}{}[unsafe.Offsetof(chanHeader{}.capacity)-layout.OffCapacity]
var _ = [1]struct{}{}[unsafe.Offsetof(chanHeader{}.dataOffset)-layout.OffDataOffset]
var _ = [1]struct{}{}[unsafe.Offsetof(chanHeader{}.maxMessage)-layout.OffMaxMessage]
var _ = [1]struct{}{}[unsafe.Offsetof(chanHeader{}.creator)-layout.OffCreator]
var _ = [1]struct{}{}[unsafe.Offsetof(chanHeader{}.txOwner)-layout.OffTxOwner]
var _ = [1]struct{}{}[unsafe.Offsetof(chanHeader{}.head)-layout.OffHead]
var _ = [1]struct{}{}[unsafe.Offsetof(chanHeader{}.rxOwner)-layout.OffRxOwner]
var _ = [1]struct{}{}[unsafe.Offsetof(chanHeader{}.dataSeq)-layout.OffDataSeq]
var _ = [1]struct{}{}[unsafe.Offsetof(chanHeader{}.rxParked)-layout.OffRxParked]
var _ = [1]struct{}{}[unsafe.Offsetof(chanHeader{}.rxClosed)-layout.OffRxClosed]
var _ = [1]struct{}{}[unsafe.Offsetof(chanHeader{}.spaceSeq)-layout.OffSpaceSeq]
var _ = [1]struct{}{}[unsafe.Offsetof(chanHeader{}.txParked)-layout.OffTxParked]
var _ = [1]struct{}{}[unsafe.Offsetof(chanHeader{}.txClosed)-layout.OffTxClosed]
var _ = [1]struct{}{}[unsafe.Sizeof(chanHeader{})-layout.ChanHeader]
