package reassembly

import (
	"testing"
	"unsafe"
)

// A conn is allocated for every open flow, in the runtime's 1152-byte size
// class; one field too many would move it to the 1280-byte class and cost
// every open flow 128 bytes (issue 5's memory per flow). Fields are ordered
// by size in conn, endTrack, signature, rstInfo, zEnd and zRecord for this.
func TestConnFitsItsSizeClass(t *testing.T) {
	const sizeClass = 1152
	if n := unsafe.Sizeof(conn{}); n > sizeClass {
		t.Errorf("a conn is %d bytes, over the %d-byte size class (endTrack %d, zeekTracker %d)",
			n, sizeClass, unsafe.Sizeof(endTrack{}), unsafe.Sizeof(zeekTracker{}))
	}
}
