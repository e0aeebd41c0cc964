package report

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tcpaudit/tcpaudit/reassembly"
)

// tw builds a flow from client to server whose ends follow the given
// transitions; its first packet is at the first transition.
func twFlow(id uint64, client, server string, tl ...reassembly.Transition) *reassembly.Flow {
	f := &reassembly.Flow{ID: id, Timeline: tl, FirstSeen: tl[0].Time, LastSeen: tl[len(tl)-1].Time}
	f.Ends[cli].Addr = netip.MustParseAddrPort(client)
	f.Ends[srv].Addr = netip.MustParseAddrPort(server)
	for _, t := range tl {
		f.Ends[t.Side].State = t.State
	}
	return f
}

// closeBy is a connection opened at s and closed by closer at s+1; the
// closer is in TIME_WAIT from s+1 to s+61.
func closeBy(id uint64, client, server string, s float64, closer reassembly.Side) *reassembly.Flow {
	other := closer.Reverse()
	return twFlow(id, client, server,
		tr(s, cli, reassembly.SynSent), tr(s, srv, reassembly.SynRecv),
		tr(s, cli, reassembly.Established), tr(s, srv, reassembly.Established),
		tr(s+1, closer, reassembly.FinWait1), tr(s+1, other, reassembly.LastAck),
		tr(s+1, closer, reassembly.TimeWait), tr(s+1, other, reassembly.Closed),
		tr(s+61, closer, reassembly.Closed))
}

// fmtStates prints a StatesAt result deterministically:
// "10.0.0.1 ESTABLISHED=1 TIME_WAIT=2; 10.0.0.2 ...".
func fmtStates(m map[netip.Addr]map[reassembly.State]int) string {
	var hosts []netip.Addr
	for h := range m {
		hosts = append(hosts, h)
	}
	slices.SortFunc(hosts, netip.Addr.Compare)
	var out []string
	for _, h := range hosts {
		s := h.String()
		for _, st := range stateOrder {
			if n := m[h][st]; n > 0 {
				s += fmt.Sprintf(" %s=%d", st, n)
			}
		}
		out = append(out, s)
	}
	return strings.Join(out, "; ")
}

func TestStatesAt(t *testing.T) {
	flows := []*reassembly.Flow{
		closeBy(1, "10.0.0.1:40001", "10.0.0.2:80", 0, srv),
		closeBy(2, "10.0.0.1:40002", "10.0.0.2:80", 10, srv),
		closeBy(3, "10.0.0.1:40003", "10.0.0.2:80", 20, cli),
		// a flow with no Timeline: its final states count from its first packet
		{ID: 4, FirstSeen: sec(5), LastSeen: sec(6), Ends: [2]reassembly.Endpoint{
			{Addr: netip.MustParseAddrPort("[2001:db8::1]:5000"), State: reassembly.CloseWait},
			{Addr: netip.MustParseAddrPort("[2001:db8::2]:443"), State: reassembly.FinWait2}}},
	}
	for _, tc := range []struct {
		at   float64
		want string
	}{
		{-1, ""},
		{0, "10.0.0.1 ESTABLISHED=1; 10.0.0.2 ESTABLISHED=1"},
		{0.5, "10.0.0.1 ESTABLISHED=1; 10.0.0.2 ESTABLISHED=1"},
		{1, "10.0.0.2 TIME_WAIT=1"},
		{5, "10.0.0.2 TIME_WAIT=1; 2001:db8::1 CLOSE_WAIT=1; 2001:db8::2 FIN_WAIT2=1"},
		{10.5, "10.0.0.1 ESTABLISHED=1; 10.0.0.2 ESTABLISHED=1 TIME_WAIT=1; 2001:db8::1 CLOSE_WAIT=1; 2001:db8::2 FIN_WAIT2=1"},
		{21, "10.0.0.1 TIME_WAIT=1; 10.0.0.2 TIME_WAIT=2; 2001:db8::1 CLOSE_WAIT=1; 2001:db8::2 FIN_WAIT2=1"},
		{62, "10.0.0.1 TIME_WAIT=1; 10.0.0.2 TIME_WAIT=1; 2001:db8::1 CLOSE_WAIT=1; 2001:db8::2 FIN_WAIT2=1"},
		{100, "2001:db8::1 CLOSE_WAIT=1; 2001:db8::2 FIN_WAIT2=1"},
	} {
		if got := fmtStates(StatesAt(flows, sec(tc.at))); got != tc.want {
			t.Errorf("StatesAt(t0%+gs) = %q, want %q", tc.at, got, tc.want)
		}
	}
}

