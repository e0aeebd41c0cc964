//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestNetns plays real Linux TCP between two network namespaces, captures
// it with tcpaudit's own live mode (-i, stopped by SIGINT like Ctrl-C), and
// checks every flow's verdict and both endpoints' inferred states against
// the kernel's socket table (ss -tan) in each namespace at the end of the
// capture. The raw packets saved with -w are then audited offline and must
// give the same verdicts and states as the live run.
//
// With TCPAUDIT_RECORD_REAL=1, tcpdump records each scenario beside
// tcpaudit, and the captures, ss output and expectations are written to
// testdata/real (see its README); TestRealCaptures replays them without
// root.
func TestNetns(t *testing.T) {
	requireNetnsTools(t)
	bin := buildTcpaudit(t, t.TempDir())
	lab := newNetnsLab(t, bin)
	var rec *realRecorder
	if os.Getenv("TCPAUDIT_RECORD_REAL") != "" {
		rec = newRealRecorder(t, filepath.Join("..", "..", "testdata", "real"))
	}
	t.Run("scenarios", func(t *testing.T) {
		for _, sc := range netnsScenarios {
			t.Run(sc.name, func(t *testing.T) {
				t.Parallel()
				s := newScene(t, lab, sc, rec)
				sc.play(s)
				s.finish()
			})
		}
	})
	t.Run("controls", func(t *testing.T) { testLiveControls(t, lab) })
	t.Run("permissions", func(t *testing.T) { testLivePermissions(t, lab) })
	if rec != nil {
		rec.writeExpectations(t)
	}
}

// netnsScenario is one kind of TCP ending played with real sockets.
type netnsScenario struct {
	name string
	port uint16
	v6   bool
	// where tcpaudit captures: the server's veth by default, "lo" for the
	// server namespace's loopback (client and server both there), "any"
	// for -i any (Linux SLL2) in the client namespace.
	where string
	args  []string // further tcpaudit flags
	play  func(s *scene)
}

// wireBlind declares, for one endpoint of a scenario, that the kernel's
// state cannot be seen on the wire: the test then requires what the wire
// shows, and says why, instead of loosening the comparison.
type wireBlind struct {
	state string // what tcpaudit must infer from the packets
	why   string
}

