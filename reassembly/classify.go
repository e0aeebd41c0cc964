package reassembly

import (
	"fmt"
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
	closed := c.oddities().rst.accepted || c.ends[Client].finSent || c.ends[Server].finSent
	fromClient := c.addr.is(Client, seg.Src)
	cl, sv := &c.ends[Client], &c.ends[Server]
	if seg.Flags.Has(capture.ACK) {
		return closed && !c.ends[Client].seen
	}
	switch {
	case closed:
		return true
	case fromClient && cl.sawSYN:
		return Seq(seg.Seq) != cl.isn
	case !fromClient && cl.state == SynSent && !sv.sawSYN:
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

// finalize classifies the flow as of instant at and returns the Flow,
// with everything it reports. finishedBy says why the flow left the table
// early ("" when it did not), for Notes.
func (c ref) finalize(at int64, cfg *Config, finishedBy string) *Flow {
	f := c.flow()
	for side := range c.ends {
		e := &c.ends[side]
		if e.state == TimeWait && at-c.timeWaitSince() >= int64(cfg.TimeWait) {
			c.setState(Side(side), Closed, c.timeWaitSince()+int64(cfg.TimeWait))
		}
		f.Ends[side].State = e.state
	}
	f.LastSeen = nanoTime(c.last)
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
	recs := c.zeek.records(c.firstIndex, &c.addr)
	if len(recs) > 0 {
		f.ConnState, f.History = recs[0].ConnState, recs[0].History
		f.Zeek = recs
	}
	c.buildLadder(f)
	c.handTimeline(f)
	return f
}

func (c *conn) handshake() Handshake {
	cl, sv := &c.ends[Client], &c.ends[Server]
	switch {
	case c.handshakeDone:
		return HandshakeComplete
	case c.refused:
		return HandshakeRefused
	case !cl.sawSYN:
		return HandshakeNotSeen
	case c.synAckSeen:
		return HandshakeSynAckUnacked
	case c.synAckMissing || c.ackMissing:
		return HandshakeComplete
	case cl.state == SynSent || !sv.seen:
		return HandshakeSynUnanswered
	}
	return HandshakeNotSeen
}

// verdictNow gives the verdict the flow would have if it were finalized at
// at, without finalizing it. Whatever it sets in the Flow on the way
// (Handshake, ResetBy), finalize sets again.
func (c ref) verdictNow(at int64, cfg *Config) (Verdict, string) {
	f := c.flow() // dropped afterwards
	f.Handshake = c.handshake()
	return c.verdict(f, at, cfg)
}

// verdict gives the flow's one verdict and its evidence, as of instant at.
// The order of the checks is the precedence: a RST decides first (refused,
// half_open when it answered retransmissions into silence, else reset),
// then the handshake failures, then a side transmitting into silence, then
// the FIN exchange, and an established flow is open.
func (c ref) verdict(f *Flow, at int64, cfg *Config) (Verdict, string) {
	cl, sv := &c.ends[Client], &c.ends[Server]
	if rst := &c.oddities().rst; rst.accepted {
		by, peer := rst.by, rst.by.Reverse()
		f.ResetBy = PartyOf(by)
		switch {
		case c.refused:
			return Refused, fmt.Sprintf("SYN answered with RST after %s (%d SYN%s sent): nothing listening, or a REJECT rule",
				fmtDur(rst.time-cl.synTime), f.Client().SYNs, plural(f.Client().SYNs))
		case rst.afterClose:
			f.ResetBy = Nobody
			return Clean, fmt.Sprintf("FINs both ways, each acknowledged; then a RST from the %s (stray packets after close)", by)
		case rst.peerRepeats > 0:
			return HalfOpen, fmt.Sprintf("%s silent %s while the %s retransmitted %d time%s, then answered with RST: the %s had lost the connection (crash, reboot or state loss)",
				by, fmtDur(rst.silence), peer, rst.peerRepeats, plural(uint64(rst.peerRepeats)), by)
		case c.synAckSeen && !c.handshakeDone && by == Client:
			return Reset, fmt.Sprintf("client answered the SYN-ACK with RST %s later (scan, or client gave up)", fmtDur(rst.time-c.synAckTime))
		}
		return Reset, fmt.Sprintf("RST from the %s %s after the first packet; %s sent by client, %s by server",
			by, fmtDur(rst.time-c.first), fmtBytes(f.Client().Bytes), fmtBytes(f.Server().Bytes))
	}
	switch f.Handshake {
	case HandshakeSynUnanswered:
		reply := "no reply from the server"
		if x := c.oddities(); x.synSentRSTs > 0 && x.synSentRSTBy == Server {
			reply = fmt.Sprintf("answered only by %d RST%s %s, which the client in SYN_SENT ignores",
				x.synSentRSTs, plural(x.synSentRSTs), x.synSentRSTWhy)
		}
		syns := "1 SYN" // "over 0 µs" would say nothing
		if n := f.Client().SYNs; n != 1 {
			// The client's first SYN began the flow: a SYN joins no
			// flow begun by anything else (startsNew).
			syns = fmt.Sprintf("%d SYNs over %s", n, fmtDur(cl.last-c.first))
		}
		return SynUnanswered, syns + ", " + reply
	case HandshakeSynAckUnacked:
		if sv.state == SynRecv {
			return SynAckUnacked, fmt.Sprintf("server sent %d SYN-ACK%s over %s; the client never acknowledged (server left in SYN_RECV)",
				f.Server().SYNs, plural(f.Server().SYNs), fmtDur(sv.last-c.synAckTime))
		}
	}
	if v, why, ok := c.halfOpen(f, at, cfg); ok {
		return v, why
	}
	cf, sf := cl.finSent, sv.finSent
	closer := Client
	if f.ActiveCloser == ByServer {
		closer = Server
	}
	switch {
	case cf && sf && cl.finAcked && sv.finAcked:
		how := "closed first by the " + closer.String()
		if f.ActiveCloser == ByBoth {
			how = "simultaneous close"
		}
		return Clean, "FINs both ways, each acknowledged; " + how
	case cf && !cl.finAcked, sf && !sv.finAcked:
		side := Client
		if !(cf && !cl.finAcked) {
			side = Server
		}
		e := &c.ends[side]
		return UnackedFin, fmt.Sprintf("%s's FIN unacknowledged for %s (FIN sent %d time%s); %s left in %s",
			side, fmtDur(at-e.finTime), f.Ends[side].FINs, plural(f.Ends[side].FINs), side, e.state)
	case cf || sf:
		e, peer := cl, Server
		if sf {
			e, peer = sv, Client
		}
		idle := at - e.finAckTime
		if idle > int64(cfg.FinTimeout) {
			return LingeringFinWait2, fmt.Sprintf("%s closed %s ago (FIN acknowledged); the %s never closed, beyond the fin-timeout %s: its application did not close the socket (CLOSE_WAIT)",
				peer.Reverse(), fmtDur(idle), peer, fmtDur(int64(cfg.FinTimeout)))
		}
		return HalfClosed, fmt.Sprintf("%s closed %s before the end (FIN acknowledged); the %s has not closed yet, within the fin-timeout %s",
			peer.Reverse(), fmtDur(idle), peer, fmtDur(int64(cfg.FinTimeout)))
	}
	if f.Handshake == HandshakeSynAckUnacked {
		return SynAckUnacked, "the client never acknowledged the server's SYN-ACK"
	}
	return Open, fmt.Sprintf("established, %s exchanged, last packet %s before the end",
		fmtBytes(f.Client().Bytes+f.Server().Bytes), fmtDur(at-c.last))
}

// halfOpen looks for one side that keeps transmitting (retransmissions,
// probes, repeated FINs) while its peer has been silent longer than the
// stall timeout, up to at. A side stuck in LAST_ACK or CLOSING is left to
// unacked_fin: its peer closed first, so its silence is expected.
func (c *conn) halfOpen(f *Flow, at int64, cfg *Config) (Verdict, string, bool) {
	for _, side := range [...]Side{Client, Server} {
		x, p := &c.ends[side], &c.ends[side.Reverse()]
		if x.runRepeats == 0 || x.state == LastAck || x.state == Closing || x.state == Closed {
			continue
		}
		since := c.first
		if p.seen {
			since = p.last
		}
		silence := at - since
		// Silent until the end of the capture also counts, when the
		// transmitter was still at it and had repeated itself at least
		// three times (with Linux's exponential backoff that is over a
		// second of unanswered retransmissions). Repeated FINs alone are
		// left to unacked_fin.
		untilEnd := x.runRepeats >= 3 && !x.finSent && c.last == x.last
		if silence <= int64(cfg.StallTimeout) && !untilEnd {
			continue
		}
		what := "retransmitted"
		if f.Ends[side].KeepAlives+f.Ends[side].ZeroWindowProbes >= uint64(x.runRepeats) {
			what = "probed"
		}
		why := fmt.Sprintf("%s silent %s; %s %s %d time%s into the silence",
			side.Reverse(), fmtDur(silence), side, what, x.runRepeats, plural(uint64(x.runRepeats)))
		if silence <= int64(cfg.StallTimeout) {
			why += fmt.Sprintf(" until the end of the capture (shorter than the stall-timeout %s: the wire cannot tell whether the %s would have answered)",
				fmtDur(int64(cfg.StallTimeout)), side.Reverse())
		}
		return HalfOpen, why, true
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
	if c.synAckMissing {
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
	if c.ackMissing {
		add("the server sent data before the handshake's last ACK was captured")
	}
	if cl, sv := &c.ends[Client], &c.ends[Server]; cl.seen != sv.seen && (cl.ackValid || sv.ackValid) {
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
		if at-c.last < soon {
			add("the capture ended %s after the last packet: later packets (an ACK, the peer's FIN) may simply not have been captured", fmtDur(at-c.last))
		}
	case SynUnanswered, SynAckUnacked:
		if at-c.last < soon {
			add("the capture ended %s after the last packet: a late reply cannot be excluded", fmtDur(at-c.last))
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

// fmtDur prints a duration in nanoseconds for a person: "4.1 s", "250 ms".
func fmtDur(ns int64) string {
	d := time.Duration(ns)
	switch {
	case d < 0:
		return "-" + fmtDur(-ns)
	case d < time.Millisecond:
		return fmt.Sprintf("%d µs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	case d < 100*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%.0f s", d.Seconds())
	}
	return d.Round(time.Second).String()
}

func fmtBytes(n uint64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1000_000:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	case n < 1000_000_000:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%.1f GB", float64(n)/1e9)
}
