package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// FuzzReader feeds arbitrary bytes to the file readers (pcap, pcapng, and
// either of them gzipped) through a Source. It must never panic, never
// allocate beyond its bounds, and keep its counters consistent; every
// error must be a *FormatError within the input.
func FuzzReader(f *testing.F) {
	syn, data := fixture(f, synFrame), fixture(f, dataFrame)
	le, be := binary.LittleEndian, binary.BigEndian
	two := pcapFile(le, magicPcapMicro, LinkEthernet, 65535, rec{sec: base, data: syn}, rec{sec: base + 1, data: data})
	// A well-formed little-endian µs pcap.
	f.Add(two)
	// Big-endian ns pcap of raw IP.
	f.Add(pcapFile(be, magicPcapNano, LinkRaw, 0, rec{sec: base, data: syn[14:]}))
	// Kuznetzov's modified pcap (24-byte record headers).
	f.Add(pcapFile(le, magicPcapModified, LinkEthernet, 0, rec{sec: base, data: syn}))
	// pcapng: two sections of opposite byte order, three link types, all
	// packet block kinds, skipped blocks.
	f.Add((&ngFile{}).shb(le).idb(LinkEthernet, 0, 9).idb(LinkRaw, 0, -1).epb(0, 1, syn, len(syn)).epb(1, 2, syn[14:], 60).
		block(4, []byte{0, 0, 0, 0}).shb(be).idb(LinkNull, 0, 0x80|20).pb(0, 3, append([]byte{2, 0, 0, 0}, syn[14:]...)).spb(data).bytes())
	// gzip of a pcap.
	f.Add(gzipBytes(f, two))
	// An EPB whose captured length claims about 4 GiB.
	f.Add(func() []byte {
		b := (&ngFile{}).shb(le).idb(LinkEthernet, 0, -1).epb(0, 0, syn, len(syn)).bytes()
		copy(b[68+20:], []byte{0xf0, 0xff, 0xff, 0xff})
		return b
	}())
	// A record claiming 2 GiB after a good one.
	f.Add(func() []byte {
		b := append([]byte(nil), two...)
		le.PutUint32(b[24+16+len(syn)+8:], 2<<30)
		return b
	}())
	// Every file of the malformed corpus.
	for _, tc := range malformedCorpus(f) {
		f.Add(tc.file)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := newInput("fuzz", bytes.NewReader(b))
		if err != nil {
			checkFuzzError(t, err, in, len(b))
			return
		}
		defer in.Close() // stops a gzip layer's goroutine
		r, err := newFileReader(in)
		if err != nil {
			checkFuzzError(t, err, in, len(b))
			return
		}
		s := newSource([]packetReader{r}, Options{VerifyChecksums: true})
		var seg Segment
		var delivered uint64
		for {
			err := s.Next(&seg)
			if err != nil {
				if err.Error() != "EOF" {
					checkFuzzError(t, err, in, len(b))
				}
				break
			}
			delivered++
			if !seg.Src.IsValid() || !seg.Dst.IsValid() || seg.Index == 0 {
				t.Fatalf("segment with invalid fields: %+v", seg)
			}
			if data, _, _, _ := s.Raw(); len(data) > maxCaplen {
				t.Fatalf("packet of %d bytes", len(data))
			}
		}
		st := s.Stats()
		if st.TCP != delivered || st.TCP+st.NonTCP+st.Undecodable+st.UnsupportedLink+st.Filtered+st.Fragments != st.Packets {
			t.Fatalf("stats do not add up: %+v, delivered %d", st, delivered)
		}
		for _, w := range s.Warnings() {
			if bytes.ContainsAny([]byte(w), "\n\x1b") {
				t.Fatalf("warning with control characters: %q", w)
			}
		}
	})
}

// checkFuzzError requires a one-line *FormatError whose offset lies within
// the (decompressed, for gzip) input.
func checkFuzzError(t *testing.T, err error, in *input, n int) {
	t.Helper()
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T) is not a *FormatError", err, err)
	}
	if fe.Offset < 0 || (!fe.Compressed && fe.Offset > int64(n)) {
		t.Fatalf("offset %d outside a %d-byte input: %v", fe.Offset, n, err)
	}
	if bytes.ContainsAny([]byte(err.Error()), "\n\x1b") {
		t.Fatalf("error with control characters: %q", err.Error())
	}
}

