package reassembly

import (
	"fmt"
	"strconv"
	"time"

	"github.com/tcpaudit/tcpaudit/capture"
)

// startsNew reports whether seg opens a new connection on c's 4-tuple:
// a SYN after anything closed, or a SYN with a new ISN. A retransmitted SYN
// (same ISN, nothing closed) and a simultaneous open belong to c. A SYN-ACK
// starts a new flow only after a close.
func (c ref) startsNew(seg *capture.Segment) bool {
	if !seg.Flags.Has(capture.SYN) {
		return false
	}
	closed := c.oddities().rst.accepted || c.ends[Client].has(finSent) || c.ends[Server].has(finSent)
	fromClient := c.addrs().is(Client, seg.Src)
	cl, sv := &c.ends[Client], &c.ends[Server]
	if seg.Flags.Has(capture.ACK) {
		return closed && !c.ends[Client].has(seen)
	}
	switch {
	case closed:
		return true
	case fromClient && cl.has(sawSYN):
		return Seq(seg.Seq) != cl.isn
	case !fromClient && cl.state == SynSent && !sv.has(sawSYN):
		return false // simultaneous open or split handshake (RFC 9293 section 3.5)
	}
	// A SYN on a connection established before the capture, or from the
	// server: the old connection is gone from the sender's point of view.
	return true
}

// endTimeWait closes ends in TIME_WAIT at t because a new SYN arrived on the
// 4-tuple: Linux accepts such a SYN when its ISN or timestamp is higher and
// kills the TIME_WAIT socket (tcp_timewait_state_process, RFC 6191).
func (c ref) endTimeWait(t int64) {
	for side := range c.ends {
		if c.ends[side].state == TimeWait {
			c.setState(Side(side), Closed, t)
			x := c.oddOnce()
			x.notes = append(x.notes, fmt.Sprintf(
				"%s's TIME_WAIT was cut short after %s by a new SYN on the same 4-tuple",
				Side(side), fmtDur(t-c.timeWaitSince())))
		}
	}
}

// finished reports whether both ends are closed or in TIME_WAIT.
func (c *conn) finished() bool {
	for i := range c.ends {
		if s := c.ends[i].state; s != Closed && s != TimeWait {
			return false
		}
	}
	return true
}

// flowWithRoom is a Flow allocated with room for what most flows hand out
// with it, their timeline and their one Zeek record: one allocation per
// finished flow instead of four (finalize runs for every flow). A longer
// timeline or more records are allocated apart.
type flowWithRoom struct {
	flow     Flow
	timeline [timelineRoom]Transition
	zeek     [1]ZeekRecord
}

// Finished flows' memory is reused: a flowWithRoom given back is still in
// cache, where a new one is memory the process has not touched for a
// while, or at all; allocating it was most of what finishing a flow cost
// (issue 5). They travel back to the tables in batches, through
// recycledRooms: a sync.Pool, given flows on the writing goroutine and
// asked on the tables', had to steal from another P's cache nearly every
// time, found it empty after each collection and allocated anew, which
// was 3% of the CPU time of the bench capture on two cores.
//
// recycledRooms holds at most recycleBatches batches (8 MB of 1,008-byte
// rooms); a Recycler whose batch finds it full drops the batch to the
// collector. Room for the flows in flight keeps the drops, and the garbage
// they make, rare: with 8 batches the bench capture's peak RSS was 155 MB
// (JSON 163 MB) against 150 MB through the pool, with 2 batches 183 MB,
// with 32 153 MB (JSON 151 MB), and JSON 2% faster than with 8.
var recycledRooms = make(chan []*flowWithRoom, recycleBatches)

const (
	recycleBatch   = 256
	recycleBatches = 32
)

// A Recycler gives back Flows that a Table emitted, for later flows to
// reuse, once the caller is done with them. It is for one goroutine; its
// zero value is ready to use.
type Recycler struct {
	rooms []*flowWithRoom
}

// Put gives f back: nothing may read f, its Timeline or its Zeek records
// afterwards (its strings stay valid). A caller that keeps flows simply
// does not call it. Putting a Flow the table did not build, a copy of one,
// or one already given back does nothing.
func (r *Recycler) Put(f *Flow) {
	if f == nil || f.room == nil || &f.room.flow != f {
		return
	}
	fr := f.room
	f.room = nil
	if r.rooms == nil {
		r.rooms = make([]*flowWithRoom, 0, recycleBatch)
	}
	if r.rooms = append(r.rooms, fr); len(r.rooms) == recycleBatch {
		r.Flush()
	}
}

