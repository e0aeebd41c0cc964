// Package capture turns packet captures (files or live interfaces) into a
// stream of Segment records: one flat, fixed-size value per TCP packet.
//
// Nothing past this package sees gopacket types. The reader owns its buffers;
// a Segment holds no pointers into them, so it may be copied and kept freely.
package capture

import (
	"net/netip"
	"strconv"
	"strings"
)

// Flags is the set of TCP control bits of a segment, in wire order.
type Flags uint8

// TCP control bits (RFC 9293 section 3.1, plus ECE/CWR from RFC 3168).
const (
	FIN Flags = 1 << iota
	SYN
	RST
	PSH
	ACK
	URG
	ECE
	CWR
)

// Has reports whether every bit of want is set.
func (f Flags) Has(want Flags) bool { return f&want == want }

// String prints the flags as tcpdump does ("S.", "F.", "R", "P.") so that
// test failures and ladders read like a tcpdump line.
func (f Flags) String() string {
	var b strings.Builder
	for _, fl := range [...]struct {
		bit Flags
		ch  byte
	}{{SYN, 'S'}, {FIN, 'F'}, {PSH, 'P'}, {RST, 'R'}, {URG, 'U'}, {ECE, 'E'}, {CWR, 'W'}} {
		if f&fl.bit != 0 {
			b.WriteByte(fl.ch)
		}
	}
	if f&ACK != 0 {
		b.WriteByte('.')
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}

// Segment is one TCP packet as the rest of tcpaudit sees it.
//
// It is a plain value: fixed-size fields only, no slices into capture
// buffers, no interfaces, no time.Time (Time is Unix nanoseconds, so that the
// per-packet path never touches the time package).
type Segment struct {
	// Time is the capture timestamp in nanoseconds since the Unix epoch.
	Time int64
	// Index is the 1-based number of this packet in the merged input, counting
	// every packet read (TCP or not), as Wireshark's frame number does.
	Index uint64

	Src, Dst netip.AddrPort

	Seq, Ack uint32
	Flags    Flags
	// Window is the raw, unscaled window field.
	Window uint16
	// WScale is the window scale option of a SYN, or -1 when absent.
	WScale int8
	// HasTS reports whether the timestamp option is present; TSVal and TSEcr
	// are valid iff HasTS.
	HasTS        bool
	TSVal, TSEcr uint32
	// MSS is the MSS option of a SYN, or 0 when absent.
	MSS uint16

	// PayloadLen is the TCP payload length as declared by the IP header, not
	// what the snaplen let us capture: the sequence space a segment occupies
	// is what matters for state tracking.
	PayloadLen uint32
	// WireLen is the packet's original length on the wire (link layer
	// included), for byte counts that match tcpdump and Wireshark.
	WireLen uint32

	// Source identifies the input file (index into the reader's file list)
	// the packet came from; 0 for a single input or a live interface.
	Source uint16

	// Checksum is the TCP checksum's state: ChecksumUnverified unless
	// Options.VerifyChecksums is set and the whole segment was captured.
	// Zeek drops segments with a bad checksum (history letter C); locally
	// captured outgoing packets often have bad ones because the NIC fills
	// them in after capture (checksum offload).
	Checksum ChecksumState
}

// ChecksumState says whether a segment's TCP checksum was verified. The
// zero value is ChecksumUnverified.
type ChecksumState uint8

const (
	ChecksumUnverified ChecksumState = iota
	ChecksumGood
	ChecksumBad
)

// String returns "unverified", "good" or "bad".
func (c ChecksumState) String() string {
	switch c {
	case ChecksumUnverified:
		return "unverified"
	case ChecksumGood:
		return "good"
	case ChecksumBad:
		return "bad"
	}
	return "ChecksumState(" + strconv.Itoa(int(c)) + ")"
}

// SeqLen is the amount of sequence space the segment occupies: its payload,
// plus one each for SYN and FIN (RFC 9293 section 3.4).
func (s *Segment) SeqLen() uint32 {
	n := s.PayloadLen
	if s.Flags&SYN != 0 {
		n++
	}
	if s.Flags&FIN != 0 {
		n++
	}
	return n
}
