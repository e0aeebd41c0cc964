package capture

import (
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/tcpaudit/tcpaudit/internal/peers"
)

// corpusFiles lists every capture under the peer corpus, or skips.
func corpusFiles(t testing.TB) []string { return peers.Captures(t) }

// readAll drains a Source, returning its segments and final error.
func readAll(t testing.TB, src *Source) ([]Segment, error) {
	t.Helper()
	var segs []Segment
	for {
		var seg Segment
		err := src.Next(&seg)
		if err != nil {
			if err == io.EOF {
				return segs, nil
			}
			return segs, err
		}
		segs = append(segs, seg)
	}
}

// TestPeerCorpus reads every capture in the peer corpus: none may panic,
// every error must be a one-line FormatError, and the files whose TCP
// content CORPUS.md states must yield that many segments.
func TestPeerCorpus(t *testing.T) {
	want := map[string]struct {
		tcp         uint64
		reassembled uint64
		tunneled    uint64
		link        string // a link type (its String) that must yield TCP segments
		damaged     bool
	}{
		"decode-sll2-01_input.pcap":                  {tcp: 5, link: LinkLinuxSLL2.String()},
		"decode-sll2-02_input.pcap":                  {tcp: 159, link: LinkLinuxSLL2.String()},
		"linktype-228_flow-test-01.pcap":             {tcp: 7, link: LinkIPv4.String()},
		"tcp-empty-sack_tcp-opt.pcap":                {link: LinkRaw.String()},
		"tcp-fastopen-05_tfo.pcap":                   {link: LinkLinuxSLL.String()},
		"tls-duplicate-hello_input.pcap":             {link: LinkNull.String()},
		"test_loopback.pcap":                         {tcp: 24, link: LinkNull.String()},
		"test_ethernet.pcap":                         {tcp: 10, link: LinkEthernet.String()},
		"tcp-handshake-nano.pcap":                    {tcp: 3, link: LinkLinuxSLL.String()},
		"bug-6875-01_fuzz.pcap":                      {damaged: true},
		"bug-1450-04_tls_DER-incomplete-header.pcap": {tcp: 6, damaged: true},
		"http-mime-truncated_input.pcap":             {damaged: true},
		"bug-6887-defrag-eth-vlan-ipv4-tcp-syn_frag-eth-vlan-ip-tcp-syn.pcap": {tcp: 1, reassembled: 1, link: LinkEthernet.String()},
		"bug-6887-defrag-ppp-ipv4-tcp-syn_frag-ppp-ip-tcp-syn.pcap":           {tcp: 1, reassembled: 1, link: LinkPPP.String()},
		"bug-6887-defrag-ipv6-tcp_frag-ip-tcp.pcap":                           {tcp: 1, reassembled: 1, link: LinkIPv6.String()},
		"ipoib.pcap":                   {link: LinkIPoIB.String()},
		"teredo.pcap":                  {tcp: 55, tunneled: 22},
		"gtp2-different-udp-port.pcap": {tcp: 78, tunneled: 78, reassembled: 42},
		"pppoe-over-qinq.pcap":         {link: LinkEthernet.String()},
		"mixed-vlan-mpls.pcap":         {tcp: 47},
	}
	for _, path := range corpusFiles(t) {
		name := filepath.Base(path)
		t.Run(filepath.Base(filepath.Dir(path))+"/"+name, func(t *testing.T) {
			src, err := OpenFiles([]string{path}, Options{})
			if err != nil {
				checkFormatError(t, err, path)
				t.Logf("rejected at open: %v", err)
				return
			}
			defer src.Close()
			segs, err := readAll(t, src)
			st := src.Stats()
			t.Logf("packets %d tcp %d non-tcp %d undecodable %d unsupported-link %d fragments %d reassembled %d tunneled %d links %v",
				st.Packets, st.TCP, st.NonTCP, st.Undecodable, st.UnsupportedLink, st.Fragments, st.Reassembled, st.Tunneled, src.LinkTypes())
			for _, w := range src.Warnings() {
				t.Logf("warning: %s", w)
			}
			if err != nil {
				checkFormatError(t, err, path)
				t.Logf("error after %d segments: %v", len(segs), err)
			}
			if got := st.TCP + st.NonTCP + st.Undecodable + st.UnsupportedLink + st.Filtered + st.Fragments; got != st.Packets {
				t.Errorf("counts add up to %d, want Packets = %d", got, st.Packets)
			}
			if uint64(len(segs)) != st.TCP {
				t.Errorf("delivered %d segments, Stats.TCP = %d", len(segs), st.TCP)
			}
			w, ok := want[name]
			if !ok {
				return
			}
			if w.damaged != (err != nil) {
				t.Errorf("error = %v, want damaged = %v", err, w.damaged)
			}
			if w.tcp != 0 && st.TCP != w.tcp {
				t.Errorf("TCP segments = %d, want %d", st.TCP, w.tcp)
			}
			if st.Tunneled != w.tunneled {
				t.Errorf("tunneled = %d, want %d", st.Tunneled, w.tunneled)
			}
			if st.Reassembled != w.reassembled {
				t.Errorf("reassembled = %d, want %d", st.Reassembled, w.reassembled)
			}
			if w.link != "" {
				var n uint64
				for l, c := range src.LinkTypes() {
					if l.String() == w.link {
						n = c
					}
				}
				if n == 0 || st.TCP == 0 {
					t.Errorf("link type %s: %d packets, %d TCP segments; want both > 0", w.link, n, st.TCP)
				}
			}
		})
	}
}

