package reassembly_test

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tcpaudit/tcpaudit/capture"
	"github.com/tcpaudit/tcpaudit/reassembly"
)

// advancer is what a live capture drives: Table and Sharded both.
type advancer interface {
	adder
	Advance(nowNanos int64)
	States(fn func(netip.AddrPort, reassembly.State))
}

var (
	advClient = netip.MustParseAddrPort("10.0.0.1:40000")
	advServer = netip.MustParseAddrPort("10.0.0.2:80")
	advEpoch  = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
)

// at returns the instant sec seconds into the test.
func at(sec float64) int64 { return advEpoch + int64(sec*1e9) }

// seg builds one segment of the test flow at sec seconds.
func seg(sec float64, fromClient bool, fl capture.Flags, seq, ack, n uint32) capture.Segment {
	s := capture.Segment{Time: at(sec), Src: advClient, Dst: advServer, Flags: fl, Seq: seq, Ack: ack,
		PayloadLen: n, Window: 1000, WScale: -1, WireLen: 66 + n}
	if !fromClient {
		s.Src, s.Dst = advServer, advClient
	}
	return s
}

// quietLinkCases feed a flow, then only move the clock, as a live capture
// on a quiet link does: what is due must come out without another packet.
var quietLinkCases = []struct {
	name string
	cfg  func(*reassembly.Config)
	segs []capture.Segment
	// Clock moves after the segments, with the number of flows emitted
	// once each has been made.
	advance []float64
	emitted []int
	verdict reassembly.Verdict
}{
	{"a reset flow leaves after the TIME_WAIT linger", nil, []capture.Segment{
		seg(0, true, capture.SYN, 1000, 0, 0),
		seg(0.001, false, capture.SYN|capture.ACK, 5000, 1001, 0),
		seg(0.002, true, capture.ACK, 1001, 5001, 0),
		seg(0.003, false, capture.RST, 5001, 0, 0),
	}, []float64{30, 60.002, 60.003, 10}, []int{0, 0, 1, 1}, reassembly.Reset},
	{"TIME_WAIT expires", nil, []capture.Segment{
		seg(0, true, capture.SYN, 1000, 0, 0),
		seg(0.001, false, capture.SYN|capture.ACK, 5000, 1001, 0),
		seg(0.002, true, capture.ACK, 1001, 5001, 0),
		seg(0.003, true, capture.FIN|capture.ACK, 1001, 5001, 0),
		seg(0.004, false, capture.FIN|capture.ACK, 5001, 1002, 0),
		seg(0.005, true, capture.ACK, 1002, 5002, 0),
	}, []float64{59, 61}, []int{0, 1}, reassembly.Clean},
	{"an idle flow times out", func(c *reassembly.Config) { c.IdleTimeout = 10 * time.Second }, []capture.Segment{
		seg(0, true, capture.SYN, 1000, 0, 0),
		seg(1, true, capture.SYN, 1000, 0, 0),
	}, []float64{5, 11.5}, []int{0, 1}, reassembly.SynUnanswered},
}

func TestAdvanceOnAQuietLink(t *testing.T) {
	for _, tt := range quietLinkCases {
		cfg := reassembly.DefaultConfig()
		if tt.cfg != nil {
			tt.cfg(&cfg)
		}
		for _, n := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/%d shards", tt.name, n), func(t *testing.T) {
				var flows []*reassembly.Flow
				emit := func(f *reassembly.Flow) { flows = append(flows, f) }
				var tab advancer = reassembly.NewTable(cfg, emit)
				if n > 1 {
					tab = reassembly.NewSharded(cfg, n, emit)
				}
				for i := range tt.segs {
					tab.Add(&tt.segs[i])
				}
				for i, sec := range tt.advance {
					tab.Advance(at(sec))
					if len(flows) != tt.emitted[i] {
						t.Fatalf("Advance(%gs): %d flows emitted, want %d", sec, len(flows), tt.emitted[i])
					}
				}
				if f := flows[0]; f.Verdict != tt.verdict {
					t.Errorf("verdict %v (%s), want %v", f.Verdict, f.Reason, tt.verdict)
				}
				tab.Close(at(tt.advance[len(tt.advance)-1]))
				if len(flows) != 1 {
					t.Errorf("Close emitted %d more flows", len(flows)-1)
				}
			})
		}
	}
}

