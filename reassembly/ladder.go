package reassembly

import (
	"encoding/binary"

	"github.com/tcpaudit/tcpaudit/capture"
)

// Every flow has a ladder (Flow.Ladder) and reports draw only a few, so it
// is kept encoded, 8 to 12 bytes a packet instead of a 56-byte LadderStep
// (issue 5). A record is a flags byte then varints:
//
//	length<<1 | side, time delta (zig-zag), index delta (zig-zag),
//	seq delta, ack delta (zig-zag, modulo 2^32), window
//
// each delta from the record before it in its chunk. The seq and ack of a
// record from the other side are predicted from that record's ack and seq,
// which is what that side expects and acknowledges, so that a handshake's
// answers cost a byte or two, not five. A chunk's first record is encoded
// against a zero record, that is absolutely, so that a chunk decodes alone.
//
// A tracked flow keeps its first LadderHead packets in one chunk, then its
// later packets in chunks of LadderTail, the older dropped when a third
// would begin: memory stays bounded and the last LadderTail are always
// there. The Flow holds two chunks: the first LadderHead packets and the
// last LadderTail (see ladder.flow).

// lrec is one ladder record: a LadderStep with its time in Unix
// nanoseconds, as the table keeps times.
type lrec struct {
	t      int64
	index  uint64
	seq    uint32
	ack    uint32
	length uint32
	window uint16
	from   Side
	flags  capture.Flags
}

// ladderCaps are the capacities a tracked flow's ladder grows through, for
// records of about 10 bytes: a handshake and a few packets (a short flow
// allocates once), the head, the head and a tail chunk, the head and two
// (which doubling from the first would make 768). Past them, it doubles.
var ladderCaps = [...]int{96, 176, 352, 512}

func recOf(st *LadderStep) lrec {
	return lrec{t: st.Time.UnixNano(), index: st.Index, seq: st.Seq, ack: st.Ack, length: st.Len,
		window: st.Window, from: st.From & 1, flags: st.Flags}
}

func (r *lrec) step() LadderStep {
	return LadderStep{Time: nanoTime(r.t), Index: r.index, From: r.from, Flags: r.flags,
		Seq: r.seq, Ack: r.ack, Len: r.length, Window: r.window}
}

// bases returns what r's seq and ack are encoded against, given prev (see
// above).
func bases(prev *lrec, from Side) (seq, ack uint32) {
	if prev.from == from {
		return prev.seq, prev.ack
	}
	return prev.ack, prev.seq
}

func zigzag(d int64) uint64   { return uint64(d<<1) ^ uint64(d>>63) }
func unzigzag(v uint64) int64 { return int64(v>>1) ^ -int64(v&1) }

// appendRec appends r encoded against prev.
func appendRec(b []byte, r, prev *lrec) []byte {
	var x [maxRec]byte
	return append(b, x[:putRec(&x, r, prev)]...)
}

// putRec encodes r against prev in x and returns its length: one append of
// the record instead of one per byte.
func putRec(x *[maxRec]byte, r, prev *lrec) int {
	seq, ack := bases(prev, r.from)
	dt, us := r.t-prev.t, uint64(0)
	if dt%1000 == 0 { // a capture in microseconds
		dt, us = dt/1000, 1
	}
	x[0] = byte(r.flags)
	n := 1
	n += binary.PutUvarint(x[n:], uint64(r.length)<<2|us<<1|uint64(r.from))
	n += binary.PutUvarint(x[n:], zigzag(dt))
	n += binary.PutUvarint(x[n:], zigzag(int64(r.index-prev.index)))
	n += binary.PutUvarint(x[n:], zigzag(int64(int32(r.seq-seq))))
	n += binary.PutUvarint(x[n:], zigzag(int64(int32(r.ack-ack))))
	return n + binary.PutUvarint(x[n:], zigzag(int64(r.window)-int64(prev.window)))
}

// maxRec is the most bytes a record takes: the flags, then varints of 34,
// 64, 64, 33, 33 and 17 bits.
const maxRec = 1 + 5 + 10 + 10 + 5 + 5 + 3

// readRec decodes the record at the start of b, encoded against prev, and
// returns the rest of b.
func readRec(b []byte, prev *lrec) (lrec, []byte) {
	r := lrec{flags: capture.Flags(b[0])}
	b = b[1:]
	v, b := uvarint(b)
	r.length, r.from = uint32(v>>2), Side(v&1)
	us := v>>1&1 != 0
	v, b = uvarint(b)
	if dt := unzigzag(v); us {
		r.t = prev.t + dt*1000
	} else {
		r.t = prev.t + dt
	}
	v, b = uvarint(b)
	r.index = prev.index + uint64(unzigzag(v))
	seq, ack := bases(prev, r.from)
	v, b = uvarint(b)
	r.seq = seq + uint32(unzigzag(v))
	v, b = uvarint(b)
	r.ack = ack + uint32(unzigzag(v))
	v, b = uvarint(b)
	r.window = uint16(int64(prev.window) + unzigzag(v))
	return r, b
}

// uvarint reads a varint at the start of b; the encodings here are only
// ever written by appendRec and appendTransition.
func uvarint(b []byte) (uint64, []byte) {
	v, n := binary.Uvarint(b)
	return v, b[n:]
}

// ladder is a tracked flow's ladder: its first chunk (LadderHead records),
// then up to two chunks of the tail. What the next record is encoded
// against is the last record, whose time and capture index are those of the
// flow's last packet, which conn keeps: only the rest is kept here, which
// makes a ladder 40 bytes.
type ladder struct {
	buf []byte
	// seq, ack, window and from are the last record's.
	seq, ack uint32
	window   uint16
	// tail and newer are where the tail's older and newer chunks begin in
	// buf; 0 until they do.
	tail, newer uint16
	// n counts the records of the chunk being written.
	n    uint8
	from Side
}

