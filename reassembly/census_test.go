package reassembly_test

import (
	"net/netip"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/tcpaudit/tcpaudit/capture"
	"github.com/tcpaudit/tcpaudit/internal/segsynth"
	"github.com/tcpaudit/tcpaudit/reassembly"
)

// censuser is what Table and Sharded share of the census.
type censuser interface {
	adder
	SetCensusAt(reassembly.Instant)
	Census() *reassembly.Census
}

// censusOf feeds segs to a table made by mk, with its snapshot at at, and
// returns its census.
func censusOf(segs []capture.Segment, at reassembly.Instant, mk func() censuser) *reassembly.Census {
	t := mk()
	t.SetCensusAt(at)
	var end int64
	for i := range segs {
		t.Add(&segs[i])
		end = max(end, segs[i].Time)
	}
	t.Close(end)
	return t.Census()
}

// sameCensus checks that Sharded, with each shard count, makes exactly
// the census Table makes for segs, at the end and at a few instants.
func sameCensus(t *testing.T, name string, cfg reassembly.Config, segs []capture.Segment) {
	t.Helper()
	instants := []reassembly.Instant{{}}
	if len(segs) > 0 {
		first, last := segs[0].Time, segs[len(segs)-1].Time
		for _, f := range []float64{0, 0.25, 0.5, 0.9} {
			instants = append(instants, reassembly.Instant{Time: time.Unix(0, first+int64(f*float64(last-first))).UTC()})
		}
		instants = append(instants, reassembly.Instant{Offset: time.Duration(last-first) / 3, Relative: true})
	}
	for _, at := range instants {
		want := censusOf(segs, at, func() censuser { return reassembly.NewTable(cfg, func(*reassembly.Flow) {}) })
		if want == nil {
			t.Fatalf("%s: Table.Census() = nil after Close", name)
		}
		for _, n := range []int{2, 3, 8} {
			got := censusOf(segs, at, func() censuser { return reassembly.NewSharded(cfg, n, func(*reassembly.Flow) {}) })
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s, %d shards, census at %+v differs from Table's\n got: %+v\nwant: %+v", name, n, at, got, want)
			}
		}
	}
}

// Sharded merges its shards' state changes into the census a single Table
// makes, on every capture of testdata/ and on the synthetic streams.
func TestShardedCensusMatchesTable(t *testing.T) {
	for _, p := range captures(t, filepath.Join(moduleRoot(t), "testdata")) {
		sameCensus(t, p, reassembly.DefaultConfig(), readSegments(t, p))
	}
	for _, tc := range syntheticCases() {
		sameCensus(t, tc.name, tc.cfg, tc.segments())
	}
}

// hostOf returns the census row of host a.
func hostOf(c *reassembly.Census, a netip.Addr) reassembly.HostCensus {
	for _, h := range c.Hosts {
		if h.Host == a {
			return h
		}
	}
	return reassembly.HostCensus{Host: a}
}

// TIME_WAIT ends by its timer in the census even when its flow left the
// table early (evicted by MaxFlows), and a snapshot taken after the timer
// shows it gone.
func TestCensusTimeWaitEndsByTimer(t *testing.T) {
	other := func(s capture.Segment, port uint16) capture.Segment {
		s.Src = netip.AddrPortFrom(netip.MustParseAddr("10.0.0.9"), port)
		return s
	}
	segs := []capture.Segment{
		// A clean close, the client first: the client is in TIME_WAIT
		// from 0.006 s.
		seg(0, true, capture.SYN, 1000, 0, 0),
		seg(0.001, false, capture.SYN|capture.ACK, 5000, 1001, 0),
		seg(0.002, true, capture.ACK, 1001, 5001, 0),
		seg(0.003, true, capture.FIN|capture.ACK, 1001, 5001, 0),
		seg(0.004, false, capture.ACK, 5001, 1002, 0),
		seg(0.005, false, capture.FIN|capture.ACK, 5001, 1002, 0),
		seg(0.006, true, capture.ACK, 1002, 5002, 0),
		// Two SYNs from another host, each evicting the flow before it.
		other(seg(30, true, capture.SYN, 7000, 0, 0), 41000),
		other(seg(90, true, capture.SYN, 8000, 0, 0), 41001),
	}
	for i := range segs {
		segs[i].Index = uint64(i + 1)
	}
	cfg := reassembly.DefaultConfig()
	cfg.MaxFlows = 1
	client := advClient.Addr()
	for _, tc := range []struct {
		at   float64
		want int
	}{{0.0059, 0}, {0.006, 1}, {45, 1}, {60.0059, 1}, {60.006, 0}, {70, 0}} {
		var flows []*reassembly.Flow
		tab := reassembly.NewTable(cfg, func(f *reassembly.Flow) { flows = append(flows, f) })
		tab.SetCensusAt(reassembly.Instant{Time: time.Unix(0, at(tc.at)).UTC()})
		for i := range segs {
			tab.Add(&segs[i])
		}
		tab.Close(at(90))
		if tab.Stats().Evicted != 2 {
			t.Fatalf("evicted %d flows, want 2: the test does not test eviction", tab.Stats().Evicted)
		}
		h := hostOf(tab.Census(), client)
		if got := h.Sockets.Get(reassembly.TimeWait); got != tc.want {
			t.Errorf("TIME_WAIT on %v at %gs = %d, want %d", client, tc.at, got, tc.want)
		}
		if h.TimeWait.Count != 1 || !h.TimeWait.At.Equal(time.Unix(0, at(0.006))) {
			t.Errorf("TIME_WAIT peak of %v = %+v, want 1 at 0.006 s", client, h.TimeWait)
		}
		if h.Flows != 1 || h.Verdicts[reassembly.Clean] != 1 {
			t.Errorf("%v: %d flows, verdicts %v; want one clean flow", client, h.Flows, h.Verdicts)
		}
	}
}

