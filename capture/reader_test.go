package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// base is 2026-01-01T00:00:00Z, the time of the test packets.
const base = 1767225600

// openBytes opens an in-memory capture as a one-input Source.
func openBytes(t testing.TB, name string, b []byte, opts Options) (*Source, error) {
	t.Helper()
	return OpenFiles([]string{writeTemp(t, name, b)}, opts)
}

func TestPcapByteOrdersAndResolutions(t *testing.T) {
	syn, data := fixture(t, synFrame), fixture(t, dataFrame)
	for _, tt := range []struct {
		name  string
		order order
		magic uint32
		frac  uint32 // the sub-second field of the second packet
		want  int64  // its time in ns after base
	}{
		{"little-endian µs", binary.LittleEndian, magicPcapMicro, 250000, 250000000},
		{"big-endian µs", binary.BigEndian, magicPcapMicro, 250000, 250000000},
		{"little-endian ns", binary.LittleEndian, magicPcapNano, 123456789, 123456789},
		{"big-endian ns", binary.BigEndian, magicPcapNano, 123456789, 123456789},
		{"Kuznetzov modified", binary.LittleEndian, magicPcapModified, 250000, 250000000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			file := pcapFile(tt.order, tt.magic, LinkEthernet, 65535,
				rec{sec: base, data: syn}, rec{sec: base + 1, frac: tt.frac, data: data[:54], wire: 154})
			src, err := openBytes(t, "x.pcap", file, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			segs, err := readAll(t, src)
			if err != nil || len(segs) != 2 {
				t.Fatalf("read %d segments, err %v", len(segs), err)
			}
			if segs[0].Time != base*1e9 || segs[1].Time != (base+1)*1e9+tt.want {
				t.Errorf("times %d, %d", segs[0].Time, segs[1].Time)
			}
			if segs[1].PayloadLen != 100 || segs[1].WireLen != 154 || segs[1].Index != 2 {
				t.Errorf("second segment %+v", segs[1])
			}
		})
	}
}

