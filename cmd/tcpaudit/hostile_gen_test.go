package main

// This file writes the malformed-capture corpus in testdata/malformed/ and
// its README. Every file is built byte by byte, not through gopacket's
// serializers, because those fix up exactly the lengths these files must
// lie about. The builders are deterministic (fixed clock, fixed PRNG seed,
// gzip without compression so that no compress/flate change between Go
// releases alters a byte), so
//
//	go test ./cmd/tcpaudit -run TestMalformedCorpusUpToDate -update-malformed
//
// rewrites the corpus exactly, and without the flag the same test fails when
// a committed file or the README has drifted from this generator.

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tcpaudit/tcpaudit/capture"
)

var updateMalformed = flag.Bool("update-malformed", false, "rewrite testdata/malformed/ and its README from the generator")

// malformedDir is the corpus directory, relative to this package.
const malformedDir = "../../testdata/malformed"

// Link types and protocol numbers the builders write.
const (
	linkEthernet = 1
	etherIPv4    = 0x0800
	etherIPv6    = 0x86dd
	protoTCP     = 6
	protoDstOpts = 60 // IPv6 Destination Options header (RFC 8200 section 4.6)
)

// pcapng block types (draft-ietf-opsawg-pcapng section 4).
const (
	ngSHB = 0x0a0d0d0a
	ngIDB = 0x00000001
	ngEPB = 0x00000006
)

// pcapng option codes used by the hostile-string captures.
const (
	optEnd     = 0
	optComment = 1 // opt_comment, valid in every block
	optIfName  = 2 // if_name, in an IDB
	optIfDesc  = 3 // if_description, in an IDB
)

// corpusEpoch is the capture clock of every generated file: 2026-01-01 UTC.
const corpusEpoch = 1767225600

// outcome is what the command must do with a file.
type outcome struct {
	// damaged: exit 2 with one stderr line naming the file and "offset
	// errAt"; the report still covers the tcp segments before the damage.
	damaged bool
	errAt   int64
	// tcp is the number of TCP segments the report must cover.
	tcp uint64
	// skipped is, for exit 0, how many packets are undecodable and must be
	// counted in a warning.
	skipped uint64
}

func (o outcome) String() string {
	if o.damaged && o.tcp == 0 {
		return fmt.Sprintf("exit 2, one error line naming the file and offset %d; no packet precedes the damage", o.errAt)
	}
	if o.damaged {
		return fmt.Sprintf("exit 2, one error line naming the file and offset %d; the report still covers the %d TCP packets before it", o.errAt, o.tcp)
	}
	if o.skipped > 0 {
		return fmt.Sprintf("exit 0; %d TCP packets reported, %d packets skipped as undecodable and counted in a warning", o.tcp, o.skipped)
	}
	return fmt.Sprintf("exit 0; all %d TCP packets reported", o.tcp)
}

// malformedFile is one file of the corpus.
type malformedFile struct {
	name  string
	wrong string // what is wrong with it, for the README
	data  []byte
	want  outcome
}

// ---- packets -------------------------------------------------------------

// seg is one TCP segment of a generated connection.
type seg struct {
	src, dst netip.AddrPort
	seq, ack uint32
	flags    capture.Flags
	payload  int
}

var (
	corpusClient  = netip.MustParseAddrPort("192.0.2.10:40000")
	corpusServer  = netip.MustParseAddrPort("198.51.100.20:80")
	corpusClient6 = netip.MustParseAddrPort("[2001:db8::10]:40000")
	corpusServer6 = netip.MustParseAddrPort("[2001:db8::20]:80")
)

// cleanConn is a whole connection, eight segments: handshake, one request
// and its answer, a FIN each way and the last ACK. Its verdict is clean.
func cleanConn(c, s netip.AddrPort) []seg {
	const cisn, sisn = 1000, 5000
	return []seg{
		{c, s, cisn, 0, capture.SYN, 0},
		{s, c, sisn, cisn + 1, capture.SYN | capture.ACK, 0},
		{c, s, cisn + 1, sisn + 1, capture.ACK, 0},
		{c, s, cisn + 1, sisn + 1, capture.PSH | capture.ACK, 40},
		{s, c, sisn + 1, cisn + 41, capture.PSH | capture.ACK, 100},
		{c, s, cisn + 41, sisn + 101, capture.FIN | capture.ACK, 0},
		{s, c, sisn + 101, cisn + 42, capture.FIN | capture.ACK, 0},
		{c, s, cisn + 42, sisn + 102, capture.ACK, 0},
	}
}

