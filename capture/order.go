package capture

import "encoding/binary"

// fileOrder reads a capture file's fields in its byte order. It branches
// on a flag the CPU predicts where a binary.ByteOrder is an interface whose
// calls are not inlined: through one, reading a pcap record header cost a
// fifth of reading the packet, and a pcapng block's fields a tenth
// (issue 5).
type fileOrder struct{ big bool }

var (
	bigEndian    = fileOrder{big: true}
	littleEndian = fileOrder{}
)

func (o fileOrder) u16(b []byte) uint16 {
	if o.big {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func (o fileOrder) u32(b []byte) uint32 {
	if o.big {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

func (o fileOrder) u64(b []byte) uint64 {
	if o.big {
		return binary.BigEndian.Uint64(b)
	}
	return binary.LittleEndian.Uint64(b)
}
