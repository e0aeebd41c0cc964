package reassembly

import (
	"encoding/binary"
	"math"
	"time"

	"github.com/tcpaudit/tcpaudit/capture"
)

// conn is a flow being tracked: what the Flow it will hand out needs, plus
// everything needed to keep inferring states from later packets.
//
// State changes follow RFC 9293 section 3.10 ("Event Processing"), applied at
// the capture point: a segment changes its sender's state when it is sent and
// its receiver's state when it is received, and at the capture point both
// happen at the wire time of the packet. The approximation is off by at most
// one one-way delay, the capture point's distance to each host.
//
// A conn is in a slot of its table's slabs (slab.go) per open flow, and
// holds no pointer; there is no Flow until it ends (finalize builds it): it
// keeps no key for the index (see hash) nor the addresses in its Zeek
// records, nothing only its end needs (why it finished); its Zeek tracker
// is beside it in the slot, and what only unusual flows need (oddities,
// sequence holes, a long timeline) and the ladder are in its side data
// (connSide), allocated at the first such event; its small fields are
// grouped so that none is padded.
type conn struct {
	// Fields are ordered by alignment, so that none is padded.

	// firstIndex and roles are the Flow's FirstIndex and RoleReason;
	// first is its FirstSeen (its LastSeen is the ends', see last).
	firstIndex uint64
	ends       [2]endTrack

	first int64

	// addr, ep and flags are the Flow's Ends while the flow is tracked:
	// their addresses, the counters most flows need (oddities has the
	// rest; endTrack the ISNs), and the SYNs, FINs and RSTs per end.
	ep [2]endCounts
	// times are the flow's other times, named by timeID, in 32 bits each.
	times [nTimes]stamp

	// Links of the table's recency list (see connList), or of its free
	// slots (slabs).
	prev, next handle

	// id and lastOff are the Flow's ID and LastIndex, the latter less
	// firstIndex, in 32 bits (see ref.id and ref.lastIndex).
	id, lastOff uint32

	addr  connAddrs
	flags flagCounts

	// Whether a SYN-ACK was seen and the handshake done are whether
	// times tSynAck and tRTT are set (see synAckSeen).
	facts        connFacts
	zeroAck      Party // see below
	activeCloser Party // the Flow's ActiveCloser, Nobody until a FIN
	roles        roleReason
	list         listID // the recency list it is on
	// tl is the Flow's Timeline, encoded (appendTransition), its first ntl
	// bytes; a longer one is in the side data (ntl is then tlSide).
	ntl uint8
	tl  [timelineInline]byte
	// zeroAck (above) is the end that, in SYN-SENT with no SYN-ACK
	// captured, sent the ACK bit with ack 0: it acknowledges nothing
	// (Nobody if none).
}

// connFacts are what is known of a flow, yes or no, a bit each: as
// bools they took four bytes more of every conn (issue 5's memory per
// flow).
type connFacts uint8

const (
	synAckMissing connFacts = 1 << iota // the client acknowledged a SYN-ACK we never saw
	refused                             // an end in SYN-SENT took a RST before any SYN-ACK
	settled                             // Table.OnSettled was told of it
	ackMissing                          // a SYN_RECV end sent data: the ACK was not captured
)

// is reports whether f is known of c.
func (c *conn) is(f connFacts) bool { return c.facts&f != 0 }

func (c *conn) mark(f connFacts) { c.facts |= f }

// last returns the time of the flow's latest packet: its ends' latest,
// as the table's times never go back (an end's last is first until it
// sends), kept by them rather than again here.
func (c *conn) last() int64 { return max(c.ends[Client].last, c.ends[Server].last) }

// synAckSeen reports whether a SYN-ACK was seen, when its time is set (a
// set stamp is never 0).
func (c *conn) synAckSeen() bool { return c.times[tSynAck] != 0 }

// handshakeDone reports whether the handshake completed, when the RTT is
// set.
func (c *conn) handshakeDone() bool { return c.times[tRTT] != 0 }

