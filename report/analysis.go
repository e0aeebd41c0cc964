package report

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	"github.com/tcpaudit/tcpaudit/reassembly"
)

// The analyses here are pure functions over the flows' Timelines: they
// replay every endpoint's state transitions in time order, as if netstat had
// been run on every host at every instant of the capture. They cost one sort
// of all transitions (a handful per flow) and no I/O.

// counted reports whether netstat would print a socket in state s. CLOSED
// sockets are gone, and UNKNOWN means the capture could not tell.
func counted(s reassembly.State) bool {
	return s != reassembly.Unknown && s != reassembly.Closed
}

// stateAt returns the state one end of f was in at instant t: the last
// transition of that side at or before t. A side with no transition at all
// in the Timeline is taken to have been in its final state from the flow's
// first packet on, so that flows from a reassembly that records no Timeline
// still show up.
func stateAt(f *reassembly.Flow, side reassembly.Side, t time.Time) reassembly.State {
	st, seen := reassembly.Unknown, false
	for _, tr := range f.Timeline {
		if tr.Side != side {
			continue
		}
		seen = true
		if tr.Time.After(t) {
			break
		}
		st = tr.State
	}
	if !seen && !f.FirstSeen.After(t) {
		return f.Ends[side].State
	}
	return st
}

// StatesAt is the netstat table of every host at instant t: for each host
// address, how many of its sockets were in each TCP state. Hosts with no
// socket open at t are absent; CLOSED and UNKNOWN are never counted.
func StatesAt(flows []*reassembly.Flow, t time.Time) map[netip.Addr]map[reassembly.State]int {
	out := make(map[netip.Addr]map[reassembly.State]int)
	for _, f := range flows {
		if f.FirstSeen.After(t) {
			continue
		}
		for _, side := range [...]reassembly.Side{reassembly.Client, reassembly.Server} {
			st := stateAt(f, side, t)
			if !counted(st) {
				continue
			}
			host := f.Ends[side].Addr.Addr()
			m := out[host]
			if m == nil {
				m = make(map[reassembly.State]int)
				out[host] = m
			}
			m[st]++
		}
	}
	return out
}

// transition is one entry of the merged, time-ordered replay.
type transition struct {
	t    int64 // Unix nanoseconds
	flow int32 // index into the flows slice
	side reassembly.Side
	to   reassembly.State
}

// replay calls fn for every state change of every endpoint, in time order
// (ties in flow order, then Timeline order), with the state the endpoint
// leaves and the one it enters.
func replay(flows []*reassembly.Flow, fn func(f *reassembly.Flow, side reassembly.Side, t int64, from, to reassembly.State)) {
	var evs []transition
	for i, f := range flows {
		var has [2]bool
		for _, tr := range f.Timeline {
			has[tr.Side] = true
			evs = append(evs, transition{tr.Time.UnixNano(), int32(i), tr.Side, tr.State})
		}
		for side := range has {
			if !has[side] {
				evs = append(evs, transition{f.FirstSeen.UnixNano(), int32(i), reassembly.Side(side), f.Ends[side].State})
			}
		}
	}
	slices.SortStableFunc(evs, func(a, b transition) int { return cmp.Compare(a.t, b.t) })
	prev := make([]reassembly.State, 2*len(flows))
	for _, e := range evs {
		k := 2*int(e.flow) + int(e.side)
		if prev[k] == e.to {
			continue
		}
		fn(flows[e.flow], e.side, e.t, prev[k], e.to)
		prev[k] = e.to
	}
}

// Peak is the highest count something reached and the first instant it did.
type Peak struct {
	Count int       `json:"count"`
	At    time.Time `json:"at,omitzero"`
}

// HostPeak is the peak of TIME_WAIT and SYN_RECV sockets on one host.
type HostPeak struct {
	Host     netip.Addr `json:"host"`
	TimeWait Peak       `json:"time_wait"`
	SynRecv  Peak       `json:"syn_recv"`
}

