package reassembly

import "github.com/tcpaudit/tcpaudit/capture"

// segKind is what a segment means for its sender's sequence space.
type segKind uint8

const (
	kindAck             segKind = iota // no sequence space (pure ACK)
	kindNew                            // advances the sender's snd.nxt
	kindRetransmit                     // re-sends sequence space already sent
	kindOutOfOrder                     // fills a hole left by an earlier jump ahead
	kindKeepAlive                      // seq = snd.nxt-1 with 0 or 1 byte, everything acked
	kindZeroWindowProbe                // probes a peer that advertised a zero window
)

// repeat reports whether the segment solicits an answer the peer has not
// given yet: the evidence half_open is built on.
func (k segKind) repeat() bool {
	return k == kindRetransmit || k == kindKeepAlive || k == kindZeroWindowProbe
}

// maxHoles bounds the sequence holes remembered per endpoint. Capture-point
// reordering rarely leaves more than one or two open at once; when more are
// open the oldest is forgotten and a late filler counts as a retransmission.
const maxHoles = 4

type hole struct{ lo, hi Seq }

// holeRef reaches the holes of end side of c: they are kept beside the
// conn (connSide), allocated at the end's first jump ahead, which most
// ends never make.
type holeRef struct {
	c    ref
	side Side
}

func (r holeRef) get() *[maxHoles]hole {
	x := r.c.sideOnce()
	if x.holes[r.side] == nil {
		x.holes[r.side] = new([maxHoles]hole)
	}
	return x.holes[r.side]
}

// dupWindow is how close in time two identical segments must be to count as
// one packet captured twice (SPAN ports, capturing on both ends, -i any on a
// bridge). Real retransmissions are at least an RTO or a few RTTs apart.
const dupWindow = int64(1_000_000) // 1 ms

// signature identifies a segment for duplicate detection: a 64-bit hash
// of what a copy of it would repeat (sequence and acknowledgment numbers,
// flags, window, length, timestamp value) and when it was sent. Two
// different segments of one end, within dupWindow of each other, would
// have to collide in 64 bits to be taken for copies; keeping the fields
// themselves would cost 16 more bytes per end (issue 5's memory per flow).
type signature struct {
	time int64
	hash uint64 // 0: none (see signatureOf)
}

func signatureOf(seg *capture.Segment, t int64) signature {
	ts := uint64(0)
	if seg.HasTS {
		ts = 1<<32 | uint64(seg.TSVal)
	}
	h := mix64(uint64(seg.Seq) | uint64(seg.Ack)<<32)
	h = mix64(h ^ (uint64(seg.PayloadLen) | uint64(seg.Window)<<32 | uint64(seg.Flags)<<48))
	h = mix64(h ^ ts)
	return signature{time: t, hash: h | 1}
}

// mix64 is splitmix64's finalizer: every input bit affects every output bit.
func mix64(h uint64) uint64 {
	h = (h ^ h>>30) * 0xbf58476d1ce4e5b9
	h = (h ^ h>>27) * 0x94d049bb133111eb
	return h ^ h>>31
}

// endTrack is the inferred TCP state of one end, as rebuilt from the
// segments it sent and received. Its times other than last are in its
// conn (timeID).
type endTrack struct {
	// Fields are ordered by size, so that no padding is kept per flow
	// (two endTracks per open flow: issue 5).

	// last is the time of the last packet this end sent, in Unix
	// nanoseconds, or the flow's first until it sends (see conn.last):
	// not a stamp, as every packet reads and sets one.
	last int64

	// sigHash and sigLag are the signature of the last segment this end
	// sent that a copy could repeat (see isDuplicate): its hash, and how
	// long before last it was sent, which is at most dupWindow (a copy's
	// time is last, its original's within dupWindow before) and
	// irrelevant once sigHash is 0, so 32 bits hold it.
	sigHash uint64
	sigLag  uint32

	isn Seq
	// nxt is one past the highest sequence number this end sent (its
	// snd.nxt as seen at the capture point); valid iff nxtValid.
	nxt Seq
	// ack is the highest acknowledgment this end sent, i.e. its rcv.nxt;
	// valid iff ackValid.
	ack Seq
	// win is the last window this end advertised, scaled when the scale is
	// known (winScaled); valid iff nxtValid, as add sets it after every
	// segment classify sees.
	win    uint32
	finSeq Seq // sequence number of the FIN octet
	// synTSFirst and synTSLast are the TSvals of this end's first and
	// latest SYN, when it carried timestamps (synTS).
	synTSFirst, synTSLast uint32
	// runRepeats counts the repeats (see segKind.repeat) this end sent
	// since its peer last sent anything.
	runRepeats uint32

	state  State
	wscale int8
	nholes uint8
	facts  endFacts
}

// endFacts are what an end did or what of it is known, yes or no, a bit
// each: as bools they took eight bytes of every end, which with the
// fields above came to 64 bytes an end instead of 56 (issue 5's memory
// per flow).
type endFacts uint8

const (
	sawSYN    endFacts = 1 << iota // it sent a SYN (isn is set)
	nxtValid                       // nxt and win are set
	ackValid                       // ack is set
	winScaled                      // win is scaled (or exact: a SYN's)
	finSent                        // it sent a FIN (finSeq is set)
	finAcked                       // its FIN was acknowledged
	seen                           // it sent a packet (last is its own)
	synTS                          // its first SYN carried timestamps
)

// has reports whether every fact of f is known of s.
func (s *endTrack) has(f endFacts) bool { return s.facts&f == f }

