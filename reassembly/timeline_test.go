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
	c := ref{conn: &conn{first: first}, slotData: new(slotData)}
	var want []Transition
	for i, since := range sinces {
		for st := Unknown; st <= LastAck; st++ {
			side := Side((i + int(st)) % 2)
			c.appendTimeline(since, side, st)
			want = append(want, Transition{Time: nanoTime(first + since), Side: side, State: st})
		}
	}
	f := new(Flow)
	c.handTimeline(f, nil, true)
	if got := f.Timeline; !slices.Equal(got, want) || len(got) != cap(got) {
		t.Errorf("timeline (len %d, cap %d):\n got %v\nwant %v", len(got), cap(got), got, want)
	}
	if LastAck >= 1<<(8-tlStateShift) {
		t.Errorf("states up to %d do not fit a transition's byte", LastAck)
	}
}

// A closed flow's timeline, at the times of a capture in microseconds,
// fits in the conn: times from the transition before, none for one at the
// same time.
func TestTimelineInline(t *testing.T) {
	const first = 1_773_480_413_123_456_000
	c := ref{conn: &conn{first: first}, slotData: new(slotData)}
	var want []Transition
	add := func(since int64, side Side, st State) {
		c.appendTimeline(since, side, st)
		want = append(want, Transition{Time: nanoTime(first + since), Side: side, State: st})
	}
	const fin = 1_800_000_123_000 // half an hour later
	add(0, Client, SynSent)
	add(200_000, Server, SynRecv)
	add(400_000, Client, Established)
	add(400_000, Server, Established)
	add(fin, Client, FinWait1)
	add(fin+200_000, Server, CloseWait)
	add(fin+200_000, Client, FinWait2)
	add(fin+400_000, Server, LastAck)
	add(fin+600_000, Client, TimeWait)
	add(fin+600_000, Server, Closed)
	if c.ntl == tlSide || (c.side != nil) {
		t.Fatalf("a closed flow's timeline left the conn")
	}
	f := new(Flow)
	c.handTimeline(f, nil, false)
	// Then, as finalize does, a TIME_WAIT that ran out, handed apart.
	add(fin+600_000+60e9, Client, Closed)
	c.handTimeline(f, nil, true)
	if got := f.Timeline; !slices.Equal(got, want) || len(got) != cap(got) {
		t.Errorf("timeline (len %d, cap %d):\n got %v\nwant %v", len(got), cap(got), got, want)
	}
}
