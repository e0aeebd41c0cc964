package report

import (
	"fmt"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tcpaudit/tcpaudit/capture"
	"github.com/tcpaudit/tcpaudit/internal/segsynth"
	"github.com/tcpaudit/tcpaudit/reassembly"
)

// flood is a SYN flood: n spoofed clients, one SYN each, against one
// server left in SYN_RECV, plus the fixture's flows; the shape that makes
// per-host tables explode if they are not bounded.
func flood(n int) *Data {
	d := fixture()
	server := netip.MustParseAddrPort("10.0.0.2:80")
	for i := range n {
		start := sec(20 + float64(i)/float64(n))
		f := &reassembly.Flow{ID: uint64(100 + i), FirstSeen: start, LastSeen: start.Add(time.Millisecond),
			Verdict: reassembly.SynAckUnacked, Handshake: reassembly.HandshakeSynAckUnacked, ConnState: "S1", History: "Sh",
			Reason: "SYN-ACK never acknowledged",
			Timeline: []reassembly.Transition{{Time: start, Side: cli, State: reassembly.SynSent},
				{Time: start.Add(time.Millisecond), Side: srv, State: reassembly.SynRecv}}}
		f.Ends[cli].Addr = netip.AddrPortFrom(netip.AddrFrom4([4]byte{100, byte(i >> 16), byte(i >> 8), byte(i)}), uint16(1024+i%60000))
		f.Ends[srv].Addr = server
		f.Ends[cli].State, f.Ends[srv].State = reassembly.SynSent, reassembly.SynRecv
		d.Flows = append(d.Flows, f)
	}
	return d
}

func BenchmarkWrite(b *testing.B) {
	d := flood(100_000)
	for _, format := range Formats() {
		b.Run(format, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := Write(io.Discard, format, d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestFloodBounded: a 20 000-source SYN flood gives one finding and
// bounded tables in the formats for a person.
func TestFloodBounded(t *testing.T) {
	d := flood(20_000)
	for _, format := range []string{"text", "md", "html"} {
		out := string(render(t, format, d))
		if format != "text" && len(out) > 1<<20+len(render(t, format, fixture()))+htmlMaxRows*1000 {
			t.Errorf("%s: %d bytes for a flood", format, len(out))
		}
		if format == "text" {
			continue // text lists every flow, one per line, by design
		}
		if want := fmt.Sprintf("%d flows to 10.0.0.2:80 from %d client hosts", 20_002, 20_002); !strings.Contains(out, want) {
			t.Errorf("%s: the flood is not one group %q", format, want)
		}
	}
	pt := newPersonTables(Summarize(d))
	if len(pt.StateRows) != tableRows || pt.StateMore == 0 {
		t.Errorf("state rows = %d (+%d more), want %d and more", len(pt.StateRows), pt.StateMore, tableRows)
	}
	if pt.StateRows[0].Host != netip.MustParseAddr("10.0.0.2") {
		t.Errorf("first state row is %s, want the flooded server", pt.StateRows[0].Host)
	}
}

// BenchmarkTotalsAdd is what the command spends per flow on Totals, for
// every flow of a capture: flows of every ending, from the flow table,
// few enough to stay in the CPU caches as a flow just finished is.
func BenchmarkTotalsAdd(b *testing.B) {
	s := segsynth.New(segsynth.Config{Conns: 1000, Concurrency: 100, GapNanos: 10_000, Seed: 1,
		Mix: []int{4, 2, 1, 1, 1, 1, 1, 2}})
	var flows []*reassembly.Flow
	t := reassembly.NewTable(reassembly.DefaultConfig(), func(f *reassembly.Flow) { flows = append(flows, f) })
	var seg capture.Segment
	for s.Next(&seg) {
		t.Add(&seg)
	}
	t.Close(seg.Time)
	tot := NewTotals()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		tot.Add(flows[i%len(flows)], false)
		i++
	}
}
