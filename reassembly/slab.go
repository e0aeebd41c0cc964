package reassembly

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
)

// A table keeps its conns in slabs it owns and reuses, not one allocation
// each (issue 5): a conn holds no Go pointer, so the garbage collector
// never scans the conns, which are most of the live heap (flows lingering
// in TIME_WAIT), and a new flow takes a free slot instead of a malloc.
// What a conn would point to is kept beside it in its slab, in the part
// the collector does scan: its Zeek tracker (whose rare parts are
// pointers) and its side data (connSide), allocated for the flows that
// need any. A conn is named by its handle, its slot's number: the index
// and the recency lists hold handles.

// handle names a slot of a table's slabs; 0 is none (slot 0 of the first
// slab is never handed out).
type handle uint32

// slabBits is log2 of the conns per slab: 512 conns, 184 KB (23 pages),
// so that a small capture's table stays small and a large one grows in
// few steps, and so that the slots fill whole pages: a slab is a whole
// number of 8 KB pages, and at 256 slots of 368 bytes the pages' last
// half was 16 bytes a slot of nothing (TestConnSize).
const (
	slabBits = 9
	slabLen  = 1 << slabBits
	slabMask = slabLen - 1
)

// slab is slabLen slots. Its pointer-holding parts come first: the garbage
// collector scans an object only up to its last pointer, so it never reads
// conns.
type slab struct {
	data  [slabLen]slotData
	conns [slabLen]conn
}

// slotData is the part of a slot that the collector scans: the flow's
// Zeek tracker and its side data, nil if it has none. The side pointer is
// beside the tracker, which every packet reads, so whether a flow has side
// data is read from it rather than kept again in the conn.
type slotData struct {
	side *connSide
	zeek zeekTracker
}

// connSide is what a conn keeps beside it because it is a pointer: what
// only unusual flows need (oddities, sequence holes, a timeline longer
// than conn.tl, counters past conn's), and the ladder when a report draws
// ladders.
type connSide struct {
	odd      *oddities
	holes    [2]*[maxHoles]hole
	ladder   *ladder
	timeline []byte
	wide     *wideFields
}

// slabs are a table's slots. Each slab keeps its free slots on a list of
// its own, linked by their conns' next, and a new flow takes a slot of the
// lowest slab that has one. So the flows open after a burst gather in the
// low slabs while the high ones empty as the burst's flows end, and empty
// slabs at the top are given back (release): a long live capture holds the
// memory of the flows open now, not of the most it ever had.
type slabs struct {
	slabs []*slab
	// free[i] is slab i's first free slot (0: none), used[i] how many of
	// its slots are handed out.
	free []handle
	used []uint16
	// v6 are the IPv6 addresses of the slots' flows (connAddrs).
	v6 v6Addrs
	// open has bit i set when slab i has a free slot; no word below low
	// has any bit set.
	open []uint64
	low  int
}

// at returns the conn in slot h.
func (s *slabs) at(h handle) *conn { return &s.slabs[h>>slabBits].conns[h&slabMask] }

// ref returns the conn in slot h with what it reaches in its slab; cs is
// its table's census.
func (s *slabs) ref(h handle, cs *census) ref {
	b := s.slabs[h>>slabBits]
	i := h & slabMask
	return ref{conn: &b.conns[i], slotData: &b.data[i], v6: &s.v6, cs: cs}
}

// addrs returns the endpoints of the flow in slot h.
func (s *slabs) addrs(h handle) slotAddrs {
	return slotAddrs{c: &s.at(h).addr, v6: &s.v6}
}

// setAddrs sets the endpoints of the flow in slot h, numbering its IPv6
// ones; release forgets them.
func (s *slabs) setAddrs(h handle, client, server netip.AddrPort) {
	var a connAddrs
	for side, ap := range [2]netip.AddrPort{client, server} {
		ip := ap.Addr()
		a.port[side], a.v4[side] = ap.Port(), ip.Is4()
		if ip.Is4() {
			a.ip[side] = ip.As4()
		} else {
			binary.LittleEndian.PutUint32(a.ip[side][:], s.v6.number(ip.As16()))
		}
	}
	// Stored whole, as the census copies it whole when the flow's first
	// state changes, in the same packet: a copy of narrower stores just
	// made would stall on them.
	s.at(h).addr = a
}

