package capture

import (
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// fixture turns an annotated hex dump into bytes: everything after '#' on
// a line is a comment, whitespace is ignored.
func fixture(t testing.TB, dump string) []byte {
	t.Helper()
	var sb strings.Builder
	for _, line := range strings.Split(dump, "\n") {
		line, _, _ = strings.Cut(line, "#")
		sb.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(sb.String())
	if err != nil {
		t.Fatalf("bad fixture: %v", err)
	}
	return b
}

// synFrame is
//
//	10.0.0.1.40000 > 10.0.0.2.80: Flags [S], seq 1000, win 64240,
//	options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0
const synFrame = `
02 00 00 00 00 02  02 00 00 00 00 01  0800   # Ethernet: dst, src, type IPv4
45 00 003c 0001 4000 40 06 0000                # IPv4: IHL 5, total 60, id 1, DF, TTL 64, TCP, no checksum
0a 00 00 01  0a 00 00 02                        # 10.0.0.1 > 10.0.0.2
9c40 0050                                       # TCP: ports 40000 > 80
000003e8 00000000                               # seq 1000, ack 0
a0 02 faf0 0000 0000                            # data offset 10 (40 bytes), SYN, window 64240, checksum, urgent
02 04 05b4                                      # MSS 1460
04 02                                           # SACK permitted
08 0a 00000001 00000000                         # timestamps val 1 ecr 0
01                                              # NOP
03 03 07                                        # window scale 7
`

// dataFrame is 10.0.0.2.80 > 10.0.0.1.40000: Flags [P.], seq 5000:5100, ack 1001, win 502, length 100,
// captured with a 54-byte snaplen: the payload length comes from the IP header.
const dataFrame = `
02 00 00 00 00 01  02 00 00 00 00 02  0800   # Ethernet
45 00 008c 0002 4000 40 06 0000                # IPv4: total 140 = 20 + 20 + 100
0a 00 00 02  0a 00 00 01                        # 10.0.0.2 > 10.0.0.1
0050 9c40 00001388 000003e9                     # ports 80 > 40000, seq 5000, ack 1001
50 18 01f6 0000 0000                            # data offset 5, PSH|ACK, window 502
`

func TestDecodeFixtures(t *testing.T) {
	syn := fixture(t, synFrame)
	data := fixture(t, dataFrame)
	// mutate returns a copy of b with b[i] = v.
	mutate := func(b []byte, i int, v byte) []byte {
		c := append([]byte(nil), b...)
		c[i] = v
		return c
	}
	a1, a2 := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	tests := []struct {
		name    string
		link    LinkType
		frame   []byte
		wire    int
		kind    Kind
		problem Problem
		want    Segment // checked when kind == KindTCP (Time and WireLen are set by the test)
	}{
		// Well-formed.
		{"syn with options", LinkEthernet, syn, len(syn), KindTCP, ProblemNone, Segment{
			Src: netip.AddrPortFrom(a1, 40000), Dst: netip.AddrPortFrom(a2, 80), Seq: 1000, Flags: SYN, Window: 64240,
			WScale: 7, HasTS: true, TSVal: 1, MSS: 1460}},
		{"snaplen-cut payload", LinkEthernet, data, 154, KindTCP, ProblemNone, Segment{
			Src: netip.AddrPortFrom(a2, 80), Dst: netip.AddrPortFrom(a1, 40000), Seq: 5000, Ack: 1001, Flags: PSH | ACK, Window: 502,
			WScale: -1, PayloadLen: 100}},
		{"TSO total length 0 uses wire length", LinkEthernet, mutate(mutate(data, 16, 0), 17, 0), 14 + 20 + 20 + 1448, KindTCP, ProblemNone, Segment{
			Src: netip.AddrPortFrom(a2, 80), Dst: netip.AddrPortFrom(a1, 40000), Seq: 5000, Ack: 1001, Flags: PSH | ACK, Window: 502,
			WScale: -1, PayloadLen: 1448}},
		{"wscale above 14 is used as 14", LinkEthernet, mutate(syn, len(syn)-1, 200), len(syn), KindTCP, ProblemNone, Segment{
			Src: netip.AddrPortFrom(a1, 40000), Dst: netip.AddrPortFrom(a2, 80), Seq: 1000, Flags: SYN, Window: 64240,
			WScale: 14, HasTS: true, TSVal: 1, MSS: 1460}},

		// Malformed: counted, never stale fields.
		{"IPv4 IHL 4", LinkEthernet, mutate(syn, 14, 0x44), len(syn), KindMalformed, ProblemIPv4HeaderLength, Segment{}},
		{"IPv4 IHL 15 swallows the TCP header", LinkEthernet, mutate(syn, 14, 0x4f), len(syn), KindMalformed, ProblemTCPBeyondIP, Segment{}},
		{"IPv4 IHL 15 past the frame", LinkEthernet, mutate(syn, 14, 0x4f)[:14+40], len(syn), KindMalformed, ProblemIPv4Truncated, Segment{}},
		{"IPv4 total length below IHL", LinkEthernet, mutate(syn, 17, 10), len(syn), KindMalformed, ProblemIPv4TotalLength, Segment{}},
		{"IP version 6 in an IPv4 EtherType", LinkEthernet, mutate(syn, 14, 0x65), len(syn), KindMalformed, ProblemIPVersion, Segment{}},
		{"TCP data offset 4", LinkEthernet, mutate(syn, 14+20+12, 0x40), len(syn), KindMalformed, ProblemTCPDataOffset, Segment{}},
		{"TCP data offset past the IP payload", LinkEthernet, mutate(syn, 14+20+12, 0xf0), len(syn), KindMalformed, ProblemTCPBeyondIP, Segment{}},
		{"TCP options cut by snaplen", LinkEthernet, syn[:14+20+30], len(syn), KindMalformed, ProblemTCPTruncated, Segment{}},
		{"TCP header cut by snaplen", LinkEthernet, syn[:14+20+10], len(syn), KindMalformed, ProblemTCPTruncated, Segment{}},
		{"IPv4 header cut", LinkEthernet, syn[:14+12], len(syn), KindMalformed, ProblemIPv4Truncated, Segment{}},
		{"Ethernet header cut", LinkEthernet, syn[:10], len(syn), KindMalformed, ProblemLinkTruncated, Segment{}},
		{"empty frame", LinkEthernet, nil, 0, KindMalformed, ProblemLinkTruncated, Segment{}},

		// Not TCP.
		{"UDP", LinkEthernet, mutate(syn, 14+9, 17), len(syn), KindNotTCP, ProblemNone, Segment{}},
		{"ARP", LinkEthernet, mutate(mutate(syn, 12, 0x08), 13, 0x06), len(syn), KindNotTCP, ProblemNone, Segment{}},
		{"802.3 frame without SNAP", LinkEthernet, mutate(mutate(syn, 12, 0x00), 13, 0x40), len(syn), KindNotTCP, ProblemNone, Segment{}},
		{"unsupported link type", LinkType(147), syn, len(syn), KindUnsupportedLink, ProblemNone, Segment{}},
	}
	// A segment full of garbage proves every field is reset.
	garbage := Segment{Time: 99, Index: 7, Seq: 1, Ack: 2, Flags: 0xff, Window: 3, WScale: 9, HasTS: true, TSVal: 4, TSEcr: 5, MSS: 6, PayloadLen: 8, Source: 3}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d Decoder
			seg := garbage
			kind := d.Decode(tt.link, 42, tt.frame, tt.wire, &seg)
			if kind != tt.kind || d.Problem() != tt.problem {
				t.Fatalf("Decode = %s (%s), want %s (%s)", kind, d.Problem(), tt.kind, tt.problem)
			}
			want := Segment{Time: 42, WireLen: uint32(tt.wire), WScale: -1}
			if kind == KindTCP && tt.want.Src.IsValid() {
				want = tt.want
				want.Time, want.WireLen = 42, uint32(tt.wire)
			}
			if kind == KindTCP && !tt.want.Src.IsValid() {
				return // only the kind matters for this row
			}
			if seg != want {
				t.Errorf("segment\n got %+v\nwant %+v", seg, want)
			}
		})
	}
}