var netnsScenarios = []netnsScenario{
	{name: "clean_client_closes", port: 7001, play: playClientCloses},
	{name: "clean_server_closes", port: 7002, v6: true, args: []string{"--promisc"}, play: func(s *scene) {
		s.serve(1, func(c *net.TCPConn) { answer(c); c.Close() })
		s.capture()
		c := s.dial()
		request(s.t, c)
		drain(c)
		c.Close()
		s.expect(1, "clean")
	}},
	{name: "refused", port: 7003, play: func(s *scene) {
		s.capture()
		_, err := s.lab.cli.dial(context.Background(), netip.AddrPort{}, s.srvAddr)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			s.t.Fatalf("connect to a closed port: %v, want ECONNREFUSED", err)
		}
		s.expect(1, "refused")
	}},
	{name: "syn_dropped", port: 7004, v6: true, play: func(s *scene) {
		s.listen()
		// The server's firewall drops the SYNs after the capture point
		// (AF_PACKET sees a packet before netfilter's input hook), as a
		// firewall in front of the server would.
		s.lab.srv.nft(s.t, s.table("chain in { type filter hook input priority 0; tcp dport %d drop; }"))
		s.capture()
		s.dialPending(1)
		// The client sends SYNs at 0, 1 and 3 s; end while it still waits.
		time.Sleep(3300 * time.Millisecond)
		s.expect(1, "syn_unanswered")
	}},
	{name: "reset_by_client", port: 7005, play: func(s *scene) {
		s.serve(1, pingThenDrain)
		s.capture()
		c := s.dial()
		request(s.t, c)
		c.SetLinger(0) // close(2) sends RST instead of FIN
		c.Close()
		s.expect(1, "reset")
		s.check = func(f e2eFlow) error { return wantField("reset_by", f.ResetBy, "client") }
	}},
	{name: "reset_by_server", port: 7006, v6: true, where: "any", play: func(s *scene) {
		s.serve(1, func(c *net.TCPConn) {
			buf := make([]byte, len(ping))
			io.ReadFull(c, buf)
			c.SetLinger(0)
			c.Close()
		})
		s.capture()
		c := s.dial()
		c.Write([]byte(ping))
		if _, err := c.Read(make([]byte, 16)); !errors.Is(err, syscall.ECONNRESET) {
			s.t.Errorf("client read after the server's RST: %v, want ECONNRESET", err)
		}
		c.Close()
		s.expect(1, "reset")
		s.check = func(f e2eFlow) error { return wantField("reset_by", f.ResetBy, "server") }
	}},
	{name: "reset_dropped_by_firewall", port: 7007, play: func(s *scene) {
		s.serve(1, func(c *net.TCPConn) { answer(c); drain(c) })
		s.capture()
		c := s.dial()
		request(s.t, c)
		// The client's own firewall eats its RST: the client's socket is
		// gone, the server never hears of it, and neither does the wire.
		s.lab.cli.nft(s.t, s.table("chain out { type filter hook output priority 0; tcp dport %d tcp flags rst drop; }"))
		c.SetLinger(0)
		c.Close()
		s.expect(1, "open")
		s.blind["client"] = wireBlind{"ESTABLISHED",
			"the client's RST was dropped by its own firewall before the wire: nothing on the wire says the client closed"}
	}},
	{name: "half_close_peer_never_closes", port: 7008, play: func(s *scene) {
		s.serve(1, func(c *net.TCPConn) { answer(c); drain(c); <-s.ctx.Done(); c.Close() })
		s.capture()
		c := s.dial()
		request(s.t, c)
		c.CloseWrite() // shutdown(SHUT_WR): FIN, but the socket stays open
		time.Sleep(200 * time.Millisecond)
		s.t.Cleanup(func() { c.Close() })
		s.expect(1, "half_closed")
	}},
	{name: "peer_vanishes_mid_transfer", port: 7009, args: []string{"--stall-timeout", "2s"}, play: func(s *scene) {
		s.serve(1, func(c *net.TCPConn) { drain(c); <-s.ctx.Done(); c.Close() })
		s.capture()
		c := s.dial()
		s.t.Cleanup(func() { c.Close() })
		go func() {
			chunk := make([]byte, 1000)
			for s.ctx.Err() == nil {
				c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
				c.Write(chunk)
				time.Sleep(5 * time.Millisecond)
			}
		}()
		time.Sleep(400 * time.Millisecond)
		// The server drops off the network while data flows: from now on
		// nothing it sends leaves it and nothing sent to it arrives.
		s.lab.srv.nft(s.t, s.table("chain in { type filter hook input priority 0; tcp dport %[1]d drop; }\n"+
			"chain out { type filter hook output priority 0; tcp sport %[1]d drop; }"))
		time.Sleep(3 * time.Second)
		s.expect(1, "half_open")
	}},
	{name: "syn_flood_leaves_syn_recv", port: 7010, play: func(s *scene) {
		s.listen()
		// The clients' firewall drops their ACKs of the SYN-ACK: each client
		// thinks it is connected, and the server keeps every half-open
		// connection in SYN_RECV, retransmitting its SYN-ACK into silence,
		// as under a SYN flood.
		s.lab.cli.nft(s.t, s.table("chain out { type filter hook output priority 0; tcp dport %d tcp flags & (syn|ack|fin|rst) == ack drop; }"))
		s.capture()
		for range 20 {
			c := s.dial()
			s.t.Cleanup(func() { c.Close() })
		}
		time.Sleep(1500 * time.Millisecond) // a SYN-ACK retransmission or two
		s.expect(20, "synack_unacked")
		s.blind["client"] = wireBlind{"SYN_SENT",
			"the clients' ACKs were dropped by their own firewall before the wire: nothing on the wire shows that a client got the SYN-ACK (in a real flood the sources are spoofed and no client socket exists)"}
	}},
	{name: "synack_lost_client_retries", port: 7015, play: func(s *scene) {
		s.listen()
		// Here the SYN-ACK itself is lost on the way to the client: the
		// server sits in SYN_RECV while the client, still in SYN_SENT,
		// retransmits its SYN. The retransmitted SYN after the SYN-ACK is
		// the wire's evidence that the client never got it.
		s.lab.cli.nft(s.t, s.table("chain in { type filter hook input priority 0; tcp sport %d tcp flags & (syn|ack) == syn|ack drop; }"))
		s.capture()
		s.dialPending(1)
		time.Sleep(2500 * time.Millisecond) // the client's SYN at 0 and 1 s
		s.expect(1, "synack_unacked")
	}},
	{name: "time_wait_pile", port: 7011, play: func(s *scene) {
		const n = 300
		s.serve(n, pingThenDrain)
		s.capture()
		var wg sync.WaitGroup
		work := make(chan struct{})
		for range 16 {
			wg.Go(func() {
				for range work {
					s.exchange(netip.AddrPort{}, false)
				}
			})
		}
		for range n {
			work <- struct{}{}
		}
		close(work)
		wg.Wait()
		s.expect(n, "clean")
	}},
	{name: "port_reuse_over_time_wait", port: 7012, v6: true, play: func(s *scene) {
		const ports, rounds = 20, 5
		s.serve(ports*rounds, func(c *net.TCPConn) { answer(c); c.Close() })
		s.capture()
		var wg sync.WaitGroup
		for i := range ports {
			// Below the ephemeral range, so no other scenario's connect
			// takes these ports.
			local := netip.AddrPortFrom(s.lab.cli.v6, uint16(20000+i))
			wg.Go(func() {
				for range rounds {
					// Each SYN lands on the server's TIME_WAIT of the
					// previous round, which Linux ends to accept it.
					s.exchange(local, true)
				}
			})
		}
		wg.Wait()
		s.expect(ports*rounds, "clean")
	}},
	{name: "capture_starts_mid_connection", port: 7013, play: func(s *scene) {
		s.serve(1, pingPong)
		c := s.dial()
		request(s.t, c)
		request(s.t, c)
		s.capture()
		request(s.t, c)
		request(s.t, c)
		c.Close()
		s.expect(1, "clean")
		s.check = func(f e2eFlow) error { return wantField("roles_inferred", fmt.Sprint(f.RolesInferred), "true") }
	}},
	{name: "loopback_clean", port: 7014, where: "lo", play: playClientCloses},
}