// oddities are a flow's rarely needed counters: RSTs that were ignored,
// segments SYN-SENT rejected, timestamps going backwards. They are allocated
// at the first such event (see connSide) and read, at the flow's end, from
// conn.oddities, which stands in a zero value when there were none.
//
// Fields are ordered by size, so that no padding is kept.
type oddities struct {
	// synSentRejects counts segments an end in SYN-SENT would drop and
	// answer with a RST (RFC 9293 p. 66-67): a bad ACK or timestamp echo.
	// rejectAck is the ACK of the latest, which that RST carries as its seq.
	synSentRejects uint64
	synAckISNs     uint64 // SYN-ACKs with an ISN other than the first one
	blindRSTs      uint64
	// challengedRSTs counts RSTs inside the receive window but not at
	// RCV.NXT, which RFC 5961 answers with a challenge ACK.
	challengedRSTs uint64
	unknownRSTs    uint64
	backwards      uint64
	maxBack        int64
	// synSentRSTs counts RSTs an end in SYN-SENT ignored because they did
	// not acknowledge its SYN (RFC 9293 p. 67); the first came from
	// synSentRSTBy and synSentRSTWhy says how it failed.
	synSentRSTs   uint64
	synSentRSTWhy string
	// notes are the Flow's Notes written while it is tracked (TIME_WAIT
	// cut short); the rest are written when it finishes.
	notes []string
	// ends counts what only unusual flows have, for the Flow's Ends.
	ends [2]repeatCounts
	// rst is the RST that ended the flow: most flows end without one.
	rst              rstInfo
	blindExample     blindRST
	challengeExample blindRST
	rejectAck        Seq
	synSentRSTBy     Side
}

// endCounts are the counters of an Endpoint every flow needs, named as
// there, in 32 bits: an end that sends 4 GiB or 2^32 packets keeps the
// carries in its flow's side data (wideFields.high).
type endCounts struct{ Packets, Bytes, WireBytes uint32 }

// flagCounts count each end's SYNs, FINs and RSTs (flagSYN, flagFIN,
// flagRST) in 4 bits, byte k holding the client's count of k in its low
// half and the server's in its high half: more than 15 of one is for SYNs
// retransmitted to a silent peer or broken or hostile flows, which count
// the rest in their side data (wideFields.flags). Three bytes, not six, of
// every conn (issue 5's memory per flow).
type flagCounts [3]uint8

// flagMax is the most of one kind flagCounts holds.
const flagMax = 15

// get returns end side's count of kind k.
func (f *flagCounts) get(side Side, k int) uint8 { return f[k] >> (4 * side) & flagMax }

const (
	flagSYN = iota
	flagFIN
	flagRST
)

// wideFields are what a conn's narrow fields hold beyond their width:
// the high 32 bits of endCounts, the flags counted past 15, which stay at
// their maximum rather than wrap (a flag's count stops at 2^32-1 in all),
// the times no stamp holds (stampSide), and the ID and last packet number
// that conn.id and conn.lastOff do not (wideIndex).
type wideFields struct {
	high      [2]endCounts
	flags     [2][3]uint32
	times     [nTimes]int64
	id        uint64
	lastIndex uint64
}

// wideIndex in conn.id or conn.lastOff says the value is in wideFields:
// the 2^32-1st flow of a table and those after it, and a last packet
// 2^32-1 or more packets after the first (or, from a reader that numbers
// packets otherwise, before it).
const wideIndex = math.MaxUint32

// setID sets the flow's ID.
func (c ref) setID(id uint64) {
	c.id = wideIndex
	if id < wideIndex {
		c.id = uint32(id)
		return
	}
	c.wideOnce().id = id
}

// flowID returns the flow's ID.
func (c ref) flowID() uint64 {
	if c.id == wideIndex {
		return c.wideData().id
	}
	return uint64(c.id)
}

// setLastIndex records i as the capture number of the flow's latest packet.
func (c ref) setLastIndex(i uint64) {
	if d := i - c.firstIndex; d < wideIndex {
		c.lastOff = uint32(d)
		return
	}
	c.lastOff = wideIndex
	c.wideOnce().lastIndex = i
}

// lastIndex returns the capture number of the flow's latest packet:
// firstIndex before add's first packet records one.
func (c ref) lastIndex() uint64 {
	if c.lastOff == wideIndex {
		return c.wideData().lastIndex
	}
	return c.firstIndex + uint64(c.lastOff)
}

// wideOnce returns c's wide fields, allocating them at the first need.
func (c ref) wideOnce() *wideFields { return once(&c.sideOnce().wide) }

// wideData returns c's wide fields for reading; never nil.
func (c ref) wideData() *wideFields {
	if x := c.side; x != nil && x.wide != nil {
		return x.wide
	}
	return &noWideFields
}

// noWideFields is what ref.wideData returns for a flow without any: read
// only.
var noWideFields wideFields

