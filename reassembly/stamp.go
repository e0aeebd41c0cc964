package reassembly

// A conn keeps its times other than first and last (and its ends' last,
// read and set by every packet) as stamps: 32 bits instead of 64 each
// (issue 5's memory per flow), exact to the nanosecond. A stamp is an
// offset from the flow's first packet (from 0 for a duration), in
// microseconds when it is a whole number of them below 2^31-1 (35
// minutes; pcap's resolution), else in nanoseconds below 2^31-1 (2
// seconds); one that is neither is in the side data (wideFields.times).
// The zero stamp is the zero time, as the int64 fields stamps replace
// were before they were set.
type stamp uint32

const (
	stampMicro stamp = 1 << 31   // the rest is microseconds
	stampSide  stamp = ^stamp(0) // the time is in wideFields.times
)

// timeID names a stamp of conn.times. Those of an end are at their ID
// plus the end's Side.
type timeID uint8

const (
	tFin    timeID = 0 // the end's first FIN
	tFinAck timeID = 2 // when the end's FIN was acknowledged
	tSyn    timeID = 4 // the client's latest SYN (or SYN-ACK)
	tSynAck timeID = 5 // the first SYN-ACK
	tRTT    timeID = 6 // the Flow's RTT, a duration
	// tTimeline is the time of the timeline's latest transition, which
	// the next is encoded from (appendTimeline).
	tTimeline timeID = 7
	nTimes           = 8
)

// base is what stamp i is an offset from.
func (c *conn) base(i timeID) int64 {
	if i == tRTT {
		return 0
	}
	return c.first
}

// time returns the time (or duration) i.
func (c ref) time(i timeID) int64 {
	switch s := c.times[i]; {
	case s == 0:
		return 0
	case s == stampSide:
		return c.wideData().times[i]
	case s&stampMicro != 0:
		return c.base(i) + int64(s&^stampMicro)*1000
	default:
		return c.base(i) + int64(s-1)
	}
}

// stampLimit bounds the offsets a stamp holds, in its unit.
const stampLimit = int64(stampMicro - 1)

// setTime sets the time (or duration) i to t.
func (c ref) setTime(i timeID, t int64) {
	switch d := t - c.base(i); {
	case d >= 0 && d%1000 == 0 && d/1000 < stampLimit:
		c.times[i] = stampMicro | stamp(d/1000)
	case d >= 0 && d < stampLimit:
		c.times[i] = stamp(d + 1)
	default:
		c.times[i] = stampSide
		c.wideOnce().times[i] = t
	}
}
