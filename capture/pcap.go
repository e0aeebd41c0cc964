package capture

import (
	"encoding/binary"
	"fmt"
	"io"
)

// pcapReader reads classic libpcap files (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap-03.html).
//
// It is ours rather than pcapgo's so that every error can name the byte
// offset of the damaged record and every length is checked against a bound
// before anything is allocated; it reuses one buffer, so reading does not
// allocate per packet.
type pcapReader struct {
	*input
	order   fileOrder
	nanos   bool   // timestamps are nanoseconds rather than microseconds
	extra   int    // bytes after the 16-byte record header (8 in Kuznetzov's format)
	snaplen uint32 // as declared; 0 means "not stated"
	link    LinkType
	hdr     [24]byte
	buf     []byte // spill buffer for packets larger than the bufio buffer

	// Counts of tolerated oddities, turned into warnings.
	overSnaplen, lenUnderCaplen, badFraction uint64
}

// newPcapReader reads and checks the 24-byte file header.
func newPcapReader(in *input) (*pcapReader, error) {
	r := &pcapReader{input: in}
	if n, err := in.readFull(r.hdr[:]); err != nil {
		return nil, in.readError(0, err, "pcap file header", len(r.hdr), n)
	}
	switch magic := binary.BigEndian.Uint32(r.hdr[:4]); {
	case magic == magicPcapMicro || magic == magicPcapNano || magic == magicPcapModified:
		r.order = bigEndian
	default:
		r.order = littleEndian
	}
	switch r.order.u32(r.hdr[:4]) {
	case magicPcapNano:
		r.nanos = true
	case magicPcapModified:
		r.extra = 8
	}
	major, minor := r.order.u16(r.hdr[4:]), r.order.u16(r.hdr[6:])
	if major != 2 {
		return nil, in.formatError(4, fmt.Errorf("unsupported pcap version %d.%d", major, minor))
	}
	r.snaplen = r.order.u32(r.hdr[16:])
	lt := r.order.u32(r.hdr[20:])
	// The upper bits hold the FCS length (0xF0000000, flag 0x04000000);
	// bits 0x03FF0000 are reserved and must be zero (libpcap rejects them).
	if reserved := lt & 0x03ff0000; reserved != 0 {
		return nil, in.formatError(20, fmt.Errorf("link type field has reserved bits set (0x%08x)", reserved))
	}
	r.link = LinkType(lt & 0xffff)
	return r, nil
}

// ReadPacket reads the next record into p. The data is a view into the read
// buffer, valid until the next call: nothing is copied or allocated.
func (r *pcapReader) ReadPacket(p *packet) error {
	start := r.off
	hlen := 16 + r.extra
	hdr, n, err := r.view(hlen, &r.buf)
	if err != nil {
		if err == io.EOF {
			return io.EOF
		}
		return r.readError(start, err, "packet record header", hlen, n)
	}
	sec, frac, caplen, wirelen := r.order.u32(hdr[0:]), r.order.u32(hdr[4:]), r.order.u32(hdr[8:]), r.order.u32(hdr[12:])
	if caplen > maxCaplen {
		return r.formatError(start, fmt.Errorf("packet record claims %d captured bytes, more than the %d maximum: the file is damaged", caplen, maxCaplen))
	}
	if r.snaplen != 0 && caplen > r.snaplen {
		r.overSnaplen++
	}
	if wirelen < caplen {
		r.lenUnderCaplen++
		wirelen = caplen
	}
	data, n, err := r.view(int(caplen), &r.buf)
	if err != nil {
		return r.readError(start, err, "packet record", int(caplen)+hlen, n+hlen)
	}
	ts := int64(sec) * 1e9
	if r.nanos {
		if frac >= 1e9 {
			r.badFraction++
		}
		ts += int64(frac)
	} else {
		if frac >= 1e6 {
			r.badFraction++
		}
		ts += int64(frac) * 1e3
	}
	// Field by field: a composite literal is built on the stack and
	// copied, and the copy's wide loads stall on the narrow stores.
	p.data, p.ts, p.wireLen, p.link = data, ts, int(wirelen), r.link
	return nil
}

// Warnings describes the oddities the reader tolerated.
func (r *pcapReader) Warnings() []string {
	w := r.lengthWarnings("packet records", r.overSnaplen, r.lenUnderCaplen)
	if r.badFraction > 0 {
		w = append(w, fmt.Sprintf("%s: %d packet timestamps with an invalid sub-second field (carried into the seconds)", r.Name(), r.badFraction))
	}
	return w
}
