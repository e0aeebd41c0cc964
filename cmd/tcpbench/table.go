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

// target returns the speed-up issue 5 asks for over a peer.
func target(peer tool) float64 {
	if peer.Args[0] == "tcptrace" {
		return targetVsTcptrace
	}
	return targetVsTshark
}

func pps(packets uint64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(packets) / d.Seconds()
}

// speedup is how many times longer peer took than r.
func speedup(peer, r row) float64 { return peer.result.Wall.Seconds() / r.result.Wall.Seconds() }

// printTable prints one line per tool: wall, CPU, peak RSS, throughput and,
// for tcpaudit's rows, how many times longer each peer took on the file.
func printTable(w io.Writer, rows []row, cs captureSize, markdown bool) {
	header := []string{"tool", "wall", "CPU", "peak RSS", "packets/s", "MB/s"}
	var peers []row
	for _, r := range rows {
		if r.tool.Peer {
			peers = append(peers, r)
			header = append(header, r.tool.Args[0]+" wall / this")
		}
	}
	lines := [][]string{}
	for _, r := range rows {
		l := []string{
			r.tool.Name,
			fmt.Sprintf("%.2f s", r.result.Wall.Seconds()),
			fmt.Sprintf("%.2f s", r.result.CPU.Seconds()),
			fmt.Sprintf("%.0f MB", float64(r.result.MaxRSSKB)/1024),
			fmt.Sprintf("%.2fM", pps(cs.packets, r.result.Wall)/1e6),
			fmt.Sprintf("%.0f", float64(cs.bytes)/1e6/r.result.Wall.Seconds()),
		}
		for _, p := range peers {
			if r.tool.Peer {
				l = append(l, "")
			} else {
				l = append(l, fmt.Sprintf("%.1f×", speedup(p, r)))
			}
		}
		lines = append(lines, l)
	}
	printGrid(w, header, lines, markdown)
}

// printGrid prints a table aligned with spaces, or as Markdown.
func printGrid(w io.Writer, header []string, lines [][]string, markdown bool) {
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
// whether it was met, for every tcpaudit row.
func printTargets(w io.Writer, rows []row, cs captureSize) {
	fmt.Fprintf(w, "\n%d packets, %.0f MB\n", cs.packets, float64(cs.bytes)/1e6)
	for _, r := range rows {
		if r.tool.Peer {
			continue
		}
		if r.tool.OneCore {
			got := pps(cs.packets, r.result.Wall)
			fmt.Fprintf(w, "%s: %.2fM packets/s on one core (target %.0fM) %s\n",
				r.tool.Name, got/1e6, targetOneCorePPS/1e6, verdict(got >= targetOneCorePPS))
			continue
		}
		for _, p := range rows {
			if p.tool.Peer {
				got, want := speedup(p, r), target(p.tool)
				fmt.Fprintf(w, "%s vs %s: %.1f× (target %.0f×) %s\n", r.tool.Name, p.tool.Args[0], got, want, verdict(got >= want))
			}
		}
	}
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT MET"
}
