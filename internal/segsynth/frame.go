package segsynth

import (
	"encoding/binary"
	"errors"
	"io"

	"github.com/tcpaudit/tcpaudit/capture"
)

// AppendFrame appends seg as an Ethernet II / IPv4 / TCP frame, with the
// MSS and window-scale options when seg carries them and the timestamp
// option when HasTS, and a payload of seg.PayloadLen filler bytes (at most
// maxPayload: longer payloads are cut, as a snaplen would, while the IP
// length still declares them). Checksums are correct. It allocates only
// when b must grow.
//
// Only IPv4 endpoints are supported: the streams this package makes are
// IPv4.
func AppendFrame(b []byte, seg *capture.Segment) []byte {
	var opts [20]byte
	o := 0
	if seg.MSS != 0 {
		opts[o], opts[o+1] = 2, 4
		binary.BigEndian.PutUint16(opts[o+2:], seg.MSS)
		o += 4
	}
	if seg.WScale >= 0 {
		opts[o], opts[o+1], opts[o+2], opts[o+3] = 1, 3, 3, byte(seg.WScale)
		o += 4
	}
	if seg.HasTS {
		opts[o], opts[o+1], opts[o+2], opts[o+3] = 1, 1, 8, 10
		binary.BigEndian.PutUint32(opts[o+4:], seg.TSVal)
		binary.BigEndian.PutUint32(opts[o+8:], seg.TSEcr)
		o += 12
	}
	tcpLen := 20 + o
	captured := min(int(seg.PayloadLen), maxPayload)
	start := len(b)
	b = append(b, make([]byte, 14+20+tcpLen+captured)...)
	f := b[start:]

	// Ethernet: locally administered MACs, EtherType IPv4.
	copy(f[0:6], []byte{0x02, 0, 0, 0, 0, 2})
	copy(f[6:12], []byte{0x02, 0, 0, 0, 0, 1})
	binary.BigEndian.PutUint16(f[12:], 0x0800)

	ip := f[14:34]
	src, dst := seg.Src.Addr().As4(), seg.Dst.Addr().As4()
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+tcpLen+int(seg.PayloadLen)))
	binary.BigEndian.PutUint16(ip[4:], uint16(seg.Index))
	ip[6] = 0x40 // don't fragment
	ip[8] = 64
	ip[9] = 6
	copy(ip[12:16], src[:])
	copy(ip[16:20], dst[:])
	binary.BigEndian.PutUint16(ip[10:], checksum(ip, 0))

	tcp := f[34:]
	binary.BigEndian.PutUint16(tcp[0:], seg.Src.Port())
	binary.BigEndian.PutUint16(tcp[2:], seg.Dst.Port())
	binary.BigEndian.PutUint32(tcp[4:], seg.Seq)
	binary.BigEndian.PutUint32(tcp[8:], seg.Ack)
	tcp[12] = byte(tcpLen/4) << 4
	tcp[13] = byte(seg.Flags)
	binary.BigEndian.PutUint16(tcp[14:], seg.Window)
	copy(tcp[20:], opts[:o])
	copy(tcp[tcpLen:], filler[:captured])
	// The checksum covers the captured bytes only when the payload was
	// cut; a real capture of a snaplen-cut packet is in the same state.
	pseudo := sum(src[:], 0) + sum(dst[:], 0) + 6 + uint32(tcpLen+int(seg.PayloadLen))
	binary.BigEndian.PutUint16(tcp[16:], checksum(tcp, pseudo))
	return b
}

// maxPayload bounds the payload bytes AppendFrame writes.
const maxPayload = 1460

var filler = func() []byte {
	b := make([]byte, maxPayload)
	for i := range b {
		b[i] = "segsynth "[i%9]
	}
	return b
}()

func sum(b []byte, s uint32) uint32 {
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	return s
}

// checksum is the Internet checksum (RFC 1071) of b, starting from s.
func checksum(b []byte, s uint32) uint16 {
	s = sum(b, s)
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// WritePcap writes every remaining segment of s to w as a little-endian,
// nanosecond-resolution pcap file of Ethernet frames. It returns the
// number of packets written.
func WritePcap(w io.Writer, s *Stream) (int, error) {
	var hdr [24]byte
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b23c4d) // nanosecond pcap
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535)
	binary.LittleEndian.PutUint32(hdr[20:], 1) // LINKTYPE_ETHERNET
	if _, err := w.Write(hdr[:]); err != nil {
		return 0, err
	}
	var seg capture.Segment
	buf := make([]byte, 0, 2048)
	n := 0
	for s.Next(&seg) {
		if !seg.Src.Addr().Is4() || !seg.Dst.Addr().Is4() {
			return n, errors.New("segsynth: WritePcap writes IPv4 only")
		}
		buf = AppendFrame(buf[:16], &seg)
		frame := len(buf) - 16
		wire := frame + int(seg.PayloadLen) - min(int(seg.PayloadLen), maxPayload)
		binary.LittleEndian.PutUint32(buf[0:], uint32(seg.Time/1e9))
		binary.LittleEndian.PutUint32(buf[4:], uint32(seg.Time%1e9))
		binary.LittleEndian.PutUint32(buf[8:], uint32(frame))
		binary.LittleEndian.PutUint32(buf[12:], uint32(wire))
		if _, err := w.Write(buf); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
