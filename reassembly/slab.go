package reassembly

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

// slabBits is log2 of the conns per slab: 256 conns, about 125 KB, so that
// a small capture's table stays small and a large one grows in few steps.
const (
	slabBits = 8
	slabLen  = 1 << slabBits
	slabMask = slabLen - 1
)

// slab is slabLen slots. Its pointer-holding parts come first: the garbage
// collector scans an object only up to its last pointer, so it never reads
// conns.
type slab struct {
	side  [slabLen]*connSide
	zeek  [slabLen]zeekTracker
	conns [slabLen]conn
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

// slabs are a table's slots; free is the first free one, each linked to
// the next free one by its conn's next. Slabs are never given back: a
// table keeps the memory of its most flows open at once, for the next.
type slabs struct {
	slabs []*slab
	free  handle
}

// at returns the conn in slot h.
func (s *slabs) at(h handle) *conn { return &s.slabs[h>>slabBits].conns[h&slabMask] }

// ref returns the conn in slot h with what it reaches in its slab; cs is
// its table's census.
func (s *slabs) ref(h handle, cs *census) ref {
	b := s.slabs[h>>slabBits]
	i := h & slabMask
	return ref{conn: &b.conns[i], zeek: &b.zeek[i], side: &b.side[i], cs: cs}
}

// alloc returns a free slot, adding a slab if none is free. Its conn is
// left as the previous flow left it: the caller sets all of it.
func (s *slabs) alloc() handle {
	if s.free == 0 {
		n := handle(len(s.slabs)) << slabBits
		s.slabs = append(s.slabs, new(slab))
		first := n
		if n == 0 {
			first = 1 // handle 0 is none
		}
		for h := n + slabLen - 1; h >= first; h-- {
			s.at(h).next, s.free = s.free, h
		}
	}
	h := s.free
	c := s.at(h)
	s.free, c.next = c.next, 0
	return h
}

// release frees slot h for another flow. Whatever the flow had beside its
// conn is dropped now, for the collector; the conn is overwritten when the
// slot is handed out again.
func (s *slabs) release(h handle) {
	b := s.slabs[h>>slabBits]
	i := h & slabMask
	b.side[i], b.zeek[i] = nil, zeekTracker{}
	b.conns[i].next, s.free = s.free, h
}

// ref is a tracked conn with what it reaches in its slab rather than
// through pointers of its own. It is built for each use (slabs.ref) and
// not kept: a slab's slots stay put, but a slot is reused.
type ref struct {
	*conn
	zeek *zeekTracker
	side **connSide
	// cs is told of every state change (census.go); nil in tests of the
	// state machine alone.
	cs *census
}

// sideOnce returns c's side data for recording something, allocating
// them at the first need.
func (c ref) sideOnce() *connSide {
	if !c.sided {
		*c.side, c.sided = new(connSide), true
	}
	return *c.side
}

// sideData returns c's side data, or nil if it has none.
func (c ref) sideData() *connSide {
	if !c.sided {
		return nil
	}
	return *c.side
}
