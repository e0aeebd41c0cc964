package report

import (
	"net/netip"
	"testing"

	"github.com/tcpaudit/tcpaudit/reassembly"
)

func TestEvidenceSelector(t *testing.T) {
	ap := netip.MustParseAddrPort
	mk := func(id uint64, v reassembly.Verdict, c, s string, first, last uint64) *reassembly.Flow {
		f := &reassembly.Flow{ID: id, Verdict: v, FirstIndex: first, LastIndex: last}
		f.Ends[cli].Addr, f.Ends[srv].Addr = ap(c), ap(s)
		return f
	}
	d := &Data{Flows: []*reassembly.Flow{
		mk(1, reassembly.Clean, "10.0.0.1:40000", "10.0.0.2:80", 1, 10),
		// the same 4-tuple reused after the close: a reset flow
		mk(2, reassembly.Reset, "10.0.0.1:40000", "10.0.0.2:80", 11, 20),
		mk(3, reassembly.HalfOpen, "[2001:db8::1]:5000", "[2001:db8::2]:443", 5, 30),
		mk(4, reassembly.Open, "10.0.0.3:40000", "10.0.0.2:80", 2, 40),
	}}
	type pkt struct {
		src, dst string
		index    uint64
	}
	p1 := pkt{"10.0.0.1:40000", "10.0.0.2:80", 5}           // flow 1
	p2 := pkt{"10.0.0.2:80", "10.0.0.1:40000", 15}          // flow 2, server to client
	p3 := pkt{"[2001:db8::2]:443", "[2001:db8::1]:5000", 6} // flow 3
	p4 := pkt{"10.0.0.3:40000", "10.0.0.2:80", 3}           // flow 4
	pOut := pkt{"10.0.0.1:40000", "10.0.0.2:80", 25}        // after flow 2 ended
	all := []pkt{p1, p2, p3, p4, pOut}
	for _, tc := range []struct {
		name     string
		verdicts []reassembly.Verdict
		ids      []uint64
		want     []bool // per packet of all
	}{
		{"every abnormal flow", nil, nil, []bool{false, true, true, false, false}},
		{"by verdict", []reassembly.Verdict{reassembly.HalfOpen}, nil, []bool{false, false, true, false, false}},
		{"by id, even a normal flow", nil, []uint64{1}, []bool{true, false, false, false, false}},
		{"verdict or id", []reassembly.Verdict{reassembly.Reset}, []uint64{4}, []bool{false, true, false, true, false}},
		{"verdict of no flow", []reassembly.Verdict{reassembly.Refused}, nil, []bool{false, false, false, false, false}},
		{"a normal verdict, named", []reassembly.Verdict{reassembly.Open}, nil, []bool{false, false, false, true, false}},
	} {
		sel := EvidenceSelector(d, tc.verdicts, tc.ids)
		for i, p := range all {
			if got := sel(ap(p.src), ap(p.dst), p.index); got != tc.want[i] {
				t.Errorf("%s: select(%s > %s #%d) = %v, want %v", tc.name, p.src, p.dst, p.index, got, tc.want[i])
			}
		}
	}
}

func TestEvidenceSelectorNoAllocs(t *testing.T) {
	sel := EvidenceSelector(fixture(), nil, nil)
	src, dst := netip.MustParseAddrPort("10.0.0.1:40012"), netip.MustParseAddrPort("10.0.0.6:8443")
	if n := testing.AllocsPerRun(1000, func() { sel(src, dst, 70) }); n != 0 {
		t.Errorf("selector allocates %v times per packet, want 0", n)
	}
}
