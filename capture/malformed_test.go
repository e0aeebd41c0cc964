package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite capture/testdata/malformed from the test's builders")

// malformedCase is one file of the malformed corpus and what reading it
// must give: an error at open, an error after some segments, or warnings.
type malformedCase struct {
	name    string
	file    []byte
	openErr string // substring of the error from OpenFiles
	nextErr string // substring of the error Next returns at the end
	segs    int    // segments delivered before the end
	warning string // substring of one warning
}

// malformedCorpus builds the corpus of issue 6. Each entry says in its
// name what is wrong; the committed copies in testdata/malformed let the
// command's tests check exit status 2 on them too.
func malformedCorpus(t testing.TB) []malformedCase {
	syn, data := fixture(t, synFrame), fixture(t, dataFrame)
	le := binary.LittleEndian
	good := func(recs ...rec) []byte { return pcapFile(le, magicPcapMicro, LinkEthernet, 65535, recs...) }
	two := good(rec{sec: base, data: syn}, rec{sec: base + 1, data: data})
	mut := func(b []byte, off int, v ...byte) []byte {
		c := append([]byte(nil), b...)
		copy(c[off:], v)
		return c
	}
	u32 := func(v uint32) []byte { return le.AppendUint32(nil, v) }
	ngHead := (&ngFile{}).shb(le).idb(LinkEthernet, 0, -1).bytes() // 28 + 40 bytes
	ng := func(f *ngFile) []byte { return f.bytes() }
	frame := func(off int, v ...byte) []byte { return mut(syn, off, v...) }
	rec2 := 24 + 16 + len(syn) // offset of the second pcap record

	return []malformedCase{
		{name: "empty.pcap", file: nil, openErr: "offset 0: empty file"},
		{name: "text.pcap", file: []byte("tcpdump: eth0: You don't have permission to capture on that device\n"), openErr: "looks like text"},
		{name: "bad-magic.pcap", file: mut(two, 0, 0xa1, 0xb2, 0xc3, 0xd5), openErr: "unknown magic number"},
		{name: "short-header.pcap", file: two[:23], openErr: "offset 0: truncated pcap file header: needs 24 bytes, only 23 left"},
		{name: "version-1.pcap", file: mut(two, 4, 1, 0), openErr: "offset 4: unsupported pcap version 1.4"},
		{name: "reserved-linktype-bits.pcap", file: mut(two, 20, 1, 0, 0x30, 0), openErr: "offset 20: link type field has reserved bits set (0x00300000)"},
		{name: "snaplen-0.pcap", file: mut(two, 16, 0, 0, 0, 0), segs: 2},
		{name: "record-2GiB.pcap", file: mut(two, rec2+8, u32(2<<30)...), segs: 1, nextErr: "offset 114: packet record claims 2147483648 captured bytes, more than the 262144 maximum"},
		{name: "caplen-above-snaplen.pcap", file: mut(two, 16, 60, 0, 0, 0), segs: 2, warning: "1 packet records longer than the snaplen"},
		{name: "len-below-caplen.pcap", file: mut(two, rec2+12, 10, 0, 0, 0), segs: 2, warning: "original length below the captured length"},
		{name: "cut-in-record-header.pcap", file: two[:rec2+9], segs: 1, nextErr: "offset 114: truncated packet record header: needs 16 bytes, only 9 left"},
		{name: "cut-in-packet.pcap", file: two[:len(two)-1], segs: 1, nextErr: "offset 114: truncated packet record: needs 70 bytes, only 69 left"},
		{name: "bad-ns-fraction.pcap", file: mut(pcapFile(le, magicPcapNano, LinkEthernet, 0, rec{sec: base, frac: 2e9, data: syn}), 0), segs: 1, warning: "invalid sub-second field"},

		{name: "ipv4-ihl-4.pcap", file: good(rec{sec: base, data: frame(14, 0x44)}, rec{sec: base, data: syn}), segs: 1, warning: "skipped 1 undecodable packets: IPv4 header length (IHL) below 5 (first: packet 1)"},
		{name: "tcp-data-offset-4.pcap", file: good(rec{sec: base, data: frame(14+20+12, 0x40)}), warning: "TCP data offset below 5"},
		{name: "tcp-data-offset-past-packet.pcap", file: good(rec{sec: base, data: frame(14+20+12, 0xf0)}), warning: "TCP header longer than the IP payload"},
		{name: "tcp-header-cut-by-snaplen.pcap", file: pcapFile(le, magicPcapMicro, LinkEthernet, 44, rec{sec: base, data: syn[:44], wire: len(syn)}), warning: "TCP header cut short by the snaplen"},
		{name: "ipv6-endless-ext-headers.pcap", file: pcapFile(le, magicPcapMicro, LinkIPv6, 0, rec{sec: base, data: endlessIPv6(t)}), warning: "IPv6 extension headers"},
		{name: "unsupported-linktype.pcap", file: pcapFile(le, magicPcapMicro, LinkType(147), 0, rec{sec: base, data: syn}), warning: "unsupported link types [LINKTYPE_147]"},

		{name: "pcapng-shb-cut.pcapng", file: ngHead[:16], openErr: "offset 0: truncated block: needs 28 bytes, only 16 left"},
		{name: "pcapng-bad-bom.pcapng", file: mut(ngHead, 8, 1, 2, 3, 4), openErr: "offset 8: Section Header Block has a bad byte-order magic"},
		{name: "pcapng-shb-len-insane.pcapng", file: mut(ngHead, 4, u32(1<<24)...), openErr: "offset 4: Section Header Block has invalid length 16777216"},
		{name: "pcapng-version-0.1.pcapng", file: mut(ngHead, 12, 0, 0, 1, 0), openErr: "offset 12: unsupported pcapng version 0.1"},
		{name: "pcapng-trailer-lies.pcapng", file: mut(ngHead, 28+36, 0xff), openErr: "", nextErr: "offset 28: block total length in header 40 and trailer 255 don't match"},
		{name: "pcapng-block-len-too-small.pcapng", file: mut(ngHead, 28+4, 4, 0, 0, 0), nextErr: "offset 32: block has a length of 4 < 12"},
		{name: "pcapng-block-len-not-mult4.pcapng", file: mut(ngHead, 28+4, 41, 0, 0, 0), nextErr: "offset 32: block has a length of 41 that is not a multiple of 4"},
		{name: "pcapng-block-len-beyond-file.pcapng", file: mut(ngHead, 28+4, 0, 1, 0, 0), nextErr: "offset 28: truncated block: needs 256 bytes, only 40 left"},
		{name: "pcapng-block-len-32MiB.pcapng", file: mut(ngHead, 28+4, u32(32<<20)...), nextErr: "offset 32: block claims 33554432 bytes, more than the 16777216 maximum"},
		{name: "pcapng-epb-caplen-4GiB.pcapng", file: mut(ng((&ngFile{}).shb(le).idb(LinkEthernet, 0, -1).epb(0, 0, syn, len(syn))), 68+20, 0xf0, 0xff, 0xff, 0xff), nextErr: "offset 68: packet block claims 4294967280 captured bytes, more than the 262144 maximum"},
		{name: "pcapng-epb-caplen-beyond-block.pcapng", file: mut(ng((&ngFile{}).shb(le).idb(LinkEthernet, 0, -1).epb(0, 0, syn, len(syn))), 68+20, 200), nextErr: "offset 68: packet block claims 200 captured bytes but the block holds only 96"},
		{name: "pcapng-no-such-interface.pcapng", file: ng((&ngFile{}).shb(le).idb(LinkEthernet, 0, -1).epb(0, 0, syn, len(syn)).epb(3, 0, syn, len(syn))), segs: 1, nextErr: "packet block references interface 3, but the section has only 1 Interface Description Blocks"},
		{name: "pcapng-packet-before-idb.pcapng", file: ng((&ngFile{}).shb(le).epb(0, 0, syn, len(syn))), nextErr: "offset 28: packet block before any Interface Description Block"},
		{name: "pcapng-idb-option-overruns.pcapng", file: mut(ngHead, 28+16+2, 0xff, 0), nextErr: "offset 28: Interface Description Block: option 2 claims 255 bytes"},
		{name: "pcapng-bad-tsresol.pcapng", file: ng((&ngFile{}).shb(le).idb(LinkEthernet, 0, 30)), nextErr: "if_tsresol 0x1e is beyond what a 64-bit timestamp can hold"},
		{name: "pcapng-only-shb.pcapng", file: ngHead[:28], warning: "no Interface Description Block"},
		{name: "gzip-cut.pcap.gz", file: func() []byte { z := gzipBytes(t, two); return z[:len(z)-12] }(), segs: 2, nextErr: "(decompressed): "},
	}
}