// add counts a segment of plen payload bytes and wire bytes, and reports
// whether a counter wrapped (see ref.carry).
func (n *endCounts) add(plen, wire uint32) bool {
	n.Packets++
	n.Bytes += plen
	n.WireBytes += wire
	return n.Packets == 0 || n.Bytes < plen || n.WireBytes < wire
}

// carry adds to their high halves the carries of end from's counters,
// which just counted a segment of plen payload bytes and wire bytes: a
// counter that wrapped is below what it added.
func (c ref) carry(from Side, plen, wire uint32) {
	n, h := &c.ep[from], &c.wideOnce().high[from]
	if n.Packets == 0 {
		h.Packets++
	}
	if n.Bytes < plen {
		h.Bytes++
	}
	if n.WireBytes < wire {
		h.WireBytes++
	}
}

// bump adds one to end from's count of flag k.
func (c ref) bump(from Side, k int) {
	if c.flags.get(from, k) != flagMax {
		c.flags[k] += 1 << (4 * from)
		return
	}
	if n := &c.wideOnce().flags[from][k]; *n != math.MaxUint32-flagMax {
		*n++
	}
}

// packets returns how many packets end side sent.
func (c ref) packets(side Side) uint64 {
	return wide(c.ep[side].Packets, c.wideData().high[side].Packets)
}

func wide(low, high uint32) uint64 { return uint64(high)<<32 | uint64(low) }

// repeatCounts are the counters of an Endpoint only unusual flows need,
// named as there.
type repeatCounts struct{ Retransmits, KeepAlives, ZeroWindowProbes, Duplicates, OutOfOrder uint64 }

// noOddities is what conn.oddities returns for a flow without any: read
// only.
var noOddities oddities

// oddOnce returns c's oddities for recording one, allocating them at the first.
func (c ref) oddOnce() *oddities { return once(&c.sideOnce().odd) }

// once returns *p, allocating it at the first need: what only unusual
// flows need is kept behind pointers that most flows leave nil.
func once[T any](p **T) *T {
	if *p == nil {
		*p = new(T)
	}
	return *p
}

// oddities returns c's oddities for reading; never nil, never to be written.
func (c ref) oddities() *oddities {
	if x := c.side; x != nil && x.odd != nil {
		return x.odd
	}
	return &noOddities
}

// rstInfo is the first RST that was accepted (in window).
type rstInfo struct {
	time int64
	// silence is how long the RST sender had been silent before it.
	silence int64
	// peerRepeats is how many retransmissions or probes the RST's receiver
	// had sent into the RST sender's silence just before it.
	peerRepeats uint32
	accepted    bool
	by          Side
	// afterClose is set when both FINs had been acknowledged before.
	afterClose bool
}

// blindRST describes the first RST ignored as outside the receive window.
type blindRST struct {
	from   Side
	seq    Seq
	lo, hi Seq
}

func nanoTime(t int64) time.Time { return time.Unix(0, t).UTC() }

// setState moves one end to st and records the transition.
func (c ref) setState(side Side, st State, t int64) {
	e := &c.ends[side]
	if e.state == st {
		return
	}
	if c.cs != nil {
		c.cs.change(c, side, e.state, st, t)
	}
	e.state = st
	c.appendTimeline(t-c.first, side, st)
}

// timeWaitSince is when an end in TIME_WAIT entered it: when the later of
// the two FINs was acknowledged, as only that ACK moves an end there
// (onACK), so it need not be kept per end.
func (c ref) timeWaitSince() int64 {
	return max(c.time(tFinAck+timeID(Client)), c.time(tFinAck+timeID(Server)))
}

// A tracked flow's timeline is, per transition, a byte of state, side and
// flags, then a varint of its time since the transition before (since the
// flow's first packet for the first; time tTimeline keeps the latest), in
// microseconds when it is a whole number of them (tlMicro; as in most
// captures); a transition at the time of the one before (one segment
// moves both ends, as an acknowledged FIN does) is its byte alone
// (tlSame). A transition is 1 to 11 bytes instead of a 32-byte Transition
// (issue 5), and a flow's ten transitions from the handshake to TIME_WAIT
// take 23 bytes, where times since the first packet took 35.
const (
	tlMicro = 1 << 1
	tlSame  = 1 << 2
	// A transition's byte has its side in bit 0, its state from bit 3.
	tlStateShift = 3
)

// timelineInline is the room for a timeline in the conn: enough for the
// transitions of most flows, from the handshake to the close (half an
// hour apart, TestTimelineInline: stamps keep later times in the side
// data); tlSide in conn.ntl says the timeline outgrew it.
const (
	timelineInline = 25
	tlSide         = 0xff
)

