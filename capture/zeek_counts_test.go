package capture

import (
	"bufio"
	"github.com/tcpaudit/tcpaudit/internal/peers"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// zeekTCPPackets sums orig_pkts + resp_pkts over the TCP rows of a Zeek
// conn.log baseline; ok is false when the log lacks those columns.
func zeekTCPPackets(t *testing.T, path string) (n int, ok bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	col := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#fields\t") {
			for i, name := range strings.Split(line, "\t")[1:] {
				col[name] = i
			}
			continue
		}
		if strings.HasPrefix(line, "#") || len(col) == 0 {
			continue
		}
		fields := strings.Split(line, "\t")
		p, o, r := col["proto"], col["orig_pkts"], col["resp_pkts"]
		if p == 0 && o == 0 || max(p, o, r) >= len(fields) {
			return 0, false
		}
		if fields[p] != "tcp" {
			continue
		}
		a, _ := strconv.Atoi(fields[o])
		b, _ := strconv.Atoi(fields[r])
		n += a + b
	}
	return n, len(col) > 0
}

// TestZeekPacketCounts: for each Zeek trace, the TCP packets we decode
// equal the packets Zeek's conn.log counts in its TCP connections, which
// checks link layers, VLAN/MPLS/PPPoE and the Teredo and GTP tunnels
// against Zeek itself.
func TestZeekPacketCounts(t *testing.T) {
	dir := filepath.Join(peers.Dir(t), "zeek")
	logs, _ := filepath.Glob(filepath.Join(dir, "*.conn.log"))
	if len(logs) == 0 {
		t.Skip("no Zeek baselines")
	}
	// Zeek without -C drops packets whose checksum is bad before counting
	// them; we verify checksums only on request, and do here for those.
	verify := map[string]bool{"localhost-bad-chksum": true, "tcp-syn-bad-checksum": true}
	agree := 0
	for _, log := range logs {
		base := strings.TrimSuffix(filepath.Base(log), ".conn.log")
		trace := base
		if i := strings.IndexByte(base, '.'); i >= 0 {
			trace = base[:i] // variants such as NAME.ignore-checksums share NAME's trace
		}
		pcap := filepath.Join(dir, trace+".pcap")
		if _, err := os.Stat(pcap); err != nil {
			pcap += "ng"
		}
		want, ok := zeekTCPPackets(t, log)
		if !ok {
			continue // a derived baseline without packet counts
		}
		src, err := OpenFiles([]string{pcap}, Options{VerifyChecksums: verify[base]})
		if err != nil {
			t.Errorf("%s: %v", base, err)
			continue
		}
		segs, err := readAll(t, src)
		src.Close()
		if err != nil {
			t.Errorf("%s: %v", base, err)
		}
		got := 0
		for _, s := range segs {
			if s.Checksum != ChecksumBad {
				got++
			}
		}
		if got != want {
			t.Errorf("%s: %d TCP packets, Zeek's conn.log counts %d", base, got, want)
			continue
		}
		agree++
	}
	t.Logf("%d Zeek baselines agree", agree)
}
