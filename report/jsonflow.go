package report

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tcpaudit/tcpaudit/reassembly"
)

// appendJSONFlow appends f as one element of the "flows" array: exactly the
// bytes json.MarshalIndent(NewJSONFlow(f), "    ", "  ") gives, written
// field by field instead of through reflection and a second indenting pass.
// A capture of 200,000 connections spends seconds in encoding/json and
// milliseconds here. The test checks both agree on every flow of the test
// captures and on flows with awkward strings, so the JSONFlow type stays
// the one definition of the format.
func appendJSONFlow(b []byte, f *reassembly.Flow, d *jsonDate) []byte {
	b = append(b, '{')
	b = jsonKey(b, in1, "client")
	b = jsonAddr(b, f.Client().Addr)
	b = jsonKey(b, ","+in1, "server")
	b = jsonAddr(b, f.Server().Addr)
	b = jsonKey(b, ","+in1, "first_seen")
	b = jsonTime(b, f.FirstSeen, d)
	b = jsonKey(b, ","+in1, "last_seen")
	b = jsonTime(b, f.LastSeen, d)
	b = jsonKey(b, ","+in1, "handshake")
	b = jsonName(b, f.Handshake.String())
	b = jsonKey(b, ","+in1, "verdict")
	b = jsonName(b, f.Verdict.String())
	b = jsonKey(b, ","+in1, "reason")
	b = jsonString(b, f.Reason)
	b = jsonKey(b, ","+in1, "active_closer")
	b = jsonName(b, f.ActiveCloser.String())
	b = jsonKey(b, ","+in1, "reset_by")
	b = jsonName(b, f.ResetBy.String())
	b = jsonKey(b, ","+in1, "client_state")
	b = stateNames[f.Client().State].appendTo(b)
	b = jsonKey(b, ","+in1, "server_state")
	b = stateNames[f.Server().State].appendTo(b)
	b = jsonKey(b, ","+in1, "conn_state")
	b = jsonString(b, f.ConnState)
	b = jsonKey(b, ","+in1, "history")
	b = jsonString(b, f.History)
	b = jsonKey(b, ","+in1, "id")
	b = strconv.AppendUint(b, f.ID, 10)
	b = jsonKey(b, ","+in1, "duration_ns")
	b = strconv.AppendInt(b, int64(f.LastSeen.Sub(f.FirstSeen)), 10)
	b = jsonKey(b, ","+in1, "rtt_ns")
	b = strconv.AppendInt(b, int64(f.RTT), 10)
	b = jsonKey(b, ","+in1, "roles_inferred")
	b = strconv.AppendBool(b, f.RolesInferred)
	if f.RoleReason != "" {
		b = jsonKey(b, ","+in1, "role_reason")
		b = jsonString(b, f.RoleReason)
	}
	b = jsonKey(b, ","+in1, "first_packet")
	b = strconv.AppendUint(b, f.FirstIndex, 10)
	b = jsonKey(b, ","+in1, "last_packet")
	b = strconv.AppendUint(b, f.LastIndex, 10)
	b = jsonKey(b, ","+in1, "client_stats")
	b = jsonEndStats(b, f.Client())
	b = jsonKey(b, ","+in1, "server_stats")
	b = jsonEndStats(b, f.Server())

	b = jsonKey(b, ","+in1, "notes")
	b = jsonList(b, len(f.Notes), in2, in1, func(b []byte, i int) []byte { return jsonString(b, f.Notes[i]) })
	b = jsonKey(b, ","+in1, "timeline")
	b = jsonList(b, len(f.Timeline), in2, in1, func(b []byte, i int) []byte {
		tr := &f.Timeline[i]
		b = append(b, '{')
		b = jsonKey(b, in3, "time")
		b = jsonTime(b, tr.Time, d)
		b = jsonKey(b, ","+in3, "side")
		b = sideNames[tr.Side].appendTo(b)
		b = jsonKey(b, ","+in3, "state")
		b = stateNames[tr.State].appendTo(b)
		b = append(b, in2...)
		return append(b, '}')
	})
	b = append(b, "\n    }"...)
	return b
}

// Indentation of a flow's fields, and of those nested one and two levels
// below (client_stats, notes and timeline entries; a timeline entry's).
const (
	in1 = "\n      "
	in2 = "\n        "
	in3 = "\n          "
)

