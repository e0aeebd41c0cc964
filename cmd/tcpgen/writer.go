package main

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// linkKind is the link-layer framing of the packets on one interface.
type linkKind uint8

const (
	linkEthernet linkKind = iota
	linkVLAN              // Ethernet + one 802.1Q tag
	linkQinQ              // Ethernet + 802.1ad outer tag + 802.1Q inner tag
	linkMPLS              // Ethernet + one MPLS label
	linkPPPoE             // Ethernet + PPPoE session + PPP
	linkSLL               // Linux cooked capture v1
	linkSLL2              // Linux cooked capture v2 (tcpdump -i any)
	linkNull              // BSD loopback (DLT_NULL)
	linkRaw               // raw IP, no link header
)

var linkNames = [...]string{"ethernet", "vlan", "qinq", "mpls", "pppoe", "sll", "sll2", "null", "raw"}

func (k linkKind) String() string {
	if int(k) < len(linkNames) {
		return linkNames[k]
	}
	return fmt.Sprintf("linkKind(%d)", uint8(k))
}

// linkType is the DLT/LINKTYPE written in the file or interface header.
func (k linkKind) linkType() layers.LinkType {
	switch k {
	case linkSLL:
		return layers.LinkTypeLinuxSLL
	case linkSLL2:
		return layers.LinkTypeLinuxSLL2
	case linkNull:
		return layers.LinkTypeNull
	case linkRaw:
		return layers.LinkTypeRaw
	default:
		return layers.LinkTypeEthernet
	}
}

// link is one capture interface: its framing and the parameters of that
// framing.
type link struct {
	kind linkKind
	// name is the pcapng interface name.
	name            string
	vlan, outerVLAN uint16
	mplsLabel       uint32
	pppoeSession    uint16
	// local is the capturing host, which decides the SLL packet type
	// (outgoing or to us); the zero Addr marks every packet incoming.
	local netip.Addr
	// ext6 puts a destination-options extension header in every IPv6 packet.
	ext6 bool
	// ifindex is the SLL2 interface index (0: 2, a typical eth0).
	ifindex uint32
}

var ethernet = link{kind: linkEthernet, name: "eth0"}

// fileFormat is the container a capture is written in.
type fileFormat uint8

const (
	formatPcap          fileFormat = iota // little-endian, microsecond
	formatPcapNano                        // little-endian, nanosecond
	formatPcapBigEndian                   // big-endian, microsecond (as SPARC or old AIX tcpdump wrote)
	formatPcapng
)

var formatNames = [...]string{"pcap", "pcap-ns", "pcap-be", "pcapng"}

func (f fileFormat) String() string {
	if int(f) < len(formatNames) {
		return formatNames[f]
	}
	return fmt.Sprintf("fileFormat(%d)", uint8(f))
}

// snapLen is what tcpdump uses by default since 4.0.
const snapLen = 262144

// frameWriter writes finished frames into a capture container.
type frameWriter interface {
	// write stores one frame captured at t on interface iface.
	write(t time.Time, iface int, frame []byte) error
	// flush pushes buffered output to the underlying writer.
	flush() error
}

// newFrameWriter writes the file header for format and links and returns a
// writer for the packets. pcap holds a single link type; pcapng gets one
// interface per link.
func newFrameWriter(w io.Writer, format fileFormat, links []link) (frameWriter, error) {
	if len(links) == 0 {
		return nil, fmt.Errorf("%v: no link", format)
	}
	if format != formatPcapng && len(links) > 1 {
		return nil, fmt.Errorf("%v holds one link type, got %d links", format, len(links))
	}
	switch format {
	case formatPcap, formatPcapNano:
		bw := bufio.NewWriterSize(w, 1<<16)
		pw := pcapgo.NewWriter(bw)
		if format == formatPcapNano {
			pw = pcapgo.NewWriterNanos(bw)
		}
		if err := pw.WriteFileHeader(snapLen, links[0].kind.linkType()); err != nil {
			return nil, fmt.Errorf("pcap header: %w", err)
		}
		return &pcapWriter{w: pw, bw: bw}, nil
	case formatPcapBigEndian:
		return newBigEndianWriter(w, links[0].kind.linkType())
	case formatPcapng:
		return newNgWriter(w, links)
	}
	return nil, fmt.Errorf("unknown format %v", format)
}

