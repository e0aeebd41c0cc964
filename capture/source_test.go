package capture

import (
	"bytes"
	"encoding/binary"
	"io"
	"strings"
	"testing"
)

// steadyPcap is a pcap of n alternating SYN and data packets.
func steadyPcap(t testing.TB, n int, start uint32) []byte {
	syn, data := fixture(t, synFrame), fixture(t, dataFrame)
	recs := make([]rec, n)
	for i := range recs {
		recs[i] = rec{sec: start + uint32(i), data: syn}
		if i%2 == 1 {
			recs[i].data = data
		}
	}
	return pcapFile(binary.LittleEndian, magicPcapMicro, LinkEthernet, 65535, recs...)
}

// memSource opens in-memory captures as a Source (no files).
func memSource(t testing.TB, opts Options, files ...[]byte) *Source {
	t.Helper()
	var rs []packetReader
	for _, f := range files {
		in, err := newInput("mem", bytes.NewReader(f))
		if err != nil {
			t.Fatal(err)
		}
		r, err := newFileReader(in)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	s := newSource(rs, opts)
	if opts.Filter != "" {
		f, err := newBPFFilter(opts.Filter)
		if err != nil {
			t.Fatal(err)
		}
		s.filter = f
	}
	return s
}

// TestSourceNextNoAllocs: on a steady stream Next allocates nothing: not
// for one file, not when merging, not with a BPF filter.
func TestSourceNextNoAllocs(t *testing.T) {
	for _, tt := range []struct {
		name  string
		opts  Options
		files int
	}{
		{"one file", Options{}, 1},
		{"merge of three", Options{}, 3},
		{"with filter", Options{Filter: "tcp port 80"}, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var files [][]byte
			for i := range tt.files {
				files = append(files, steadyPcap(t, 3000, base+uint32(i)))
			}
			s := memSource(t, tt.opts, files...)
			var seg Segment
			for range 100 { // warm up: buffers grow to the largest packet
				if err := s.Next(&seg); err != nil {
					t.Fatal(err)
				}
			}
			if n := testing.AllocsPerRun(2000, func() {
				if err := s.Next(&seg); err != nil {
					t.Fatal(err)
				}
				s.Raw()
			}); n != 0 {
				t.Errorf("Next allocates %.2f times per packet", n)
			}
		})
	}
}

// TestStatsAddUp: every packet is counted once, and the counters match
// what Next delivered.
func TestStatsAddUp(t *testing.T) {
	syn := fixture(t, synFrame)
	udp := append([]byte(nil), syn...)
	udp[14+9] = 17
	bad := append([]byte(nil), syn...)
	bad[14] = 0x43
	f := pcapFile(binary.LittleEndian, magicPcapMicro, LinkEthernet, 0,
		rec{sec: base, data: syn}, rec{sec: base, data: udp}, rec{sec: base, data: bad}, rec{sec: base, data: syn[:10]}, rec{sec: base, data: syn})
	s := memSource(t, Options{}, f)
	segs, err := readAll(t, s)
	if err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.Packets != 5 || st.TCP != 2 || st.NonTCP != 1 || st.Undecodable != 2 || len(segs) != 2 || segs[1].Index != 5 {
		t.Errorf("stats %+v, %d segments", st, len(segs))
	}
	if s.Problems()[ProblemIPv4HeaderLength] != 1 || s.Problems()[ProblemLinkTruncated] != 1 || st.Bytes != uint64(4*len(syn)+10) {
		t.Errorf("problems %v, bytes %d", s.Problems(), st.Bytes)
	}
}

var sinkErr error

// BenchmarkSourceNext reads a pcap of 100k packets from memory: file
// parsing, merging, decoding, and counting, everything but the disk.
func BenchmarkSourceNext(b *testing.B) {
	file := steadyPcap(b, 100000, base)
	s := memSource(b, Options{}, file)
	var seg Segment
	b.ReportAllocs()
	b.SetBytes(int64(len(file) / 100000))
	for b.Loop() {
		if sinkErr = s.Next(&seg); sinkErr == io.EOF {
			b.StopTimer()
			s = memSource(b, Options{}, file)
			b.StartTimer()
		}
	}
}

// TestStatsNoAllocs: Stats is cheap enough to call per packet (the
// command checks -c COUNT that way).
func TestStatsNoAllocs(t *testing.T) {
	s := memSource(t, Options{}, steadyPcap(t, 10, base))
	var seg Segment
	s.Next(&seg)
	if n := testing.AllocsPerRun(100, func() { sinkStats = s.Stats() }); n != 0 {
		t.Errorf("Stats allocates %.1f times", n)
	}
}

var sinkStats Stats

// TestBackwardsTimestamps: packets stamped earlier than their predecessor
// stay in file order and are counted in a warning.
func TestBackwardsTimestamps(t *testing.T) {
	syn := fixture(t, synFrame)
	f := pcapFile(binary.LittleEndian, magicPcapMicro, LinkEthernet, 0,
		rec{sec: base + 10, data: syn}, rec{sec: base + 5, data: syn}, rec{sec: base + 20, data: syn}, rec{sec: base + 1, data: syn})
	src, err := openBytes(t, "back.pcap", f, Options{})
	if err != nil {
		t.Fatal(err)
	}
	segs, err := readAll(t, src)
	if err != nil || len(segs) != 4 || segs[1].Time != (base+5)*1e9 || segs[3].Index != 4 {
		t.Fatalf("segments %v, err %v", segs, err)
	}
	if w := strings.Join(src.Warnings(), "\n"); !strings.Contains(w, "back.pcap: 2 packets are time-stamped earlier than the packet before them") {
		t.Errorf("warnings %q", w)
	}
}

// TestProgressConcurrent: a progress display may poll Progress from another
// goroutine while Next runs (go test -race checks the claim).
func TestProgressConcurrent(t *testing.T) {
	path := writeTemp(t, "p.pcap", steadyPcap(t, 20000, base))
	src, err := OpenFiles([]string{path}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		var last int64
		for {
			select {
			case <-stop:
				return
			default:
			}
			d, total := src.Progress()
			if d < last || total == 0 || d > total {
				t.Errorf("progress went from %d to %d of %d", last, d, total)
				return
			}
			last = d
		}
	}()
	_, err = readAll(t, src)
	close(stop)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if d, total := src.Progress(); d != total {
		t.Errorf("at the end: %d of %d", d, total)
	}
}