// ipv6Ext is 2001:db8::1.443 > 2001:db8::2.50000: Flags [R.] behind a
// hop-by-hop and a destination options header.
const ipv6Ext = `
60 00 00 00  0024 00 40                     # IPv6: payload 36, next header hop-by-hop, hop limit 64
20010db8 00000000 00000000 00000001         # src 2001:db8::1
20010db8 00000000 00000000 00000002         # dst 2001:db8::2
3c 00 01 04 00 00 00 00                     # hop-by-hop: next dest-opts, length 8, PadN
06 00 01 04 00 00 00 00                     # destination options: next TCP, length 8, PadN
01bb c350 00000064 000000c8                 # TCP: 443 > 50000, seq 100, ack 200
50 14 0000 0000 0000                        # data offset 5, RST|ACK
`

func TestDecodeIPv6ExtensionHeaders(t *testing.T) {
	pkt := fixture(t, ipv6Ext)
	var d Decoder
	var seg Segment
	if k := d.Decode(LinkIPv6, 0, pkt, len(pkt), &seg); k != KindTCP {
		t.Fatalf("Decode = %s (%s), want tcp", k, d.Problem())
	}
	if seg.Src.String() != "[2001:db8::1]:443" || seg.Flags != RST|ACK || seg.Seq != 100 || seg.Ack != 200 || seg.PayloadLen != 0 {
		t.Errorf("segment %+v", seg)
	}

	// A chain that never ends: more destination-options headers than the
	// bound, each pointing to the next.
	var b []byte
	b = append(b, pkt[:40]...)
	b[6] = 60
	for range maxExtHeaders + 2 {
		b = append(b, 60, 0, 1, 4, 0, 0, 0, 0)
	}
	binary.BigEndian.PutUint16(b[4:], uint16(len(b)-40))
	if k := d.Decode(LinkIPv6, 0, b, len(b), &seg); k != KindMalformed || d.Problem() != ProblemIPv6ExtHeaders {
		t.Errorf("endless chain: Decode = %s (%s), want malformed (%s)", k, d.Problem(), ProblemIPv6ExtHeaders)
	}
	// An extension header whose length runs past the packet.
	c := append([]byte(nil), pkt...)
	c[41] = 200
	if k := d.Decode(LinkIPv6, 0, c, len(c), &seg); k != KindMalformed || d.Problem() != ProblemIPv6ExtHeaders {
		t.Errorf("overlong header: Decode = %s (%s), want malformed", k, d.Problem())
	}
}

