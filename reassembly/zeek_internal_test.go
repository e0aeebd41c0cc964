package reassembly

import (
	"strings"

	"github.com/tcpaudit/tcpaudit/capture"
	"testing"
)

// Relative sequence numbers are kept in 32 bits until one does not fit;
// then all of them move to 64 bits, unchanged.
func TestZeekRelWide(t *testing.T) {
	var e zEnd
	e.setRel(relDelivered, 1)
	e.setRel(relHistSYN, ^uint64(0)) // an underflow: -1, still compact
	if e.x != nil {
		t.Fatal("compact values allocated")
	}
	big := uint64(1)<<32 + 5 // after a wrap
	e.setRel(relTrim, big)
	want := map[zRel]uint64{relDelivered: 1, relHistSYN: ^uint64(0), relTrim: big, relFIN: 0}
	for i, v := range want {
		if got := e.rel(i); got != v {
			t.Errorf("rel %d = %#x, want %#x", i, got, v)
		}
	}
}

// Histories longer than zeekHistInline move out of the record whole, and
// stay bounded by zeekHistMax.
func TestZeekLongHistory(t *testing.T) {
	var r zRecord
	r.push('^')
	var want strings.Builder
	want.WriteByte('^')
	for i := 0; i < 2*zeekHistMax; i++ {
		c := byte('A' + i%26)
		r.addHistory(true, c)
		if want.Len() < zeekHistMax {
			want.WriteByte(c)
		}
	}
	if got := string(r.history()); got != want.String() {
		t.Errorf("history %q, want %q", got, want.String())
	}
	r.begin(&capture.Segment{Flags: capture.SYN}, Client, 0)
	if len(r.history()) != 0 {
		t.Errorf("a new record starts with history %q", r.history())
	}
}
