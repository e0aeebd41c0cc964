package reassembly

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/tcpaudit/tcpaudit/capture"
)

// fuzzRecord is the size of one segment in FuzzTable's input:
//
//	byte 0   bit 0: direction (0 client to server); bits 1-2: which of the 4
//	         tuples (fuzzTuples)
//	byte 1   TCP flags
//	byte 2-3 seq offset from the sender's next sequence number (int16)
//	byte 4   ack offset from the receiver's next sequence number (int8)
//	byte 5   payload length
//	byte 6   time step in ms (int8: negative goes backwards)
//	byte 7   window / 256 (0 is a zero window); the top bit instead XORs the
//	         seq with a random-looking value (blind RSTs, wild SYNs)
const fuzzRecord = 8

// fuzzTuples are the client and server of fuzzSegments' four tuples: two
// IPv4 ones, an IPv6 one (whose addresses a slot keeps in its slab), and
// the first one's client in its IPv4-mapped IPv6 form, another endpoint
// that hashes apart and must stay apart (connAddrs).
var fuzzTuples = [4][2]netip.AddrPort{
	{netip.MustParseAddrPort("10.0.0.1:40000"), testServer},
	{netip.MustParseAddrPort("10.0.0.2:40000"), testServer},
	{netip.MustParseAddrPort("[2001:db8::3]:40000"), netip.MustParseAddrPort("[2001:db8::2]:80")},
	{netip.MustParseAddrPort("[::ffff:10.0.0.1]:40000"), testServer},
}

// fuzzSegments decodes FuzzTable's input. Each tuple's client starts at ISN
// 0xffffff00, so that long inputs cross the 2^32 wrap.
func fuzzSegments(data []byte) []capture.Segment {
	var nxt [4][2]uint32
	for i := range nxt {
		nxt[i] = [2]uint32{0xffffff00, 5000}
	}
	now := testEpoch
	var segs []capture.Segment
	for i := 0; i+fuzzRecord <= len(data); i += fuzzRecord {
		r := data[i : i+fuzzRecord]
		dir, tup := int(r[0]&1), int(r[0]>>1&3)
		cli, srv := fuzzTuples[tup][0], fuzzTuples[tup][1]
		s := capture.Segment{Index: uint64(len(segs) + 1), Flags: capture.Flags(r[1]), WScale: -1,
			PayloadLen: uint32(r[5]), Window: uint16(r[7]&0x7f) << 8}
		s.Src, s.Dst = cli, srv
		if dir == 1 {
			s.Src, s.Dst = srv, cli
		}
		s.Seq = nxt[tup][dir] + uint32(int32(int16(binary.BigEndian.Uint16(r[2:4]))))
		if r[7]&0x80 != 0 {
			s.Seq ^= 0x9e3779b9 * uint32(r[7])
		}
		s.Ack = nxt[tup][1-dir] + uint32(int32(int8(r[4])))
		now += int64(int8(r[6])) * int64(time.Millisecond)
		s.Time = now
		s.WireLen = 54 + s.PayloadLen
		if s.Seq == nxt[tup][dir] {
			nxt[tup][dir] += s.SeqLen()
		}
		segs = append(segs, s)
	}
	return segs
}

// seed encodes segments for FuzzTable: dir, tuple, flags, seq and ack
// offsets, length, ms step, window/256.
func seed(recs ...[8]int) []byte {
	var b []byte
	for _, r := range recs {
		b = append(b, byte(r[0]|r[1]<<1), byte(r[2]), byte(uint16(int16(r[3]))>>8), byte(int16(r[3])),
			byte(int8(r[4])), byte(r[5]), byte(int8(r[6])), byte(r[7]))
	}
	return b
}

const (
	fS  = int(capture.SYN)
	fSA = int(capture.SYN | capture.ACK)
	fA  = int(capture.ACK)
	fPA = int(capture.PSH | capture.ACK)
	fFA = int(capture.FIN | capture.ACK)
	fR  = int(capture.RST)
	fRA = int(capture.RST | capture.ACK)
)

