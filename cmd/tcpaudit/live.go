package main

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tcpaudit/tcpaudit/capture"
	"github.com/tcpaudit/tcpaudit/reassembly"
	"github.com/tcpaudit/tcpaudit/report"
)

// liveIdleTimeout finishes flows that stay silent this long when the user
// gave no --idle-timeout: offline, a flow may stay open to the end of the
// file, but a capture that runs for days must forget connections nobody
// uses any more (an idle keepalive-less connection still shows up as open
// in the report, with its last state).
const liveIdleTimeout = time.Hour

// liveDrain is how long a capture stopped by a signal or --duration keeps
// reading the packets already queued in the kernel: a little more than one
// poll interval, after which the kernel hands over its last, partly filled
// block, so that whatever was queued at the stop is read.
const liveDrain = capture.DefaultPoll + 50*time.Millisecond

// liveClockLag is how far behind the wall clock a quiet live capture moves
// the flow table's clock. Packets are stamped by the kernel (the same
// realtime clock as time.Now) but handed over up to a poll interval later,
// and the kernel ring holds well under a second of a busy link, so a packet
// read after the clock moved is never older than this: no flow is expired
// while a packet of it still waits in the ring. Timers are tens of
// seconds, so a second late does not matter.
const liveClockLag = time.Second

// listInterfaces prints the interfaces live capture can use, numbered as
// tcpdump -D numbers them, with their state and addresses.
func listInterfaces(stdout, stderr io.Writer) int {
	ifs, err := capture.Interfaces()
	if err != nil {
		complain(stderr, "%v", err)
		return exitBadInput
	}
	for i, it := range ifs {
		var tags []string
		if it.Up {
			tags = append(tags, "Up")
		}
		if it.Running {
			tags = append(tags, "Running")
		}
		if it.Loopback {
			tags = append(tags, "Loopback")
		}
		line := fmt.Sprintf("%d.%s", i+1, it.Name)
		if it.Description != "" {
			line += " (" + it.Description + ")"
		}
		if len(tags) > 0 {
			line += " [" + strings.Join(tags, ", ") + "]"
		}
		for _, a := range it.Addrs {
			line += " " + a.String()
		}
		fmt.Fprintln(stdout, line)
	}
	return exitOK
}