// A packet stamped before an Advance but after the latest packet is not
// "backwards": the clock was moved by the wall clock, not by a packet, and
// a live capture may deliver a packet a little after it was stamped.
// States reflects the advanced clock: a TIME_WAIT that ran out reads
// CLOSED.
func TestAdvanceIsNotAPacket(t *testing.T) {
	segs := []capture.Segment{
		seg(0, true, capture.SYN, 1000, 0, 0),
		seg(0.001, false, capture.SYN|capture.ACK, 5000, 1001, 0),
		seg(0.002, true, capture.ACK, 1001, 5001, 0),
		seg(0.003, true, capture.FIN|capture.ACK, 1001, 5001, 0),
		seg(0.004, false, capture.ACK, 5001, 1002, 0), // client in FIN_WAIT2
		seg(0.005, false, capture.FIN|capture.ACK, 5001, 1002, 0),
		seg(0.006, true, capture.ACK, 1002, 5002, 0), // client in TIME_WAIT, server CLOSED
	}
	for _, n := range []int{1, 3} {
		var flows []*reassembly.Flow
		emit := func(f *reassembly.Flow) { flows = append(flows, f) }
		var tab advancer = reassembly.NewTable(reassembly.DefaultConfig(), emit)
		if n > 1 {
			tab = reassembly.NewSharded(reassembly.DefaultConfig(), n, emit)
		}
		for i := range segs[:5] {
			tab.Add(&segs[i])
		}
		tab.Advance(at(1))
		for i := range segs[5:] {
			s := segs[5+i]
			s.Time = at(0.5) // stamped before the Advance, after the latest packet
			tab.Add(&s)
		}
		var states []string
		tab.States(func(a netip.AddrPort, s reassembly.State) { states = append(states, fmt.Sprint(a, " ", s)) })
		slices.Sort(states)
		if got, want := strings.Join(states, ", "), "10.0.0.1:40000 TIME_WAIT, 10.0.0.2:80 CLOSED"; got != want {
			t.Errorf("%d shards: States = %s, want %s", n, got, want)
		}
		tab.Advance(at(61))
		states = states[:0]
		tab.States(func(a netip.AddrPort, s reassembly.State) { states = append(states, fmt.Sprint(a, " ", s)) })
		if len(flows) != 1 || len(states) != 0 {
			t.Fatalf("%d shards: after TIME_WAIT ran out: %d flows emitted, states %q; want 1 and none", n, len(flows), states)
		}
		if got := tab.Stats().Backwards; got != 0 {
			t.Errorf("%d shards: %d segments counted as backwards, want 0", n, got)
		}
		if f := flows[0]; f.Verdict != reassembly.Clean || slices.ContainsFunc(f.Notes, func(s string) bool { return strings.Contains(s, "earlier") }) {
			t.Errorf("%d shards: %v (%s), notes %q", n, f.Verdict, f.Reason, f.Notes)
		}
		tab.Close(at(61))
	}
}

// OnSettled tells a running view of a flow's verdict as soon as both ends
// are closed, once, while the flow itself stays in the table for stray
// packets and is emitted, once, when its linger runs out. Sharded tells
// it too, once the segment that settled the flow has been processed (Sync).
func TestOnSettled(t *testing.T) {
	for _, n := range []int{1, 3} {
		t.Run(fmt.Sprintf("%d shards", n), func(t *testing.T) { testOnSettled(t, n) })
	}
}

func testOnSettled(t *testing.T, shards int) {
	var flows []*reassembly.Flow
	var settled []reassembly.Settled
	emit := func(f *reassembly.Flow) { flows = append(flows, f) }
	var tab interface {
		advancer
		OnSettled(func(reassembly.Settled))
	} = reassembly.NewTable(reassembly.DefaultConfig(), emit)
	sync := func() {}
	if shards > 1 {
		s := reassembly.NewSharded(reassembly.DefaultConfig(), shards, emit)
		tab, sync = s, s.Sync
	}
	tab.OnSettled(func(s reassembly.Settled) { settled = append(settled, s) })
	segs := []capture.Segment{
		seg(0, true, capture.SYN, 1000, 0, 0),
		seg(0.001, false, capture.SYN|capture.ACK, 5000, 1001, 0),
		seg(0.002, true, capture.ACK, 1001, 5001, 0),
		seg(0.003, true, capture.PSH|capture.ACK, 1001, 5001, 100),
		seg(0.004, false, capture.RST, 5001, 0, 0),
		seg(0.005, true, capture.PSH|capture.ACK, 1101, 5001, 100), // in flight when the RST came
		seg(0.006, false, capture.RST, 5001, 0, 0),                 // and answered again
	}
	for i := range segs {
		segs[i].Index = uint64(i + 1)
		tab.Add(&segs[i])
		sync()
		if want := min(i/4, 1); len(settled) != want {
			t.Fatalf("after packet %d: %d flows settled, want %d", i+1, len(settled), want)
		}
	}
	s := settled[0]
	if s.Verdict != reassembly.Reset || s.Client != advClient || s.Server != advServer || s.FirstIndex != segs[0].Index ||
		s.Time != time.Unix(0, at(0.004)).UTC() || !strings.Contains(s.Reason, "RST from the server") {
		t.Errorf("settled %+v, want a reset of %v -> %v at the RST", s, advClient, advServer)
	}
	if len(flows) != 0 {
		t.Fatalf("%d flows emitted before the linger ran out", len(flows))
	}
	tab.Advance(at(61))
	if len(flows) != 1 || len(settled) != 1 || flows[0].Verdict != s.Verdict || flows[0].FirstIndex != s.FirstIndex {
		t.Errorf("after the linger: %d flows emitted, %d settled; want the settled flow emitted once", len(flows), len(settled))
	}

	// A flow still open at Close never settles: Close emits it.
	settled = settled[:0]
	for i := range segs[:4] {
		s := segs[i]
		s.Time += int64(100 * time.Second)
		tab.Add(&s)
	}
	tab.Close(at(200))
	if len(settled) != 0 {
		t.Errorf("an open flow settled: %+v", settled)
	}
}
