package reassembly

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

// testIndex is an index with the slabs its conns are in.
type testIndex struct {
	flowIndex
	s slabs
}

// indexed makes a conn for the 4-tuple a-b and puts it in x.
func indexed(x *testIndex, a, b netip.AddrPort) handle {
	h := x.s.alloc()
	*x.s.at(h) = conn{}
	x.s.setAddrs(h, a, b)
	x.insert(x.s.addrs(h).hash(), h)
	return h
}

// lookup finds the conn of a packet from a to b.
func (x *testIndex) lookup(a, b netip.AddrPort) handle { return x.find(flowHash(a, b), a, b, &x.s) }

// The index must find a 4-tuple whichever way a packet goes, and keep
// apart endpoints that netip keeps apart, IPv4 addresses from their
// IPv4-mapped IPv6 forms included (hostile input could otherwise merge two
// flows): such pairs hash alike, so only the comparison tells them apart.
func TestIndexKeepsEndpointsApart(t *testing.T) {
	v4 := netip.MustParseAddrPort("10.0.0.1:40000")
	mapped := netip.MustParseAddrPort("[::ffff:10.0.0.1]:40000")
	srv := netip.MustParseAddrPort("10.0.0.2:80")
	srv6 := netip.MustParseAddrPort("[::ffff:10.0.0.2]:80")
	pairs := [][2]netip.AddrPort{
		{v4, srv}, {mapped, srv}, {v4, srv6}, {mapped, srv6},
		{v4, netip.AddrPortFrom(srv.Addr(), 81)},
		{netip.MustParseAddrPort("[2001:db8::1]:40000"), netip.MustParseAddrPort("[2001:db8::2]:80")},
	}
	var x testIndex
	conns := make([]handle, len(pairs))
	for i, p := range pairs {
		conns[i] = indexed(&x, p[0], p[1])
	}
	for i, p := range pairs {
		for _, dir := range [][2]netip.AddrPort{{p[0], p[1]}, {p[1], p[0]}} {
			if got := x.lookup(dir[0], dir[1]); got != conns[i] {
				t.Errorf("%v -> %v: found the conn of %v, want its own", dir[0], dir[1], x.s.addrs(got).full())
			}
		}
	}
}

// Insertions and removals in any order must leave every indexed conn
// findable and no removed one: the backward shift of removal is the part
// that can lose entries, so the table is kept small and full (long probe
// runs that wrap around the end of the arrays).
func TestIndexChurn(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var x testIndex
	live := map[handle]bool{}
	var order []handle
	for step := range 200_000 {
		if len(order) > 0 && (len(order) > 40 || rng.IntN(2) == 0) {
			i := rng.IntN(len(order))
			c := order[i]
			order[i] = order[len(order)-1]
			order = order[:len(order)-1]
			x.remove(x.s.addrs(c).hash(), c)
			x.s.release(c)
			delete(live, c)
		} else {
			a := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(step >> 8), byte(step)}), uint16(rng.IntN(4)+1024))
			b := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, 0, byte(rng.IntN(3))}), 80)
			if x.lookup(a, b) != 0 {
				continue
			}
			c := indexed(&x, a, b)
			live[c] = true
			order = append(order, c)
		}
		if x.Len() != len(live) {
			t.Fatalf("step %d: index holds %d, want %d", step, x.Len(), len(live))
		}
		if step%97 == 0 {
			for h := range live {
				a := x.s.addrs(h)
				if got := x.lookup(a.get(Server), a.get(Client)); got != h {
					t.Fatalf("step %d: lost %v", step, a.full())
				}
			}
			n := 0
			x.each(func(handle) { n++ })
			if n != len(live) {
				t.Fatalf("step %d: each visits %d, want %d", step, n, len(live))
			}
		}
	}
}

// Captures are regular: clients numbered in a row talk to servers
// numbered in a row, from ports handed out in order. The hash must still
// spread them, or every lookup walks a long run. Distances from each
// conn's home slot are counted, which is deterministic for a given hash.
func TestIndexSpreadsRegularTuples(t *testing.T) {
	var x testIndex
	n := 0
	for c := range 200 {
		for s := range 20 {
			for p := range 25 {
				cl := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(c >> 8), byte(c)}), uint16(1024+p))
				sv := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 200, 0, byte(s)}), 80)
				indexed(&x, cl, sv)
				n++
			}
		}
	}
	total := uint64(0)
	for i, c := range x.conns {
		if c != 0 {
			total += (uint64(i) - uint64(tagOf(x.s.addrs(c).hash()))) & x.mask
		}
	}
	// Linear probing at the table's load (at most 3/4) averages about 1.5
	// slots past home for a uniform hash.
	mean := float64(total) / float64(n)
	t.Logf("%d conns, %.2f slots past home on average", n, mean)
	if mean > 2 {
		t.Errorf("conns sit %.2f slots past their home slot on average, want at most 2", mean)
	}
}

// A segment's 4-tuple is hashed from netip's addresses, a conn's from the
// bytes it keeps them in: the two must agree, or a flow would be looked for
// where it is not.
func TestStoredAddressesHashAlike(t *testing.T) {
	eps := []netip.AddrPort{
		netip.MustParseAddrPort("10.0.0.1:40000"),
		netip.MustParseAddrPort("[::ffff:10.0.0.1]:40000"),
		netip.MustParseAddrPort("192.168.7.9:80"),
		netip.MustParseAddrPort("[2001:db8::1]:443"),
		netip.MustParseAddrPort("[fe80::1]:0"),
	}
	for _, a := range eps {
		for _, b := range eps {
			var s slabs
			h := s.alloc()
			s.setAddrs(h, a, b)
			if got, want := s.addrs(h).hash(), flowHash(a, b); got != want {
				t.Errorf("%v - %v: stored form hashes to %#x, netip's to %#x", a, b, got, want)
			}
			if flowHash(a, b) != flowHash(b, a) {
				t.Errorf("%v - %v: the two directions hash apart", a, b)
			}
		}
	}
}