// tcpHeader returns a 20-byte TCP header (data offset 5) followed by
// s.payload filler bytes. Checksums are left zero: capture files from
// offloading NICs carry wrong ones, and tcpaudit must not care.
func tcpHeader(s seg) []byte {
	b := make([]byte, 20, 20+s.payload)
	binary.BigEndian.PutUint16(b[0:], s.src.Port())
	binary.BigEndian.PutUint16(b[2:], s.dst.Port())
	binary.BigEndian.PutUint32(b[4:], s.seq)
	binary.BigEndian.PutUint32(b[8:], s.ack)
	b[12] = 5 << 4
	b[13] = byte(s.flags)
	binary.BigEndian.PutUint16(b[14:], 64240)
	return append(b, bytes.Repeat([]byte{'x'}, s.payload)...)
}

// ipv4 wraps payload in a 20-byte IPv4 header with a correct total length
// and header checksum.
func ipv4(src, dst netip.Addr, proto byte, payload []byte) []byte {
	b := make([]byte, 20, 20+len(payload))
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(20+len(payload)))
	binary.BigEndian.PutUint16(b[6:], 0x4000) // DF
	b[8] = 64
	b[9] = proto
	s, d := src.As4(), dst.As4()
	copy(b[12:], s[:])
	copy(b[16:], d[:])
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(b[10:], ^uint16(sum))
	return append(b, payload...)
}

// ipv6 wraps payload in a 40-byte IPv6 header whose Next Header is next.
func ipv6(src, dst netip.Addr, next byte, payload []byte) []byte {
	b := make([]byte, 40, 40+len(payload))
	b[0] = 6 << 4
	binary.BigEndian.PutUint16(b[4:], uint16(len(payload)))
	b[6] = next
	b[7] = 64
	s, d := src.As16(), dst.As16()
	copy(b[8:], s[:])
	copy(b[24:], d[:])
	return append(b, payload...)
}

// ether wraps payload in an Ethernet II header.
func ether(etherType uint16, payload []byte) []byte {
	b := []byte{
		0x02, 0, 0, 0, 0, 0x02, // destination, locally administered
		0x02, 0, 0, 0, 0, 0x01, // source
		byte(etherType >> 8), byte(etherType),
	}
	return append(b, payload...)
}

// frame returns s as an Ethernet frame, IPv4 or IPv6 by its addresses.
func frame(s seg) []byte {
	if s.src.Addr().Is4() {
		return ether(etherIPv4, ipv4(s.src.Addr(), s.dst.Addr(), protoTCP, tcpHeader(s)))
	}
	return ether(etherIPv6, ipv6(s.src.Addr(), s.dst.Addr(), protoTCP, tcpHeader(s)))
}

// Offsets into an Ethernet/IPv4/TCP frame, for the mutations that break one.
const (
	offIPv4    = 14
	offTCP4    = offIPv4 + 20
	offTCPDOff = offTCP4 + 12
)

// ---- pcap ----------------------------------------------------------------

// pcapFile builds a little-endian, microsecond pcap file and remembers where
// each record starts, which is the offset an error about it must name.
type pcapFile struct {
	b       []byte
	records []int64
}

func newPcap(snaplen uint32) *pcapFile {
	f := &pcapFile{}
	f.b = binary.LittleEndian.AppendUint32(f.b, 0xa1b2c3d4)
	f.b = binary.LittleEndian.AppendUint16(f.b, 2)
	f.b = binary.LittleEndian.AppendUint16(f.b, 4)
	f.b = binary.LittleEndian.AppendUint32(f.b, 0) // thiszone
	f.b = binary.LittleEndian.AppendUint32(f.b, 0) // sigfigs
	f.b = binary.LittleEndian.AppendUint32(f.b, snaplen)
	f.b = binary.LittleEndian.AppendUint32(f.b, linkEthernet)
	return f
}

// recordHeader appends a record header as is, lies included, stamped with
// packet n's time (packets are one millisecond apart).
func (f *pcapFile) recordHeader(n int, caplen, wirelen uint32) {
	f.recordAt(time.Duration(n)*time.Millisecond, caplen, wirelen)
}

