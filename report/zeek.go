package report

import (
	"fmt"
	"io"
	"net/netip"
	"strconv"
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
type zeekWriter struct{ rows }

func newZeek(w io.Writer) streamer { return &zeekWriter{rows{w: w}} }

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
// Lines are appended to a buffer and written on in bulk (rows): through
// fmt, with a string made for every column,
// writing the conn.log took a fifth of the CPU time of an audit on two
// cores (issue 5). TestZeekLinesMatchFmt keeps the two alike.
func (z *zeekWriter) Flow(f *reassembly.Flow) error {
	recs := f.Zeek
	if len(recs) == 0 {
		recs = []reassembly.ZeekRecord{{FirstIndex: f.FirstIndex, Orig: f.Client().Addr, Resp: f.Server().Addr,
			ConnState: f.ConnState, History: f.History}}
	}
	for i := range recs {
		z.buf = appendZeekLine(z.buf, f, recs, i)
	}
	return z.rowDone()
}

// appendZeekLine appends the line of record i of recs, f's records.
func appendZeekLine(b []byte, f *reassembly.Flow, recs []reassembly.ZeekRecord, i int) []byte {
	rec := &recs[i]
	o, r := f.Client(), f.Server()
	if rec.Orig == r.Addr && rec.Resp == o.Addr {
		o, r = r, o
	}
	if i == 0 {
		b = appendZeekTime(b, f.FirstSeen)
	} else {
		b = append(b, '-')
	}
	b = append(b, '\t')
	b = appendZeekUID(b, f.ID, i)
	b = append(b, '\t')
	b = appendZeekAddr(b, rec.Orig.Addr())
	b = append(b, '\t')
	b = strconv.AppendUint(b, uint64(rec.Orig.Port()), 10)
	b = append(b, '\t')
	b = appendZeekAddr(b, rec.Resp.Addr())
	b = append(b, '\t')
	b = strconv.AppendUint(b, uint64(rec.Resp.Port()), 10)
	b = append(b, "\ttcp\t-\t"...)
	// The flow's counters cover all its records; they are written only
	// when there is one record, unset ("-") rather than wrong otherwise.
	// Zeek sets duration and the byte counts only when the connection
	// lasted (conn.zeek: if c$duration > 0).
	if d := f.LastSeen.Sub(f.FirstSeen); len(recs) == 1 && d > 0 {
		b = strconv.AppendFloat(b, d.Seconds(), 'f', 6, 64)
		b = append(b, '\t')
		b = strconv.AppendUint(b, o.Bytes, 10)
		b = append(b, '\t')
		b = strconv.AppendUint(b, r.Bytes, 10)
	} else {
		b = append(b, "-\t-\t-"...)
	}
	b = append(b, '\t')
	b = appendZeekField(b, rec.ConnState)
	b = append(b, "\t-\t-\t0\t"...)
	b = appendZeekField(b, rec.History)
	if len(recs) == 1 {
		for _, n := range [...]uint64{o.Packets, o.WireBytes, r.Packets, r.WireBytes} {
			b = append(b, '\t')
			b = strconv.AppendUint(b, n, 10)
		}
	} else {
		b = append(b, "\t-\t-\t-\t-"...)
	}
	return append(b, "\t-\t6\n"...)
}

// End writes the #close line.
func (z *zeekWriter) End(d *Data) error {
	if err := z.flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(z.w, "#close\t%s\n", zeekStamp(d.End))
	return err
}

// appendZeekTime appends an epoch timestamp with microseconds, as Zeek
// prints it.
func appendZeekTime(b []byte, t time.Time) []byte {
	us := t.UnixMicro()
	if us < 0 {
		return fmt.Appendf(b, "%d.%06d", us/1e6, us%1e6)
	}
	b = strconv.AppendInt(b, us/1e6, 10)
	frac := us % 1e6
	return append(b, '.', byte('0'+frac/1e5), byte('0'+frac/1e4%10), byte('0'+frac/1e3%10),
		byte('0'+frac/100%10), byte('0'+frac/10%10), byte('0'+frac%10))
}

// appendZeekAddr appends an address without its zone, as its String
// method would print it.
func appendZeekAddr(b []byte, a netip.Addr) []byte {
	if !a.IsValid() {
		return append(b, a.String()...)
	}
	return a.WithZone("").AppendTo(b)
}

// appendZeekField appends a string column: empty is "(empty)", and
// separators or control characters are escaped as Zeek escapes them
// (\xNN).
func appendZeekField(b []byte, s string) []byte {
	switch {
	case s == "":
		return append(b, "(empty)"...)
	case s == "-":
		return append(b, `\x2d`...)
	case isSafe(s) && !strings.Contains(s, ","):
		return append(b, s...)
	}
	return append(b, strings.ReplaceAll(safe(s), ",", `\x2c`)...)
}

// ZeekUID derives a Zeek-style connection uid ("C" and 17 base62 digits)
// from a flow ID. It is deterministic, so the same capture gives the same
// uids, and distinct for distinct IDs: splitmix64's finaliser is a
// bijection on 64 bits and all 64 bits are encoded.
func ZeekUID(id uint64) string { return zeekUID(id, 0) }

// zeekUID is the uid of the rec-th Zeek record of flow id; the record
// number only changes the last six digits, so the first 11 still identify
// the flow uniquely.
func zeekUID(id uint64, rec int) string { return string(appendZeekUID(nil, id, rec)) }

// appendZeekUID appends zeekUID(id, rec).
func appendZeekUID(b []byte, id uint64, rec int) []byte {
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	var u [18]byte
	u[0] = 'C'
	hi, lo := mix(id), mix(id^0x9e3779b97f4a7c15+uint64(rec))
	for i := 1; i < 12; i++ { // 11 base62 digits hold 64 bits
		u[i] = digits[hi%62]
		hi /= 62
	}
	for i := 12; i < 18; i++ {
		u[i] = digits[lo%62]
		lo /= 62
	}
	return append(b, u[:]...)
}

// mix is splitmix64's finaliser.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
