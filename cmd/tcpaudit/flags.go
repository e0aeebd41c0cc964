package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/tcpaudit/tcpaudit/reassembly"
	"github.com/tcpaudit/tcpaudit/report"
)

var errHelp = errors.New("help requested")

// options is the parsed command line. Flags follow tcpdump where they mean
// the same thing (-r, -i, -f, -w, -s, -c, -D).
type options struct {
	inputs []string // capture files; "-" is standard input

	// Live capture (see live.go).
	iface          string
	listInterfaces bool
	snaplen        int
	count          int64
	duration       time.Duration
	every          time.Duration
	promisc        bool
	writeRaw       string

	filter string

	format string
	output string
	at     string

	evidence         string
	evidenceVerdicts string
	evidenceFlows    string

	failOn    string
	progress  bool
	ephemeral string

	// cpuProfile and memProfile are hidden developer flags: where to
	// write Go pprof profiles of the run (see issue 5's measurements).
	cpuProfile, memProfile, execTrace string

	cfg reassembly.Config
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{cfg: reassembly.DefaultConfig()}
	fs := pflag.NewFlagSet("tcpaudit", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: tcpaudit [flags] FILE... | -r FILE | -i IFACE\n\n"+
			"Rebuilds every TCP connection's handshake and close and says how each ended.\n"+
			"FILE may be pcap, pcapng or gzipped; '-' reads standard input. Several files\n"+
			"are merged in timestamp order, so rotated captures continue their flows.\n\n")
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nExit status: 0 audit done, 1 a --fail-on condition was met, 2 bad usage or bad input.\n")
	}

	var reads []string
	fs.StringArrayVarP(&reads, "read", "r", nil, "read packets from `FILE` (repeatable; same as a positional FILE)")
	fs.StringVarP(&o.iface, "interface", "i", "", "capture live on `IFACE` (\"any\" for all interfaces)")
	fs.BoolVarP(&o.listInterfaces, "list-interfaces", "D", false, "list the interfaces live capture can use, then exit")
	fs.StringVarP(&o.filter, "filter", "f", "", "BPF filter `EXPR` (tcpdump syntax), applied to files and live capture")
	fs.IntVarP(&o.snaplen, "snaplen", "s", 256, "live capture: bytes to keep per packet (headers and TCP options fit in 256)")
	fs.Int64VarP(&o.count, "count", "c", 0, "stop after `N` packets (0: no limit)")
	fs.DurationVar(&o.duration, "duration", 0, "live capture: stop after this long (0: until Ctrl-C)")
	fs.DurationVar(&o.every, "every", 0, "live capture: print a running view on stderr at this interval")
	fs.BoolVar(&o.promisc, "promisc", false, "live capture: put the interface in promiscuous mode")
	fs.StringVarP(&o.writeRaw, "write", "w", "", "live capture: also save the raw packets to `FILE` (pcapng)")

	fs.StringVar(&o.format, "format", "text", "report format: "+strings.Join(report.Formats(), ", "))
	fs.StringVarP(&o.output, "output", "o", "", "write the report to `FILE` instead of standard output")
	fs.StringVar(&o.at, "at", "", "also show states per host at this instant (RFC 3339, or seconds from the capture start like 12.5s)")

	fs.StringVar(&o.evidence, "evidence", "", "write the packets of the abnormal flows to `FILE` (pcapng)")
	fs.StringVar(&o.evidenceVerdicts, "evidence-verdicts", "", "with --evidence: only flows with these comma-separated verdicts")
	fs.StringVar(&o.evidenceFlows, "evidence-flows", "", "with --evidence: only these comma-separated flow ids")
	fs.StringVar(&o.failOn, "fail-on", "", "exit 1 when met: verdicts or thresholds, e.g. 'reset,half_open' or 'syn_unanswered>10'")
	fs.StringVar(&o.ephemeral, "ephemeral-ports", "32768-60999", "client port range `LOW-HIGH` that TIME_WAIT pressure is measured against (Linux ip_local_port_range)")
	fs.BoolVar(&o.progress, "progress", true, "show a progress bar on stderr when it is a terminal")

	fs.DurationVar(&o.cfg.TimeWait, "time-wait", o.cfg.TimeWait, "how long TIME_WAIT lasts (Linux: 60s)")
	fs.DurationVar(&o.cfg.FinTimeout, "fin-timeout", o.cfg.FinTimeout, "half_closed turns lingering_fin_wait2 after this (Linux tcp_fin_timeout)")
	fs.DurationVar(&o.cfg.StallTimeout, "stall-timeout", o.cfg.StallTimeout, "one side transmitting into silence this long is half_open")
	fs.DurationVar(&o.cfg.IdleTimeout, "idle-timeout", o.cfg.IdleTimeout, "finish flows idle this long (0: never; live default 1h)")
	fs.IntVar(&o.cfg.MaxFlows, "max-flows", o.cfg.MaxFlows, "cap the flow table; evictions are counted and reported (0: no cap)")

	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a Go CPU profile to `FILE` (for developers)")
	fs.StringVar(&o.memProfile, "memprofile", "", "write a Go heap profile to `FILE` at the end (for developers)")
	fs.StringVar(&o.execTrace, "exectrace", "", "write a Go execution trace to `FILE`, to see what the goroutines wait for (for developers)")
	_ = fs.MarkHidden("cpuprofile")
	_ = fs.MarkHidden("memprofile")
	_ = fs.MarkHidden("exectrace")

	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil, errHelp
		}
		return nil, err
	}
	o.inputs = append(reads, fs.Args()...)
	o.cfg.NoLadders = !report.DrawsLadders(o.format)
	return o, o.validate()
}