// Flush hands the flows given back so far to the tables.
func (r *Recycler) Flush() {
	if len(r.rooms) == 0 {
		return
	}
	select {
	case recycledRooms <- r.rooms:
	default: // enough are waiting: these go to the collector
	}
	r.rooms = nil
}

// newFlowWithRoom returns an empty flowWithRoom, recycled when a batch of
// them is at hand.
func (t *Table) newFlowWithRoom() *flowWithRoom {
	if len(t.rooms) == 0 {
		select {
		case t.rooms = <-recycledRooms:
		default:
		}
	}
	var fr *flowWithRoom
	if n := len(t.rooms); n > 0 {
		fr, t.rooms = t.rooms[n-1], t.rooms[:n-1]
		*fr = flowWithRoom{}
	} else {
		fr = new(flowWithRoom)
	}
	fr.flow.room = fr
	return fr
}

// timelineRoom is the transitions of a connection from its handshake to a
// close with TIME_WAIT, the most a common flow has: SYN_SENT, SYN_RECV, two
// ESTABLISHED, FIN_WAIT1, CLOSE_WAIT, FIN_WAIT2, LAST_ACK, TIME_WAIT and two
// CLOSED. With it a flowWithRoom fills its size class
// (TestFlowWithRoomFitsItsSizeClass).
const timelineRoom = 11

// finalize classifies the flow as of instant at and returns the Flow,
// built in fr, with everything it reports. finishedBy says why the flow
// left the table early ("" when it did not), for Notes.
func (c ref) finalize(fr *flowWithRoom, at int64, cfg *Config, finishedBy string) *Flow {
	f := &fr.flow
	c.flow(f)
	// The transitions so far go to the Flow first: those of ends whose
	// TIME_WAIT ran out, which come last, then need no room in the conn
	// (timelineInline), where they would not fit for most flows.
	c.handTimeline(f, fr.timeline[:], false)
	for side := range c.ends {
		e := &c.ends[side]
		if e.state == TimeWait && at-c.timeWaitSince() >= int64(cfg.TimeWait) {
			c.setState(Side(side), Closed, c.timeWaitSince()+int64(cfg.TimeWait))
		}
		f.Ends[side].State = e.state
	}
	f.LastSeen = nanoTime(c.last())
	f.Handshake = c.handshake()
	if f.Handshake == HandshakeSynUnanswered && f.Ends[Server].State == Unknown {
		// Nothing came back: the server holds no socket for this
		// connection (its SYN queue never kept it, or it never got it).
		f.Ends[Server].State = Closed
	}
	f.Verdict, f.Reason = c.verdict(f, at, cfg)
	c.notes(f, at)
	if finishedBy != "" {
		f.Notes = append(f.Notes, "finished early: "+finishedBy)
	}
	recs := c.zeek.records(c.firstIndex, c.addrs(), fr.zeek[:0])
	if len(recs) > 0 {
		f.ConnState, f.History = recs[0].ConnState, recs[0].History
		f.Zeek = recs
	}
	c.buildLadder(f)
	c.handTimeline(f, fr.timeline[:], true)
	return f
}

func (c *conn) handshake() Handshake {
	cl, sv := &c.ends[Client], &c.ends[Server]
	switch {
	case c.handshakeDone():
		return HandshakeComplete
	case c.is(refused):
		return HandshakeRefused
	case !cl.has(sawSYN):
		return HandshakeNotSeen
	case c.synAckSeen():
		return HandshakeSynAckUnacked
	case c.is(synAckMissing) || c.is(ackMissing):
		return HandshakeComplete
	case cl.state == SynSent || !sv.has(seen):
		return HandshakeSynUnanswered
	}
	return HandshakeNotSeen
}

// verdictNow gives the verdict the flow would have if it were finalized at
// at, without finalizing it. Whatever it sets in the Flow on the way
// (Handshake, ResetBy), finalize sets again.
func (c ref) verdictNow(at int64, cfg *Config) (Verdict, string) {
	var f Flow
	c.flow(&f)
	f.Handshake = c.handshake()
	return c.verdict(&f, at, cfg)
}