// playClientCloses is a ping, a pong and a close by the client first.
func playClientCloses(s *scene) {
	s.serve(1, pingThenDrain)
	s.capture()
	c := s.dial()
	request(s.t, c)
	c.Close()
	s.expect(1, "clean")
}

const ping, pong = "ping\n", "pong\n"

// request sends a ping and waits for the pong.
func request(t *testing.T, c *net.TCPConn) {
	t.Helper()
	if err := tryRequest(c); err != nil {
		t.Fatal(err)
	}
}

// tryRequest is request for goroutines other than the test's, which must
// not call t.Fatal.
func tryRequest(c *net.TCPConn) error {
	if _, err := c.Write([]byte(ping)); err != nil {
		return fmt.Errorf("request: %w", err)
	}
	buf := make([]byte, len(pong))
	if _, err := io.ReadFull(c, buf); err != nil {
		return fmt.Errorf("request: reading the answer: %w", err)
	}
	return nil
}

// answer reads a ping and sends a pong.
func answer(c *net.TCPConn) error {
	buf := make([]byte, len(ping))
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	_, err := c.Write([]byte(pong))
	return err
}

// pingPong answers pings until the client closes, then closes.
func pingPong(c *net.TCPConn) {
	for answer(c) == nil {
	}
	c.Close()
}

// drain reads until the peer's FIN (or an error).
func drain(c *net.TCPConn) { io.Copy(io.Discard, c) }

func wantField(name, got, want string) error {
	if got != want {
		return fmt.Errorf("%s = %q, want %q", name, got, want)
	}
	return nil
}

