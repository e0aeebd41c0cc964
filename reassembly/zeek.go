package reassembly

import (
	"net/netip"
	"time"

	"github.com/tcpaudit/tcpaudit/capture"
)

// This file models how Zeek's TCP analyzer (TCPSessionAdapter, TCP_Endpoint,
// TCP_Reassembler) and base/protocols/conn compute conn.log's conn_state and
// history, so that every flow can carry them exactly. It is a separate, much
// coarser state machine than ours on purpose: Zeek's endpoint states
// (INACTIVE, SYN_SENT, ...) are not TCP states, its originator is not always
// our client, and its records do not always coincide with our flows (timers
// end them; see zeekTracker).
//
// Known differences, kept because the Segment record does not carry what
// Zeek would need: checksums are not verified (Zeek's 'C' letter and the
// packets it drops without -C), and payload cut by the snap length is taken
// as captured (Zeek does not reassemble it, which yields gap letters).

// zState is a Zeek TCP endpoint state (TCP_ENDPOINT_*).
type zState uint8

const (
	zInactive zState = iota
	zSynSent
	zSynAckSent
	zPartial
	zEstablished
	zClosed
	zReset
)

func (s zState) handshake() bool { return s == zInactive || s == zSynSent || s == zSynAckSent }

// Zeek's timer defaults (init-bare.zeek) that decide where records end.
const (
	zeekAttemptDelay = int64(5 * time.Second) // tcp_attempt_delay
	zeekCloseDelay   = int64(5 * time.Second) // tcp_close_delay
	zeekSYNTimeout   = int64(5 * time.Second) // tcp_SYN_timeout
	zeekSessionTimer = int64(6 * time.Second) // tcp_session_timer
	zeekLinger       = int64(5 * time.Second) // tcp_connection_linger
	zeekInactivity   = int64(5 * time.Minute) // tcp_inactivity_timeout
	zeekTooLargeSeq  = 1048576                // TOO_LARGE_SEQ_DELTA
	zeekMaxBlocks    = 8                      // out-of-order blocks kept
	zeekHistInline   = 12                     // history kept in the record; real ones are shorter
	zeekHistMax      = 128                    // history kept per record, a memory bound
	zeekMaxRecords   = 256                    // records kept per flow, a memory bound
)

// History bits (TCP_Endpoint::HIST_*); the responder's are shifted by 8.
const (
	histSYN uint16 = 1 << iota
	histFIN
	histRST
	histFINRST
	histData
	histACK
	histMulti
)

// zeekLikelyServerPorts approximates Zeek's likely_server_ports: the ports
// its default protocol scripts register. It only matters for connections
// whose first packet is neither a SYN nor a SYN-ACK.
var zeekLikelyServerPorts = map[uint16]bool{
	21: true, 22: true, 23: true, 25: true, 53: true, 69: true, 79: true, 80: true, 81: true,
	88: true, 110: true, 111: true, 113: true, 135: true, 139: true, 143: true, 161: true,
	162: true, 179: true, 389: true, 443: true, 445: true, 502: true, 514: true, 563: true,
	585: true, 587: true, 614: true, 631: true, 636: true, 989: true, 990: true, 992: true,
	993: true, 995: true, 1080: true, 1194: true, 1433: true, 1812: true, 1883: true,
	2049: true, 2811: true, 3128: true, 3268: true, 3306: true, 3389: true, 5060: true,
	5222: true, 5223: true, 5269: true, 5432: true, 5900: true, 6379: true, 6666: true,
	6667: true, 6668: true, 6669: true, 8000: true, 8080: true, 8888: true, 20000: true,
}

// ZeekRecord is one row Zeek's conn.log would have for (part of) a flow.
type ZeekRecord struct {
	// FirstIndex is the capture packet number of the record's first packet.
	FirstIndex uint64
	// Orig and Resp are Zeek's originator and responder, which may be the
	// reverse of our client and server.
	Orig, Resp netip.AddrPort
	ConnState  string
	History    string
}

// zEnd is one Zeek endpoint (TCP_Endpoint).
//
// Every open flow carries two, so what only unusual endpoints need is
// behind their record's one pointer (zeekMore.ep), and fields are ordered
// by size, so that no padding is kept per flow.
type zEnd struct {
	start, last, ack uint32
	// rels are e's relative sequence numbers (see zRel), 64-bit in Zeek
	// (they count wraps), kept here while they fit in an int32 and in
	// x.wide from the first that does not (2 GB sent in one direction).
	// Two are implied until then, not kept (compact): a SYN sets
	// relHistSYN to its own relative number, which is 0 when it starts
	// e's sequence numbers, as all but odd SYNs do (after a RST, say);
	// a FIN sets relFIN one past itself, which is relHistFIN+1 unless it
	// also had a SYN or RST (which leave relHistFIN alone).
	rels        [zRelsKept]int32
	state, prev zState
	didClose    bool
	fin         bool // FIN_cnt > 0
}

// zRel names a relative sequence number of a zEnd.
type zRel uint8