// checkFormatError requires err to be a one-line *FormatError naming path.
func checkFormatError(t *testing.T, err error, path string) {
	t.Helper()
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Errorf("error %v (%T) is not a *FormatError", err, err)
		return
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, path+": offset ") || strings.Contains(msg, "\n") {
		t.Errorf("error %q: want one line starting with %q", msg, path+": offset ")
	}
}

// TestCrossCheckGopacket decodes every packet of the peer corpus with both
// our Decoder and gopacket, and requires the same TCP fields wherever both
// find a TCP header. Where only one of them does, the reason must be one we
// expect (fragments, tunnels, malformed headers gopacket accepts).
func TestCrossCheckGopacket(t *testing.T) {
	var total, both, onlyOurs, onlyTheirs, checksums int
	for _, path := range corpusFiles(t) {
		in, err := openInput(path, nil, true)
		if err != nil {
			continue
		}
		r, err := newFileReader(in)
		if err != nil {
			in.Close()
			continue
		}
		d := Decoder{VerifyChecksums: true}
		for {
			var p packet
			if err := r.ReadPacket(&p); err != nil {
				break
			}
			total++
			var seg Segment
			kind := d.Decode(p.link, p.ts, p.data, p.wireLen, &seg)
			gp := gopacket.NewPacket(p.data, layers.LinkType(p.link), gopacket.DecodeOptions{Lazy: false, NoCopy: true})
			tcpL, _ := gp.Layer(layers.LayerTypeTCP).(*layers.TCP)
			gpTCP := tcpL != nil && gp.ErrorLayer() == nil
			switch {
			case kind == KindTCP && gpTCP:
				both++
				if seg.Seq != tcpL.Seq || seg.Ack != tcpL.Ack || seg.Src.Port() != uint16(tcpL.SrcPort) || seg.Dst.Port() != uint16(tcpL.DstPort) ||
					seg.Window != tcpL.Window || seg.Flags.Has(SYN) != tcpL.SYN || seg.Flags.Has(FIN) != tcpL.FIN || seg.Flags.Has(RST) != tcpL.RST || seg.Flags.Has(ACK) != tcpL.ACK {
					t.Errorf("%s: packet at %d: ours %+v, gopacket seq %d ack %d ports %d>%d", filepath.Base(path), p.ts, seg, tcpL.Seq, tcpL.Ack, tcpL.SrcPort, tcpL.DstPort)
				}
				if seg.Checksum != ChecksumUnverified {
					checksums++
					if err, res := tcpL.VerifyChecksum(); err == nil && res.Valid != (seg.Checksum == ChecksumGood) {
						t.Errorf("%s: packet at %d: checksum %s, gopacket says valid = %v", filepath.Base(path), p.ts, seg.Checksum, res.Valid)
					}
				}
			case kind == KindTCP:
				onlyOurs++
				if !d.Tunneled() && !d.Reassembled() {
					t.Logf("%s: only we found TCP: %v (gopacket: %v)", filepath.Base(path), seg, gp.ErrorLayer())
				}
			case gpTCP:
				onlyTheirs++
				t.Errorf("%s: only gopacket found TCP; ours: %s %s", filepath.Base(path), kind, d.Problem())
			}
		}
		r.Close()
	}
	t.Logf("%d packets: TCP by both %d (checksums compared %d), only ours %d, only gopacket %d", total, both, checksums, onlyOurs, onlyTheirs)
}
