package reassembly

import (
	"math"
	"slices"
	"testing"
)

// TestTimelineRoundTrip checks a tracked flow's encoded timeline against
// the Transitions it stands for: times in nanoseconds or whole
// microseconds, at the first packet, long after it or (never seen, but
// kept exactly) before it, every state from either side.
func TestTimelineRoundTrip(t *testing.T) {
	const first = 1_773_480_413_123_456_789
	sinces := []int64{0, 1, 999, 1000, 1001, 250_000, 60_000_000_000, 1 << 40, -1, -1000,
		math.MaxInt64 - first, math.MinInt64 + first}
	var x *connSide
	c := ref{conn: &conn{first: first}, side: &x}
	var want []Transition
	for i, since := range sinces {
		for st := Unknown; st <= TimeWait; st++ {
			side := Side((i + int(st)) % 2)
			c.appendTimeline(since, side, st)
			want = append(want, Transition{Time: nanoTime(first + since), Side: side, State: st})
		}
	}
	f := new(Flow)
	c.handTimeline(f, nil)
	if got := f.Timeline; !slices.Equal(got, want) || len(got) != cap(got) {
		t.Errorf("timeline (len %d, cap %d):\n got %v\nwant %v", len(got), cap(got), got, want)
	}
}