const (
	relHistFIN zRel = iota // hist_last_FIN
	relHistRST             // hist_last_RST
	// Reassembler state: relDelivered is last_reassem_seq, relTrim is
	// trim_seq.
	relDelivered
	relTrim
	// zEnd.rels does not keep relFIN, one past the FIN, nor relHistSYN,
	// hist_last_SYN.
	relFIN
	relHistSYN
	zRels
	zRelsKept = relFIN // those zEnd.rels keeps
)

// compact reports whether e.rels keeps v as relative sequence number i,
// or implies it.
func (e *zEnd) compact(i zRel, v uint64) bool {
	switch i {
	case relFIN:
		return v == uint64(int64(e.rels[relHistFIN]))+1
	case relHistSYN:
		return v == 0
	}
	return int64(v) == int64(int32(v))
}

// zEndMore is what only unusual endpoints need: relative sequence numbers
// past an int32, sequence numbers that wrapped, the counters of
// retransmissions, zero windows and content gaps (events most flows never
// have), and the blocks of data above a hole. It is allocated at the first
// such event.
type zEndMore struct {
	wide               *[zRels]uint64         // all of rels, once one does not fit
	blocks             *[zeekMaxBlocks]zBlock // allocated at the first hole
	seqWraps, ackWraps uint32
	rxmt, rxmtThresh   uint32
	win0, win0Thresh   uint32
	gap, gapThresh     uint32
	nblocks            uint8 // blocks in use
}

type zBlock struct{ lo, hi uint64 }

// which returns the index of e, one of r's ends, in r.ep.
func (r *zRecord) which(e *zEnd) int {
	if e == &r.ep[0] {
		return 0
	}
	return 1
}

// x returns what end e of r keeps behind r.more, or nil if nothing.
func (r *zRecord) x(e *zEnd) *zEndMore {
	if r.more == nil {
		return nil
	}
	return r.more.ep[r.which(e)]
}

// endMore returns r.x(e), allocating it at the first need.
func (r *zRecord) endMore(e *zEnd) *zEndMore {
	m := r.moreOnce()
	x := &m.ep[r.which(e)]
	if *x == nil {
		*x = &zEndMore{rxmtThresh: 1, win0Thresh: 1, gapThresh: 1}
	}
	return *x
}

// rel returns e's relative sequence number i.
func (r *zRecord) rel(e *zEnd, i zRel) uint64 {
	if x := r.x(e); x != nil && x.wide != nil {
		return x.wide[i]
	}
	switch i {
	case relFIN:
		return uint64(int64(e.rels[relHistFIN])) + 1
	case relHistSYN:
		return 0
	}
	return uint64(int64(e.rels[i]))
}

// setRel sets e's relative sequence number i to v, moving them all to
// x.wide if e.rels cannot keep v (compact).
func (r *zRecord) setRel(e *zEnd, i zRel, v uint64) {
	if r.more == nil && i < zRelsKept && e.compact(i, v) {
		e.rels[i] = int32(v) // what most flows do for every packet
		return
	}
	r.setRelMore(e, i, v)
}

func (r *zRecord) setRelMore(e *zEnd, i zRel, v uint64) {
	x := r.x(e)
	if x == nil || x.wide == nil {
		if e.compact(i, v) {
			if i < zRelsKept {
				e.rels[i] = int32(v)
			}
			return
		}
		w := new([zRels]uint64)
		for j := range w {
			w[j] = r.rel(e, zRel(j))
		}
		x = r.endMore(e)
		x.wide = w
	}
	x.wide[i] = v
}

// wraps returns e's seq_wraps and ack_wraps.
func (r *zRecord) wraps(e *zEnd) (seq, ack uint32) {
	x := r.x(e)
	if x == nil {
		return 0, 0
	}
	return x.seqWraps, x.ackWraps
}

// zTime names a time of a zRecord. Its times are since the flow's first
// packet (zeekTracker.add's t), which the conn keeps.
type zTime uint8

const (
	timeLast   zTime = iota // Conn()->LastTime()
	timeExpire              // the next ExpireTimer; unused once closing
	// timeAt is the pending delete timer once closing, else the pending
	// AttemptTimer (0 if none). One time holds both because closing
	// cancels the AttemptTimer and none is set after: only a SYN sets
	// one, and on a closing record a SYN starts a new record (isReuse).
	timeAt
	zTimes
)

// A record keeps each of its times in 42 bits, its bits 10 and up in
// timeHi and its low 10 bits in timeLo: 18 bytes instead of 24 for three
// int64 (issue 5), exact to the nanosecond (pcapng and nanosecond pcap
// captures have them) for 73 minutes after the flow's first packet, in the
// shifts of the per-packet timer checks (a multiple of microseconds would
// need a division), which mostly read the high bits alone (quiet). A time
// that does not fit, of a longer flow, is in more.times, and its timeHi is
// timeWide.
const (
	timeWide  = ^uint32(0)
	timeLimit = int64(timeWide) << 10 // the first time that does not fit
)

// time returns r's time i.
func (r *zRecord) time(i zTime) int64 {
	if h := r.timeHi[i]; h != timeWide {
		return int64(h)<<10 | int64(r.timeLo[i])
	}
	return r.more.times[i]
}

