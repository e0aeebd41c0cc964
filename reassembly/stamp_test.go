package reassembly

import (
	"math"
	"testing"
)

// A stamp keeps every time exactly, in the conn while it fits and in the
// side data when not.
func TestStampsKeepTimesExactly(t *testing.T) {
	const first = int64(1_767_225_600_123_456_789)
	for _, d := range []int64{
		0, 1, 999, 1000, 123_456_000, 123_456_789, // µs and ns
		math.MaxInt32 - 2, math.MaxInt32 - 1, math.MaxInt32, // ns at the limit
		(math.MaxInt32 - 1) * 1000, math.MaxInt32 * 1000, // µs at the limit
		-1, -1000, 40 * 60 * 1e9, math.MaxInt64 - first, // neither
	} {
		for _, i := range []timeID{tFin + 1, tRTT} {
			c := ref{conn: &conn{first: first}, slotData: new(slotData)}
			want := c.base(i) + d
			c.setTime(i, want)
			if got := c.time(i); got != want {
				t.Errorf("time %d set to base%+d: got base%+d", i, d, got-c.base(i))
			}
			if fits := d >= 0 && (d%1000 == 0 && d/1000 < math.MaxInt32 || d < math.MaxInt32); fits == (c.side != nil) {
				t.Errorf("time %d set to base%+d: side data %v", i, d, (c.side != nil))
			}
			if c.times[tFin] != 0 || c.time(tFin) != 0 {
				t.Errorf("time %d set to base%+d changed another", i, d)
			}
		}
	}
}

// A flow's ID and last packet number are exact in 32 bits (the latter
// from the first) and past them, in the side data.
func TestIndexesKeepValuesExactly(t *testing.T) {
	const first = uint64(1) << 40
	for _, v := range []uint64{0, 1, math.MaxUint32 - 1, math.MaxUint32, 1 << 32, math.MaxUint64} {
		c := ref{conn: &conn{firstIndex: first}, slotData: new(slotData)}
		if got := c.lastIndex(); got != first {
			t.Errorf("last packet %d before any, want the first", got)
		}
		c.setID(v)
		c.setLastIndex(first + v)
		if got := c.flowID(); got != v {
			t.Errorf("ID %d read back as %d", v, got)
		}
		if got := c.lastIndex(); got != first+v {
			t.Errorf("last packet first+%d read back as first+%d", v, got-first)
		}
		if fits := v < math.MaxUint32; fits == (c.side != nil) {
			t.Errorf("%d: side data %v", v, (c.side != nil))
		}
	}
	// A reader's packet numbers that go back.
	c := ref{conn: &conn{firstIndex: first}, slotData: new(slotData)}
	if c.setLastIndex(first - 1); c.lastIndex() != first-1 {
		t.Errorf("last packet before the first read back as %d", c.lastIndex())
	}
}
