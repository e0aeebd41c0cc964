package capture

import "net/netip"

// Fragment reassembly bounds. A datagram's fragments are kept at most
// fragTimeout (Linux's ipfrag_time is 30 s) in a table of fragSlots
// entries; when the table is full the oldest entry is dropped. Memory is
// fixed at about fragSlots * 1.3 KiB whatever the input.
const (
	fragSlots   = 64
	fragTimeout = 30e9 // ns
	// fragHeadLen is how much of the datagram's payload we keep: enough
	// for a TCP header with all its options, or for the tunnel headers,
	// inner IP header and TCP header of a fragmented tunnel packet (GTP-U
	// and VXLAN datagrams are often fragmented on the outside). The rest
	// only counts by its length.
	fragHeadLen = 256
	maxDatagram = 65535
)

// fragKey identifies a datagram being reassembled (RFC 791: source,
// destination, protocol and identification; RFC 8200 for IPv6).
type fragKey struct {
	src, dst netip.Addr
	id       uint32
	proto    uint8
}

// fragEntry tracks one datagram: which 8-byte blocks of its payload have
// arrived, its length once the last fragment is seen, and the first bytes
// (the TCP header) wherever they came from, so a header split across
// fragments is rebuilt too.
type fragEntry struct {
	key   fragKey
	used  bool
	first int64 // time of the first fragment
	total int   // payload length, or -1 until the last fragment arrives
	have  [maxDatagram/8/64 + 1]uint64
	head  [fragHeadLen]byte
	headN [fragHeadLen / 64]uint64 // bit i set: head[i] was captured
}

type defragmenter struct {
	slots   [fragSlots]fragEntry
	dropped uint64 // datagrams dropped incomplete (timeout or table full)
}

func (f *defragmenter) pending() int {
	n := 0
	for i := range f.slots {
		if f.slots[i].used {
			n++
		}
	}
	return n
}

// lookup returns the entry for k, creating it (and evicting the oldest or
// expired entries) when needed.
func (f *defragmenter) lookup(k fragKey, ts int64) *fragEntry {
	var free, oldest *fragEntry
	for i := range f.slots {
		e := &f.slots[i]
		if e.used && ts-e.first > fragTimeout {
			e.used = false
			f.dropped++
		}
		if !e.used {
			if free == nil {
				free = e
			}
			continue
		}
		if e.key == k {
			return e
		}
		if oldest == nil || e.first < oldest.first {
			oldest = e
		}
	}
	if free == nil {
		free = oldest
		f.dropped++
	}
	*free = fragEntry{key: k, used: true, first: ts, total: -1}
	return free
}

// fragment records one fragment of a TCP or tunnel datagram: offset is its
// position in the payload, data its captured bytes, plen its declared
// length. When the datagram is complete its head is decoded as the
// transport payload, into seg.
func (d *Decoder) fragment(k fragKey, ts int64, offset int, more bool, data []byte, plen int, seg *Segment, depth int) Kind {
	if offset+plen > maxDatagram {
		return d.bad(ProblemFragmentTooLong)
	}
	if d.frags == nil {
		d.frags = new(defragmenter)
	}
	e := d.frags.lookup(k, ts)
	for i := offset / 8; i < (offset+plen+7)/8; i++ {
		e.have[i/64] |= 1 << (i % 64)
	}
	for i := offset; i < min(offset+len(data), fragHeadLen); i++ {
		e.head[i] = data[i-offset]
		e.headN[i/64] |= 1 << (i % 64)
	}
	if !more {
		e.total = offset + plen
	}
	if e.total < 0 {
		return KindFragment
	}
	for i := 0; i < (e.total+7)/8; i++ {
		if e.have[i/64]&(1<<(i%64)) == 0 {
			return KindFragment
		}
	}
	e.used = false
	// The header is usable as far as it was captured without a gap.
	n := 0
	for n < min(e.total, fragHeadLen) && e.headN[n/64]&(1<<(n%64)) != 0 {
		n++
	}
	k2 := d.transport(k.proto, k.src, k.dst, e.head[:n], e.total, ts, seg, depth)
	if k2 == KindTCP {
		d.reassembled = true
	}
	return k2
}
