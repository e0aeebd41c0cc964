package report

import (
	"net/netip"
	"slices"

	"github.com/tcpaudit/tcpaudit/reassembly"
)

// EvidenceSelector decides which packets go to the evidence capture
// (--evidence): those of the flows with one of the given verdicts or IDs.
// With neither verdicts nor ids, every abnormal flow is selected. A flow
// named by ID or by a normal verdict ("clean") is selected too: someone
// asked for it.
//
// The returned function is called once per packet of a second pass over
// the capture, with the packet's addresses and capture index; it does one
// map lookup and does not allocate. A packet belongs to a flow when its
// 4-tuple matches (either direction) and its index lies within the flow's
// first and last packet, which tells apart flows that reuse a 4-tuple.
func EvidenceSelector(d *Data, verdicts []reassembly.Verdict, ids []uint64) func(src, dst netip.AddrPort, index uint64) bool {
	type span struct{ first, last uint64 }
	spans := make(map[tupleKey][]span)
	for _, f := range d.Flows {
		if !wanted(f, verdicts, ids) {
			continue
		}
		k := newTupleKey(f.Client().Addr, f.Server().Addr)
		spans[k] = append(spans[k], span{f.FirstIndex, f.LastIndex})
	}
	return func(src, dst netip.AddrPort, index uint64) bool {
		for _, s := range spans[newTupleKey(src, dst)] {
			if index >= s.first && index <= s.last {
				return true
			}
		}
		return false
	}
}

func wanted(f *reassembly.Flow, verdicts []reassembly.Verdict, ids []uint64) bool {
	if len(verdicts) == 0 && len(ids) == 0 {
		return f.Verdict.Abnormal()
	}
	return slices.Contains(ids, f.ID) || slices.Contains(verdicts, f.Verdict)
}

// tupleKey is a 4-tuple in canonical order, so both directions of a
// connection map to the same key.
type tupleKey struct{ a, b netip.AddrPort }

func newTupleKey(x, y netip.AddrPort) tupleKey {
	if x.Compare(y) > 0 {
		x, y = y, x
	}
	return tupleKey{x, y}
}