// setTime sets r's time i to t.
func (r *zRecord) setTime(i zTime, t int64) {
	if uint64(t) < uint64(timeLimit) {
		r.timeHi[i], r.timeLo[i] = uint32(t>>10), uint16(t&0x3ff)
		return
	}
	r.setWideTime(i, t)
}

// setWideTime sets r's time i to t, which does not fit in timeHi.
func (r *zRecord) setWideTime(i zTime, t int64) {
	m := r.moreOnce()
	if m.times == nil {
		m.times = new([zTimes]int64)
	}
	m.times[i], r.timeHi[i] = t, timeWide
}

// zRecord is one Zeek connection record in progress.
//
// Fields are ordered by size, so that no padding is kept per flow
// (TestZeekTrackerSize).
type zRecord struct {
	ep [2]zEnd // [0] is the originator, [1] the responder
	// more is allocated at the first need, which most flows never have.
	more *zeekMore
	// timeHi and timeLo are the record's times (zTime, see time).
	timeHi [zTimes]uint32
	timeLo [zTimes]uint16
	// histSeen has the history bits of the originator, and of the
	// responder shifted by 8.
	histSeen uint16
	// hist is the history while it fits, nhist its length; a longer one
	// is in more.hist.
	hist      [zeekHistInline]byte
	nhist     uint8
	isActive  bool
	isPartial bool
	closing   bool // connectionClosed set the delete timer
	seenFirst [2]bool
	// orig is the end of our flow that Zeek takes as the originator: the
	// addresses are the flow's, not copied here (64 bytes per open flow).
	orig Side
	// active is zeekTracker's: the record has begun and not ended.
	active bool
}

// zeekMore is what only unusual flows need: the records ended before the
// flow, the current one's first packet (the flow's first packet is
// conn.firstIndex, not kept again), a history longer than zeekHistInline,
// the times of a flow past 73 minutes (allocated then), and what unusual
// ends need (ep, by the index of their zEnd, allocated at their first
// need): one pointer per open flow, not three.
type zeekMore struct {
	ep         [2]*zEndMore
	done       []ZeekRecord
	hist       []byte
	firstIndex uint64
	times      *[zTimes]int64 // by zTime, those whose timeHi is timeWide
}

// zeekTracker follows Zeek's records over the packets of one of our flows.
// Zeek ends a record when a timer fires (a SYN unanswered for 5 s, 5 s after
// a close, 5 minutes idle) or a SYN reuses a closed 5-tuple; the next packet
// then starts a new one. cur.more.done keeps the records already ended.
type zeekTracker struct {
	cur zRecord
}

// add follows seg, sent by the flow's end from at time t since the flow's
// first packet (never negative: the table's times never go back); first
// is the flow's first packet number and addrs are its ends' addresses,
// which the records name.
func (z *zeekTracker) add(seg *capture.Segment, from Side, t int64, first uint64, addrs slotAddrs) {
	r := &z.cur
	if r.active && (!r.quiet(t) && r.expired(t) || r.isReuse(seg)) {
		z.finishRecord(first, addrs)
	}
	if !r.active {
		r.begin(seg, from, t)
	}
	if !r.plain(seg, from, t) {
		r.process(seg, from, t)
	}
}

// finishRecord ends the current record; first is the flow's first packet
// number (see record).
func (z *zeekTracker) finishRecord(first uint64, addrs slotAddrs) {
	m := z.cur.moreOnce()
	if len(m.done) < zeekMaxRecords {
		m.done = append(m.done, z.cur.record(first, addrs))
	}
	z.cur.active = false
}

// records returns every record, ending the current one; first is the
// flow's first packet number. A flow with one record, as most have, gets
// it appended to room rather than to a zeekMore allocated for it.
func (z *zeekTracker) records(first uint64, addrs slotAddrs, room []ZeekRecord) []ZeekRecord {
	if m := z.cur.more; m == nil || len(m.done) == 0 {
		if !z.cur.active {
			return nil
		}
		z.cur.active = false
		return append(room, z.cur.record(first, addrs))
	}
	if z.cur.active {
		z.finishRecord(first, addrs)
	}
	return z.cur.more.done
}

// record returns r as a row; first is the flow's first packet number, which
// is r's if r is the flow's first record.
func (r *zRecord) record(first uint64, addrs slotAddrs) ZeekRecord {
	if m := r.more; m != nil && len(m.done) > 0 {
		first = m.firstIndex
	}
	return ZeekRecord{FirstIndex: first, Orig: addrs.get(r.orig), Resp: addrs.get(r.orig.Reverse()),
		ConnState: r.connState(), History: string(r.history())}
}

func (r *zRecord) moreOnce() *zeekMore { return once(&r.more) }

