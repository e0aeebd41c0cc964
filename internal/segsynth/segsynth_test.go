package segsynth

import (
	"io"
	"os"
	"path/filepath"

	"testing"

	"github.com/tcpaudit/tcpaudit/capture"
)

func all() []int {
	mix := make([]int, numEndings)
	for i := range mix {
		mix[i] = 1
	}
	return mix
}

func TestDeterministic(t *testing.T) {
	cfg := Config{Conns: 500, Concurrency: 40, GapNanos: 1000, Seed: 7, Mix: all(), Clients: 100}
	a, b := New(cfg), New(cfg)
	var x, y capture.Segment
	n := 0
	for a.Next(&x) {
		if !b.Next(&y) {
			t.Fatalf("second stream ended early at segment %d", n)
		}
		if x != y {
			t.Fatalf("segment %d differs: %+v vs %+v", n, x, y)
		}
		n++
	}
	if b.Next(&y) {
		t.Fatalf("second stream is longer than the first (%d segments)", n)
	}
}

// The stream starts exactly Conns connections, numbers segments from 1 and
// keeps time moving forward.
func TestConnsAndOrder(t *testing.T) {
	const conns = 1000
	s := New(Config{Conns: conns, Concurrency: 50, GapNanos: 10, Seed: 1, Mix: all(), StartNanos: 5})
	var seg capture.Segment
	var last int64
	var index uint64
	for s.Next(&seg) {
		if seg.Time <= last || seg.Index != index+1 {
			t.Fatalf("segment %d: time %d after %d, index %d after %d", index+1, seg.Time, last, seg.Index, index)
		}
		last, index = seg.Time, seg.Index
		if seg.Src == seg.Dst || !seg.Src.IsValid() || !seg.Dst.IsValid() {
			t.Fatalf("segment %d: bad endpoints %v > %v", index, seg.Src, seg.Dst)
		}
	}
	if s.Started() != conns {
		t.Fatalf("Started() = %d, want %d", s.Started(), conns)
	}
}

func TestNextDoesNotAllocate(t *testing.T) {
	s := New(Config{Conns: 1 << 30, Concurrency: 100, GapNanos: 10, Seed: 1, Mix: all()})
	var seg capture.Segment
	if n := testing.AllocsPerRun(10000, func() { s.Next(&seg) }); n != 0 {
		t.Fatalf("Next allocates %v times per segment, want 0", n)
	}
}

// Every synthesized segment survives AppendFrame and capture's decoder
// unchanged, so pcaps written by WritePcap carry exactly the stream.
func TestAppendFrameDecodes(t *testing.T) {
	s := New(Config{Conns: 300, Concurrency: 30, GapNanos: 1000, Seed: 3, Mix: all(), StartNanos: 1e18})
	var d capture.Decoder
	var seg, got capture.Segment
	var buf []byte
	for s.Next(&seg) {
		if seg.Index%3 == 0 {
			seg.HasTS, seg.TSVal, seg.TSEcr = true, uint32(seg.Index), uint32(seg.Index/2)
		}
		buf = AppendFrame(buf[:0], &seg)
		wire := len(buf) + int(seg.PayloadLen) - min(int(seg.PayloadLen), maxPayload)
		if k := d.Decode(capture.LinkEthernet, seg.Time, buf, wire, &got); k != capture.KindTCP {
			t.Fatalf("segment %d: Decode = %v (%v), want tcp", seg.Index, k, d.Problem())
		}
		want := seg
		want.WireLen = uint32(wire)
		got.Index = seg.Index // the Source numbers packets, not the Decoder
		if got != want {
			t.Fatalf("segment %d: decoded\n%+v\nwant\n%+v", seg.Index, got, want)
		}
	}
}

func TestWritePcapReads(t *testing.T) {
	cfg := Config{Conns: 200, Concurrency: 20, GapNanos: 1000, Seed: 4, Mix: all(), StartNanos: 1.7e18}
	path := filepath.Join(t.TempDir(), "synth.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := WritePcap(f, New(cfg))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	src, err := capture.OpenFiles([]string{path}, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	want := New(cfg)
	var got, seg capture.Segment
	read := 0
	for {
		err := src.Next(&got)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("packet %d: %v", read+1, err)
		}
		read++
		want.Next(&seg)
		if got.Index != seg.Index || got.Time != seg.Time || got.Src != seg.Src || got.Seq != seg.Seq || got.Flags != seg.Flags {
			t.Fatalf("packet %d: read %+v, wrote %+v", read, got, seg)
		}
	}
	if read != n {
		t.Fatalf("read %d packets, wrote %d", read, n)
	}
}
