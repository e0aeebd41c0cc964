package reassembly

import (
	"net/netip"
	"testing"
	"time"

	"github.com/tcpaudit/tcpaudit/capture"
)

// In a quiet stretch of a capture, far fewer segments than flushEvery,
// every shard still gets a batch with the clock at least every flushSpan
// of capture time, and expires what is due by then: a minute of a SYN
// retried every 2 s.
func TestShardedFlushesInAQuietCapture(t *testing.T) {
	s := NewSharded(DefaultConfig(), 2, func(*Flow) {})
	syn := capture.Segment{Src: netip.MustParseAddrPort("10.9.9.9:5000"), Dst: netip.MustParseAddrPort("10.9.9.10:80"),
		Seq: 1000, Flags: capture.SYN, Window: 64240}
	const gap = int64(2 * time.Second)
	for i := range 30 {
		syn.Time, syn.Index = int64(i)*gap, uint64(i+1)
		s.Add(&syn)
		if i > 0 && s.flushedAt < syn.Time-gap {
			t.Fatalf("segment %d at %v: last flush at %v, more than %v of capture before the segment before it",
				i+1, time.Duration(syn.Time), time.Duration(s.flushedAt), time.Duration(gap))
		}
	}
	s.Close(syn.Time)
}