// Packets built with gopacket's serializer, one per link type and
// encapsulation, so that the decoder is checked against an independent
// encoder.

var (
	cliAddr4 = netip.MustParseAddr("192.0.2.10")
	srvAddr4 = netip.MustParseAddr("198.51.100.20")
	cliAddr6 = netip.MustParseAddr("2001:db8::10")
	srvAddr6 = netip.MustParseAddr("2001:db8::20")
)

// tcpLayer is the segment every encapsulation test carries.
func tcpLayer() *layers.TCP {
	return &layers.TCP{SrcPort: 51000, DstPort: 443, Seq: 0xfffffff0, Ack: 77, SYN: true, ACK: true, Window: 1024,
		Options: []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0x78}}}}
}

// serialize builds a packet from the layers, computing lengths and
// checksums as a real stack would.
func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	// TCP and UDP checksums cover a pseudo-header of the nearest IP layer
	// before them.
	var nl gopacket.NetworkLayer
	for _, l := range ls {
		if n, ok := l.(gopacket.NetworkLayer); ok {
			nl = n
		}
		if c, ok := l.(interface {
			SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
		}); ok && nl != nil {
			c.SetNetworkLayerForChecksum(nl)
		}
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatalf("serialize: %v", err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func ip4(proto layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: proto, SrcIP: cliAddr4.AsSlice(), DstIP: srvAddr4.AsSlice()}
}

func ip6(next layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: next, SrcIP: cliAddr6.AsSlice(), DstIP: srvAddr6.AsSlice()}
}

func eth(et layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: []byte{2, 0, 0, 0, 0, 1}, DstMAC: []byte{2, 0, 0, 0, 0, 2}, EthernetType: et}
}

