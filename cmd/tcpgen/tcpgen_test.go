package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// generated is generateAll's result, computed once per test binary.
var generated = sync1(func() ([]output, error) { return generateAll() })

func sync1[T any](f func() (T, error)) func(t *testing.T) T {
	var (
		done bool
		v    T
		err  error
	)
	return func(t *testing.T) T {
		t.Helper()
		if !done {
			v, err = f()
			done = true
		}
		if err != nil {
			t.Fatalf("generate: %v", err)
		}
		return v
	}
}

// testdataDir is the repository's top-level testdata/.
const testdataDir = "../../testdata"

// TestCommittedFilesUpToDate regenerates every file and compares it with the
// committed copy: this checks both determinism across machines and that
// nobody changed the generator without regenerating.
func TestCommittedFilesUpToDate(t *testing.T) {
	for _, o := range generated(t) {
		got, err := os.ReadFile(filepath.Join(testdataDir, o.name))
		if err != nil {
			t.Errorf("%v (run: go run ./cmd/tcpgen -o testdata all)", err)
			continue
		}
		if !bytes.Equal(got, o.data) {
			t.Errorf("testdata/%s differs from the generator's output (%d vs %d bytes); run: go run ./cmd/tcpgen -o testdata all",
				o.name, len(got), len(o.data))
		}
	}
}

// TestDeterministic renders everything twice in one process: no map order,
// clock or shared state may leak into the bytes.
func TestDeterministic(t *testing.T) {
	again, err := generateAll()
	if err != nil {
		t.Fatal(err)
	}
	first := generated(t)
	if len(again) != len(first) {
		t.Fatalf("second run wrote %d files, first %d", len(again), len(first))
	}
	for i := range first {
		if first[i].name != again[i].name || !bytes.Equal(first[i].data, again[i].data) {
			t.Errorf("%s: second run differs", first[i].name)
		}
	}
}

// segment is what the test decodes back from a file, to compare with the
// scenario's packets.
type segment struct {
	at       time.Time
	src, dst netip.AddrPort
	seq, ack uint32
	flags    tcpFlags
	payload  int
}

func (s segment) String() string {
	return fmt.Sprintf("%v > %v [%v] seq %d ack %d len %d", s.src, s.dst, s.flags, s.seq, s.ack, s.payload)
}

// readSegments decodes every TCP segment of a capture with gopacket's own
// readers and decoders, independently of the generator's writers.
func readSegments(t *testing.T, name string, data []byte) (segs []segment, packets int) {
	t.Helper()
	var r io.Reader = bytes.NewReader(data)
	if strings.HasSuffix(name, ".gz") {
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		r = zr
	}
	type source interface {
		ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	}
	var src source
	linkOf := func(int) layers.LinkType { return 0 }
	if strings.HasSuffix(name, ".pcapng") {
		// Without WantMixedLinkType pcapgo, like libpcap, silently drops
		// the packets of interfaces whose link type differs from the first.
		ng, err := pcapgo.NewNgReader(r, pcapgo.NgReaderOptions{WantMixedLinkType: true})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		src = ng
		linkOf = func(i int) layers.LinkType {
			intf, err := ng.Interface(i)
			if err != nil {
				t.Fatalf("%s: interface %d: %v", name, i, err)
			}
			return intf.LinkType
		}
	} else {
		pr, err := pcapgo.NewReader(r)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		src = pr
		linkOf = func(int) layers.LinkType { return pr.LinkType() }
	}
	for {
		frame, ci, err := src.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return segs, packets
		}
		if err != nil {
			t.Fatalf("%s: packet %d: %v", name, packets+1, err)
		}
		packets++
		p := gopacket.NewPacket(frame, linkOf(ci.InterfaceIndex), gopacket.Default)
		if el := p.ErrorLayer(); el != nil {
			t.Errorf("%s: packet %d: %v", name, packets, el.Error())
		}
		tl, ok := p.TransportLayer().(*layers.TCP)
		if ip, frag := p.NetworkLayer().(*layers.IPv4); frag && ip.Flags&layers.IPv4MoreFragments != 0 && ip.FragOffset == 0 {
			// gopacket leaves a first fragment undecoded; its TCP header
			// is whole, so decode it by hand.
			tl = new(layers.TCP)
			if err := tl.DecodeFromBytes(ip.Payload, gopacket.NilDecodeFeedback); err != nil {
				t.Errorf("%s: packet %d: first fragment: %v", name, packets, err)
				continue
			}
			ok = true
		}
		if !ok {
			continue
		}
		var a, b netip.Addr
		switch ip := p.NetworkLayer().(type) {
		case *layers.IPv4:
			a, _ = netip.AddrFromSlice(ip.SrcIP)
			b, _ = netip.AddrFromSlice(ip.DstIP)
		case *layers.IPv6:
			a, _ = netip.AddrFromSlice(ip.SrcIP)
			b, _ = netip.AddrFromSlice(ip.DstIP)
		}
		var f tcpFlags
		for _, fl := range []struct {
			on  bool
			bit tcpFlags
		}{{tl.FIN, flagFIN}, {tl.SYN, flagSYN}, {tl.RST, flagRST}, {tl.PSH, flagPSH}, {tl.ACK, flagACK}} {
			if fl.on {
				f |= fl.bit
			}
		}
		segs = append(segs, segment{
			at: ci.Timestamp, src: netip.AddrPortFrom(a.Unmap(), uint16(tl.SrcPort)), dst: netip.AddrPortFrom(b.Unmap(), uint16(tl.DstPort)),
			seq: tl.Seq, ack: tl.Ack, flags: f, payload: len(tl.Payload),
		})
	}
}