// recordAt appends a record header stamped at corpusEpoch + at.
func (f *pcapFile) recordAt(at time.Duration, caplen, wirelen uint32) {
	f.records = append(f.records, int64(len(f.b)))
	f.b = binary.LittleEndian.AppendUint32(f.b, corpusEpoch+uint32(at/time.Second))
	f.b = binary.LittleEndian.AppendUint32(f.b, uint32(at%time.Second/time.Microsecond))
	f.b = binary.LittleEndian.AppendUint32(f.b, caplen)
	f.b = binary.LittleEndian.AppendUint32(f.b, wirelen)
}

// packet appends a whole, honest record.
func (f *pcapFile) packet(data []byte) {
	f.packetAt(time.Duration(len(f.records))*time.Millisecond, data)
}

// packetAt appends a whole, honest record stamped at corpusEpoch + at.
func (f *pcapFile) packetAt(at time.Duration, data []byte) {
	f.recordAt(at, uint32(len(data)), uint32(len(data)))
	f.b = append(f.b, data...)
}

// cut appends data captured only up to caplen bytes, as a short snaplen
// would: the wire length stays the real one.
func (f *pcapFile) cut(data []byte, caplen int) {
	f.recordHeader(len(f.records), uint32(caplen), uint32(len(data)))
	f.b = append(f.b, data[:caplen]...)
}

func (f *pcapFile) segs(ss []seg) {
	for _, s := range ss {
		f.packet(frame(s))
	}
}

// ---- pcapng --------------------------------------------------------------

// ngFile builds a little-endian pcapng file and remembers where each block
// starts.
type ngFile struct {
	b      []byte
	blocks []int64
}

// ngOption encodes one option, padded to 32 bits.
func ngOption(code uint16, value []byte) []byte {
	b := binary.LittleEndian.AppendUint16(nil, code)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(value)))
	b = append(b, value...)
	return append(b, make([]byte, pad4(len(value)))...)
}

// ngOptions encodes a list of options with its end-of-options marker.
func ngOptions(opts ...[]byte) []byte {
	if len(opts) == 0 {
		return nil
	}
	return append(bytes.Join(opts, nil), ngOption(optEnd, nil)...)
}

func pad4(n int) int { return (4 - n%4) % 4 }

// rawBlock appends a block with the lengths given, honest or not.
func (f *ngFile) rawBlock(typ, headLen uint32, body []byte, tailLen uint32) {
	f.blocks = append(f.blocks, int64(len(f.b)))
	f.b = binary.LittleEndian.AppendUint32(f.b, typ)
	f.b = binary.LittleEndian.AppendUint32(f.b, headLen)
	f.b = append(f.b, body...)
	f.b = binary.LittleEndian.AppendUint32(f.b, tailLen)
}

// block appends an honest block; body must be 32-bit aligned.
func (f *ngFile) block(typ uint32, body []byte) {
	n := uint32(12 + len(body))
	f.rawBlock(typ, n, body, n)
}

func newNg(opts ...[]byte) *ngFile {
	f := &ngFile{}
	body := binary.LittleEndian.AppendUint32(nil, 0x1a2b3c4d) // byte-order magic
	body = binary.LittleEndian.AppendUint16(body, 1)
	body = binary.LittleEndian.AppendUint16(body, 0)
	body = binary.LittleEndian.AppendUint64(body, ^uint64(0)) // section length unknown
	f.block(ngSHB, append(body, ngOptions(opts...)...))
	return f
}

func (f *ngFile) idb(opts ...[]byte) {
	body := binary.LittleEndian.AppendUint16(nil, linkEthernet)
	body = binary.LittleEndian.AppendUint16(body, 0)
	body = binary.LittleEndian.AppendUint32(body, 262144)
	f.block(ngIDB, append(body, ngOptions(opts...)...))
}

// epbBody is an Enhanced Packet Block body claiming caplen captured bytes
// while carrying data; packet n sets the timestamp.
func epbBody(iface uint32, n int, caplen uint32, data []byte, opts ...[]byte) []byte {
	ts := uint64(corpusEpoch)*1e6 + uint64(n)*1000
	b := binary.LittleEndian.AppendUint32(nil, iface)
	b = binary.LittleEndian.AppendUint32(b, uint32(ts>>32))
	b = binary.LittleEndian.AppendUint32(b, uint32(ts))
	b = binary.LittleEndian.AppendUint32(b, caplen)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	b = append(b, data...)
	b = append(b, make([]byte, pad4(len(data)))...)
	return append(b, ngOptions(opts...)...)
}