func TestPeaks(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flows []*reassembly.Flow
		want  string
	}{
		{"none", nil, ""},
		{"server TIME_WAIT overlaps", []*reassembly.Flow{
			closeBy(1, "10.0.0.1:40001", "10.0.0.2:80", 0, srv),
			closeBy(2, "10.0.0.1:40002", "10.0.0.2:80", 10, srv),
			closeBy(3, "10.0.0.1:40003", "10.0.0.2:80", 70, srv), // after #1 expired
		}, "10.0.0.2 tw=2@11 sr=1@0"},
		{"client TIME_WAIT and a SYN_RECV burst", []*reassembly.Flow{
			closeBy(1, "10.0.0.1:40001", "10.0.0.2:80", 0, cli),
			twFlow(2, "198.51.100.1:1", "10.0.0.2:80", tr(3, cli, reassembly.SynSent), tr(3, srv, reassembly.SynRecv)),
			twFlow(3, "198.51.100.2:2", "10.0.0.2:80", tr(4, cli, reassembly.SynSent), tr(4, srv, reassembly.SynRecv)),
			twFlow(4, "198.51.100.3:3", "10.0.0.2:80", tr(5, cli, reassembly.SynSent), tr(5, srv, reassembly.SynRecv), tr(6, srv, reassembly.Closed)),
			twFlow(5, "198.51.100.4:4", "10.0.0.2:80", tr(7, cli, reassembly.SynSent), tr(7, srv, reassembly.SynRecv)),
		}, "10.0.0.1 tw=1@1 sr=0@-; 10.0.0.2 tw=0@- sr=3@5"},
	} {
		var out []string
		for _, p := range Peaks(tc.flows) {
			out = append(out, fmt.Sprintf("%s tw=%d@%s sr=%d@%s", p.Host, p.TimeWait.Count, offset(p.TimeWait.At), p.SynRecv.Count, offset(p.SynRecv.At)))
		}
		if got := strings.Join(out, "; "); got != tc.want {
			t.Errorf("%s: Peaks = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// offset prints an instant as seconds after t0, "-" for none.
func offset(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return fmt.Sprint(t.Sub(t0).Seconds())
}

func TestTimeWaitPressure(t *testing.T) {
	var burst []*reassembly.Flow
	for i := range 9 {
		burst = append(burst, closeBy(uint64(i+1), fmt.Sprintf("10.0.0.1:%d", 40000+i), "10.0.0.2:80", float64(i), cli))
	}
	burst = append(burst,
		closeBy(10, "10.0.0.1:41000", "10.0.0.2:80", 9, srv),  // server-held
		closeBy(11, "10.0.0.1:42000", "10.0.0.3:443", 0, cli), // another server
		closeBy(12, "10.0.0.9:43000", "10.0.0.2:80", 0, cli),  // another client
	)
	for _, tc := range []struct {
		name string
		r    PortRange
		want string
	}{
		// 10 at once against a range of 12 ports is 83%: warn.
		{"small range", PortRange{50000, 50011}, "10.0.0.1→10.0.0.2:80 peak=10@10 c=9 s=1 warn; 10.0.0.1→10.0.0.3:443 peak=1@1 c=1 s=0; 10.0.0.9→10.0.0.2:80 peak=1@1 c=1 s=0"},
		// the default range dwarfs them
		{"default range", PortRange{}, "10.0.0.1→10.0.0.2:80 peak=10@10 c=9 s=1; 10.0.0.1→10.0.0.3:443 peak=1@1 c=1 s=0; 10.0.0.9→10.0.0.2:80 peak=1@1 c=1 s=0"},
	} {
		var out []string
		for _, p := range TimeWaitPressure(burst, tc.r) {
			s := fmt.Sprintf("%s→%s peak=%d@%s c=%d s=%d", p.Client, p.Server, p.Peak, offset(p.At), p.ClientHeld, p.ServerHeld)
			if p.Warn {
				s += " warn"
			}
			out = append(out, s)
		}
		if got := strings.Join(out, "; "); got != tc.want {
			t.Errorf("%s: TimeWaitPressure = %q\nwant %q", tc.name, got, tc.want)
		}
	}
	// Both ends of one flow in TIME_WAIT (simultaneous close) are one
	// 4-tuple, not two.
	both := twFlow(1, "10.0.0.1:40000", "10.0.0.2:80", tr(0, cli, reassembly.Established), tr(0, srv, reassembly.Established),
		tr(1, cli, reassembly.TimeWait), tr(1, srv, reassembly.TimeWait), tr(61, cli, reassembly.Closed), tr(61, srv, reassembly.Closed))
	p := TimeWaitPressure([]*reassembly.Flow{both}, PortRange{})
	if len(p) != 1 || p[0].Peak != 1 || p[0].ClientHeld != 1 || p[0].ServerHeld != 1 {
		t.Errorf("simultaneous close: TimeWaitPressure = %+v, want one entry with peak 1 held 1/1", p)
	}
}

func TestPortRange(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want PortRange
		err  bool
	}{
		{"32768-60999", PortRange{32768, 60999}, false},
		{" 1024 - 65535 ", PortRange{1024, 65535}, false},
		{"49152-49152", PortRange{49152, 49152}, false},
		{"60999-32768", PortRange{}, true},
		{"0-100", PortRange{}, true},
		{"1-65536", PortRange{}, true},
		{"32768", PortRange{}, true},
		{"a-b", PortRange{}, true},
	} {
		got, err := ParsePortRange(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParsePortRange(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
	if n := (PortRange{}).Size(); n != 0 {
		t.Errorf("PortRange{}.Size() = %d, want 0", n)
	}
	if n := DefaultEphemeral.Size(); n != 28232 {
		t.Errorf("DefaultEphemeral.Size() = %d, want 28232", n)
	}
}

func TestStateSeries(t *testing.T) {
	flows := []*reassembly.Flow{
		closeBy(1, "10.0.0.1:40001", "10.0.0.2:80", 0, srv),
		closeBy(2, "10.0.0.1:40002", "10.0.0.2:80", 2, srv),
	}
	h := netip.MustParseAddr("10.0.0.2")
	// 4 buckets of 25 s over [0, 100].
	got := stateSeries(flows, []netip.Addr{h}, sec(0), sec(100), 4)[h]
	tw := slices.Index(seriesStates, reassembly.TimeWait)
	est := slices.Index(seriesStates, reassembly.Established)
	var gotTW, gotEst []int
	for _, b := range got {
		gotTW, gotEst = append(gotTW, b[tw]), append(gotEst, b[est])
	}
	// TIME_WAIT from 1 to 61 and from 3 to 63; ESTABLISHED 0–1 and 2–3.
	if want := []int{2, 2, 2, 0}; !slices.Equal(gotTW, want) {
		t.Errorf("TIME_WAIT series = %v, want %v", gotTW, want)
	}
	if want := []int{1, 0, 0, 0}; !slices.Equal(gotEst, want) {
		t.Errorf("ESTABLISHED series = %v, want %v", gotEst, want)
	}
}

// TestStatesAtInstant: Data.At (--at) moves every format's states table to
// that instant.
func TestStatesAtInstant(t *testing.T) {
	d := fixture()
	d.At = sec(11.6) // both spoofed SYN-ACKs pending, flow 4 established
	s := Summarize(d)
	if !s.StatesAt.Equal(sec(11.6)) {
		t.Fatalf("Summary.StatesAt = %v, want %v", s.StatesAt, sec(11.6))
	}
	var server HostRow
	for _, r := range s.Hosts {
		if r.Host == netip.MustParseAddr("10.0.0.2") {
			server = r
		}
	}
	if server.States["SYN_RECV"] != 2 || server.States["TIME_WAIT"] != 2 {
		t.Errorf("10.0.0.2 at +11.6 s: %v, want SYN_RECV 2 and TIME_WAIT 2", server.States)
	}
	out := string(render(t, "text", d))
	if !strings.Contains(out, "TCP states per host at the chosen instant (2026-03-14 09:27:04.600000 UTC)") {
		t.Errorf("text does not name the chosen instant:\n%s", out)
	}
}
