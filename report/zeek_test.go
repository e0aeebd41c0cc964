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