// verdict gives the flow's one verdict and its evidence, as of instant at.
// The order of the checks is the precedence: a RST decides first (refused,
// half_open when it answered retransmissions into silence, else reset),
// then the handshake failures, then a side transmitting into silence, then
// the FIN exchange, and an established flow is open.
func (c ref) verdict(f *Flow, at int64, cfg *Config) (Verdict, string) {
	cl, sv := &c.ends[Client], &c.ends[Server]
	var buf [256]byte
	t := text(buf[:0])
	if rst := &c.oddities().rst; rst.accepted {
		by, peer := rst.by, rst.by.Reverse()
		f.ResetBy = PartyOf(by)
		switch {
		case c.is(refused):
			return Refused, t.s("SYN answered with RST after ").dur(rst.time-c.time(tSyn)).
				s(" (").count(f.Client().SYNs, "SYN").s(" sent): nothing listening, or a REJECT rule").String()
		case rst.afterClose:
			f.ResetBy = Nobody
			return Clean, t.s("FINs both ways, each acknowledged; then a RST from the ").s(by.String()).
				s(" (stray packets after close)").String()
		case rst.peerRepeats > 0:
			return HalfOpen, t.s(by.String()).s(" silent ").dur(rst.silence).s(" while the ").s(peer.String()).
				s(" retransmitted ").count(uint64(rst.peerRepeats), "time").s(", then answered with RST: the ").
				s(by.String()).s(" had lost the connection (crash, reboot or state loss)").String()
		case c.synAckSeen() && !c.handshakeDone() && by == Client:
			return Reset, t.s("client answered the SYN-ACK with RST ").dur(rst.time - c.time(tSynAck)).
				s(" later (scan, or client gave up)").String()
		}
		return Reset, t.s("RST from the ").s(by.String()).s(" ").dur(rst.time - c.first).s(" after the first packet; ").
			bytes(f.Client().Bytes).s(" sent by client, ").bytes(f.Server().Bytes).s(" by server").String()
	}
	switch f.Handshake {
	case HandshakeSynUnanswered:
		if n := f.Client().SYNs; n != 1 {
			// The client's first SYN began the flow: a SYN joins no
			// flow begun by anything else (startsNew).
			t = t.count(n, "SYN").s(" over ").dur(cl.last - c.first)
		} else {
			t = t.s("1 SYN") // "over 0 µs" would say nothing
		}
		if x := c.oddities(); x.synSentRSTs > 0 && x.synSentRSTBy == Server {
			return SynUnanswered, t.s(", answered only by ").count(x.synSentRSTs, "RST").s(" ").s(x.synSentRSTWhy).
				s(", which the client in SYN_SENT ignores").String()
		}
		return SynUnanswered, t.s(", no reply from the server").String()
	case HandshakeSynAckUnacked:
		if sv.state == SynRecv {
			return SynAckUnacked, t.s("server sent ").count(f.Server().SYNs, "SYN-ACK").s(" over ").dur(sv.last - c.time(tSynAck)).
				s("; the client never acknowledged (server left in SYN_RECV)").String()
		}
	}
	if v, why, ok := c.halfOpen(f, at, cfg); ok {
		return v, why
	}
	cf, sf := cl.has(finSent), sv.has(finSent)
	switch {
	case cf && sf && cl.has(finAcked) && sv.has(finAcked):
		// Whole strings, not built: most flows are clean.
		switch f.ActiveCloser {
		case ByBoth:
			return Clean, "FINs both ways, each acknowledged; simultaneous close"
		case ByServer:
			return Clean, "FINs both ways, each acknowledged; closed first by the server"
		}
		return Clean, "FINs both ways, each acknowledged; closed first by the client"
	case cf && !cl.has(finAcked), sf && !sv.has(finAcked):
		side := Client
		if !(cf && !cl.has(finAcked)) {
			side = Server
		}
		e := &c.ends[side]
		return UnackedFin, t.s(side.String()).s("'s FIN unacknowledged for ").dur(at-c.time(tFin+timeID(side))).
			s(" (FIN sent ").count(f.Ends[side].FINs, "time").s("); ").s(side.String()).s(" left in ").s(e.state.String()).String()
	case cf || sf:
		closer, peer := Client, Server
		if sf {
			closer, peer = Server, Client
		}
		idle := at - c.time(tFinAck+timeID(closer))
		t = t.s(peer.Reverse().String()).s(" closed ").dur(idle)
		if idle > int64(cfg.FinTimeout) {
			return LingeringFinWait2, t.s(" ago (FIN acknowledged); the ").s(peer.String()).
				s(" never closed, beyond the fin-timeout ").dur(int64(cfg.FinTimeout)).
				s(": its application did not close the socket (CLOSE_WAIT)").String()
		}
		return HalfClosed, t.s(" before the end (FIN acknowledged); the ").s(peer.String()).
			s(" has not closed yet, within the fin-timeout ").dur(int64(cfg.FinTimeout)).String()
	}
	if f.Handshake == HandshakeSynAckUnacked {
		return SynAckUnacked, "the client never acknowledged the server's SYN-ACK"
	}
	return Open, t.s("established, ").bytes(f.Client().Bytes + f.Server().Bytes).s(" exchanged, last packet ").
		dur(at - c.last()).s(" before the end").String()
}

