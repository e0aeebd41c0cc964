package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tcpaudit/tcpaudit/capture"
)

// `tcpbench live` answers issue 5's live question: up to which rate of a
// loopback connection flood do tcpdump -w /dev/null and tcpaudit keep up
// without kernel drops? Both capture the same traffic at the same time,
// one fresh pair per rate, and each says what libpcap counted when it
// stops.

// liveParams is the live subcommand's command line.
type liveParams struct {
	rates    []float64
	step     time.Duration
	gen      string
	workers  int
	senders  int
	markdown bool
}

// captureBufferKiB is the kernel buffer tcpdump is given (-B, in KiB): the
// one tcpaudit asks for, so that both ride out the same bursts.
const captureBufferKiB = capture.LiveBufferSize >> 10

func parseLiveFlags(args []string, stderr io.Writer) (liveParams, error) {
	var p liveParams
	fs := flag.NewFlagSet("tcpbench live", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rates := fs.String("rates", "25k,50k,100k,200k,400k,800k", "target packet rates, increasing, one step each")
	fs.DurationVar(&p.step, "step", 3*time.Second, "how long each rate is sent")
	fs.StringVar(&p.gen, "gen", genMixed, "generator: conn (client pool), syn (crafted SYNs) or mixed (the pool, and SYNs for the rest)")
	fs.IntVar(&p.workers, "workers", 64, "clients in the connection pool")
	fs.IntVar(&p.senders, "senders", 2, "goroutines writing crafted SYNs")
	fs.BoolVar(&p.markdown, "markdown", false, "print the table as Markdown")
	if err := fs.Parse(args); err != nil {
		return p, err
	}
	if fs.NArg() > 0 {
		return p, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if p.rates, err = parseRates(*rates); err != nil {
		return p, err
	}
	switch {
	case p.gen != genConn && p.gen != genSYN && p.gen != genMixed:
		return p, fmt.Errorf("-gen %q: want conn, syn or mixed", p.gen)
	case p.step <= 0 || p.workers < 1 || p.senders < 1:
		return p, errors.New("-step, -workers and -senders must be positive")
	}
	return p, nil
}

// liveRow is one rate: what was sent and what each capture counted.
type liveRow struct {
	target float64
	sent   floodResult
	genCPU time.Duration // used by this process, the generators, in the kernel too
	caps   []capResult   // tcpdump, then tcpaudit
}

// capResult is one capture's counters and the CPU it used while the
// traffic ran.
type capResult struct {
	stats captureStats
	cpu   time.Duration
}

func runLive(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	p, err := parseLiveFlags(args, stderr)
	if err != nil {
		return err
	}
	// Capturing and crafting SYNs both need root; a machine without them
	// skips the benchmark rather than failing a make run.
	if os.Geteuid() != 0 {
		fmt.Fprintln(stderr, "tcpbench live: skipped: needs root (packet capture on lo, raw socket for SYNs)")
		return nil
	}
	if _, err := exec.LookPath("tcpdump"); err != nil {
		fmt.Fprintln(stderr, "tcpbench live: skipped: tcpdump is not installed (make test-deps installs it)")
		return nil
	}
	_, tcpaudit, cleanup, err := buildTcpaudit(ctx)
	defer cleanup()
	if err != nil {
		return err
	}

	f, err := newFlood(p.workers, p.senders)
	if err != nil {
		return err
	}
	defer f.close()
	pool, err := f.calibrate(ctx)
	if err != nil {
		return fmt.Errorf("calibrating the generators: %w", err)
	}
	fmt.Fprintf(stdout, "generators, alone: the pool of %d clients makes %.0f connections/s (%.0f packets/s, %.1f packets each); a crafted SYN makes %.1f packets\n",
		p.workers, float64(pool.conns)/pool.elapsed.Seconds(), pool.rate(), f.perConn, f.perSYN)

	filter := fmt.Sprintf("tcp port %d", f.port)
	loadBefore := loadAverage()
	var rows []liveRow
	var note string
	for _, target := range p.rates {
		fmt.Fprintf(stderr, "tcpbench: %s packets/s for %s ...\n", formatRate(target), p.step)
		r, err := liveStep(ctx, f, p, target, tcpaudit, filter)
		if err != nil {
			return err
		}
		rows = append(rows, r)
		var more bool
		if more, note = nextStep(target, r.sent.rate()); !more {
			break
		}
	}
	fmt.Fprintf(stdout, "%s on lo, %s a step, tcpdump -B %d (KiB, as tcpaudit's buffer), load average %s before, %s after\n",
		filter, p.step, captureBufferKiB, loadBefore, loadAverage())
	printLiveTable(stdout, rows, p.markdown)
	fmt.Fprintln(stdout, "lo pkt/s: lo's own packet counter over the step (all traffic on lo, ours nearly all of it)")
	fmt.Fprintln(stdout, "dropped: by the kernel and the interface, as libpcap counts them on lo: each packet twice (out and in); the share is of the packets lost")
	fmt.Fprintf(stdout, "CPU: share of one core over the step's length (%d cores here); the captures' includes the %s after it\n", runtime.NumCPU(), captureSettle)
	for _, r := range rows {
		if r.sent.failed > 0 {
			fmt.Fprintf(stdout, "at %s packets/s, %d pool connections failed\n", formatRate(r.target), r.sent.failed)
		}
	}
	if note != "" {
		fmt.Fprintln(stdout, note)
	}
	return nil
}

// liveStep starts tcpdump and tcpaudit, waits until both capture, sends
// target packets/s for p.step, stops both and reads their counters.
func liveStep(ctx context.Context, f *flood, p liveParams, target float64, tcpaudit, filter string) (liveRow, error) {
	row := liveRow{target: target}
	cmds := [][]string{
		{"tcpdump", "-i", "lo", "-n", "-B", strconv.Itoa(captureBufferKiB), "-w", os.DevNull, filter},
		// The report goes to standard output, thrown away: -o /dev/null
		// would write a temporary file beside /dev/null.
		{tcpaudit, "-i", "lo", "-f", filter, "--format", "json"},
	}
	var caps []*capProc
	defer func() {
		for _, c := range caps {
			c.kill()
		}
	}()
	for _, args := range cmds {
		c, err := startCapture(ctx, args)
		if err != nil {
			return row, err
		}
		caps = append(caps, c)
	}
	for _, c := range caps {
		if err := c.waitListening(ctx, 10*time.Second); err != nil {
			return row, err
		}
	}
	cpu0 := make([]time.Duration, len(caps))
	for i, c := range caps {
		cpu0[i] = c.cpu()
	}
	gen0 := selfCPU()
	sent, err := f.run(ctx, p.gen, target, p.step)
	if err != nil {
		return row, err
	}
	row.sent, row.genCPU = sent, selfCPU()-gen0
	if ctx.Err() != nil {
		return row, ctx.Err()
	}
	// What lo carried last is still in the rings: give both time to read
	// it before they stop. tcpdump -w reads whole blocks of the ring, and
	// the kernel hands over a block that is not full only when tcpdump's
	// read timeout (1 s) runs out; what it has not read when it stops is
	// neither captured nor dropped.
	time.Sleep(captureSettle)
	for i, c := range caps {
		cpu := c.cpu() - cpu0[i]
		st, err := c.stop(ctx)
		if err != nil {
			return row, err
		}
		row.caps = append(row.caps, capResult{stats: st, cpu: cpu})
	}
	return row, nil
}

// captureSettle is how long the captures run on after the traffic: more
// than tcpdump's 1 s read timeout.
const captureSettle = 1500 * time.Millisecond

// capProc is a running capture whose standard error is watched for the
// "listening on" line both tools print once the kernel captures.
type capProc struct {
	name      string
	cmd       *exec.Cmd
	listening chan struct{}
	done      chan struct{} // standard error read to its end
	mu        sync.Mutex
	stderr    strings.Builder
}

// maxCaptureStderr bounds what is kept of a capture's standard error.
const maxCaptureStderr = 64 << 10

func startCapture(ctx context.Context, args []string) (*capProc, error) {
	c := &capProc{
		name:      filepath.Base(args[0]),
		cmd:       exec.CommandContext(ctx, args[0], args[1:]...),
		listening: make(chan struct{}),
		done:      make(chan struct{}),
	}
	pipe, err := c.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", c.name, err)
	}
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(pipe)
		heard := false
		for sc.Scan() {
			line := sc.Text()
			c.mu.Lock()
			if c.stderr.Len() < maxCaptureStderr {
				c.stderr.WriteString(line + "\n")
			}
			c.mu.Unlock()
			if !heard && strings.Contains(line, "listening on") {
				heard = true
				close(c.listening)
			}
		}
		io.Copy(io.Discard, pipe) // a line too long for the scanner
	}()
	return c, nil
}

