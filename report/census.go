package report

import (
	"net/netip"
	"slices"
	"time"

	"github.com/tcpaudit/tcpaudit/reassembly"
)

// A report of a long capture cannot hold every flow (issue 5). The command
// then fills Data.Census, the flow table's online state census, and
// Data.Totals, counted over every flow as it was emitted; Data.Flows holds
// only the flows shown in detail. The writers take the summary from those
// two when they are set, and compute it from Data.Flows when they are not
// (a Data built by hand, as the golden tests do). Both ways agree exactly:
// census_test.go checks it on every capture of testdata/.

// Totals counts every flow of a capture, including those left out of
// Data.Flows. Its memory does not grow with the number of flows: a few
// counters per verdict, per RTT bucket, per server host that entered
// TIME_WAIT and per abnormal group.
type Totals struct {
	// Flows counts all flows; Omitted those left out of Data.Flows.
	Flows, Omitted int
	// verdicts counts the flows per Verdict, any value of it: an array,
	// as a map would hash every flow's verdict.
	verdicts [1 << 8]int
	// rtt counts handshake RTTs per bucket of rttEdges.
	rtt []int
	// serverTW counts the flows whose server entered TIME_WAIT, per server
	// host (see serverTimeWait).
	serverTW  int
	serverTWs map[netip.Addr]bool
	// groups counts the abnormal flows per group (see abnormalGroups).
	groups map[groupKey]int
}

// NewTotals returns empty totals.
func NewTotals() *Totals {
	return &Totals{
		rtt:       make([]int, len(rttEdges)+1),
		serverTWs: make(map[netip.Addr]bool),
		groups:    make(map[groupKey]int),
	}
}

// Add counts one flow. kept says whether it is also in Data.Flows.
func (t *Totals) Add(f *reassembly.Flow, kept bool) {
	t.Flows++
	if !kept {
		t.Omitted++
	}
	t.verdicts[f.Verdict]++
	if f.RTT > 0 {
		t.rtt[rttBucket(f.RTT)]++
	}
	if everIn(f, reassembly.Server, reassembly.TimeWait) {
		t.serverTW++
		if len(t.serverTWs) < reassembly.MaxCensusHosts {
			t.serverTWs[f.Server().Addr.Addr()] = true
		}
	}
	if f.Verdict.Abnormal() {
		t.groups[groupOf(f)]++
	}
}

// abnormal is the number of abnormal flows.
func (t *Totals) abnormal() int {
	n := 0
	for v, c := range t.verdicts {
		if reassembly.Verdict(v).Abnormal() {
			n += c
		}
	}
	return n
}

// verdictCounts returns the flows per verdict and the abnormal ones, from
// the totals when d has them.
func verdictCounts(d *Data) (counts map[reassembly.Verdict]int, abnormal int) {
	counts = make(map[reassembly.Verdict]int)
	if d.Totals != nil {
		for v, n := range d.Totals.verdicts {
			if n > 0 {
				counts[reassembly.Verdict(v)] = n
			}
		}
		return counts, d.Totals.abnormal()
	}
	for _, f := range d.Flows {
		counts[f.Verdict]++
		if f.Verdict.Abnormal() {
			abnormal++
		}
	}
	return counts, abnormal
}

// censusStates is StatesAt read from a census.
func censusStates(c *reassembly.Census) map[netip.Addr]map[reassembly.State]int {
	out := make(map[netip.Addr]map[reassembly.State]int)
	for _, h := range c.Hosts {
		if m := stateMap(&h.Sockets); m != nil {
			out[h.Host] = m
		}
	}
	return out
}

// stateMap converts counts to the map form, nil when all are zero.
func stateMap(c *reassembly.StateCounts) map[reassembly.State]int {
	var m map[reassembly.State]int
	for st := range c {
		if n := c.Get(reassembly.State(st)); n > 0 {
			if m == nil {
				m = make(map[reassembly.State]int)
			}
			m[reassembly.State(st)] = n
		}
	}
	return m
}

// censusPeaks is Peaks read from a census.
func censusPeaks(c *reassembly.Census) []HostPeak {
	var out []HostPeak
	for _, h := range c.Hosts {
		if h.TimeWait.Count > 0 || h.SynRecv.Count > 0 {
			out = append(out, HostPeak{Host: h.Host,
				TimeWait: Peak{h.TimeWait.Count, h.TimeWait.At},
				SynRecv:  Peak{h.SynRecv.Count, h.SynRecv.At}})
		}
	}
	return out
}

// censusPressure is TimeWaitPressure read from a census.
func censusPressure(c *reassembly.Census, r PortRange) []Pressure {
	if r.Size() == 0 {
		r = DefaultEphemeral
	}
	out := make([]Pressure, 0, len(c.TimeWait))
	for _, p := range c.TimeWait {
		out = append(out, Pressure{Client: p.Client, Server: p.Server, Peak: p.Peak, At: p.At,
			ClientHeld: p.ClientHeld, ServerHeld: p.ServerHeld, Range: r})
	}
	return finishPressure(out, r)
}

// censusSeries is stateSeries read from a census: the census's buckets,
// resampled to n buckets over [start, end], each the highest count of the
// census buckets it overlaps. A host the census drew no series for gets
// none.
func censusSeries(c *reassembly.Census, hosts []netip.Addr, start, end time.Time, n int) map[netip.Addr][][]int {
	out := make(map[netip.Addr][][]int, len(hosts))
	span := end.Sub(start)
	step := c.Series.Step
	for _, h := range hosts {
		i := slices.IndexFunc(c.Series.Hosts, func(s reassembly.HostSeries) bool { return s.Host == h })
		if i < 0 || step <= 0 {
			continue
		}
		src := c.Series.Hosts[i].Buckets
		b := make([][]int, n)
		for j := range b {
			b[j] = make([]int, len(seriesStates))
			lo, hi := start, end
			if span > 0 {
				lo = start.Add(time.Duration(float64(span) * float64(j) / float64(n)))
				hi = start.Add(time.Duration(float64(span) * float64(j+1) / float64(n)))
			}
			// [lo, hi) is the output bucket: hi belongs to the next one.
			first := max(int(lo.Sub(c.Series.Start)/step), 0)
			last := min(int((hi.Sub(c.Series.Start)-1)/step), len(src)-1)
			if j == n-1 || span <= 0 {
				last = len(src) - 1
			}
			for k := first; k <= last; k++ {
				for col, st := range seriesStates {
					b[j][col] = max(b[j][col], src[k].Get(st))
				}
			}
		}
		out[h] = b
	}
	return out
}

// rttBucket is the index of the rttEdges bucket of d.
func rttBucket(d time.Duration) int {
	i, _ := slices.BinarySearch(rttEdges, d+1)
	return i
}