func FuzzTable(f *testing.F) {
	hs := [][8]int{{0, 0, fS, 0, 0, 0, 1, 4}, {1, 0, fSA, 0, 0, 0, 1, 4}, {0, 0, fA, 0, 0, 0, 1, 4}}
	// A whole clean connection across the sequence wrap.
	f.Add(seed(append(hs, [8]int{0, 0, fPA, 0, 0, 200, 1, 4}, [8]int{1, 0, fA, 0, 0, 0, 1, 4},
		[8]int{0, 0, fFA, 0, 0, 0, 1, 4}, [8]int{1, 0, fFA, 0, 0, 0, 1, 4}, [8]int{0, 0, fA, 0, 0, 0, 1, 4})...))
	// A refused connection retried on the same tuple.
	f.Add(seed([8]int{0, 0, fS, 0, 0, 0, 1, 4}, [8]int{1, 0, fRA, 0, 0, 0, 1, 0},
		[8]int{0, 0, fS, -1, 0, 0, 100, 4}, [8]int{1, 0, fRA, 0, 0, 0, 1, 0}))
	// Blind RSTs with wild sequence numbers on an established flow.
	f.Add(seed(append(hs, [8]int{1, 0, fR, 0, 0, 0, 1, 0x81}, [8]int{0, 0, fR, 0, 0, 0, 1, 0x93},
		[8]int{1, 0, fR, 0, 0, 0, 1, 0})...))
	// Retransmissions into silence, then timestamps going backwards.
	f.Add(seed(append(hs, [8]int{0, 0, fPA, 0, 0, 100, 1, 4}, [8]int{0, 0, fPA, -100, 0, 100, 120, 4},
		[8]int{0, 0, fPA, -100, 0, 100, -100, 4}, [8]int{0, 0, fPA, -100, 0, 100, 127, 4})...))
	// Zero window, probes, keepalives, out-of-order data on two tuples.
	f.Add(seed(append(hs, [8]int{1, 0, fA, 0, 0, 0, 1, 0}, [8]int{0, 0, fA, -1, 0, 0, 100, 4},
		[8]int{0, 1, fPA, 300, 0, 100, 1, 4}, [8]int{0, 1, fPA, 0, 0, 100, 1, 4}, [8]int{0, 0, fA, -1, 0, 1, 127, 4})...))
	// SYN flood style: SYNs on all four tuples, a SYN-ACK with a bogus ack.
	f.Add(seed([8]int{0, 0, fS, 0, 0, 0, 0, 4}, [8]int{0, 1, fS, 0, 0, 0, 0, 4}, [8]int{0, 2, fS, 0, 0, 0, 0, 4},
		[8]int{0, 3, fS, 0, 0, 0, 0, 4}, [8]int{1, 3, fSA, 0, 77, 0, 1, 4}, [8]int{0, 3, fR, 77, 0, 0, 1, 0}))

	f.Fuzz(func(t *testing.T, data []byte) {
		segs := fuzzSegments(data)
		if len(segs) == 0 {
			return
		}
		cfg := DefaultConfig()
		cfg.MaxFlows = 3 // exercise eviction with the four tuples
		cfg.IdleTimeout = 90 * time.Second
		emitted := map[uint64]bool{}
		var pkts, bytes, wire uint64
		tab := NewTable(cfg, func(fl *Flow) {
			if emitted[fl.ID] {
				t.Fatalf("flow %d emitted twice", fl.ID)
			}
			emitted[fl.ID] = true
			checkFlow(t, fl)
			for _, e := range fl.Ends {
				pkts += e.Packets
				bytes += e.Bytes
				wire += e.WireBytes
			}
		})
		var wantBytes, wantWire uint64
		last := int64(0)
		for i := range segs {
			tab.Add(&segs[i])
			wantBytes += uint64(segs[i].PayloadLen)
			wantWire += uint64(segs[i].WireLen)
			last = max(last, segs[i].Time)
		}
		tab.Close(last)
		st := tab.Stats()
		if st.Active != 0 || st.Total != uint64(len(emitted)) || st.Emitted != st.Total {
			t.Fatalf("stats after Close: %+v, %d flows emitted", st, len(emitted))
		}
		for id := uint64(1); id <= st.Total; id++ {
			if !emitted[id] {
				t.Fatalf("flow %d never emitted", id)
			}
		}
		if pkts != uint64(len(segs)) || bytes != wantBytes || wire != wantWire {
			t.Fatalf("counts: %d packets, %d bytes, %d wire bytes; fed %d, %d, %d",
				pkts, bytes, wire, len(segs), wantBytes, wantWire)
		}
	})
}

// checkFlow asserts the invariants of an emitted flow.
func checkFlow(t *testing.T, f *Flow) {
	t.Helper()
	if f.Verdict == VerdictUnknown || int(f.Verdict) >= len(verdictNames) {
		t.Fatalf("flow %d: verdict %v", f.ID, f.Verdict)
	}
	if f.Reason == "" {
		t.Fatalf("flow %d: no reason for %v", f.ID, f.Verdict)
	}
	for _, e := range f.Ends {
		if int(e.State) >= len(stateNames) || e.State == Listen {
			t.Fatalf("flow %d: state %v", f.ID, e.State)
		}
	}
	for i, tr := range f.Timeline {
		if int(tr.State) >= len(stateNames) || (i > 0 && tr.Time.Before(f.Timeline[i-1].Time)) {
			t.Fatalf("flow %d: timeline %v", f.ID, f.Timeline)
		}
	}
	if f.Ends[Client].Packets+f.Ends[Server].Packets == 0 {
		t.Fatalf("flow %d has no packets", f.ID)
	}
	if len(f.Zeek) == 0 {
		t.Fatalf("flow %d: no Zeek record", f.ID)
	}
	for _, z := range f.Zeek {
		switch z.ConnState {
		case "S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR", "OTH":
		default:
			t.Fatalf("flow %d: conn_state %q", f.ID, z.ConnState)
		}
	}
	if f.LastSeen.Before(f.FirstSeen) {
		t.Fatalf("flow %d: last seen %v before first %v", f.ID, f.LastSeen, f.FirstSeen)
	}
	if n := len(f.Ladder()); n > LadderHead+LadderTail {
		t.Fatalf("flow %d: ladder of %d", f.ID, n)
	}
}