// TestPcapngSections reads a file of two sections of opposite byte order,
// with interfaces of different link types and timestamp resolutions, and
// every kind of packet block, plus blocks that must be skipped.
func TestPcapngSections(t *testing.T) {
	syn := fixture(t, synFrame)
	raw := syn[14:] // the same packet as raw IPv4
	null := append([]byte{2, 0, 0, 0}, raw...)
	le, be := binary.LittleEndian, binary.BigEndian
	f := (&ngFile{}).shb(le).
		idb(LinkEthernet, 65535, 9).               // ns
		idb(LinkRaw, 0, -1).                       // default µs
		block(4, []byte{0, 0, 0, 0}).              // Name Resolution Block: skipped
		epb(0, uint64(base)*1e9+5, syn, len(syn)). // #1
		epb(1, uint64(base)*1e6+7, raw, len(raw)). // #2
		block(0x0bad, []byte{1, 2, 3, 4, 5}).      // custom block: skipped
		shb(be).                                   // a new section resets interfaces
		idb(LinkNull, 65535, 0x80|20,              // 2^-20 s
									ngOption(be, optTSOffset, be.AppendUint64(nil, 10))). // +10 s
		epb(0, uint64(base)<<20|1<<19, null, len(null)). // #3: base + 0.5 s + 10 s
		pb(0, uint64(base+1)<<20, null).                 // #4: obsolete block
		spb(null).                                       // #5: no timestamp: the previous one
		block(5, make([]byte, 8)).                       // Interface Statistics Block
		bytes()
	src, err := openBytes(t, "x.pcapng", f, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	segs, err := readAll(t, src)
	if err != nil || len(segs) != 5 {
		t.Fatalf("read %d segments, err %v", len(segs), err)
	}
	want := []int64{base*1e9 + 5, base*1e9 + 7000, (base+10)*1e9 + 5e8, (base + 11) * 1e9, (base + 11) * 1e9}
	for i, s := range segs {
		if s.Time != want[i] || s.Src.Port() != 40000 {
			t.Errorf("segment %d: time %d (want %d), %v", i+1, s.Time, want[i], s.Src)
		}
	}
	if src.LinkTypes()[LinkEthernet] != 1 || src.LinkTypes()[LinkRaw] != 1 || src.LinkTypes()[LinkNull] != 3 {
		t.Errorf("link types %v", src.LinkTypes())
	}
}

// TestPcapngUnsupportedSection: a later section of an unknown version is
// skipped with a warning, and the next section is read.
func TestPcapngUnsupportedSection(t *testing.T) {
	syn := fixture(t, synFrame)
	le := binary.LittleEndian
	f := (&ngFile{}).shb(le).idb(LinkEthernet, 0, -1).epb(0, 1, syn, len(syn)).bytes()
	bad := (&ngFile{}).shb(le).idb(LinkEthernet, 0, -1).epb(0, 2, syn, len(syn)).bytes()
	bad[12] = 2 // major version 2
	f = append(f, bad...)
	f = append(f, (&ngFile{}).shb(le).idb(LinkEthernet, 0, -1).epb(0, 3, syn, len(syn)).bytes()...)
	src, err := openBytes(t, "x.pcapng", f, Options{})
	if err != nil {
		t.Fatal(err)
	}
	segs, err := readAll(t, src)
	if err != nil || len(segs) != 2 || segs[1].Time != 3000 {
		t.Fatalf("segments %v, err %v", segs, err)
	}
	if w := src.Warnings(); len(w) != 1 || !strings.Contains(w[0], "skipped 1 pcapng sections") {
		t.Errorf("warnings %q", w)
	}
}

func TestGzipAndProgress(t *testing.T) {
	syn := fixture(t, synFrame)
	var recs []rec
	for i := range 1000 {
		recs = append(recs, rec{sec: base + uint32(i), data: syn})
	}
	plain := pcapFile(binary.LittleEndian, magicPcapMicro, LinkEthernet, 65535, recs...)
	ng := (&ngFile{}).shb(binary.BigEndian).idb(LinkEthernet, 0, -1).epb(0, 1, syn, len(syn)).bytes()
	for _, tt := range []struct {
		name string
		file []byte
		segs int
	}{
		{"pcap.gz", gzipBytes(t, plain), 1000},
		{"pcapng.gz", gzipBytes(t, ng), 1},
		{"gz named .pcap", gzipBytes(t, plain), 1000}, // detected by magic, not by name
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := writeTemp(t, "capture.pcap", tt.file)
			src, err := OpenFiles([]string{path}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			if _, total := src.Progress(); total != int64(len(tt.file)) {
				t.Errorf("total = %d, want the compressed size %d", total, len(tt.file))
			}
			segs, err := readAll(t, src)
			if err != nil || len(segs) != tt.segs {
				t.Fatalf("read %d segments, err %v", len(segs), err)
			}
			if done, total := src.Progress(); done != total {
				t.Errorf("at the end: done %d of %d", done, total)
			}
		})
	}
	// Damage inside the gzip stream is named with a decompressed offset.
	z := gzipBytes(t, plain)
	src, err := openBytes(t, "cut.pcap.gz", z[:len(z)/2], Options{})
	if err != nil {
		t.Fatal(err)
	}
	segs, err := readAll(t, src)
	var fe *FormatError
	if !errors.As(err, &fe) || !fe.Compressed || !strings.Contains(err.Error(), "(decompressed)") || len(segs) == 0 {
		t.Errorf("cut gzip: %d segments, err %v", len(segs), err)
	}
}

