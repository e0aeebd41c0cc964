package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/tcpaudit/tcpaudit/reassembly"
)

var update = flag.Bool("update", false, "rewrite testdata/golden-* from the current output")

// goldenExt maps each format to its golden file's extension.
var goldenExt = map[string]string{
	"text": "txt", "json": "json", "md": "md", "html": "html", "csv": "csv", "zeek": "log",
}

func render(t *testing.T, format string, d *Data) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, format, d); err != nil {
		t.Fatalf("Write(%s) = %v", format, err)
	}
	return b.Bytes()
}

// TestGolden renders the fixture in every format and compares it byte for
// byte with testdata/golden-*; go test -run Golden -update rewrites them.
func TestGolden(t *testing.T) {
	for _, format := range Formats() {
		t.Run(format, func(t *testing.T) {
			ext, ok := goldenExt[format]
			if !ok {
				t.Fatalf("format %q has no golden file extension", format)
			}
			got := render(t, format, fixture())
			path := filepath.Join("testdata", "golden-"+format+"."+ext)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run Golden -update to create it)", err)
			}
			if format == "json" {
				jsonEq(t, got, want)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s output differs from %s (go test -run Golden -update rewrites it); got:\n%s", format, path, got)
			}
		})
	}
}

// jsonEq compares two JSON documents by value, as testify's JSONEq does,
// so a semantic difference is reported before a byte difference.
func jsonEq(t *testing.T, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("golden file is not JSON: %v", err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("JSON differs from the golden file by value")
	}
}

// TestDeterministic guards the golden files' premise: the same data gives
// the same bytes, whatever Go's map iteration order does.
func TestDeterministic(t *testing.T) {
	for _, format := range Formats() {
		a, b := render(t, format, fixture()), render(t, format, fixture())
		if !bytes.Equal(a, b) {
			t.Errorf("%s output differs between two runs", format)
		}
	}
}

func TestUnknownFormat(t *testing.T) {
	err := Write(&bytes.Buffer{}, "xml", fixture())
	if err == nil {
		t.Fatal(`Write(_, "xml", _) = nil, want an error`)
	}
}

// TestJSONEmpty: no flows is "flows": [], and the document parses.
func TestJSONEmpty(t *testing.T) {
	out := render(t, "json", &Data{})
	var v struct {
		Flows   []any          `json:"flows"`
		Summary map[string]any `json:"summary"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if v.Flows == nil || len(v.Flows) != 0 || !bytes.Contains(out, []byte(`"flows": [],`)) {
		t.Errorf("flows = %v, want []", v.Flows)
	}
	for _, k := range []string{"verdicts", "hosts", "peaks", "time_wait_pressure", "warnings", "inputs"} {
		if l, ok := v.Summary[k].([]any); !ok || l == nil {
			t.Errorf("summary.%s = %v, want []", k, v.Summary[k])
		}
	}
}

// TestDegenerate: every format copes with what a broken or tiny capture
// gives: nothing at all, flows without Timeline or Ladder or times, a
// capture whose end precedes its start (timestamps that go backwards).
func TestDegenerate(t *testing.T) {
	bare := fixture().Flows[0]
	bare.Timeline, bare.FirstSeen, bare.LastSeen = nil, time.Time{}, time.Time{}
	bare.SetLadder(nil, 0)
	bare.Verdict = reassembly.VerdictUnknown
	backwards := fixture()
	backwards.Start, backwards.End = backwards.End, backwards.Start
	for name, d := range map[string]*Data{
		"empty":     {},
		"bare flow": {Flows: f2(bare)},
		"backwards": backwards,
	} {
		for _, format := range Formats() {
			if len(render(t, format, d)) == 0 {
				t.Errorf("%s: %s output is empty", name, format)
			}
		}
	}
}

// TestStream: a report written flow by flow is byte for byte the report
// written whole, for every streamable format.
func TestStream(t *testing.T) {
	d := fixture()
	for _, format := range Formats() {
		if !Streamable(format) {
			if _, err := NewStream(&bytes.Buffer{}, format, d.Start); err == nil {
				t.Errorf("NewStream(%s) = nil error, want one", format)
			}
			continue
		}
		var b bytes.Buffer
		s, err := NewStream(&b, format, d.Start)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range d.Flows {
			if err := s.Flow(f); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Finish(d); err != nil {
			t.Fatal(err)
		}
		if want := render(t, format, d); !bytes.Equal(b.Bytes(), want) {
			t.Errorf("%s: streamed output differs from Write's", format)
		}
	}
	for _, f := range []string{"json", "csv", "zeek"} {
		if !Streamable(f) {
			t.Errorf("Streamable(%s) = false", f)
		}
	}
}

// DrawsLadders must name exactly the formats whose output depends on the
// flows' ladders: the command skips recording ladders for the others
// (reassembly.Config.NoLadders), which must change nothing they write.
func TestDrawsLadders(t *testing.T) {
	for _, format := range Formats() {
		with := render(t, format, fixture())
		bare := fixture()
		for _, f := range bare.Flows {
			f.SetLadder(nil, 0)
		}
		without := render(t, format, bare)
		if drawn := !bytes.Equal(with, without); drawn != DrawsLadders(format) {
			t.Errorf("%s: output depends on ladders: %v; DrawsLadders says %v", format, drawn, DrawsLadders(format))
		}
	}
}