// halfOpen looks for one side that keeps transmitting (retransmissions,
// probes, repeated FINs) while its peer has been silent longer than the
// stall timeout, up to at. A side stuck in LAST_ACK or CLOSING is left to
// unacked_fin: its peer closed first, so its silence is expected.
func (c ref) halfOpen(f *Flow, at int64, cfg *Config) (Verdict, string, bool) {
	for _, side := range [...]Side{Client, Server} {
		x, p := &c.ends[side], &c.ends[side.Reverse()]
		if x.runRepeats == 0 || x.state == LastAck || x.state == Closing || x.state == Closed {
			continue
		}
		since := c.first
		if p.has(seen) {
			since = p.last
		}
		silence := at - since
		// Silent until the end of the capture also counts, when the
		// transmitter was still at it and had repeated itself at least
		// three times (with Linux's exponential backoff that is over a
		// second of unanswered retransmissions). Repeated FINs alone are
		// left to unacked_fin.
		untilEnd := x.runRepeats >= 3 && !x.has(finSent) && c.last() == x.last
		if silence <= int64(cfg.StallTimeout) && !untilEnd {
			continue
		}
		what := "retransmitted"
		if f.Ends[side].KeepAlives+f.Ends[side].ZeroWindowProbes >= uint64(x.runRepeats) {
			what = "probed"
		}
		var buf [256]byte
		t := text(buf[:0]).s(side.Reverse().String()).s(" silent ").dur(silence).s("; ").s(side.String()).
			s(" ").s(what).s(" ").count(uint64(x.runRepeats), "time").s(" into the silence")
		if silence <= int64(cfg.StallTimeout) {
			t = t.s(" until the end of the capture (shorter than the stall-timeout ").dur(int64(cfg.StallTimeout)).
				s(": the wire cannot tell whether the ").s(side.Reverse().String()).s(" would have answered)")
		}
		return HalfOpen, t.String(), true
	}
	return VerdictUnknown, "", false
}

