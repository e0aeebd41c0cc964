package report

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/tcpaudit/tcpaudit/reassembly"
)

// The explanations a reader of a ticket needs next to each finding: what it
// usually means and what to do about it. They are our own text, written
// with Markdown code spans (`name`); html.go turns those into <code>.

// advice is the explanation of one kind of finding.
type advice struct {
	Title string // a short heading
	Means string // what it usually means
	Do    string // what to do about it
}

var verdictAdvice = map[reassembly.Verdict]advice{
	reassembly.LingeringFinWait2: {
		Title: "Lingering FIN_WAIT2 facing CLOSE_WAIT",
		Means: "One side closed and its FIN was acknowledged, but the peer application never called `close()` on its socket: " +
			"the peer sits in CLOSE_WAIT and the closer in FIN_WAIT2. This is almost always a socket (file descriptor) leak " +
			"in the peer application, for example a connection pool or an error path that forgets to close.",
		Do: "On the CLOSE_WAIT host, find the process with `ss -tnp state close-wait` and fix the code path that drops the socket " +
			"without closing it. CLOSE_WAIT never times out on its own. On the FIN_WAIT2 side, Linux drops an orphaned " +
			"FIN_WAIT2 socket after `net.ipv4.tcp_fin_timeout` (60 s by default); an application that still holds it waits forever.",
	},
	reassembly.UnackedFin: {
		Title: "FIN never acknowledged",
		Means: "A FIN was sent, retransmitted, and never acknowledged: the sender is stuck in FIN_WAIT1 or LAST_ACK. " +
			"The peer is gone (crashed, rebooted, unplugged) or something between them drops its packets.",
		Do: "Check whether the peer is alive and reachable on that path, and look for a firewall or NAT whose state for the " +
			"connection expired. The sender gives up after its FIN retransmissions (`net.ipv4.tcp_orphan_retries` for orphaned sockets).",
	},
	reassembly.HalfOpen: {
		Title: "Half-open connection",
		Means: "One side keeps transmitting (data, retransmissions, keepalives or FINs) into silence, or the peer finally " +
			"answers with a RST because it no longer knows the connection. The peer crashed or rebooted, or a middlebox " +
			"(firewall, NAT, load balancer) dropped the connection's state.",
		Do: "Detect dead peers sooner: `SO_KEEPALIVE` only starts probing after 2 hours by default (`net.ipv4.tcp_keepalive_time`); " +
			"set `TCP_KEEPIDLE`, `TCP_KEEPINTVL` and `TCP_KEEPCNT` per socket to shorten that, or use application heartbeats. " +
			"Keep keepalive idle below the idle timeout of every firewall and NAT on the path, and set `TCP_USER_TIMEOUT` " +
			"to bound how long unacknowledged data may wait.",
	},
	reassembly.SynUnanswered: {
		Title: "SYN unanswered",
		Means: "The client's SYNs got no reply at all: a firewall silently drops them, the server host is down or unreachable, " +
			"or its SYN queue is full and it drops new SYNs.",
		Do: "Check firewall rules and security groups between the two hosts, that the server is up and routed, and on the server " +
			"`nstat -az TcpExtListenDrops TcpExtListenOverflows` for a full queue. A firewall that rejects would answer with a " +
			"RST or an ICMP error, which is quicker for clients than silence.",
	},
	reassembly.Refused: {
		Title: "Connection refused",
		Means: "The SYN was answered with a RST: nothing is listening on that port on the server (or a firewall rejects with " +
			"a TCP reset). The client sees ECONNREFUSED.",
		Do: "Check that the service is running and bound to that address and port (`ss -tlnp`), and that clients use the right " +
			"port. During a restart, refusals are expected until the listener is back.",
	},
	reassembly.SynAckUnacked: {
		Title: "SYN-ACK never acknowledged (SYN_RECV)",
		Means: "The server answered the SYN but the handshake's last ACK never came, leaving the server in SYN_RECV. Many of these " +
			"at once are the signature of a SYN flood from spoofed sources, or of replies lost on an asymmetric route.",
		Do: "Keep `net.ipv4.tcp_syncookies` enabled (the default, 1) so a flood cannot fill the SYN queue; check " +
			"`net.ipv4.tcp_max_syn_backlog` and the listen backlog. If the clients are real, check the return path of the SYN-ACK.",
	},
	reassembly.Reset: {
		Title: "Reset after the handshake",
		Means: "The connection was aborted by a RST. What it means depends on when and from whom it came; see each flow below.",
		Do:    "Look at the logs of the application on the resetting side at the time of the reset.",
	},
}