func (o *options) validate() error {
	if !o.listInterfaces && o.iface == "" && len(o.inputs) == 0 {
		return errors.New("nothing to read: give a capture FILE, '-' for standard input, or -i IFACE (see --help)")
	}
	if o.iface != "" && len(o.inputs) > 0 {
		return errors.New("-i and capture files are exclusive")
	}
	if !hasFormat(o.format) {
		return fmt.Errorf("unknown --format %q (want one of %s)", o.format, strings.Join(report.Formats(), ", "))
	}
	if _, err := report.ParsePortRange(o.ephemeral); err != nil {
		return fmt.Errorf("--ephemeral-ports: %w", err)
	}
	// Check the evidence selection now: a typo found after a long capture
	// must not cost its report.
	if _, err := evidenceSelection(o); err != nil {
		return err
	}
	stdinUsed := 0
	for _, in := range o.inputs {
		if in == "-" {
			stdinUsed++
		}
	}
	if stdinUsed > 1 {
		return errors.New("standard input ('-') given more than once")
	}
	// Writing over an input loses the capture; refuse before touching it.
	for _, out := range []string{o.output, o.evidence, o.writeRaw} {
		if out == "" || out == "-" {
			continue
		}
		for _, in := range o.inputs {
			if in != "-" && samePath(in, out) {
				return fmt.Errorf("output %s is also an input: refusing to overwrite the capture", out)
			}
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"--time-wait", o.cfg.TimeWait}, {"--fin-timeout", o.cfg.FinTimeout},
		{"--stall-timeout", o.cfg.StallTimeout}, {"--idle-timeout", o.cfg.IdleTimeout}} {
		if d.v < 0 {
			return fmt.Errorf("%s must not be negative", d.name)
		}
	}
	return nil
}

func hasFormat(name string) bool {
	for _, f := range report.Formats() {
		if f == name {
			return true
		}
	}
	return false
}

// samePath reports whether two paths name the same file (hard and symbolic
// links included); paths that do not exist yet are compared by name.
func samePath(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	if errA == nil && errB == nil {
		return os.SameFile(sa, sb)
	}
	aa, _ := filepath.Abs(a)
	bb, _ := filepath.Abs(b)
	return aa == bb
}
