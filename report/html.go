package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/tcpaudit/tcpaudit/reassembly"
)

// htmlWriter writes one self-contained HTML file: inline CSS, inline SVG
// pictures and a little vanilla JavaScript, and a Content-Security-Policy
// that forbids fetching anything, so it opens offline from a ticket
// attachment and cannot phone home. Everything from the capture goes
// through html/template's contextual escaping (after safe).
type htmlWriter struct{ w io.Writer }

func newHTML(w io.Writer) writer { return htmlWriter{w} }

//go:embed html.tmpl
var htmlSource string

var htmlTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"safe":   safe,
	"stamp":  stamp,
	"clock":  clock,
	"spans":  codeSpans,
	"plural": plural,
	"pct":    func(f float64) string { return fmt.Sprintf("%.2f%%", 100*f) },
	// more is "" or "12 more hosts", for the note under a bounded table.
	"more": func(n int, what string) string {
		if n == 0 {
			return ""
		}
		return plural(n, "more "+what)
	},
}).Parse(htmlSource))

// Bounds that keep the page usable on huge captures; the JSON output always
// has everything.
const (
	htmlMaxRows     = 5000 // flow table rows
	htmlMaxGroups   = 50   // findings with a ladder
	htmlChartHosts  = 6    // hosts with a states-over-time chart
	htmlChartPoints = 120  // time buckets per chart
)

// htmlPage is everything the template shows, computed beforehand so that
// the template only places it.
type htmlPage struct {
	S         *Summary
	Inputs    string
	Duration  string
	Headlines []headline
	Verdicts  []VerdictCount
	T         personTables
	Charts    []stateChart
	RTT       rttChart
	Findings  []finding
	More      int // findings not shown
	TimeWait  *pileUp
	SynRecv   *pileUp
	Pressure  *advice
	Rows      []flowRow
	RowsOmit  int
	Evidence  string
	Arrows    []arrow
}

// arrow is the arrowhead of one kind of ladder packet, in its colour.
type arrow struct{ Kind, Color string }

// arrows colour ladder packets by their most telling flag; the CSS classes
// of the same names colour the lines.
var arrows = []arrow{{"syn", "#1565c0"}, {"fin", "#ef6c00"}, {"rst", "#c62828"}, {"data", "#2e7d32"}, {"ack", "#6b7785"}}

// pileUp is a finding about many flows at once, with its advice.
type pileUp struct {
	Text   string
	Advice advice
}

func (h htmlWriter) Write(d *Data) error {
	s := Summarize(d)
	p := &htmlPage{
		S:        s,
		Inputs:   safe(strings.Join(s.Inputs, ", ")),
		Duration: human(s.End.Sub(s.Start)),
		Evidence: safe(d.EvidenceFile),
		Arrows:   arrows,
	}
	for _, vc := range s.Verdicts {
		if vc.Count > 0 {
			p.Verdicts = append(p.Verdicts, vc)
		}
	}
	p.T = newPersonTables(s)
	p.Charts = stateCharts(d, s)
	p.RTT = newRTTChart(d)
	groups := abnormalGroups(d)
	p.Headlines = headlines(d, s, groups)
	explained := make(map[reassembly.Verdict]bool)
	for i, g := range groups {
		if i == htmlMaxGroups {
			p.More = len(groups) - i
			break
		}
		p.Findings = append(p.Findings, newFinding(i+1, g, explained))
	}
	if text := timeWaitText(d, s.Peaks); text != "" {
		p.TimeWait = &pileUp{text, timeWaitAdvice}
	}
	if text := synRecvText(s.Peaks); text != "" {
		p.SynRecv = &pileUp{text, synRecvAdvice}
	}
	for _, pr := range s.Pressure {
		if pr.Warn {
			p.Pressure = &pressureAdvice
		}
	}
	for i, f := range abnormalFirst(d.Flows) {
		if i == htmlMaxRows {
			p.RowsOmit = len(d.Flows) - i
			break
		}
		p.Rows = append(p.Rows, newFlowRow(f))
	}
	p.RowsOmit += s.Omitted
	return htmlTemplate.Execute(h.w, p)
}

// flowRow is one row of the flow table. Sort keys for numeric columns go
// in data-v attributes so the script sorts numbers as numbers.
type flowRow struct {
	ID                    uint64
	Client, Server        string
	Verdict               string
	Abnormal              bool
	Reason                string
	ClientState, SrvState string
	Handshake             string
	RTT                   string
	RTTNS                 int64
	Start                 string
	StartNS               int64
	Duration              string
	DurNS                 int64
	Packets, Bytes        uint64
	Zeek                  string
}

