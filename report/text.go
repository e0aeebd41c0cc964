package report

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/tcpaudit/tcpaudit/reassembly"
)

// textWriter is the default format, for a person at a terminal: totals,
// the abnormal flows first with their reasons, then netstat-style tables.
// Every capture-derived string goes through safe, so a hostile pcapng
// comment cannot move the cursor or clear the screen.
type textWriter struct{ w io.Writer }

func newText(w io.Writer) writer { return textWriter{w} }

func (t textWriter) Write(d *Data) error {
	s := Summarize(d)
	w := t.w
	fmt.Fprintf(w, "tcpaudit: %s, %d abnormal\n", plural(s.Flows, "TCP flow"), s.Abnormal)
	t.capture(s)

	fmt.Fprintf(w, "\nVerdicts\n")
	rows := [][]string{}
	for _, vc := range s.Verdicts {
		if vc.Count > 0 {
			rows = append(rows, []string{vc.Verdict.String(), fmt.Sprint(vc.Count)})
		}
	}
	table(w, "lr", append(rows, []string{"total", fmt.Sprint(s.Flows)}))

	ordered := abnormalFirst(d.Flows)
	shown := slices.IndexFunc(ordered, func(f *reassembly.Flow) bool { return !f.Verdict.Abnormal() })
	if shown < 0 {
		shown = len(ordered)
	}
	if shown > 0 {
		fmt.Fprintf(w, "\nAbnormal flows\n")
		t.flows(ordered[:shown], textPerVerdict, true)
	}
	if healthy := ordered[shown:]; len(healthy) > 0 && len(healthy) <= textHealthy {
		fmt.Fprintf(w, "\nOther flows\n")
		t.flows(healthy, textHealthy, false)
	} else if len(healthy) > 0 {
		fmt.Fprintf(w, "\n%s not listed one by one (--format json, csv or html lists them).\n",
			plural(len(healthy), "healthy flow"))
	}
	if s.Omitted > 0 {
		fmt.Fprintf(w, "\n%s not listed one by one: every count in this report includes them; the JSON output lists every flow.\n",
			plural(s.Omitted, "more flow"))
	}

	pt := newPersonTables(s)
	t.states(s, &pt)
	t.peaks(&pt)
	t.pressure(s, &pt)
	if d.EvidenceFile != "" {
		fmt.Fprintf(w, "\nEvidence: the packets of the flagged flows are in %s; find a flow there with the\n"+
			"Wireshark display filter printed for it, or by its packet numbers in the original capture.\n", safe(d.EvidenceFile))
	}
	return nil
}

// A terminal report stays readable on a capture of a million flows: each
// abnormal verdict lists its first textPerVerdict flows (the rest are
// counted, and alike flows read alike), and healthy flows are listed only
// when there are few of them.
const (
	textPerVerdict = 25
	textHealthy    = 25
)

// flows lists flows in their order, at most perVerdict of each verdict, and
// then says how many of each were left out.
func (t textWriter) flows(flows []*reassembly.Flow, perVerdict int, abnormal bool) {
	var listed [256]int
	for _, f := range flows {
		if listed[f.Verdict]++; listed[f.Verdict] <= perVerdict {
			t.flow(f, abnormal)
		}
	}
	for _, v := range reassembly.Verdicts {
		if n := listed[v] - perVerdict; n > 0 {
			fmt.Fprintf(t.w, "  ... %d more %s flows, not listed (--format json, csv or html lists them; --evidence-verdicts %s saves their packets)\n",
				n, v, v)
		}
	}
}

func (t textWriter) capture(s *Summary) {
	w := t.w
	fmt.Fprintf(w, "Capture: %s\n", safe(strings.Join(s.Inputs, ", ")))
	if !s.Start.IsZero() {
		fmt.Fprintf(w, "  %s → %s (%s)\n", stamp(s.Start), stamp(s.End), human(s.End.Sub(s.Start)))
	}
	c := s.Capture
	fmt.Fprintf(w, "  %d packets: %d TCP, %d not TCP, %d undecodable, %d filtered out\n",
		c.Packets, c.TCP, c.NonTCP, c.Undecodable, c.Filtered)
	if o := s.OtherHosts; o != nil {
		fmt.Fprintf(w, "  %s of hosts past the first %d counted together, not per host\n", plural(o.Flows, "flow"), reassembly.MaxCensusHosts)
	}
	if c.Evicted > 0 {
		fmt.Fprintf(w, "  %s evicted from the full flow table (--max-flows): their verdicts are missing\n", plural(int(c.Evicted), "flow"))
	}
	if s.Incomplete {
		fmt.Fprintf(w, "  INCOMPLETE: %d packets dropped by the kernel, %d by the interface; every count is a lower bound\n",
			c.KernelDropped, c.IfaceDropped)
	}
	for _, warn := range s.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", safe(warn))
	}
}