func (c *capProc) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.TrimSpace(c.stderr.String())
}

func (c *capProc) waitListening(ctx context.Context, limit time.Duration) error {
	select {
	case <-c.listening:
		return nil
	case <-c.done:
		return fmt.Errorf("%s ended before capturing: %s", c.name, c.output())
	case <-time.After(limit):
		return fmt.Errorf("%s did not start capturing within %s: %s", c.name, limit, c.output())
	case <-ctx.Done():
		return ctx.Err()
	}
}

// cpu is the CPU time the capture has used so far (user and system), from
// /proc: read before the capture stops, it leaves out tcpaudit's report.
func (c *capProc) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: state is field 3, utime and stime fields 14 and 15.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	// Linux counts them in USER_HZ ticks, 100 a second on every
	// architecture it exports them from.
	return time.Duration(ut+st) * (time.Second / 100)
}

// selfCPU is the CPU time this process has used, user and system: the
// kernel's work on the packets it sends, their answers included, is done
// in its system calls and counted here.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// captureStopLimit bounds how long a stopped capture may take to print its
// counters and exit: tcpaudit writes its report of every flow first.
const captureStopLimit = 3 * time.Minute

// stop interrupts the capture as Ctrl-C does and reads the counters it
// prints.
func (c *capProc) stop(ctx context.Context) (captureStats, error) {
	if err := c.cmd.Process.Signal(os.Interrupt); err != nil {
		return captureStats{}, fmt.Errorf("%s: %w", c.name, err)
	}
	select {
	case <-c.done:
	case <-time.After(captureStopLimit):
		return captureStats{}, fmt.Errorf("%s did not stop within %s of SIGINT", c.name, captureStopLimit)
	case <-ctx.Done():
		return captureStats{}, ctx.Err()
	}
	// Its exit status says nothing about the counters (tcpaudit may exit
	// non-zero for what it found): they are what is read.
	c.cmd.Wait()
	st, err := parseCaptureStats(c.output())
	if err != nil {
		return st, fmt.Errorf("%s: %w:\n%s", c.name, err, c.output())
	}
	return st, nil
}