// runLive captures on o.iface until Ctrl-C, SIGTERM, --duration or -c, then
// writes the same report a file audit writes. The report is written on
// every way out but a failure to start the capture.
func runLive(o *options, stdout, stderr io.Writer) int {
	if o.cfg.IdleTimeout == 0 {
		o.cfg.IdleTimeout = liveIdleTimeout
	}
	if err := checkReportOptions(o); err != nil {
		complain(stderr, "%v", err)
		return exitBadInput
	}
	cleanup, err := spoolLiveForEvidence(o)
	if err != nil {
		complain(stderr, "%v", err)
		return exitBadInput
	}
	defer cleanup()
	save, saveOut, err := openRaw(o, stdout)
	if err != nil {
		complain(stderr, "%v", err)
		return exitBadInput
	}
	stopping, release := catchStopSignals()
	defer release()

	live, err := capture.Listen(o.iface, capture.LiveOptions{
		Snaplen: o.snaplen,
		Promisc: o.promisc,
		Filter:  o.filter,
		Save:    save,
	})
	if err != nil {
		if saveOut != nil {
			saveOut.Close()
			if o.writeRaw != "-" {
				os.Remove(o.writeRaw)
			}
		}
		// A PermissionError prints as one line that says how to fix it.
		complain(stderr, "%v", err)
		return exitBadInput
	}
	src := live.Source()

	start := time.Now()
	var deadline time.Time
	if o.duration > 0 {
		deadline = start.Add(o.duration)
	}
	complain(stderr, "listening on %s, link-type %s, snapshot length %d bytes; Ctrl-C stops and writes the report",
		o.iface, live.Link(), live.Snaplen())

	a, err := newAudit(o, src, stdout)
	if err != nil {
		complain(stderr, "%v", err)
		return exitBadInput
	}
	var view *liveView
	if o.every > 0 {
		view = &liveView{a: a, live: live, w: stderr, every: o.every, next: start.Add(o.every), since: start,
			shown: map[uint64]reassembly.Verdict{}}
		a.onFlow = view.onFlow
		a.table.OnSettled(view.onSettled)
	}
	// The stop check runs on the capture goroutine, after every packet and
	// every quiet poll interval, so the running view reads the flow table
	// without locks.
	nextFlush := start.Add(time.Second)
	var read uint64 // packets read at the previous check
	readErr := a.feed(func() bool {
		if stopping.Load() {
			return true
		}
		now := time.Now()
		if n := src.Stats().Packets; n == read {
			// A quiet poll interval: no packet moves the table's clock,
			// so the wall clock does, and TIME_WAIT, linger and idle
			// timers run out on time.
			advanceTable(a.table, now)
		} else {
			read = n
		}
		if view != nil && !now.Before(view.next) {
			view.tick(now)
		}
		if save != nil && !now.Before(nextFlush) {
			// Keep -w readable while the capture runs (tcpdump -U).
			save.Flush()
			nextFlush = now.Add(time.Second)
		}
		return !deadline.IsZero() && !now.Before(deadline)
	})

	if stopping.Load() || !deadline.IsZero() && !time.Now().Before(deadline) {
		// Packets that reached the kernel before Ctrl-C or the deadline
		// belong in the report: read what is already queued, briefly.
		drainUntil := time.Now().Add(liveDrain)
		if err := a.feed(func() bool { return !time.Now().Before(drainUntil) }); err != nil && readErr == nil {
			readErr = err
		}
	}
	end := time.Now()
	live.Close() // refreshes libpcap's counters
	stats := live.Stats()
	// The capture ends now, not at its last packet: a SYN that went
	// unanswered for the last ten seconds was unanswered for ten seconds.
	if n := end.UnixNano(); n > a.last {
		a.last = n
	}
	d := a.data([]string{"iface:" + o.iface})
	d.Start, d.End = start.UTC(), end.UTC()
	d.Capture.Live = true
	d.Capture.KernelDropped = stats.KernelDropped
	d.Capture.IfaceDropped = stats.IfaceDropped
	if readErr != nil {
		d.Warnings = append(d.Warnings, "capture stopped by an error, report covers packets before it: "+readErr.Error())
	}
	if save != nil {
		if err := save.Close(); err != nil {
			d.Warnings = append(d.Warnings, fmt.Sprintf("-w %s: %v", o.writeRaw, err))
		}
		if err := saveOut.Close(); err != nil {
			d.Warnings = append(d.Warnings, fmt.Sprintf("-w %s: %v", o.writeRaw, err))
		}
	}
	// As tcpdump says it: libpcap's "received" counts a loopback packet
	// twice (out and in) where the capture keeps it once.
	complain(stderr, "%d packets captured, %d received by filter, %d dropped by the kernel, %d by the interface",
		src.Stats().Packets, stats.Received, stats.KernelDropped, stats.IfaceDropped)
	if o.evidence != "" {
		// The evidence pass reads the raw copy: the same packets in the
		// same order, so packet numbers match the report's.
		o.inputs = []string{o.writeRaw}
	}
	code := a.finish(d, stdout, stderr)
	if readErr != nil {
		complain(stderr, "%v", readErr)
		if code == exitOK {
			code = exitBadInput
		}
	}
	return code
}

// advanceTable moves the table's clock to the wall clock now, less
// liveClockLag.
func advanceTable(t *reassembly.Sharded, now time.Time) {
	t.Advance(now.Add(-liveClockLag).UnixNano())
}

