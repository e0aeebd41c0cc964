package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
)

// pcapng block types (draft-ietf-opsawg-pcapng, section 10.1).
const (
	blockIDB       = 0x00000001 // Interface Description Block
	blockPB        = 0x00000002 // Packet Block (obsolete, still written by old tools)
	blockSPB       = 0x00000003 // Simple Packet Block
	blockEPB       = 0x00000006 // Enhanced Packet Block
	blockSHB       = 0x0a0d0d0a // Section Header Block
	byteOrderMagic = 0x1a2b3c4d
)

// IDB options we use.
const (
	optEndOfOpt = 0
	optTSResol  = 9
	optTSOffset = 14
)

// Block size bounds. The SHB bound is libpcap's BT_SHB_INSANE_MAX; other
// blocks may carry a maximal packet plus options, and are capped at 16 MiB
// (libpcap's largest buffer) so that a lying length costs at most that.
const (
	minBlockLen    = 12
	minSHBLen      = 28
	maxSHBLen      = 1 << 20
	maxBlockLen    = 16 << 20
	maxInterfaces  = 1 << 16
	blockHeaderLen = 8
)

var (
	errPacketBeforeIDB = errors.New("packet block before any Interface Description Block")
	errNotSHB          = errors.New("first block is not a Section Header Block")
)

// ngInterface is what a section's Interface Description Block says about
// the packets that reference it.
type ngInterface struct {
	link    LinkType
	snaplen uint32
	// Timestamps are units since the epoch: 10^-res (binary false) or
	// 2^-res (binary true) seconds; the default is microseconds.
	res      uint8
	binary   bool
	tsOffset int64 // seconds added to every timestamp (if_tsoffset)
}

// nanos converts a raw pcapng timestamp to Unix nanoseconds without
// floating point; garbage in a fuzzed file wraps but never panics.
func (i *ngInterface) nanos(ts uint64) int64 {
	var ns uint64
	switch {
	case i.binary:
		// ts / 2^res seconds: whole seconds, then the fraction scaled by
		// 1e9 in 128-bit arithmetic so that it cannot overflow.
		whole := ts >> i.res
		frac := ts & (1<<i.res - 1)
		hi, lo := bits.Mul64(frac, 1e9)
		ns = whole*1e9 + (lo>>i.res | hi<<(64-i.res)) // a shift by 64 yields 0
	case i.res <= 9:
		ns = ts * pow10[9-i.res]
	default:
		ns = ts / pow10[i.res-9]
	}
	return int64(ns) + i.tsOffset*1e9
}

var pow10 = [...]uint64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19}

// pcapngReader reads pcapng files: several sections, each with its own
// byte order and interfaces, and Enhanced, Simple and obsolete Packet
// Blocks (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-02.html).
//
// It is ours rather than pcapgo's because pcapgo's NgReader allocates an
// Enhanced Packet Block's captured length before checking it against the
// block (a 4 GiB allocation from a 32-byte block), and because errors here
// must name the file and the block's byte offset. Every length is checked
// against the block that contains it and against fixed bounds before use;
// blocks are read in place in the input's buffer (one spill buffer, reused,
// takes those larger than it), so reading does not allocate per packet.
type pcapngReader struct {
	*input
	order    fileOrder
	ifaces   []ngInterface
	sawIDB   bool
	skipping bool // inside a section of an unsupported version
	hdr      [blockHeaderLen]byte
	buf      []byte // spill buffer for blocks larger than the input's
	lastTime int64

	// Tolerated oddities, turned into warnings.
	skippedSections, overSnaplen, lenUnderCaplen uint64
}

// newPcapngReader reads the first Section Header Block.
func newPcapngReader(in *input) (*pcapngReader, error) {
	r := &pcapngReader{input: in}
	if n, err := in.readFull(r.hdr[:]); err != nil {
		return nil, in.readError(0, err, "Section Header Block", minSHBLen, n)
	}
	if binary.BigEndian.Uint32(r.hdr[:4]) != blockSHB {
		return nil, in.formatError(0, errNotSHB)
	}
	if err := r.readSHB(0, true); err != nil {
		return nil, err
	}
	return r, nil
}