func (s *endTrack) set(f endFacts) { s.facts |= f }

// setTo sets f when on is true, else clears it.
func (s *endTrack) setTo(f endFacts, on bool) {
	if on {
		s.facts |= f
	} else {
		s.facts &^= f
	}
}

// classify decides what a non-RST segment means for its sender s and
// advances s.nxt. peer is the receiving end, whose acks and window tell
// keepalives and probes apart from data; holes are s's.
func (s *endTrack) classify(seg *capture.Segment, peer *endTrack, holes holeRef) segKind {
	seq := Seq(seg.Seq)
	end := seq.Add(Size(seg.SeqLen()))
	syn, fin := seg.Flags.Has(capture.SYN), seg.Flags.Has(capture.FIN)
	if !s.has(nxtValid) {
		s.nxt = end
		s.set(nxtValid)
		if seg.SeqLen() == 0 {
			return kindAck
		}
		return kindNew
	}
	plen := seg.PayloadLen
	if !syn && !fin && plen <= 1 && seq == s.nxt-1 {
		// RFC 9293 section 3.8.4 keepalives, and Linux zero-window probes
		// (tcp_xmit_probe_skb), both send snd.una-1: one old octet or none.
		if peer.has(nxtValid) && peer.win == 0 {
			return kindZeroWindowProbe
		}
		if !peer.has(ackValid) || peer.ack == s.nxt {
			return kindKeepAlive
		}
	}
	if seg.SeqLen() == 0 {
		return kindAck
	}
	if peer.has(nxtValid) && peer.win == 0 && !syn && !fin && plen == 1 && seq == s.nxt {
		// Other stacks probe a closed window with one new octet.
		s.nxt = end
		return kindZeroWindowProbe
	}
	if s.nxt.LessThan(end) {
		kind := kindNew
		if s.nxt.LessThan(seq) {
			s.addHole(holes, s.nxt, seq)
		} else if seq.LessThan(s.nxt) && !s.fillHole(holes, seq, s.nxt) {
			kind = kindRetransmit // re-sends old octets along with new ones
		}
		s.nxt = end
		return kind
	}
	if s.fillHole(holes, seq, end) {
		return kindOutOfOrder
	}
	return kindRetransmit
}

func (s *endTrack) addHole(holes holeRef, lo, hi Seq) {
	hs := holes.get()
	if int(s.nholes) == maxHoles {
		copy(hs[:], hs[1:])
		s.nholes--
	}
	hs[s.nholes] = hole{lo, hi}
	s.nholes++
}

// fillHole removes [lo, hi) from the remembered holes and reports whether it
// overlapped any: a segment that fills a hole is late, not retransmitted.
func (s *endTrack) fillHole(holes holeRef, lo, hi Seq) bool {
	if s.nholes == 0 {
		return false
	}
	hs := holes.get()
	filled := false
	for i := 0; i < int(s.nholes); i++ {
		h := hs[i]
		if !lo.LessThan(h.hi) || !h.lo.LessThan(hi) {
			continue
		}
		filled = true
		switch {
		case lo.LessThanEq(h.lo) && h.hi.LessThanEq(hi): // covered: drop it
			copy(hs[i:], hs[i+1:s.nholes])
			s.nholes--
			i--
		case lo.LessThanEq(h.lo): // covers the front
			hs[i].lo = hi
		case h.hi.LessThanEq(hi): // covers the back
			hs[i].hi = lo
		default: // inside: keep the front part, and the back part if room
			hs[i].hi = lo
			if int(s.nholes) < maxHoles {
				hs[s.nholes] = hole{hi, h.hi}
				s.nholes++
			}
		}
	}
	return filled
}

// isDuplicate reports whether seg is the same packet as the previous one this
// end sent, captured a second time. Pure ACKs are never called duplicates:
// identical duplicate ACKs are normal TCP (RFC 5681) and change nothing.
//
// The caller records the packet with sentAt after it: last is then t.
func (s *endTrack) isDuplicate(seg *capture.Segment, t int64) bool {
	if seg.SeqLen() == 0 && !seg.Flags.Has(capture.RST) {
		s.sigHash = 0
		return false
	}
	prev, cur := signature{time: s.last - int64(s.sigLag), hash: s.sigHash}, signatureOf(seg, t)
	if prev.hash != 0 && t-prev.time <= dupWindow && cur.hash == prev.hash {
		// A copy: the original's time stays, so copies are counted
		// within dupWindow of the first, not of one another.
		s.sigLag = uint32(t - prev.time)
		return true
	}
	s.sigHash, s.sigLag = cur.hash, 0
	return false
}

// sentAt records that this end sent a packet at t.
func (s *endTrack) sentAt(t int64) {
	s.set(seen)
	s.last = t
}

// echoOK reports whether a segment sent to this end echoes a timestamp this
// end could have sent with its SYN: Linux drops a reply in SYN-SENT whose
// TSecr is not between its SYN's TSval and now (PAWS). A zero or absent echo
// says nothing.
func (s *endTrack) echoOK(seg *capture.Segment) bool {
	if !s.has(synTS) || !seg.HasTS || seg.TSEcr == 0 {
		return true
	}
	// Allow a little clock progress beyond the latest SYN (retransmissions
	// the capture missed): 10 s at 1 kHz.
	return int32(seg.TSEcr-s.synTSFirst) >= 0 && int32(seg.TSEcr-s.synTSLast) <= 10000
}
