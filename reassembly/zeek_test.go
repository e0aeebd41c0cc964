package reassembly_test

import (
	"bufio"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tcpaudit/tcpaudit/internal/peers"
	"github.com/tcpaudit/tcpaudit/reassembly"
)

// zeekRow is one TCP row of a baseline conn.log. Orig and Resp are invalid
// for the derived logs that print no 5-tuple.
type zeekRow struct {
	Orig, Resp         netip.AddrPort
	ConnState, History string
}

// readZeekLog reads the TCP rows of a btest baseline: TSV in #fields order,
// or, for zeek-cut subsets, with the first non-# line as the header.
func readZeekLog(path string) ([]zeekRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var cols []string
	var rows []zeekRow
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#fields\t") {
			cols = strings.Split(line, "\t")[1:]
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, "\t")
		if cols == nil {
			cols = fields
			continue
		}
		get := func(name string) string {
			if i := slices.Index(cols, name); i >= 0 && i < len(fields) {
				return fields[i]
			}
			return ""
		}
		if p := get("proto"); p != "" && p != "tcp" {
			continue
		}
		r := zeekRow{ConnState: get("conn_state"), History: get("history")}
		if r.History == "-" {
			r.History = ""
		}
		if h := get("id.orig_h"); h != "" {
			op, err1 := strconv.ParseUint(get("id.orig_p"), 10, 16)
			rp, err2 := strconv.ParseUint(get("id.resp_p"), 10, 16)
			oa, err3 := netip.ParseAddr(h)
			ra, err4 := netip.ParseAddr(get("id.resp_h"))
			if err := errors.Join(err1, err2, err3, err4); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			r.Orig, r.Resp = netip.AddrPortFrom(oa, uint16(op)), netip.AddrPortFrom(ra, uint16(rp))
		}
		rows = append(rows, r)
	}
	return rows, sc.Err()
}

// zeekExclusions are baseline logs that cannot be compared, by design.
var zeekExclusions = map[string]string{
	"tcp-syn-bad-checksum.conn.log":              "Zeek verified checksums and dropped the only packet (history C); capture.Segment carries no checksum verdict",
	"localhost-bad-chksum.conn.log":              "Zeek verified checksums and dropped packets; compared instead through the ignore-checksums variant of the same trace",
	"tcp-retransmit-timeout.all-timers.conn.log": "variant run with max_timer_expires=0 (every timer expired); the primary log of the trace is compared",
}

// zeekHistoryExclusions are rows whose conn_state is compared but whose
// history cannot be, with the reason.
var zeekHistoryExclusions = map[string]string{
	"gtp2-different-udp-port.conn.log ShADadXf":  "X: Zeek's analyzer limit for the GTP tunnel was reached, an analysis artefact",
	"tcp-retransmit-fast009.conn.log ShADaGdgtR": "G/g: payload was cut by the snap length and Zeek does not reassemble it; capture.Segment does not say how much payload was captured",
}

func TestZeekAgreement(t *testing.T) {
	dir := filepath.Join(peers.Dir(t), "zeek")
	logs, _ := filepath.Glob(filepath.Join(dir, "*.conn.log"))
	if len(logs) == 0 {
		t.Skipf("no Zeek baselines in %s: skipping the Zeek comparison", dir)
	}
	var total, stateOK, histTotal, histOK int
	for _, log := range logs {
		name := filepath.Base(log)
		if why, ok := zeekExclusions[name]; ok {
			t.Logf("%-48s excluded: %s", name, why)
			continue
		}
		trace := strings.TrimSuffix(name, ".conn.log")
		trace = strings.TrimSuffix(strings.TrimSuffix(trace, ".ignore-checksums"), ".all-timers")
		pcap := filepath.Join(dir, trace+".pcap")
		if _, err := os.Stat(pcap); err != nil {
			pcap = filepath.Join(dir, trace+".pcapng")
		}
		want, err := readZeekLog(log)
		if err != nil {
			t.Fatal(err)
		}
		got := zeekRecordsOf(t, pcap)
		n, s, ht, h := compareZeek(t, name, want, got)
		total += n
		stateOK += s
		histTotal += ht
		histOK += h
		t.Logf("%-48s %2d rows: conn_state %2d/%-2d history %2d/%-2d", name, n, s, n, h, ht)
	}
	t.Logf("TOTAL %d TCP rows: conn_state %d/%d (%.1f%%), history %d/%d (%.1f%%)",
		total, stateOK, total, pct(stateOK, total), histOK, histTotal, pct(histOK, histTotal))
	if stateOK != total {
		t.Errorf("conn_state agreement %d/%d, want 100%%", stateOK, total)
	}
	if pct(histOK, histTotal) < 95 {
		t.Errorf("history agreement %.1f%%, want at least 95%%", pct(histOK, histTotal))
	}
}

func pct(a, b int) float64 {
	if b == 0 {
		return 100
	}
	return 100 * float64(a) / float64(b)
}

// zeekRecordsOf runs a capture through a Table and returns every Zeek record
// of every flow, in flow order.
func zeekRecordsOf(t *testing.T, path string) []reassembly.ZeekRecord {
	t.Helper()
	flows := auditFiles(t, []string{path})
	var recs []reassembly.ZeekRecord
	for _, f := range flows {
		recs = append(recs, f.Zeek...)
	}
	slices.SortStableFunc(recs, func(a, b reassembly.ZeekRecord) int { return int(a.FirstIndex) - int(b.FirstIndex) })
	return recs
}

func tupleKey(a, b netip.AddrPort) string {
	if a.Compare(b) > 0 {
		a, b = b, a
	}
	return a.String() + " " + b.String()
}

// compareZeek matches baseline rows to our records by 4-tuple, in order.
func compareZeek(t *testing.T, name string, want []zeekRow, got []reassembly.ZeekRecord) (n, stateOK, histTotal, histOK int) {
	used := make([]bool, len(got))
	for _, w := range want {
		n++
		idx := -1
		for i, g := range got {
			if used[i] {
				continue
			}
			if !w.Orig.IsValid() || tupleKey(w.Orig, w.Resp) == tupleKey(g.Orig, g.Resp) {
				idx = i
				break
			}
		}
		hx, histExcluded := zeekHistoryExclusions[name+" "+w.History]
		if !histExcluded {
			histTotal++
		}
		if idx < 0 {
			t.Logf("  %s: no record for %v -> %v (%s %s)", name, w.Orig, w.Resp, w.ConnState, w.History)
			continue
		}
		used[idx] = true
		g := got[idx]
		if g.ConnState == w.ConnState {
			stateOK++
		}
		if histExcluded {
			t.Logf("  %s: history %q not compared (%s); ours %q", name, w.History, hx, g.History)
		} else if g.History == w.History {
			histOK++
		}
		if g.ConnState != w.ConnState || (!histExcluded && g.History != w.History) {
			t.Logf("  %s: %v -> %v: want %s %q, got %s %q (packet %d)", name, w.Orig, w.Resp,
				w.ConnState, w.History, g.ConnState, g.History, g.FirstIndex)
		}
	}
	for i, g := range got {
		if !used[i] {
			t.Logf("  %s: extra record %v -> %v %s %q (packet %d)", name, g.Orig, g.Resp, g.ConnState, g.History, g.FirstIndex)
		}
	}
	return n, stateOK, histTotal, histOK
}
