package reassembly

import (
	"encoding/binary"
	"net/netip"
)

// A tracked flow keeps its endpoints in 14 bytes of its conn (connAddrs):
// an IPv4 address in place, an IPv6 one as its number in its table's
// v6Addrs, which keeps each IPv6 address once however many flows it is an
// end of. IPv4 and IPv6 flows alike then take no more of a slot than the
// 4 bytes an IPv4 address needs (issue 5's memory per flow), where 16-byte
// addresses took 38 bytes of every slot.

// connAddrs are a tracked flow's two endpoints, by Side, as its conn keeps
// them. v4 keeps an IPv4 address apart from its IPv4-mapped IPv6 form,
// which is another endpoint, kept as IPv6.
type connAddrs struct {
	// ip is an IPv4 end's address, or an IPv6 end's number in its
	// table's v6Addrs (v6Addrs.number; 0 for none).
	ip   [2][4]byte
	port [2]uint16
	v4   [2]bool
}

// number returns the v6Addrs number of end s, an IPv6 one.
func (c *connAddrs) number(s Side) uint32 { return binary.LittleEndian.Uint32(c.ip[s][:]) }

// slotAddrs are the endpoints of the flow in a slot: its conn's, and the
// IPv6 addresses of its table.
type slotAddrs struct {
	c  *connAddrs
	v6 *v6Addrs
}

// is reports whether ap is the endpoint of side s.
//
// An IPv4 address is compared as As4 gives it, not as the tail of As16's:
// a 4-byte load of the 16 bytes As16 has just stored as two 8-byte
// halves stalls on them (store forwarding fails), which cost a one-core
// audit about 10% (1.63 against 1.50 s).
func (a slotAddrs) is(s Side, ap netip.AddrPort) bool {
	ip := ap.Addr()
	if !a.c.v4[s] {
		return ap.Port() == a.c.port[s] && !ip.Is4() && ip.As16() == a.v6.addr(a.c.number(s))
	}
	return ap.Port() == a.c.port[s] && ip.Is4() && ip.As4() == a.c.ip[s]
}

// joins reports whether a segment from src to dst belongs to the flow's
// 4-tuple, without building a key. A flow of two IPv4 ends, most of
// them, takes each address of the segment apart once.
func (a slotAddrs) joins(src, dst netip.AddrPort) bool {
	c := a.c
	if !c.v4[Client] || !c.v4[Server] {
		return a.is(Client, src) && a.is(Server, dst) || a.is(Server, src) && a.is(Client, dst)
	}
	if !src.Addr().Is4() || !dst.Addr().Is4() {
		return false
	}
	s4, d4, sp, dp := src.Addr().As4(), dst.Addr().As4(), src.Port(), dst.Port()
	return s4 == c.ip[Client] && sp == c.port[Client] && d4 == c.ip[Server] && dp == c.port[Server] ||
		s4 == c.ip[Server] && sp == c.port[Server] && d4 == c.ip[Client] && dp == c.port[Client]
}

// get returns the endpoint of side s.
func (a slotAddrs) get(s Side) netip.AddrPort {
	if a.c.v4[s] {
		return netip.AddrPortFrom(netip.AddrFrom4(a.c.ip[s]), a.c.port[s])
	}
	return netip.AddrPortFrom(netip.AddrFrom16(a.v6.addr(a.c.number(s))), a.c.port[s])
}

// full returns the endpoints in the form a state change carries. The IPv6
// part is written only for an IPv6 flow: the zero value's stores are as
// wide as the loads that copy the change on, where 4-byte ones (building
// an IPv4-mapped address) would stall them.
func (a slotAddrs) full() flowAddrs {
	f := flowAddrs{connAddrs: *a.c}
	for s := range f.v6 {
		if !a.c.v4[s] {
			f.v6[s] = a.v6.addr(a.c.number(Side(s)))
		}
	}
	return f
}

// endpointHash is endpointHashOf for the endpoint of side s as a slot
// keeps it.
func (a slotAddrs) endpointHash(s Side) uint64 {
	if a.c.v4[s] {
		return endpointHash4(binary.BigEndian.Uint32(a.c.ip[s][:]), a.c.port[s])
	}
	ip := a.v6.addr(a.c.number(s))
	return endpointHash6(&ip, a.c.port[s])
}

// hash is the flowHash of the flow's 4-tuple, from the form a slot keeps
// its addresses in: from netip's, each address would take a conversion.
// (A segment's are hashed from netip's, as building the stored form first
// cost the reading goroutine three times as much.)
func (a slotAddrs) hash() uint64 {
	return mixFlow(a.endpointHash(Client) ^ a.endpointHash(Server))
}

// flowAddrs are a flow's two endpoints, by Side, as a state change carries
// them (census.go), with an IPv6 end's address in place of its number,
// without netip's pointer (nothing for the garbage collector to scan).
type flowAddrs struct {
	connAddrs
	v6 [2][16]byte // the addresses of IPv6 ends
}

// get returns the endpoint of side s.
func (a *flowAddrs) get(s Side) netip.AddrPort {
	if a.v4[s] {
		return netip.AddrPortFrom(netip.AddrFrom4(a.ip[s]), a.port[s])
	}
	return netip.AddrPortFrom(netip.AddrFrom16(a.v6[s]), a.port[s])
}

// v6Addrs are the IPv6 addresses of a table's tracked flows, each kept
// once, numbered from 1, with the number of flow ends that name it: an
// address no flow names any more is forgotten and its number reused. An
// address costs about 73 bytes (its entry and the map's, as tcpbench
// measures them), once for all the flows of a host.
type v6Addrs struct {
	addrs   []v6Addr // by number; addrs[0] is never used
	numbers map[[16]byte]uint32
	free    []uint32 // numbers to reuse
}

type v6Addr struct {
	ip   [16]byte
	ends uint32 // flow ends that name it
}

// addr returns the address numbered n.
func (t *v6Addrs) addr(n uint32) [16]byte { return t.addrs[n].ip }

// number returns ip's number, counting one more flow end that names it.
func (t *v6Addrs) number(ip [16]byte) uint32 {
	n, ok := t.numbers[ip]
	if !ok {
		if t.numbers == nil {
			t.numbers = make(map[[16]byte]uint32)
			t.addrs = make([]v6Addr, 1, 64)
		}
		if k := len(t.free); k > 0 {
			n, t.free = t.free[k-1], t.free[:k-1]
		} else {
			n = uint32(len(t.addrs))
			t.addrs = append(t.addrs, v6Addr{})
		}
		t.addrs[n].ip = ip
		t.numbers[ip] = n
	}
	t.addrs[n].ends++
	return n
}

// release counts one flow end less that names the address numbered n (0:
// none), forgetting it when none does.
func (t *v6Addrs) release(n uint32) {
	if n == 0 {
		return
	}
	a := &t.addrs[n]
	if a.ends--; a.ends == 0 {
		delete(t.numbers, a.ip)
		t.free = append(t.free, n)
	}
}