// begin starts a record with seg as its first packet. Zeek makes the
// sender the originator, except (TCPAnalyzer::WantConnection) that a
// SYN-ACK's sender is taken as the responder, and a first packet without SYN
// from a likely server port to an unlikely one is flipped too.
func (r *zRecord) begin(seg *capture.Segment, from Side, t int64) {
	m := r.more
	if m != nil {
		m.hist = m.hist[:0]
		m.firstIndex = seg.Index
		m.ep = [2]*zEndMore{}
	}
	*r = zRecord{orig: from, more: m, isActive: true, active: true}
	r.setTime(timeLast, t)
	r.setTime(timeExpire, t+zeekSYNTimeout)
	for i := range r.ep {
		r.ep[i].rels[relDelivered] = 1
	}
	if zeekFlip(seg) {
		r.orig = from.Reverse()
		r.push('^')
	}
}

func zeekFlip(seg *capture.Segment) bool {
	syn, ack := seg.Flags.Has(capture.SYN), seg.Flags.Has(capture.ACK)
	switch {
	case syn && !ack:
		return false
	case syn:
		return true
	}
	src, dst := seg.Src.Port(), seg.Dst.Port()
	if !zeekLikelyServerPorts[src] {
		return false
	}
	if zeekLikelyServerPorts[dst] {
		return src < dst
	}
	return true
}

// expired reports whether one of Zeek's timers would have removed the
// record before a packet at time t.
func (r *zRecord) expired(t int64) bool {
	at, last := r.time(timeAt), r.time(timeLast)
	if r.closing && at != 0 && t >= at {
		return true
	}
	if t-last > zeekInactivity {
		return true
	}
	o, p := &r.ep[0], &r.ep[1]
	if !r.closing && at != 0 && t >= at {
		r.setTime(timeAt, 0)
		if r.isActive && (o.state == zSynSent || o.state == zSynAckSent) && p.state == zInactive {
			return true
		}
	}
	if !r.isActive || r.closing {
		return false // closing cancelled the ExpireTimer
	}
	// ExpireTimer fires every tcp_session_timer; nothing changes between
	// packets, so the first firing after lastTime+linger decides.
	fire := r.time(timeExpire)
	if fire > t {
		return false
	}
	if fire <= last+zeekLinger {
		k := (last+zeekLinger-fire)/zeekSessionTimer + 1
		fire += k * zeekSessionTimer
	}
	if fire > t {
		r.setTime(timeExpire, fire)
		return false
	}
	if o.didClose || p.didClose {
		if (o.didClose && p.didClose) || o.state == zReset || p.state == zReset ||
			o.state == zInactive || p.state == zInactive {
			return true
		}
	}
	if o.state == zInactive && p.state == zInactive {
		return true
	}
	r.setTime(timeExpire, fire+((t-fire)/zeekSessionTimer+1)*zeekSessionTimer)
	return false
}

// quiet reports, from the high bits of r's times alone, that no timer
// fires by t, as for most packets: expired would change nothing and
// return false (TestZeekQuiet). t is not before timeLast (the table's
// times never go back), so a time of more.times is past any t that quiet
// takes.
func (r *zRecord) quiet(t int64) bool {
	if uint64(t) >= uint64(timeLimit) {
		return false
	}
	// t < (h+1)<<10: below a time whose high bits are above h, and less
	// than (n+1)<<10 after one whose high bits are h-n.
	h := uint32(t >> 10)
	at := r.timeHi[timeAt] // 0 if none, as a set one is 5 s or more
	return (at == 0 || h < at) && h-r.timeHi[timeLast] < uint32(zeekInactivity>>10) &&
		(!r.isActive || r.closing || h < r.timeHi[timeExpire])
}

// isReuse mirrors TCPSessionAdapter::IsReuse: a SYN on a closed record, or
// with a new initial sequence number, starts a new record.
func (r *zRecord) isReuse(seg *capture.Segment) bool {
	if !seg.Flags.Has(capture.SYN) {
		return false
	}
	connOrig := &r.ep[0]
	if seg.Flags.Has(capture.ACK) {
		if r.ep[0].state != zInactive {
			return false
		}
		connOrig = &r.ep[1]
	}
	if r.ep[0].didClose || r.ep[1].didClose {
		return true
	}
	if seg.Seq == connOrig.start {
		return false
	}
	return seg.Flags.Has(capture.ACK) || connOrig.state != zSynAckSent ||
		r.ep[1].state != zInactive || seg.Seq != r.ep[1].start
}

func (r *zRecord) addHistory(isOrig bool, code byte) {
	if !isOrig {
		code += 'a' - 'A'
	}
	if r.nhist < zeekHistMax {
		// Hostile input (a FIN or SYN-ACK with a new sequence number in
		// every packet) would grow it without bound; real ones stay short.
		r.push(code)
	}
}

// push appends code to the history, moving it to more.hist when it
// outgrows hist.
func (r *zRecord) push(code byte) {
	if r.nhist < zeekHistInline {
		r.hist[r.nhist] = code
	} else {
		m := r.moreOnce()
		if r.nhist == zeekHistInline {
			m.hist = append(m.hist[:0], r.hist[:]...)
		}
		m.hist = append(m.hist, code)
	}
	r.nhist++
}

func (r *zRecord) history() []byte {
	if r.nhist <= zeekHistInline {
		return r.hist[:r.nhist]
	}
	return r.more.hist
}