// liveView prints the running view of --every on stderr: how many sockets
// each host has in each state now, then the abnormal endings since the last
// tick. It runs on the capture goroutine, between packets, so it reads the
// flow table without locks.
//
// An abnormal ending is listed as soon as the flow settles (a reset or a
// refusal closes both ends), not a TIME_WAIT period later when the table
// lets go of it; it is listed once, unless the flow is emitted with
// another verdict than it settled with.
type liveView struct {
	a     *audit
	live  *capture.Live
	w     io.Writer
	every time.Duration
	next  time.Time
	since time.Time
	ended []ending // abnormal endings since the last tick
	// shown holds the verdicts of settled flows already listed, by
	// FirstIndex, until the table emits them: at most the flows the
	// table holds.
	shown map[uint64]reassembly.Verdict
}

// ending is one line of the running view's abnormal endings.
type ending struct {
	verdict        reassembly.Verdict
	client, server netip.AddrPort
	reason         string
}

func (v *liveView) onSettled(s reassembly.Settled) {
	if s.Verdict.Abnormal() {
		v.ended = append(v.ended, ending{s.Verdict, s.Client, s.Server, s.Reason})
		v.shown[s.FirstIndex] = s.Verdict
	}
}

func (v *liveView) onFlow(f *reassembly.Flow) {
	if was, ok := v.shown[f.FirstIndex]; ok {
		delete(v.shown, f.FirstIndex)
		if was == f.Verdict {
			return
		}
	}
	if f.Verdict.Abnormal() {
		v.ended = append(v.ended, ending{f.Verdict, f.Client().Addr, f.Server().Addr, f.Reason})
	}
}

// Bounds of one running view, so that a SYN flood or a busy proxy yields a
// screenful per tick, not a scroll of thousands of lines. The final report
// has everything.
const (
	viewMaxHosts  = 20
	viewMaxEnding = 20
)

// tick prints one view and schedules the next.
func (v *liveView) tick(now time.Time) {
	type hostRow struct {
		host   netip.Addr
		states map[reassembly.State]int
		total  int
	}
	advanceTable(v.a.table, now)
	rows := map[netip.Addr]*hostRow{}
	v.a.table.States(func(addr netip.AddrPort, st reassembly.State) {
		if st == reassembly.Unknown || st == reassembly.Closed {
			return
		}
		r := rows[addr.Addr()]
		if r == nil {
			r = &hostRow{host: addr.Addr(), states: map[reassembly.State]int{}}
			rows[addr.Addr()] = r
		}
		r.states[st]++
		r.total++
	})
	sorted := make([]*hostRow, 0, len(rows))
	for _, r := range rows {
		sorted = append(sorted, r)
	}
	// Busiest hosts first; the address breaks ties so views are stable.
	sort.Slice(sorted, func(i, j int) bool {
		if sorted[i].total != sorted[j].total {
			return sorted[i].total > sorted[j].total
		}
		return sorted[i].host.Less(sorted[j].host)
	})

	var b strings.Builder
	st := v.live.Stats()
	fin := v.a.finished()
	fmt.Fprintf(&b, "--- %s  %d packets, %d %s, %d dropped\n", now.Format("15:04:05"),
		v.a.src.Stats().Packets, fin, plural(fin, "finished flow", "finished flows"), st.KernelDropped+st.IfaceDropped)
	for i, r := range sorted {
		if i == viewMaxHosts {
			fmt.Fprintf(&b, "  ... and %d more hosts\n", len(sorted)-i)
			break
		}
		var parts []string
		for s := reassembly.Unknown; s <= reassembly.LastAck; s++ {
			if n := r.states[s]; n > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", s, n))
			}
		}
		fmt.Fprintf(&b, "  %-39s %s\n", r.host, strings.Join(parts, ", "))
	}
	if len(v.ended) == 0 {
		fmt.Fprintf(&b, "  no abnormal endings since %s\n", v.since.Format("15:04:05"))
	} else {
		fmt.Fprintf(&b, "  %d abnormal %s since %s:\n", len(v.ended), plural(len(v.ended), "ending", "endings"), v.since.Format("15:04:05"))
		for i, f := range v.ended {
			if i == viewMaxEnding {
				fmt.Fprintf(&b, "    ... and %d more\n", len(v.ended)-i)
				break
			}
			fmt.Fprintf(&b, "    %-19s %s -> %s  %s\n", f.verdict, f.client, f.server, f.reason)
		}
	}
	io.WriteString(v.w, b.String())
	clear(v.ended)
	v.ended = v.ended[:0]
	v.since = now
	for !v.next.After(now) {
		v.next = v.next.Add(v.every)
	}
}