// readSHB reads the rest of a Section Header Block whose 8-byte header is
// in r.hdr, and starts a new section: a new byte order and no interfaces.
func (r *pcapngReader) readSHB(start int64, first bool) error {
	var bom [4]byte
	if n, err := r.readFull(bom[:]); err != nil {
		return r.readError(start, err, "Section Header Block", minSHBLen, blockHeaderLen+n)
	}
	switch binary.BigEndian.Uint32(bom[:]) {
	case byteOrderMagic:
		r.order = bigEndian
	case 0x4d3c2b1a:
		r.order = littleEndian
	default:
		return r.formatError(start+8, fmt.Errorf("Section Header Block has a bad byte-order magic % x", bom))
	}
	length := r.order.u32(r.hdr[4:])
	if length < minSHBLen || length > maxSHBLen {
		return r.formatError(start+4, fmt.Errorf("Section Header Block has invalid length %d (must be %d to %d)", length, minSHBLen, maxSHBLen))
	}
	if length%4 != 0 {
		return r.formatError(start+4, fmt.Errorf("Section Header Block has a length of %d that is not a multiple of 4", length))
	}
	body, err := r.readBody(start, length, 4)
	if err != nil {
		return err
	}
	major, minor := r.order.u16(body[0:]), r.order.u16(body[2:])
	r.ifaces = r.ifaces[:0]
	r.skipping = false
	if major != 1 || (minor != 0 && minor != 2) {
		if first {
			return r.formatError(start+12, fmt.Errorf("unsupported pcapng version %d.%d", major, minor))
		}
		// A later section we cannot read: its blocks are framed like ours,
		// so skip to the next Section Header Block rather than give up.
		r.skipping = true
		r.skippedSections++
	}
	return nil
}

// readBody reads the block body after the header (and after `already`
// bytes of it consumed by the caller) plus the trailing length, and checks
// that the trailing length matches. The returned slice excludes both
// length fields and is valid until the next read.
func (r *pcapngReader) readBody(start int64, length uint32, already int) ([]byte, error) {
	n := int(length) - blockHeaderLen - already // body rest + trailer
	// In place in the read buffer where it fits (input.view): copying
	// every block out of it was a tenth of the time of reading a pcapng
	// capture (issue 5).
	buf, got, err := r.view(n, &r.buf)
	if err != nil {
		return nil, r.readError(start, err, "block", int(length), blockHeaderLen+already+got)
	}
	if trailer := r.order.u32(buf[n-4:]); trailer != length {
		return nil, r.formatError(start, fmt.Errorf("block total length in header %d and trailer %d don't match", length, trailer))
	}
	return buf[:n-4], nil
}

// ReadPacket reads the next packet into p. The data is valid until the next call.
func (r *pcapngReader) ReadPacket(p *packet) error {
	for {
		start := r.off
		hdr, n, err := r.view(blockHeaderLen, &r.buf)
		if err != nil {
			if err == io.EOF {
				return io.EOF
			}
			return r.readError(start, err, "block header", blockHeaderLen, n)
		}
		r.hdr = [blockHeaderLen]byte(hdr)         // readSHB reads it after reading on
		typ := binary.BigEndian.Uint32(r.hdr[:4]) // SHB's type reads the same in both orders
		if typ == blockSHB {
			if err := r.readSHB(start, false); err != nil {
				return err
			}
			continue
		}
		typ = r.order.u32(r.hdr[:4])
		length := r.order.u32(r.hdr[4:])
		if length < minBlockLen {
			return r.formatError(start+4, fmt.Errorf("block has a length of %d < %d", length, minBlockLen))
		}
		if length%4 != 0 {
			return r.formatError(start+4, fmt.Errorf("block has a length of %d that is not a multiple of 4", length))
		}
		if length > maxBlockLen {
			return r.formatError(start+4, fmt.Errorf("block claims %d bytes, more than the %d maximum: the file is damaged", length, maxBlockLen))
		}
		if r.skipping || (typ != blockIDB && typ != blockEPB && typ != blockSPB && typ != blockPB) {
			if err := r.skipBlock(start, length); err != nil {
				return err
			}
			continue
		}
		body, err := r.readBody(start, length, 0)
		if err != nil {
			return err
		}
		if typ == blockIDB {
			if err := r.addInterface(start, body); err != nil {
				return err
			}
			continue
		}
		return r.packet(p, start, typ, body)
	}
}

// skipBlock passes over a block we do not need (name resolution,
// statistics, decryption secrets, custom blocks), checking its trailer.
func (r *pcapngReader) skipBlock(start int64, length uint32) error {
	rest := int(length) - blockHeaderLen - 4
	if d, err := r.discard(rest); err != nil {
		return r.readError(start, err, "block", int(length), blockHeaderLen+d)
	}
	var t [4]byte
	if n, err := r.readFull(t[:]); err != nil {
		return r.readError(start, err, "block", int(length), int(length)-4+n)
	}
	if trailer := r.order.u32(t[:]); trailer != length {
		return r.formatError(start, fmt.Errorf("block total length in header %d and trailer %d don't match", length, trailer))
	}
	return nil
}

