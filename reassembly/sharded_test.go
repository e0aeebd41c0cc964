package reassembly_test

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tcpaudit/tcpaudit/capture"
	"github.com/tcpaudit/tcpaudit/internal/segsynth"
	"github.com/tcpaudit/tcpaudit/reassembly"
)

// adder is what Table and Sharded have in common.
type adder interface {
	Add(*capture.Segment)
	Close(endNanos int64)
	Stats() reassembly.TableStats
}

// run feeds segs to a table made by mk and returns the flows it emitted,
// in the order it emitted them, and its final counters.
func run(segs []capture.Segment, mk func(emit func(*reassembly.Flow)) adder) ([]*reassembly.Flow, reassembly.TableStats) {
	var flows []*reassembly.Flow
	t := mk(func(f *reassembly.Flow) { flows = append(flows, f) })
	var end int64
	for i := range segs {
		t.Add(&segs[i])
		end = max(end, segs[i].Time)
	}
	t.Close(end)
	return flows, t.Stats()
}

// sameAsTable checks that Sharded with each shard count emits exactly the
// flows Table emits for segs, field by field (IDs included), in the same
// order, and the same counters.
func sameAsTable(t *testing.T, name string, cfg reassembly.Config, segs []capture.Segment) {
	t.Helper()
	want, wantStats := run(segs, func(emit func(*reassembly.Flow)) adder { return reassembly.NewTable(cfg, emit) })
	byFirst := slices.Clone(want)
	slices.SortFunc(byFirst, func(a, b *reassembly.Flow) int { return cmp.Compare(a.FirstIndex, b.FirstIndex) })
	for i, f := range byFirst {
		if f.ID != uint64(i+1) {
			t.Fatalf("%s: Table's flow with first packet %d has ID %d, want %d (IDs count flows by first packet)",
				name, f.FirstIndex, f.ID, i+1)
		}
	}
	for _, n := range []int{2, 3, 8} {
		got, gotStats := run(segs, func(emit func(*reassembly.Flow)) adder { return reassembly.NewSharded(cfg, n, emit) })
		if len(got) != len(want) {
			t.Fatalf("%s, %d shards: %d flows, Table made %d", name, n, len(got), len(want))
		}
		for i := range want {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Fatalf("%s, %d shards: flow %d differs from Table's\n got: %+v\nwant: %+v", name, n, i, *got[i], *want[i])
			}
		}
		if gotStats != wantStats {
			t.Fatalf("%s, %d shards: Stats() = %+v, want %+v", name, n, gotStats, wantStats)
		}
	}
}

func synthesize(cfg segsynth.Config) []capture.Segment {
	var segs []capture.Segment
	s := segsynth.New(cfg)
	var seg capture.Segment
	for s.Next(&seg) {
		segs = append(segs, seg)
	}
	return segs
}

func everyEnding() []int { return []int{4, 2, 1, 1, 1, 1, 1, 2} }

// syntheticCase is a synthetic stream Sharded must treat as Table does.
type syntheticCase struct {
	name  string
	cfg   reassembly.Config
	synth segsynth.Config
	// backEvery moves every backEvery-th segment back in time.
	backEvery int
}

// syntheticCases cover every ending, 4-tuples reused during and after
// TIME_WAIT, idle timeouts, timestamps going backwards and chaos.
func syntheticCases() []syntheticCase {
	idle := reassembly.DefaultConfig()
	idle.IdleTimeout = 2 * time.Second
	short := reassembly.DefaultConfig()
	short.TimeWait = 500 * time.Millisecond
	return []syntheticCase{
		{"every ending", reassembly.DefaultConfig(),
			segsynth.Config{Conns: 3000, Concurrency: 200, GapNanos: 50_000, Seed: 1, Mix: everyEnding()}, 0},
		// Few client endpoints: 4-tuples are reused while the old flow is
		// in TIME_WAIT or after it expired.
		{"tuple reuse", short,
			segsynth.Config{Conns: 3000, Concurrency: 50, GapNanos: 200_000, Seed: 2, Mix: everyEnding(), Clients: 40}, 0},
		{"idle timeout", idle,
			segsynth.Config{Conns: 2000, Concurrency: 400, GapNanos: 2_000_000, Seed: 3, Mix: everyEnding(), Clients: 300}, 0},
		{"backwards time", reassembly.DefaultConfig(),
			segsynth.Config{Conns: 2000, Concurrency: 100, GapNanos: 100_000, Seed: 4, Mix: everyEnding(), Clients: 500}, 37},
		{"chaos", short,
			segsynth.Config{Conns: 2000, Concurrency: 30, GapNanos: 300_000, Seed: 5, Mix: []int{segsynth.Chaos: 1}, Clients: 60}, 11},
		// Every flow is still in the table at Close (within a TIME_WAIT
		// of the end), more than a chunk of them in each of 8 shards: Close
		// hands them out while the shards are still sending them.
		{"open at the end", reassembly.DefaultConfig(),
			segsynth.Config{Conns: 12000, Concurrency: 2000, GapNanos: 1000, Seed: 10, Mix: everyEnding()}, 0},
	}
}