// FuzzDecode feeds arbitrary frames of any link type to the Decoder. It
// must never panic, and a frame that is not TCP must leave no field of the
// segment set (no stale values from the previous packet).
func FuzzDecode(f *testing.F) {
	syn := fixture(f, synFrame)
	// A SYN with every common option, on Ethernet.
	f.Add(uint16(LinkEthernet), syn, len(syn))
	// The same as raw IPv4 with a larger wire length (snaplen cut).
	f.Add(uint16(LinkRaw), syn[14:], 1500)
	// IPv6 behind hop-by-hop and destination options.
	f.Add(uint16(LinkIPv6), fixture(f, ipv6Ext), 76)
	// An IPv6 extension header chain that never ends.
	f.Add(uint16(LinkIPv6), endlessIPv6(f), 400)
	// Stacked VLAN tags (QinQ) before IPv4.
	f.Add(uint16(LinkEthernet), append(fixture(f, "020000000002 020000000001 88a8 0064 8100 0006 0800"), syn[14:]...), 82)
	// MPLS label stack with a pseudowire control word and inner Ethernet.
	f.Add(uint16(LinkEthernet), append(fixture(f, "020000000002 020000000001 8847 00064140 00000000 020000000004 020000000003 0800"), syn[14:]...), 96)
	// PPPoE session carrying IPv4.
	f.Add(uint16(LinkEthernet), append(fixture(f, "020000000002 020000000001 8864 1100 0009 0000 0021"), syn[14:]...), 82)
	// Linux SLL2 with IPv4.
	f.Add(uint16(LinkLinuxSLL2), append(fixture(f, "0800 0000 00000002 0001 00 06 020000000001 0000"), syn[14:]...), 80)
	// IPv4 first fragment of a TCP datagram (more fragments).
	f.Add(uint16(LinkRaw), func() []byte {
		b := append([]byte(nil), syn[14:14+28]...)
		binary.BigEndian.PutUint16(b[2:], 28)
		b[6] = 0x20
		return b
	}(), 28)
	// GTP-U over UDP/2152 carrying IPv4/TCP.
	f.Add(uint16(LinkRaw), append(fixture(f, "4500 0054 0000 0000 4011 0000 0a090901 0a090902 0868 0868 0040 0000 30ff 0030 00000007"), syn[14:]...), 84)
	// VXLAN over UDP/4789 carrying Ethernet/IPv4/TCP.
	f.Add(uint16(LinkRaw), append(fixture(f, "4500 0060 0000 0000 4011 0000 0a090901 0a090902 c822 12b5 004c 0000 08000000 00004d00 020000000002 020000000001 0800"), syn[14:]...), 110)
	// IHL below 5.
	f.Add(uint16(LinkRaw), append([]byte{0x44}, syn[15:]...), 60)
	// A link type nobody decodes.
	f.Add(uint16(147), syn, len(syn))
	// link's top bit turns checksum verification off, so both paths run.
	f.Fuzz(func(t *testing.T, link uint16, b []byte, wire int) {
		d := Decoder{VerifyChecksums: link&0x8000 == 0}
		var seg Segment
		// Decode twice: the second decode must not see anything of the first.
		d.Decode(LinkEthernet, 1, syn, len(syn), &seg)
		k := d.Decode(LinkType(link&0x7fff), 2, b, wire, &seg)
		switch k {
		case KindTCP:
			if !seg.Src.IsValid() || !seg.Dst.IsValid() || seg.Time != 2 {
				t.Fatalf("TCP segment with invalid fields: %+v", seg)
			}
			if seg.Flags&SYN == 0 && (seg.MSS != 0 || seg.WScale != -1) {
				t.Fatalf("SYN options on a non-SYN: %+v", seg)
			}
			if seg.Checksum != ChecksumUnverified && !d.VerifyChecksums {
				t.Fatalf("checksum %s with verification %v", seg.Checksum, d.VerifyChecksums)
			}
		case KindNotTCP, KindFragment, KindMalformed, KindUnsupportedLink:
			if want := (Segment{Time: 2, WireLen: uint32(wire), WScale: -1}); seg != want {
				t.Fatalf("%s left fields set: %+v", k, seg)
			}
		default:
			t.Fatalf("Decode returned %s", k)
		}
		if (k == KindMalformed) != (d.Problem() != ProblemNone) {
			t.Fatalf("kind %s with problem %s", k, d.Problem())
		}
	})
}