// maxTransition is the longest encoding of a transition.
const maxTransition = 1 + binary.MaxVarintLen64

// appendTransition encodes a transition d after the one before it.
func appendTransition(b []byte, d int64, side Side, st State) []byte {
	h := byte(st)<<tlStateShift | byte(side)
	if d == 0 {
		return append(b, h|tlSame)
	}
	if d%1000 == 0 {
		d, h = d/1000, h|tlMicro
	}
	return binary.AppendUvarint(append(b, h), uint64(d))
}

// appendTimeline adds a transition to c's timeline, moving it to the side
// data when it outgrows tl.
func (c ref) appendTimeline(since int64, side Side, st State) {
	d := since
	if c.ntl != 0 {
		d -= c.time(tTimeline) - c.first
	}
	if d != 0 || c.ntl == 0 {
		c.setTime(tTimeline, c.first+since)
	}
	if c.ntl != tlSide {
		var b [maxTransition]byte
		e := appendTransition(b[:0], d, side, st)
		if int(c.ntl)+len(e) <= len(c.tl) {
			c.ntl += uint8(copy(c.tl[c.ntl:], e))
			return
		}
		c.sideOnce().timeline = append(make([]byte, 0, 2*len(c.tl)), c.tl[:c.ntl]...)
		c.ntl = tlSide
	}
	x := c.side
	x.timeline = appendTransition(x.timeline, d, side, st)
}

// timeline returns c's encoded timeline.
func (c ref) timeline() []byte {
	if c.ntl == tlSide {
		return c.side.timeline
	}
	return c.tl[:c.ntl]
}

// readSince decodes the time since the flow's first packet of the
// transition at the start of b, the one before it being at prev, and
// returns the rest of b after the transition.
func readSince(b []byte, prev int64) (int64, []byte) {
	h := b[0]
	if h&tlSame != 0 {
		return prev, b[1:]
	}
	v, b := uvarint(b[1:])
	d := int64(v)
	if h&tlMicro != 0 {
		d *= 1000
	}
	return prev + d, b
}

// readTransition decodes the transition at the start of b, of a flow whose
// first packet was at first, the one before it being at prev since then;
// it returns the transition's time since first and the rest of b.
func readTransition(b []byte, first, prev int64) (Transition, int64, []byte) {
	h := b[0]
	since, b := readSince(b, prev)
	tr := Transition{Time: nanoTime(first + since), Side: Side(h & 1), State: State(h >> tlStateShift)}
	return tr, since, b
}

// flow fills f, a zero Flow, from what the tracked flow kept of it, for
// finalize to complete; its Timeline is handTimeline's. It sets fields one by one: a Flow literal would
// be built apart and copied.
func (c ref) flow(f *Flow) {
	f.ID, f.RolesInferred, f.RoleReason = c.flowID(), c.roles != roleBySYN, c.roles.String()
	f.FirstSeen, f.FirstIndex, f.LastIndex = nanoTime(c.first), c.firstIndex, c.lastIndex()
	f.RTT, f.ActiveCloser = time.Duration(c.time(tRTT)), c.activeCloser
	x, w := c.oddities(), c.wideData()
	for side := range f.Ends {
		e, n, r, tr := &f.Ends[side], &c.ep[side], &x.ends[side], &c.ends[side]
		h, hf := &w.high[side], &w.flags[side]
		e.Addr, e.ISN, e.SawSYN = c.addrs().get(Side(side)), uint32(tr.isn), tr.has(sawSYN)
		e.Packets, e.Bytes, e.WireBytes = wide(n.Packets, h.Packets), wide(n.Bytes, h.Bytes), wide(n.WireBytes, h.WireBytes)
		fl := func(k int) uint64 { return uint64(c.flags.get(Side(side), k)) + uint64(hf[k]) }
		e.SYNs, e.FINs, e.RSTs = fl(flagSYN), fl(flagFIN), fl(flagRST)
		e.Retransmits, e.KeepAlives, e.ZeroWindowProbes = r.Retransmits, r.KeepAlives, r.ZeroWindowProbes
		e.Duplicates, e.OutOfOrder = r.Duplicates, r.OutOfOrder
	}
	if len(x.notes) > 0 {
		f.Notes = append([]string(nil), x.notes...)
	}
}