// TestDecodeBack reads every file with gopacket and checks that it holds
// exactly the scenario's segments, in order, on the right links.
func TestDecodeBack(t *testing.T) {
	for _, d := range catalogue {
		outs, s, err := build(d)
		if err != nil {
			t.Fatal(err)
		}
		want := slices.Clone(s.packets)
		if !s.keepOrder {
			slices.SortStableFunc(want, func(a, b packet) int { return cmpDuration(a.at, b.at) })
		}
		// Files are read one after the other.
		slices.SortStableFunc(want, func(a, b packet) int { return a.file - b.file })
		want = slices.DeleteFunc(want, func(p packet) bool { return p.udp })
		var got []segment
		for _, o := range outs {
			segs, n := readSegments(t, o.name, o.data)
			if n != o.stats.Packets || len(segs) != o.stats.TCPSegments {
				t.Errorf("%s: decoded %d packets, %d TCP; generator counted %d, %d", o.name, n, len(segs), o.stats.Packets, o.stats.TCPSegments)
			}
			got = append(got, segs...)
		}
		if len(got) != len(want) {
			t.Errorf("%s: %d TCP segments decoded, %d generated", d.name, len(got), len(want))
			continue
		}
		for i, g := range got {
			w := want[i]
			payload := w.payload
			if w.fragment {
				payload = 8 // the first fragment carries 8 payload bytes
			}
			if g.src != w.src || g.dst != w.dst || g.seq != w.seq || g.ack != w.ack || g.flags != w.flags || g.payload != payload {
				t.Errorf("%s: segment %d = %v, want %s", d.name, i+1, g, w.tcpdump())
			}
			if format := s.format; format != formatPcapNano && format != formatPcapng {
				w.at = w.at.Truncate(time.Microsecond)
			}
			if !g.at.Equal(baseTime.Add(w.at)) {
				t.Errorf("%s: segment %d at %v, want %v", d.name, i+1, g.at, baseTime.Add(w.at))
			}
		}
	}
}

// ladder is a scenario's segments as compact tcpdump flags with the sender.
func ladder(t *testing.T, name string) string {
	t.Helper()
	for _, o := range generated(t) {
		if o.name != name {
			continue
		}
		segs, _ := readSegments(t, o.name, o.data)
		var b strings.Builder
		for i, s := range segs {
			if i > 0 {
				b.WriteByte(' ')
			}
			dir := ">"
			if s.src.Port() < s.dst.Port() {
				dir = "<"
			}
			fmt.Fprintf(&b, "%s%v", dir, s.flags)
		}
		return b.String()
	}
	t.Fatalf("no file %s", name)
	return ""
}

