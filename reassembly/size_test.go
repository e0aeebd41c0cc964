package reassembly

import (
	"reflect"
	"testing"
	"unsafe"
)

// A conn is in every open flow's slot of its table's slabs (slab.go), with
// the flow's zeekTracker and a pointer to its side data: 368 bytes a slot,
// where a conn was a 640-byte allocation and its timeline another. There is
// no size class to fill, but a slab is a whole number of 8 KB pages: a slot
// costs its size rounded up to 16 bytes (8 KB / slabLen), each step of
// which costs every open flow (issue 5's memory per flow). Fields are
// ordered by size in conn, endTrack, zEnd and zRecord for this; a tracked
// flow has no Flow (conn keeps what the Flow needs, which finalize copies);
// the index keeps no key (the conn's addresses are its key, kept without
// netip's pointers, an IPv4 one in 4 bytes and an IPv6 one in its slab:
// connAddrs), the Zeek records none of the addresses, the timeline of most
// flows fits in the conn (times from the transition before), counters are
// 32 bits (4 for flags), as are the ID and the last packet number (from the
// first), times other than the first are 32-bit stamps (stamp.go; the last
// is the ends'), with what goes past in the side data, flags that a time
// being set says are not kept, a flow's and an end's yes-or-no facts are a
// bit each (connFacts, endFacts), and the ladder and what only unusual
// flows need (oddities, with the RST that ended the flow and the counters
// of retransmissions and the like, sequence holes, a long timeline) are in
// the side data, allocated at the first such event. A field that must be
// added needs room made elsewhere, or belongs in the side data if it is
// rare.
func TestConnSize(t *testing.T) {
	const connLimit, slotLimit, page = 248, 368, 8192
	n := unsafe.Sizeof(conn{})
	if n > connLimit {
		t.Errorf("a conn is %d bytes, over %d (endTrack %d)", n, connLimit, unsafe.Sizeof(endTrack{}))
	}
	// What a slot costs is its share of the slab's whole pages.
	pages := (unsafe.Sizeof(slab{}) + page - 1) / page
	if slot := pages * page / slabLen; slot > slotLimit {
		t.Errorf("a slot costs %d bytes, over %d (conn %d, zeekTracker %d, slab %d bytes in %d pages)",
			slot, slotLimit, n, unsafe.Sizeof(zeekTracker{}), unsafe.Sizeof(slab{}), pages)
	}
}

// A conn must hold no pointer, so that the garbage collector never scans
// the conns of a slab (slab.go): what it would point to goes in connSide.
func TestConnHoldsNoPointers(t *testing.T) {
	if path := pointerIn(reflect.TypeFor[conn](), "conn"); path != "" {
		t.Errorf("%s holds a pointer", path)
	}
}

// pointerIn returns the path of a field of type typ, named name, that holds
// a pointer, or "".
func pointerIn(typ reflect.Type, name string) string {
	switch typ.Kind() {
	case reflect.Struct:
		for i := range typ.NumField() {
			f := typ.Field(i)
			if p := pointerIn(f.Type, name+"."+f.Name); p != "" {
				return p
			}
		}
		return ""
	case reflect.Array:
		return pointerIn(typ.Elem(), name+"[]")
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return ""
	}
	return name
}

// A Flow is handed out for every flow when it ends, and kept by whoever
// gathers the flows (reports hold them all). It is allocated in a
// flowWithRoom (TestFlowWithRoomFitsItsSizeClass), but should it be alone
// it fits the 576-byte size class with its header; a Flow field added now
// costs 64 bytes per flow.
func TestFlowFitsItsSizeClass(t *testing.T) {
	const sizeClass, header = 576, 8
	if n := unsafe.Sizeof(Flow{}); n+header > sizeClass {
		t.Errorf("a Flow is %d bytes, over the %d-byte size class", n, sizeClass)
	}
}

// A zeekTracker is in every open flow's slot (it was 328 bytes; issue 5's
// budget is 400 for the whole open flow). It keeps Zeek's 64-bit relative
// sequence numbers in 32 bits while they fit (hist_last_SYN, 0 but after
// odd SYNs, only when they do not), histories of up to zeekHistInline
// letters inline, its times in 42 bits from the flow's first packet (73
// minutes, to the nanosecond), the delete and attempt timers in one of
// them (never both pending), and behind one pointer, allocated at the
// first need, what only unusual flows need: wrapped or wide sequence
// numbers, counters of retransmissions, zero windows and gaps, held blocks,
// records ended early, longer histories and the times of longer flows. A
// field added here belongs behind it unless every flow needs it.
//
// It was 128 bytes, two whole cache lines of an array of trackers; 112
// (the FIN's relative number implied by hist_last_FIN, 12 history letters
// inline) lowers the slot from 384 to 368 bytes, under the 400 bytes a
// flow of issue 5 with the index's share, for about 1.5% of the time of a
// one-core audit (1.34 s against 1.32 s, interleaved best of 9; two
// cores 0.85 s both).
func TestZeekTrackerSize(t *testing.T) {
	const limit = 112
	if n := unsafe.Sizeof(zeekTracker{}); n > limit {
		t.Errorf("a zeekTracker is %d bytes, over %d (zRecord %d, zEnd %d)",
			n, limit, unsafe.Sizeof(zRecord{}), unsafe.Sizeof(zEnd{}))
	}
}

// Every flow, when it ends, is allocated as a flowWithRoom: its Flow with
// room for a whole connection's timeline and its Zeek record, in the
// 1024-byte size class with its header, with 16 bytes to spare: a
// transition more of room, or Flow fields of more than 16 bytes, would
// move it to the 1152-byte class.
func TestFlowWithRoomFitsItsSizeClass(t *testing.T) {
	const sizeClass, header = 1024, 8
	if n := unsafe.Sizeof(flowWithRoom{}); n+header > sizeClass {
		t.Errorf("a flowWithRoom is %d bytes, over the %d-byte size class (Flow %d, room for %d transitions)",
			n, sizeClass, unsafe.Sizeof(Flow{}), timelineRoom)
	}
}

// The census keeps an expiry for every end in TIME_WAIT, a minute's worth
// of a busy server's connections: it holds only what the end of TIME_WAIT
// needs.
func TestExpirySize(t *testing.T) {
	if n := unsafe.Sizeof(expiry{}); n > 32 {
		t.Errorf("an expiry is %d bytes, over 32", n)
	}
}
