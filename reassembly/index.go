package reassembly

import (
	"encoding/binary"
	"net/netip"
)

// flowIndex finds the conn of a 4-tuple. It is an open-addressing hash
// table with linear probing over two parallel arrays: 32 bits of each
// conn's hash (its tag, which also names its home slot), and the conn's
// handle in its table's slabs. A
// lookup scans the tag array, which is dense (16 slots per cache line), and
// touches a conn only when its tag matches; the conn is the one the caller
// needs next anyway. Moving entries (removal, growth) reads only tags. The
// 4-tuple is not stored: the conn's addresses are its key (conn.joins).
//
// Against a Go map keyed by a 40-byte flowKey this costs 8 bytes per slot
// instead of about 48 plus control bytes, and one likely cache miss per
// lookup instead of two (issue 5: both memory per flow and time per packet).
//
// Deletion shifts later entries of a probe run back (Knuth's algorithm R),
// so there are no tombstones and lookups never slow down with churn.
type flowIndex struct {
	tags  []uint32 // 0 marks an empty slot; see tagOf
	conns []handle
	n     int
	mask  uint64
}

// minIndexSlots is the first size of the arrays: a small capture's table
// stays small.
const minIndexSlots = 64

// flowHash hashes a 4-tuple the same way in both directions: each
// endpoint's hash is combined with XOR, which does not care about order.
// slotAddrs.hash gives the same value from a conn's stored addresses.
func flowHash(a, b netip.AddrPort) uint64 {
	return mixFlow(endpointHashOf(a) ^ endpointHashOf(b))
}

// mixFlow folds the high bits of two endpoints' hashes in: slots and shards
// are chosen by the low ones.
func mixFlow(h uint64) uint64 {
	h ^= h >> 29
	h *= 0xbf58476d1ce4e5b9
	return h ^ h>>32
}

// endpointHashOf is one endpoint's part of flowHash.
func endpointHashOf(ap netip.AddrPort) uint64 {
	ip := ap.Addr()
	if ip.Is4() {
		a := ip.As4()
		return endpointHash4(binary.BigEndian.Uint32(a[:]), ap.Port())
	}
	a := ip.As16()
	return endpointHash6(&a, ap.Port())
}

// endpointHash4 and endpointHash6 mix an address and port into 64 bits
// (the multipliers are splitmix64's). An IPv4 address, most of what is
// captured, takes one multiplication; it hashes apart from its
// IPv4-mapped IPv6 form, which is another endpoint (slotAddrs.joins
// keeps them apart in any case).
func endpointHash4(ip uint32, port uint16) uint64 {
	h := (uint64(ip)<<16 | uint64(port)) * 0x9e3779b97f4a7c15
	return h ^ h>>30
}

func endpointHash6(ip *[16]byte, port uint16) uint64 {
	h := binary.LittleEndian.Uint64(ip[:8])*0x9e3779b97f4a7c15 ^ binary.LittleEndian.Uint64(ip[8:])
	h = (h ^ h>>31) * 0x94d049bb133111eb
	h ^= uint64(port) * 0xbf58476d1ce4e5b9
	return h ^ h>>30
}

// tagOf is the part of a hash kept per slot: its low 32 bits, never 0.
// The home slot is the tag's low bits; the bits above them tell most
// conns that share a home slot apart (a Sharded picks shards with the
// high 32 bits, which are therefore no use here).
func tagOf(h uint64) uint32 {
	if t := uint32(h); t != 0 {
		return t
	}
	return 1
}

// Len returns the number of conns indexed.
func (x *flowIndex) Len() int { return x.n }

// find returns the conn of the 4-tuple src-dst, whose flowHash is h, or 0;
// s holds the conns.
func (x *flowIndex) find(h uint64, src, dst netip.AddrPort, s *slabs) handle {
	if x.n == 0 {
		return 0
	}
	tag := tagOf(h)
	for i := uint64(tag) & x.mask; ; i = (i + 1) & x.mask {
		switch x.tags[i] {
		case 0:
			return 0
		case tag:
			if c := x.conns[i]; s.addrs(c).joins(src, dst) {
				return c
			}
		}
	}
}

// insert adds c, whose flowHash is h; its 4-tuple must not be indexed yet.
func (x *flowIndex) insert(h uint64, c handle) {
	if (x.n+1)*4 > len(x.tags)*3 {
		x.grow()
	}
	x.place(tagOf(h), c)
	x.n++
}

func (x *flowIndex) place(tag uint32, c handle) {
	i := uint64(tag) & x.mask
	for x.tags[i] != 0 {
		i = (i + 1) & x.mask
	}
	x.tags[i], x.conns[i] = tag, c
}

// grow doubles the arrays (load stays at most 3/4).
func (x *flowIndex) grow() { x.resize(max(2*len(x.tags), minIndexSlots)) }

// resize makes the arrays size slots and places every conn again by its
// tag.
func (x *flowIndex) resize(size int) {
	oldTags, oldConns := x.tags, x.conns
	x.tags, x.conns, x.mask = make([]uint32, size), make([]handle, size), uint64(size-1)
	// Written before they are read (see prefault): probing reads first.
	clear(x.tags)
	clear(x.conns)
	for i, c := range oldConns {
		if c != 0 {
			x.place(oldTags[i], c)
		}
	}
}

// remove deletes c, whose flowHash is h.
func (x *flowIndex) remove(h uint64, c handle) {
	i := uint64(tagOf(h)) & x.mask
	for x.conns[i] != c {
		if x.tags[i] == 0 {
			return // not indexed
		}
		i = (i + 1) & x.mask
	}
	x.n--
	// Move back any later entry of the run whose home slot is not in
	// (hole, j]: it would otherwise become unreachable.
	hole := i
	for j := (i + 1) & x.mask; x.tags[j] != 0; j = (j + 1) & x.mask {
		home := uint64(x.tags[j]) & x.mask
		if (j-home)&x.mask >= (j-hole)&x.mask {
			x.tags[hole], x.conns[hole] = x.tags[j], x.conns[j]
			hole = j
		}
	}
	x.tags[hole], x.conns[hole] = 0, 0
	// Halve the arrays when they are a sixteenth full, so that the index
	// gives back the memory of a burst as the slabs do (slabs.release);
	// halved, they are an eighth full, far from growing again.
	if x.n*16 < len(x.tags) && len(x.tags) > minIndexSlots {
		x.resize(len(x.tags) / 2)
	}
}

// each calls fn for every indexed conn, in no particular order.
func (x *flowIndex) each(fn func(handle)) {
	for _, c := range x.conns {
		if c != 0 {
			fn(c)
		}
	}
}