// TestLadders pins the packet sequence of a few stories, as a person would
// check them in tcpdump: > is client to server, < the reverse.
func TestLadders(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"clean-client-close.pcap", ">S <S. >. >P. <. <P. >. >F. <. <F. >."},
		{"clean-server-close.pcap", ">S <S. >. >P. <. <P. >. <F. >. >F. <."},
		{"clean-fin-with-data.pcap", ">S <S. >. >FP. <FP. >."},
		{"refused.pcap", ">S <R."},
		{"syn-unanswered.pcap", ">S >S >S >S >S"},
		{"synack-unacked.pcap", ">S <S. <S. <S. <S. <S."},
		{"half-open-rst.pcap", ">S <S. >. >P. <. <P. >. >P. >P. >P. >P. >P. >P. >P. >P. >P. <R"},
		{"unacked-fin-last-ack.pcap", ">S <S. >. >P. <. <P. >. >F. <. <F. <F. <F. <F. <F. <F."},
	} {
		if got := ladder(t, tc.file); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.file, got, tc.want)
		}
	}
}

// TestSequenceWrap checks that the wrap scenarios really cross 2^32 where
// they say they do.
func TestSequenceWrap(t *testing.T) {
	_, s, err := build(catalogue[slices.IndexFunc(catalogue, func(d scenarioDef) bool { return d.name == "seq-wrap-fin.pcap" })])
	if err != nil {
		t.Fatal(err)
	}
	var fins, zeroAcks int
	for _, p := range s.packets {
		if p.flags&flagFIN != 0 && p.seq == 0xFFFFFFFF {
			fins++
		}
		if p.flags == flagACK && p.ack == 0 {
			zeroAcks++
		}
	}
	if fins != 2 || zeroAcks != 2 {
		t.Errorf("seq-wrap-fin: %d FINs at 2^32-1, %d ACKs of 0; want 2 and 2", fins, zeroAcks)
	}
	_, s, err = build(catalogue[slices.IndexFunc(catalogue, func(d scenarioDef) bool { return d.name == "seq-wrap-data.pcap" })])
	if err != nil {
		t.Fatal(err)
	}
	wrapped := map[netip.AddrPort]bool{}
	for _, p := range s.packets {
		if p.payload > 0 && p.seq+uint32(p.payload) < p.seq {
			wrapped[p.src] = true
		}
	}
	if len(wrapped) != 2 {
		t.Errorf("seq-wrap-data: a data segment straddles 2^32 for %d sides, want 2", len(wrapped))
	}
}

// TestExpectations checks testdata/expect.json against the files: tokens
// from the documented sets, every flow present in its inputs, and every
// verdict covered, both by the single-story files and by the demo.
func TestExpectations(t *testing.T) {
	outs := generated(t)
	var ef expectFile
	if err := json.Unmarshal(outs[len(outs)-1].data, &ef); err != nil {
		t.Fatal(err)
	}
	files := map[string][]segment{}
	for _, o := range outs[:len(outs)-2] { // all but README.md and expect.json
		files[o.name], _ = readSegments(t, o.name, o.data)
	}
	covered := map[string]map[verdict]bool{"demo": {}, "stories": {}}
	for _, e := range ef.Flows {
		where := fmt.Sprintf("%s %s>%s@%s", e.File, e.Client, e.Server, e.FirstSeen)
		if !slices.Contains(allVerdicts, e.Verdict) {
			t.Errorf("%s: verdict %q", where, e.Verdict)
		}
		if !slices.Contains(allStates, e.ClientState) || !slices.Contains(allStates, e.ServerState) {
			t.Errorf("%s: states %q/%q", where, e.ClientState, e.ServerState)
		}
		first, err := time.Parse(time.RFC3339Nano, e.FirstSeen)
		if err != nil {
			t.Errorf("%s: %v", where, err)
		}
		var found bool
		for _, in := range e.Inputs {
			for _, s := range files[in] {
				ends := []string{s.src.String(), s.dst.String()}
				if s.at.Equal(first) && slices.Contains(ends, e.Client) && slices.Contains(ends, e.Server) {
					found = true
				}
			}
		}
		if !found {
			t.Errorf("%s: no packet of the flow at first_seen in %v", where, e.Inputs)
		}
		key := "stories"
		if e.File == "demo.pcap" {
			key = "demo"
		}
		covered[key][e.Verdict] = true
	}
	for key, got := range covered {
		for _, v := range allVerdicts {
			if !got[v] {
				t.Errorf("%s: no flow with verdict %s", key, v)
			}
		}
	}
}
