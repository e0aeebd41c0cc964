package report

import (
	"net/netip"
	"slices"

	"github.com/tcpaudit/tcpaudit/reassembly"
)

// Evidence collects the flows whose packets go to the evidence capture
// (--evidence): those with one of the given verdicts or IDs. With neither
// verdicts nor ids, every abnormal flow is selected. A flow named by ID or
// by a normal verdict ("clean") is selected too: someone asked for it.
//
// It keeps only each selected flow's 4-tuple and packet span, so that the
// command can hand it every flow as it finishes and forget the flow.
type Evidence struct {
	verdicts []reassembly.Verdict
	ids      []uint64
	spans    map[tupleKey][]packetSpan
}

// packetSpan is the capture indexes of a flow's first and last packets.
type packetSpan struct{ first, last uint64 }

// NewEvidence returns an empty collection for the given selection.
func NewEvidence(verdicts []reassembly.Verdict, ids []uint64) *Evidence {
	return &Evidence{verdicts: verdicts, ids: ids, spans: make(map[tupleKey][]packetSpan)}
}

// Add notes f if it is selected.
func (e *Evidence) Add(f *reassembly.Flow) {
	if !wanted(f, e.verdicts, e.ids) {
		return
	}
	k := newTupleKey(f.Client().Addr, f.Server().Addr)
	e.spans[k] = append(e.spans[k], packetSpan{f.FirstIndex, f.LastIndex})
}

// Selector returns the function called once per packet of a second pass
// over the capture, with the packet's addresses and capture index; it
// does one map lookup and does not allocate. A packet belongs to a flow
// when its 4-tuple matches (either direction) and its index lies within
// the flow's first and last packet, which tells apart flows that reuse a
// 4-tuple.
func (e *Evidence) Selector() func(src, dst netip.AddrPort, index uint64) bool {
	return func(src, dst netip.AddrPort, index uint64) bool {
		for _, s := range e.spans[newTupleKey(src, dst)] {
			if index >= s.first && index <= s.last {
				return true
			}
		}
		return false
	}
}

// EvidenceSelector is the Selector of an Evidence holding d.Flows.
func EvidenceSelector(d *Data, verdicts []reassembly.Verdict, ids []uint64) func(src, dst netip.AddrPort, index uint64) bool {
	e := NewEvidence(verdicts, ids)
	for _, f := range d.Flows {
		e.Add(f)
	}
	return e.Selector()
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