func TestDecodeLinkTypesAndEncapsulations(t *testing.T) {
	payload := gopacket.Payload([]byte("hello, world"))
	v4 := func() []byte { return serialize(t, ip4(layers.IPProtocolTCP), tcpLayer(), payload) }
	v6 := func() []byte { return serialize(t, ip6(layers.IPProtocolTCP), tcpLayer(), payload) }
	cat := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	sll := func(proto uint16) []byte { // packet type, ARPHRD, address length, address(8), protocol
		h := fixture(t, "0000 0001 0006 020000000001 0000")
		return binary.BigEndian.AppendUint16(h, proto)
	}
	sll2 := func(proto uint16) []byte { // protocol, reserved, ifindex, ARPHRD, packet type, address length, address(8)
		h := binary.BigEndian.AppendUint16(nil, proto)
		return append(h, fixture(t, "0000 00000002 0001 00 06 020000000001 0000")...)
	}
	mpls := func(label uint32, bottom bool) *layers.MPLS {
		return &layers.MPLS{Label: label, StackBottom: bottom, TTL: 64}
	}
	tests := []struct {
		name     string
		link     LinkType
		frame    []byte
		v6       bool
		tunneled bool
	}{
		{"Ethernet IPv4", LinkEthernet, serialize(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcpLayer(), payload), false, false},
		{"Ethernet IPv6", LinkEthernet, serialize(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolTCP), tcpLayer(), payload), true, false},
		{"802.1Q", LinkEthernet, serialize(t, eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 6, Type: layers.EthernetTypeIPv4}, ip4(layers.IPProtocolTCP), tcpLayer(), payload), false, false},
		{"QinQ 802.1ad", LinkEthernet, serialize(t, eth(layers.EthernetTypeQinQ), &layers.Dot1Q{VLANIdentifier: 100, Type: layers.EthernetTypeDot1Q}, &layers.Dot1Q{VLANIdentifier: 6, Type: layers.EthernetTypeIPv6}, ip6(layers.IPProtocolTCP), tcpLayer(), payload), true, false},
		{"QinQ 0x9100", LinkEthernet, cat(fixture(t, "020000000002 020000000001 9100 0064 8100 0006 0800"), v4()), false, false},
		{"MPLS two labels", LinkEthernet, serialize(t, eth(layers.EthernetTypeMPLSUnicast), mpls(100, false), mpls(200, true), ip4(layers.IPProtocolTCP), tcpLayer(), payload), false, false},
		{"MPLS IPv6", LinkEthernet, serialize(t, eth(layers.EthernetTypeMPLSUnicast), mpls(100, true), ip6(layers.IPProtocolTCP), tcpLayer(), payload), true, false},
		{"MPLS pseudowire Ethernet", LinkEthernet, cat(fixture(t, "020000000002 020000000001 8847 00064140 00000000 020000000004 020000000003 0800"), v4()), false, false},
		{"PPPoE session", LinkEthernet, serialize(t, eth(layers.EthernetTypePPPoESession), &layers.PPPoE{Version: 1, Type: 1, Code: layers.PPPoECodeSession, SessionId: 9}, &layers.PPP{PPPType: layers.PPPTypeIPv4}, ip4(layers.IPProtocolTCP), tcpLayer(), payload), false, false},
		{"PPPoE in QinQ", LinkEthernet, cat(fixture(t, "020000000002 020000000001 88a8 0064 8100 0006 8864 1100 0009 0000 0057"), v6()), true, false},
		{"Linux SLL", LinkLinuxSLL, cat(sll(0x0800), v4()), false, false},
		{"Linux SLL VLAN", LinkLinuxSLL, cat(sll(0x8100), fixture(t, "0006 86dd"), v6()), true, false},
		{"Linux SLL2", LinkLinuxSLL2, cat(sll2(0x86dd), v6()), true, false},
		{"NULL little-endian AF_INET", LinkNull, cat([]byte{2, 0, 0, 0}, v4()), false, false},
		{"NULL big-endian AF_INET6 (Darwin 30)", LinkNull, cat([]byte{0, 0, 0, 30}, v6()), true, false},
		{"NULL AF_INET6 (FreeBSD 28)", LinkNull, cat([]byte{28, 0, 0, 0}, v6()), true, false},
		{"LOOP network order", LinkLoop, cat([]byte{0, 0, 0, 2}, v4()), false, false},
		{"raw IPv4 (101)", LinkRaw, v4(), false, false},
		{"raw IPv6 (101)", LinkRaw, v6(), true, false},
		{"raw (12)", LinkRaw12, v4(), false, false},
		{"raw (14)", LinkRaw14, v6(), true, false},
		{"IPv4 (228)", LinkIPv4, v4(), false, false},
		{"IPv6 (229)", LinkIPv6, v6(), true, false},
		{"PPP with HDLC header", LinkPPP, cat([]byte{0xff, 0x03, 0x00, 0x21}, v4()), false, false},
		{"PPP protocol-compressed", LinkPPP, cat([]byte{0x57}, v6()), true, false},
		{"PPP with direction", LinkPPPDir, cat([]byte{0x01, 0xff, 0x03, 0x00, 0x21}, v4()), false, false},
		{"IP over InfiniBand", LinkIPoIB, cat(make([]byte, 40), []byte{0x08, 0x00, 0, 0}, v4()), false, false},
		{"IP in IP", LinkRaw, serialize(t, &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolIPv4, SrcIP: []byte{10, 9, 9, 1}, DstIP: []byte{10, 9, 9, 2}}, ip4(layers.IPProtocolTCP), tcpLayer(), payload), false, true},
		{"IPv6 in IPv4 (6in4)", LinkRaw, serialize(t, &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolIPv6, SrcIP: []byte{10, 9, 9, 1}, DstIP: []byte{10, 9, 9, 2}}, ip6(layers.IPProtocolTCP), tcpLayer(), payload), true, true},
		{"GRE", LinkEthernet, serialize(t, eth(layers.EthernetTypeIPv4), &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolGRE, SrcIP: []byte{10, 9, 9, 1}, DstIP: []byte{10, 9, 9, 2}}, &layers.GRE{Protocol: layers.EthernetTypeIPv4}, ip4(layers.IPProtocolTCP), tcpLayer(), payload), false, true},
		{"GTP-U", LinkEthernet, cat(fixture(t, "020000000002 020000000001 0800"), serialize(t, &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: []byte{10, 9, 9, 1}, DstIP: []byte{10, 9, 9, 2}}, &layers.UDP{SrcPort: 2152, DstPort: 2152}, &layers.GTPv1U{Version: 1, ProtocolType: 1, MessageType: 0xff, TEID: 7}, ip4(layers.IPProtocolTCP), tcpLayer(), payload)), false, true},
		{"VXLAN", LinkEthernet, cat(fixture(t, "020000000002 020000000001 0800"), serialize(t, &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: []byte{10, 9, 9, 1}, DstIP: []byte{10, 9, 9, 2}}, &layers.UDP{SrcPort: 51234, DstPort: 4789}, &layers.VXLAN{ValidIDFlag: true, VNI: 77}, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcpLayer(), payload)), false, true},
		{"Geneve", LinkEthernet, cat(fixture(t, "020000000002 020000000001 0800"), serialize(t, &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: []byte{10, 9, 9, 1}, DstIP: []byte{10, 9, 9, 2}}, &layers.UDP{SrcPort: 51234, DstPort: 6081}, &layers.Geneve{Protocol: layers.EthernetTypeTransparentEthernetBridging, VNI: 77}, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolTCP), tcpLayer(), payload)), true, true},
		{"Teredo", LinkEthernet, cat(fixture(t, "020000000002 020000000001 0800"), serialize(t, &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: []byte{10, 9, 9, 1}, DstIP: []byte{10, 9, 9, 2}}, &layers.UDP{SrcPort: 3544, DstPort: 50000}, ip6(layers.IPProtocolTCP), tcpLayer(), payload)), true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d Decoder
			var seg Segment
			if k := d.Decode(tt.link, 1, tt.frame, len(tt.frame), &seg); k != KindTCP {
				t.Fatalf("Decode = %s (%s), want tcp", k, d.Problem())
			}
			cli, srv := cliAddr4, srvAddr4
			if tt.v6 {
				cli, srv = cliAddr6, srvAddr6
			}
			want := Segment{Time: 1, WireLen: uint32(len(tt.frame)), Src: netip.AddrPortFrom(cli, 51000), Dst: netip.AddrPortFrom(srv, 443),
				Seq: 0xfffffff0, Ack: 77, Flags: SYN | ACK, Window: 1024, WScale: -1, MSS: 1400, PayloadLen: uint32(len(payload))}
			if seg != want {
				t.Errorf("segment\n got %+v\nwant %+v", seg, want)
			}
			if d.Tunneled() != tt.tunneled {
				t.Errorf("Tunneled = %v, want %v", d.Tunneled(), tt.tunneled)
			}
			// With tunnels off, tunneled TCP is not reported.
			d.NoTunnels = true
			if k := d.Decode(tt.link, 1, tt.frame, len(tt.frame), &seg); tt.tunneled && k != KindNotTCP {
				t.Errorf("NoTunnels: Decode = %s, want not-tcp", k)
			}
			// Every truncation of the frame decodes to something without
			// panicking, and never to a TCP segment with stale fields.
			var fresh Decoder
			for n := range len(tt.frame) {
				if k := fresh.Decode(tt.link, 1, tt.frame[:n], len(tt.frame), &seg); k == KindTCP && seg.Src != want.Src {
					t.Errorf("cut at %d: TCP with wrong source %v", n, seg.Src)
				}
			}
		})
	}
}