type pcapWriter struct {
	w  *pcapgo.Writer
	bw *bufio.Writer
}

func (p *pcapWriter) write(t time.Time, _ int, frame []byte) error {
	return p.w.WritePacket(gopacket.CaptureInfo{Timestamp: t, CaptureLength: len(frame), Length: len(frame)}, frame)
}

func (p *pcapWriter) flush() error { return p.bw.Flush() }

// bigEndianWriter writes classic pcap in big-endian byte order, which
// pcapgo cannot: readers must honour the magic's byte order.
type bigEndianWriter struct {
	bw  *bufio.Writer
	hdr [16]byte
}

func newBigEndianWriter(w io.Writer, lt layers.LinkType) (*bigEndianWriter, error) {
	b := &bigEndianWriter{bw: bufio.NewWriter(w)}
	var h [24]byte
	binary.BigEndian.PutUint32(h[0:4], 0xa1b2c3d4)
	binary.BigEndian.PutUint16(h[4:6], 2)
	binary.BigEndian.PutUint16(h[6:8], 4)
	binary.BigEndian.PutUint32(h[16:20], snapLen)
	binary.BigEndian.PutUint32(h[20:24], uint32(lt))
	if _, err := b.bw.Write(h[:]); err != nil {
		return nil, fmt.Errorf("pcap header: %w", err)
	}
	return b, nil
}

func (b *bigEndianWriter) write(t time.Time, _ int, frame []byte) error {
	binary.BigEndian.PutUint32(b.hdr[0:4], uint32(t.Unix()))
	binary.BigEndian.PutUint32(b.hdr[4:8], uint32(t.Nanosecond()/1000))
	binary.BigEndian.PutUint32(b.hdr[8:12], uint32(len(frame)))
	binary.BigEndian.PutUint32(b.hdr[12:16], uint32(len(frame)))
	if _, err := b.bw.Write(b.hdr[:]); err != nil {
		return err
	}
	_, err := b.bw.Write(frame)
	return err
}

func (b *bigEndianWriter) flush() error { return b.bw.Flush() }

type ngWriter struct{ w *pcapgo.NgWriter }

// ngSection is fixed rather than pcapgo's default, which records the build
// machine's GOOS/GOARCH and would make the files differ between machines.
var ngSection = pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{
	Application: "tcpgen (tcpaudit test generator)",
}}

func newNgWriter(w io.Writer, links []link) (*ngWriter, error) {
	intf := func(l link) pcapgo.NgInterface {
		return pcapgo.NgInterface{Name: l.name, LinkType: l.kind.linkType(), SnapLength: snapLen, TimestampResolution: 9}
	}
	nw, err := pcapgo.NewNgWriterInterface(w, intf(links[0]), ngSection)
	if err != nil {
		return nil, fmt.Errorf("pcapng header: %w", err)
	}
	for _, l := range links[1:] {
		if _, err := nw.AddInterface(intf(l)); err != nil {
			return nil, fmt.Errorf("pcapng interface %s: %w", l.name, err)
		}
	}
	return &ngWriter{w: nw}, nil
}

func (n *ngWriter) write(t time.Time, iface int, frame []byte) error {
	return n.w.WritePacket(gopacket.CaptureInfo{Timestamp: t, CaptureLength: len(frame), Length: len(frame), InterfaceIndex: iface}, frame)
}

func (n *ngWriter) flush() error { return n.w.Flush() }

// gzipWriter compresses with a fixed header (no name, zero mtime) so that the
// output is byte-for-byte reproducible.
func gzipWriter(w io.Writer) *gzip.Writer {
	zw, _ := gzip.NewWriterLevel(w, gzip.BestCompression) // the level is valid
	return zw
}
