package inspect

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/shmchan/shmchan/internal/layout"
	"github.com/shmchan/shmchan/internal/platform"
	"github.com/shmchan/shmchan/shm"
)

// Field is one header field as inspect shows it.
type Field struct {
	Offset int    `json:"offset"`
	Name   string `json:"name"` // as docs/layout.md spells it
	Value  uint64 `json:"value"`
	Note   string `json:"note,omitempty"` // the value decoded: a token's PID and state, a flag's meaning
}

// Detail is everything inspect shows of an object.
type Detail struct {
	*Object
	Fields []Field `json:"fields,omitempty"`
	// Explain says what Problem means and what to do, "" if there is none.
	Explain string `json:"explain,omitempty"`
}

// Inspect reads one object in full. Its error is only for an object that
// does not exist.
func Inspect(name string) (*Detail, error) {
	o, err := Load(name)
	if err != nil {
		return nil, err
	}
	d := &Detail{Object: o, Explain: Explain(o.Err)}
	if o.Kind != KindChannel && o.Kind != KindMailbox {
		return d, nil
	}
	err = withMapping(name, false, func(mem []byte, _ int) {
		switch o.Kind {
		case KindChannel:
			if len(mem) >= layout.ChanHeaderSize {
				d.Fields = chanFields(snapshot[layout.ChanHeader](mem), o)
			}
		case KindMailbox:
			if len(mem) >= layout.MboxHeaderSize {
				h := snapshot[layout.MboxHeader](mem)
				d.Fields = mboxFields(h, o)
				if o.Err == nil {
					d.Fields = append(d.Fields, slotFields(h, mem)...)
				}
			}
		}
	})
	if err != nil && d.Problem == "" {
		d.Err, d.Problem = err, err.Error()
	}
	return d, nil
}

// tokenNote decodes an owner token, with its role's state as ls shows it.
func tokenNote(tok uint64, r *Role) string {
	state := ""
	if r != nil {
		state = r.State
	}
	if tok == 0 {
		return state
	}
	t := platform.Token(tok)
	return fmt.Sprintf("pid %d, start %d: %s", t.PID(), t.Start(), state)
}

// roleNamed returns o's role called name, nil if none.
func roleNamed(o *Object, name string) *Role {
	for i := range o.Roles {
		if o.Roles[i].Role == name {
			return &o.Roles[i]
		}
	}
	return nil
}

func flagNote(flags uint32, stats uint32) string {
	s := ""
	if flags&stats != 0 {
		s = "counters"
	}
	if rest := flags &^ stats; rest != 0 {
		s += fmt.Sprintf(" unknown %#x", rest)
	}
	return s
}

func boolNote(v uint32, yes string) string {
	if v != 0 {
		return yes
	}
	return ""
}

func statsFields(off int, who string, st layout.Stats) []Field {
	return []Field{
		{off + layout.StatsOffMessages, who + ".messages", st.Messages, ""},
		{off + layout.StatsOffBytes, who + ".bytes", st.Bytes, ""},
		{off + layout.StatsOffWaits, who + ".waits", st.Waits, ""},
		{off + layout.StatsOffParks, who + ".parks", st.Parks, ""},
		{off + layout.StatsOffWakes, who + ".wakes", st.Wakes, ""},
		{off + layout.StatsOffTakeovers, who + ".takeovers", st.Takeovers, ""},
	}
}

func chanFields(h layout.ChanHeader, o *Object) []Field {
	f := []Field{
		{layout.ChanOffMagic, "magic", uint64(h.Magic), fmt.Sprintf("%q", le32(h.Magic))},
		{layout.ChanOffVersion, "version", uint64(h.Version), ""},
		{layout.ChanOffHeaderSize, "header_size", uint64(h.HeaderSize), ""},
		{layout.ChanOffFlags, "flags", uint64(h.Flags), flagNote(h.Flags, layout.ChanFlagStats)},
		{layout.ChanOffCapacity, "capacity", h.Capacity, ""},
		{layout.ChanOffDataOffset, "data_offset", h.DataOffset, ""},
		{layout.ChanOffMaxMessage, "max_message", h.MaxMessage, ""},
		{layout.ChanOffCreator, "creator", h.Creator, tokenNote(h.Creator, o.Creator)},
		{layout.ChanOffTxOwner, "tx_owner", h.TxOwner, tokenNote(h.TxOwner, roleNamed(o, "sender"))},
		{layout.ChanOffHead, "head", h.Head, headNote(h, o)},
		{layout.ChanOffRxOwner, "rx_owner", h.RxOwner, tokenNote(h.RxOwner, roleNamed(o, "receiver"))},
		{layout.ChanOffDataSeq, "data_seq", uint64(h.DataSeq), ""},
		{layout.ChanOffRxParked, "rx_parked", uint64(h.RxParked), boolNote(h.RxParked, "receiver parked")},
		{layout.ChanOffRxClosed, "rx_closed", uint64(h.RxClosed), boolNote(h.RxClosed, "receiver closed")},
		{layout.ChanOffSpaceSeq, "space_seq", uint64(h.SpaceSeq), ""},
		{layout.ChanOffTxParked, "tx_parked", uint64(h.TxParked), boolNote(h.TxParked, "sender parked")},
		{layout.ChanOffTxClosed, "tx_closed", uint64(h.TxClosed), boolNote(h.TxClosed, "sender closed")},
	}
	if h.Flags&layout.ChanFlagStats != 0 {
		f = append(f, statsFields(layout.ChanOffTxStats, "tx_stats", h.TxStats)...)
		f = append(f, statsFields(layout.ChanOffRxStats, "rx_stats", h.RxStats)...)
	}
	return f
}