// checkHistory adds code the first time mask is seen and reports whether it
// had been seen before (Connection::CheckHistory).
func (r *zRecord) checkHistory(isOrig bool, mask uint16, code byte) bool {
	if !isOrig {
		mask <<= 8
	}
	if r.histSeen&mask == 0 {
		r.histSeen |= mask
		r.addHistory(isOrig, code)
		return false
	}
	return true
}

// scaled adds code at the 1st, 10th, 100th... event
// (Connection::ScaledHistoryEntry).
func (r *zRecord) scaled(isOrig bool, code byte, counter, threshold *uint32) {
	*counter++
	if *counter != *threshold {
		return
	}
	r.addHistory(isOrig, code)
	if next := *threshold * 10; next > *threshold {
		*threshold = next
	} else {
		*counter = 0
	}
}

func (e *zEnd) setState(s zState) {
	if s != e.state {
		e.prev, e.state = e.state, s
	}
}

func full(seq, wraps uint32) uint64 { return uint64(wraps)<<32 | uint64(seq) }

// relSeq mirrors get_relative_seq.
func (e *zEnd) relSeq(cur, last, wraps uint32) (rel uint64, underflow bool) {
	delta := int32(cur - last)
	if delta < 0 {
		if wraps > 0 && cur > last {
			wraps--
		}
	} else if delta > 0 && cur < last {
		wraps++
	}
	if wraps == 0 {
		d := int32(cur - e.start)
		return uint64(int64(d)), d < 0
	}
	return full(cur, wraps) - uint64(e.start), false
}

func (r *zRecord) updateLastSeq(e *zEnd, seq uint32) {
	if seq < e.last {
		r.endMore(e).seqWraps++
	}
	e.last = seq
}

func (r *zRecord) updateAckSeq(e *zEnd, seq uint32) {
	if seq < e.ack {
		r.endMore(e).ackWraps++
	}
	e.ack = seq
}

func (r *zRecord) initSeqs(e *zEnd, start, last uint32) {
	e.start, e.ack, e.last = start, start, last
	if x := r.x(e); x != nil {
		x.seqWraps, x.ackWraps = 0, 0
	}
}

// fullAck is the acknowledgment number with its wraps.
func (r *zRecord) fullAck(e *zEnd) uint64 {
	_, ackWraps := r.wraps(e)
	return full(e.ack, ackWraps)
}

func (r *zRecord) noDataAcked(e *zEnd) bool {
	a := r.fullAck(e)
	return a == uint64(e.start) || a == uint64(e.start)+1
}

// size mirrors TCP_Endpoint::Size: payload bytes from sequence numbers.
func (r *zRecord) size(e *zEnd, peer *zEnd) uint64 {
	if e.prev == zSynSent && e.state == zReset && peer.state == zInactive && !r.noDataAcked(e) {
		return 0
	}
	seqWraps, _ := r.wraps(e)
	last, ack := full(e.last, seqWraps), r.fullAck(e)
	size := max(last, ack) - uint64(e.start)
	if size != 0 {
		size--
	}
	if e.fin && size != 0 {
		size--
	}
	return size
}