// notable reports whether a peak is worth a line in a report for a person:
// more than the one TIME_WAIT every active close leaves, or the one
// SYN_RECV every handshake passes through.
func (p HostPeak) notable() bool { return p.TimeWait.Count > 1 || p.SynRecv.Count > 1 }

// Peaks returns, for every host that ever had a socket in TIME_WAIT or
// SYN_RECV, the highest number it held at once and when, ordered by host.
// A TIME_WAIT pile-up means the host closes first, a SYN_RECV pile-up a
// SYN flood or an overflowing accept backlog.
func Peaks(flows []*reassembly.Flow) []HostPeak {
	type count struct{ tw, sr int }
	cur := make(map[netip.Addr]*count)
	peaks := make(map[netip.Addr]*HostPeak)
	bump := func(c *int, p *Peak, delta int, t int64) {
		*c += delta
		if *c > p.Count {
			p.Count, p.At = *c, time.Unix(0, t).UTC()
		}
	}
	replay(flows, func(f *reassembly.Flow, side reassembly.Side, t int64, from, to reassembly.State) {
		host := f.Ends[side].Addr.Addr()
		c, p := cur[host], peaks[host]
		if c == nil {
			c, p = new(count), &HostPeak{Host: host}
			cur[host], peaks[host] = c, p
		}
		for _, ch := range [...]struct {
			st    reassembly.State
			delta int
		}{{from, -1}, {to, +1}} {
			switch ch.st {
			case reassembly.TimeWait:
				bump(&c.tw, &p.TimeWait, ch.delta, t)
			case reassembly.SynRecv:
				bump(&c.sr, &p.SynRecv, ch.delta, t)
			}
		}
	})
	var out []HostPeak
	for _, p := range peaks {
		if p.TimeWait.Count > 0 || p.SynRecv.Count > 0 {
			out = append(out, *p)
		}
	}
	slices.SortFunc(out, func(a, b HostPeak) int { return a.Host.Compare(b.Host) })
	return out
}

// NearExhaustion is the share of the ephemeral port range in TIME_WAIT at
// which TimeWaitPressure warns: past it, connect() to that server starts to
// fail with EADDRNOTAVAIL under a burst.
const NearExhaustion = 0.8

// Pressure is the TIME_WAIT load of one client host towards one server
// ip:port. Every 4-tuple in TIME_WAIT on either end is one the client
// cannot reuse cleanly for Config.TimeWait, and all of them share the
// client's ephemeral range.
type Pressure struct {
	Client netip.Addr     `json:"client"`
	Server netip.AddrPort `json:"server"`
	// Peak is the highest number of connections at once with either end in
	// TIME_WAIT, and At when it was first reached.
	Peak int       `json:"peak"`
	At   time.Time `json:"at,omitzero"`
	// ClientHeld and ServerHeld split Peak by which end held TIME_WAIT at
	// that moment. Only client-held TIME_WAIT occupies the client's port;
	// server-held TIME_WAIT blocks the 4-tuple on the server.
	ClientHeld int       `json:"client_held"`
	ServerHeld int       `json:"server_held"`
	Range      PortRange `json:"-"`
	// Share is Peak over the size of the ephemeral range.
	Share float64 `json:"share"`
	// Warn is set when Share reaches NearExhaustion.
	Warn bool `json:"warn"`
}

