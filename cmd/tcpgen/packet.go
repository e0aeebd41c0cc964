package main

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// tcpFlags is the TCP control-bit byte, in wire bit order. The generator has
// its own copy rather than importing capture.Flags so that it builds on its
// own while capture/ is being written, and so that the files it writes are an
// oracle independent of the code under test.
type tcpFlags uint8

const (
	flagFIN tcpFlags = 1 << iota
	flagSYN
	flagRST
	flagPSH
	flagACK
)

// String prints the flags as tcpdump does ("S.", "F.", "R"), which keeps test
// failures readable next to a tcpdump of the same file.
func (f tcpFlags) String() string {
	var b []byte
	for _, fl := range [...]struct {
		bit tcpFlags
		ch  byte
	}{{flagSYN, 'S'}, {flagFIN, 'F'}, {flagPSH, 'P'}, {flagRST, 'R'}} {
		if f&fl.bit != 0 {
			b = append(b, fl.ch)
		}
	}
	if f&flagACK != 0 {
		b = append(b, '.')
	}
	if len(b) == 0 {
		return "none"
	}
	return string(b)
}

// packet is one TCP segment as a scenario describes it: addresses, sequence
// space and flags, plus how to put it on the wire. It holds no bytes; the
// encoder builds them when the file is written.
type packet struct {
	at       time.Duration // since the capture's base time
	src, dst netip.AddrPort
	seq, ack uint32
	flags    tcpFlags
	window   uint16
	payload  int // payload length; the content is filler
	// wscale is the window-scale option of a SYN (-1: none). SYNs also carry
	// MSS and SACK-permitted, as Linux sends them.
	wscale int8
	// ts carries the timestamp option (RFC 7323) when hasTS.
	hasTS        bool
	tsVal, tsEcr uint32
	// iface is the index of the link (pcapng interface) the packet was
	// captured on; 0 for single-link files.
	iface int
	// fragment splits an IPv4 packet into two fragments, the first holding
	// the TCP header; the second carries only payload.
	fragment bool
	ipID     uint16
	// file is the index of the output file of a multi-file scenario.
	file int
	// direction overrides the Linux cooked-capture packet type, for a host
	// that sees its own packet leave and arrive (loopback with -i any).
	direction direction
	// udp makes this a UDP datagram carrying data, the non-TCP traffic
	// every real capture has and tcpaudit must count and skip.
	udp  bool
	data []byte
	// ttl is the IPv4 TTL or IPv6 hop limit; 0 means 64, Linux's default.
	ttl uint8
	// fill, when non-zero, replaces the payload with that byte repeated, for
	// retransmissions whose content contradicts the original.
	fill byte
}

// tcpdump renders the segment like a tcpdump line, for test failures.
func (p packet) tcpdump() string {
	return fmt.Sprintf("%v > %v: Flags [%v], seq %d, ack %d, win %d, length %d",
		p.src, p.dst, p.flags, p.seq, p.ack, p.window, p.payload)
}

// filler is the payload content of every segment: printable, so that a
// hexdump of a test file is easy on the eyes, and shared so that encoding a
// packet never allocates a payload.
var filler = func() []byte {
	const text = "GET /healthz HTTP/1.1\r\nHost: tcpaudit.test\r\nUser-Agent: tcpgen\r\n\r\n"
	b := make([]byte, 1<<16)
	for i := range b {
		b[i] = text[i%len(text)]
	}
	return b
}()

// rawLayer is a header gopacket cannot serialize (Linux SLL/SLL2, an IPv6
// destination-options header): its bytes are prepended as they are.
type rawLayer []byte

func (r rawLayer) LayerType() gopacket.LayerType { return gopacket.LayerTypePayload }

func (r rawLayer) SerializeTo(b gopacket.SerializeBuffer, _ gopacket.SerializeOptions) error {
	out, err := b.PrependBytes(len(r))
	if err != nil {
		return err
	}
	copy(out, r)
	return nil
}

// encoder turns packets into frames for one link. It reuses its layers and
// buffer, so a long run (bench, synflood) does not allocate per packet beyond
// what gopacket's serializer does.
type encoder struct {
	buf     gopacket.SerializeBuffer
	frag    gopacket.SerializeBuffer
	stack   []gopacket.SerializableLayer
	eth     layers.Ethernet
	dot1q   [2]layers.Dot1Q
	mpls    layers.MPLS
	pppoe   layers.PPPoE
	ppp     layers.PPP
	null    layers.Loopback
	ip4     layers.IPv4
	ip6     layers.IPv6
	tcp     layers.TCP
	udp     layers.UDP
	opts    [5]layers.TCPOption
	optBuf  [16]byte
	sll     [20]byte
	fillBuf []byte
}

