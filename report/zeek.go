package report

import (
	"fmt"
	"io"
	"math/bits"
	"strings"
	"time"

	"github.com/tcpaudit/tcpaudit/reassembly"
)

// zeekWriter writes a Zeek conn.log in Zeek's TSV format, header lines
// included, so zeek-cut and other Zeek tooling read it. Like csvWriter it is
// a stream: Begin, Flow per flow, End.
//
// What the wire alone cannot give is written as Zeek writes an unknown:
// service, local_orig and local_resp are unset ("-"), missed_bytes is 0
// (gaps are not tracked), and orig_bytes/resp_bytes count payload bytes
// including retransmissions where Zeek counts sequence space. The
// ip_bytes columns are link-layer bytes. A flow Zeek would split into
// several records gets one line per record, with the counters unset.
type zeekWriter struct{ w io.Writer }

func newZeek(w io.Writer) streamer { return &zeekWriter{w} }

const zeekFields = "ts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\t" +
	"orig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\t" +
	"orig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\tip_proto"

const zeekTypes = "time\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\t" +
	"count\tcount\tstring\tbool\tbool\tcount\tstring\t" +
	"count\tcount\tcount\tcount\tset[string]\tcount"

// zeekStamp is the #open/#close time format.
func zeekStamp(t time.Time) string { return t.UTC().Format("2006-01-02-15-04-05") }

// Begin writes the header lines. #open and #close carry the capture's
// bounds rather than the wall clock, so that the same capture always gives
// the same log.
func (z *zeekWriter) Begin(start time.Time) error {
	_, err := fmt.Fprintf(z.w, "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n#open\t%s\n#fields\t%s\n#types\t%s\n",
		zeekStamp(start), zeekFields, zeekTypes)
	return err
}

// Flow writes the flow's records: usually one, more when Zeek's own
// timers would have split the connection (reassembly.Flow.Zeek). Zeek's
// originator may be our server; the columns follow Zeek's orientation.
func (z *zeekWriter) Flow(f *reassembly.Flow) error {
	recs := f.Zeek
	if len(recs) == 0 {
		recs = []reassembly.ZeekRecord{{FirstIndex: f.FirstIndex, Orig: f.Client().Addr, Resp: f.Server().Addr,
			ConnState: f.ConnState, History: f.History}}
	}
	for i, rec := range recs {
		o, r := f.Client(), f.Server()
		if rec.Orig == r.Addr && rec.Resp == o.Addr {
			o, r = r, o
		}
		ts, dur, ob, rb := "-", "-", "-", "-"
		op, oip, rp, rip := "-", "-", "-", "-"
		if i == 0 {
			ts = zeekTime(f.FirstSeen)
		}
		// The flow's counters cover all its records; they are written only
		// when there is one record, unset ("-") rather than wrong otherwise.
		if len(recs) == 1 {
			op, oip = fmt.Sprint(o.Packets), fmt.Sprint(o.WireBytes)
			rp, rip = fmt.Sprint(r.Packets), fmt.Sprint(r.WireBytes)
			// Zeek sets duration and the byte counts only when the
			// connection lasted (conn.zeek: if c$duration > 0).
			if d := f.LastSeen.Sub(f.FirstSeen); d > 0 {
				dur = fmt.Sprintf("%.6f", d.Seconds())
				ob, rb = fmt.Sprint(o.Bytes), fmt.Sprint(r.Bytes)
			}
		}
		fmt.Fprintf(z.w, "%s\t%s\t%s\t%d\t%s\t%d\ttcp\t-\t%s\t%s\t%s\t%s\t-\t-\t0\t%s\t%s\t%s\t%s\t%s\t-\t6\n",
			ts, zeekUID(f.ID, i),
			rec.Orig.Addr().WithZone(""), rec.Orig.Port(), rec.Resp.Addr().WithZone(""), rec.Resp.Port(),
			dur, ob, rb, zeekField(rec.ConnState), zeekField(rec.History), op, oip, rp, rip)
	}
	return nil
}

// End writes the #close line.
func (z *zeekWriter) End(d *Data) error {
	_, err := fmt.Fprintf(z.w, "#close\t%s\n", zeekStamp(d.End))
	return err
}

// zeekTime prints an epoch timestamp with microseconds, as Zeek does.
func zeekTime(t time.Time) string {
	us := t.UnixMicro()
	return fmt.Sprintf("%d.%06d", us/1e6, us%1e6)
}

// zeekField writes a string column: empty is "(empty)", and separators or
// control characters are escaped as Zeek escapes them (\xNN).
func zeekField(s string) string {
	if s == "" {
		return "(empty)"
	}
	if s == "-" {
		return `\x2d`
	}
	return strings.ReplaceAll(safe(s), ",", `\x2c`)
}

// ZeekUID derives a Zeek-style connection uid ("C" and 17 base62 digits)
// from a flow ID. It is deterministic, so the same capture gives the same
// uids, and distinct for distinct IDs: splitmix64's finaliser is a
// bijection on 64 bits and all 64 bits are encoded.
func ZeekUID(id uint64) string { return zeekUID(id, 0) }

// zeekUID is the uid of the rec-th Zeek record of flow id; the record
// number only changes the last six digits, so the first 11 still identify
// the flow uniquely.
func zeekUID(id uint64, rec int) string {
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	var b [18]byte
	b[0] = 'C'
	hi, lo := mix(id), mix(id^0x9e3779b97f4a7c15+uint64(rec))
	for i := 1; i < 12; i++ { // 11 base62 digits hold 64 bits
		var rem uint64
		hi, rem = bits.Div64(0, hi, 62)
		b[i] = digits[rem]
	}
	for i := 12; i < 18; i++ {
		var rem uint64
		lo, rem = bits.Div64(0, lo, 62)
		b[i] = digits[rem]
	}
	return string(b[:])
}

// mix is splitmix64's finaliser.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
