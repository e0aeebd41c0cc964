package report

import (
	"bufio"
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/tcpaudit/tcpaudit/reassembly"
)

func f2(fs ...*reassembly.Flow) []*reassembly.Flow { return fs }

func TestZeekUID(t *testing.T) {
	seen := make(map[string]uint64)
	re := regexp.MustCompile(`^C[0-9A-Za-z]{17}$`)
	for id := uint64(0); id < 100000; id++ {
		u := ZeekUID(id)
		if !re.MatchString(u) {
			t.Fatalf("ZeekUID(%d) = %q, want C and 17 base62 digits", id, u)
		}
		if prev, dup := seen[u]; dup {
			t.Fatalf("ZeekUID(%d) = ZeekUID(%d) = %q", id, prev, u)
		}
		seen[u] = id
	}
	if ZeekUID(42) != ZeekUID(42) {
		t.Errorf("ZeekUID is not deterministic")
	}
}

// TestZeekLog reads the conn.log back the way zeek-cut does: the #fields
// line names the columns, every record has as many fields, and the values
// are where zeek-cut would look for them.
func TestZeekLog(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, "zeek", fixture()); err != nil {
		t.Fatal(err)
	}
	var fields []string
	var recs []map[string]string
	header := map[string]bool{}
	sc := bufio.NewScanner(&b)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			key, val, _ := strings.Cut(line, "\t")
			if key == "#separator \\x09" {
				key = "#separator"
			}
			header[key] = true
			if key == "#fields" {
				fields = strings.Split(val, "\t")
			}
			continue
		}
		vals := strings.Split(line, "\t")
		if len(vals) != len(fields) {
			t.Fatalf("record has %d fields, #fields names %d: %q", len(vals), len(fields), line)
		}
		rec := map[string]string{}
		for i, f := range fields {
			rec[f] = vals[i]
		}
		recs = append(recs, rec)
	}
	for _, h := range []string{"#separator", "#set_separator", "#empty_field", "#unset_field", "#path", "#open", "#fields", "#types", "#close"} {
		if !header[h] {
			t.Errorf("header line %s missing", h)
		}
	}
	if len(recs) != 14 {
		t.Fatalf("%d records, want 14", len(recs))
	}
	r := recs[8] // flow 9: refused, IPv6
	for k, want := range map[string]string{
		"id.orig_h": "2001:db8::10", "id.orig_p": "50002", "id.resp_h": "2001:db8::20", "id.resp_p": "22",
		"proto": "tcp", "conn_state": "REJ", "history": "Sr", "orig_pkts": "1", "resp_pkts": "1",
		"duration": "0.000300", "ts": "1773480423.000000", "uid": ZeekUID(9),
	} {
		if r[k] != want {
			t.Errorf("flow 9 %s = %q, want %q", k, r[k], want)
		}
	}
}

// A flow that Zeek sees from the other side, and one Zeek splits in two.
func TestZeekRecords(t *testing.T) {
	d := fixture()
	swapped := d.Flows[13] // #14, mid-stream: Zeek's originator is our server
	swapped.Zeek = []reassembly.ZeekRecord{{FirstIndex: swapped.FirstIndex, Orig: swapped.Server().Addr,
		Resp: swapped.Client().Addr, ConnState: "RSTRH", History: "^dAr"}}
	split := d.Flows[7] // #8, SYNs spread over 7 s: Zeek's SYN timeout splits it
	split.Zeek = []reassembly.ZeekRecord{
		{FirstIndex: split.FirstIndex, Orig: split.Client().Addr, Resp: split.Server().Addr, ConnState: "S0", History: "S"},
		{FirstIndex: split.LastIndex, Orig: split.Client().Addr, Resp: split.Server().Addr, ConnState: "S0", History: "S"},
	}
	var b bytes.Buffer
	if err := Write(&b, "zeek", &Data{Flows: f2(split, swapped), Start: d.Start, End: d.End}); err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, l := range strings.Split(b.String(), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			rows = append(rows, l)
		}
	}
	want := []string{
		"1773480422.000000\t" + ZeekUID(8) + "\t10.0.0.1\t40008\t10.0.0.5\t443\ttcp\t-\t-\t-\t-\tS0\t-\t-\t0\tS\t-\t-\t-\t-\t-\t6",
		"-\t" + zeekUID(8, 1) + "\t10.0.0.1\t40008\t10.0.0.5\t443\ttcp\t-\t-\t-\t-\tS0\t-\t-\t0\tS\t-\t-\t-\t-\t-\t6",
		"1773480430.000000\t" + ZeekUID(14) + "\t10.0.0.2\t80\t10.0.0.7\t51000\ttcp\t-\t0.500000\t1400\t0\tRSTRH\t-\t-\t0\t^dAr\t1\t1466\t2\t132\t-\t6",
	}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Errorf("records:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
	if zeekUID(8, 1) == ZeekUID(8) {
		t.Errorf("two records of one flow share a uid")
	}
}