// handTimeline adds the tracked transitions to the Flow's Timeline, and
// empties the conn's, once the flow is finished, decoding them once: into
// room when they fit (finalize gives the room most flows need), else into
// a slice of their exact number. finalize hands them in two goes (see
// there); last, on the second, gives the Timeline its length as capacity.
func (c ref) handTimeline(f *Flow, room []Transition, last bool) {
	tl := f.Timeline
	if tl == nil {
		tl = room[:0]
	}
	var since int64
	for b := c.timeline(); len(b) > 0; {
		if len(tl) == cap(tl) {
			tl = append(make([]Transition, 0, len(tl)+transitions(b)), tl...)
		}
		var tr Transition
		tr, since, b = readTransition(b, c.first, since)
		tl = append(tl, tr)
	}
	f.Timeline = tl
	if last {
		f.Timeline = tl[:len(tl):len(tl)]
	}
	if c.ntl == tlSide {
		c.side.timeline = nil
	}
	c.ntl = 0
}

// transitions counts the transitions encoded in b.
func transitions(b []byte) (n int) {
	for ; len(b) > 0; n++ {
		_, b = readSince(b, 0)
	}
	return n
}

// scaleKnown reports whether both SYNs were seen, so that window scaling
// (RFC 7323 section 2.2) is known for both ends.
func (c *conn) scaleKnown() bool { return c.ends[Client].has(sawSYN) && c.ends[Server].has(sawSYN) }

// add applies one segment sent by side from at time t (already made
// monotonic by the table). It does not allocate unless a state changes.
func (c ref) add(seg *capture.Segment, from Side, t int64) {
	to := from.Reverse()
	s, r := &c.ends[from], &c.ends[to]
	if c.ep[from].add(seg.PayloadLen, seg.WireLen) {
		c.carry(from, seg.PayloadLen, seg.WireLen)
	}
	fl := seg.Flags
	if fl.Has(capture.SYN) {
		c.bump(from, flagSYN)
	}
	if fl.Has(capture.FIN) {
		c.bump(from, flagFIN)
	}
	if fl.Has(capture.RST) {
		c.bump(from, flagRST)
	}
	c.recordLadder(seg, from, t)
	c.zeek.add(seg, from, t-c.first, c.firstIndex, c.addrs())
	c.setLastIndex(seg.Index)
	if s.isDuplicate(seg, t) {
		c.oddOnce().ends[from].Duplicates++
		s.sentAt(t)
		return
	}
	if fl.Has(capture.SYN) && !fl.Has(capture.ACK) {
		// A SYN solicits a SYN-ACK: Linux in SYN-RECEIVED answers a
		// retransmitted SYN with a SYN-ACK identical to the one its timer
		// sent a moment before. That one is an answer, not a copy.
		r.sigHash = 0
	}
	if fl.Has(capture.RST) {
		c.onRST(seg, from, t)
		s.sentAt(t)
		return
	}

	if c.rejectedInSynSent(seg, from) {
		s.sentAt(t)
		return
	}
	kind := s.classify(seg, r, holeRef{c, from})
	if s.state == SynRecv && seg.PayloadLen > 0 && !fl.Has(capture.SYN) {
		// Data from SYN-RECEIVED: the handshake's last ACK was not captured
		// (one-way capture), or TCP Fast Open let the server speak first.
		c.mark(ackMissing)
		c.setState(from, Established, t)
		if r.state == SynSent || r.state == Unknown {
			c.setState(to, Established, t)
		}
	}
	switch kind {
	case kindRetransmit:
		c.oddOnce().ends[from].Retransmits++
	case kindKeepAlive:
		c.oddOnce().ends[from].KeepAlives++
	case kindZeroWindowProbe:
		c.oddOnce().ends[from].ZeroWindowProbes++
	case kindOutOfOrder:
		c.oddOnce().ends[from].OutOfOrder++
	}
	// Silence bookkeeping for half_open: a repeat only counts when it asks
	// for something the peer has not acknowledged yet.
	if kind.repeat() && (kind != kindRetransmit || !r.has(ackValid) ||
		r.ack.LessThan(Seq(seg.Seq).Add(Size(seg.SeqLen())))) {
		s.runRepeats++
	}
	r.runRepeats = 0

	if fl.Has(capture.SYN) {
		s.wscale = seg.WScale
	}
	// RFC 7323 section 2.2: the window of a SYN is never scaled, so it is
	// exact as it stands.
	s.win = uint32(seg.Window)
	s.setTo(winScaled, fl.Has(capture.SYN))
	if !fl.Has(capture.SYN) && c.scaleKnown() {
		// RFC 7323 section 2.3: scaling applies only if both SYNs offered it.
		if s.wscale > 0 && r.wscale >= 0 {
			s.win <<= uint(min(s.wscale, 14))
		}
		s.set(winScaled)
	}

	if fl.Has(capture.SYN) && !c.onSYN(seg, from, t) {
		s.sentAt(t)
		return
	}
	if fl.Has(capture.ACK) {
		c.onACK(seg, from, t)
	}
	// A FIN with the ACK bit from an end its ACK left in SYN-SENT closes
	// nothing: the sender claims a handshake the wire does not show, and
	// RFC 9293 p. 60 has a CLOSE in SYN-SENT send no FIN at all.
	if fl.Has(capture.FIN) && !s.has(finSent) && !(fl.Has(capture.ACK) && s.state == SynSent) {
		c.onFIN(seg, from, t)
	}
	s.sentAt(t)
}

