//go:build linux

package main

// The namespace lab: two network namespaces joined by a veth pair, real
// Linux sockets in each, tcpaudit's own live mode capturing between them,
// and the kernel's socket table (ss) as the truth to compare against.
//
// Only addresses of these namespaces (10.200.1.0/24, fd00:200:1::/64) and
// their loopbacks are ever used: nothing leaves the machine.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// netnsLab is one run's pair of namespaces. Names are unique per run, so
// concurrent runs (two CI jobs on one machine) do not collide; addresses
// may repeat, since each namespace has its own stack.
type netnsLab struct {
	bin      string // the tcpaudit binary under test
	srv, cli netnsHost
}

// netnsHost is one namespace and its end of the veth pair.
type netnsHost struct {
	name   string // "server" or "client", for messages
	ns     string
	iface  string
	v4, v6 netip.Addr
}

// requireNetnsTools skips the test unless it runs as root with ip, nft and
// ss available: the suite creates namespaces and firewall rules.
func requireNetnsTools(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("namespace end-to-end suite needs root (it creates network namespaces); CI runs it as root: sudo go test ./cmd/tcpaudit -run Netns")
	}
	for _, tool := range []string{"ip", "nft", "ss"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("namespace end-to-end suite needs %s (Debian: apt-get install iproute2 nftables): %v", tool, err)
		}
	}
}

// buildTcpaudit builds the command into dir, so that the suite exercises
// the binary users run (signals, exit codes, file capabilities).
func buildTcpaudit(t *testing.T, dir string) string {
	t.Helper()
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		if gobin, err = exec.LookPath("go"); err != nil {
			t.Fatalf("building tcpaudit: no go tool: %v", err)
		}
	}
	bin := filepath.Join(dir, "tcpaudit")
	cmd := exec.Command(gobin, "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building tcpaudit: %v\n%s", err, out)
	}
	return bin
}

// newNetnsLab creates the namespaces; t.Cleanup deletes them (and with
// them the veth pair, the firewall rules and every socket) even when the
// test fails.
func newNetnsLab(t *testing.T, bin string) *netnsLab {
	t.Helper()
	sweepStaleNamespaces(t)
	// pid, then a random suffix: unique per run, and a later run can tell
	// a namespace whose test process died (see sweepStaleNamespaces). The
	// longest name, "tvs4194304x99", fits IFNAMSIZ.
	id := fmt.Sprintf("%dx%d", os.Getpid(), rand.IntN(100))
	l := &netnsLab{
		bin: bin,
		srv: netnsHost{name: "server", ns: "tas" + id, iface: "tvs" + id,
			v4: netip.MustParseAddr("10.200.1.1"), v6: netip.MustParseAddr("fd00:200:1::1")},
		cli: netnsHost{name: "client", ns: "tac" + id, iface: "tvc" + id,
			v4: netip.MustParseAddr("10.200.1.2"), v6: netip.MustParseAddr("fd00:200:1::2")},
	}
	for _, h := range []netnsHost{l.srv, l.cli} {
		t.Cleanup(func() { exec.Command("ip", "netns", "del", h.ns).Run() })
		if out, err := exec.Command("ip", "netns", "add", h.ns).CombinedOutput(); err != nil {
			// Root, yet no namespace: a container without CAP_SYS_ADMIN.
			// That is a broken CI set-up, not a reason to skip silently.
			t.Fatalf("ip netns add %s: %v: %s(running as root in a container? it needs --privileged or CAP_SYS_ADMIN and CAP_NET_ADMIN)", h.ns, err, out)
		}
	}
	mustRun(t, "ip", "link", "add", l.srv.iface, "netns", l.srv.ns, "type", "veth", "peer", "name", l.cli.iface, "netns", l.cli.ns)
	for _, h := range []netnsHost{l.srv, l.cli} {
		mustRun(t, "ip", "-n", h.ns, "link", "set", "lo", "up")
		mustRun(t, "ip", "-n", h.ns, "addr", "add", h.v4.String()+"/24", "dev", h.iface)
		// nodad: the address is usable at once, not after duplicate
		// address detection's second or so.
		mustRun(t, "ip", "-n", h.ns, "addr", "add", h.v6.String()+"/64", "dev", h.iface, "nodad")
		mustRun(t, "ip", "-n", h.ns, "link", "set", h.iface, "up")
	}
	return l
}

