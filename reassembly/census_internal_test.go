package reassembly

import (
	"cmp"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/tcpaudit/tcpaudit/capture"
	"github.com/tcpaudit/tcpaudit/internal/segsynth"
)

// A TIME_WAIT cut short by a new SYN on the same 4-tuple leaves the census
// at the SYN, and its timer, when it runs out later, changes nothing: the
// count neither goes negative nor drops twice, and the record of the
// exception (census.left) is gone once the timer has passed.
func TestCensusTimeWaitCutBySYN(t *testing.T) {
	cl, sv := netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.2:80")
	mk := func(sec float64, fromClient bool, fl capture.Flags, seq, ack uint32) capture.Segment {
		s := capture.Segment{Time: int64(sec * 1e9), Src: cl, Dst: sv, Flags: fl, Seq: seq, Ack: ack, Window: 1000, WScale: -1}
		if !fromClient {
			s.Src, s.Dst = sv, cl
		}
		return s
	}
	segs := []capture.Segment{
		mk(0, true, capture.SYN, 1000, 0),
		mk(0.001, false, capture.SYN|capture.ACK, 5000, 1001),
		mk(0.002, true, capture.ACK, 1001, 5001),
		mk(0.003, true, capture.FIN|capture.ACK, 1001, 5001),
		mk(0.004, false, capture.ACK, 5001, 1002),
		mk(0.005, false, capture.FIN|capture.ACK, 5001, 1002),
		mk(0.006, true, capture.ACK, 1002, 5002), // client in TIME_WAIT
		mk(10, true, capture.SYN, 90000, 0),      // cut short here
		mk(120, true, capture.RST, 90001, 0),     // past the old timer
	}
	// Another connection closes cleanly: its TIME_WAIT runs out by the
	// timer, which must leave no record of an exception either.
	for _, s := range segs[:7] {
		s.Time += 1e9
		if s.Src == cl {
			s.Src = netip.AddrPortFrom(cl.Addr(), 40001)
		} else {
			s.Dst = netip.AddrPortFrom(cl.Addr(), 40001)
		}
		segs = append(segs, s)
	}
	slices.SortStableFunc(segs, func(a, b capture.Segment) int { return cmp.Compare(a.Time, b.Time) })
	for _, tc := range []struct {
		at   float64
		want int
	}{{5, 2}, {10.5, 1}, {61.5, 0}, {130, 0}} {
		tab := NewTable(DefaultConfig(), func(*Flow) {})
		tab.SetCensusAt(Instant{Time: time.Unix(0, int64(tc.at*1e9)).UTC()})
		for i := range segs {
			segs[i].Index = uint64(i + 1)
			tab.Add(&segs[i])
		}
		tab.Close(int64(130e9))
		var got int
		for _, h := range tab.Census().Hosts {
			if h.Host == cl.Addr() {
				got = h.Sockets.Get(TimeWait)
			}
		}
		if got != tc.want {
			t.Errorf("TIME_WAIT on the client at %gs = %d, want %d", tc.at, got, tc.want)
		}
		if n := len(tab.census.left); n != 0 {
			t.Errorf("census.left holds %d ends after every timer ran out, want 0", n)
		}
	}
}

// BenchmarkCensus is the census on its own, as a Sharded table's merger
// runs it: the state changes and finished flows of 100,000 synthetic
// connections (every ending but chaos, 500 open at once, a segment every
// 100 µs: 170 s, in which TIME_WAITs pile up and expire), recorded
// beforehand, applied to a new census per op. ns/change is the cost of
// one state change, its share of the TIME_WAIT expiries and of counting
// the flows included.
func BenchmarkCensus(b *testing.B) {
	cfg := DefaultConfig()
	var changes []stateChange
	var done []finishedFlow
	tab := NewTable(cfg, func(f *Flow) {
		client, server := spreadHosts(f.FirstIndex)
		done = append(done, finishedFlow{client, server, f.Verdict})
	})
	tab.census.forward = func(e *stateChange) {
		client, server := spreadHosts(e.flow)
		c := *e
		c.addrs = addrsOf(netip.AddrPortFrom(client, e.addrs.port[Client]), netip.AddrPortFrom(server, 80))
		changes = append(changes, c)
	}
	s := segsynth.New(segsynth.Config{Conns: 100_000, Concurrency: 500, GapNanos: 100_000, Seed: 4,
		Mix: []int{4, 2, 1, 1, 1, 1, 1}})
	var seg capture.Segment
	for s.Next(&seg) {
		tab.Add(&seg)
	}
	tab.Close(seg.Time)
	b.ReportAllocs()
	for b.Loop() {
		cs := newCensus(&cfg)
		cs.packet(changes[0].seq, changes[0].t)
		for i := range changes {
			cs.apply(&changes[i])
		}
		for _, f := range done {
			cs.count(f)
		}
		cs.close(seg.Time)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(changes)), "ns/change")
}

// spreadHosts gives the flow that began at capture index first hosts as
// a busy capture has them, 2,000 clients and 16 servers, where segsynth
// draws few: as many client/server pairs as the census keeps, more than
// the CPU caches hold.
func spreadHosts(first uint64) (client, server netip.Addr) {
	n := first * 0x9e3779b97f4a7c15 >> 40
	return netip.AddrFrom4([4]byte{10, 0, byte(n % 2000 >> 8), byte(n % 2000)}),
		netip.AddrFrom4([4]byte{10, 200, 0, byte(n / 2000 % 16)})
}

// addrsOf is the form a state change carries client and server in.
func addrsOf(client, server netip.AddrPort) flowAddrs {
	var a flowAddrs
	for side, ap := range [2]netip.AddrPort{client, server} {
		a.port[side], a.v4[side] = ap.Port(), ap.Addr().Is4()
		if a.v4[side] {
			a.ip[side] = ap.Addr().As4()
		} else {
			a.v6[side] = ap.Addr().As16()
		}
	}
	return a
}