// TestDecodeTooDeep: a frame of nothing but VLAN tags costs bounded work.
func TestDecodeTooDeep(t *testing.T) {
	b := fixture(t, "020000000002 020000000001 8100")
	for range maxLayers + 1 {
		b = append(b, 0x00, 0x01, 0x81, 0x00)
	}
	var d Decoder
	var seg Segment
	if k := d.Decode(LinkEthernet, 0, b, len(b), &seg); k != KindMalformed || d.Problem() != ProblemTooDeep {
		t.Errorf("Decode = %s (%s), want malformed (%s)", k, d.Problem(), ProblemTooDeep)
	}
}

// fragments splits an IPv4 TCP datagram into fragments of at most size
// payload bytes (a multiple of 8), returning raw IPv4 packets.
func fragments4(t *testing.T, dgram []byte, size int) [][]byte {
	ihl := int(dgram[0]&0x0f) * 4
	payload := dgram[ihl:]
	var out [][]byte
	for off := 0; off < len(payload); off += size {
		end := min(off+size, len(payload))
		f := append(append([]byte(nil), dgram[:ihl]...), payload[off:end]...)
		binary.BigEndian.PutUint16(f[2:], uint16(len(f)))
		fo := uint16(off / 8)
		if end < len(payload) {
			fo |= 0x2000
		}
		binary.BigEndian.PutUint16(f[6:], fo)
		out = append(out, f)
	}
	return out
}