// alloc returns a free slot of the lowest slab that has one, adding a slab
// if none has. Its conn is left as the previous flow left it: the caller
// sets all of it.
func (s *slabs) alloc() handle {
	i := s.lowestOpen()
	if i < 0 {
		i = s.grow()
	}
	h := s.free[i]
	c := s.at(h)
	s.free[i], c.next = c.next, 0
	if s.used[i]++; s.free[i] == 0 {
		s.open[i/64] &^= 1 << (i % 64)
	}
	return h
}

// lowestOpen returns the lowest slab with a free slot, or -1.
func (s *slabs) lowestOpen() int {
	for ; s.low < len(s.open); s.low++ {
		if w := s.open[s.low]; w != 0 {
			return s.low*64 + bits.TrailingZeros64(w)
		}
	}
	return -1
}

// prefault writes to every page of a new slab that building its free list
// (which writes each conn) does not. Memory fresh from the kernel reads as
// its shared zero page until written: the first packet of a flow read its
// Zeek record before writing it, and the write then cost a second fault
// that, with the table's goroutines on two cores, also stopped the other
// core to flush its TLB. That was 4% of the CPU time of an audit on two
// cores (perf, issue 5); a write first costs one fault per page.
func prefault(sl *slab) {
	for i := range sl.data {
		sl.data[i].side, sl.data[i].zeek.cur.active = nil, false
	}
}

// grow adds a slab, all of its slots free, and returns its number.
func (s *slabs) grow() int {
	i := len(s.slabs)
	sl := new(slab)
	s.slabs = append(s.slabs, sl)
	prefault(sl)
	s.free = append(s.free, 0)
	s.used = append(s.used, 0)
	if i/64 == len(s.open) {
		s.open = append(s.open, 0)
	}
	n := handle(i) << slabBits
	first := n
	if n == 0 {
		first = 1 // handle 0 is none
	}
	for h := n + slabLen - 1; h >= first; h-- {
		s.at(h).next, s.free[i] = s.free[i], h
	}
	s.open[i/64] |= 1 << (i % 64)
	s.low = min(s.low, i/64)
	return i
}

// release frees slot h for another flow. Whatever the flow had beside its
// conn is dropped now, for the collector; the conn is overwritten when the
// slot is handed out again. Empty slabs at the top are given back but one,
// so that a table whose flows hover at a slab's edge does not allocate and
// free a slab over and over.
func (s *slabs) release(h handle) {
	i := int(h >> slabBits)
	b := s.slabs[i]
	j := h & slabMask
	b.data[j] = slotData{}
	if a := &b.conns[j].addr; !a.v4[Client] || !a.v4[Server] {
		for side := range a.ip {
			if !a.v4[side] {
				s.v6.release(a.number(Side(side)))
			}
		}
		*a = connAddrs{} // number 0 is none: nothing is released twice
	}
	b.conns[j].next, s.free[i] = s.free[i], h
	s.open[i/64] |= 1 << (i % 64)
	s.low = min(s.low, i/64)
	if s.used[i]--; s.used[i] > 0 {
		return
	}
	for n := len(s.slabs); n > 1 && s.used[n-1] == 0 && s.used[n-2] == 0; n-- {
		s.slabs[n-1] = nil
		s.slabs, s.free, s.used = s.slabs[:n-1], s.free[:n-1], s.used[:n-1]
		s.open[(n-1)/64] &^= 1 << ((n - 1) % 64)
		if (n-1)%64 == 0 {
			s.open = s.open[:(n-1)/64]
		}
	}
}

// ref is a tracked conn with what it reaches in its slab rather than
// through pointers of its own. It is built for each use (slabs.ref) and
// not kept: a slab's slots stay put, but a slot is reused.
//
// It has four fields, no more: the compiler keeps a struct of up to four
// in registers, and one of five went through memory at every call of a
// method of ref, which cost a one-core audit 13% (1.50 against 1.33 s).
type ref struct {
	*conn
	*slotData
	// v6 are the IPv6 addresses of the table's flows (see addrs).
	v6 *v6Addrs
	// cs is told of every state change (census.go); nil in tests of the
	// state machine alone.
	cs *census
}

// addrs returns c's endpoints.
func (c ref) addrs() slotAddrs { return slotAddrs{c: &c.addr, v6: c.v6} }

// sideOnce returns c's side data for recording something, allocating
// them at the first need.
func (c ref) sideOnce() *connSide {
	if c.side == nil {
		c.side = new(connSide)
	}
	return c.side
}
