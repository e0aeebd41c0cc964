package report

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tcpaudit/tcpaudit/reassembly"
)

// Gate is a CI condition (--fail-on): a list of terms, any of which failing
// fails the run. A term is a verdict ("reset": at least one reset flow), a
// verdict with a threshold ("syn_unanswered>10", "half_open>=1"), or
// "abnormal" for all abnormal verdicts together ("abnormal>100").
type Gate struct{ terms []gateTerm }

type gateTerm struct {
	verdict reassembly.Verdict // VerdictUnknown with all set
	all     bool               // "abnormal": every abnormal verdict
	op      cmpOp
	n       int
}

// cmpOp is a threshold comparison.
type cmpOp uint8

const (
	opGE cmpOp = iota
	opGT
	opLE
	opLT
	opEQ
	opNE
)

// opTokens is ordered so that two-character operators are tried first.
var opTokens = []struct {
	tok string
	op  cmpOp
}{{">=", opGE}, {"<=", opLE}, {"==", opEQ}, {"!=", opNE}, {">", opGT}, {"<", opLT}, {"=", opEQ}}

func (o cmpOp) String() string {
	for _, t := range opTokens {
		if t.op == o {
			return t.tok
		}
	}
	return fmt.Sprintf("cmpOp(%d)", uint8(o))
}

func (o cmpOp) holds(a, b int) bool {
	switch o {
	case opGE:
		return a >= b
	case opGT:
		return a > b
	case opLE:
		return a <= b
	case opLT:
		return a < b
	case opEQ:
		return a == b
	case opNE:
		return a != b
	}
	return false
}

// ParseGate parses a --fail-on expression: comma-separated terms, each a
// verdict name or "abnormal", optionally followed by a comparison and a
// count. A bare name means "name>=1".
func ParseGate(expr string) (Gate, error) {
	var g Gate
	if strings.TrimSpace(expr) == "" {
		return g, fmt.Errorf("--fail-on: empty condition")
	}
	for _, raw := range strings.Split(expr, ",") {
		t, err := parseTerm(strings.TrimSpace(raw))
		if err != nil {
			return Gate{}, fmt.Errorf("--fail-on %q: %w", expr, err)
		}
		g.terms = append(g.terms, t)
	}
	return g, nil
}

func parseTerm(s string) (gateTerm, error) {
	if s == "" {
		return gateTerm{}, fmt.Errorf("empty term")
	}
	name, t := s, gateTerm{op: opGE, n: 1}
	if i := strings.IndexAny(s, "<>=!"); i >= 0 {
		name = strings.TrimSpace(s[:i])
		rest := s[i:]
		found := false
		for _, o := range opTokens {
			if strings.HasPrefix(rest, o.tok) {
				t.op, rest, found = o.op, rest[len(o.tok):], true
				break
			}
		}
		if !found {
			return gateTerm{}, fmt.Errorf("term %q: bad comparison %q", s, rest)
		}
		n, err := strconv.Atoi(strings.TrimSpace(rest))
		if err != nil || n < 0 {
			return gateTerm{}, fmt.Errorf("term %q: want a count >= 0 after %s", s, t.op)
		}
		t.n = n
	}
	if name == "abnormal" {
		t.all = true
		return t, nil
	}
	if err := t.verdict.UnmarshalText([]byte(name)); err != nil || t.verdict == reassembly.VerdictUnknown {
		return gateTerm{}, fmt.Errorf("term %q: unknown verdict %q (want abnormal or one of %s)", s, name, verdictList())
	}
	return t, nil
}

func verdictList() string {
	names := make([]string, len(reassembly.Verdicts))
	for i, v := range reassembly.Verdicts {
		names[i] = v.String()
	}
	return strings.Join(names, ", ")
}

func (t gateTerm) name() string {
	if t.all {
		return "abnormal"
	}
	return t.verdict.String()
}

func (t gateTerm) String() string { return t.name() + t.op.String() + strconv.Itoa(t.n) }

// String prints the gate in the syntax ParseGate reads.
func (g Gate) String() string {
	s := make([]string, len(g.terms))
	for i, t := range g.terms {
		s[i] = t.String()
	}
	return strings.Join(s, ",")
}

// Check evaluates the gate on d. failed is true when any term holds; each
// holding term gives one reason ("reset: 3 flows, condition reset>=1").
// The zero Gate never fails.
func (g Gate) Check(d *Data) (failed bool, reasons []string) {
	counts, abnormal := verdictCounts(d)
	for _, t := range g.terms {
		n := counts[t.verdict]
		if t.all {
			n = abnormal
		}
		if t.op.holds(n, t.n) {
			reasons = append(reasons, fmt.Sprintf("%s: %s, condition %s", t.name(), plural(n, "flow"), t))
		}
	}
	return len(reasons) > 0, reasons
}
