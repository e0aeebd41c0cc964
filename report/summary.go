package report

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/tcpaudit/tcpaudit/reassembly"
)

// Summary is what every format says about the capture as a whole. It is
// computed once per report by Summarize and is the "summary" object of the
// JSON output.
type Summary struct {
	Inputs   []string  `json:"inputs"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Flows    int       `json:"flows"`
	Abnormal int       `json:"abnormal"`
	// Omitted counts the flows counted in Flows but not shown one by one
	// (a long capture's report for a person keeps a bounded number).
	Omitted int `json:"flows_without_detail,omitempty"`
	// Verdicts counts flows per verdict, every verdict present, zero or not.
	Verdicts []VerdictCount `json:"verdicts"`
	// StatesAt is the instant of Hosts' state counts.
	StatesAt time.Time `json:"states_at"`
	// Hosts is one row per host address, ordered by address.
	Hosts []HostRow `json:"hosts"`
	// OtherHosts sums the hosts past the first reassembly.MaxCensusHosts
	// (a flood from spoofed sources), which are not counted one by one.
	OtherHosts *HostRow   `json:"other_hosts,omitempty"`
	Peaks      []HostPeak `json:"peaks"`
	Pressure   []Pressure `json:"time_wait_pressure"`
	// EphemeralPorts is the range Pressure is measured against.
	EphemeralPorts string       `json:"ephemeral_ports"`
	Capture        CaptureStats `json:"capture"`
	// Incomplete is set when packets were dropped before tcpaudit saw them.
	Incomplete   bool     `json:"incomplete"`
	Warnings     []string `json:"warnings"`
	EvidenceFile string   `json:"evidence_file,omitempty"`
}

// VerdictCount is one verdict and how many flows got it.
type VerdictCount struct {
	Verdict reassembly.Verdict `json:"verdict"`
	Count   int                `json:"count"`
}

// HostRow is one host: its sockets per state at Summary.StatesAt, and the
// flows it took part in per verdict (as client or server).
type HostRow struct {
	Host netip.Addr `json:"host"`
	// Sockets is the number of sockets open at StatesAt: the sum of States.
	Sockets  int            `json:"sockets"`
	States   map[string]int `json:"states"`
	Verdicts map[string]int `json:"verdicts"`
	Flows    int            `json:"flows"`
}

// Summarize computes the Summary of d.
func Summarize(d *Data) *Summary {
	s := &Summary{
		Inputs:         nonNil(d.Inputs),
		Start:          d.Start.UTC(),
		End:            d.End.UTC(),
		Flows:          len(d.Flows),
		StatesAt:       d.at().UTC(),
		EphemeralPorts: d.ephemeral().String(),
		Capture:        d.Capture,
		Incomplete:     d.Incomplete(),
		Warnings:       nonNil(d.Warnings),
		EvidenceFile:   d.EvidenceFile,
	}
	counts, abnormal := verdictCounts(d)
	s.Abnormal = abnormal
	if d.Totals != nil {
		s.Flows, s.Omitted = d.Totals.Flows, d.Totals.Omitted
	}
	for _, v := range allVerdicts(counts) {
		s.Verdicts = append(s.Verdicts, VerdictCount{v, counts[v]})
	}
	if c := d.Census; c != nil {
		s.StatesAt = c.At.UTC()
		s.Hosts = make([]HostRow, 0, len(c.Hosts))
		for i := range c.Hosts {
			s.Hosts = append(s.Hosts, censusRow(&c.Hosts[i]))
		}
		if o := censusRow(&c.Others); o.Flows > 0 || o.Sockets > 0 {
			s.OtherHosts = &o
		}
		s.Peaks = nonNil(censusPeaks(c))
		s.Pressure = censusPressure(c, d.ephemeral())
		return s
	}
	hosts := make(map[netip.Addr]*HostRow)
	row := func(a netip.Addr) *HostRow {
		r := hosts[a]
		if r == nil {
			r = &HostRow{Host: a, States: map[string]int{}, Verdicts: map[string]int{}}
			hosts[a] = r
		}
		return r
	}
	for _, f := range d.Flows {
		c, sv := f.Client().Addr.Addr(), f.Server().Addr.Addr()
		for _, a := range uniqueAddrs(c, sv) {
			r := row(a)
			r.Flows++
			r.Verdicts[f.Verdict.String()]++
		}
	}
	for a, m := range StatesAt(d.Flows, s.StatesAt) {
		r := row(a)
		for st, n := range m {
			r.States[st.String()] = n
			r.Sockets += n
		}
	}
	for _, r := range hosts {
		s.Hosts = append(s.Hosts, *r)
	}
	slices.SortFunc(s.Hosts, func(a, b HostRow) int { return a.Host.Compare(b.Host) })
	s.Hosts = nonNil(s.Hosts)
	s.Peaks = nonNil(Peaks(d.Flows))
	s.Pressure = nonNil(TimeWaitPressure(d.Flows, d.ephemeral()))
	return s
}

// censusRow is the HostRow of one host of a census.
func censusRow(h *reassembly.HostCensus) HostRow {
	r := HostRow{Host: h.Host, States: map[string]int{}, Verdicts: map[string]int{}, Flows: h.Flows}
	for st, n := range stateMap(&h.Sockets) {
		r.States[st.String()] = n
		r.Sockets += n
	}
	for v, n := range h.Verdicts {
		if n > 0 {
			r.Verdicts[reassembly.Verdict(v).String()] = int(n)
		}
	}
	return r
}

// allVerdicts is reassembly.Verdicts, plus VerdictUnknown or any other
// value the counts hold, so that no flow is left out of a total.
func allVerdicts(counts map[reassembly.Verdict]int) []reassembly.Verdict {
	vs := slices.Clone(reassembly.Verdicts)
	var extra []reassembly.Verdict
	for v := range counts {
		if !slices.Contains(vs, v) {
			extra = append(extra, v)
		}
	}
	slices.Sort(extra)
	return append(vs, extra...)
}

func uniqueAddrs(a, b netip.Addr) []netip.Addr {
	if a == b {
		return []netip.Addr{a}
	}
	return []netip.Addr{a, b}
}

// nonNil makes JSON print [] rather than null for an empty list.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// stateOrder is the order states are listed in tables: the life of a
// connection, as netstat users read it.
var stateOrder = []reassembly.State{
	reassembly.Listen, reassembly.SynSent, reassembly.SynRecv, reassembly.Established,
	reassembly.FinWait1, reassembly.FinWait2, reassembly.Closing, reassembly.TimeWait,
	reassembly.CloseWait, reassembly.LastAck,
}

// stateColumns returns the states that appear in at least one host row, in
// stateOrder, so tables have no all-zero columns.
func stateColumns(rows []HostRow) []string {
	var cols []string
	for _, st := range stateOrder {
		name := st.String()
		for _, r := range rows {
			if r.States[name] > 0 {
				cols = append(cols, name)
				break
			}
		}
	}
	return cols
}

// group is a set of abnormal flows alike enough to be explained once: same
// verdict, same server ip:port, same end states and same resetting side.
// A SYN flood from a million spoofed sources is thus one group.
type group struct {
	Verdict reassembly.Verdict
	// Flows are the group's flows in Data.Flows; Total counts them all,
	// those summarised without detail (Data.Totals) too.
	Flows []*reassembly.Flow
	Total int
	// Clients counts the distinct client hosts of Flows: of the whole
	// group when Total == len(Flows), else a lower bound.
	Clients int
}

// First is the flow the group's ladder is drawn from.
func (g *group) First() *reassembly.Flow { return g.Flows[0] }

// groupKey is what the flows of a group share.
type groupKey struct {
	v                    reassembly.Verdict
	server               netip.AddrPort
	clientSt, serverSt   reassembly.State
	resetBy, activeClose reassembly.Party
}

func groupOf(f *reassembly.Flow) groupKey {
	return groupKey{f.Verdict, f.Server().Addr, f.Client().State, f.Server().State, f.ResetBy, f.ActiveCloser}
}

// abnormalGroups groups the abnormal flows of d.Flows, ordered by verdict
// (in report order), then by size (counting the flows d.Totals summarised),
// largest first, then by first flow ID.
func abnormalGroups(d *Data) []*group {
	idx := make(map[groupKey]*group)
	clients := make(map[*group]map[netip.Addr]struct{})
	var out []*group
	for _, f := range d.Flows {
		if !f.Verdict.Abnormal() {
			continue
		}
		k := groupOf(f)
		g := idx[k]
		if g == nil {
			g = &group{Verdict: f.Verdict}
			idx[k] = g
			clients[g] = make(map[netip.Addr]struct{})
			out = append(out, g)
		}
		g.Flows = append(g.Flows, f)
		clients[g][f.Client().Addr.Addr()] = struct{}{}
	}
	for g, m := range clients {
		g.Clients = len(m)
	}
	for k, g := range idx {
		g.Total = len(g.Flows)
		if d.Totals != nil {
			g.Total = max(g.Total, d.Totals.groups[k])
		}
	}
	rank := func(v reassembly.Verdict) int {
		if i := slices.Index(reassembly.Verdicts, v); i >= 0 {
			return i
		}
		return len(reassembly.Verdicts) + int(v)
	}
	slices.SortStableFunc(out, func(a, b *group) int {
		if c := cmp.Compare(rank(a.Verdict), rank(b.Verdict)); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Total, a.Total); c != 0 {
			return c
		}
		return cmp.Compare(a.First().ID, b.First().ID)
	})
	return out
}

// abnormalFirst returns the flows with the abnormal ones first, each part
// in ID order.
func abnormalFirst(flows []*reassembly.Flow) []*reassembly.Flow {
	out := make([]*reassembly.Flow, 0, len(flows))
	for _, f := range flows {
		if f.Verdict.Abnormal() {
			out = append(out, f)
		}
	}
	for _, f := range flows {
		if !f.Verdict.Abnormal() {
			out = append(out, f)
		}
	}
	return out
}

// maxListedIDs bounds the flow IDs listed per group.
const maxListedIDs = 20

// IDs lists the group's flow IDs ("#3, #7, and 12 more").
func (g *group) IDs() string {
	ids := make([]string, 0, maxListedIDs+1)
	for _, f := range g.Flows[:min(len(g.Flows), maxListedIDs)] {
		ids = append(ids, fmt.Sprintf("#%d", f.ID))
	}
	if more := g.Total - len(ids); more > 0 {
		ids = append(ids, fmt.Sprintf("and %d more", more))
	}
	return strings.Join(ids, ", ")
}

// headline is one headline finding: a bold lead and plain text. Detail
// may quote the capture, so each format escapes it; Lead is our own.
type headline struct {
	Lead, Detail string
}

// headlines are the findings a reader should see first, most severe
// first: lost packets, each abnormal verdict with an example, pile-ups and
// port pressure.
func headlines(d *Data, s *Summary, groups []*group) []headline {
	var out []headline
	if s.Incomplete {
		out = append(out, headline{"Incomplete capture:", fmt.Sprintf("%d packets dropped by the kernel, %d by the interface; every count is a lower bound.",
			s.Capture.KernelDropped, s.Capture.IfaceDropped)})
	}
	if s.Capture.Evicted > 0 {
		out = append(out, headline{"Flows evicted:", fmt.Sprintf("%s dropped from the full flow table (--max-flows); their verdicts are missing.",
			plural(int(s.Capture.Evicted), "flow"))})
	}
	for _, vc := range s.Verdicts {
		if vc.Count == 0 || !vc.Verdict.Abnormal() {
			continue
		}
		i := slices.IndexFunc(groups, func(g *group) bool { return g.Verdict == vc.Verdict })
		f := groups[i].First()
		out = append(out, headline{fmt.Sprintf("%s %s,", plural(vc.Count, "flow"), vc.Verdict),
			fmt.Sprintf("for example #%d %s: %s", f.ID, arrowed(f), f.Reason)})
	}
	for _, p := range s.Peaks {
		if p.SynRecv.Count > 1 {
			out = append(out, headline{fmt.Sprintf("SYN_RECV peaked at %d", p.SynRecv.Count), fmt.Sprintf("on %s at %s.", p.Host, stamp(p.SynRecv.At))})
		}
	}
	if n, _ := serverTimeWait(d); n > 0 {
		out = append(out, headline{fmt.Sprintf("The server closed first in %s,", plural(n, "flow")), "leaving TIME_WAIT on the server."})
	}
	for _, p := range s.Pressure {
		if p.Warn {
			out = append(out, headline{"Ephemeral ports near exhaustion:", fmt.Sprintf("%s → %s had %d connections in TIME_WAIT at once (%.0f%% of %s).",
				p.Client, p.Server, p.Peak, 100*p.Share, s.EphemeralPorts)})
		}
	}
	if s.Abnormal == 0 {
		out = append(out, headline{"No abnormal connection endings.", ""})
	}
	return out
}

// tableRows bounds the host, peak and pressure tables of the formats for a
// person; a SYN flood from a million sources would otherwise print a
// million rows. JSON always lists everything.
const tableRows = 30

// personTables is what the text, Markdown and HTML formats show of a
// Summary: each table ordered most telling first and cut at tableRows, with
// the number of rows left out.
type personTables struct {
	StateCols   []string
	StateRows   []HostRow // hosts with an open socket, most sockets first
	StateMore   int
	VerdictCols []string
	VerdictRows []HostRow // hosts by number of flows
	VerdictMore int
	Peaks       []HostPeak // notable peaks, highest first
	PeaksMore   int
	Pressure    []Pressure // pairs with more than one TIME_WAIT at once, or a warning
	PressMore   int
}

func newPersonTables(s *Summary) personTables {
	var t personTables
	t.StateCols = stateColumns(s.Hosts)
	var open []HostRow
	for _, r := range s.Hosts {
		if r.Sockets > 0 {
			open = append(open, r)
		}
	}
	t.StateRows, t.StateMore = top(open, func(r HostRow) int { return r.Sockets }, func(a, b HostRow) int { return a.Host.Compare(b.Host) })
	for _, vc := range s.Verdicts {
		if vc.Count > 0 {
			t.VerdictCols = append(t.VerdictCols, vc.Verdict.String())
		}
	}
	t.VerdictRows, t.VerdictMore = top(slices.Clone(s.Hosts), func(r HostRow) int { return r.Flows }, func(a, b HostRow) int { return a.Host.Compare(b.Host) })
	var peaks []HostPeak
	for _, p := range s.Peaks {
		if p.notable() {
			peaks = append(peaks, p)
		}
	}
	t.Peaks, t.PeaksMore = top(peaks, func(p HostPeak) int { return max(p.TimeWait.Count, p.SynRecv.Count) }, func(a, b HostPeak) int { return a.Host.Compare(b.Host) })
	var press []Pressure
	for _, p := range s.Pressure {
		if p.Peak > 1 || p.Warn {
			press = append(press, p)
		}
	}
	t.Pressure, t.PressMore = top(press, func(p Pressure) int { return p.Peak }, func(a, b Pressure) int { return 0 })
	return t
}

// top sorts rows by weight, highest first, ties by tie (stable), and
// keeps the first tableRows; it returns how many were left out.
func top[T any](rows []T, weight func(T) int, tie func(a, b T) int) ([]T, int) {
	slices.SortStableFunc(rows, func(a, b T) int {
		if c := cmp.Compare(weight(b), weight(a)); c != 0 {
			return c
		}
		return tie(a, b)
	})
	if len(rows) <= tableRows {
		return rows, 0
	}
	return rows[:tableRows], len(rows) - tableRows
}