var serializeOpts = gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}

func newEncoder() *encoder {
	return &encoder{
		buf:   gopacket.NewSerializeBufferExpectedSize(64, 1600),
		frag:  gopacket.NewSerializeBufferExpectedSize(64, 1600),
		stack: make([]gopacket.SerializableLayer, 0, 10),
	}
}

// macOf derives a stable, locally administered MAC address from an IP
// address so that Ethernet headers look like two real hosts.
func macOf(a netip.Addr) net.HardwareAddr {
	b := a.As16()
	return net.HardwareAddr{0x02, 0x42, b[12], b[13], b[14], b[15]}
}

// dest6Opts is an IPv6 destination-options header holding only a PadN
// option: the smallest legal extension header (RFC 8200 section 4.6), enough
// to make a decoder walk the chain to TCP.
var dest6Opts = rawLayer{byte(layers.IPProtocolTCP), 0, 1, 4, 0, 0, 0, 0}

// encode builds the frame(s) of p on link l and hands each to emit. The
// slice passed to emit is only valid during the call.
func (e *encoder) encode(l link, p *packet, emit func(frame []byte) error) error {
	e.stack = e.stack[:0]
	is6 := p.src.Addr().Is6()
	etherType := layers.EthernetTypeIPv4
	if is6 {
		etherType = layers.EthernetTypeIPv6
	}
	if err := e.linkLayers(l, p, etherType); err != nil {
		return err
	}
	var network gopacket.NetworkLayer
	ttl := p.ttl
	if ttl == 0 {
		ttl = 64
	}
	proto := layers.IPProtocolTCP
	if p.udp {
		proto = layers.IPProtocolUDP
	}
	if is6 {
		e.ip6 = layers.IPv6{
			Version: 6, HopLimit: ttl, NextHeader: proto,
			SrcIP: p.src.Addr().AsSlice(), DstIP: p.dst.Addr().AsSlice(),
		}
		network = &e.ip6
		e.stack = append(e.stack, &e.ip6)
		if l.ext6 {
			e.ip6.NextHeader = layers.IPProtocolIPv6Destination
			e.stack = append(e.stack, dest6Opts)
		}
	} else {
		e.ip4 = layers.IPv4{
			Version: 4, IHL: 5, TTL: ttl, Id: p.ipID, Flags: layers.IPv4DontFragment,
			Protocol: proto,
			SrcIP:    p.src.Addr().AsSlice(), DstIP: p.dst.Addr().AsSlice(),
		}
		if p.fragment {
			e.ip4.Flags = layers.IPv4MoreFragments
		}
		network = &e.ip4
		e.stack = append(e.stack, &e.ip4)
	}
	if p.udp {
		e.udp = layers.UDP{SrcPort: layers.UDPPort(p.src.Port()), DstPort: layers.UDPPort(p.dst.Port())}
		if err := e.udp.SetNetworkLayerForChecksum(network); err != nil {
			return fmt.Errorf("udp checksum: %w", err)
		}
		e.stack = append(e.stack, &e.udp, gopacket.Payload(p.data))
		if err := gopacket.SerializeLayers(e.buf, serializeOpts, e.stack...); err != nil {
			return fmt.Errorf("serialize udp %v > %v: %w", p.src, p.dst, err)
		}
		return emit(e.buf.Bytes())
	}
	e.tcp = layers.TCP{
		SrcPort: layers.TCPPort(p.src.Port()), DstPort: layers.TCPPort(p.dst.Port()),
		Seq: p.seq, Ack: p.ack, Window: p.window,
		FIN: p.flags&flagFIN != 0, SYN: p.flags&flagSYN != 0, RST: p.flags&flagRST != 0,
		PSH: p.flags&flagPSH != 0, ACK: p.flags&flagACK != 0,
		Options: e.tcpOptions(p),
	}
	if err := e.tcp.SetNetworkLayerForChecksum(network); err != nil {
		return fmt.Errorf("tcp checksum: %w", err)
	}
	e.stack = append(e.stack, &e.tcp, gopacket.Payload(e.payload(p)))
	if err := gopacket.SerializeLayers(e.buf, serializeOpts, e.stack...); err != nil {
		return fmt.Errorf("serialize %s: %w", p.tcpdump(), err)
	}
	if !p.fragment || is6 {
		return emit(e.buf.Bytes())
	}
	return e.fragment(l, p, emit)
}