// segments synthesizes the case's stream.
func (tc syntheticCase) segments() []capture.Segment {
	segs := synthesize(tc.synth)
	if tc.backEvery > 0 {
		for i := tc.backEvery; i < len(segs); i += tc.backEvery {
			segs[i].Time -= int64(3 * time.Second)
		}
	}
	return segs
}

func TestShardedMatchesTableOnSynthetic(t *testing.T) {
	for _, tc := range syntheticCases() {
		sameAsTable(t, tc.name, tc.cfg, tc.segments())
	}
}

// moduleRoot is the directory holding go.mod.
func moduleRoot(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		if filepath.Dir(dir) == dir {
			t.Fatal("go.mod not found")
		}
		dir = filepath.Dir(dir)
	}
}

// readSegments reads every TCP segment of a capture, up to any damage.
func readSegments(t *testing.T, path string) []capture.Segment {
	src, err := capture.OpenFiles([]string{path}, capture.Options{})
	if err != nil {
		t.Logf("%s: %v (skipped)", path, err)
		return nil
	}
	defer src.Close()
	var segs []capture.Segment
	for {
		var seg capture.Segment
		err := src.Next(&seg)
		if errors.Is(err, io.EOF) {
			return segs
		}
		var fe *capture.FormatError
		if errors.As(err, &fe) {
			return segs // the table sees what the reader delivered
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		segs = append(segs, seg)
	}
}

func captures(t *testing.T, dir string) []string {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if n := d.Name(); strings.HasSuffix(n, ".pcap") || strings.HasSuffix(n, ".pcapng") || strings.HasSuffix(n, ".gz") ||
			strings.HasSuffix(n, ".cap") || strings.HasSuffix(n, ".trace") {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return paths
}

// Every capture of testdata/ (scenarios, encapsulations, damaged files)
// gives the same flows sharded as unsharded.
func TestShardedMatchesTableOnTestdata(t *testing.T) {
	paths := captures(t, filepath.Join(moduleRoot(t), "testdata"))
	if len(paths) == 0 {
		t.Fatal("no captures in testdata/")
	}
	flows := 0
	for _, p := range paths {
		segs := readSegments(t, p)
		sameAsTable(t, p, reassembly.DefaultConfig(), segs)
		flows += len(segs)
	}
	t.Logf("%d captures, %d segments", len(paths), flows)
}

// The peer corpus (Zeek, tcpdump, Suricata traces: real stacks, odd
// captures) gives the same flows sharded as unsharded.
func TestShardedMatchesTableOnPeerCorpus(t *testing.T) {
	dir := filepath.Join(moduleRoot(t), "..", "shared", "peers")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("peer corpus not present at %s", dir)
	}
	if testing.Short() {
		t.Skip("peer corpus skipped in -short mode")
	}
	paths := captures(t, dir)
	for _, p := range paths {
		sameAsTable(t, p, reassembly.DefaultConfig(), readSegments(t, p))
	}
	t.Logf("%d captures", len(paths))
}

// With a MaxFlows cap the oldest flow of the whole table is evicted, which
// no shard can know: Sharded must then behave exactly as Table.
func TestShardedMaxFlowsEvictsAsTable(t *testing.T) {
	cfg := reassembly.DefaultConfig()
	cfg.MaxFlows = 100
	segs := synthesize(segsynth.Config{Conns: 2000, Concurrency: 300, GapNanos: 10_000, Seed: 6, Mix: everyEnding()})
	want, wantStats := run(segs, func(emit func(*reassembly.Flow)) adder { return reassembly.NewTable(cfg, emit) })
	got, gotStats := run(segs, func(emit func(*reassembly.Flow)) adder { return reassembly.NewSharded(cfg, 4, emit) })
	if wantStats.Evicted == 0 {
		t.Fatal("the cap evicted nothing: the test does not test eviction")
	}
	if !reflect.DeepEqual(got, want) || gotStats != wantStats {
		t.Fatalf("with MaxFlows, Sharded differs from Table (stats %+v, want %+v)", gotStats, wantStats)
	}
}

// States, Sync and Stats may be called mid-capture (the live view does);
// they see every segment added so far, as Table's do.
func TestShardedMidCaptureQueries(t *testing.T) {
	segs := synthesize(segsynth.Config{Conns: 1500, Concurrency: 200, GapNanos: 1_000_000, Seed: 7, Mix: everyEnding()})
	cfg := reassembly.DefaultConfig()
	cfg.TimeWait = time.Second
	var tableFlows, shardFlows int
	table := reassembly.NewTable(cfg, func(*reassembly.Flow) { tableFlows++ })
	sharded := reassembly.NewSharded(cfg, 3, func(*reassembly.Flow) { shardFlows++ })
	states := func(q func(func(netip.AddrPort, reassembly.State))) []string {
		var out []string
		q(func(a netip.AddrPort, s reassembly.State) { out = append(out, fmt.Sprint(a, " ", s)) })
		slices.Sort(out)
		return out
	}
	for i := range segs {
		table.Add(&segs[i])
		sharded.Add(&segs[i])
		if i%1000 != 999 {
			continue
		}
		if got, want := states(sharded.States), states(table.States); !slices.Equal(got, want) {
			t.Fatalf("after %d segments: States differ (%d vs %d endpoints)", i+1, len(got), len(want))
		}
		sharded.Sync()
		if shardFlows != tableFlows {
			t.Fatalf("after %d segments and Sync: %d flows emitted, Table emitted %d", i+1, shardFlows, tableFlows)
		}
		if got, want := sharded.Stats(), table.Stats(); got != want {
			t.Fatalf("after %d segments: Stats() = %+v, want %+v", i+1, got, want)
		}
	}
}

// Both directions of a flow must land on the same shard.
func TestShardOfIsSymmetric(t *testing.T) {
	s := segsynth.New(segsynth.Config{Conns: 5000, Concurrency: 100, GapNanos: 1, Seed: 8, Mix: everyEnding()})
	var seg capture.Segment
	counts := make([]int, 5)
	for s.Next(&seg) {
		a, b := reassembly.ShardOf(seg.Src, seg.Dst, len(counts)), reassembly.ShardOf(seg.Dst, seg.Src, len(counts))
		if a != b {
			t.Fatalf("%v > %v goes to shard %d, the reverse to %d", seg.Src, seg.Dst, a, b)
		}
		counts[a]++
	}
	// The hash spreads flows: no shard is starved.
	for i, c := range counts {
		if c == 0 {
			t.Fatalf("shard %d got no segments: %v", i, counts)
		}
	}
}

// FuzzShardedMatchesTable feeds FuzzTable's segment streams (four
// 4-tuples; any flags, sequence numbers and time steps, backwards ones
// included) to a Table and to Sharded tables of 2 shards (the caller's
// goroutine running one, inlineShare) and 3: they must emit the same
// flows, field by field, in the same order, with the same counters,
// whatever the flows' ends (idle timeouts, lingering, replacement by a new
// SYN, Close).
func FuzzShardedMatchesTable(f *testing.F) {
	// A few streams: zeros (SYNs on one tuple), counting bytes, and a
	// long run of mixed records with 1-second steps.
	f.Add(make([]byte, 64))
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	f.Add(b)
	mixed := make([]byte, 8*200)
	for i := 0; i < len(mixed); i += 8 {
		mixed[i], mixed[i+1], mixed[i+6] = byte(i/8%8), byte(0x02|0x10*byte(i/16%2)|0x01*byte(i/8%7/6)), 100
	}
	f.Add(mixed)
	f.Fuzz(func(t *testing.T, data []byte) {
		segs := reassembly.SegmentsOfFuzzInput(data)
		if len(segs) == 0 {
			return
		}
		cfg := reassembly.DefaultConfig()
		cfg.IdleTimeout = 90 * time.Second
		want, wantStats := run(segs, func(emit func(*reassembly.Flow)) adder { return reassembly.NewTable(cfg, emit) })
		for _, n := range []int{2, 3} {
			got, gotStats := run(segs, func(emit func(*reassembly.Flow)) adder { return reassembly.NewSharded(cfg, n, emit) })
			if len(got) != len(want) {
				t.Fatalf("%d shards: %d flows, Table made %d", n, len(got), len(want))
			}
			for i := range want {
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Fatalf("%d shards: flow %d differs from Table's\n got: %+v\nwant: %+v", n, i, *got[i], *want[i])
				}
			}
			if gotStats != wantStats {
				t.Fatalf("%d shards: Stats() = %+v, want %+v", n, gotStats, wantStats)
			}
		}
	})
}