// staleNamespace matches the suite's namespace names, capturing the pid of
// the test process that made them.
var staleNamespace = regexp.MustCompile(`^ta[sc]([0-9]+)x[0-9]+$`)

// sweepStaleNamespaces deletes namespaces left by a run that was killed
// before its cleanup ran (a CI timeout, a closed pipe): their process is
// gone. Deleting a namespace takes its veth end and rules with it.
func sweepStaleNamespaces(t *testing.T) {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		m := staleNamespace.FindStringSubmatch(f[0])
		if m == nil {
			continue
		}
		if _, err := os.Stat("/proc/" + m[1]); err == nil {
			continue // its test is still running
		}
		if err := exec.Command("ip", "netns", "del", f[0]).Run(); err == nil {
			t.Logf("deleted namespace %s left by an earlier run (process %s is gone)", f[0], m[1])
		}
	}
}

func mustRun(t *testing.T, argv ...string) string {
	t.Helper()
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return string(out)
}

// addr returns the host's address of the family the scenario uses.
func (h netnsHost) addr(v6 bool) netip.Addr {
	if v6 {
		return h.v6
	}
	return h.v4
}

// do runs fn on an OS thread that has entered the host's namespace. Sockets
// created there belong to the namespace for good, wherever they are used
// afterwards. The thread is never unlocked, so Go discards it when fn
// returns instead of reusing it for other goroutines.
func (h netnsHost) do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open("/var/run/netns/" + h.ns)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("entering namespace %s: %w", h.ns, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// listen opens a TCP listener in the host's namespace.
func (h netnsHost) listen(t *testing.T, at netip.AddrPort) *net.TCPListener {
	t.Helper()
	var ln *net.TCPListener
	err := h.do(func() error {
		var err error
		ln, err = net.ListenTCP("tcp", net.TCPAddrFromAddrPort(at))
		return err
	})
	if err != nil {
		t.Fatalf("%s: listen %s: %v", h.name, at, err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// dial connects from the host's namespace; local may be the zero value for
// an ephemeral port. It blocks as connect(2) does, until ctx is done.
func (h netnsHost) dial(ctx context.Context, local, remote netip.AddrPort) (*net.TCPConn, error) {
	var c net.Conn
	err := h.do(func() error {
		d := net.Dialer{}
		if local.IsValid() {
			d.LocalAddr = net.TCPAddrFromAddrPort(local)
		}
		var err error
		c, err = d.DialContext(ctx, "tcp", remote.String())
		return err
	})
	if err != nil {
		return nil, err
	}
	return c.(*net.TCPConn), nil
}

// nft loads a ruleset into the host's namespace.
func (h netnsHost) nft(t *testing.T, ruleset string) {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", h.ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(ruleset)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: nft: %v\n%s\nruleset:\n%s", h.name, err, out, ruleset)
	}
}

// sockets is the kernel's truth: every TCP socket of the namespace by its
// (local, peer) address pair, with its state in tcpaudit's spelling, plus
// ss's own output for the record.
type sockets struct {
	state map[[2]netip.AddrPort]string
	raw   string
}

// ssStates maps ss's state names to netstat's, which tcpaudit uses.
var ssStates = map[string]string{
	"ESTAB": "ESTABLISHED", "SYN-SENT": "SYN_SENT", "SYN-RECV": "SYN_RECV",
	"FIN-WAIT-1": "FIN_WAIT1", "FIN-WAIT-2": "FIN_WAIT2", "CLOSING": "CLOSING",
	"TIME-WAIT": "TIME_WAIT", "CLOSE-WAIT": "CLOSE_WAIT", "LAST-ACK": "LAST_ACK",
	"LISTEN": "LISTEN", "UNCONN": "CLOSED",
}

// ss reads the namespace's TCP sockets with ss -tan, every state included
// (TIME-WAIT and SYN-RECV mini-sockets too).
func (h netnsHost) ss(t *testing.T) sockets {
	t.Helper()
	out := mustRun(t, "ip", "netns", "exec", h.ns, "ss", "-tan")
	s := sockets{state: map[[2]netip.AddrPort]string{}, raw: out}
	for _, line := range strings.Split(out, "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		local, err1 := parseSSAddr(f[3])
		peer, err2 := parseSSAddr(f[4])
		if err1 != nil || err2 != nil {
			continue // listeners: "*:*" peers
		}
		st, ok := ssStates[f[0]]
		if !ok {
			t.Fatalf("%s: ss state %q not understood in %q", h.name, f[0], line)
		}
		s.state[[2]netip.AddrPort{local, peer}] = st
	}
	return s
}

// parseSSAddr reads "10.0.0.1:80", "[fd00::1]:80" or "[::ffff:10.0.0.1]:80"
// (a v4 peer of a dual-stack socket) as the address family tcpaudit prints.
func parseSSAddr(s string) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return ap, err
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

// port returns ss's header and the lines of sockets on the given port, so
// that logs and recordings show one scenario's sockets only.
func (s sockets) port(port uint16) string {
	lines := strings.Split(s.raw, "\n")
	var b strings.Builder
	b.WriteString(lines[0] + "\n")
	suffix := fmt.Sprintf(":%d", port)
	for _, line := range lines[1:] {
		if f := strings.Fields(line); len(f) >= 5 && (strings.HasSuffix(f[3], suffix) || strings.HasSuffix(f[4], suffix)) {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// of returns the state of the socket local→peer, or CLOSED when the kernel
// has none (it never existed, or it is gone).
func (s sockets) of(local, peer netip.AddrPort) string {
	if st, ok := s.state[[2]netip.AddrPort{local, peer}]; ok {
		return st
	}
	return "CLOSED"
}

// process is a capture program running in a namespace (tcpaudit or
// tcpdump), started and stopped as a person would: wait for its
// "listening on" line, stop it with Ctrl-C.
type process struct {
	name   string
	cmd    *exec.Cmd
	mu     sync.Mutex
	stderr bytes.Buffer
	stdout bytes.Buffer // complete once the program has exited
	done   chan error
}

// startCapture runs argv in namespace ns and returns once the program says
// it is listening, so that no packet of the scenario can be missed.
func startCapture(t *testing.T, ns string, argv ...string) *process {
	t.Helper()
	p := &process{name: filepath.Base(argv[0]), done: make(chan error, 1)}
	p.cmd = exec.Command("ip", append([]string{"netns", "exec", ns}, argv...)...)
	p.cmd.Stdout = &p.stdout
	pipe, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", p.name, err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pipe)
		seen := false
		for sc.Scan() {
			p.mu.Lock()
			p.stderr.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if !seen && strings.Contains(sc.Text(), "listening on") {
				seen = true
				close(ready)
			}
		}
		if !seen {
			close(ready)
		}
		p.done <- p.cmd.Wait()
	}()
	t.Cleanup(func() { p.cmd.Process.Kill() })
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not start listening within 10s: %s", p.name, p.errors())
	}
	if p.cmd.ProcessState != nil {
		t.Fatalf("%s exited before listening: %s", p.name, p.errors())
	}
	return p
}

func (p *process) errors() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// interrupt stops the program with SIGINT, as Ctrl-C does, and waits for
// it. ip netns exec execs the program, so the signal reaches it directly.
func (p *process) interrupt(t *testing.T) {
	t.Helper()
	p.signal(t, syscall.SIGINT)
}

// signal sends sig and waits for the program to exit cleanly.
func (p *process) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signalling %s: %v", p.name, err)
	}
	p.wait(t, "after "+sig.String())
}

// wait waits for the program to exit by itself, with status 0.
func (p *process) wait(t *testing.T, what string) {
	t.Helper()
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", p.name, what, err, p.errors())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("%s still running 15s %s:\n%s", p.name, what, p.errors())
	}
}

