package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tcpaudit/tcpaudit/capture"
	"github.com/tcpaudit/tcpaudit/reassembly"
)

// testdata is the module's capture corpus; tests run in the package
// directory.
var testdata = filepath.Join("..", "testdata")

// testCaptures lists every capture under the module's testdata/.
func testCaptures(t *testing.T) []string {
	t.Helper()
	var paths []string
	err := filepath.WalkDir(testdata, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		for _, ext := range []string{".pcap", ".pcapng", ".gz", ".cap"} {
			if strings.HasSuffix(d.Name(), ext) {
				paths = append(paths, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no captures in testdata/")
	}
	return paths
}

// audited is one capture run through a Table.
type audited struct {
	flows      []*reassembly.Flow
	census     *reassembly.Census
	start, end time.Time
}

// auditCapture reads path into a Table with the default timers whose
// census snapshot is at at; ok is false for a capture that cannot be
// opened at all (the malformed corpus).
func auditCapture(t *testing.T, path string, at reassembly.Instant) (a audited, ok bool) {
	t.Helper()
	src, err := capture.OpenFiles([]string{path}, capture.Options{})
	if err != nil {
		return a, false
	}
	defer src.Close()
	tab := reassembly.NewTable(reassembly.DefaultConfig(), func(f *reassembly.Flow) { a.flows = append(a.flows, f) })
	tab.SetCensusAt(at)
	var seg capture.Segment
	var first, last int64
	n := 0
	for {
		err := src.Next(&seg)
		if errors.Is(err, io.EOF) || err != nil && !errors.Is(err, capture.ErrNoPacket) {
			break // a damaged tail: what was read counts
		}
		if err != nil {
			continue
		}
		if n == 0 || seg.Time < first {
			first = seg.Time
		}
		last = max(last, seg.Time)
		n++
		tab.Add(&seg)
	}
	tab.Close(last)
	slices.SortFunc(a.flows, func(x, y *reassembly.Flow) int { return int(x.ID) - int(y.ID) })
	a.census = tab.Census()
	if n > 0 {
		a.start, a.end = time.Unix(0, first).UTC(), time.Unix(0, last).UTC()
	}
	return a, true
}

// instants are the moments worth a snapshot: before the capture, and
// every state change of every flow, just before, at and just after it
// (capped, spread over the capture).
func instants(flows []*reassembly.Flow) []time.Time {
	var ts []time.Time
	for _, f := range flows {
		for _, tr := range f.Timeline {
			ts = append(ts, tr.Time.Add(-1), tr.Time, tr.Time.Add(1))
		}
		ts = append(ts, f.FirstSeen.Add(-1))
	}
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	ts = slices.Compact(ts)
	const most = 60
	if len(ts) > most {
		picked := make([]time.Time, 0, most)
		for i := range most {
			picked = append(picked, ts[i*len(ts)/most])
		}
		ts = picked
	}
	return ts
}

// The census agrees exactly with the flow-based analyses (StatesAt,
// Peaks, TimeWaitPressure) on every capture of testdata/, at the end of
// the capture and at instants around every state change.
func TestCensusMatchesFlowAnalyses(t *testing.T) {
	for _, path := range testCaptures(t) {
		name, _ := filepath.Rel(testdata, path)
		t.Run(name, func(t *testing.T) {
			a, ok := auditCapture(t, path, reassembly.Instant{})
			if !ok {
				t.Skip("not a capture the reader opens")
			}
			c := a.census
			if c == nil {
				t.Fatal("Census() = nil after Close")
			}
			if !c.At.Equal(a.end) && len(a.flows) > 0 {
				t.Errorf("census At = %v, want the end %v", c.At, a.end)
			}
			if got, want := censusStates(c), StatesAt(a.flows, c.At); !reflect.DeepEqual(got, want) {
				t.Errorf("states at the end:\ncensus %v\nflows  %v", got, want)
			}
			if got, want := censusPeaks(c), Peaks(a.flows); !reflect.DeepEqual(got, want) {
				t.Errorf("peaks:\ncensus %+v\nflows  %+v", got, want)
			}
			for _, r := range []PortRange{{}, {40000, 40003}} {
				if got, want := censusPressure(c, r), TimeWaitPressure(a.flows, r); !reflect.DeepEqual(got, want) {
					t.Errorf("TIME_WAIT pressure over %v:\ncensus %+v\nflows  %+v", r, got, want)
				}
			}
			for _, at := range instants(a.flows) {
				b, _ := auditCapture(t, path, reassembly.Instant{Time: at})
				if !b.census.At.Equal(at) {
					t.Errorf("census At = %v, want %v", b.census.At, at)
				}
				if got, want := censusStates(b.census), StatesAt(b.flows, at); !reflect.DeepEqual(got, want) {
					t.Errorf("states at %v:\ncensus %v\nflows  %v", at, got, want)
				}
			}
		})
	}
}

// A report from the census and totals, with every flow still in Data, is
// byte for byte the report computed from the flows alone, in every format
// whose content does not depend on the chart's sampling (all but HTML).
func TestCensusReportsMatchFlowReports(t *testing.T) {
	for _, path := range testCaptures(t) {
		name, _ := filepath.Rel(testdata, path)
		a, ok := auditCapture(t, path, reassembly.Instant{})
		if !ok {
			continue
		}
		plain := &Data{Inputs: []string{name}, Flows: a.flows, Config: reassembly.DefaultConfig(), Start: a.start, End: a.end}
		tot := NewTotals()
		for _, f := range a.flows {
			tot.Add(f, true)
		}
		online := *plain
		online.Census, online.Totals = a.census, tot
		for _, format := range []string{"text", "json", "md", "csv", "zeek"} {
			if got, want := render(t, format, &online), render(t, format, plain); !bytes.Equal(got, want) {
				t.Errorf("%s, %s: the report from the census differs from the one from the flows:\n%s", name, format, firstDiff(got, want))
			}
		}
		got, _ := json.Marshal(Summarize(&online))
		want, _ := json.Marshal(Summarize(plain))
		if !bytes.Equal(got, want) {
			t.Errorf("%s: summaries differ:\ncensus %s\nflows  %s", name, got, want)
		}
	}
}

// Flows left out of Data are still counted: verdict totals, groups and the
// RTT histogram come from Totals, and the text report says how many flows
// it does not list.
func TestTotalsCountOmittedFlows(t *testing.T) {
	d := fixture()
	tot := NewTotals()
	for i, f := range d.Flows {
		tot.Add(f, i%2 == 0)
	}
	kept := d.Flows[:0:0]
	for i, f := range d.Flows {
		if i%2 == 0 {
			kept = append(kept, f)
		}
	}
	part := *d
	part.Flows, part.Totals = kept, tot
	whole, half := Summarize(d), Summarize(&part)
	if half.Flows != whole.Flows || half.Abnormal != whole.Abnormal || !reflect.DeepEqual(half.Verdicts, whole.Verdicts) {
		t.Errorf("Summarize with totals = %d flows, %d abnormal, %v; want %d, %d, %v",
			half.Flows, half.Abnormal, half.Verdicts, whole.Flows, whole.Abnormal, whole.Verdicts)
	}
	if want := len(d.Flows) - len(kept); half.Omitted != want {
		t.Errorf("Omitted = %d, want %d", half.Omitted, want)
	}
	if got, want := newRTTChart(&part), newRTTChart(d); !reflect.DeepEqual(got, want) {
		t.Errorf("RTT chart from totals = %+v, want %+v", got, want)
	}
	text := string(render(t, "text", &part))
	if !strings.Contains(text, plural(half.Omitted, "more flow")+" not listed one by one") {
		t.Errorf("text report does not say how many flows it leaves out:\n%s", text)
	}
}

// firstDiff shows where two outputs part.
func firstDiff(got, want []byte) string {
	n := 0
	for n < len(got) && n < len(want) && got[n] == want[n] {
		n++
	}
	lo := max(n-200, 0)
	return "census: …" + string(got[lo:min(n+200, len(got))]) + "\nflows:  …" + string(want[lo:min(n+200, len(want))])
}