func TestDecodeFragments(t *testing.T) {
	payload := gopacket.Payload(make([]byte, 100))
	dgram := serialize(t, ip4(layers.IPProtocolTCP), tcpLayer(), payload)
	tcpLen := len(dgram) - 20 - len(payload)

	// The TCP header split over fragments of 8 bytes, delivered in every
	// rotation of their order: the segment appears with the last one.
	frags := fragments4(t, dgram, 8)
	for rot := range frags {
		var d Decoder
		var seg Segment
		for i := range frags {
			f := frags[(i+rot)%len(frags)]
			k := d.Decode(LinkRaw, int64(i), f, len(f), &seg)
			if last := i == len(frags)-1; last != (k == KindTCP) {
				t.Fatalf("rotation %d, fragment %d: Decode = %s (%s)", rot, i, k, d.Problem())
			}
		}
		if seg.PayloadLen != uint32(len(payload)) || seg.MSS != 1400 || seg.Seq != 0xfffffff0 || !d.Reassembled() {
			t.Errorf("rotation %d: reassembled segment %+v (tcp header %d bytes)", rot, seg, tcpLen)
		}
	}

	// A missing fragment: never completes, is dropped after the timeout.
	var d Decoder
	var seg Segment
	for i, f := range frags {
		if i == 1 {
			continue
		}
		if k := d.Decode(LinkRaw, 0, f, len(f), &seg); k != KindFragment {
			t.Fatalf("fragment %d: Decode = %s", i, k)
		}
	}
	if pending, _ := d.PendingFragments(); pending != 1 {
		t.Errorf("pending = %d, want 1", pending)
	}
	other := fragments4(t, serialize(t, &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: 9, Protocol: layers.IPProtocolTCP, SrcIP: []byte{1, 1, 1, 1}, DstIP: []byte{2, 2, 2, 2}}, tcpLayer()), 16)
	d.Decode(LinkRaw, fragTimeout+1, other[0], len(other[0]), &seg)
	if pending, dropped := d.PendingFragments(); pending != 1 || dropped != 1 {
		t.Errorf("after timeout: pending %d dropped %d, want 1 and 1", pending, dropped)
	}

	// The table is bounded: many distinct incomplete datagrams evict.
	for i := range 3 * fragSlots {
		f := append([]byte(nil), frags[0]...)
		binary.BigEndian.PutUint16(f[4:], uint16(1000+i))
		d.Decode(LinkRaw, fragTimeout+2, f, len(f), &seg)
	}
	if pending, dropped := d.PendingFragments(); pending != fragSlots || dropped < 2*fragSlots {
		t.Errorf("flood: pending %d dropped %d, want %d and at least %d", pending, dropped, fragSlots, 2*fragSlots)
	}

	// A fragment reaching past 65535 bytes is malformed.
	big := append([]byte(nil), frags[0]...)
	binary.BigEndian.PutUint16(big[6:], 0x2000|0x1fff)
	if k := d.Decode(LinkRaw, 0, big, len(big), &seg); k != KindMalformed || d.Problem() != ProblemFragmentTooLong {
		t.Errorf("oversized fragment: Decode = %s (%s)", k, d.Problem())
	}
	// Fragments of ICMP are not TCP; fragments of UDP may hold a tunnel,
	// unless tunnels are off.
	icmp := append([]byte(nil), frags[0]...)
	icmp[9] = 1
	if k := d.Decode(LinkRaw, 0, icmp, len(icmp), &seg); k != KindNotTCP {
		t.Errorf("ICMP fragment: Decode = %s, want not-tcp", k)
	}
	udp := append([]byte(nil), frags[0]...)
	udp[9] = 17
	if k := d.Decode(LinkRaw, 0, udp, len(udp), &seg); k != KindFragment {
		t.Errorf("UDP fragment: Decode = %s, want fragment", k)
	}
	off := Decoder{NoTunnels: true}
	if k := off.Decode(LinkRaw, 0, udp, len(udp), &seg); k != KindNotTCP {
		t.Errorf("UDP fragment, tunnels off: Decode = %s, want not-tcp", k)
	}
}