func (f *ngFile) epb(iface uint32, data []byte, opts ...[]byte) {
	f.block(ngEPB, epbBody(iface, len(f.blocks), uint32(len(data)), data, opts...))
}

func (f *ngFile) segs(iface uint32, ss []seg) {
	for _, s := range ss {
		f.epb(iface, frame(s))
	}
}

// ---- gzip ----------------------------------------------------------------

// storedGzip compresses b with gzip's "stored" (no compression) blocks:
// byte-identical on every Go release, and offsets in it map one to one onto
// the decompressed stream.
func storedGzip(b []byte) []byte {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.NoCompression)
	if err != nil {
		panic(err) // the level is a constant
	}
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// ---- the corpus ----------------------------------------------------------

// validPcap is the small valid capture the corpus starts from: one clean
// connection.
func validPcap() *pcapFile {
	f := newPcap(262144)
	f.segs(cleanConn(corpusClient, corpusServer))
	return f
}

// validNg is validPcap as pcapng: SHB, one Ethernet IDB, EPBs.
func validNg() *ngFile {
	f := newNg()
	f.idb()
	f.segs(0, cleanConn(corpusClient, corpusServer))
	return f
}

// withBad builds a capture of the clean connection in which bad is placed
// after the handshake (three segments) and before the rest, so that the
// report must still show the whole clean connection around it.
func withBad(bad ...[]byte) []byte {
	conn := cleanConn(corpusClient, corpusServer)
	f := newPcap(262144)
	f.segs(conn[:3])
	for _, b := range bad {
		f.packet(b)
	}
	f.segs(conn[3:])
	return f.b
}

// withCut is withBad for packets cut short by a snaplen: each of bad is
// recorded with only caps[i] bytes captured.
func withCut(bad []byte, caps ...int) []byte {
	conn := cleanConn(corpusClient, corpusServer)
	f := newPcap(262144)
	f.segs(conn[:3])
	for _, c := range caps {
		f.cut(bad, c)
	}
	f.segs(conn[3:])
	return f.b
}

// mutate returns a copy of b with fix applied, for "valid packet, then break
// one field" mutations.
func mutate(b []byte, fix func([]byte)) []byte {
	c := bytes.Clone(b)
	fix(c)
	return c
}

// dataSeg is a mid-connection data segment of cleanConn's client, used as
// the packet the malformed variants break.
var dataSeg = seg{corpusClient, corpusServer, 1001, 5001, capture.PSH | capture.ACK, 40}

// endlessChain returns an IPv6 packet whose Destination Options headers
// (8 bytes each, PadN only) point to one another n times and whose last one
// still announces another: the chain runs off the end of the packet.
func endlessChain(n int) []byte {
	opt := []byte{protoDstOpts, 0, 1, 4, 0, 0, 0, 0} // next=DstOpts, len 0 (8 bytes), PadN(4)
	return ether(etherIPv6, ipv6(corpusClient6.Addr(), corpusServer6.Addr(), protoDstOpts, bytes.Repeat(opt, n)))
}

