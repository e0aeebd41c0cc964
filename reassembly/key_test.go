package reassembly

import (
	"net/netip"
	"testing"
)

// The compact flow key must name a 4-tuple whichever way a packet goes,
// and keep apart endpoints that netip keeps apart, IPv4 addresses from
// their IPv4-mapped IPv6 forms included (hostile input could otherwise
// merge two flows).
func TestKeyOf(t *testing.T) {
	v4 := netip.MustParseAddrPort("10.0.0.1:40000")
	mapped := netip.MustParseAddrPort("[::ffff:10.0.0.1]:40000")
	srv := netip.MustParseAddrPort("10.0.0.2:80")
	srv6 := netip.MustParseAddrPort("[::ffff:10.0.0.2]:80")
	if keyOf(v4, srv) != keyOf(srv, v4) {
		t.Error("the key of a 4-tuple depends on the direction")
	}
	distinct := [][2]netip.AddrPort{
		{v4, srv}, {mapped, srv}, {v4, srv6}, {mapped, srv6},
		{v4, netip.AddrPortFrom(srv.Addr(), 81)},
		{netip.MustParseAddrPort("[2001:db8::1]:40000"), netip.MustParseAddrPort("[2001:db8::2]:80")},
	}
	seen := map[flowKey][2]netip.AddrPort{}
	for _, p := range distinct {
		k := keyOf(p[0], p[1])
		if q, dup := seen[k]; dup {
			t.Errorf("%v and %v have the same key", p, q)
		}
		seen[k] = p
	}
}
