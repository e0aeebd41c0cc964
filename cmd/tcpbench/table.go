package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// row is one measured tool.
type row struct {
	tool   tool
	result result
}

// Targets of issue 5.
const (
	targetOneCorePPS = 3e6 // packets per second on one core
	targetVsTcptrace = 5   // times faster than tcptrace
	targetVsTshark   = 25  // times faster than tshark
)

// reference is the row ratios are taken against: the first tcpaudit row,
// which uses every core.
func reference(rows []row) (row, bool) {
	for _, r := range rows {
		if !r.tool.Peer {
			return r, true
		}
	}
	return row{}, false
}

func pps(packets uint64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(packets) / d.Seconds()
}

// printTable prints one line per tool: wall, CPU, peak RSS, throughput and,
// for peers, how many times longer they took than tcpaudit.
func printTable(w io.Writer, rows []row, cs captureSize, markdown bool) {
	ref, _ := reference(rows)
	header := []string{"tool", "wall", "CPU", "peak RSS", "packets/s", "MB/s", "peer wall / tcpaudit wall"}
	lines := [][]string{}
	for _, r := range rows {
		ratio := ""
		if r.tool.Peer && ref.result.Wall > 0 {
			ratio = fmt.Sprintf("%.1f×", r.result.Wall.Seconds()/ref.result.Wall.Seconds())
		}
		lines = append(lines, []string{
			r.tool.Name,
			fmt.Sprintf("%.2f s", r.result.Wall.Seconds()),
			fmt.Sprintf("%.2f s", r.result.CPU.Seconds()),
			fmt.Sprintf("%.0f MB", float64(r.result.MaxRSSKB)/1024),
			fmt.Sprintf("%.2fM", pps(cs.packets, r.result.Wall)/1e6),
			fmt.Sprintf("%.0f", float64(cs.bytes)/1e6/r.result.Wall.Seconds()),
			ratio,
		})
	}
	if markdown {
		fmt.Fprintf(w, "| %s |\n", strings.Join(header, " | "))
		fmt.Fprintf(w, "|%s\n", strings.Repeat("---|", len(header)))
		for _, l := range lines {
			fmt.Fprintf(w, "| %s |\n", strings.Join(l, " | "))
		}
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, l := range lines {
		fmt.Fprintln(tw, strings.Join(l, "\t"))
	}
	tw.Flush()
}

// printTargets says, for each target of issue 5, what was measured and
// whether it was met.
func printTargets(w io.Writer, rows []row, cs captureSize) {
	ref, ok := reference(rows)
	if !ok {
		return
	}
	fmt.Fprintf(w, "\n%d packets, %.0f MB\n", cs.packets, float64(cs.bytes)/1e6)
	for _, r := range rows {
		switch {
		case strings.Contains(r.tool.Name, "GOMAXPROCS=1"):
			got := pps(cs.packets, r.result.Wall)
			fmt.Fprintf(w, "one core: %.2fM packets/s (target %.0fM) %s\n", got/1e6, targetOneCorePPS/1e6, verdict(got >= targetOneCorePPS))
		case r.tool.Peer:
			want := float64(targetVsTshark)
			if strings.HasPrefix(r.tool.Name, "tcptrace") {
				want = targetVsTcptrace
			}
			got := r.result.Wall.Seconds() / ref.result.Wall.Seconds()
			fmt.Fprintf(w, "vs %s: %.1f× (target %.0f×) %s\n", r.tool.Args[0], got, want, verdict(got >= want))
		}
	}
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT MET"
}