// process mirrors TCPSessionAdapter::Process for one packet.
func (r *zRecord) process(seg *capture.Segment, from Side, t int64) {
	isOrig := from == r.orig
	ei := 1
	if isOrig {
		ei = 0
	}
	e, p := &r.ep[ei], &r.ep[1-ei]
	fl := seg.Flags
	syn, fin, rst, ack := fl.Has(capture.SYN), fl.Has(capture.FIN), fl.Has(capture.RST), fl.Has(capture.ACK)
	plen := seg.PayloadLen

	// SetPartialStatus.
	if isOrig {
		if !r.seenFirst[0] {
			r.isPartial = !syn || ack
		}
	} else if !r.seenFirst[1] && !r.isPartial {
		r.isPartial = !syn
	}

	segLen := plen
	if syn {
		segLen++
	}
	if fin {
		segLen++
	}
	if rst {
		segLen -= plen
	}
	onePast := seg.Seq + segLen

	// init_endpoint.
	switch e.state {
	case zInactive:
		if syn {
			r.initSeqs(e, seg.Seq, onePast)
		} else {
			r.initSeqs(e, seg.Seq-1, seg.Seq)
		}
	case zSynSent, zSynAckSent:
		if syn && seg.Seq != e.start {
			r.initSeqs(e, seg.Seq, onePast)
		}
	case zEstablished, zPartial:
		if syn {
			r.initSeqs(e, seg.Seq, onePast)
		}
	case zReset:
		if syn && e.prev == zInactive {
			r.initSeqs(e, seg.Seq, onePast)
		}
	}

	seqWraps, _ := r.wraps(e)
	relSeq, underflow := e.relSeq(seg.Seq, e.last, seqWraps)
	r.updateHistory(e, isOrig, fl, relSeq, plen)

	// update_window: zero windows are interesting unless with or after a RST
	// or after the peer's FIN. (Scaling cannot turn a zero into non-zero.)
	if seg.Window == 0 && !rst && p.state != zClosed && e.state != zReset {
		x := r.endMore(e)
		r.scaled(isOrig, 'W', &x.win0, &x.win0Thresh)
	}
	if !e.didClose || !p.didClose {
		r.setTime(timeLast, t)
	}
	if fin {
		e.fin = true
		r.setRel(e, relFIN, relSeq+uint64(segLen))
	}

	var relAck uint64
	if ack {
		if p.state == zInactive {
			relAck = 1
			r.initSeqs(p, seg.Ack-1, seg.Ack-1)
		} else {
			var under bool
			_, ackWraps := r.wraps(p)
			relAck, under = p.relSeq(seg.Ack, p.ack, ackWraps)
			if under {
				relAck = 0
			} else if !rst {
				if d := int32(seg.Ack - p.ack); !(seg.Ack == 0 && d > zeekTooLargeSeq) && d > 0 {
					r.updateAckSeq(p, seg.Ack)
				}
			}
		}
	}

	// update_last_seq.
	deltaLast := int32(onePast - e.last)
	switch {
	case (syn || rst) && (deltaLast > zeekTooLargeSeq || deltaLast < -zeekTooLargeSeq):
	case fin && e.last == e.start+1:
		r.updateLastSeq(e, onePast)
	case e.state == zReset:
	case deltaLast > 0:
		r.updateLastSeq(e, onePast)
	case plen > 0:
		x := r.endMore(e)
		r.scaled(isOrig, 'T', &x.rxmt, &x.rxmtThresh)
	}

	doClose, flipped := r.updateStateMachine(e, p, isOrig, seg, fl)
	if flipped {
		// The endpoints swapped slots; follow the same endpoint objects.
		e, p, isOrig = p, e, !isOrig
	}

	if ack {
		r.ackReceived(p, relAck)
	}
	relData := relSeq
	if syn {
		relData++
	}
	if plen > 0 && !rst && !underflow {
		r.dataSent(e, relData, uint64(plen))
	}
	if isOrig {
		r.seenFirst[0] = true
	} else {
		r.seenFirst[1] = true
	}
	if doClose {
		r.connectionClosed(e, p)
	}
}

// plain is process for what most packets are, and reports whether seg was
// one: data or a bare ACK (no SYN, FIN or RST; a window) between two
// established endpoints that have sent before, whose sequence and
// acknowledgment numbers neither wrap nor go back with data, and that need
// nothing of zEndMore. Every step of process then comes down to its
// history letter, lastTime, the sender's last, the peer's ack and the
// reassembler's points; plain skips the rest, which would not change
// anything (TestZeekPlainIsProcess).
func (r *zRecord) plain(seg *capture.Segment, from Side, t int64) bool {
	if seg.Flags&(capture.SYN|capture.FIN|capture.RST|capture.ACK) != capture.ACK || seg.Window == 0 {
		return false
	}
	isOrig := from == r.orig
	ei := r.idx(isOrig)
	e, p := &r.ep[ei], &r.ep[1-ei]
	if e.state != zEstablished || p.state != zEstablished || r.more != nil && (r.more.ep[0] != nil || r.more.ep[1] != nil) || !r.seenFirst[ei] {
		return false
	}
	plen := seg.PayloadLen
	onePast := seg.Seq + plen
	deltaLast := int32(onePast - e.last)
	// A wrap of seg.Seq against last (which relSeq would count) is one of
	// onePast too: a short segment cannot cross back.
	switch {
	case deltaLast > 0 && onePast < e.last, deltaLast <= 0 && plen > 0:
		return false // a wrap of last, or a retransmission
	case int32(seg.Ack-p.ack) > 0 && seg.Ack < p.ack:
		return false // a wrap of ack
	}
	if plen > 0 {
		r.checkHistory(isOrig, histData, 'D')
	} else {
		r.checkHistory(isOrig, histACK, 'A')
	}
	if !e.didClose || !p.didClose {
		r.setTime(timeLast, t)
	}
	var relAck uint64
	if d := int32(seg.Ack - p.start); d >= 0 {
		relAck = uint64(d)
		if da := int32(seg.Ack - p.ack); !(seg.Ack == 0 && da > zeekTooLargeSeq) && da > 0 {
			p.ack = seg.Ack
		}
	}
	if deltaLast > 0 {
		e.last = onePast
	}
	r.ackReceived(p, relAck)
	if d := int32(seg.Seq - e.start); plen > 0 && d >= 0 {
		r.dataSent(e, uint64(d), uint64(plen))
	}
	return true
}