// headNote places head in the ring and says where the records end, for a
// channel that passed the checks (the capacity is then a power of two).
func headNote(h layout.ChanHeader, o *Object) string {
	if o.Err != nil {
		return ""
	}
	return fmt.Sprintf("place %d; the records end at %d (%d bytes unread)", h.Head&(h.Capacity-1), h.Head+o.Used, o.Used)
}

func mboxFields(h layout.MboxHeader, o *Object) []Field {
	f := []Field{
		{layout.MboxOffMagic, "magic", uint64(h.Magic), fmt.Sprintf("%q", le32(h.Magic))},
		{layout.MboxOffVersion, "version", uint64(h.Version), ""},
		{layout.MboxOffHeaderSize, "header_size", uint64(h.HeaderSize), ""},
		{layout.MboxOffFlags, "flags", uint64(h.Flags), flagNote(h.Flags, layout.MboxFlagStats)},
		{layout.MboxOffMaxValue, "max_value", h.MaxValue, ""},
		{layout.MboxOffSlotSize, "slot_size", h.SlotSize, ""},
		{layout.MboxOffSlotCount, "slot_count", uint64(h.SlotCount), ""},
		{layout.MboxOffSlotsOffset, "slots_offset", h.SlotsOffset, ""},
		{layout.MboxOffCreator, "creator", h.Creator, tokenNote(h.Creator, o.Creator)},
		{layout.MboxOffLatest, "latest", h.Latest, ""},
		{layout.MboxOffClosed, "closed", uint64(h.Closed), boolNote(h.Closed, "writer closed")},
		{layout.MboxOffOwner, "owner", h.Owner, tokenNote(h.Owner, roleNamed(o, "writer"))},
		{layout.MboxOffWakeSeq, "wake_seq", uint64(h.WakeSeq), ""},
		{layout.MboxOffWaiters, "waiters", uint64(h.Waiters), boolNote(h.Waiters, "readers parked")},
	}
	if h.Flags&layout.MboxFlagStats != 0 {
		f = append(f, statsFields(layout.MboxOffWriterStats, "writer_stats", h.WriterStats)...)
	}
	return f
}

// slotFields shows each slot's sequence and length, for a mailbox that
// passed the checks (so every slot lies inside mem).
func slotFields(h layout.MboxHeader, mem []byte) []Field {
	var f []Field
	for i := range uint64(h.SlotCount) {
		off := layout.MboxHeaderSize + i*h.SlotSize
		seq := *(*uint64)(unsafe.Pointer(&mem[off+layout.MboxSlotOffSeq]))
		n := *(*uint64)(unsafe.Pointer(&mem[off+layout.MboxSlotOffLen]))
		note := "never written"
		switch {
		case seq == 0:
		case seq%2 == 1:
			note = fmt.Sprintf("version %d being written (or its writer died writing it)", seq/2)
		default:
			note = fmt.Sprintf("version %d, complete", seq/2)
		}
		f = append(f,
			Field{int(off + layout.MboxSlotOffSeq), fmt.Sprintf("slot[%d].seq", i), seq, note},
			Field{int(off + layout.MboxSlotOffLen), fmt.Sprintf("slot[%d].len", i), n, ""})
	}
	return f
}

func le32(v uint32) string {
	return string([]byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)})
}

// Explain says what an opener's error means for the person at the terminal
// and what to do about it; "" for nil.
func Explain(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, shm.ErrCorrupt):
		return "ErrCorrupt: a value in the header or the ring breaks docs/layout.md's invariants " +
			"(the checks are in \"What an opener checks\" and the run-time checks after it). A peer is buggy or " +
			"hostile, or something else wrote into the object. The library refuses it rather than misread it. " +
			"Keep a copy for a bug report (cp /dev/shm/NAME), then remove it (shmchan rm NAME) and let the creator make it again."
	case errors.Is(err, shm.ErrVersionMismatch):
		return "ErrVersionMismatch: the object speaks another layout version or sets a feature flag this build " +
			"does not know. Build every program that shares it against the same shmchan release."
	case errors.Is(err, shm.ErrNotChannel):
		return "ErrNotChannel: the object does not start with a shmchan magic number: it belongs to another program."
	case errors.Is(err, shm.ErrNotReady):
		return "ErrNotReady: the creator has not finished setting the object up (size 0 or no version). If it died " +
			"doing so, nothing will finish it: remove the object (shmchan rm NAME)."
	case errors.Is(err, platform.ErrSize), errors.Is(err, shm.ErrInvalidSize):
		return "the object is larger than this platform maps."
	}
	return ""
}