// scene is one scenario being played.
type scene struct {
	t       *testing.T
	lab     *netnsLab
	sc      netnsScenario
	rec     *realRecorder
	ctx     context.Context // done when the scenario's checks are over
	srvAddr netip.AddrPort
	srvHost netnsHost // where the server socket lives
	cliHost netnsHost // where the client socket lives
	dir     string

	live, dump *process

	n       int
	verdict string
	blind   map[string]wireBlind // by "client" / "server"
	check   func(e2eFlow) error  // further per-flow checks
}

func newScene(t *testing.T, lab *netnsLab, sc netnsScenario, rec *realRecorder) *scene {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s := &scene{t: t, lab: lab, sc: sc, rec: rec, ctx: ctx, dir: t.TempDir(),
		srvHost: lab.srv, cliHost: lab.cli, blind: map[string]wireBlind{}}
	s.srvAddr = netip.AddrPortFrom(lab.srv.addr(sc.v6), sc.port)
	if sc.where == "lo" {
		s.cliHost = lab.srv
		lo := netip.MustParseAddr("127.0.0.1")
		if sc.v6 {
			lo = netip.IPv6Loopback()
		}
		s.srvAddr = netip.AddrPortFrom(lo, sc.port)
	}
	return s
}

// table wraps chain definitions (with the port formatted in) into an
// nftables table of the scenario's own, so parallel scenarios never touch
// each other's rules.
func (s *scene) table(chains string) string {
	return fmt.Sprintf("table inet s%d {\n%s\n}\n", s.sc.port, fmt.Sprintf(chains, s.sc.port))
}

func (s *scene) listen() *net.TCPListener { return s.srvHost.listen(s.t, s.srvAddr) }

// serve listens on the scenario's server address and runs handle on each
// of n connections.
func (s *scene) serve(n int, handle func(*net.TCPConn)) { serveConns(s.listen(), n, handle) }

