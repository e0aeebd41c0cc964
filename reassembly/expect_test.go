package reassembly_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tcpaudit/tcpaudit/capture"
	"github.com/tcpaudit/tcpaudit/reassembly"
)

// expectFlow is one flow of testdata/expect.json, written by cmd/tcpgen
// from what it generated (the kernels' behaviour it scripted), independently
// of this package.
type expectFlow struct {
	File         string   `json:"file"`
	Inputs       []string `json:"inputs"`
	Client       string   `json:"client"`
	Server       string   `json:"server"`
	Verdict      string   `json:"verdict"`
	ClientState  string   `json:"client_state"`
	ServerState  string   `json:"server_state"`
	ActiveCloser string   `json:"active_closer"`
	ResetBy      string   `json:"reset_by"`
	ConnState    string   `json:"conn_state"`
	History      string   `json:"history"`
	Why          string   `json:"why"`
	Note         string   `json:"note"`
}

// auditFiles runs captures through a Table and returns the flows by ID.
func auditFiles(t *testing.T, paths []string) []*reassembly.Flow {
	t.Helper()
	flows, err := audit(t, paths)
	if err != nil {
		t.Fatal(err)
	}
	return flows
}

// audit is auditFiles returning the error of opening the captures.
func audit(t *testing.T, paths []string) ([]*reassembly.Flow, error) {
	t.Helper()
	src, err := capture.OpenFiles(paths, capture.Options{})
	if err != nil {
		return nil, fmt.Errorf("open %v: %w", paths, err)
	}
	var flows []*reassembly.Flow
	tab := reassembly.NewTable(reassembly.DefaultConfig(), func(f *reassembly.Flow) { flows = append(flows, f) })
	var seg capture.Segment
	var last int64
	for {
		err := src.Next(&seg)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// A damaged tail: what was read before it still counts.
			t.Logf("read %v: %v", paths, err)
			break
		}
		tab.Add(&seg)
		last = max(last, seg.Time)
	}
	tab.Close(last)
	slices.SortFunc(flows, func(a, b *reassembly.Flow) int { return int(a.ID) - int(b.ID) })
	return flows, nil
}

// TestGeneratedCaptures checks every flow of the generated test captures
// against what the generator says the hosts did.
func TestGeneratedCaptures(t *testing.T) {
	var doc struct {
		Flows []expectFlow `json:"flows"`
	}
	readJSON(t, filepath.Join("..", "testdata", "expect.json"), &doc)
	checkExpectations(t, filepath.Join("..", "testdata"), doc.Flows)
}

// TestRealLinuxCaptures checks real Linux TCP recorded between network
// namespaces against the kernels' own states (ss -tan when the capture
// ended), as testdata/real/README.md describes.
func TestRealLinuxCaptures(t *testing.T) {
	var rows []expectFlow
	readJSON(t, filepath.Join("..", "testdata", "real", "expect.json"), &rows)
	checkExpectations(t, filepath.Join("..", "testdata", "real"), rows)
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("%s not there: %v", path, err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// checkExpectations audits each capture named in rows and compares every
// flow, matched by client and server in order, with its row.
func checkExpectations(t *testing.T, dir string, rows []expectFlow) {
	byInput := map[string][]expectFlow{}
	var order []string
	for _, e := range rows {
		if len(e.Inputs) == 0 {
			e.Inputs = []string{e.File}
		}
		if _, ok := byInput[e.File]; !ok {
			order = append(order, e.File)
		}
		byInput[e.File] = append(byInput[e.File], e)
	}
	bad := 0
	for _, k := range order {
		want := byInput[k]
		var paths []string
		for _, in := range want[0].Inputs {
			paths = append(paths, filepath.Join(dir, in))
		}
		got := auditFiles(t, paths)
		used := make([]bool, len(got))
		for _, w := range want {
			idx := -1
			for i, g := range got {
				if !used[i] && g.Client().Addr.String() == w.Client && g.Server().Addr.String() == w.Server {
					idx = i
					break
				}
			}
			if idx < 0 {
				bad++
				t.Errorf("%s: no flow %s -> %s (%s: %s)", k, w.Client, w.Server, w.Verdict, w.Why)
				continue
			}
			used[idx] = true
			g := got[idx]
			type pair struct{ name, got, want string }
			for _, p := range []pair{
				{"verdict", g.Verdict.String(), w.Verdict},
				{"client_state", g.Client().State.String(), w.ClientState},
				{"server_state", g.Server().State.String(), w.ServerState},
				{"active_closer", g.ActiveCloser.String(), w.ActiveCloser},
				{"reset_by", g.ResetBy.String(), w.ResetBy},
				{"conn_state", g.ConnState, w.ConnState},
				{"history", g.History, w.History},
			} {
				if p.want != "" && p.got != p.want {
					bad++
					t.Errorf("%s %s->%s: %s = %q, want %q (%s%s); reason %q", k, w.Client, w.Server, p.name, p.got, p.want, w.Why, w.Note, g.Reason)
				}
			}
		}
		for i, g := range got {
			if !used[i] {
				t.Errorf("%s: extra flow %v -> %v %s (%s)", k, g.Client().Addr, g.Server().Addr, g.Verdict, g.Reason)
			}
		}
	}
	t.Logf("%d expected flows in %d captures, %d disagreements", len(rows), len(order), bad)
}
