package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/tcpaudit/tcpaudit/reassembly"
)

// markdownWriter writes a report to paste into a GitHub, GitLab or Jira
// ticket: headline findings first, counts, then each abnormal flow (or
// group of alike flows) with its ladder, its reason, what it usually means
// and what to do. Capture-derived text goes through md.
type markdownWriter struct{ w io.Writer }

func newMarkdown(w io.Writer) writer { return markdownWriter{w} }

// mdMaxGroups bounds the finding sections; a million-flow SYN flood is one
// group, so this only cuts reports with very many distinct findings.
const mdMaxGroups = 50

func (m markdownWriter) Write(d *Data) error {
	s := Summarize(d)
	groups := abnormalGroups(d)
	w := m.w
	fmt.Fprintf(w, "# tcpaudit report\n\n**%s, %d abnormal** in %s", plural(s.Flows, "TCP flow"), s.Abnormal, md(strings.Join(s.Inputs, ", ")))
	if !s.Start.IsZero() {
		fmt.Fprintf(w, ", %s → %s (%s)", stamp(s.Start), stamp(s.End), human(s.End.Sub(s.Start)))
	}
	fmt.Fprintf(w, ".\n\n## Headline findings\n\n")
	m.headlines(d, s, groups)
	pt := newPersonTables(s)
	m.counts(s, &pt)
	m.findings(d, groups)
	m.pileUps(d, s, &pt)
	m.capture(s)
	return nil
}

func (m markdownWriter) headlines(d *Data, s *Summary, groups []*group) {
	for _, h := range headlines(d, s, groups) {
		fmt.Fprintf(m.w, "- **%s**", h.Lead)
		if h.Detail != "" {
			fmt.Fprintf(m.w, " %s", md(h.Detail))
		}
		fmt.Fprintln(m.w)
	}
	fmt.Fprintln(m.w)
}

func (m markdownWriter) counts(s *Summary, pt *personTables) {
	w := m.w
	fmt.Fprintf(w, "## Counts\n\n| verdict | flows |\n|---|--:|\n")
	for _, vc := range s.Verdicts {
		if vc.Count > 0 {
			fmt.Fprintf(w, "| %s | %d |\n", vc.Verdict, vc.Count)
		}
	}
	fmt.Fprintf(w, "| **total** | **%d** |\n\n", s.Flows)
	if s.Omitted > 0 {
		fmt.Fprintf(w, "%s are counted here but not explained one by one; the JSON output lists every flow.\n\n", plural(s.Omitted, "flow"))
	}
	if o := s.OtherHosts; o != nil {
		fmt.Fprintf(w, "%s of hosts past the first %d are counted together, not per host.\n\n", plural(o.Flows, "flow"), reassembly.MaxCensusHosts)
	}
	if len(pt.VerdictRows) == 0 {
		return
	}
	cols := pt.VerdictCols
	fmt.Fprintf(w, "### Flows per host and verdict\n\n| host | flows | %s |\n|---|--:|%s\n", strings.Join(cols, " | "), strings.Repeat("--:|", len(cols)))
	for _, r := range pt.VerdictRows {
		fmt.Fprintf(w, "| %s | %d |", r.Host, r.Flows)
		for _, c := range cols {
			fmt.Fprintf(w, " %s |", dotZero(r.Verdicts[c]))
		}
		fmt.Fprintln(w)
	}
	m.more(pt.VerdictMore, "host")
	fmt.Fprintf(w, "\n### TCP states per host at %s\n\n", stamp(s.StatesAt))
	if len(pt.StateRows) == 0 {
		fmt.Fprintf(w, "No socket open.\n\n")
		return
	}
	states := pt.StateCols
	fmt.Fprintf(w, "| host | %s |\n|---|%s\n", strings.Join(states, " | "), strings.Repeat("--:|", len(states)))
	for _, r := range pt.StateRows {
		cells := make([]string, len(states))
		for i, c := range states {
			cells[i] = dotZero(r.States[c])
		}
		fmt.Fprintf(w, "| %s | %s |\n", r.Host, strings.Join(cells, " | "))
	}
	m.more(pt.StateMore, "host")
	fmt.Fprintln(w)
}

// more notes the rows a bounded table left out, below the table.
func (m markdownWriter) more(n int, what string) {
	if n > 0 {
		fmt.Fprintf(m.w, "\nNot shown: %s; the JSON output lists every one.\n", plural(n, "more "+what))
	}
}

// dotZero prints a count, with "." for zero so tables read at a glance.
func dotZero(n int) string {
	if n == 0 {
		return "."
	}
	return fmt.Sprint(n)
}

