package report

import (
	"strings"
	"testing"

	"github.com/tcpaudit/tcpaudit/reassembly"
)

func TestParseGate(t *testing.T) {
	for _, tc := range []struct {
		expr, want, err string
	}{
		// bare verdicts mean "at least one"
		{"reset", "reset>=1", ""},
		{"reset,half_open", "reset>=1,half_open>=1", ""},
		{" reset , half_open ", "reset>=1,half_open>=1", ""},
		// thresholds
		{"syn_unanswered>10", "syn_unanswered>10", ""},
		{"half_open>=1", "half_open>=1", ""},
		{"refused = 0", "refused==0", ""},
		{"refused==3", "refused==3", ""},
		{"clean<5", "clean<5", ""},
		{"open<=2", "open<=2", ""},
		{"reset!=0", "reset!=0", ""},
		{"abnormal>100", "abnormal>100", ""},
		{"reset,syn_unanswered>10,abnormal>=50", "reset>=1,syn_unanswered>10,abnormal>=50", ""},
		// errors
		{"", "", "empty condition"},
		{"reset,", "", "empty term"},
		{"resets", "", `unknown verdict "resets"`},
		{"unknown", "", `unknown verdict "unknown"`},
		{"reset>", "", "want a count"},
		{"reset>x", "", "want a count"},
		{"reset>-1", "", "want a count"},
		{"reset=>1", "", "want a count"},
		{"reset!1", "", "bad comparison"},
		{">3", "", "unknown verdict"},
	} {
		g, err := ParseGate(tc.expr)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseGate(%q) = %v, want error containing %q", tc.expr, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseGate(%q) = %v", tc.expr, err)
			continue
		}
		if got := g.String(); got != tc.want {
			t.Errorf("ParseGate(%q) = %s, want %s", tc.expr, got, tc.want)
		}
	}
}

func TestGateCheck(t *testing.T) {
	// The fixture has 2 reset, 1 syn_unanswered, 1 half_open, 0 of none,
	// 9 abnormal flows.
	d := fixture()
	for _, tc := range []struct {
		expr    string
		failed  bool
		reasons []string
	}{
		{"reset", true, []string{"reset: 2 flows, condition reset>=1"}},
		{"reset>2", false, nil},
		{"reset>=2", true, []string{"reset: 2 flows, condition reset>=2"}},
		{"syn_unanswered>10", false, nil},
		{"syn_unanswered>0,half_open", true, []string{"syn_unanswered: 1 flow, condition syn_unanswered>0", "half_open: 1 flow, condition half_open>=1"}},
		{"abnormal>8", true, []string{"abnormal: 9 flows, condition abnormal>8"}},
		{"abnormal>9", false, nil},
		{"clean==3", true, []string{"clean: 3 flows, condition clean==3"}},
		{"open<1", false, nil},
	} {
		g, err := ParseGate(tc.expr)
		if err != nil {
			t.Fatalf("ParseGate(%q) = %v", tc.expr, err)
		}
		failed, reasons := g.Check(d)
		if failed != tc.failed || strings.Join(reasons, "|") != strings.Join(tc.reasons, "|") {
			t.Errorf("Gate(%s).Check = %v %q, want %v %q", tc.expr, failed, reasons, tc.failed, tc.reasons)
		}
	}
	if failed, _ := (Gate{}).Check(d); failed {
		t.Errorf("zero Gate failed; want it to never fail")
	}
	if failed, _ := mustGate(t, "reset").Check(&Data{}); failed {
		t.Errorf("Gate(reset) failed on no flows")
	}
}

func mustGate(t *testing.T, expr string) Gate {
	t.Helper()
	g, err := ParseGate(expr)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// Every verdict token the reassembly marshals is one the gate accepts.
func TestGateAcceptsEveryVerdict(t *testing.T) {
	for _, v := range reassembly.Verdicts {
		if _, err := ParseGate(v.String()); err != nil {
			t.Errorf("ParseGate(%q) = %v", v, err)
		}
	}
}
