package reassembly

import (
	"testing"
	"time"

	"github.com/tcpaudit/tcpaudit/capture"
	"github.com/tcpaudit/tcpaudit/internal/segsynth"
)

// Finished flows give their slots back: a capture of many flows, few of
// them open or lingering at once, is held in the slabs of those few however
// long it runs (issue 5's memory over time), and at its end every slot is
// free again, each once.
func TestSlotsAreReused(t *testing.T) {
	cfg := DefaultConfig()
	cfg.TimeWait = 100 * time.Millisecond
	tab := NewTable(cfg, func(*Flow) {})
	// Clean closes of 9 segments, 10,000 segments a second: about 5 s of
	// capture, 1,100 flows a second, each lingering 0.1 s after it ends,
	// so some 130 flows at once.
	const conns = 20 * slabLen
	s := segsynth.New(segsynth.Config{Conns: conns, Concurrency: 20, GapNanos: 100_000, Seed: 4, DataSegments: 2})
	var seg capture.Segment
	for s.Next(&seg) {
		tab.Add(&seg)
	}
	if n := len(tab.slabs.slabs); n != 1 {
		t.Errorf("%d flows, some 130 at once, took %d slabs, want 1", conns, n)
	}
	tab.Close(seg.Time)
	if st := tab.Stats(); st.Emitted != st.Total || st.Total < conns {
		t.Fatalf("%d flows emitted of %d, want all, at least %d", st.Emitted, st.Total, conns)
	}
	free := map[handle]bool{}
	for h := tab.slabs.free; h != 0; h = tab.slabs.at(h).next {
		if free[h] {
			t.Fatalf("slot %d is on the free list twice", h)
		}
		free[h] = true
	}
	if want := len(tab.slabs.slabs)*slabLen - 1; len(free) != want {
		t.Errorf("%d slots free after Close, want all %d", len(free), want)
	}
}