// updateHistory mirrors update_history.
func (r *zRecord) updateHistory(e *zEnd, isOrig bool, fl capture.Flags, relSeq uint64, plen uint32) {
	syn, fin, rst := fl.Has(capture.SYN), fl.Has(capture.FIN), fl.Has(capture.RST)
	bits := 0
	for _, b := range [...]bool{syn, fin, rst} {
		if b {
			bits++
		}
	}
	switch {
	case bits > 1:
		if fin && rst {
			r.checkHistory(isOrig, histFINRST, 'I')
		} else {
			r.checkHistory(isOrig, histMulti, 'Q')
		}
	case syn:
		code := byte('S')
		if fl.Has(capture.ACK) {
			code = 'H'
		}
		if r.checkHistory(isOrig, histSYN, code) && relSeq != r.rel(e, relHistSYN) {
			r.addHistory(isOrig, code)
		}
		r.setRel(e, relHistSYN, relSeq)
	case fin:
		end := relSeq + uint64(plen)
		if r.checkHistory(isOrig, histFIN, 'F') && end != r.rel(e, relHistFIN) {
			r.addHistory(isOrig, 'F')
		}
		r.setRel(e, relHistFIN, end)
	case rst:
		if r.checkHistory(isOrig, histRST, 'R') && relSeq != r.rel(e, relHistRST) {
			r.addHistory(isOrig, 'R')
		}
		r.setRel(e, relHistRST, relSeq)
	case plen > 0:
		r.checkHistory(isOrig, histData, 'D')
	case fl.Has(capture.ACK):
		r.checkHistory(isOrig, histACK, 'A')
	}
}

// updateStateMachine mirrors UpdateStateMachine and its per-state helpers;
// it returns do_close, and whether the roles were flipped.
func (r *zRecord) updateStateMachine(e, p *zEnd, isOrig bool, seg *capture.Segment, fl capture.Flags) (doClose, flipped bool) {
	syn, fin, rst, ack := fl.Has(capture.SYN), fl.Has(capture.FIN), fl.Has(capture.RST), fl.Has(capture.ACK)
	switch e.state {
	case zInactive:
		if syn {
			if isOrig {
				if ack {
					e.setState(zSynAckSent)
				} else {
					e.setState(zSynSent)
				}
				r.setTime(timeAt, r.time(timeLast)+zeekAttemptDelay)
			} else {
				if !ack && p.state == zSynAckSent && seg.Seq == e.start {
					// SYN/SYN-ACK reversal: flip and establish.
					r.isPartial = false
					r.flip()
					flipped = true
					e, p = p, e
					isOrig = !isOrig
					p.setState(zEstablished)
					r.seenFirst[0] = true
				}
				if p.state == zSynSent {
					p.setState(zEstablished)
				}
				e.setState(zEstablished)
			}
		}
		if fin {
			e.setState(zClosed)
			doClose = true
		}
		if rst {
			e.setState(zReset)
			doClose = true
		}
		if e.state == zInactive {
			switch {
			case !isOrig && seg.PayloadLen == 0 && r.ep[0].state == zSynSent:
				// An ACK of a SYN before the SYN-ACK: not a partial connection.
			case ack && p.state == zEstablished:
				e.setState(zEstablished)
				r.isPartial = false
				r.seenFirst[r.idx(isOrig)] = true
			default:
				e.setState(zPartial)
			}
		}
	case zSynSent, zSynAckSent:
		if fin {
			e.setState(zClosed)
			doClose = true
		}
		if rst {
			e.setState(zReset)
			r.isActive = false // ConnectionReset
			doClose = true
		}
	case zEstablished, zPartial:
		if syn && e.state == zPartial && p.state == zInactive && !ack {
			e.setState(zSynSent)
		}
		if fin && !rst {
			e.setState(zClosed)
			if p.state == zReset && p.prev == zClosed {
				// FIN then RST from the peer was a normal termination.
				p.setState(zClosed)
			}
			doClose = true
		}
		if rst {
			e.setState(zReset)
			doClose = true
			if p.state != zReset || p.prev != zEstablished {
				r.isActive = false
			}
		}
	case zClosed:
		if rst && p.state != zClosed {
			e.setState(zReset)
			if !e.didClose {
				doClose = true
			}
		}
	case zReset:
	}
	return doClose, flipped
}

func (r *zRecord) idx(isOrig bool) int {
	if isOrig {
		return 0
	}
	return 1
}

// flip mirrors Connection::FlipRoles: history bits stay where they are.
func (r *zRecord) flip() {
	r.orig = r.orig.Reverse()
	r.ep[0], r.ep[1] = r.ep[1], r.ep[0]
	if m := r.more; m != nil {
		m.ep[0], m.ep[1] = m.ep[1], m.ep[0]
	}
	r.seenFirst[0], r.seenFirst[1] = r.seenFirst[1], r.seenFirst[0]
	r.push('^')
}

// connectionClosed mirrors TCPSessionAdapter::ConnectionClosed (without
// deferral for undelivered data).
func (r *zRecord) connectionClosed(e, p *zEnd) {
	if e.didClose {
		return
	}
	e.didClose = true
	if e.state == zReset || p.didClose || p.state == zInactive {
		if e.prev != zInactive || p.state != zInactive {
			r.isActive = false // ConnectionFinished
		}
		r.closing = true // CancelTimers: expired reads no timeExpire now
		r.setTime(timeAt, r.time(timeLast)+zeekCloseDelay)
		return
	}
	if e.prev != zInactive {
		r.setTime(timeExpire, min(r.time(timeExpire), r.time(timeLast)+zeekSessionTimer))
	}
}