// corpus returns every file of testdata/malformed, in README order.
func corpus() []malformedFile {
	clean := validPcap()
	conn := cleanConn(corpusClient, corpusServer)
	n := uint64(len(conn))
	var files []malformedFile
	add := func(name, wrong string, data []byte, want outcome) {
		files = append(files, malformedFile{name, wrong, data, want})
	}

	// ---- not a capture at all
	add("empty.pcap", "zero bytes", nil, outcome{damaged: true})
	add("text.pcap", "an HTML error page saved under a capture's name, as a failed download leaves it",
		[]byte("<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>\n<body><h1>Not Found</h1></body></html>\n"),
		outcome{damaged: true})
	add("bad-magic.pcap", "a valid capture whose magic number has one byte changed (d4 c3 b2 a1 -> d4 c3 b2 a0)",
		mutate(clean.b, func(b []byte) { b[3] = 0xa0 }), outcome{damaged: true})
	garbage := make([]byte, 512)
	rng := rand.New(rand.NewPCG(6, 6))
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}
	add("garbage.pcap.gz", "a well-formed gzip stream of 512 random bytes", storedGzip(garbage), outcome{damaged: true})

	// ---- pcap file and record headers
	f := newPcap(0)
	f.segs(conn)
	add("snaplen-zero.pcap", "file header snaplen 0; records are otherwise valid (libpcap reads such a file, taking snaplen 0 as \"no limit\")",
		f.b, outcome{tcp: n})

	f = newPcap(262144)
	f.segs(conn[:3])
	f.recordHeader(3, 1<<31, 1<<31)
	f.b = append(f.b, bytes.Repeat([]byte{0xee}, 64)...)
	add("record-2gib.pcap", "after the handshake, a record header claiming 2 GiB captured (and on the wire), followed by 64 bytes",
		f.b, outcome{damaged: true, errAt: f.records[3], tcp: 3})

	gz := storedGzip(clean.b)
	// Cut inside the fifth record: the stored block header is 15 bytes
	// into the gzip stream (10 gzip + 5 deflate), so decompressed offset
	// = gzip offset - 15.
	cutAt := 15 + clean.records[4] + 30
	add("truncated.pcap.gz", fmt.Sprintf("the gzip of a valid 8-packet capture, cut after %d of its %d bytes (inside the fifth record, with no gzip trailer)", cutAt, len(gz)),
		gz[:cutAt], outcome{damaged: true, errAt: clean.records[4], tcp: 4})

	// ---- pcapng block lengths that lie
	// lie writes the clean connection with a lying block after the
	// handshake. An impossible length is reported at the length field
	// itself (field = 4, the offset of Block Total Length in the block);
	// lengths that are possible but inconsistent with the rest of the
	// block, at the block.
	lie := func(name, wrong string, head, tail uint32, body []byte, field int64) {
		g := newNg()
		g.idb()
		g.segs(0, conn[:3])
		g.rawBlock(ngEPB, head, body, tail)
		g.segs(0, conn[3:])
		add(name, wrong, g.b, outcome{damaged: true, errAt: g.blocks[5] + field, tcp: 3})
	}
	body := epbBody(0, 5, uint32(len(frame(dataSeg))), frame(dataSeg))
	honest := uint32(12 + len(body))
	lie("pcapng-block-len-too-small.pcapng", "after the handshake, an Enhanced Packet Block whose total length says 8 (the minimum is 12); the error names the length field",
		8, 8, body, 4)
	lie("pcapng-block-len-not-mult4.pcapng", fmt.Sprintf("after the handshake, an Enhanced Packet Block whose total length says %d, not a multiple of 4; the error names the length field", honest+1),
		honest+1, honest+1, body, 4)
	lie("pcapng-block-len-trailer-mismatch.pcapng", fmt.Sprintf("after the handshake, an Enhanced Packet Block whose trailing length (%d) differs from its leading one (%d)", honest+4, honest),
		honest, honest+4, body, 0)
	lie("pcapng-epb-caplen-4gib.pcapng", "after the handshake, an honest-length Enhanced Packet Block whose captured length field says 0xfffffff0 (about 4 GiB)",
		honest, honest, mutate(body, func(b []byte) { binary.LittleEndian.PutUint32(b[12:], 0xfffffff0) }), 0)

	g := newNg()
	g.idb()
	g.segs(0, conn[:3])
	g.rawBlock(ngEPB, 1<<20, body, 1<<20)
	add("pcapng-block-len-past-eof.pcapng", fmt.Sprintf("the last block, after the handshake, claims a total length of 1 MiB; the file ends %d bytes later", len(g.b)-int(g.blocks[5])),
		g.b, outcome{damaged: true, errAt: g.blocks[5], tcp: 3})

	g = newNg()
	g.segs(0, conn)
	add("pcapng-packet-before-idb.pcapng", "Enhanced Packet Blocks right after the Section Header Block, with no Interface Description Block",
		g.b, outcome{damaged: true, errAt: g.blocks[1]})

	g = newNg()
	g.idb()
	g.segs(0, conn[:3])
	g.epb(7, frame(dataSeg))
	g.segs(0, conn[3:])
	add("pcapng-bad-interface-id.pcapng", "after the handshake, an Enhanced Packet Block on interface 7 of a section that describes only interface 0 (libpcap: \"a packet arrived on interface 7, but there's no Interface Description Block for that interface\")",
		g.b, outcome{damaged: true, errAt: g.blocks[5], tcp: 3})

	// ---- packets that do not decode; the rest of the capture is fine
	d := frame(dataSeg)
	add("ipv4-ihl-below-5.pcap", "in a clean connection, two packets whose IPv4 header length is below the minimum of 5 words (IHL 4 and IHL 0)",
		withBad(mutate(d, func(b []byte) { b[offIPv4] = 0x44 }), mutate(d, func(b []byte) { b[offIPv4] = 0x40 })),
		outcome{tcp: n, skipped: 2})
	add("tcp-doff-below-5.pcap", "in a clean connection, two TCP segments whose data offset is below the minimum of 5 words (4 and 0)",
		withBad(mutate(d, func(b []byte) { b[offTCPDOff] = 4 << 4 }), mutate(d, func(b []byte) { b[offTCPDOff] = 0 })),
		outcome{tcp: n, skipped: 2})
	bare := frame(seg{corpusClient, corpusServer, 1001, 5001, capture.ACK, 0})
	add("tcp-doff-past-packet.pcap", "in a clean connection, two TCP segments of 20 bytes (IP total length 40, fully captured) whose data offset says 60 and 24 bytes",
		withBad(mutate(bare, func(b []byte) { b[offTCPDOff] = 15 << 4 }), mutate(bare, func(b []byte) { b[offTCPDOff] = 6 << 4 })),
		outcome{tcp: n, skipped: 2})
	add("tcp-header-snaplen-truncated.pcap", fmt.Sprintf("in a clean connection, three records of a %d-byte frame captured with a snaplen that cuts the TCP header after 0, 4 and 13 bytes (flags missing)", len(d)),
		withCut(d, offTCP4, offTCP4+4, offTCP4+13), outcome{tcp: n, skipped: 3})
	add("ipv6-ext-chain-endless.pcap", "in a clean connection, two IPv6 packets whose Destination Options chain never reaches a transport header: 3 headers, then 1000 headers (8000 bytes), each announcing one more",
		withBad(endlessChain(3), endlessChain(1000)), outcome{tcp: n, skipped: 2})

	return files
}

