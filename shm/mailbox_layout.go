package shm

import (
	"unsafe"

	"github.com/shmchan/shmchan/internal/layout"
	"github.com/shmchan/shmchan/sync/seqlock"
)

// The mailbox layout's numbers (docs/layout.md, "Mailbox") are the Mb
// constants of internal/layout, which the C header's SHMCHAN_MB_OFF_* are
// checked against by shm/c/interop.

// mbHeaderFields is the mailbox header page, field for field.
type mbHeaderFields struct {
	magic       uint32 // "SHMB"
	version     uint32 // stored last by the creator
	headerSize  uint32 // 4096
	flags       uint32 // bits 0-15 incompatible, 16-31 compatible
	maxValue    uint64 // largest value in bytes
	slotSize    uint64 // bytes per slot: seqlock.Stride(maxValue)
	slotCount   uint32 // number of slots
	_           uint32
	slotsOffset uint64 // 4096
	creator     uint64 // creator's process token
	_           [layout.MbOffLatest - layout.MbOffCreator - 8]byte

	latest uint64 // writer line: version of the newest complete value
	closed uint32 // 1 once the writer closed the mailbox
	_      uint32
	owner  uint64 // token of the writer, 0 if none
	_      [layout.MbOffWakeSeq - layout.MbOffOwner - 8]byte

	wakeSeq uint32 // reader line: the futex word readers sleep on
	waiters uint32 // readers parked or about to park
	_       [layout.MbHeader - layout.MbOffWaiters - 4]byte
}

// Compile-time layout assertions: each line fails to compile (a negative or
// non-constant array index) if an offset drifts from internal/layout.
var (
	_ = [1]struct{}{}[unsafe.Offsetof(mbHeaderFields{}.version)-layout.MbOffVersion]
	_ = [1]struct{}{}[unsafe.Offsetof(mbHeaderFields{}.headerSize)-layout.MbOffHeaderSize]
	_ = [1]struct{}{}[unsafe.Offsetof(mbHeaderFields{}.flags)-layout.MbOffFlags]
	_ = [1]struct{}{}[unsafe.Offsetof(mbHeaderFields{}.maxValue)-layout.MbOffMaxValue]
	_ = [1]struct{}{}[unsafe.Offsetof(mbHeaderFields{}.slotSize)-layout.MbOffSlotSize]
	_ = [1]struct{}{}[unsafe.Offsetof(mbHeaderFields{}.slotCount)-layout.MbOffSlotCount]
	_ = [1]struct{}{}[unsafe.Offsetof(mbHeaderFields{}.slotsOffset)-layout.MbOffSlotsOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(mbHeaderFields{}.creator)-layout.MbOffCreator]
	_ = [1]struct{}{}[unsafe.Offsetof(mbHeaderFields{}.latest)-layout.MbOffLatest]
	_ = [1]struct{}{}[unsafe.Offsetof(mbHeaderFields{}.closed)-layout.MbOffClosed]
	_ = [1]struct{}{}[unsafe.Offsetof(mbHeaderFields{}.owner)-layout.MbOffOwner]
	_ = [1]struct{}{}[unsafe.Offsetof(mbHeaderFields{}.wakeSeq)-layout.MbOffWakeSeq]
	_ = [1]struct{}{}[unsafe.Offsetof(mbHeaderFields{}.waiters)-layout.MbOffWaiters]
	_ = [1]struct{}{}[unsafe.Sizeof(mbHeaderFields{})-layout.MbHeader]
	_ = [1]struct{}{}[seqlock.SlotHeader-128]
)
