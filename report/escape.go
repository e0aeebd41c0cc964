package report

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Strings that come from a capture (file and interface names, pcapng
// comments quoted in warnings, reasons and notes that cite them) are written
// by strangers. Before they reach a terminal, Markdown or HTML they pass
// through one of the functions here. html/template does the HTML part;
// these do the rest.

// safe neutralises what would act on a terminal or fool a reader: C0 and C1
// control characters (ESC[2J clears the screen, CR rewrites a line), DEL,
// bidirectional overrides (text that reads backwards, CVE-2021-42574) and
// invalid UTF-8. Each is replaced by a visible Go-style escape (\x1b,
// \u202e), so the reader sees that something was there.
func safe(s string) string {
	if isSafe(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unsafeRune(r) && r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func isSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c >= 0x80 {
			return isSafeSlow(s)
		}
	}
	return true
}

func isSafeSlow(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unsafeRune(r) {
			return false
		}
	}
	return true
}

// unsafeRune reports control characters (tab and newline included: every
// string we print is meant to be one line) and the invisible format
// characters that reorder or hide text.
func unsafeRune(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0:
		return true
	case r == 0x200e, r == 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return unicode.Is(unicode.Cf, r) && r != 0xad
}

// mdReplacer escapes what Markdown (GitHub, GitLab) would interpret inline:
// emphasis, code, links, tables, headings, HTML. <, > and & become entities
// because GitHub renders raw HTML; the rest get CommonMark backslash
// escapes, which render as the plain character. "#12" is escaped too:
// GitHub would link it to issue 12.
var mdReplacer = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", `*`, `\*`, `_`, `\_`, `[`, `\[`, `]`, `\]`,
	`|`, `\|`, `~`, `\~`, `#`, `\#`, `!`, `\!`, `@`, `\@`,
	`<`, `&lt;`, `>`, `&gt;`, `&`, `&amp;`,
)

// md makes a capture-derived string safe as inline Markdown text.
func md(s string) string { return mdReplacer.Replace(safe(s)) }

// csvFormula neutralises a cell a spreadsheet would run as a formula
// (OWASP "CSV injection"): a leading =, +, -, @, tab or CR gets a leading '.
func csvFormula(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