func (m markdownWriter) findings(d *Data, groups []*group) {
	w := m.w
	if len(groups) == 0 {
		return
	}
	fmt.Fprintf(w, "## Abnormal flows\n\n")
	if d.EvidenceFile != "" {
		fmt.Fprintf(w, "Their packets are in the evidence file %s; each flow below gives a Wireshark display filter to find it there.\n\n", md(d.EvidenceFile))
	}
	explained := make(map[reassembly.Verdict]bool)
	for i, g := range groups {
		if i == mdMaxGroups {
			fmt.Fprintf(w, "%d more groups of abnormal flows are not shown; the JSON output lists every flow.\n\n", len(groups)-i)
			break
		}
		f := g.First()
		fmt.Fprintf(w, "### %d. %s: %s\n\n", i+1, verdictDetail(f), groupTitle(g))
		fmt.Fprintf(w, "- **Flows:** %s\n", md(g.IDs()))
		fmt.Fprintf(w, "- **Reason** (\\#%d): %s\n", f.ID, md(f.Reason))
		fmt.Fprintf(w, "- **End states:** %s; Zeek %s %s\n", endStates(f), md(f.ConnState), md(f.History))
		fmt.Fprintf(w, "- **Find it:** %s of the capture; Wireshark filter `%s`\n", packetRange(f), displayFilter(f))
		if r := roleNote(f); r != "" {
			fmt.Fprintf(w, "- **Note:** %s\n", md(r))
		}
		for _, n := range f.Notes {
			fmt.Fprintf(w, "- **Note:** %s\n", md(n))
		}
		fmt.Fprintf(w, "\n```\n%s```\n\n", textLadder(f))
		if a, ok := verdictAdvice[g.Verdict]; ok && !explained[g.Verdict] {
			explained[g.Verdict] = true
			m.advice(a)
		}
		if g.Verdict == reassembly.Reset {
			fmt.Fprintf(w, "**This reset:** %s\n\n", resetMeaning(f))
		}
	}
}

// groupTitle names a group by its server and, for groups, its size.
func groupTitle(g *group) string {
	f := g.First()
	if g.Total == 1 {
		return arrowed(f)
	}
	from := plural(g.Clients, "client host")
	if g.Total > len(g.Flows) {
		from = "at least " + from
	}
	return fmt.Sprintf("%s to %s from %s", plural(g.Total, "flow"), f.Server().Addr, from)
}

func (m markdownWriter) advice(a advice) {
	fmt.Fprintf(m.w, "**What it usually means:** %s\n\n**What to do:** %s\n\n", a.Means, a.Do)
}

// pileUps explains the findings that are about many flows at once.
func (m markdownWriter) pileUps(d *Data, s *Summary, pt *personTables) {
	w := m.w
	if text := timeWaitText(d, s.Peaks); text != "" {
		fmt.Fprintf(w, "## %s\n\n%s\n\n", timeWaitAdvice.Title, text)
		m.advice(timeWaitAdvice)
	}
	if text := synRecvText(s.Peaks); text != "" {
		fmt.Fprintf(w, "## %s\n\n%s\n\n", synRecvAdvice.Title, text)
		m.advice(synRecvAdvice)
	}
	if len(pt.Pressure) > 0 {
		fmt.Fprintf(w, "## TIME_WAIT pressure on ephemeral ports (%s)\n\n| client → server | peak | of range | at | held by client / server |\n|---|--:|--:|---|---|\n", s.EphemeralPorts)
		warn := false
		for _, p := range pt.Pressure {
			mark := ""
			if p.Warn {
				mark, warn = " ⚠", true
			}
			fmt.Fprintf(w, "| %s → %s | %d%s | %.2f%% | %s | %d / %d |\n", p.Client, p.Server, p.Peak, mark, 100*p.Share, stamp(p.At), p.ClientHeld, p.ServerHeld)
		}
		m.more(pt.PressMore, "pair")
		fmt.Fprintln(w)
		if warn {
			m.advice(pressureAdvice)
		}
	}
}

func (m markdownWriter) capture(s *Summary) {
	w := m.w
	c := s.Capture
	fmt.Fprintf(w, "## Capture\n\n- Inputs: %s\n- %d packets: %d TCP, %d not TCP, %d undecodable, %d filtered out\n",
		md(strings.Join(s.Inputs, ", ")), c.Packets, c.TCP, c.NonTCP, c.Undecodable, c.Filtered)
	if c.Live {
		fmt.Fprintf(w, "- Live capture: %d packets dropped by the kernel, %d by the interface\n", c.KernelDropped, c.IfaceDropped)
	}
	for _, warn := range s.Warnings {
		fmt.Fprintf(w, "- Warning: %s\n", md(warn))
	}
}