// addInterface parses an Interface Description Block.
func (r *pcapngReader) addInterface(start int64, body []byte) error {
	if len(body) < 8 {
		return r.formatError(start, fmt.Errorf("Interface Description Block body is %d bytes, less than 8", len(body)))
	}
	if len(r.ifaces) >= maxInterfaces {
		return r.formatError(start, fmt.Errorf("more than %d Interface Description Blocks in one section", maxInterfaces))
	}
	ifc := ngInterface{
		link:    LinkType(r.order.u16(body[0:])),
		snaplen: r.order.u32(body[4:]),
		res:     6,
	}
	err := r.options(body[8:], func(code uint16, val []byte) error {
		switch code {
		case optTSResol:
			if len(val) != 1 {
				return fmt.Errorf("if_tsresol option has length %d, not 1", len(val))
			}
			ifc.binary = val[0]&0x80 != 0
			ifc.res = val[0] & 0x7f
			if (!ifc.binary && ifc.res > 19) || (ifc.binary && ifc.res > 63) {
				return fmt.Errorf("if_tsresol 0x%02x is beyond what a 64-bit timestamp can hold", val[0])
			}
		case optTSOffset:
			if len(val) != 8 {
				return fmt.Errorf("if_tsoffset option has length %d, not 8", len(val))
			}
			ifc.tsOffset = int64(r.order.u64(val))
		}
		return nil
	})
	if err != nil {
		return r.formatError(start, fmt.Errorf("Interface Description Block: %w", err))
	}
	r.ifaces = append(r.ifaces, ifc)
	r.sawIDB = true
	return nil
}

// options walks a block's options, checking each length against the block.
func (r *pcapngReader) options(b []byte, fn func(code uint16, val []byte) error) error {
	for len(b) >= 4 {
		code, n := r.order.u16(b), int(r.order.u16(b[2:]))
		if code == optEndOfOpt {
			return nil
		}
		b = b[4:]
		if n > len(b) {
			return fmt.Errorf("option %d claims %d bytes, only %d left in the block", code, n, len(b))
		}
		if err := fn(code, b[:n]); err != nil {
			return err
		}
		b = b[min(len(b), (n+3)&^3):]
	}
	return nil
}

// iface returns the interface a packet block references.
func (r *pcapngReader) iface(start int64, id uint32) (*ngInterface, error) {
	if int(id) < len(r.ifaces) {
		return &r.ifaces[id], nil
	}
	if len(r.ifaces) == 0 {
		return nil, r.formatError(start, errPacketBeforeIDB)
	}
	return nil, r.formatError(start, fmt.Errorf("packet block references interface %d, but the section has only %d Interface Description Blocks", id, len(r.ifaces)))
}

// packet decodes an Enhanced, Simple or obsolete Packet Block body into p.
func (r *pcapngReader) packet(p *packet, start int64, typ uint32, body []byte) error {
	var (
		ifc             *ngInterface
		err             error
		caplen, wirelen uint32
		data            []byte
		ts              int64
		fixed           int
	)
	switch typ {
	case blockEPB, blockPB:
		fixed = 20
		if len(body) < fixed {
			return r.formatError(start, fmt.Errorf("packet block body is %d bytes, less than %d", len(body), fixed))
		}
		var id uint32
		if typ == blockEPB {
			id = r.order.u32(body)
		} else {
			id = uint32(r.order.u16(body))
		}
		if ifc, err = r.iface(start, id); err != nil {
			return err
		}
		ts = ifc.nanos(uint64(r.order.u32(body[4:]))<<32 | uint64(r.order.u32(body[8:])))
		caplen, wirelen = r.order.u32(body[12:]), r.order.u32(body[16:])
		if caplen > maxCaplen {
			return r.formatError(start, fmt.Errorf("packet block claims %d captured bytes, more than the %d maximum: the file is damaged", caplen, maxCaplen))
		}
		if int(caplen) > len(body)-fixed {
			return r.formatError(start, fmt.Errorf("packet block claims %d captured bytes but the block holds only %d", caplen, len(body)-fixed))
		}
	case blockSPB:
		fixed = 4
		if len(body) < fixed {
			return r.formatError(start, fmt.Errorf("Simple Packet Block body is %d bytes, less than 4", len(body)))
		}
		if ifc, err = r.iface(start, 0); err != nil {
			return err
		}
		// No timestamp: reuse the previous one so that merging keeps the
		// packet where it was in the file.
		ts = r.lastTime
		wirelen = r.order.u32(body)
		caplen = min(wirelen, uint32(len(body)-fixed))
		if ifc.snaplen != 0 {
			caplen = min(caplen, ifc.snaplen)
		}
	}
	if ifc.snaplen != 0 && caplen > ifc.snaplen {
		r.overSnaplen++
	}
	if wirelen < caplen {
		r.lenUnderCaplen++
		wirelen = caplen
	}
	data = body[fixed : fixed+int(caplen)]
	r.lastTime = ts
	p.data, p.ts, p.wireLen, p.link = data, ts, int(wirelen), ifc.link // as pcapReader does
	return nil
}

// Warnings describes the oddities the reader tolerated.
func (r *pcapngReader) Warnings() []string {
	var w []string
	if r.skippedSections > 0 {
		w = append(w, fmt.Sprintf("%s: skipped %d pcapng sections of an unsupported version", r.Name(), r.skippedSections))
	}
	if !r.sawIDB {
		w = append(w, fmt.Sprintf("%s: no Interface Description Block: the file holds no packets", r.Name()))
	}
	return append(w, r.lengthWarnings("packet blocks", r.overSnaplen, r.lenUnderCaplen)...)
}
