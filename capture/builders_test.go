package capture

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// Builders for capture files in tests: independent of the readers (they
// write the format from the specification, byte order chosen by the test)
// so that a reader bug is not mirrored by a writer bug.

// order is a byte order that can also append.
type order interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// rec is one packet record.
type rec struct {
	sec, frac uint32 // seconds and µs or ns
	data      []byte
	wire      int // 0 means len(data)
}

// pcapFile builds a classic pcap file.
func pcapFile(bo order, magic uint32, link LinkType, snaplen uint32, recs ...rec) []byte {
	var b []byte
	b = bo.AppendUint32(b, magic)
	b = bo.AppendUint16(b, 2)
	b = bo.AppendUint16(b, 4)
	b = bo.AppendUint32(b, 0) // thiszone
	b = bo.AppendUint32(b, 0) // sigfigs
	b = bo.AppendUint32(b, snaplen)
	b = bo.AppendUint32(b, uint32(link))
	for _, r := range recs {
		wire := r.wire
		if wire == 0 {
			wire = len(r.data)
		}
		b = bo.AppendUint32(b, r.sec)
		b = bo.AppendUint32(b, r.frac)
		b = bo.AppendUint32(b, uint32(len(r.data)))
		b = bo.AppendUint32(b, uint32(wire))
		if magic == magicPcapModified {
			b = append(b, make([]byte, 8)...) // ifindex, protocol, pkt_type, pad
		}
		b = append(b, r.data...)
	}
	return b
}

// ngFile builds a pcapng file block by block; each section may have its
// own byte order.
type ngFile struct {
	b     []byte
	order order
}

func pad4(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// block appends a block of type typ with body (padded to 4).
func (f *ngFile) block(typ uint32, body []byte) *ngFile {
	body = pad4(body)
	n := uint32(12 + len(body))
	f.b = f.order.AppendUint32(f.b, typ)
	f.b = f.order.AppendUint32(f.b, n)
	f.b = append(f.b, body...)
	f.b = f.order.AppendUint32(f.b, n)
	return f
}

// option encodes one option (code, length, value padded to 4).
func ngOption(bo order, code uint16, val []byte) []byte {
	var b []byte
	b = bo.AppendUint16(b, code)
	b = bo.AppendUint16(b, uint16(len(val)))
	return pad4(append(b, val...))
}

func (f *ngFile) shb(bo order) *ngFile {
	f.order = bo
	var body []byte
	body = bo.AppendUint32(body, byteOrderMagic)
	body = bo.AppendUint16(body, 1)
	body = bo.AppendUint16(body, 0)
	body = bo.AppendUint64(body, ^uint64(0))
	return f.block(blockSHB, body)
}

// idb adds an interface; tsresol < 0 leaves the default (µs).
func (f *ngFile) idb(link LinkType, snaplen uint32, tsresol int, opts ...[]byte) *ngFile {
	var body []byte
	body = f.order.AppendUint16(body, uint16(link))
	body = f.order.AppendUint16(body, 0)
	body = f.order.AppendUint32(body, snaplen)
	body = append(body, ngOption(f.order, 2, []byte("eth0\x1b[31m"))...) // if_name, with an escape sequence: untrusted
	if tsresol >= 0 {
		body = append(body, ngOption(f.order, optTSResol, []byte{byte(tsresol)})...)
	}
	for _, o := range opts {
		body = append(body, o...)
	}
	body = append(body, 0, 0, 0, 0) // opt_endofopt
	return f.block(blockIDB, body)
}

func (f *ngFile) epb(iface uint32, ts uint64, data []byte, wire int) *ngFile {
	var body []byte
	body = f.order.AppendUint32(body, iface)
	body = f.order.AppendUint32(body, uint32(ts>>32))
	body = f.order.AppendUint32(body, uint32(ts))
	body = f.order.AppendUint32(body, uint32(len(data)))
	body = f.order.AppendUint32(body, uint32(wire))
	body = pad4(append(body, data...))
	body = append(body, ngOption(f.order, 1, []byte("a comment"))...) // opt_comment
	body = append(body, 0, 0, 0, 0)
	return f.block(blockEPB, body)
}

// pb adds an obsolete Packet Block.
func (f *ngFile) pb(iface uint16, ts uint64, data []byte) *ngFile {
	var body []byte
	body = f.order.AppendUint16(body, iface)
	body = f.order.AppendUint16(body, 0) // drops count
	body = f.order.AppendUint32(body, uint32(ts>>32))
	body = f.order.AppendUint32(body, uint32(ts))
	body = f.order.AppendUint32(body, uint32(len(data)))
	body = f.order.AppendUint32(body, uint32(len(data)))
	return f.block(blockPB, append(body, data...))
}

func (f *ngFile) spb(data []byte) *ngFile {
	body := f.order.AppendUint32(nil, uint32(len(data)))
	return f.block(blockSPB, append(body, data...))
}

func (f *ngFile) bytes() []byte { return f.b }

// writeTemp writes b to a file in the test's temporary directory.
func writeTemp(t testing.TB, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