// clean mirrors is_clean in TCP_Reassembler.cc.
func (e *zEnd) clean() bool {
	return e.state == zEstablished || (e.state == zClosed && e.prev == zEstablished)
}

// dataSent mirrors TCP_Reassembler::DataSent and Reassembler::NewBlock.
func (r *zRecord) dataSent(e *zEnd, seq, n uint64) {
	ack := r.fullAck(e) - uint64(e.start)
	upper := seq + n
	if seq < ack {
		if upper <= ack {
			return
		}
		seq = ack
	}
	trim := r.rel(e, relTrim)
	if upper <= trim {
		return
	}
	seq = max(seq, trim)
	if d := r.rel(e, relDelivered); seq <= d {
		r.setRel(e, relDelivered, r.drainBlocks(e, max(d, upper)))
		return
	}
	r.addBlock(e, seq, upper)
}

func (r *zRecord) addBlock(e *zEnd, lo, hi uint64) {
	x := r.endMore(e)
	if x.blocks == nil {
		x.blocks = new([zeekMaxBlocks]zBlock)
	}
	if x.nblocks == zeekMaxBlocks {
		copy(x.blocks[:], x.blocks[1:])
		x.nblocks--
	}
	x.blocks[x.nblocks] = zBlock{lo, hi}
	x.nblocks++
}

// held returns the blocks in use.
func (r *zRecord) held(e *zEnd) []zBlock {
	x := r.x(e)
	if x == nil || x.blocks == nil {
		return nil
	}
	return x.blocks[:x.nblocks]
}

// take removes block i and returns it.
func (x *zEndMore) take(i int) zBlock {
	b := x.blocks[i]
	copy(x.blocks[i:], x.blocks[i+1:x.nblocks])
	x.nblocks--
	return b
}

// drainBlocks delivers blocks that the delivered point d has reached, and
// returns the new delivered point.
func (r *zRecord) drainBlocks(e *zEnd, d uint64) uint64 {
	for moved := true; moved; {
		moved = false
		for i := 0; i < len(r.held(e)); i++ {
			if r.held(e)[i].lo > d {
				continue
			}
			d = max(d, r.x(e).take(i).hi)
			moved = true
			i--
		}
	}
	return d
}

// ackReceived mirrors TCP_Reassembler::AckReceived, TrimToSeq and
// Undelivered: acknowledged data never seen is a content gap.
func (r *zRecord) ackReceived(e *zEnd, seq uint64) {
	if fin := r.rel(e, relFIN); e.fin && seq >= fin {
		seq = fin - 1
	}
	if seq <= r.rel(e, relTrim) {
		return
	}
	if d := r.rel(e, relDelivered); seq > d && !(seq <= 2 && r.isPartial) {
		isOrig := e == &r.ep[0]
		peer := &r.ep[1]
		if !isOrig {
			peer = &r.ep[0]
		}
		for d < seq {
			next := seq
			bi := -1
			for i, b := range r.held(e) {
				if b.lo >= d && b.lo < next {
					next, bi = b.lo, i
				}
			}
			if next > d && e.clean() && peer.clean() {
				x := r.endMore(e)
				r.scaled(isOrig, 'G', &x.gap, &x.gapThresh)
			}
			d = next
			if bi < 0 {
				break
			}
			d = max(d, r.x(e).take(bi).hi)
			d = r.drainBlocks(e, d)
		}
		r.setRel(e, relDelivered, max(d, seq))
	}
	r.setRel(e, relTrim, seq)
}

// connState mirrors conn_state() in base/protocols/conn/main.zeek.
func (r *zRecord) connState() string {
	o, p := &r.ep[0], &r.ep[1]
	os, rs := o.state, p.state
	oInactive := os == zInactive || os == zPartial
	rInactive := rs == zInactive || rs == zPartial
	switch {
	case rs == zReset:
		switch {
		case os == zSynSent || os == zSynAckSent || (os == zReset && r.size(o, p) == 0 && r.size(p, o) == 0):
			return "REJ"
		case oInactive:
			return "RSTRH"
		}
		return "RSTR"
	case os == zReset:
		if rInactive {
			if rstos0History(r.history()) {
				return "RSTOS0"
			}
			return "OTH"
		}
		return "RSTO"
	case rs == zClosed && os == zClosed:
		return "SF"
	case os == zClosed:
		if rInactive {
			return "SH"
		}
		return "S2"
	case rs == zClosed:
		if oInactive {
			return "SHR"
		}
		return "S3"
	case os == zSynSent && rs == zInactive:
		return "S0"
	case os == zEstablished && rs == zEstablished:
		return "S1"
	}
	return "OTH"
}

// rstos0History matches /\^?S[^HAFGIQ]*R.*/ against the whole history.
func rstos0History(h []byte) bool {
	if len(h) > 0 && h[0] == '^' {
		h = h[1:]
	}
	if len(h) == 0 || h[0] != 'S' {
		return false
	}
	for _, c := range h[1:] {
		switch c {
		case 'R':
			return true
		case 'H', 'A', 'F', 'G', 'I', 'Q':
			return false
		}
	}
	return false
}