// jsonList appends a list of n elements, each written by elem after a line
// break and the indent in, closed on a line indented by out; [] when empty,
// as encoding/json writes an empty list.
func jsonList(b []byte, n int, in, out string, elem func(b []byte, i int) []byte) []byte {
	if n == 0 {
		return append(b, "[]"...)
	}
	b = append(b, '[')
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, in...)
		b = elem(b, i)
	}
	b = append(b, out...)
	return append(b, ']')
}

// endStatKeys are JSONEndStats' keys in order, each with what comes before
// its value (the brace or comma, the line break and indent, the quoted key
// and the colon), made once rather than piece by piece for every end of
// every flow.
var endStatKeys = func() (keys [9]fixedText) {
	for i, k := range [...]string{"packets", "bytes", "wire_bytes", "retransmits", "keepalives",
		"zero_window_probes", "syns", "fins", "rsts"} {
		sep := ","
		if i == 0 {
			sep = "{"
		}
		keys[i] = newFixedText(jsonKey([]byte(sep), in2, k))
	}
	return keys
}()

// jsonEndStats appends a JSONEndStats object, one level in from a flow's
// fields.
func jsonEndStats(b []byte, e *reassembly.Endpoint) []byte {
	for i, n := range [...]uint64{e.Packets, e.Bytes, e.WireBytes, e.Retransmits, e.KeepAlives,
		e.ZeroWindowProbes, e.SYNs, e.FINs, e.RSTs} {
		b = endStatKeys[i].appendTo(b)
		b = strconv.AppendUint(b, n, 10)
	}
	b = append(b, in1...)
	return append(b, '}')
}

// jsonKey appends sep (the comma and the line break and indent before the
// key), the quoted key and the colon. Keys are ASCII field names.
func jsonKey(b []byte, sep, key string) []byte {
	b = append(b, sep...)
	b = append(b, '"')
	b = append(b, key...)
	return append(b, '"', ':', ' ')
}

// jsonTime appends t, quoted, as time.Time's MarshalJSON does in UTC
// (RFC 3339 with nanoseconds, trailing zeros trimmed); d remembers the date
// of the previous time.
func jsonTime(b []byte, t time.Time, d *jsonDate) []byte {
	b = append(b, '"')
	b = d.appendRFC3339Nano(b, t)
	return append(b, '"')
}

// jsonDate remembers the second jsonTime wrote last, as text. A flow's
// dozen times, and most of a capture's, fall on one day and often in one
// second: they reuse its "YYYY-MM-DDTHH:MM:SS" and only the fraction is
// written each time, three digits at a time. Through AppendFormat, the
// calendar arithmetic of every time was about a twelfth of writing a large
// capture's JSON; with the date alone remembered, writing the times was
// still a third of the JSON writer's CPU time (issue 5).
type jsonDate struct {
	sec int64 // Unix second of date and clock; valid when day is set
	day int64 // Unix day of date plus one; 0 before the first time
	// date and clock are the second's text in two parts of at most 16
	// bytes: the compiler copies those in place, where a longer or
	// variable length is a call to memmove.
	date  [len("2006-01-02T")]byte
	clock [len("15:04:05")]byte
}

// lastFourDigitYear is 9999-12-31T23:59:59 UTC in Unix seconds.
const lastFourDigitYear = 253402300799

// digits3 holds every number below 1000 as three ASCII digits, the first
// in the low byte.
var digits3 = func() (t [1000]uint32) {
	for i := range t {
		t[i] = uint32('0'+i/100) | uint32('0'+i/10%10)<<8 | uint32('0'+i%10)<<16
	}
	return t
}()