// payload returns the segment's payload bytes, which alias the encoder.
func (e *encoder) payload(p *packet) []byte {
	if p.fill == 0 {
		return filler[:p.payload]
	}
	if cap(e.fillBuf) < p.payload {
		e.fillBuf = make([]byte, p.payload)
	}
	b := e.fillBuf[:p.payload]
	for i := range b {
		b[i] = p.fill
	}
	return b
}

// tcpOptions lays out the options as Linux does: SYNs carry MSS,
// SACK-permitted, timestamps and window scale; later segments only
// timestamps. The result aliases the encoder's storage.
func (e *encoder) tcpOptions(p *packet) []layers.TCPOption {
	o := e.opts[:0]
	if p.flags&flagSYN != 0 {
		binary.BigEndian.PutUint16(e.optBuf[0:2], 1460)
		o = append(o, layers.TCPOption{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: e.optBuf[0:2]})
		o = append(o, layers.TCPOption{OptionType: layers.TCPOptionKindSACKPermitted, OptionLength: 2})
	}
	if p.hasTS {
		if p.flags&flagSYN == 0 {
			// NOP, NOP, TS: Linux aligns the timestamps on 4 bytes.
			o = append(o, layers.TCPOption{OptionType: layers.TCPOptionKindNop, OptionLength: 1},
				layers.TCPOption{OptionType: layers.TCPOptionKindNop, OptionLength: 1})
		}
		binary.BigEndian.PutUint32(e.optBuf[4:8], p.tsVal)
		binary.BigEndian.PutUint32(e.optBuf[8:12], p.tsEcr)
		o = append(o, layers.TCPOption{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: e.optBuf[4:12]})
	}
	if p.flags&flagSYN != 0 && p.wscale >= 0 {
		e.optBuf[12] = byte(p.wscale)
		o = append(o, layers.TCPOption{OptionType: layers.TCPOptionKindNop, OptionLength: 1},
			layers.TCPOption{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: e.optBuf[12:13]})
	}
	return o
}

// linkLayers pushes the link-layer headers of l for a packet of the given
// ethertype.
func (e *encoder) linkLayers(l link, p *packet, etherType layers.EthernetType) error {
	switch l.kind {
	case linkEthernet, linkVLAN, linkQinQ, linkMPLS, linkPPPoE:
		e.eth = layers.Ethernet{SrcMAC: macOf(p.src.Addr()), DstMAC: macOf(p.dst.Addr()), EthernetType: etherType}
		e.stack = append(e.stack, &e.eth)
		inner := &e.eth.EthernetType
		if l.kind == linkQinQ {
			// 802.1ad outer tag (service VLAN) around an 802.1Q customer tag.
			e.eth.EthernetType = layers.EthernetTypeQinQ
			e.dot1q[0] = layers.Dot1Q{VLANIdentifier: l.outerVLAN, Type: layers.EthernetTypeDot1Q}
			e.stack = append(e.stack, &e.dot1q[0])
			inner = &e.dot1q[0].Type
		}
		switch l.kind {
		case linkVLAN, linkQinQ:
			*inner = layers.EthernetTypeDot1Q
			e.dot1q[1] = layers.Dot1Q{VLANIdentifier: l.vlan, Type: etherType}
			e.stack = append(e.stack, &e.dot1q[1])
		case linkMPLS:
			// MPLS carries no protocol field: a decoder must guess IPv4 or
			// IPv6 from the first nibble after the bottom of the stack.
			e.eth.EthernetType = layers.EthernetTypeMPLSUnicast
			e.mpls = layers.MPLS{Label: l.mplsLabel, StackBottom: true, TTL: 64}
			e.stack = append(e.stack, &e.mpls)
		case linkPPPoE:
			e.eth.EthernetType = layers.EthernetTypePPPoESession
			e.pppoe = layers.PPPoE{Version: 1, Type: 1, Code: layers.PPPoECodeSession, SessionId: l.pppoeSession}
			e.ppp = layers.PPP{PPPType: layers.PPPTypeIPv4}
			if etherType == layers.EthernetTypeIPv6 {
				e.ppp.PPPType = layers.PPPTypeIPv6
			}
			e.stack = append(e.stack, &e.pppoe, &e.ppp)
		}
	case linkSLL:
		// Linux cooked v1: packet type, ARPHRD, address length, address,
		// protocol (see pcap-linktype(7), LINKTYPE_LINUX_SLL).
		h := e.sll[:16]
		clear(h)
		binary.BigEndian.PutUint16(h[0:2], sllPacketType(l, p))
		binary.BigEndian.PutUint16(h[2:4], 1) // ARPHRD_ETHER
		binary.BigEndian.PutUint16(h[4:6], 6)
		copy(h[6:12], macOf(p.src.Addr()))
		binary.BigEndian.PutUint16(h[14:16], uint16(etherType))
		e.stack = append(e.stack, rawLayer(h))
	case linkSLL2:
		// Linux cooked v2 (what `tcpdump -i any` writes): protocol,
		// reserved, interface index, ARPHRD, packet type, address length,
		// address (LINKTYPE_LINUX_SLL2).
		h := e.sll[:20]
		clear(h)
		binary.BigEndian.PutUint16(h[0:2], uint16(etherType))
		binary.BigEndian.PutUint32(h[4:8], uint32(cmp.Or(l.ifindex, 2))) // 2: eth0 on a typical host
		binary.BigEndian.PutUint16(h[8:10], 1)
		h[10] = byte(sllPacketType(l, p))
		h[11] = 6
		copy(h[12:18], macOf(p.src.Addr()))
		e.stack = append(e.stack, rawLayer(h))
	case linkNull:
		e.null = layers.Loopback{Family: layers.ProtocolFamilyIPv4}
		if etherType == layers.EthernetTypeIPv6 {
			e.null.Family = layers.ProtocolFamilyIPv6BSD
		}
		e.stack = append(e.stack, &e.null)
	case linkRaw:
		// The IP header is the first byte.
	default:
		return fmt.Errorf("link %v: no encoder", l.kind)
	}
	return nil
}