// Close emits the flows it ends by first packet, whatever slots they took
// (slots are reused in no particular order), and with capture indexes past
// 32 bits too, which Close sorts another way (Table.byFirstPacket).
func TestCloseEmitsByFirstPacket(t *testing.T) {
	for _, offset := range []uint64{0, 1 << 33} {
		cfg := reassembly.DefaultConfig()
		var emitted []*reassembly.Flow
		tab := reassembly.NewTable(cfg, func(f *reassembly.Flow) { emitted = append(emitted, f) })
		s := segsynth.New(segsynth.Config{Conns: 3000, Concurrency: 300, GapNanos: 1_000_000, Seed: 7, Mix: everyEnding()})
		var seg capture.Segment
		for s.Next(&seg) {
			seg.Index += offset
			tab.Add(&seg)
		}
		before := len(emitted)
		open := tab.Stats().Active
		tab.Close(seg.Time)
		closed := emitted[before:]
		if len(closed) != open || open < 1000 {
			t.Fatalf("offset %d: Close emitted %d flows of %d open, want all, and a thousand or more", offset, len(closed), open)
		}
		for i := 1; i < len(closed); i++ {
			if closed[i].FirstIndex <= closed[i-1].FirstIndex {
				t.Fatalf("offset %d: Close emitted first packet %d after %d", offset, closed[i].FirstIndex, closed[i-1].FirstIndex)
			}
		}
		if st := tab.Stats(); st.Active != 0 || st.Emitted != st.Total {
			t.Errorf("offset %d: after Close %d flows tracked, %d of %d emitted", offset, st.Active, st.Emitted, st.Total)
		}
	}
}