// TestDecodeFragmentedTunnel: a GTP-U datagram fragmented on the outside
// (as mobile networks do) is reassembled and its inner TCP decoded.
func TestDecodeFragmentedTunnel(t *testing.T) {
	outer := serialize(t, &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: 5, Protocol: layers.IPProtocolUDP, SrcIP: []byte{10, 9, 9, 1}, DstIP: []byte{10, 9, 9, 2}},
		&layers.UDP{SrcPort: 2152, DstPort: 2152}, &layers.GTPv1U{Version: 1, ProtocolType: 1, MessageType: 0xff, TEID: 7},
		ip4(layers.IPProtocolTCP), tcpLayer(), gopacket.Payload(make([]byte, 1000)))
	frags := fragments4(t, outer, 256)
	var d Decoder
	var seg Segment
	for i, f := range frags {
		k := d.Decode(LinkRaw, 0, f, len(f), &seg)
		if last := i == len(frags)-1; last != (k == KindTCP) {
			t.Fatalf("fragment %d of %d: %s (%s)", i+1, len(frags), k, d.Problem())
		}
	}
	if !d.Tunneled() || !d.Reassembled() || seg.PayloadLen != 1000 || seg.Src.Addr() != cliAddr4 || seg.MSS != 1400 {
		t.Errorf("segment %+v (tunneled %v, reassembled %v)", seg, d.Tunneled(), d.Reassembled())
	}
}

func TestDecodeIPv6Fragments(t *testing.T) {
	dgram := serialize(t, tcpLayerFor6(t), gopacket.Payload(make([]byte, 64)))
	// Two fragments: header fields, fragment header, fragmentable part.
	hdr := func(off int, more bool, part []byte) []byte {
		b := serialize(t, ip6(layers.IPProtocolIPv6Fragment))
		fo := uint16(off)
		if more {
			fo |= 1
		}
		fh := []byte{6, 0, byte(fo >> 8), byte(fo), 0, 0, 0, 42}
		b = append(append(b, fh...), part...)
		binary.BigEndian.PutUint16(b[4:], uint16(len(b)-40))
		return b
	}
	f1, f2 := hdr(0, true, dgram[:16]), hdr(16, false, dgram[16:])
	var d Decoder
	var seg Segment
	if k := d.Decode(LinkIPv6, 0, f1, len(f1), &seg); k != KindFragment {
		t.Fatalf("first fragment: %s", k)
	}
	if k := d.Decode(LinkIPv6, 0, f2, len(f2), &seg); k != KindTCP || seg.PayloadLen != 64 || seg.Src.Addr() != cliAddr6 {
		t.Fatalf("second fragment: %s %+v", k, seg)
	}
	// An atomic fragment (offset 0, no more) is just a packet.
	atomic := hdr(0, false, dgram)
	if k := d.Decode(LinkIPv6, 0, atomic, len(atomic), &seg); k != KindTCP || d.Reassembled() {
		t.Fatalf("atomic fragment: %s", k)
	}
}

// tcpLayerFor6 is tcpLayer with its checksum computed over IPv6.
func tcpLayerFor6(t *testing.T) *layers.TCP {
	tcp := tcpLayer()
	tcp.SetNetworkLayerForChecksum(ip6(layers.IPProtocolTCP))
	return tcp
}

// TestDecodeNoAllocs: decoding a steady stream does not allocate, on the
// plain path and through encapsulations.
func TestDecodeNoAllocs(t *testing.T) {
	frames := [][]byte{
		fixture(t, synFrame),
		serialize(t, eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 6, Type: layers.EthernetTypeIPv6}, ip6(layers.IPProtocolTCP), tcpLayer()),
		serialize(t, eth(layers.EthernetTypeMPLSUnicast), &layers.MPLS{Label: 1, StackBottom: true}, ip4(layers.IPProtocolTCP), tcpLayer()),
	}
	var d Decoder
	var seg Segment
	for _, f := range frames {
		if n := testing.AllocsPerRun(1000, func() { d.Decode(LinkEthernet, 1, f, len(f), &seg) }); n != 0 {
			t.Errorf("Decode allocates %.1f times per packet", n)
		}
	}
}

