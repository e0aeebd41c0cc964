package reassembly_test

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/tcpaudit/tcpaudit/capture"
	"github.com/tcpaudit/tcpaudit/reassembly"
)

// Config.NoLadders leaves every Flow's ladder empty and changes nothing
// else, on every capture of testdata/.
func TestNoLaddersChangesNothingElse(t *testing.T) {
	run := func(cfg reassembly.Config, segs []capture.Segment) []*reassembly.Flow {
		var flows []*reassembly.Flow
		tab := reassembly.NewTable(cfg, func(f *reassembly.Flow) { flows = append(flows, f) })
		var end int64
		for i := range segs {
			tab.Add(&segs[i])
			end = max(end, segs[i].Time)
		}
		tab.Close(end)
		return flows
	}
	bare := reassembly.DefaultConfig()
	bare.NoLadders = true
	for _, p := range captures(t, filepath.Join(moduleRoot(t), "testdata")) {
		segs := readSegments(t, p)
		want, got := run(reassembly.DefaultConfig(), segs), run(bare, segs)
		if len(got) != len(want) {
			t.Fatalf("%s: %d flows without ladders, %d with", p, len(got), len(want))
		}
		for i, f := range got {
			if len(f.Ladder()) != 0 || f.LadderOmitted != 0 {
				t.Errorf("%s: flow %d has a ladder of %d steps with NoLadders", p, f.ID, len(f.Ladder()))
			}
			want[i].SetLadder(nil, 0)
			if !reflect.DeepEqual(f, want[i]) {
				t.Errorf("%s: flow %d differs without ladders:\n got %+v\nwant %+v", p, f.ID, f, want[i])
			}
		}
	}
}
