package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
)

func TestSafe(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text, 4.1 s", "plain text, 4.1 s"},
		{"µs → naïve 日本", "µs → naïve 日本"},
		{"clear\x1b[2Jscreen", `clear\x1b[2Jscreen`},
		{"line\nbreak\ttab\rCR", `line\x0abreak\x09tab\x0dCR`},
		{"del\x7f", `del\x7f`},
		{"c1\u009bcsi", `c1\x9bcsi`},
		{"bidi\u202eevil\u2066", `bidi\u202eevil\u2066`},
		{"zero\u200bwidth", `zero\u200bwidth`},
		{"bad\xffutf8", `bad\xffutf8`},
		{"soft\u00adhyphen", "soft\u00adhyphen"},
	} {
		if got := safe(tc.in); got != tc.want {
			t.Errorf("safe(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestMarkdownEscape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"4.1 s; client retransmitted 6 times", "4.1 s; client retransmitted 6 times"},
		{"<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"},
		{"a | b", `a \| b`},
		{"*bold* _it_ `code` ~s~", "\\*bold\\* \\_it\\_ \\`code\\` \\~s\\~"},
		{"[x](http://evil) ![i](y)", `\[x\](http://evil) \!\[i\](y)`},
		{"#12 @user &amp;", `\#12 \@user &amp;amp;`},
		{`back\slash`, `back\\slash`},
		{"esc\x1b[2J", `esc\\x1b\[2J`},
	} {
		if got := md(tc.in); got != tc.want {
			t.Errorf("md(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestHostileStrings renders the fixture, whose file name, a warning and a
// note carry hostile, and checks that no format lets it act: no raw ESC or
// bidi override anywhere, no live <script> in HTML or Markdown, no
// unescaped table pipe in Markdown.
func TestHostileStrings(t *testing.T) {
	for _, format := range Formats() {
		out := string(render(t, format, fixture()))
		if strings.Contains(out, "\x1b") {
			t.Errorf("%s: a raw ESC reached the output", format)
		}
		// JSON keeps strings exact for programs; the formats a person
		// reads show invisible reordering characters as escapes.
		if format != "json" && strings.Contains(out, "\u202e") {
			t.Errorf("%s: a raw bidi override reached the output", format)
		}
		switch format {
		case "html":
			if n := strings.Count(out, "<script"); n != 1 {
				t.Errorf("html: %d <script elements, want only the report's own", n)
			}
			if !strings.Contains(out, "&lt;script&gt;alert(1)&lt;/script&gt;") {
				t.Errorf("html: the hostile string is not shown escaped")
			}
		case "md":
			if strings.Contains(out, "<script") || strings.Contains(out, "[link](") {
				t.Errorf("md: hostile HTML or link syntax survived")
			}
			if !strings.Contains(out, `\| \*boom\*`) {
				t.Errorf("md: the hostile string is not shown escaped")
			}
		case "text":
			if !strings.Contains(out, `\x1b[2J\u202eevil`) {
				t.Errorf("text: the control characters are not shown as escapes")
			}
		case "json":
			var v any
			if err := json.Unmarshal([]byte(out), &v); err != nil {
				t.Errorf("json: %v", err)
			}
		case "csv":
			rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
			if err != nil {
				t.Fatalf("csv: %v", err)
			}
			for _, r := range rows {
				if len(r) != len(csvHeader) {
					t.Errorf("csv: row of %d fields, want %d", len(r), len(csvHeader))
				}
			}
		}
	}
}

func TestCSVFormula(t *testing.T) {
	f := fixture().Flows[0]
	f.Reason = "=HYPERLINK(\"http://evil\")"
	f.Notes = []string{"+1", "@SUM(A1)"}
	var b bytes.Buffer
	if err := Write(&b, "csv", &Data{Flows: f2(f)}); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	row := map[string]string{}
	for i, h := range rows[0] {
		row[h] = rows[1][i]
	}
	if got := row["reason"]; got != `'=HYPERLINK("http://evil")` {
		t.Errorf("reason cell = %q, want it neutralised with a leading '", got)
	}
	if got := row["notes"]; got != "'+1; @SUM(A1)" {
		t.Errorf("notes cell = %q, want %q", got, "'+1; @SUM(A1)")
	}
}
