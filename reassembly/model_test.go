package reassembly

import "testing"

// TestTokensRoundTrip checks that every verdict and state marshals to one
// stable token and back (JSON, reports and CLI filters share them), and
// that values from outside the set print their number instead of panicking.
func TestTokensRoundTrip(t *testing.T) {
	for _, v := range Verdicts {
		b, _ := v.MarshalText()
		var back Verdict
		if err := back.UnmarshalText(b); err != nil || back != v {
			t.Errorf("verdict %v: %q -> %v, %v", v, b, back, err)
		}
	}
	for s := Unknown; s <= LastAck; s++ {
		b, _ := s.MarshalText()
		var back State
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Errorf("state %v: %q -> %v, %v", s, b, back, err)
		}
	}
	var v Verdict
	if err := v.UnmarshalText([]byte("fine")); err == nil {
		t.Error(`UnmarshalText("fine") accepted an unknown verdict`)
	}
	for _, c := range []struct{ got, want string }{
		{Verdict(200).String(), "Verdict(200)"},
		{State(200).String(), "State(200)"},
		{Handshake(9).String(), "Handshake(9)"},
		{Party(9).String(), "Party(9)"},
		{PartyOf(Server).String(), "server"},
		{Client.Reverse().String(), "server"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// TestSeq checks sequence arithmetic across the 2^32 wrap.
func TestSeq(t *testing.T) {
	const top = Seq(0xffff_fff0)
	tests := []struct {
		name string
		got  bool
		want bool
	}{
		{"top < top+32 (wrapped)", top.LessThan(top.Add(32)), true},
		{"top+32 < top", top.Add(32).LessThan(top), false},
		{"equal is not less", top.LessThan(top), false},
		{"equal is less-or-equal", top.LessThanEq(top), true},
		{"in window across the wrap", Seq(5).InWindow(top, 64), true},
		{"past the window", Seq(100).InWindow(top, 64), false},
		{"window start is in", top.InWindow(top, 1), true},
		{"empty window holds nothing", top.InWindow(top, 0), false},
		{"in range across the wrap", Seq(3).InRange(top, 16), true},
		{"max across the wrap", Seq(3).Max(top) == 3, true},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	if d := Seq(3).Sub(top); d != 19 {
		t.Errorf("Seq(3).Sub(top) = %d, want 19", d)
	}
}