// Past MaxCensusHosts, hosts are counted together in Others: a flood of
// spoofed sources costs the census bounded memory, and no flow goes
// uncounted.
func TestCensusHostsBounded(t *testing.T) {
	server := netip.MustParseAddrPort("192.0.2.1:443")
	n := reassembly.MaxCensusHosts + 500
	tab := reassembly.NewTable(reassembly.DefaultConfig(), func(*reassembly.Flow) {})
	for i := range n {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		s := capture.Segment{Time: advEpoch + int64(i)*1000, Index: uint64(i + 1), Src: netip.AddrPortFrom(a, 40000),
			Dst: server, Flags: capture.SYN, Seq: uint32(i), WScale: -1, WireLen: 60}
		tab.Add(&s)
	}
	tab.Close(advEpoch + int64(n)*1000)
	c := tab.Census()
	if len(c.Hosts) > reassembly.MaxCensusHosts {
		t.Errorf("%d hosts counted one by one, want at most %d", len(c.Hosts), reassembly.MaxCensusHosts)
	}
	flows := c.Others.Flows
	for _, h := range c.Hosts {
		if h.Host != server.Addr() {
			flows += h.Flows
		}
	}
	if flows != n {
		t.Errorf("client hosts took part in %d flows, want %d", flows, n)
	}
	if got := c.Others.Sockets.Get(reassembly.SynSent) + hostOf(c, netip.MustParseAddr("10.0.0.0")).Sockets.Get(reassembly.SynSent); got == 0 || c.Others.Flows == 0 {
		t.Errorf("Others = %+v: the hosts past the bound are not counted", c.Others)
	}
	if s := hostOf(c, server.Addr()); s.Flows != n {
		t.Errorf("server %v: %d flows, want %d (the first host stays counted one by one)", server.Addr(), s.Flows, n)
	}
}

// The series spans the whole capture in at most SeriesBuckets buckets,
// however long it is, and keeps the peaks: the highest bucket of TIME_WAIT
// is the host's TIME_WAIT peak.
func TestCensusSeriesBoundedKeepsPeaks(t *testing.T) {
	segs := synthesize(segsynth.Config{Conns: 4000, Concurrency: 40, GapNanos: 20_000_000, Seed: 9, Mix: everyEnding()})
	c := censusOf(segs, reassembly.Instant{}, func() censuser {
		return reassembly.NewTable(reassembly.DefaultConfig(), func(*reassembly.Flow) {})
	})
	s := c.Series
	span := time.Duration(segs[len(segs)-1].Time - segs[0].Time)
	if len(s.Hosts) == 0 || len(s.Hosts) > reassembly.SeriesHosts {
		t.Fatalf("%d hosts with a series, want 1 to %d", len(s.Hosts), reassembly.SeriesHosts)
	}
	for _, h := range s.Hosts {
		if len(h.Buckets) > reassembly.SeriesBuckets || time.Duration(len(h.Buckets))*s.Step <= span-s.Step {
			t.Errorf("%v: %d buckets of %v for a capture of %v", h.Host, len(h.Buckets), s.Step, span)
		}
		if !h.Since.Equal(s.Start) {
			continue // drawn from later on: its peak may be before
		}
		peak := 0
		for _, b := range h.Buckets {
			peak = max(peak, b.Get(reassembly.TimeWait))
		}
		if want := hostOf(c, h.Host).TimeWait.Count; peak != want {
			t.Errorf("%v: highest TIME_WAIT bucket %d, peak %d", h.Host, peak, want)
		}
	}
}