// direction is how a Linux host saw a packet it captured.
type direction uint8

const (
	dirAuto     direction = iota // from link.local: outgoing if it sent it
	dirOutgoing                  // PACKET_OUTGOING
	dirIncoming                  // PACKET_HOST
)

// sllPacketType is PACKET_HOST (0) for packets to the capturing host and
// PACKET_OUTGOING (4) for packets it sent.
func sllPacketType(l link, p *packet) uint16 {
	switch {
	case p.direction == dirOutgoing:
		return 4
	case p.direction == dirIncoming:
		return 0
	case l.local.IsValid() && p.src.Addr() == l.local:
		return 4
	}
	return 0
}

// fragment re-emits the IPv4 packet in e.buf as two fragments (RFC 791): the
// first carries the IP header, the TCP header and the first payload bytes
// (offset a multiple of 8), the second the rest. The TCP checksum was
// computed over the whole segment, as the sender did.
func (e *encoder) fragment(l link, p *packet, emit func([]byte) error) error {
	whole := e.buf.Bytes()
	ipStart := len(whole) - int(e.ip4.Length)
	tcpLen := int(e.tcp.DataOffset) * 4
	split := (tcpLen + 8 + 7) &^ 7 // TCP header plus at least 8 payload bytes
	ipPayload := whole[ipStart+20:]
	if split >= len(ipPayload) {
		return fmt.Errorf("fragment %s: payload of %d bytes too short to split", p.tcpdump(), p.payload)
	}
	first := append([]byte(nil), whole[:ipStart+20+split]...)
	patchIPv4(first[ipStart:], uint16(20+split), 0, true)
	if err := emit(first); err != nil {
		return err
	}
	second := append(append([]byte(nil), whole[:ipStart+20]...), ipPayload[split:]...)
	patchIPv4(second[ipStart:], uint16(20+len(ipPayload)-split), uint16(split/8), false)
	return emit(second)
}

// patchIPv4 rewrites total length, fragment offset and MF of an IPv4 header
// and recomputes its checksum.
func patchIPv4(h []byte, total, offset8 uint16, more bool) {
	binary.BigEndian.PutUint16(h[2:4], total)
	fo := offset8 & 0x1fff
	if more {
		fo |= 0x2000
	}
	binary.BigEndian.PutUint16(h[6:8], fo)
	h[10], h[11] = 0, 0
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	binary.BigEndian.PutUint16(h[10:12], ^uint16(sum))
}
