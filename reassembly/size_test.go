package reassembly

import (
	"testing"
	"unsafe"
)

// A conn is allocated for every open flow, in the runtime's 768-byte size
// class, with its 8-byte allocation header (objects over 512 bytes that
// hold pointers have one); one field too many would move it to the
// 896-byte class and cost every open flow 128 bytes (issue 5's memory per
// flow). Fields are ordered by size in conn, endTrack, signature, rstInfo,
// zEnd and zRecord for this; conn keeps no copy of its map key, the Zeek
// records none of the addresses, and what only unusual flows need (oddities,
// sequence holes, Zeek records ended early) is allocated at the first such
// event. A field that must be added needs room made elsewhere, or belongs
// in oddities if it is rare.
func TestConnFitsItsSizeClass(t *testing.T) {
	const sizeClass, header = 768, 8
	if n := unsafe.Sizeof(conn{}); n+header > sizeClass {
		t.Errorf("a conn is %d bytes, over the %d-byte size class (endTrack %d, zeekTracker %d)",
			n, sizeClass, unsafe.Sizeof(endTrack{}), unsafe.Sizeof(zeekTracker{}))
	}
}

// A Flow is allocated for every open flow too, in the 576-byte size class
// with its header; the tracked timeline (Flow.timeline) was put in the room
// that class had left, so a Flow field added now would cost 64 bytes per
// flow.
func TestFlowFitsItsSizeClass(t *testing.T) {
	const sizeClass, header = 576, 8
	if n := unsafe.Sizeof(Flow{}); n+header > sizeClass {
		t.Errorf("a Flow is %d bytes, over the %d-byte size class", n, sizeClass)
	}
}
