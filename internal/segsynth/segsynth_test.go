package segsynth

import (
	"testing"

	"github.com/tcpaudit/tcpaudit/capture"
)

func all() []int {
	mix := make([]int, numEndings)
	for i := range mix {
		mix[i] = 1
	}
	return mix
}

func TestDeterministic(t *testing.T) {
	cfg := Config{Conns: 500, Concurrency: 40, GapNanos: 1000, Seed: 7, Mix: all(), Clients: 100}
	a, b := New(cfg), New(cfg)
	var x, y capture.Segment
	n := 0
	for a.Next(&x) {
		if !b.Next(&y) {
			t.Fatalf("second stream ended early at segment %d", n)
		}
		if x != y {
			t.Fatalf("segment %d differs: %+v vs %+v", n, x, y)
		}
		n++
	}
	if b.Next(&y) {
		t.Fatalf("second stream is longer than the first (%d segments)", n)
	}
}

// The stream starts exactly Conns connections, numbers segments from 1 and
// keeps time moving forward.
func TestConnsAndOrder(t *testing.T) {
	const conns = 1000
	s := New(Config{Conns: conns, Concurrency: 50, GapNanos: 10, Seed: 1, Mix: all(), StartNanos: 5})
	var seg capture.Segment
	var last int64
	var index uint64
	for s.Next(&seg) {
		if seg.Time <= last || seg.Index != index+1 {
			t.Fatalf("segment %d: time %d after %d, index %d after %d", index+1, seg.Time, last, seg.Index, index)
		}
		last, index = seg.Time, seg.Index
		if seg.Src == seg.Dst || !seg.Src.IsValid() || !seg.Dst.IsValid() {
			t.Fatalf("segment %d: bad endpoints %v > %v", index, seg.Src, seg.Dst)
		}
	}
	if s.Started() != conns {
		t.Fatalf("Started() = %d, want %d", s.Started(), conns)
	}
}

func TestNextDoesNotAllocate(t *testing.T) {
	s := New(Config{Conns: 1 << 30, Concurrency: 100, GapNanos: 10, Seed: 1, Mix: all()})
	var seg capture.Segment
	if n := testing.AllocsPerRun(10000, func() { s.Next(&seg) }); n != 0 {
		t.Fatalf("Next allocates %v times per segment, want 0", n)
	}
}
