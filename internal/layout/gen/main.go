// Command gen writes shm/c/shmchan_layout.h, the C spelling of the layout
// numbers of package layout (docs/layout.md), so that Go and C take every
// offset, size and magic number from one place: internal/layout/layout.go.
//
// Run it through go generate in internal/layout:
//
//	go generate ./internal/layout
//
// TestGeneratedHeaderCurrent (gen_test.go) renders the header again and fails
// if the checked-in file differs, so a constant changed in layout.go without
// regenerating fails `go test ./internal/layout/...`.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"os"

	"github.com/shmchan/shmchan/internal/layout"
)

// kind says how a macro's value is spelled in C.
type kind int

const (
	off32 kind = iota // an offset: 0x%03Xu
	hex32             // a 32-bit constant in hex: 0x%Xu
	dec32             // a 32-bit constant in decimal: %du
	dec64             // a 64-bit constant: UINT64_C(%d)
	hex64             // a 64-bit constant in hex: UINT64_C(0x%X)
)

type macro struct {
	name    string
	value   uint64
	kind    kind
	comment string
}

type group struct {
	comment string // a comment line or block above the group; "" for none
	macros  []macro
}

// groups is the header's content, in order. Names and comments are those
// shmchan.h had before it was generated, so that nothing using them changes.
var groups = []group{
	{"Channel, layout v2 (docs/layout.md, \"Channel (magic SHMC)\").", []macro{
		{"SHMCHAN_LAYOUT_VERSION", layout.ChanVersion, dec32, ""},
		{"SHMCHAN_MAGIC", layout.ChanMagic, hex32, "the bytes \"SHMC\", little-endian"},
		{"SHMCHAN_HEADER_SIZE", layout.ChanHeaderSize, dec32, "header page; the data region follows"},
		{"SHMCHAN_LINE", layout.Line, dec32, "fields written by different processes sit on different lines"},
		{"SHMCHAN_MIN_CAPACITY", layout.ChanMinCapacity, dec64, ""},
		{"SHMCHAN_MAX_CAPACITY", layout.ChanMaxCapacity, dec64, "so a record's u32 len covers the largest message"},
		{"SHMCHAN_FLAGS_INCOMPATIBLE_MASK", layout.ChanFlagsIncompatibleMask, hex32, "bits an opener must know"},
		{"SHMCHAN_FLAG_STATS", layout.ChanFlagStats, hex32, "compatible: the ends keep their counter lines"},
		{"SHMCHAN_STATS_SIZE", layout.StatsSize, dec32, "a counter line's six u64 counts"},
	}},
	{"Header line, written once by the creator.", []macro{
		{"SHMCHAN_OFF_MAGIC", layout.ChanOffMagic, off32, "u32"},
		{"SHMCHAN_OFF_VERSION", layout.ChanOffVersion, off32, "u32, atomic, stored last (release)"},
		{"SHMCHAN_OFF_HEADER_SIZE", layout.ChanOffHeaderSize, off32, "u32"},
		{"SHMCHAN_OFF_FLAGS", layout.ChanOffFlags, off32, "u32"},
		{"SHMCHAN_OFF_CAPACITY", layout.ChanOffCapacity, off32, "u64"},
		{"SHMCHAN_OFF_DATA_OFFSET", layout.ChanOffDataOffset, off32, "u64"},
		{"SHMCHAN_OFF_MAX_MESSAGE", layout.ChanOffMaxMessage, off32, "u64"},
		{"SHMCHAN_OFF_CREATOR", layout.ChanOffCreator, off32, "u64, process token"},
	}},
	{"Sender line. 0x080 is reserved (zero): records are published in line.", []macro{
		{"SHMCHAN_OFF_SENDER_LINE", layout.ChanOffSenderLine, off32, ""},
		{"SHMCHAN_OFF_TX_OWNER", layout.ChanOffTxOwner, off32, "u64, atomic, compare-and-swap"},
	}},
	{"Receiver line.", []macro{
		{"SHMCHAN_OFF_HEAD", layout.ChanOffHead, off32, "u64, atomic, seq_cst store"},
		{"SHMCHAN_OFF_RX_OWNER", layout.ChanOffRxOwner, off32, "u64, atomic, compare-and-swap"},
	}},
	{"Receiver signal line.", []macro{
		{"SHMCHAN_OFF_DATA_SEQ", layout.ChanOffDataSeq, off32, "u32, futex word the receiver sleeps on"},
		{"SHMCHAN_OFF_RX_PARKED", layout.ChanOffRxParked, off32, "u32, atomic, seq_cst"},
		{"SHMCHAN_OFF_RX_CLOSED", layout.ChanOffRxClosed, off32, "u32, atomic, seq_cst"},
	}},
	{"Sender signal line.", []macro{
		{"SHMCHAN_OFF_SPACE_SEQ", layout.ChanOffSpaceSeq, off32, "u32, futex word the sender sleeps on"},
		{"SHMCHAN_OFF_TX_PARKED", layout.ChanOffTxParked, off32, "u32, atomic, seq_cst"},
		{"SHMCHAN_OFF_TX_CLOSED", layout.ChanOffTxClosed, off32, "u32, atomic, seq_cst"},
	}},
	{"Data region.", []macro{
		{"SHMCHAN_OFF_TX_STATS", layout.ChanOffTxStats, off32, "the sender's counter line (SHMCHAN_FLAG_STATS), written only by it"},
		{"SHMCHAN_OFF_RX_STATS", layout.ChanOffRxStats, off32, "the receiver's counter line, written only by it"},
		{"SHMCHAN_OFF_DATA", layout.ChanHeaderSize, off32, ""},
	}},
	{"Role locks (docs/layout.md, \"Role locks\"): on Linux each role is held by an\n" +
		"open-file-description lock (F_OFD_SETLK, F_WRLCK) on these 8 bytes of the\n" +
		"object, the bytes of the role's owner field.", []macro{
		{"SHMCHAN_LOCK_LEN", layout.LockLen, dec32, ""},
		{"SHMCHAN_LOCK_TX", layout.LockTx, off32, "channel sender: SHMCHAN_OFF_TX_OWNER"},
		{"SHMCHAN_LOCK_RX", layout.LockRx, off32, "channel receiver: SHMCHAN_OFF_RX_OWNER"},
		{"SHMCHAN_LOCK_MB_WRITER", layout.LockMbWriter, off32, "mailbox writer: SHMCHAN_MB_OFF_OWNER"},
	}},
	{"Records in the data region: a header, one little-endian u64 stored and\n" +
		"loaded atomically (length in the low 32 bits, kind in the high 32; zero\n" +
		"means nothing published here yet), then the payload, 8-byte aligned.", []macro{
		{"SHMCHAN_RECORD_HEADER", layout.ChanRecordHeader, dec32, ""},
		{"SHMCHAN_KIND_MESSAGE", layout.ChanKindMessage, dec32, ""},
		{"SHMCHAN_KIND_PADDING", layout.ChanKindPadding, dec32, ""},
	}},
	{"Mailbox, layout v2 (docs/layout.md, \"Mailbox (magic SHMB)\"): a 4096-byte\n" +
		"header page, then slot_count slots of slot_size bytes each.", []macro{
		{"SHMCHAN_MAILBOX_MAGIC", layout.MboxMagic, hex32, "the bytes \"SHMB\", little-endian"},
		{"SHMCHAN_MAILBOX_VERSION", layout.MboxVersion, dec32, ""},
		{"SHMCHAN_MAILBOX_HEADER_SIZE", layout.MboxHeaderSize, dec32, "header page; the slots follow"},
		{"SHMCHAN_MAILBOX_SLOTS", layout.MboxSlots, dec32, "slots a creator makes"},
		{"SHMCHAN_MAILBOX_MIN_SLOTS", layout.MboxMinSlots, dec32, "slots an opener accepts: MIN to MAX"},
		{"SHMCHAN_MAILBOX_MAX_SLOTS", layout.MboxMaxSlots, dec32, ""},
		{"SHMCHAN_MAILBOX_SLOT_HEADER", layout.MboxSlotHeaderSize, dec32, "a slot's header; the value bytes follow"},
		{"SHMCHAN_MAILBOX_MAX_VERSION", layout.MboxMaxVersion, hex64, "the largest version a writer publishes: 2^62 - 1"},
		{"SHMCHAN_MAILBOX_MAX_WAITERS", layout.MboxMaxWaiters, dec32, "Windows: readers one publish wakes at once (a semaphore's maximum)"},
	}},
	{"Mailbox header line, written once by the creator.", []macro{
		{"SHMCHAN_MB_OFF_MAGIC", layout.MboxOffMagic, off32, "u32"},
		{"SHMCHAN_MB_OFF_VERSION", layout.MboxOffVersion, off32, "u32, atomic, stored last (release)"},
		{"SHMCHAN_MB_OFF_HEADER_SIZE", layout.MboxOffHeaderSize, off32, "u32"},
		{"SHMCHAN_MB_OFF_FLAGS", layout.MboxOffFlags, off32, "u32"},
		{"SHMCHAN_MB_OFF_MAX_VALUE", layout.MboxOffMaxValue, off32, "u64"},
		{"SHMCHAN_MB_OFF_SLOT_SIZE", layout.MboxOffSlotSize, off32, "u64: 128 + align128(max_value)"},
		{"SHMCHAN_MB_OFF_SLOT_COUNT", layout.MboxOffSlotCount, off32, "u32, then a reserved u32"},
		{"SHMCHAN_MB_OFF_SLOTS_OFFSET", layout.MboxOffSlotsOffset, off32, "u64: 4096"},
		{"SHMCHAN_MB_OFF_CREATOR", layout.MboxOffCreator, off32, "u64, process token"},
	}},
	{"Mailbox writer line.", []macro{
		{"SHMCHAN_MB_OFF_LATEST", layout.MboxOffLatest, off32, "u64, atomic, seq_cst store"},
		{"SHMCHAN_MB_OFF_CLOSED", layout.MboxOffClosed, off32, "u32, atomic, seq_cst"},
		{"SHMCHAN_MB_OFF_OWNER", layout.MboxOffOwner, off32, "u64, atomic, compare-and-swap"},
	}},
	{"Mailbox reader line.", []macro{
		{"SHMCHAN_MB_OFF_WAKE_SEQ", layout.MboxOffWakeSeq, off32, "u32, futex word readers sleep on"},
		{"SHMCHAN_MB_OFF_WAITERS", layout.MboxOffWaiters, off32, "u32, atomic, seq_cst read-modify-write"},
	}},
	{"Mailbox writer's counter line.", []macro{
		{"SHMCHAN_MB_OFF_WRITER_STATS", layout.MboxOffWriterStats, off32, "written only by the writer (SHMCHAN_FLAG_STATS)"},
	}},
	{"Mailbox slots.", []macro{
		{"SHMCHAN_MB_OFF_SLOTS", layout.MboxHeaderSize, off32, ""},
	}},
	{"In each slot.", []macro{
		{"SHMCHAN_MB_SLOT_OFF_SEQ", layout.MboxSlotOffSeq, dec32, "u64, atomic: 2v+1 while version v is written, 2v once complete"},
		{"SHMCHAN_MB_SLOT_OFF_LEN", layout.MboxSlotOffLen, dec32, "u64, atomic: the value's length"},
	}},
}