// kill ends a capture still running (after an error); a stopped one is
// left alone.
func (c *capProc) kill() {
	if c.cmd.ProcessState == nil {
		c.cmd.Process.Kill()
		c.cmd.Wait()
	}
}

// printLiveTable prints one line per rate.
func printLiveTable(w io.Writer, rows []liveRow, markdown bool) {
	header := []string{"target pkt/s", "generator", "lo pkt/s", "conns/s", "SYNs/s", "generator CPU"}
	for _, name := range []string{"tcpdump", "tcpaudit"} {
		header = append(header, name+" captured", name+" dropped", name+" CPU")
	}
	var lines [][]string
	for _, r := range rows {
		secs := r.sent.elapsed.Seconds()
		l := []string{
			formatRate(r.target),
			r.sent.generator(),
			fmt.Sprintf("%.0f", r.sent.rate()),
			fmt.Sprintf("%.0f", float64(r.sent.conns)/secs),
			fmt.Sprintf("%.0f", float64(r.sent.syns)/secs),
			fmt.Sprintf("%.0f%%", 100*r.genCPU.Seconds()/secs),
		}
		for _, c := range r.caps {
			l = append(l,
				strconv.FormatUint(c.stats.captured, 10),
				dropShare(c.stats),
				fmt.Sprintf("%.0f%%", 100*c.cpu.Seconds()/secs))
		}
		lines = append(lines, l)
	}
	printGrid(w, header, lines, markdown)
}

// dropShare prints a capture's drops with their share of what the kernel
// received for it. On lo both count each packet twice, as it goes out and
// as it comes in (libpcap then skips the outgoing copy), so the share is
// that of the packets lost, and the count is twice theirs.
func dropShare(s captureStats) string {
	d := s.dropped()
	if d == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (%.1f%%)", d, 100*float64(d)/float64(max(s.received, d)))
}