func newFlowRow(f *reassembly.Flow) flowRow {
	rtt := ""
	if f.RTT > 0 {
		rtt = human(f.RTT)
	}
	c, s := f.Client(), f.Server()
	return flowRow{
		ID: f.ID, Client: c.Addr.String(), Server: s.Addr.String(),
		Verdict: verdictDetail(f), Abnormal: f.Verdict.Abnormal(), Reason: safe(f.Reason),
		ClientState: c.State.String(), SrvState: s.State.String(), Handshake: f.Handshake.String(),
		RTT: rtt, RTTNS: int64(f.RTT),
		Start: clock(f.FirstSeen), StartNS: f.FirstSeen.UnixNano(),
		Duration: human(f.LastSeen.Sub(f.FirstSeen)), DurNS: int64(f.LastSeen.Sub(f.FirstSeen)),
		Packets: c.Packets + s.Packets, Bytes: c.Bytes + s.Bytes,
		Zeek: safe(f.ConnState + " " + f.History),
	}
}

// finding is one abnormal flow or group of alike flows.
type finding struct {
	Num       int
	Verdict   string
	Title     string
	IDs       string
	FirstID   uint64
	Reason    string
	EndStates string
	Zeek      string
	Find      string
	Filter    string
	Notes     []string
	Ladder    ladderSVG
	Advice    *advice
	ResetNote string
}

func newFinding(num int, g *group, explained map[reassembly.Verdict]bool) finding {
	f := g.First()
	fd := finding{
		Num: num, Verdict: verdictDetail(f), Title: groupTitle(g), IDs: g.IDs(), FirstID: f.ID,
		Reason: safe(f.Reason), EndStates: endStates(f), Zeek: safe(f.ConnState + " " + f.History),
		Find: packetRange(f), Filter: displayFilter(f), Ladder: newLadderSVG(f),
	}
	if r := roleNote(f); r != "" {
		fd.Notes = append(fd.Notes, safe(r))
	}
	for _, n := range f.Notes {
		fd.Notes = append(fd.Notes, safe(n))
	}
	if a, ok := verdictAdvice[g.Verdict]; ok && !explained[g.Verdict] {
		explained[g.Verdict] = true
		fd.Advice = &a
	}
	if g.Verdict == reassembly.Reset {
		fd.ResetNote = resetMeaning(f)
	}
	return fd
}

// Pictures. All coordinates are computed here; the template only places
// them. Numbers are formatted with one decimal to keep the file small.

var stateColors = map[reassembly.State]string{
	reassembly.Listen: "#9e9e9e", reassembly.SynSent: "#ef6c00", reassembly.SynRecv: "#c62828",
	reassembly.Established: "#2e7d32", reassembly.FinWait1: "#00838f", reassembly.FinWait2: "#1565c0",
	reassembly.Closing: "#757575", reassembly.TimeWait: "#f9a825", reassembly.CloseWait: "#6a1b9a",
	reassembly.LastAck: "#5d4037",
}

// stateChart is the states-over-time picture of one host.
type stateChart struct {
	Host   string
	Max    int
	Series []series
	Start  string
	End    string
}

type series struct {
	State  string
	Color  string
	Points string
	Peak   int
	// LegendX and LegendY place the series' legend entry; entries wrap to
	// a second row when the first is full.
	LegendX, LegendY int
}

// Chart geometry, in SVG user units.
const (
	plotX0, plotX1 = 48, 704
	plotY0, plotY1 = 12, 130
	legendY0       = 152 // first legend row, below the time axis labels
	legendRowH     = 15
	ladderClientX  = 230
	ladderServerX  = 600
	ladderRowH     = 26
	ladderTop      = 44
	rttBarGap      = 4
	rttPlotH       = 110
)

func stateCharts(d *Data, s *Summary) []stateChart {
	hosts := slices.Clone(s.Hosts)
	if d.Census != nil {
		// The census draws the busiest hosts only.
		hosts = slices.DeleteFunc(hosts, func(h HostRow) bool {
			return !slices.ContainsFunc(d.Census.Series.Hosts, func(sh reassembly.HostSeries) bool { return sh.Host == h.Host })
		})
	}
	slices.SortStableFunc(hosts, func(a, b HostRow) int { return b.Flows - a.Flows })
	if len(hosts) > htmlChartHosts {
		hosts = hosts[:htmlChartHosts]
	}
	addrs := make([]netip.Addr, len(hosts))
	for i, h := range hosts {
		addrs[i] = h.Host
	}
	var data map[netip.Addr][][]int
	if d.Census != nil {
		data = censusSeries(d.Census, addrs, d.Start, d.End, htmlChartPoints)
	} else {
		data = stateSeries(d.Flows, addrs, d.Start, d.End, htmlChartPoints)
	}
	var out []stateChart
	for _, h := range addrs {
		buckets := data[h]
		c := stateChart{Host: h.String(), Start: clock(d.Start), End: clock(d.End)}
		for _, b := range buckets {
			for _, v := range b {
				c.Max = max(c.Max, v)
			}
		}
		if c.Max == 0 {
			continue
		}
		for i, st := range seriesStates {
			peak := 0
			for _, b := range buckets {
				peak = max(peak, b[i])
			}
			if peak == 0 {
				continue
			}
			var pts strings.Builder
			for j, b := range buckets {
				y := plotY1 - float64(b[i])/float64(c.Max)*(plotY1-plotY0)
				x0 := plotX0 + float64(j)*(plotX1-plotX0)/float64(len(buckets))
				x1 := plotX0 + float64(j+1)*(plotX1-plotX0)/float64(len(buckets))
				fmt.Fprintf(&pts, "%.1f,%.1f %.1f,%.1f ", x0, y, x1, y)
			}
			c.Series = append(c.Series, series{State: st.String(), Color: stateColors[st],
				Points: strings.TrimSpace(pts.String()), Peak: peak})
		}
		layoutLegend(c.Series)
		out = append(out, c)
	}
	return out
}

