package main

import (
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tcpaudit/tcpaudit/capture"
)

// shortConns writes a capture of n short connections, each a clean close
// by the client in seven packets, one connection every connGap: a long
// capture whose connections all end. Clients cycle through 200 hosts and
// their ports, so no 4-tuple is reused within TIME_WAIT.
func shortConns(t *testing.T, path string, n int) {
	t.Helper()
	const connGap = 10 * time.Millisecond
	server := netip.MustParseAddrPort("198.51.100.20:443")
	type step struct {
		fromClient bool
		flags      capture.Flags
		seq, ack   uint32 // relative to the ISNs 1000 and 5000
		payload    int
	}
	script := []step{
		{true, capture.SYN, 0, 0, 0},
		{false, capture.SYN | capture.ACK, 0, 1, 0},
		{true, capture.ACK, 1, 1, 0},
		{true, capture.FIN | capture.ACK, 1, 1, 0},
		{false, capture.ACK, 1, 2, 0},
		{false, capture.FIN | capture.ACK, 1, 2, 0},
		{true, capture.ACK, 2, 2, 0},
	}
	writeCapture(t, path, func(i int) (seg, time.Duration, bool) {
		c, k := i/len(script), script[i%len(script)]
		if c >= n {
			return seg{}, 0, false
		}
		host := netip.AddrFrom4([4]byte{10, 1, byte(c % 200 >> 8), byte(c % 200)})
		client := netip.AddrPortFrom(host, uint16(20000+c/200%40000))
		s := seg{src: client, dst: server, seq: 1000 + k.seq, ack: 5000 + k.ack, flags: k.flags}
		if !k.fromClient {
			s.src, s.dst, s.seq, s.ack = server, client, 5000+k.seq, 1000+k.ack
		}
		if k.flags == capture.SYN {
			s.ack = 0
		}
		return s, time.Duration(c)*connGap + time.Duration(i%len(script))*100*time.Microsecond, true
	})
}

// TestStreamedFormatsRunInFlatMemory: a capture of short connections that
// all end is audited in memory that does not grow with its length when
// the format is streamed (issue 5): four times the connections, over four
// times the capture time, peak at about the same live heap. Before flows
// were streamed, the heap grew with every flow.
func TestStreamedFormatsRunInFlatMemory(t *testing.T) {
	sizes := []int{50_000, 200_000}
	if testing.Short() {
		sizes = []int{10_000, 40_000}
	}
	dir := t.TempDir()
	var paths []string
	for _, n := range sizes {
		p := filepath.Join(dir, strings.ReplaceAll(time.Duration(n).String(), "µ", "u")+".pcap")
		shortConns(t, p, n)
		paths = append(paths, p)
	}
	// Slack for the collector's timing: the heap is sampled, and garbage
	// not yet collected counts.
	const factor = 1.5
	for _, format := range []string{"json", "csv", "zeek"} {
		var peaks []uint64
		for i, p := range paths {
			out := filepath.Join(dir, "report."+format)
			// The garbage of the previous run must not count in this one.
			runtime.GC()
			r := runCommand(t, "--format", format, "--progress=false", "-o", out, p)
			if r.code != exitOK {
				t.Fatalf("%v\nwant exit 0", r)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if format == "csv" {
				if got := strings.Count(string(b), "\n") - 1; got != sizes[i] {
					t.Errorf("%s, %d connections: %d rows", format, sizes[i], got)
				}
			}
			peaks = append(peaks, r.peakHeap)
			t.Logf("%s, %d connections: peak heap %d MiB, allocated %d MiB", format, sizes[i], r.peakHeap>>20, r.allocated>>20)
		}
		if float64(peaks[1]) > factor*float64(peaks[0]) {
			t.Errorf("%s: peak heap %d MiB for %d connections, %d MiB for %d: memory grows with the capture",
				format, peaks[1]>>20, sizes[1], peaks[0]>>20, sizes[0])
		}
	}
}

// A streamed report goes to FILE.tmp while the flows come and is renamed
// into place only when whole: a run that fails after flows were written
// leaves neither FILE nor FILE.tmp, and a run that succeeds leaves a
// report whose flows are all the summary counts.
func TestStreamedReportIsWholeOrAbsent(t *testing.T) {
	dir := t.TempDir()
	capPath := filepath.Join(dir, "conns.pcap")
	shortConns(t, capPath, 300)
	for _, format := range []string{"json", "csv", "zeek"} {
		out := filepath.Join(dir, "report."+format)
		// The evidence file cannot be created: finish fails after every
		// flow was streamed.
		r := runCommand(t, "--format", format, "-o", out, "--evidence", filepath.Join(dir, "no-such-dir", "e.pcapng"), capPath)
		if r.code != exitBadInput {
			t.Fatalf("%v\nwant exit %d", r, exitBadInput)
		}
		for _, p := range []string{out, out + ".tmp"} {
			if _, err := os.Stat(p); err == nil {
				t.Errorf("%s: failed run left %s behind", format, p)
			}
		}
		if r = runCommand(t, "--format", format, "-o", out, capPath); r.code != exitOK {
			t.Fatalf("%v\nwant exit 0", r)
		}
		if _, err := os.Stat(out + ".tmp"); err == nil {
			t.Errorf("%s: %s.tmp left behind", format, out)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if format == "json" {
			r.stdout = string(b)
			rep := parseReport(t, r)
			if len(rep.Flows) != 300 || rep.Summary.Flows != 300 {
				t.Errorf("json: %d flows listed, summary counts %d; want 300 and 300", len(rep.Flows), rep.Summary.Flows)
			}
		}
	}
}

// The formats for a person keep a bounded number of flows in detail and
// count the rest: every total covers all flows, and the report says how
// many it does not list.
func TestPersonFormatsKeepBoundedDetail(t *testing.T) {
	const n = keepNormal + 700
	path := filepath.Join(t.TempDir(), "conns.pcap")
	shortConns(t, path, n)
	r := runCommand(t, "--format", "text", "--progress=false", path)
	if r.code != exitOK {
		t.Fatalf("%v\nwant exit 0", r)
	}
	for _, want := range []string{
		"tcpaudit: 5700 TCP flows, 0 abnormal",
		"  clean  5700",
		"700 more flows not listed one by one",
		// A terminal lists healthy flows only when there are few.
		"5000 healthy flows not listed one by one",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("text report lacks %q", want)
		}
	}
	if got := strings.Count(r.stdout, "\n  #"); got != 0 {
		t.Errorf("text report lists %d healthy flows one by one, want none of %d", got, n)
	}
	r = runCommand(t, "--format", "html", "--progress=false", path)
	if want := "700 more flows are not shown"; !strings.Contains(r.stdout, want) {
		t.Errorf("html report lacks %q", want)
	}
}
