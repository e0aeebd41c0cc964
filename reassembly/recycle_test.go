package reassembly_test

import (
	"reflect"
	"testing"

	"github.com/tcpaudit/tcpaudit/internal/segsynth"
	"github.com/tcpaudit/tcpaudit/reassembly"
)

// TestRecycledFlowsLeaveNothingBehind runs one stream of every ending
// twice, through a Table whose caller keeps every Flow and through one
// whose caller recycles each Flow as soon as it has copied it: a later
// flow built in recycled memory must not carry anything of an earlier
// one (notes, Zeek records, a longer timeline, a reset).
func TestRecycledFlowsLeaveNothingBehind(t *testing.T) {
	segs := synthesize(segsynth.Config{Conns: 3000, Concurrency: 30, GapNanos: 5_000_000, Seed: 11, Mix: everyEnding(), Clients: 200})
	reused := 0
	run := func(recycle bool) []reassembly.Flow {
		var got []reassembly.Flow
		var r reassembly.Recycler
		seen := map[*reassembly.Flow]bool{}
		cfg := reassembly.DefaultConfig()
		cfg.NoLadders = true
		tab := reassembly.NewTable(cfg, func(f *reassembly.Flow) {
			c := *f
			c.Notes = append([]string(nil), f.Notes...)
			c.Timeline = append([]reassembly.Transition(nil), f.Timeline...)
			c.Zeek = append([]reassembly.ZeekRecord(nil), f.Zeek...)
			got = append(got, c)
			if seen[f] {
				reused++
			}
			seen[f] = true
			if recycle {
				r.Put(f)
				r.Put(f) // a second time does nothing
			}
		})
		for i := range segs {
			tab.Add(&segs[i])
		}
		tab.Close(segs[len(segs)-1].Time)
		return got
	}
	kept, recycled := run(false), run(true)
	if reused == 0 {
		t.Fatal("no Flow was built in recycled memory")
	}
	if len(kept) != len(recycled) {
		t.Fatalf("%d flows with recycling, %d without", len(recycled), len(kept))
	}
	for i := range kept {
		if !reflect.DeepEqual(flowFields(kept[i]), flowFields(recycled[i])) {
			t.Fatalf("flow %d differs once flows are recycled:\n%+v\nwant\n%+v", kept[i].ID, recycled[i], kept[i])
		}
	}
	var r reassembly.Recycler
	r.Put(&reassembly.Flow{}) // not built by a Table: ignored
	r.Put(nil)
	copied := recycled[len(recycled)-1] // a copy of an emitted Flow: ignored
	r.Put(&copied)
}

// flowFields is f without its unexported fields, which say how f was
// allocated, not what it reports.
func flowFields(f reassembly.Flow) map[string]any {
	m := map[string]any{}
	v := reflect.ValueOf(f)
	for i := range v.NumField() {
		if v.Type().Field(i).IsExported() {
			m[v.Type().Field(i).Name] = v.Field(i).Interface()
		}
	}
	return m
}