// onSYN handles a SYN or SYN-ACK sent by from. It returns false for a
// SYN-ACK with another ISN than the first, which is ignored.
func (c ref) onSYN(seg *capture.Segment, from Side, t int64) bool {
	to := from.Reverse()
	s, r := &c.ends[from], &c.ends[to]
	if from == Client {
		c.setTime(tSyn, t)
	}
	if !seg.Flags.Has(capture.ACK) {
		if !s.has(sawSYN) {
			s.set(sawSYN)
			s.isn = Seq(seg.Seq)
			s.setTo(synTS, seg.HasTS)
			s.synTSFirst = seg.TSVal
		}
		s.synTSLast = seg.TSVal
		// RFC 9293 p. 54 (OPEN call): CLOSED -> SYN-SENT.
		if s.state == Unknown || s.state == Closed {
			c.setState(from, SynSent, t)
		}
		// RFC 9293 p. 68: SYN-SENT receiving a SYN is a simultaneous open.
		if r.state == SynSent {
			c.setState(to, SynRecv, t)
		}
		return true
	}
	if s.has(sawSYN) && Seq(seg.Seq) != s.isn {
		c.oddOnce().synAckISNs++ // a SYN-ACK with another ISN: ignored, noted
		return false
	}
	if !s.has(sawSYN) {
		s.set(sawSYN)
		s.isn = Seq(seg.Seq)
	}
	if !c.synAckSeen() {
		c.setTime(tSynAck, t)
	}
	// RFC 9293 p. 65: LISTEN receiving a SYN answers SYN,ACK -> SYN-RECEIVED.
	// The client moves to ESTABLISHED when it shows it got the SYN-ACK, by
	// acknowledging it (onACK): a spoofed SYN leaves it in SYN-SENT.
	switch s.state {
	case Unknown, Closed, Listen, SynSent:
		c.setState(from, SynRecv, t)
	}
	return true
}

// onACK handles the acknowledgment field of a segment sent by from.
func (c ref) onACK(seg *capture.Segment, from Side, t int64) {
	to := from.Reverse()
	s, r := &c.ends[from], &c.ends[to]
	a := Seq(seg.Ack)
	if !s.has(ackValid) || s.ack.LessThan(a) {
		s.ack = a
		s.set(ackValid)
	}
	// RFC 9293 p. 68: SYN-SENT receiving an acceptable SYN,ACK -> ESTABLISHED,
	// seen when the end acknowledges the SYN-ACK. An ACK from an end in
	// SYN-SENT without any SYN-ACK captured means the capture missed it
	// (one-way capture, or loss at the capture point).
	switch {
	case seg.Flags.Has(capture.SYN):
	case (s.state == SynSent || s.state == Unknown) && r.has(sawSYN) && r.isn.LessThan(a):
		c.setState(from, Established, t)
	case s.state == SynSent && !r.has(sawSYN) && a != 0:
		c.mark(synAckMissing)
		c.setState(from, Established, t)
	case s.state == SynSent && !r.has(sawSYN):
		// Ack 0 would acknowledge an ISN of 2^32-1, a 1 in 2^32 chance:
		// a crafted or broken sender is likelier than a missed SYN-ACK.
		c.zeroAck = PartyOf(from)
	}
	// RFC 9293 p. 72: SYN-RECEIVED receiving an ACK of its SYN -> ESTABLISHED.
	if r.state == SynRecv && r.has(sawSYN) && r.isn.LessThan(a) {
		c.setState(to, Established, t)
		if c.ends[Client].has(sawSYN) && !c.handshakeDone() {
			// Complete, also for a simultaneous open or split handshake
			// (RFC 9293 section 3.5), where the client is the one acked.
			c.setTime(tRTT, t-c.time(tSyn))
		}
	}
	if r.has(finSent) && !r.has(finAcked) && r.finSeq.LessThan(a) {
		// The receiver's FIN is acknowledged (ack >= FIN seq + 1): this end
		// shows it received the FIN (RFC 9293 p. 75, "eighth, check the FIN
		// bit"), and the FIN's sender learns it was received (p. 73). A FIN
		// that is never acknowledged changes nothing at its receiver: the
		// wire shows it did not arrive.
		switch s.state {
		case Unknown, SynSent, SynRecv, Established:
			c.setState(from, CloseWait, t)
		case FinWait1:
			c.setState(from, Closing, t)
		case FinWait2:
			c.setState(from, TimeWait, t)
		}
		r.set(finAcked)
		c.setTime(tFinAck+timeID(to), t)
		switch r.state {
		case FinWait1:
			c.setState(to, FinWait2, t)
		case Closing:
			c.setState(to, TimeWait, t)
		case LastAck:
			c.setState(to, Closed, t)
		}
	}
}