// readme renders testdata/malformed/README.md from the corpus table.
func readme(files []malformedFile) []byte {
	var b strings.Builder
	b.WriteString(`# Malformed captures

Hostile and broken input for tcpaudit (issue 6). Do not edit these files by
hand: they are written, byte for byte, by cmd/tcpaudit/hostile_gen_test.go:

    go test ./cmd/tcpaudit -run TestMalformedCorpusUpToDate -update-malformed

and cmd/tcpaudit/hostile_test.go runs the whole command on each of them.
"Offset" is a byte offset into the file (into the decompressed stream for
.gz files): the start of the damaged record or block (or of the length
field, when that field alone is impossible), so that
` + "`xxd -s OFFSET FILE`" + ` shows it. The clean connection the damage sits in is
192.0.2.10:40000 -> 198.51.100.20:80, 8 packets, one millisecond apart.

Never a panic, and never memory in proportion to a length a file claims.

Also generated in the test, not committed: the valid capture behind these
files (pcap, pcapng and gzipped pcap) cut at every byte offset.

| file | what is wrong | expected behaviour |
|---|---|---|
`)
	for _, f := range files {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", f.name, strings.ReplaceAll(f.wrong, "|", `\|`), f.want)
	}
	return []byte(b.String())
}

// TestMalformedCorpusUpToDate checks that testdata/malformed holds exactly
// what corpus() writes (and rewrites it with -update-malformed), so that the
// README, the expectations in hostile_test.go and the bytes never disagree.
func TestMalformedCorpusUpToDate(t *testing.T) {
	files := corpus()
	want := map[string][]byte{"README.md": readme(files)}
	for _, f := range files {
		want[f.name] = f.data
	}
	if *updateMalformed {
		if err := os.MkdirAll(malformedDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range want {
			if err := os.WriteFile(filepath.Join(malformedDir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	entries, err := os.ReadDir(malformedDir)
	if err != nil {
		t.Fatalf("%v (run with -update-malformed to create the corpus)", err)
	}
	for _, e := range entries {
		if _, ok := want[e.Name()]; !ok {
			t.Errorf("%s/%s is not written by the generator: delete it or add it to corpus()", malformedDir, e.Name())
		}
	}
	for name, b := range want {
		got, err := os.ReadFile(filepath.Join(malformedDir, name))
		if err != nil {
			t.Errorf("%v (run with -update-malformed)", err)
			continue
		}
		if !bytes.Equal(got, b) {
			t.Errorf("%s/%s differs from the generator's output (run with -update-malformed)", malformedDir, name)
		}
	}
}
