package reassembly

import (
	"testing"
	"unsafe"
)

// A conn is allocated for every open flow, in the runtime's 1024-byte size
// class, with its 8-byte allocation header (objects over 512 bytes that
// hold pointers have one); one field too many would move it to the
// 1152-byte class and cost every open flow 128 bytes (issue 5's memory per
// flow). Fields are ordered by size in conn, endTrack, signature, rstInfo,
// zEnd and zRecord for this, and conn keeps no copy of its map key. A field
// that must be added needs room made elsewhere (e.g. synSentRSTWhy as a
// small enum).
func TestConnFitsItsSizeClass(t *testing.T) {
	const sizeClass, header = 1024, 8
	if n := unsafe.Sizeof(conn{}); n+header > sizeClass {
		t.Errorf("a conn is %d bytes, over the %d-byte size class (endTrack %d, zeekTracker %d)",
			n, sizeClass, unsafe.Sizeof(endTrack{}), unsafe.Sizeof(zeekTracker{}))
	}
}