// checkReportOptions checks, before the capture starts, the options that
// finish would reject: a typo found after hours of capture must not cost
// the report.
func checkReportOptions(o *options) error {
	if o.at != "" {
		if _, err := parseAt(o.at, time.Now()); err != nil {
			return fmt.Errorf("--at: %w", err)
		}
	}
	if o.failOn != "" {
		if _, err := report.ParseGate(o.failOn); err != nil {
			return fmt.Errorf("--fail-on: %w", err)
		}
	}
	return nil
}

// catchStopSignals turns SIGINT and SIGTERM into a flag the capture loop
// reads between packets: the loop notices it within one poll interval,
// stops reading, and the report is written as after any other stop. A
// second signal is deliberately not fatal, so an impatient double Ctrl-C
// still gets the report. release restores the default handling.
func catchStopSignals() (stopping *atomic.Bool, release func()) {
	stopping = new(atomic.Bool)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		for range sigs {
			stopping.Store(true)
		}
	}()
	return stopping, func() {
		signal.Stop(sigs)
		close(sigs) // no delivery after Stop: ends the goroutine
	}
}

// spoolLiveForEvidence makes sure a live capture with --evidence keeps a
// raw copy to pick the evidence packets from: the -w file when there is
// one, otherwise a temporary file that cleanup removes.
func spoolLiveForEvidence(o *options) (cleanup func(), err error) {
	cleanup = func() {}
	switch {
	case o.evidence == "" || (o.writeRaw != "" && o.writeRaw != "-"):
		return cleanup, nil
	case o.writeRaw == "-":
		return cleanup, errors.New("--evidence needs the packets again after the capture: give -w a file, not standard output")
	}
	f, err := os.CreateTemp("", "tcpaudit-live-*.pcapng")
	if err != nil {
		return cleanup, fmt.Errorf("--evidence: spooling the capture: %w", err)
	}
	f.Close()
	o.writeRaw = f.Name()
	return func() { os.Remove(f.Name()) }, nil
}

// openRaw opens the -w output: a file, or standard output for "-" (as
// tcpdump -w - does, to pipe the packets on), in which case the report
// must go to a file. It returns nils when -w was not given.
func openRaw(o *options, stdout io.Writer) (*capture.Writer, io.Closer, error) {
	if o.writeRaw == "" {
		return nil, nil, nil
	}
	var out io.WriteCloser
	if o.writeRaw == "-" {
		if o.output == "" || o.output == "-" {
			return nil, nil, errors.New("-w - writes the packets to standard output: give the report a file with -o")
		}
		out = nopCloser{stdout}
	} else {
		f, err := os.Create(o.writeRaw)
		if err != nil {
			return nil, nil, fmt.Errorf("-w: %w", err)
		}
		out = f
	}
	w, err := capture.NewWriter(out, rawFormat(o.writeRaw))
	if err != nil {
		out.Close()
		return nil, nil, fmt.Errorf("-w %s: %w", o.writeRaw, err)
	}
	return w, out, nil
}

// nopCloser leaves standard output open when -w - is done with it.
type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// rawFormat picks the -w file format from its name: classic pcap for
// ".pcap" and for "-" (what tcpdump -r - and most pipes expect), pcapng
// otherwise.
func rawFormat(name string) capture.FileFormat {
	if name == "-" || strings.HasSuffix(strings.ToLower(name), ".pcap") {
		return capture.FormatPcap
	}
	return capture.FormatPcapNG
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
