package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/tcpaudit/tcpaudit/reassembly"
)

// A ladder (sequence diagram) shows a flow packet by packet: who sent
// what, when. It is drawn from Flow.Ladder(), the bounded first-and-last
// packets the reassembly keeps; a flow without one (an older reassembly)
// gets its state Timeline instead, which still says who moved when.

// rung is one line of a ladder.
type rung struct {
	Index uint64        // capture packet number; 0 for a state change
	Rel   time.Duration // since the flow's first packet
	From  reassembly.Side
	Label string // "S. seq 0 ack 1 win 65160", or "→ FIN_WAIT1"
	Kind  string // "syn", "fin", "rst", "data", "ack" or "state": the colour
	// Omitted, when non-zero, makes this rung a gap marker: that many
	// packets are not shown here.
	Omitted uint64
}

// rungs returns the ladder of f.
func rungs(f *reassembly.Flow) []rung {
	ladder := f.Ladder()
	if len(ladder) == 0 {
		out := make([]rung, 0, len(f.Timeline))
		for _, tr := range f.Timeline {
			out = append(out, rung{Rel: tr.Time.Sub(f.FirstSeen), From: tr.Side, Label: "enters " + tr.State.String(), Kind: "state"})
		}
		return out
	}
	out := make([]rung, 0, len(ladder)+1)
	for i, st := range ladder {
		if f.LadderOmitted > 0 && i == reassembly.LadderHead && len(ladder) > reassembly.LadderHead {
			out = append(out, rung{Omitted: f.LadderOmitted})
		}
		out = append(out, rung{
			Index: st.Index,
			Rel:   st.Time.Sub(f.FirstSeen),
			From:  st.From,
			Label: stepLabel(f, st),
			Kind:  stepKind(st),
		})
	}
	return out
}

// stepLabel prints a packet the way tcpdump -S would not: sequence numbers
// relative to each side's ISN when the SYN was seen, which is what a
// reader of a ticket can follow.
func stepLabel(f *reassembly.Flow, st reassembly.LadderStep) string {
	var b strings.Builder
	fl := st.Flags.String()
	b.WriteString(fl)
	b.WriteString(" seq ")
	b.WriteString(fmt.Sprint(relSeq(st.Seq, &f.Ends[st.From])))
	if strings.HasSuffix(fl, ".") {
		b.WriteString(" ack ")
		b.WriteString(fmt.Sprint(relSeq(st.Ack, &f.Ends[st.From.Reverse()])))
	}
	if st.Len > 0 {
		fmt.Fprintf(&b, " len %d", st.Len)
	}
	fmt.Fprintf(&b, " win %d", st.Window)
	return b.String()
}

// relSeq makes a sequence number relative to the ISN of the end whose
// sequence space it is in, modulo 2^32, when that ISN is known.
func relSeq(seq uint32, e *reassembly.Endpoint) uint32 {
	if !e.SawSYN {
		return seq
	}
	return seq - e.ISN
}

// stepKind picks a colour class by the most telling flag.
func stepKind(st reassembly.LadderStep) string {
	fl := st.Flags.String()
	switch {
	case strings.Contains(fl, "R"):
		return "rst"
	case strings.Contains(fl, "S"):
		return "syn"
	case strings.Contains(fl, "F"):
		return "fin"
	case st.Len > 0:
		return "data"
	}
	return "ack"
}

// seconds prints a relative time as seconds with microseconds.
func seconds(d time.Duration) string { return fmt.Sprintf("%.6f", d.Seconds()) }

// textLadder draws the ladder as fixed-width text for a Markdown code
// block or a terminal: client on the left, server on the right.
func textLadder(f *reassembly.Flow) string {
	rs := rungs(f)
	left := len("client " + f.Client().Addr.String())
	for _, r := range rs {
		if r.Omitted == 0 && r.From == reassembly.Client && len(r.Label) > left {
			left = len(r.Label)
		}
	}
	const arrow = 16
	var b strings.Builder
	fmt.Fprintf(&b, "%6s  %-10s  %-*s  %*s  %s\n", "pkt", "time (s)", left, "client "+f.Client().Addr.String(), arrow, "", "server "+f.Server().Addr.String())
	for _, r := range rs {
		if r.Omitted > 0 {
			fmt.Fprintf(&b, "%6s  %-10s  %s\n", "...", "", plural(int(r.Omitted), "packet")+" not shown")
			continue
		}
		pkt := "-"
		if r.Index > 0 {
			pkt = fmt.Sprint(r.Index)
		}
		if r.From == reassembly.Client {
			fmt.Fprintf(&b, "%6s  %-10s  %-*s  %s\n", pkt, seconds(r.Rel), left, r.Label, strings.Repeat("-", arrow-1)+">")
		} else {
			fmt.Fprintf(&b, "%6s  %-10s  %-*s  %s  %s\n", pkt, seconds(r.Rel), left, "", "<"+strings.Repeat("-", arrow-1), r.Label)
		}
	}
	return b.String()
}