// onFIN handles the first FIN sent by from; retransmitted FINs change
// nothing (they were classified as retransmissions).
func (c ref) onFIN(seg *capture.Segment, from Side, t int64) {
	to := from.Reverse()
	s, r := &c.ends[from], &c.ends[to]
	s.set(finSent)
	s.finSeq = Seq(seg.Seq).Add(Size(seg.SeqLen() - 1))
	c.setTime(tFin+timeID(from), t)
	acksPeerFIN := r.has(finSent) && seg.Flags.Has(capture.ACK) && r.finSeq.LessThan(Seq(seg.Ack))
	switch {
	case c.activeCloser == Nobody:
		c.activeCloser = PartyOf(from)
	case r.has(finSent) && !acksPeerFIN:
		// It closed before our peer's FIN reached it: simultaneous close.
		c.activeCloser = ByBoth
	}
	// The sender (RFC 9293 p. 60, CLOSE call). Its receiver changes state
	// when it acknowledges the FIN (onACK).
	switch s.state {
	case CloseWait:
		c.setState(from, LastAck, t)
	case Unknown, SynSent, SynRecv, Established:
		c.setState(from, FinWait1, t)
	}
}

// onRST handles a RST sent by from: accepted if RFC 5961 would, else counted
// as a blind reset and otherwise ignored.
func (c ref) onRST(seg *capture.Segment, from Side, t int64) {
	to := from.Reverse()
	s, r := &c.ends[from], &c.ends[to]
	if x := c.oddities(); s.state == SynSent && x.synSentRejects > 0 && Seq(seg.Seq) == x.rejectAck {
		// The RST that answers a segment SYN-SENT rejected (see
		// rejectedInSynSent): the sender stays in SYN-SENT and the
		// attempt goes on.
		return
	}
	ok, challenge, unknown, lo, hi := c.rstAcceptable(seg, from)
	if !ok && r.state == SynSent && r.has(sawSYN) {
		// Not blind: an answer to the SYN that SYN-SENT may not take.
		x := c.oddOnce()
		if x.synSentRSTs == 0 {
			x.synSentRSTBy, x.synSentRSTWhy = from, r.synSentRSTFault(seg)
		}
		x.synSentRSTs++
		return
	}
	if challenge {
		// In the window but not at RCV.NXT: Linux answers with a
		// challenge ACK and the connection goes on (RFC 5961 3.2).
		x := c.oddOnce()
		if x.challengedRSTs == 0 {
			x.challengeExample = blindRST{from: from, seq: Seq(seg.Seq), lo: lo, hi: hi}
		}
		x.challengedRSTs++
		return
	}
	if !ok {
		x := c.oddOnce()
		if x.blindRSTs == 0 {
			x.blindExample = blindRST{from: from, seq: Seq(seg.Seq), lo: lo, hi: hi}
		}
		x.blindRSTs++
		return
	}
	if unknown {
		c.oddOnce().unknownRSTs++
	}
	if x := c.oddOnce(); !x.rst.accepted {
		silence := int64(0)
		if s.has(seen) {
			silence = t - s.last
		} else {
			silence = t - c.first
		}
		x.rst = rstInfo{accepted: true, by: from, time: t, peerRepeats: r.runRepeats, silence: silence,
			afterClose: s.has(finAcked) && r.has(finAcked)}
		if r.state == SynSent && !c.synAckSeen() {
			c.mark(refused)
		}
	}
	r.runRepeats = 0
	// RFC 9293 p. 70: an acceptable RST sends both ends to CLOSED.
	c.setState(from, Closed, t)
	c.setState(to, Closed, t)
}