// notes adds the observations the verdict does not need.
func (c ref) notes(f *Flow, at int64) {
	x := c.oddities()
	add := func(format string, args ...any) { f.Notes = append(f.Notes, fmt.Sprintf(format, args...)) }
	if f.RolesInferred {
		add("no SYN captured: client and server inferred from the %s", f.RoleReason)
	}
	if c.is(synAckMissing) {
		add("the client acknowledged a SYN-ACK that was not captured (one-way capture?)")
	}
	if x.synSentRejects > 0 {
		add("%d segment%s to the client in SYN_SENT ignored: wrong ACK or timestamp echo (spoofed, or a stale connection the server still held); the client answers them with RST and keeps waiting",
			x.synSentRejects, plural(x.synSentRejects))
	}
	if x.synSentRSTs > 0 {
		by := x.synSentRSTBy
		add("%d RST%s from the %s %s ignored by the %s in SYN_SENT (RFC 9293 section 3.10.7.3: there a RST counts only if it acknowledges the SYN; Linux drops the others)",
			x.synSentRSTs, plural(x.synSentRSTs), by, x.synSentRSTWhy, by.Reverse())
	}
	if c.zeroAck != Nobody {
		add("the %s, in SYN_SENT with no SYN-ACK captured, sent the ACK bit with ack 0: that acknowledges nothing, so it completes no handshake (and a FIN with it closes nothing)",
			c.zeroAck)
	}
	if c.is(ackMissing) {
		add("the server sent data before the handshake's last ACK was captured")
	}
	if cl, sv := &c.ends[Client], &c.ends[Server]; cl.has(seen) != sv.has(seen) && (cl.has(ackValid) || sv.has(ackValid)) {
		add("only one direction of this flow was captured: the other side's state is a guess")
	}
	if x.synAckISNs > 0 {
		add("%d SYN-ACK%s with an ISN other than the first ignored", x.synAckISNs, plural(x.synAckISNs))
	}
	if x.blindRSTs > 0 {
		b := x.blindExample
		add("%d RST%s outside the receive window ignored (blind or spoofed, RFC 5961); first from the %s, seq %d not in [%d, %d)",
			x.blindRSTs, plural(x.blindRSTs), b.from, uint32(b.seq), uint32(b.lo), uint32(b.hi))
	}
	if x.challengedRSTs > 0 {
		b := x.challengeExample
		add("%d RST%s inside the receive window but not at the expected sequence ignored: Linux answers them with a challenge ACK (RFC 5961 3.2); first from the %s, seq %d, expected %d",
			x.challengedRSTs, plural(x.challengedRSTs), b.from, uint32(b.seq), uint32(b.lo))
	}
	if x.unknownRSTs > 0 {
		add("RST accepted without knowing the receiver's window (connection began before the capture)")
	}
	if x.backwards > 0 {
		add("%d packet%s had timestamps earlier than a previous packet (by up to %s); taken as simultaneous",
			x.backwards, plural(x.backwards), fmtDur(x.maxBack))
	}
	for side := range c.ends {
		ep := &f.Ends[side]
		if ep.Duplicates > 0 {
			add("%d packet%s from the %s captured twice (SPAN or capture on both ends), counted but not analysed",
				ep.Duplicates, plural(ep.Duplicates), Side(side))
		}
	}
	// When the capture ended right after the deciding event, the wire
	// cannot tell what came next: say so rather than guess silently.
	const soon = int64(time.Second)
	switch f.Verdict {
	case UnackedFin, HalfClosed:
		if at-c.last() < soon {
			add("the capture ended %s after the last packet: later packets (an ACK, the peer's FIN) may simply not have been captured", fmtDur(at-c.last()))
		}
	case SynUnanswered, SynAckUnacked:
		if at-c.last() < soon {
			add("the capture ended %s after the last packet: a late reply cannot be excluded", fmtDur(at-c.last()))
		}
	case LingeringFinWait2:
		add("Linux drops an orphaned FIN_WAIT2 socket after tcp_fin_timeout; the closer may be CLOSED already if its application closed it")
	}
}

func plural(n uint64) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// text builds a Reason with strconv appends, usually into a buffer on the
// caller's stack, so that the string is its one allocation: fmt.Sprintf
// would make one per argument it boxes and per duration formatted apart,
// and every flow gets a Reason.
type text []byte

func (t text) s(s string) text { return append(t, s...) }

// count appends n and noun, in the plural unless n is 1: "3 SYNs".
func (t text) count(n uint64, noun string) text {
	return text(append(strconv.AppendUint(t, n, 10), ' ')).s(noun).s(plural(n))
}

func (t text) dur(ns int64) text   { return appendDur(t, ns) }
func (t text) bytes(n uint64) text { return appendBytes(t, n) }
func (t text) String() string      { return string(t) }

// fmtDur prints a duration in nanoseconds for a person: "4.1 s", "250 ms".
func fmtDur(ns int64) string {
	var b [24]byte
	return string(appendDur(b[:0], ns))
}

// appendDur appends fmtDur(ns) to b.
func appendDur(b []byte, ns int64) []byte {
	d := time.Duration(ns)
	switch {
	case d < 0:
		return appendDur(append(b, '-'), -ns)
	case d < time.Millisecond:
		return append(strconv.AppendInt(b, d.Microseconds(), 10), " µs"...)
	case d < time.Second:
		return append(strconv.AppendFloat(b, float64(d)/float64(time.Millisecond), 'f', 1, 64), " ms"...)
	case d < 100*time.Second:
		return append(strconv.AppendFloat(b, d.Seconds(), 'f', 1, 64), " s"...)
	case d < time.Hour:
		return append(strconv.AppendFloat(b, d.Seconds(), 'f', 0, 64), " s"...)
	}
	return append(b, d.Round(time.Second).String()...)
}

// appendBytes appends a byte count for a person: "740 B", "1.2 MB".
func appendBytes(b []byte, n uint64) []byte {
	switch {
	case n < 1000:
		return append(strconv.AppendUint(b, n, 10), " B"...)
	case n < 1000_000:
		return append(strconv.AppendFloat(b, float64(n)/1e3, 'f', 1, 64), " kB"...)
	case n < 1000_000_000:
		return append(strconv.AppendFloat(b, float64(n)/1e6, 'f', 1, 64), " MB"...)
	}
	return append(strconv.AppendFloat(b, float64(n)/1e9, 'f', 1, 64), " GB"...)
}