// TestMerge reads two files whose packets interleave in time, as rotated
// or per-interface captures do: the Source yields them in time order,
// numbers them across files, and names each one's file.
func TestMerge(t *testing.T) {
	syn, data := fixture(t, synFrame), fixture(t, dataFrame)
	a := pcapFile(binary.LittleEndian, magicPcapMicro, LinkEthernet, 65535,
		rec{sec: base, data: syn}, rec{sec: base + 2, data: syn}, rec{sec: base + 4, data: syn})
	b := (&ngFile{}).shb(binary.BigEndian).idb(LinkEthernet, 0, 9).
		epb(0, (base+1)*1e9, data, len(data)).epb(0, (base+2)*1e9, data, len(data)).epb(0, (base+3)*1e9, data, len(data)).bytes()
	src, err := OpenFiles([]string{writeTemp(t, "a.pcap", a), writeTemp(t, "b.pcapng", b)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	segs, err := readAll(t, src)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range segs {
		got = append(got, string(rune('0'+s.Time/1e9-base))+string(rune('a'+s.Source))+string(rune('0'+s.Index)))
	}
	// At equal times (base+2) the first file given comes first.
	if want := "0a1 1b2 2a3 2b4 3b5 4a6"; strings.Join(got, " ") != want {
		t.Errorf("merged order %q, want %q (time, file, index)", strings.Join(got, " "), want)
	}
}

// TestMergeWithDamage: a damaged file does not stop the others; the error
// comes after every good packet of every file.
func TestMergeWithDamage(t *testing.T) {
	syn := fixture(t, synFrame)
	good := pcapFile(binary.LittleEndian, magicPcapMicro, LinkEthernet, 65535,
		rec{sec: base, data: syn}, rec{sec: base + 5, data: syn})
	cut := pcapFile(binary.LittleEndian, magicPcapMicro, LinkEthernet, 65535,
		rec{sec: base + 1, data: syn}, rec{sec: base + 2, data: syn})
	cut = cut[:len(cut)-10]
	src, err := OpenFiles([]string{writeTemp(t, "good.pcap", good), writeTemp(t, "cut.pcap", cut)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	segs, err := readAll(t, src)
	if len(segs) != 3 {
		t.Errorf("read %d segments, want 3", len(segs))
	}
	off := 24 + 16 + len(syn)
	if err == nil || !strings.HasSuffix(strings.SplitN(err.Error(), ": ", 2)[0], "cut.pcap") || !strings.Contains(err.Error(), "offset "+strconv.Itoa(off)+": ") {
		t.Errorf("err = %v, want cut.pcap at offset %d", err, off)
	}
	// Next keeps returning the error, and Raw returns nothing.
	var seg Segment
	if err2 := src.Next(&seg); err2 != err {
		t.Errorf("second Next after end = %v", err2)
	}
	if data, _, _, _ := src.Raw(); data != nil {
		t.Errorf("Raw after end = %x", data)
	}
}

func TestStdin(t *testing.T) {
	syn := fixture(t, synFrame)
	path := writeTemp(t, "in.pcap", gzipBytes(t, pcapFile(binary.BigEndian, magicPcapNano, LinkEthernet, 0, rec{sec: base, data: syn})))
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	old := os.Stdin
	os.Stdin = f
	defer func() { os.Stdin = old }()
	src, err := OpenFiles([]string{"-"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	segs, err := readAll(t, src)
	if err != nil || len(segs) != 1 {
		t.Fatalf("read %d segments, err %v", len(segs), err)
	}
	if _, total := src.Progress(); total != 0 {
		t.Errorf("total for stdin = %d, want 0 (unknown)", total)
	}
	if _, err := OpenFiles([]string{"-", "-"}, Options{}); err == nil {
		t.Error(`"-" twice: no error`)
	}
}

// TestRawAndWriter: Raw returns each packet as read, and a Writer writes
// them back in either format so that they read the same again (and, when
// installed, tcpdump reads them too).
func TestRawAndWriter(t *testing.T) {
	syn, data := fixture(t, synFrame), fixture(t, dataFrame)
	raw := syn[14:]
	in := (&ngFile{}).shb(binary.LittleEndian).idb(LinkEthernet, 0, 9).idb(LinkRaw, 0, 9).
		epb(0, base*1e9+1, syn, len(syn)).epb(1, base*1e9+2, raw, len(raw)).epb(0, base*1e9+3, data[:54], 154).bytes()
	for _, format := range []FileFormat{FormatPcapNG, FormatPcap} {
		t.Run(format.String(), func(t *testing.T) {
			src, err := openBytes(t, "in.pcapng", in, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			w, err := NewWriter(&out, format)
			if err != nil {
				t.Fatal(err)
			}
			var seg Segment
			var werr error
			for src.Next(&seg) == nil {
				d, ts, wire, link := src.Raw()
				if ts != seg.Time || wire != int(seg.WireLen) {
					t.Errorf("Raw: ts %d wire %d, segment %d %d", ts, wire, seg.Time, seg.WireLen)
				}
				if err := w.WritePacket(d, ts, wire, link); err != nil {
					werr = err
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if format == FormatPcap {
				if werr == nil || !strings.Contains(werr.Error(), "use pcapng") {
					t.Errorf("pcap with two link types: err %v", werr)
				}
			} else if werr != nil {
				t.Fatal(werr)
			}
			path := writeTemp(t, "out."+format.String(), out.Bytes())
			back, err := OpenFiles([]string{path}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			segs, err := readAll(t, back)
			wantN := 3
			if format == FormatPcap {
				wantN = 2 // the raw-IP packet was refused
			}
			if err != nil || len(segs) != wantN || segs[len(segs)-1].Time != base*1e9+3 || segs[len(segs)-1].PayloadLen != 100 {
				t.Fatalf("read back %d segments (%v), err %v", len(segs), segs, err)
			}
			// An independent reader agrees: tcpdump for pcap, tshark for
			// pcapng (libpcap refuses a pcapng that mixes link types).
			tool, args, mark := "tcpdump", []string{"-nr", path}, "Flags ["
			if format == FormatPcapNG {
				tool, args, mark = "tshark", []string{"-n", "-r", path, "-Y", "tcp", "-T", "fields", "-e", "tcp.srcport", "-e", "tcp.flags.str"}, "\t"
			}
			if _, err := exec.LookPath(tool); err == nil {
				outp, err := exec.Command(tool, args...).CombinedOutput()
				if err != nil || strings.Count(string(outp), mark) != wantN {
					t.Errorf("%s -r: %v\n%s", tool, err, outp)
				}
			} else {
				t.Logf("%s not installed: not cross-checked", tool)
			}
		})
	}
	// An empty writer still produces a valid file.
	for _, format := range []FileFormat{FormatPcapNG, FormatPcap} {
		var out bytes.Buffer
		w, _ := NewWriter(&out, format)
		w.Close()
		src, err := openBytes(t, "empty", out.Bytes(), Options{})
		if err != nil {
			t.Fatalf("%s: empty writer output: %v", format, err)
		}
		if segs, err := readAll(t, src); err != nil || len(segs) != 0 || len(src.Warnings()) != 0 {
			t.Errorf("%s: empty file: %v %v %q", format, segs, err, src.Warnings())
		}
	}
	if _, err := NewWriter(io.Discard, 0); err == nil {
		t.Error("NewWriter with format 0: no error")
	}
}

// TestFilter: a BPF filter applies to files, compiled per link type, so a
// pcapng file mixing Ethernet and raw IP is filtered right on both.
func TestFilter(t *testing.T) {
	syn, data := fixture(t, synFrame), fixture(t, dataFrame)
	in := (&ngFile{}).shb(binary.LittleEndian).idb(LinkEthernet, 0, 9).idb(LinkRaw, 0, 9).
		epb(0, 1, syn, len(syn)).epb(1, 2, syn[14:], len(syn)-14).epb(0, 3, data, len(data)).epb(1, 4, data[14:], len(data)-14).bytes()
	for _, tt := range []struct {
		expr string
		want int
	}{
		{"tcp[tcpflags] & tcp-syn != 0", 2},
		{"src port 80", 2},
		{"host 10.0.0.1 and tcp", 4},
		{"udp", 0},
	} {
		src, err := openBytes(t, "f.pcapng", in, Options{Filter: tt.expr})
		if err != nil {
			t.Fatalf("%q: %v", tt.expr, err)
		}
		segs, err := readAll(t, src)
		if err != nil || len(segs) != tt.want || src.Stats().Filtered != uint64(4-tt.want) {
			t.Errorf("%q: %d segments (want %d), filtered %d, err %v", tt.expr, len(segs), tt.want, src.Stats().Filtered, err)
		}
	}
	if _, err := openBytes(t, "f.pcapng", in, Options{Filter: "tcp port"}); err == nil || !strings.Contains(err.Error(), "tcp port") {
		t.Errorf("bad filter: err %v", err)
	}
}

// TestOpenErrors: files that are not captures fail at open, naming the
// file and offset, on one line.
func TestOpenErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "offset 0: empty file"},
		{"text", []byte("GET / HTTP/1.1\r\nHost: example.com\r\n"), "offset 0: not a pcap or pcapng capture: the file looks like text"},
		{"html", []byte("<!DOCTYPE html><html>404</html>\n"), "looks like text"},
		{"zstd", []byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0}, "zstd -d"},
		{"random", []byte{0xde, 0xad, 0xbe, 0xef, 1}, "unknown magic number de ad be ef"},
		{"short pcap header", pcapFile(binary.LittleEndian, magicPcapMicro, LinkEthernet, 0)[:20], "offset 0: truncated pcap file header: needs 24 bytes, only 20 left"},
		{"pcap version 1", func() []byte {
			b := pcapFile(binary.LittleEndian, magicPcapMicro, LinkEthernet, 0)
			b[4] = 1
			return b
		}(), "offset 4: unsupported pcap version 1.4"},
		{"empty gzip", gzipBytes(t, nil), "gzip stream: empty file"},
		{"gzip of text", gzipBytes(t, []byte("hello world\n")), "looks like text"},
		{"pcapng first block not SHB", append([]byte{0x0a, 0x0d, 0x0d, 0x0a}, make([]byte, 4)...), "truncated Section Header Block"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := writeTemp(t, "f", tt.file)
			_, err := OpenFiles([]string{path}, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), path+": offset ") || strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %v, want one line %q...%q", err, path+": offset", tt.want)
			}
		})
	}
	if _, err := OpenFiles([]string{filepath.Join(t.TempDir(), "missing.pcap")}, Options{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	evil := writeTemp(t, "x\n\x1b[2Jy.pcap", []byte("not a capture"))
	if _, err := OpenFiles([]string{evil}, Options{}); err == nil || strings.ContainsAny(err.Error(), "\n\x1b") {
		t.Errorf("file name with control characters: %q", err)
	}
	if _, err := OpenFiles([]string{t.TempDir()}, Options{}); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("directory: %v", err)
	}
	if _, err := OpenFiles(nil, Options{}); err == nil {
		t.Error("no files: no error")
	}
}

// TestLargePackets: packets larger than the read buffer (GRO captures,
// jumbo frames) are read whole, up to libpcap's 262144-byte maximum.
func TestLargePackets(t *testing.T) {
	syn := fixture(t, synFrame)
	big := make([]byte, maxCaplen)
	copy(big, syn)
	binary.BigEndian.PutUint16(big[14+2:], 65535) // IP total length: the most it can say
	mid := big[:100000]
	le := binary.LittleEndian
	files := map[string][]byte{
		"pcap": pcapFile(le, magicPcapNano, LinkEthernet, maxCaplen, rec{sec: base, data: big}, rec{sec: base, data: mid}, rec{sec: base, data: syn}),
		"pcapng": (&ngFile{}).shb(le).idb(LinkEthernet, 0, 9).
			epb(0, 1, big, len(big)).epb(0, 2, mid, len(mid)).epb(0, 3, syn, len(syn)).bytes(),
	}
	for name, f := range files {
		src, err := openBytes(t, name, f, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var seg Segment
		for i, want := range [][]byte{big, mid, syn} {
			if err := src.Next(&seg); err != nil {
				t.Fatalf("%s packet %d: %v", name, i+1, err)
			}
			if data, _, _, _ := src.Raw(); !bytes.Equal(data, want) {
				t.Errorf("%s packet %d: %d bytes, not the %d written", name, i+1, len(data), len(want))
			}
		}
		if err := src.Next(&seg); err != io.EOF {
			t.Errorf("%s: at the end: %v", name, err)
		}
	}
	over := pcapFile(le, magicPcapNano, LinkEthernet, 0, rec{sec: base, data: append(big, 0)})
	src, err := openBytes(t, "over.pcap", over, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := readAll(t, src); err == nil || !strings.Contains(err.Error(), "offset 24: packet record claims 262145 captured bytes") {
		t.Errorf("262145-byte record: %v", err)
	}
}

// A gzipped file is decompressed ahead on a goroutine of its own (input's
// gunzipBlocks); closing the Source must stop it, even mid-file, or every
// gzipped capture audited by a long-running process would leak one. With
// more than aheadInputs files, they are decompressed inline.
func TestGzipReadAheadStopsOnClose(t *testing.T) {
	syn := fixture(t, synFrame)
	recs := make([]rec, 5000)
	for i := range recs {
		recs[i] = rec{sec: base + uint32(i), data: syn}
	}
	path := writeTemp(t, "in.pcap.gz", gzipBytes(t, pcapFile(binary.LittleEndian, magicPcapMicro, LinkEthernet, 0, recs...)))
	for _, files := range []int{1, aheadInputs + 1} {
		before := runtime.NumGoroutine()
		paths := slices.Repeat([]string{path}, files)
		src, err := OpenFiles(paths, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var seg Segment
		if err := src.Next(&seg); err != nil {
			t.Fatal(err)
		}
		if files == 1 && runtime.NumGoroutine() <= before {
			t.Errorf("one gzipped file: no goroutine decompresses ahead")
		}
		if files > aheadInputs && runtime.NumGoroutine() != before {
			t.Errorf("%d gzipped files: %d goroutines, want %d (inline)", files, runtime.NumGoroutine(), before)
		}
		src.Close()
		for i := 0; runtime.NumGoroutine() > before; i++ {
			if i == 100 {
				t.Fatalf("%d files: %d goroutines after Close, %d before", files, runtime.NumGoroutine(), before)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// pcapng blocks are read in place in the input's 64 KiB window: blocks
// that straddle a refill, and a block larger than the window (read into
// the spill buffer), must come out whole, each packet intact and in order,
// in either byte order.
func TestPcapngBlocksAcrossTheWindow(t *testing.T) {
	syn := fixture(t, synFrame)
	big := make([]byte, readBufSize+5000) // a GRO-sized frame: the spill path
	copy(big, syn)
	for i := len(syn); i < len(big); i++ {
		big[i] = byte(i)
	}
	for _, bo := range []order{binary.LittleEndian, binary.BigEndian} {
		f := (&ngFile{}).shb(bo).idb(LinkEthernet, 0, 9)
		var want [][]byte
		for i := range 3000 { // ~200 KiB of small blocks: many straddle a refill
			f.epb(0, uint64(i), syn, len(syn))
			want = append(want, syn)
			if i == 1500 {
				f.epb(0, uint64(i), big, len(big))
				want = append(want, big)
			}
		}
		in, err := newInput("big.pcapng", bytes.NewReader(f.bytes()))
		if err != nil {
			t.Fatal(err)
		}
		r, err := newFileReader(in)
		if err != nil {
			t.Fatal(err)
		}
		var p packet
		for i, w := range want {
			if err := r.ReadPacket(&p); err != nil {
				t.Fatalf("%v: packet %d: %v", bo, i, err)
			}
			if !bytes.Equal(p.data, w) || p.wireLen != len(w) {
				t.Fatalf("%v: packet %d: %d bytes (wire %d), want %d intact", bo, i, len(p.data), p.wireLen, len(w))
			}
		}
		if err := r.ReadPacket(&p); err != io.EOF {
			t.Fatalf("%v: after the last packet: %v, want EOF", bo, err)
		}
	}
}