// TimeWaitPressure measures, for every client host and server ip:port pair
// that had a connection in TIME_WAIT, the peak of concurrent TIME_WAIT
// connections against the ephemeral port range r (DefaultEphemeral when r
// is empty). The result is ordered by peak, highest first.
func TimeWaitPressure(flows []*reassembly.Flow, r PortRange) []Pressure {
	if r.Size() == 0 {
		r = DefaultEphemeral
	}
	type key struct {
		client netip.Addr
		server netip.AddrPort
	}
	type load struct{ flows, client, server int }
	cur := make(map[key]*load)
	out := make(map[key]*Pressure)
	// tw counts how many ends of each flow are in TIME_WAIT (0, 1 or 2).
	tw := make(map[*reassembly.Flow]int)
	replay(flows, func(f *reassembly.Flow, side reassembly.Side, t int64, from, to reassembly.State) {
		var delta int
		switch {
		case to == reassembly.TimeWait && from != reassembly.TimeWait:
			delta = 1
		case from == reassembly.TimeWait && to != reassembly.TimeWait:
			delta = -1
		default:
			return
		}
		k := key{f.Client().Addr.Addr(), f.Server().Addr}
		l, p := cur[k], out[k]
		if l == nil {
			l, p = new(load), &Pressure{Client: k.client, Server: k.server, Range: r}
			cur[k], out[k] = l, p
		}
		before := tw[f]
		tw[f] = before + delta
		if before == 0 || tw[f] == 0 {
			l.flows += delta
		}
		if side == reassembly.Client {
			l.client += delta
		} else {
			l.server += delta
		}
		at := time.Unix(0, t).UTC()
		// Both ends of a simultaneous close enter TIME_WAIT at one instant:
		// the split at the peak counts both.
		if l.flows > p.Peak || l.flows == p.Peak && at.Equal(p.At) {
			p.Peak, p.At = l.flows, at
			p.ClientHeld, p.ServerHeld = l.client, l.server
		}
	})
	res := make([]Pressure, 0, len(out))
	for _, p := range out {
		res = append(res, *p)
	}
	return finishPressure(res, r)
}

// finishPressure sets each pair's share of the range r and its warning,
// and orders the pairs by peak, highest first.
func finishPressure(res []Pressure, r PortRange) []Pressure {
	for i := range res {
		p := &res[i]
		p.Share = float64(p.Peak) / float64(r.Size())
		p.Warn = p.Share >= NearExhaustion
	}
	slices.SortFunc(res, func(a, b Pressure) int {
		if c := cmp.Compare(b.Peak, a.Peak); c != 0 {
			return c
		}
		if c := a.Client.Compare(b.Client); c != 0 {
			return c
		}
		return a.Server.Compare(b.Server)
	})
	return res
}

// seriesStates are the states drawn over time, in stateOrder.
var seriesStates = stateOrder

// stateSeries samples, for each of hosts, the number of sockets in each
// state of seriesStates over [start, end] cut into n equal buckets: each
// value is the highest count reached in that bucket, so short spikes (a
// burst of SYN_RECV) survive the sampling.
func stateSeries(flows []*reassembly.Flow, hosts []netip.Addr, start, end time.Time, n int) map[netip.Addr][][]int {
	out := make(map[netip.Addr][][]int, len(hosts))
	cur := make(map[netip.Addr][]int, len(hosts))
	for _, h := range hosts {
		b := make([][]int, n)
		for i := range b {
			b[i] = make([]int, len(seriesStates))
		}
		out[h], cur[h] = b, make([]int, len(seriesStates))
	}
	col := make(map[reassembly.State]int, len(seriesStates))
	for i, st := range seriesStates {
		col[st] = i + 1 // 0 means "not drawn"
	}
	span := end.Sub(start)
	bucket := func(t int64) int {
		if span <= 0 {
			return 0
		}
		b := int(float64(t-start.UnixNano()) / float64(span) * float64(n))
		return min(max(b, 0), n-1)
	}
	filled := 0 // buckets [0, filled) start from the counts carried in
	carry := func(upTo int) {
		for ; filled <= upTo; filled++ {
			for h, c := range cur {
				copy(out[h][filled], c)
			}
		}
	}
	replay(flows, func(f *reassembly.Flow, side reassembly.Side, t int64, from, to reassembly.State) {
		host := f.Ends[side].Addr.Addr()
		c := cur[host]
		if c == nil {
			return
		}
		b := bucket(t)
		carry(b)
		if i := col[from]; i > 0 {
			c[i-1]--
		}
		if i := col[to]; i > 0 {
			c[i-1]++
			row := out[host][b]
			row[i-1] = max(row[i-1], c[i-1])
		}
	})
	carry(n - 1)
	return out
}