// endlessIPv6 is an IPv6 packet whose destination-options headers chain
// beyond the decoder's bound.
func endlessIPv6(t testing.TB) []byte {
	b := fixture(t, ipv6Ext)[:40]
	b[6] = 60
	for range 40 {
		b = append(b, 60, 0, 1, 4, 0, 0, 0, 0)
	}
	binary.BigEndian.PutUint16(b[4:], uint16(len(b)-40))
	return b
}

func TestMalformedCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "malformed")
	if *update {
		os.RemoveAll(dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range malformedCorpus(t) {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			if *update {
				if err := os.WriteFile(path, tc.file, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			committed, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(committed, tc.file) {
				t.Fatalf("%s is missing or stale (%v): run go test ./capture -run TestMalformedCorpus -update", path, err)
			}
			src, err := OpenFiles([]string{path}, Options{})
			if tc.openErr != "" || err != nil {
				if tc.openErr == "" || err == nil || !strings.Contains(err.Error(), tc.openErr) {
					t.Fatalf("OpenFiles: err %v, want %q", err, tc.openErr)
				}
				checkFormatError(t, err, path)
				return
			}
			defer src.Close()
			segs, err := readAll(t, src)
			if len(segs) != tc.segs {
				t.Errorf("%d segments, want %d", len(segs), tc.segs)
			}
			if tc.nextErr == "" && err != nil || tc.nextErr != "" && (err == nil || !strings.Contains(err.Error(), tc.nextErr)) {
				t.Errorf("Next: err %v, want %q", err, tc.nextErr)
			}
			if err != nil {
				checkFormatError(t, err, path)
			}
			warnings := strings.Join(src.Warnings(), "\n")
			if tc.warning != "" && !strings.Contains(warnings, tc.warning) {
				t.Errorf("warnings %q, want %q", warnings, tc.warning)
			}
		})
	}
}

// TestHugeLengthsDoNotAllocate: a record or block claiming gigabytes costs
// no more than the bounded buffers.
func TestHugeLengthsDoNotAllocate(t *testing.T) {
	for _, tc := range malformedCorpus(t) {
		if !strings.Contains(tc.name, "GiB") && !strings.Contains(tc.name, "MiB") && !strings.Contains(tc.name, "insane") {
			continue
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		in, err := newInput(tc.name, bytes.NewReader(tc.file))
		if err == nil {
			if r, err := newFileReader(in); err == nil {
				for {
					if err := r.ReadPacket(new(packet)); err != nil {
						break
					}
				}
			}
		}
		runtime.ReadMemStats(&after)
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 2<<20 {
			t.Errorf("%s: allocated %d bytes", tc.name, grew)
		}
	}
}

// TestTruncatedAtEveryOffset cuts small captures at every byte: each cut
// gives either a clean end at a record boundary or a FormatError naming
// an offset within the file, after delivering every whole packet before
// the cut; never a panic.
func TestTruncatedAtEveryOffset(t *testing.T) {
	syn, data := fixture(t, synFrame), fixture(t, dataFrame)
	le := binary.LittleEndian
	files := map[string][]byte{
		"pcap": pcapFile(le, magicPcapNano, LinkEthernet, 65535, rec{sec: base, data: syn}, rec{sec: base, data: data}, rec{sec: base, data: syn}),
		"pcapng": (&ngFile{}).shb(binary.BigEndian).idb(LinkEthernet, 0, 9).epb(0, 1, syn, len(syn)).
			block(4, []byte{0, 0, 0, 0}).spb(data).epb(0, 2, syn, len(syn)).bytes(),
	}
	for name, file := range files {
		// Where each packet ends in the file: a cut at n must deliver
		// exactly the packets that end at or before n.
		in, _ := newInput(name, bytes.NewReader(file))
		whole, err := newFileReader(in)
		if err != nil {
			t.Fatal(err)
		}
		var ends []int64
		for {
			if err := whole.ReadPacket(new(packet)); err != nil {
				break
			}
			ends = append(ends, in.off)
		}
		full := len(ends)
		for _, gz := range []bool{false, true} {
			for n := 0; n <= len(file); n++ {
				b := file[:n]
				if gz {
					b = gzipBytes(t, b)
				}
				in, err := newInput(name, bytes.NewReader(b))
				var r packetReader
				if err == nil {
					defer in.Close() // stops a gzip layer's goroutine
					r, err = newFileReader(in)
				}
				if err != nil {
					var fe *FormatError
					if !errors.As(err, &fe) || fe.Offset > int64(n) {
						t.Fatalf("%s cut at %d: open error %v", name, n, err)
					}
					continue
				}
				s := newSource([]packetReader{r}, Options{})
				segs, err := readAll(t, s)
				var fe *FormatError
				switch {
				case err == nil && n != len(file) && len(segs) == full:
					t.Errorf("%s cut at %d: all %d packets and no error", name, n, full)
				case err != nil && (!errors.As(err, &fe) || fe.Offset > int64(n) || fe.Compressed != gz):
					t.Errorf("%s cut at %d (gzip %v): error %v", name, n, gz, err)
				}
				want := 0
				for _, e := range ends {
					if e <= int64(n) {
						want++
					}
				}
				if len(segs) != want {
					t.Errorf("%s cut at %d (gzip %v): %d segments, want %d", name, n, gz, len(segs), want)
				}
				if n == len(file) && (err != nil || len(segs) != full) {
					t.Errorf("%s whole: %d segments, err %v", name, len(segs), err)
				}
			}
		}
	}
}