func (t textWriter) flow(f *reassembly.Flow, detail bool) {
	w := t.w
	fmt.Fprintf(w, "  #%-5d %s  %s\n", f.ID, arrowed(f), verdictDetail(f))
	if f.Reason != "" {
		fmt.Fprintf(w, "         %s\n", safe(f.Reason))
	}
	if !detail {
		return
	}
	extra := []string{endStates(f), "zeek " + safe(f.ConnState) + " " + safe(f.History), packetRange(f)}
	if r := roleNote(f); r != "" {
		extra = append(extra, safe(r))
	}
	fmt.Fprintf(w, "         %s\n", strings.Join(extra, "; "))
	fmt.Fprintf(w, "         wireshark: %s\n", displayFilter(f))
	for _, n := range f.Notes {
		fmt.Fprintf(w, "         note: %s\n", safe(n))
	}
}

func (t textWriter) states(s *Summary, pt *personTables) {
	w := t.w
	when := "at the end of the capture"
	if !s.StatesAt.Equal(s.End) {
		when = "at the chosen instant"
	}
	if s.StatesAt.IsZero() {
		return // no packet, no instant
	}
	fmt.Fprintf(w, "\nTCP states per host %s (%s)\n", when, stamp(s.StatesAt))
	if len(pt.StateRows) == 0 {
		fmt.Fprintf(w, "  no socket open\n")
		return
	}
	rows := [][]string{append([]string{"host"}, pt.StateCols...)}
	for _, r := range pt.StateRows {
		row := []string{r.Host.String()}
		for _, c := range pt.StateCols {
			row = append(row, dotZero(r.States[c]))
		}
		rows = append(rows, row)
	}
	table(w, "l", rows)
	more(w, pt.StateMore, "host")
}

func (t textWriter) peaks(pt *personTables) {
	if len(pt.Peaks) == 0 {
		return
	}
	fmt.Fprintf(t.w, "\nPeaks per host\n")
	rows := [][]string{{"host", "TIME_WAIT", "at", "SYN_RECV", "at"}}
	for _, p := range pt.Peaks {
		rows = append(rows, []string{p.Host.String(), fmt.Sprint(p.TimeWait.Count), clock(p.TimeWait.At),
			fmt.Sprint(p.SynRecv.Count), clock(p.SynRecv.At)})
	}
	table(t.w, "lrrrr", rows)
	more(t.w, pt.PeaksMore, "host")
}

func (t textWriter) pressure(s *Summary, pt *personTables) {
	if len(pt.Pressure) == 0 {
		return
	}
	fmt.Fprintf(t.w, "\nTIME_WAIT pressure per client → server (ephemeral ports %s)\n", s.EphemeralPorts)
	rows := [][]string{{"client → server", "peak", "of range", "at", "held by client/server", ""}}
	for _, p := range pt.Pressure {
		warn := ""
		if p.Warn {
			warn = "WARNING: near port exhaustion"
		}
		rows = append(rows, []string{p.Client.String() + " → " + p.Server.String(), fmt.Sprint(p.Peak),
			fmt.Sprintf("%.2f%%", 100*p.Share), clock(p.At), fmt.Sprintf("%d/%d", p.ClientHeld, p.ServerHeld), warn})
	}
	table(t.w, "lrrrrl", rows)
	more(t.w, pt.PressMore, "pair")
}

// more notes the rows a bounded table left out.
func more(w io.Writer, n int, what string) {
	if n > 0 {
		fmt.Fprintf(w, "  not shown: %s (--format json lists every one)\n", plural(n, "more "+what))
	}
}

// table prints rows as aligned, indented columns. align has one letter
// per column, 'l' or 'r'; columns beyond it are right-aligned. Lines carry
// no trailing blanks.
func table(w io.Writer, align string, rows [][]string) {
	var width []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(width) {
				width = append(width, 0)
			}
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		for i, c := range r {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if i < len(align) && align[i] == 'l' {
				b.WriteString("  " + c + pad)
			} else {
				b.WriteString("  " + pad + c)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}