// appendRFC3339Nano appends t as t.UTC().AppendFormat(b, time.RFC3339Nano)
// does. Times before 1970 or after year 9999 (never in a capture, but a
// file may claim them) are left to AppendFormat.
func (d *jsonDate) appendRFC3339Nano(b []byte, t time.Time) []byte {
	sec := t.Unix()
	if sec < 0 || sec > lastFourDigitYear {
		return t.UTC().AppendFormat(b, time.RFC3339Nano)
	}
	if sec != d.sec || d.day == 0 {
		d.setSecond(t, sec)
	}
	b = append(b, d.date[:]...)
	b = append(b, d.clock[:]...)
	ns := t.Nanosecond()
	if ns == 0 {
		return append(b, 'Z')
	}
	// ".123456789Z" cut after the last significant digit: after the last
	// group of three that is not zero, less that group's trailing zeros.
	hi, mid, lo := ns/1_000_000, ns/1000%1000, ns%1000
	n, last := 10, lo
	switch {
	case lo != 0:
	case mid != 0:
		n, last = 7, mid
	default:
		n, last = 4, hi
	}
	switch {
	case last%100 == 0:
		n -= 2
	case last%10 == 0:
		n--
	}
	// The ten bytes are two stores into b's room, the Z a third. Built in
	// an array a byte at a time and copied from there, the copy's wide
	// loads stalled on the narrow stores (perf: most of the time spent
	// writing times).
	l := len(b)
	b = append(b, ".hhhmmmlllZ"...)
	binary.LittleEndian.PutUint64(b[l:], '.'|uint64(digits3[hi])<<8|uint64(digits3[mid])<<32|uint64(digits3[lo])<<56)
	binary.LittleEndian.PutUint16(b[l+8:], uint16(digits3[lo]>>8))
	b[l+n] = 'Z'
	return b[:l+n+1]
}

// setSecond makes t, at Unix second sec, the second d remembers.
func (d *jsonDate) setSecond(t time.Time, sec int64) {
	day, sod := sec/86400, sec%86400
	if day+1 != d.day {
		d.day = day + 1
		t.UTC().AppendFormat(d.date[:0], "2006-01-02T")
	}
	h, m, s := sod/3600, sod/60%60, sod%60
	d.clock = [...]byte{byte('0' + h/10), byte('0' + h%10), ':',
		byte('0' + m/10), byte('0' + m%10), ':', byte('0' + s/10), byte('0' + s%10)}
	d.sec = sec
}

// jsonName appends the name of one of reassembly's enums (a verdict, a
// state, a side, a party, a handshake), quoted: those names are plain
// ASCII with nothing to escape (TestJSONNamesNeedNoEscaping), so jsonString
// need not look at them, and they are about half of a flow's strings.
func jsonName(b []byte, name string) []byte {
	b = append(b, '"')
	b = append(b, name...)
	return append(b, '"')
}

// fixedText is a short text made once and appended often, padded to a
// fixed length: appending it is two copies of 16 bytes that the compiler
// does in place, where appending a string is a call to memmove. A flow's
// JSON has some forty such texts: the keys of its counters, and a side
// and a state in each of its timeline's ten or so entries.
type fixedText struct {
	text [32]byte
	n    uint8
}

// newFixedText returns b as a fixedText. It panics if b does not fit.
func newFixedText(b []byte) fixedText {
	var t fixedText
	if len(b) > len(t.text) {
		panic("report: text too long for fixedText: " + string(b))
	}
	t.n = uint8(copy(t.text[:], b))
	return t
}

// appendTo appends the text.
func (t *fixedText) appendTo(b []byte) []byte {
	b = append(b, t.text[:16]...)
	b = append(b, t.text[16:]...)
	return b[:len(b)-len(t.text)+int(t.n)]
}

// quotedNames returns the quoted names (as jsonName writes them) of all
// 256 values of an enum whose String method is name.
func quotedNames(name func(v uint8) string) (t [256]fixedText) {
	for v := range t {
		t[v] = newFixedText(jsonName(nil, name(uint8(v))))
	}
	return t
}

var (
	stateNames = quotedNames(func(v uint8) string { return reassembly.State(v).String() })
	sideNames  = quotedNames(func(v uint8) string { return reassembly.Side(v).String() })
)

// jsonAddr appends an endpoint as jsonString(b, ap.String()) would, without
// building the string: the digits, dots, colons and brackets of an address
// need no escaping; the zero AddrPort and an address with a zone (never
// decoded from a capture) take the general path.
func jsonAddr(b []byte, ap netip.AddrPort) []byte {
	if !ap.IsValid() || ap.Addr().Zone() != "" {
		return jsonString(b, ap.String())
	}
	b = append(b, '"')
	b = ap.AppendTo(b)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// jsonPlain marks the bytes jsonString copies as they are: printable ASCII
// but the quote, the backslash and the HTML characters. One lookup a byte
// instead of six comparisons: strings are most of a flow's JSON.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = !strings.ContainsRune(`"\<>&`, rune(c))
	}
	return t
}()

// jsonString appends s quoted as encoding/json quotes it: with HTML
// escaping of <, > and &, control characters escaped, invalid UTF-8
// replaced by U+FFFD, and U+2028 and U+2029 escaped.
func jsonString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if jsonPlain[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