// resetMeaning interprets one reset by when and from whom it came.
func resetMeaning(f *reassembly.Flow) string {
	by := f.ResetBy
	if by == reassembly.Nobody || by == reassembly.ByBoth {
		return "Both sides or neither sent the RST that ended it; the capture point may sit where it sees only part of the exchange."
	}
	side := reassembly.Client
	if by == reassembly.ByServer {
		side = reassembly.Server
	}
	peer := side.Reverse()
	switch {
	case f.ActiveCloser == by:
		return fmt.Sprintf("The %s sent a FIN and then a RST: data arrived after its application closed the socket "+
			"(a `close()` with unread data in the receive buffer sends a RST), so the %s's last data was never read.", side, peer)
	case f.ActiveCloser != reassembly.Nobody:
		return fmt.Sprintf("The %s reset after the %s's FIN instead of closing normally: its application aborted "+
			"(`SO_LINGER` with a zero timeout, often used to avoid TIME_WAIT) or kept writing to a peer that had gone.", side, peer)
	case f.Ends[side].Bytes == 0 && f.Ends[peer].Bytes > 0:
		return fmt.Sprintf("The %s reset without ever sending data, in answer to the %s's data: the %s application "+
			"rejected or failed on what it received, or a proxy or IPS on the path killed the connection.", side, peer, side)
	}
	return fmt.Sprintf("The %s aborted an established connection: its application exited or aborted the socket, an idle "+
		"timeout on a firewall, NAT or load balancer reset it, or an IPS injected the reset. Look at the %s first.", side, side)
}

var timeWaitAdvice = advice{
	Title: "TIME_WAIT piling up on a server",
	Means: "The server closes connections first (for example HTTP `Connection: close`, or a server-side idle timeout), so " +
		"each closed connection leaves a TIME_WAIT socket on the server for 60 s. At a high connection rate they pile up.",
	Do: "Prefer keep-alive (persistent connections, connection pools) so fewer connections are opened and closed, and " +
		"let clients close first. For clients that exhaust their own ports, `net.ipv4.tcp_tw_reuse` lets Linux reuse " +
		"a TIME_WAIT port for new outgoing connections. Do not look for `tcp_tw_recycle`: it broke clients behind NAT " +
		"and was removed in Linux 4.12.",
}

var synRecvAdvice = advice{
	Title: "SYN_RECV piling up",
	Means: "Many half-finished handshakes at once on one host: a SYN flood, or an accept backlog that overflows because " +
		"the application does not `accept()` fast enough.",
	Do: "Keep `net.ipv4.tcp_syncookies` on; raise the listen backlog (`somaxconn`, the `listen()` argument) and " +
		"`net.ipv4.tcp_max_syn_backlog`; check `nstat -az TcpExtListenOverflows TcpExtSyncookiesSent` on the host.",
}

var pressureAdvice = advice{
	Title: "Ephemeral ports near exhaustion",
	Means: "One client host holds so many connections to one server ip:port in TIME_WAIT that it is close to running out " +
		"of source ports for that destination; `connect()` then fails with EADDRNOTAVAIL.",
	Do: "Reuse connections (keep-alive, pools), widen `net.ipv4.ip_local_port_range`, and enable `net.ipv4.tcp_tw_reuse` " +
		"(safe with TCP timestamps). Spreading load over more server addresses or ports also multiplies the 4-tuples available.",
}

// serverTimeWait counts the flows whose server entered TIME_WAIT at some
// point, expired since or not: the flows the TIME_WAIT advice is about. It
// also returns those servers' hosts.
func serverTimeWait(d *Data) (int, map[netip.Addr]bool) {
	if d.Totals != nil {
		return d.Totals.serverTW, d.Totals.serverTWs
	}
	n, hosts := 0, make(map[netip.Addr]bool)
	for _, f := range d.Flows {
		if everIn(f, reassembly.Server, reassembly.TimeWait) {
			n++
			hosts[f.Server().Addr.Addr()] = true
		}
	}
	return n, hosts
}

// timeWaitText is the finding behind the TIME_WAIT advice: how many flows,
// and the TIME_WAIT peak of each server host concerned.
func timeWaitText(d *Data, peaks []HostPeak) string {
	n, hosts := serverTimeWait(d)
	if n == 0 {
		return ""
	}
	text := fmt.Sprintf("The server closed first and entered TIME_WAIT in %s.", plural(n, "flow"))
	for _, p := range peaks {
		if hosts[p.Host] && p.TimeWait.Count > 0 {
			text += fmt.Sprintf(" Server %s peaked at %d TIME_WAIT at %s.", p.Host, p.TimeWait.Count, stamp(p.TimeWait.At))
		}
	}
	return text
}

// synRecvText is the finding behind the SYN_RECV advice, or "".
func synRecvText(peaks []HostPeak) string {
	var sr []string
	for _, p := range peaks {
		if p.SynRecv.Count > 1 {
			sr = append(sr, fmt.Sprintf("%s peaked at %d SYN_RECV at %s.", p.Host, p.SynRecv.Count, stamp(p.SynRecv.At)))
		}
	}
	return strings.Join(sr, " ")
}

// everIn reports whether one end of f was in state st at any time.
func everIn(f *reassembly.Flow, side reassembly.Side, st reassembly.State) bool {
	if f.Ends[side].State == st {
		return true
	}
	for _, tr := range f.Timeline {
		if tr.Side == side && tr.State == st {
			return true
		}
	}
	return false
}

// codeSpans splits advice text on backticks: odd pieces are code.
func codeSpans(s string) []span {
	parts := strings.Split(s, "`")
	out := make([]span, len(parts))
	for i, p := range parts {
		out[i] = span{Text: p, Code: i%2 == 1}
	}
	return out
}

// span is a piece of advice text, code or not.
type span struct {
	Text string
	Code bool
}