// serveConns accepts n connections on ln and runs handle on each in its
// own goroutine.
func serveConns(ln *net.TCPListener, n int, handle func(*net.TCPConn)) {
	go func() {
		for i := 0; n < 0 || i < n; i++ {
			c, err := ln.AcceptTCP()
			if err != nil {
				return
			}
			go handle(c)
		}
	}()
}

// pingConns makes n connections from host to srv, one after the other:
// connect, ping, pong, close.
func pingConns(t *testing.T, host netnsHost, srv netip.AddrPort, n int) {
	t.Helper()
	for range n {
		c, err := host.dial(context.Background(), netip.AddrPort{}, srv)
		if err != nil {
			t.Fatal(err)
		}
		request(t, c)
		c.Close()
	}
}

// pingThenDrain is the usual server: answer one ping, wait for the
// client's FIN, close.
func pingThenDrain(c *net.TCPConn) {
	answer(c)
	drain(c)
	c.Close()
}

// testLivePermissions checks the permission story of live capture, as
// user nobody on the server namespace's loopback: without CAP_NET_RAW the
// error is one line that says how to fix it; with the file capability that
// line suggests, live capture works without root.
func testLivePermissions(t *testing.T, lab *netnsLab) {
	if _, err := exec.LookPath("setcap"); err != nil {
		t.Skipf("needs setcap (Debian: libcap2-bin): %v", err)
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skipf("needs setpriv (Debian: util-linux): %v", err)
	}
	// A directory nobody can enter and write to; t.TempDir is root's only.
	dir, err := os.MkdirTemp("", "tcpaudit-perm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(lab.bin)
	if err != nil {
		t.Fatal(err)
	}
	plain, capable := filepath.Join(dir, "tcpaudit-plain"), filepath.Join(dir, "tcpaudit")
	for _, p := range []string{plain, capable} {
		if err := os.WriteFile(p, data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mustRun(t, "setcap", "cap_net_raw,cap_net_admin=eip", capable)
	asNobody := []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"}

	t.Run("without capability", func(t *testing.T) {
		argv := append([]string{"netns", "exec", lab.srv.ns}, asNobody...)
		cmd := exec.Command("ip", append(argv, plain, "-i", "lo", "--duration", "1s")...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != exitBadInput {
			t.Fatalf("tcpaudit -i lo as nobody: %v, want exit status %d\n%s", err, exitBadInput, stderr.String())
		}
		msg := strings.TrimSpace(stderr.String())
		if strings.Count(msg, "\n") != 0 || !strings.Contains(msg, "setcap cap_net_raw,cap_net_admin=eip $(which tcpaudit)") {
			t.Errorf("error is not one line with the setcap fix:\n%s", msg)
		}
	})

	t.Run("with capability", func(t *testing.T) {
		const port = 7100
		out := filepath.Join(dir, "report.json")
		argv := append(asNobody, capable, "-i", "lo", "-f", fmt.Sprintf("tcp port %d", port), "--format", "json", "-o", out)
		p := startCapture(t, lab.srv.ns, argv...)
		srv := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)
		serveConns(lab.srv.listen(t, srv), 1, pingThenDrain)
		pingConns(t, lab.srv, srv, 1)
		time.Sleep(200 * time.Millisecond)
		p.interrupt(t)
		rep := readReport(t, out)
		if len(rep.Flows) != 1 || rep.Flows[0].Verdict != "clean" {
			t.Fatalf("as nobody with CAP_NET_RAW: flows %v, want one clean flow", rep.Flows)
		}
	})
}