var sinkSeg Segment

func BenchmarkDecode(b *testing.B) {
	frame := fixture(b, synFrame)
	var d Decoder
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		d.Decode(LinkEthernet, 1, frame, len(frame), &sinkSeg)
	}
}

// BenchmarkDecodeGopacket measures the alternative: gopacket's
// DecodingLayerParser with preallocated layers, on the same frame.
func BenchmarkDecodeGopacket(b *testing.B) {
	frame := fixture(b, synFrame)
	var (
		ethL layers.Ethernet
		ipL  layers.IPv4
		ip6L layers.IPv6
		tcpL layers.TCP
	)
	parser := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &ethL, &ipL, &ip6L, &tcpL)
	parser.IgnoreUnsupported = true
	decoded := make([]gopacket.LayerType, 0, 4)
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		_ = parser.DecodeLayers(frame, &decoded)
		sinkSeg.Seq = tcpL.Seq
	}
}

// TestDecodeChecksums: gopacket computes correct checksums; flipping a
// payload byte makes them wrong; a snaplen-cut segment is unverified.
func TestDecodeChecksums(t *testing.T) {
	payload := gopacket.Payload([]byte("abc")) // odd length: the last byte is padded
	for _, frame := range [][]byte{
		serialize(t, ip4(layers.IPProtocolTCP), tcpLayer(), payload),
		serialize(t, ip6(layers.IPProtocolTCP), tcpLayer(), payload),
	} {
		d := Decoder{VerifyChecksums: true}
		var seg Segment
		if d.Decode(LinkRaw, 0, frame, len(frame), &seg); seg.Checksum != ChecksumGood {
			t.Errorf("good packet: checksum %s", seg.Checksum)
		}
		bad := append([]byte(nil), frame...)
		bad[len(bad)-1] ^= 0x40
		if d.Decode(LinkRaw, 0, bad, len(bad), &seg); seg.Checksum != ChecksumBad {
			t.Errorf("flipped bit: checksum %s", seg.Checksum)
		}
		if d.Decode(LinkRaw, 0, frame[:len(frame)-1], len(frame), &seg); seg.Checksum != ChecksumUnverified {
			t.Errorf("cut packet: checksum %s", seg.Checksum)
		}
		d.VerifyChecksums = false
		if d.Decode(LinkRaw, 0, bad, len(bad), &seg); seg.Checksum != ChecksumUnverified {
			t.Errorf("verification off: checksum %s", seg.Checksum)
		}
	}
}

// TestDecodeTimestampLayouts decodes the timestamps option wherever the
// padding puts it: after two NOPs (the layout Decoder.tcp reads without its
// option loop) and in the other orders, which must give the same segment.
func TestDecodeTimestampLayouts(t *testing.T) {
	base := fixture(t, dataFrame)
	const hdrs = 14 + 20 + 20
	var want Segment
	for i, layout := range []string{
		"01 01 080a 00000007 00000009", // NOP, NOP, TS
		"080a 00000007 00000009 01 01", // TS, NOP, NOP
		"01 080a 00000007 00000009 01", // NOP, TS, NOP
		"080a 00000007 00000009 00 00", // TS, end of options
	} {
		opts := fixture(t, layout)
		frame := append(append(append([]byte(nil), base[:hdrs]...), opts...), base[hdrs:]...)
		frame[14+20+12] = byte((20+len(opts))/4) << 4
		binary.BigEndian.PutUint16(frame[14+2:], binary.BigEndian.Uint16(base[14+2:])+uint16(len(opts)))
		var d Decoder
		var seg Segment
		if k := d.Decode(LinkEthernet, 1, frame, len(frame), &seg); k != KindTCP {
			t.Fatalf("%s: kind %v, problem %v", layout, k, d.Problem())
		}
		if !seg.HasTS || seg.TSVal != 7 || seg.TSEcr != 9 || seg.PayloadLen != 100 {
			t.Errorf("%s: HasTS %v TSval %d TSecr %d payload %d; want true 7 9 100", layout, seg.HasTS, seg.TSVal, seg.TSEcr, seg.PayloadLen)
		}
		if i == 0 {
			want = seg
		} else if seg != want {
			t.Errorf("%s: decoded as\n%+v\nbut NOP, NOP, TS as\n%+v", layout, seg, want)
		}
	}
}
