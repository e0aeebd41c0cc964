package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// FileFormat is the format a Writer produces. The zero value is invalid.
type FileFormat uint8

const (
	_ FileFormat = iota
	// FormatPcap is classic pcap with nanosecond timestamps: one link type
	// per file.
	FormatPcap
	// FormatPcapNG is pcapng: any mix of link types, one interface each,
	// nanosecond timestamps.
	FormatPcapNG
)

func (f FileFormat) String() string {
	switch f {
	case FormatPcap:
		return "pcap"
	case FormatPcapNG:
		return "pcapng"
	}
	return "FileFormat(" + strconv.Itoa(int(f)) + ")"
}

// writerSnaplen is the snaplen written in headers: libpcap's maximum, so
// no reader truncates what we kept.
const writerSnaplen = maxCaplen

// Writer writes packets to a pcap or pcapng stream, for evidence files and
// -w. It buffers; call Close (or Flush) when done. It does not allocate per
// packet.
type Writer struct {
	w      *bufio.Writer
	format FileFormat
	links  []LinkType // pcapng: interface i has link type links[i]; pcap: the one link type
	hdr    [28]byte
	err    error // first write error; later calls return it
}

// NewWriter starts a capture stream in the given format on w. For pcapng
// the Section Header Block is written now and an Interface Description
// Block the first time each link type appears; for pcap the file header is
// written with the first packet (it names the link type).
func NewWriter(w io.Writer, format FileFormat) (*Writer, error) {
	if format != FormatPcap && format != FormatPcapNG {
		return nil, fmt.Errorf("capture writer: unknown format %s", format)
	}
	cw := &Writer{w: bufio.NewWriterSize(w, 64<<10), format: format}
	if format == FormatPcapNG {
		// SHB: type, length 28, byte-order magic, version 1.0, section
		// length -1 (unknown), no options, length again.
		le := binary.LittleEndian
		var b [28]byte
		le.PutUint32(b[0:], blockSHB)
		le.PutUint32(b[4:], 28)
		le.PutUint32(b[8:], byteOrderMagic)
		le.PutUint16(b[12:], 1)
		le.PutUint16(b[14:], 0)
		le.PutUint64(b[16:], ^uint64(0))
		le.PutUint32(b[24:], 28)
		cw.write(b[:])
	}
	return cw, cw.err
}

func (w *Writer) write(b []byte) {
	if w.err == nil {
		_, w.err = w.w.Write(b)
	}
}

// WritePacket appends one packet: data as captured, its time in Unix
// nanoseconds, its original length and its link type.
func (w *Writer) WritePacket(data []byte, tsNanos int64, origLen int, link LinkType) error {
	if w.err != nil {
		return w.err
	}
	if len(data) > maxCaplen {
		return fmt.Errorf("capture writer: packet of %d bytes exceeds the %d-byte maximum", len(data), maxCaplen)
	}
	origLen = max(origLen, len(data))
	tsNanos = max(tsNanos, 0)
	if w.format == FormatPcap {
		return w.writePcap(data, tsNanos, origLen, link)
	}
	return w.writePcapNG(data, tsNanos, origLen, link)
}

func (w *Writer) writePcap(data []byte, ts int64, origLen int, link LinkType) error {
	if len(w.links) == 0 {
		w.links = append(w.links, link)
		w.pcapHeader(link)
	} else if w.links[0] != link {
		return fmt.Errorf("capture writer: a pcap file holds one link type (%s), this packet is %s: use pcapng", w.links[0], link)
	}
	le := binary.LittleEndian
	le.PutUint32(w.hdr[0:], uint32(ts/1e9))
	le.PutUint32(w.hdr[4:], uint32(ts%1e9))
	le.PutUint32(w.hdr[8:], uint32(len(data)))
	le.PutUint32(w.hdr[12:], uint32(origLen))
	w.write(w.hdr[:16])
	w.write(data)
	return w.err
}

func (w *Writer) pcapHeader(link LinkType) {
	le := binary.LittleEndian
	var b [24]byte
	le.PutUint32(b[0:], magicPcapNano)
	le.PutUint16(b[4:], 2)
	le.PutUint16(b[6:], 4)
	le.PutUint32(b[16:], writerSnaplen)
	le.PutUint32(b[20:], uint32(link))
	w.write(b[:])
}

func (w *Writer) writePcapNG(data []byte, ts int64, origLen int, link LinkType) error {
	id := -1
	for i, l := range w.links {
		if l == link {
			id = i
			break
		}
	}
	if id < 0 {
		id = len(w.links)
		w.links = append(w.links, link)
		w.idb(link)
	}
	le := binary.LittleEndian
	pad := (4 - len(data)%4) % 4
	total := uint32(28 + len(data) + pad + 4)
	le.PutUint32(w.hdr[0:], blockEPB)
	le.PutUint32(w.hdr[4:], total)
	le.PutUint32(w.hdr[8:], uint32(id))
	le.PutUint32(w.hdr[12:], uint32(uint64(ts)>>32))
	le.PutUint32(w.hdr[16:], uint32(ts))
	le.PutUint32(w.hdr[20:], uint32(len(data)))
	le.PutUint32(w.hdr[24:], uint32(origLen))
	w.write(w.hdr[:28])
	w.write(data)
	var trailer [8]byte // up to 3 bytes of padding, then the length
	le.PutUint32(trailer[pad:], total)
	w.write(trailer[:pad+4])
	return w.err
}

// idb writes an Interface Description Block with if_tsresol = 9
// (nanoseconds).
func (w *Writer) idb(link LinkType) {
	le := binary.LittleEndian
	var b [32]byte
	le.PutUint32(b[0:], blockIDB)
	le.PutUint32(b[4:], 32)
	le.PutUint16(b[8:], uint16(link))
	le.PutUint32(b[12:], writerSnaplen)
	le.PutUint16(b[16:], optTSResol)
	le.PutUint16(b[18:], 1)
	b[20] = 9
	// b[24:28] is opt_endofopt
	le.PutUint32(b[28:], 32)
	w.write(b[:])
}

// Flush writes buffered data to the underlying writer.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	w.err = w.w.Flush()
	return w.err
}

// Close completes the stream (a file with no packets still gets a valid
// header, for Ethernet) and flushes it. It does not close the underlying
// writer, which the caller owns.
func (w *Writer) Close() error {
	if len(w.links) == 0 && w.err == nil {
		if w.format == FormatPcap {
			w.pcapHeader(LinkEthernet)
		} else {
			w.idb(LinkEthernet)
		}
		w.links = append(w.links, LinkEthernet)
	}
	err := w.Flush()
	if err == nil {
		w.err = errWriterClosed
	}
	return err
}

var errWriterClosed = errors.New("capture writer: closed")