// render returns the header's bytes.
func render() []byte {
	var b bytes.Buffer
	b.WriteString(`/*
 * shmchan_layout.h: the numbers of shared-memory layout version 2
 * (docs/layout.md), included by shmchan.h.
 *
 * GENERATED by internal/layout/gen from internal/layout/layout.go: do not
 * edit. Change layout.go, then run "go generate ./internal/layout"; the test
 * TestGeneratedHeaderCurrent fails while this file is not current.
 * shmchan.c asserts its structs against these macros with _Static_assert.
 */
#ifndef SHMCHAN_LAYOUT_H
#define SHMCHAN_LAYOUT_H

#include <stdint.h>
`)
	for _, g := range groups {
		b.WriteString("\n")
		if g.comment != "" {
			lines := bytes.Split([]byte(g.comment), []byte("\n"))
			if len(lines) == 1 {
				fmt.Fprintf(&b, "/* %s */\n", g.comment)
			} else {
				b.WriteString("/*\n")
				for _, l := range lines {
					fmt.Fprintf(&b, " * %s\n", l)
				}
				b.WriteString(" */\n")
			}
		}
		for _, m := range g.macros {
			var v string
			switch m.kind {
			case off32:
				v = fmt.Sprintf("0x%03Xu", m.value)
			case hex32:
				v = fmt.Sprintf("0x%Xu", m.value)
			case dec32:
				v = fmt.Sprintf("%du", m.value)
			case dec64:
				v = fmt.Sprintf("UINT64_C(%d)", m.value)
			case hex64:
				v = fmt.Sprintf("UINT64_C(0x%X)", m.value)
			}
			if m.kind != dec64 && m.kind != hex64 && m.value > 0xFFFFFFFF {
				panic("gen: " + m.name + " does not fit a 32-bit macro")
			}
			line := fmt.Sprintf("#define %s %s", m.name, v)
			if m.comment != "" {
				line = fmt.Sprintf("%-44s /* %s */", line, m.comment)
			}
			b.WriteString(line + "\n")
		}
	}
	b.WriteString("\n#endif /* SHMCHAN_LAYOUT_H */\n")
	return b.Bytes()
}

func main() {
	out := flag.String("o", "", "output file (default: standard output)")
	flag.Parse()
	src := render()
	if *out == "" {
		os.Stdout.Write(src)
		return
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		log.Fatal(err)
	}
}