func (s *scene) dial() *net.TCPConn {
	c, err := s.dialFrom(netip.AddrPort{})
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

// dialFrom connects from a given local address, retrying while the port
// is still held by the previous connection's final ACK exchange.
func (s *scene) dialFrom(local netip.AddrPort) (*net.TCPConn, error) {
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	for {
		c, err := s.cliHost.dial(ctx, local, s.srvAddr)
		if err == nil {
			return c, nil
		}
		if errors.Is(err, syscall.EADDRINUSE) && ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		return nil, fmt.Errorf("connect %s -> %s: %w", local, s.srvAddr, err)
	}
}

// exchange is one whole connection from a worker goroutine: connect from
// local (zero for an ephemeral port), ping, then close, after the server's
// FIN when serverFirst. Failures are test errors; the scenario's flow count
// then tells the rest.
func (s *scene) exchange(local netip.AddrPort, serverFirst bool) {
	c, err := s.dialFrom(local)
	if err == nil {
		err = tryRequest(c)
		if serverFirst {
			drain(c)
		}
		c.Close()
	}
	if err != nil {
		s.t.Error(err)
	}
}

// dialPending starts n connects that will not complete; they are
// abandoned when the scenario ends.
func (s *scene) dialPending(n int) {
	for range n {
		go s.cliHost.dial(s.ctx, netip.AddrPort{}, s.srvAddr)
	}
	time.Sleep(100 * time.Millisecond)
}

// capture starts tcpaudit (and tcpdump when recording) on the scenario's
// capture point, and returns once both listen.
func (s *scene) capture() {
	host, iface := s.lab.srv, s.lab.srv.iface
	switch s.sc.where {
	case "lo":
		iface = "lo"
	case "any":
		host, iface = s.lab.cli, "any"
	}
	filter := fmt.Sprintf("tcp port %d", s.sc.port)
	if s.rec != nil {
		s.dump = startCapture(s.t, host.ns, "tcpdump", "-i", iface, "-s", "256", "--immediate-mode", "-U", "-n",
			"-w", filepath.Join(s.dir, "tcpdump.pcap"), filter)
	}
	argv := append([]string{s.lab.bin, "-i", iface, "-f", filter, "--format", "json",
		"-o", filepath.Join(s.dir, "live.json"), "-w", filepath.Join(s.dir, "raw.pcapng")}, s.sc.args...)
	s.live = startCapture(s.t, host.ns, argv...)
}

// expect states the scenario's outcome: n flows, each with this verdict.
func (s *scene) expect(n int, verdict string) { s.n, s.verdict = n, verdict }

// finish lets the last packets settle, reads the kernel's truth in both
// namespaces, stops the capture with SIGINT and checks the report.
func (s *scene) finish() {
	t := s.t
	if s.live == nil {
		t.Fatal("scenario never started the capture")
	}
	time.Sleep(300 * time.Millisecond)
	srvTruth, cliTruth := s.srvHost.ss(t), s.cliHost.ss(t)
	if s.dump != nil {
		s.dump.interrupt(t)
	}
	s.live.interrupt(t)
	rep := readReport(t, filepath.Join(s.dir, "live.json"))
	if !rep.Summary.Capture.Live {
		t.Errorf("report does not say it is a live capture")
	}
	if d := rep.Summary.Capture.KernelDropped + rep.Summary.Capture.IfaceDropped; d > 0 {
		t.Errorf("%d packets dropped: the comparison would be on an incomplete capture", d)
	}
	want := s.expectations(rep, srvTruth, cliTruth)
	// The expectations are the kernel's truth, not tcpaudit's answer, so a
	// recording keeps them even when tcpaudit disagrees today.
	if s.rec != nil {
		s.rec.record(t, s, want, srvTruth, cliTruth)
	}
	// The saved packets, read offline, must say the same.
	offline := auditFile(t, filepath.Join(s.dir, "raw.pcapng"), s.sc.args...)
	compareExpectations(t, "offline -w file", offline.Flows, want)
}

// expectations checks the live report against the scenario and the
// kernel, and returns what every flow must look like.
func (s *scene) expectations(rep e2eReport, srvTruth, cliTruth sockets) []realExpect {
	t := s.t
	if len(rep.Flows) != s.n {
		for _, f := range rep.Flows {
			t.Logf("flow: %v", f)
		}
		t.Fatalf("live report has %d flows, want %d", len(rep.Flows), s.n)
	}
	last := map[[2]string]int{} // last flow of each address pair
	for i, f := range rep.Flows {
		last[[2]string{f.Client, f.Server}] = i
	}
	var want []realExpect
	for i, f := range rep.Flows {
		cli, err1 := netip.ParseAddrPort(f.Client)
		srv, err2 := netip.ParseAddrPort(f.Server)
		if err1 != nil || err2 != nil {
			t.Fatalf("flow %d: unreadable addresses %q, %q", i, f.Client, f.Server)
		}
		if srv != s.srvAddr {
			t.Errorf("flow %d: server %s, want %s (roles swapped?)", i, srv, s.srvAddr)
		}
		e := realExpect{Client: f.Client, Server: f.Server, Verdict: s.verdict,
			ClientState: cliTruth.of(cli, srv), ServerState: srvTruth.of(srv, cli)}
		if last[[2]string{f.Client, f.Server}] != i {
			// ss shows one socket per address pair: the newest
			// connection's. This one's was replaced by a later
			// connection's SYN, which ends TIME_WAIT (RFC 6191).
			e.ClientState, e.ServerState = "CLOSED", "CLOSED"
			e.Note = "address pair reused later: this connection's sockets were replaced"
		}
		for side, st := range map[string]*string{"client": &e.ClientState, "server": &e.ServerState} {
			if b, ok := s.blind[side]; ok {
				if i == 0 {
					t.Logf("%s: the kernel says %s, but %s; tcpaudit must say %s", side, *st, b.why, b.state)
				}
				*st = b.state
				e.Note = b.why
			}
		}
		if f.Verdict != e.Verdict || f.ClientState != e.ClientState || f.ServerState != e.ServerState {
			t.Errorf("flow %d %s -> %s: tcpaudit says %s, client %s, server %s; want %s, client %s, server %s (kernel truth from ss)\nreason: %s",
				i, f.Client, f.Server, f.Verdict, f.ClientState, f.ServerState, e.Verdict, e.ClientState, e.ServerState, f.Reason)
		}
		if s.check != nil {
			if err := s.check(f); err != nil {
				t.Errorf("flow %d %s -> %s: %v", i, f.Client, f.Server, err)
			}
		}
		want = append(want, e)
	}
	if t.Failed() {
		t.Logf("server namespace ss -tan:\n%s", srvTruth.port(s.sc.port))
		t.Logf("client namespace ss -tan:\n%s", cliTruth.port(s.sc.port))
		t.Logf("tcpaudit stderr:\n%s", s.live.errors())
	}
	return want
}

// dialAndReset connects from host to srv, exchanges one request and ends
// the connection with a RST (SO_LINGER 0).
func dialAndReset(t *testing.T, host netnsHost, srv netip.AddrPort) {
	t.Helper()
	c, err := host.dial(context.Background(), netip.AddrPort{}, srv)
	if err != nil {
		t.Fatal(err)
	}
	request(t, c)
	c.SetLinger(0)
	c.Close()
}

// testLiveControls checks the ways a live capture stops (--duration, -c,
// SIGTERM), each still writing the report, and the --every running view.
func testLiveControls(t *testing.T, lab *netnsLab) {
	t.Run("duration and running view", func(t *testing.T) {
		const port = 7101
		dir := t.TempDir()
		srv := netip.AddrPortFrom(lab.srv.v4, port)
		serveConns(lab.srv.listen(t, srv), -1, pingPong)
		out := filepath.Join(dir, "report.json")
		p := startCapture(t, lab.srv.ns, lab.bin, "-i", lab.srv.iface, "-f", fmt.Sprintf("tcp port %d", port),
			"--duration", "2s", "--every", "300ms", "--time-wait", "300ms", "--format", "json", "-o", out)
		// A busy connection keeps packets flowing (the table's clock runs
		// on packets), and one connection is reset along the way.
		busy, err := lab.cli.dial(context.Background(), netip.AddrPort{}, srv)
		if err != nil {
			t.Fatal(err)
		}
		stop, stopped := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(stopped)
			buf := make([]byte, len(pong))
			for {
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
					// Errors show in the report (the flow would not be
					// open); t.Fatal is for the test's own goroutine.
					busy.Write([]byte(ping))
					io.ReadFull(busy, buf)
				}
			}
		}()
		defer func() {
			close(stop)
			<-stopped
			busy.Close()
		}()
		dialAndReset(t, lab.cli, srv)
		p.wait(t, "with --duration 2s")
		view := p.errors()
		if n := strings.Count(view, "\n--- "); n < 3 {
			t.Errorf("%d running views in 2s at --every 300ms, want at least 3:\n%s", n, view)
		}
		if !strings.Contains(view, lab.srv.v4.String()) || !strings.Contains(view, "ESTABLISHED 1") {
			t.Errorf("running view does not show the server's established connection:\n%s", view)
		}
		if !strings.Contains(view, "1 abnormal ending since") || !regexp.MustCompile(`(?m)^\s+reset\s+`).MatchString(view) {
			t.Errorf("running view does not list the reset among the abnormal endings:\n%s", view)
		}
		rep := readReport(t, out)
		verdicts := map[string]int{}
		for _, f := range rep.Flows {
			verdicts[f.Verdict]++
		}
		if verdicts["reset"] != 1 || verdicts["open"] != 1 {
			t.Errorf("report after --duration: verdicts %v, want one reset and one open", verdicts)
		}
	})

	// On a quiet link no packet moves the table's clock: the wall clock
	// must, so that a TIME_WAIT runs out during the capture, and a reset is
	// listed as soon as it happens, not a TIME_WAIT period later.
	t.Run("quiet link: TIME_WAIT runs out", func(t *testing.T) {
		const port = 7108
		srv := netip.AddrPortFrom(lab.srv.v4, port)
		serveConns(lab.srv.listen(t, srv), -1, pingThenDrain)
		p := startCapture(t, lab.srv.ns, lab.bin, "-i", lab.srv.iface, "-f", fmt.Sprintf("tcp port %d", port),
			"--duration", "2.5s", "--every", "250ms", "--time-wait", "300ms", "--format", "json", "-o", filepath.Join(t.TempDir(), "r.json"))
		pingConns(t, lab.cli, srv, 1)
		p.wait(t, "with --duration 2.5s")
		views := strings.Split(p.errors(), "\n--- ")
		last := views[len(views)-1]
		if !strings.Contains(p.errors(), "TIME_WAIT 1") || strings.Contains(last, "TIME_WAIT") || !strings.Contains(last, "1 finished flow,") {
			t.Errorf("running views on a quiet link: want the client's TIME_WAIT, then, 300ms (+1s of clock lag) later, the flow finished:\n%s", p.errors())
		}
	})

	t.Run("quiet link: a reset is listed at once", func(t *testing.T) {
		const port = 7109
		srv := netip.AddrPortFrom(lab.srv.v4, port)
		serveConns(lab.srv.listen(t, srv), -1, pingPong)
		p := startCapture(t, lab.srv.ns, lab.bin, "-i", lab.srv.iface, "-f", fmt.Sprintf("tcp port %d", port),
			"--duration", "1.5s", "--every", "250ms", "--format", "json", "-o", filepath.Join(t.TempDir(), "r.json"))
		dialAndReset(t, lab.cli, srv)
		p.wait(t, "with --duration 1.5s")
		// The flow lingers 60 s in the table for stray packets; the view
		// lists it when it settles, once.
		view := p.errors()
		if n := len(regexp.MustCompile(`(?m)^\s+reset\s+`).FindAllString(view, -1)); n != 1 {
			t.Errorf("the reset is listed %d times in the running views, want once, well before the TIME_WAIT period:\n%s", n, view)
		}
	})

	t.Run("count", func(t *testing.T) {
		const port = 7102
		out := filepath.Join(t.TempDir(), "report.json")
		srv := netip.AddrPortFrom(lab.srv.v4, port)
		serveConns(lab.srv.listen(t, srv), 1, pingThenDrain)
		p := startCapture(t, lab.srv.ns, lab.bin, "-i", lab.srv.iface, "-f", fmt.Sprintf("tcp port %d", port),
			"-c", "3", "--format", "json", "-o", out)
		pingConns(t, lab.cli, srv, 1)
		p.wait(t, "with -c 3")
		rep := readReport(t, out)
		if rep.Summary.Capture.Packets != 3 || len(rep.Flows) != 1 || rep.Flows[0].Verdict != "open" {
			t.Errorf("-c 3: %d packets, flows %v; want the 3 handshake packets of one open flow", rep.Summary.Capture.Packets, rep.Flows)
		}
	})

	t.Run("max-flows", func(t *testing.T) {
		// 12 connections through a table capped at 4: the capture keeps
		// going, every connection is still reported, and the 8 evictions
		// are counted (none expired: TIME_WAIT is 60 s, idle 1 h).
		const port, n, max = 7104, 12, 4
		out := filepath.Join(t.TempDir(), "report.json")
		srv := netip.AddrPortFrom(lab.srv.v4, port)
		serveConns(lab.srv.listen(t, srv), n, pingThenDrain)
		p := startCapture(t, lab.srv.ns, lab.bin, "-i", lab.srv.iface, "-f", fmt.Sprintf("tcp port %d", port),
			"--max-flows", fmt.Sprint(max), "--format", "json", "-o", out)
		pingConns(t, lab.cli, srv, n)
		time.Sleep(200 * time.Millisecond)
		p.interrupt(t)
		rep := readReport(t, out)
		if len(rep.Flows) != n || rep.Summary.Capture.Evicted != n-max {
			t.Errorf("--max-flows %d with %d connections: %d flows, %d evicted; want %d flows, %d evicted",
				max, n, len(rep.Flows), rep.Summary.Capture.Evicted, n, n-max)
		}
	})

	t.Run("raw packets to standard output", func(t *testing.T) {
		// tcpaudit -w - | tcpdump -r -: the packets go down the pipe, the
		// report to its file, and the piped packets say the same.
		const port = 7105
		dir := t.TempDir()
		out := filepath.Join(dir, "report.json")
		srv := netip.AddrPortFrom(lab.srv.v4, port)
		serveConns(lab.srv.listen(t, srv), 1, pingThenDrain)
		p := startCapture(t, lab.srv.ns, lab.bin, "-i", lab.srv.iface, "-f", fmt.Sprintf("tcp port %d", port),
			"-w", "-", "--format", "json", "-o", out)
		pingConns(t, lab.cli, srv, 1)
		time.Sleep(200 * time.Millisecond)
		p.interrupt(t)
		piped := filepath.Join(dir, "piped.pcap")
		if err := os.WriteFile(piped, p.stdout.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		live, offline := readReport(t, out), auditFile(t, piped)
		if len(live.Flows) != 1 || len(offline.Flows) != 1 || live.Flows[0].outcome() != offline.Flows[0].outcome() {
			t.Errorf("-w - : live report %v, packets from the pipe %v; want the same one flow", live.Flows, offline.Flows)
		}
	})

	t.Run("evidence", func(t *testing.T) {
		// --evidence in live mode: the packets of the abnormal flow (a
		// reset), none of the clean one's, picked from the spooled copy.
		const port = 7106
		dir := t.TempDir()
		out, evidence := filepath.Join(dir, "report.json"), filepath.Join(dir, "evidence.pcapng")
		srv := netip.AddrPortFrom(lab.srv.v4, port)
		serveConns(lab.srv.listen(t, srv), 2, pingThenDrain)
		p := startCapture(t, lab.srv.ns, lab.bin, "-i", lab.srv.iface, "-f", fmt.Sprintf("tcp port %d", port),
			"--evidence", evidence, "--format", "json", "-o", out)
		pingConns(t, lab.cli, srv, 1)
		c, err := lab.cli.dial(context.Background(), netip.AddrPort{}, srv)
		if err != nil {
			t.Fatal(err)
		}
		request(t, c)
		c.SetLinger(0)
		c.Close()
		time.Sleep(200 * time.Millisecond)
		p.interrupt(t)
		rep, ev := readReport(t, out), auditFile(t, evidence)
		if len(rep.Flows) != 2 || len(ev.Flows) != 1 || ev.Flows[0].outcome() != rep.Flows[1].outcome() || ev.Flows[0].Verdict != "reset" {
			t.Errorf("live --evidence: report %v, evidence %v; want the reset flow alone in the evidence", rep.Flows, ev.Flows)
		}
	})

	t.Run("double Ctrl-C under load", func(t *testing.T) {
		// An impatient Ctrl-C Ctrl-C in the middle of a burst of
		// connections still gets the whole report.
		const port = 7107
		out := filepath.Join(t.TempDir(), "report.json")
		srv := netip.AddrPortFrom(lab.srv.v4, port)
		serveConns(lab.srv.listen(t, srv), -1, pingThenDrain)
		p := startCapture(t, lab.srv.ns, lab.bin, "-i", lab.srv.iface, "-f", fmt.Sprintf("tcp port %d", port),
			"--format", "json", "-o", out)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for ctx.Err() == nil {
					if c, err := lab.cli.dial(ctx, netip.AddrPort{}, srv); err == nil {
						tryRequest(c)
						c.Close()
					}
				}
			})
		}
		time.Sleep(500 * time.Millisecond)
		p.cmd.Process.Signal(syscall.SIGINT)
		p.interrupt(t)
		cancel()
		wg.Wait()
		rep := readReport(t, out)
		if len(rep.Flows) < 10 || rep.Summary.Capture.Packets == 0 {
			t.Errorf("report after Ctrl-C Ctrl-C under load: %d flows, %d packets; want the burst", len(rep.Flows), rep.Summary.Capture.Packets)
		}
	})

	t.Run("SIGTERM", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "report.txt")
		p := startCapture(t, lab.srv.ns, lab.bin, "-i", lab.srv.iface, "-f", "tcp port 7103", "-o", out)
		p.signal(t, syscall.SIGTERM)
		if b, err := os.ReadFile(out); err != nil || len(b) == 0 {
			t.Errorf("no text report after SIGTERM: %v", err)
		}
	})
}