// add records r; prevT and prevIndex are the time and capture index of the
// packet before it. Past the first packets it allocates only if a chunk
// needs more room than the one it replaces had.
func (l *ladder) add(r *lrec, prevT int64, prevIndex uint64) {
	prev := lrec{t: prevT, index: prevIndex, seq: l.seq, ack: l.ack, window: l.window, from: l.from}
	switch {
	case len(l.buf) == 0:
		prev = lrec{}
	case l.tail == 0 && l.n == LadderHead:
		l.tail, l.n, prev = uint16(len(l.buf)), 0, lrec{}
	case l.tail != 0 && l.n == LadderTail:
		if l.newer != 0 { // the older chunk goes, the newer takes its place
			l.buf = l.buf[:int(l.tail)+copy(l.buf[l.tail:], l.buf[l.newer:])]
		}
		l.newer, l.n, prev = uint16(len(l.buf)), 0, lrec{}
	}
	if end := len(l.buf); cap(l.buf)-end >= maxRec { // in place, no copy
		l.buf = l.buf[:end+putRec((*[maxRec]byte)(l.buf[end:end+maxRec]), r, &prev)]
	} else {
		var x [maxRec]byte
		n := putRec(&x, r, &prev)
		if end+n > cap(l.buf) {
			l.grow(n)
		}
		l.buf = append(l.buf, x[:n]...)
	}
	l.seq, l.ack, l.window, l.from = r.seq, r.ack, r.window, r.from
	l.n++
}

// grow makes room for n more bytes (see ladderCaps).
func (l *ladder) grow(n int) {
	c := 2 * cap(l.buf)
	for _, lc := range ladderCaps {
		if lc > cap(l.buf) {
			c = lc
			break
		}
	}
	b := make([]byte, len(l.buf), max(c, len(l.buf)+n))
	copy(b, l.buf)
	l.buf = b
}

// flow returns the ladder encoded as the Flow holds it (Flow.ladder), in
// l's buffer, and how many packets it leaves out, given the number of
// packets recorded; l is not used afterwards. Only a flow of over
// LadderHead+LadderTail packets has its tail encoded again, as one chunk of
// the last LadderTail.
func (l *ladder) flow(packets uint64) ([]byte, uint64) {
	if l.newer == 0 {
		return l.buf, 0
	}
	var recs [2 * LadderTail]lrec
	n := readChunk(recs[:], l.buf[l.tail:l.newer])
	n += readChunk(recs[n:], l.buf[l.newer:])
	return appendChunk(l.buf[:l.tail], recs[n-LadderTail:n]), packets - LadderHead - LadderTail
}

// readChunk decodes the chunk b into recs and returns how many records it
// held.
func readChunk(recs []lrec, b []byte) int {
	n, prev := 0, lrec{}
	for ; len(b) > 0; n++ {
		recs[n], b = readRec(b, &prev)
		prev = recs[n]
	}
	return n
}

// appendChunk appends recs as a chunk.
func appendChunk(b []byte, recs []lrec) []byte {
	prev := lrec{}
	for i := range recs {
		b = appendRec(b, &recs[i], &prev)
		prev = recs[i]
	}
	return b
}

// Ladder returns the flow's ladder (see Flow.LadderOmitted), decoded: at
// most LadderHead+LadderTail steps, in capture order, with times in UTC.
// Each call decodes it again.
func (f *Flow) Ladder() []LadderStep {
	var steps []LadderStep
	prev := lrec{}
	for b := f.ladder; len(b) > 0; {
		if len(steps) == LadderHead {
			prev = lrec{}
		}
		prev, b = readRec(b, &prev)
		steps = append(steps, prev.step())
	}
	return steps
}

// SetLadder sets the flow's ladder to steps, as Ladder would return them,
// and LadderOmitted; for flows built by hand, as in tests. Times are kept as
// Unix nanoseconds, and From as Client or Server (its lowest bit).
func (f *Flow) SetLadder(steps []LadderStep, omitted uint64) {
	recs := make([]lrec, len(steps))
	for i := range steps {
		recs[i] = recOf(&steps[i])
	}
	head := min(len(recs), LadderHead)
	f.ladder = appendChunk(appendChunk(nil, recs[:head]), recs[head:])
	f.LadderOmitted = omitted
}

// recordLadder adds a packet sent by from at t to the ladder, if the flow
// keeps one; it comes before add records the packet in c.lastOff and its
// sender's last, so c.last() and c.lastIndex() are the previous packet's.
func (c ref) recordLadder(seg *capture.Segment, from Side, t int64) {
	l := c.ladder()
	if l == nil {
		return // Config.NoLadders
	}
	r := lrec{t: t, index: seg.Index, from: from, flags: seg.Flags, seq: seg.Seq,
		ack: seg.Ack, length: seg.PayloadLen, window: seg.Window}
	l.add(&r, c.last(), c.lastIndex())
}

// ladder returns the flow's ladder while it is tracked, kept beside the
// conn (connSide); nil under Config.NoLadders.
func (c ref) ladder() *ladder {
	if x := c.side; x != nil {
		return x.ladder
	}
	return nil
}

// buildLadder hands the ladder, if one was recorded, to the Flow.
func (c ref) buildLadder(f *Flow) {
	l := c.ladder()
	if l == nil {
		return
	}
	f.ladder, f.LadderOmitted = l.flow(c.packets(Client) + c.packets(Server))
	c.side.ladder = nil
}
