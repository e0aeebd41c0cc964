package reassembly

import (
	"testing"
	"unsafe"
)

// A conn is allocated for every open flow, in the runtime's 640-byte size
// class, with its 8-byte allocation header (objects over 512 bytes that
// hold pointers have one); one byte too many would move it to the
// 704-byte class and cost every open flow 64 bytes (issue 5's memory per
// flow; it was in the 1024-byte class). Fields are ordered by size in
// conn, endTrack, zEnd and zRecord for this; a tracked flow has no Flow
// (conn keeps what the Flow needs, which finalize copies); the index keeps
// no key (the conn's addresses are its key, kept without netip's
// pointers), the Zeek records none of the addresses, the ladder is a
// pointer (none when no report draws ladders), and what only unusual flows
// need (oddities, with the RST that ended the flow and the counters of
// retransmissions and the like, sequence holes, Zeek records ended early)
// is allocated at the first such event. A field that must be added needs
// room made elsewhere, or belongs in oddities if it is rare.
func TestConnFitsItsSizeClass(t *testing.T) {
	const sizeClass, header = 640, 8
	if n := unsafe.Sizeof(conn{}); n+header > sizeClass {
		t.Errorf("a conn is %d bytes, over the %d-byte size class (endTrack %d, zeekTracker %d)",
			n, sizeClass, unsafe.Sizeof(endTrack{}), unsafe.Sizeof(zeekTracker{}))
	}
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

// A zeekTracker is in every open flow's conn (it was 328 bytes; issue 5's
// budget is 400 for the whole open flow). It keeps Zeek's 64-bit relative
// sequence numbers in 32 bits while they fit, histories of up to
// zeekHistInline letters inline, the delete and attempt timers in one field
// (never both pending), and behind pointers, allocated at the first need,
// what only unusual flows need: wrapped or wide sequence numbers, counters
// of retransmissions, zero windows and gaps, held blocks, records ended
// early and longer histories. A field added here belongs behind one of them
// unless every flow needs it.
func TestZeekTrackerSize(t *testing.T) {
	const limit = 160
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