// rstAcceptable applies RFC 5961 section 3.2 at the capture point. A RST
// ends the connection only when its sequence number is exactly the
// receiver's RCV.NXT. Two values stand for RCV.NXT on the wire: the
// receiver's latest ACK, and the sender's own next sequence number (what a
// stack puts in the RST of an abortive close; the two differ only while data
// is in flight). A RST elsewhere in the receive window is answered by Linux
// with a challenge ACK and changes nothing (challenge reports that case); a
// RST outside it is dropped silently. unknown reports that the window could
// not be known (the flow started before the capture), in which case the RST
// is accepted. lo and hi are the window checked.
func (c *conn) rstAcceptable(seg *capture.Segment, from Side) (ok, challenge, unknown bool, lo, hi Seq) {
	s, r := &c.ends[from], &c.ends[from.Reverse()]
	seq := Seq(seg.Seq)
	if r.state == SynSent && r.has(sawSYN) {
		// RFC 9293 p. 67: in SYN-SENT a RST is acceptable iff it ACKs the SYN.
		want := r.isn + 1
		return seg.Flags.Has(capture.ACK) && Seq(seg.Ack) == want && r.echoOK(seg), false, false, want, want + 1
	}
	if s.has(nxtValid) && seq == s.nxt || r.has(ackValid) && seq == r.ack {
		return true, false, false, seq, seq + 1
	}
	if !r.has(ackValid) || !r.has(nxtValid) {
		if !s.has(nxtValid) {
			return true, false, true, 0, 0
		}
		// The receiver's window is unknown but the sender's stream is
		// not: a RST far from where the sender is cannot be its own.
		lo = s.nxt - 1<<16 // modulo 2^32, as sequence space is
		hi = lo.Add(1 << 17)
		if !seq.InWindow(lo, 1<<17) {
			return false, false, false, lo, hi
		}
		return true, false, true, 0, 0
	}
	win := Size(max(r.win, 1))
	if !r.has(winScaled) {
		// Scale unknown: the raw window is a lower bound, raw<<14 an
		// upper one; take the upper bound to call a RST in-window.
		win = Size(min(uint64(win)<<14, 1<<30))
	}
	lo, hi = r.ack, r.ack.Add(win)
	return false, seq.InWindow(r.ack, win), false, lo, hi
}

// synSentRSTFault says why this end, in SYN-SENT, ignores seg, a RST that
// rstAcceptable refused: RFC 9293 p. 67 takes a RST there only if it
// acknowledges the SYN, and Linux also checks its timestamp echo.
func (r *endTrack) synSentRSTFault(seg *capture.Segment) string {
	switch {
	case !seg.Flags.Has(capture.ACK):
		return "without the ACK bit"
	case Seq(seg.Ack) != r.isn+1:
		return "acknowledging something other than the SYN"
	}
	return "echoing a timestamp it never sent"
}

// rejectedInSynSent reports whether seg, sent to an end in SYN-SENT, is one
// that end drops and answers with a RST (RFC 9293 p. 66-67; Linux's
// tcp_rcv_synsent_state_process): an ACK that does not acknowledge its SYN
// (a stale ACK from a server still holding an older connection on the
// 4-tuple, RFC 5961 section 4, or a spoofed SYN-ACK), a timestamp echo it
// never sent (PAWS, RFC 7323 section 5), or a segment with neither SYN nor
// ACK. RSTs are left to rstAcceptable.
func (c ref) rejectedInSynSent(seg *capture.Segment, from Side) bool {
	r := &c.ends[from.Reverse()]
	fl := seg.Flags
	if r.state != SynSent || !r.has(sawSYN) || fl.Has(capture.RST) {
		return false
	}
	switch {
	case fl.Has(capture.ACK) && (Seq(seg.Ack) != r.isn+1 || !r.echoOK(seg)):
	case !fl.Has(capture.ACK) && !fl.Has(capture.SYN):
	default:
		return false
	}
	x := c.oddOnce()
	x.synSentRejects++
	x.rejectAck = Seq(seg.Ack)
	return true
}