// layoutLegend places legend entries left to right below the plot,
// wrapping at the plot's right edge. Widths are estimated from the label
// length (11 px sans-serif averages under 7 px a character).
func layoutLegend(ss []series) {
	x, y := plotX0, legendY0
	for i := range ss {
		w := 14 + 7*len(fmt.Sprintf("%s %d", ss[i].State, ss[i].Peak)) + 12
		if x+w > plotX1 && x > plotX0 {
			x, y = plotX0, y+legendRowH
		}
		ss[i].LegendX, ss[i].LegendY = x, y
		x += w
	}
}

// rttChart is the handshake RTT histogram.
type rttChart struct {
	Bars  []bar
	Count int
}

type bar struct {
	X, Y, W, H float64
	Label      string
	Count      int
	LabelX     float64
}

// rttEdges are 1-2-5 steps: RTTs span microseconds (same rack) to seconds
// (satellite, retransmitted SYN), so the buckets are logarithmic.
var rttEdges = []time.Duration{
	10 * time.Microsecond, 20 * time.Microsecond, 50 * time.Microsecond,
	100 * time.Microsecond, 200 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond,
	10 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2 * time.Second, 5 * time.Second,
}

// newRTTChart draws the RTT histogram of every flow: from the totals when
// d has them, else from d.Flows.
func newRTTChart(d *Data) rttChart {
	var counts []int
	if d.Totals != nil {
		counts = d.Totals.rtt
	} else {
		counts = make([]int, len(rttEdges)+1)
		for _, f := range d.Flows {
			if f.RTT > 0 {
				counts[rttBucket(f.RTT)]++
			}
		}
	}
	var c rttChart
	for _, n := range counts {
		c.Count += n
	}
	if c.Count == 0 {
		return c
	}
	lo, hi := 0, len(counts)-1
	for counts[lo] == 0 {
		lo++
	}
	for counts[hi] == 0 {
		hi--
	}
	most := slices.Max(counts)
	n := hi - lo + 1
	w := float64(plotX1-plotX0)/float64(n) - rttBarGap
	for i := lo; i <= hi; i++ {
		label := "≥" + human(rttEdges[len(rttEdges)-1])
		if i < len(rttEdges) {
			label = "<" + human(rttEdges[i])
		}
		h := float64(counts[i]) / float64(most) * rttPlotH
		x := plotX0 + float64(i-lo)*(w+rttBarGap)
		c.Bars = append(c.Bars, bar{X: x, Y: plotY0 + rttPlotH - h + 10, W: w, H: h, Label: label, Count: counts[i], LabelX: x + w/2})
	}
	return c
}

// ladderSVG is the sequence diagram of one flow.
type ladderSVG struct {
	Height         int
	Client, Server string
	ClientX        int
	ServerX        int
	Rows           []ladderRow
}

type ladderRow struct {
	Y, Y2  int
	X1, X2 int
	LabelX int
	Anchor string
	Label  string
	Time   string
	Pkt    string
	Kind   string
	Gap    string // set for a gap marker
	State  bool   // a state change rather than a packet
}

func newLadderSVG(f *reassembly.Flow) ladderSVG {
	rs := rungs(f)
	l := ladderSVG{
		Client: "client " + f.Client().Addr.String(), Server: "server " + f.Server().Addr.String(),
		ClientX: ladderClientX, ServerX: ladderServerX,
		Height: ladderTop + ladderRowH*len(rs) + 16,
	}
	for i, r := range rs {
		y := ladderTop + ladderRowH*i + 8
		row := ladderRow{Y: y, Y2: y + 12, Kind: r.Kind, Label: r.Label, Time: seconds(r.Rel) + " s"}
		if r.Index > 0 {
			row.Pkt = fmt.Sprintf("#%d", r.Index)
		}
		from, to := ladderClientX, ladderServerX
		if r.From == reassembly.Server {
			from, to = to, from
		}
		row.X1, row.X2, row.LabelX, row.Anchor = from, to, (from+to)/2, "middle"
		switch {
		case r.Omitted > 0:
			row.Gap = plural(int(r.Omitted), "packet") + " not shown"
			row.LabelX = (ladderClientX + ladderServerX) / 2
		case r.Kind == "state":
			row.State = true
			row.LabelX, row.Anchor = from+8, "start"
			if r.From == reassembly.Server {
				row.LabelX, row.Anchor = from-8, "end"
			}
		}
		l.Rows = append(l.Rows, row)
	}
	return l
}
