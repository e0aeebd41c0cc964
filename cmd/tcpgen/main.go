// Command tcpgen writes tcpaudit's synthetic test captures: small,
// deterministic pcap/pcapng files, one story each, with the verdict and end
// states tcpaudit must find in testdata/expect.json. It also streams large
// captures for benchmarks and resource-bound tests.
//
// Regenerate the committed files (byte-identical on every run):
//
//	go run ./cmd/tcpgen -o testdata all
//
// A spoofed SYN flood, for --max-flows tests (not committed):
//
//	go run ./cmd/tcpgen synflood -n 1000000 -o /tmp/synflood.pcap
//
// A large mixed capture for `make bench`:
//
//	go run ./cmd/tcpgen bench -conns 200000 -concurrency 1000 -o /tmp/bench.pcap
//
// writes 200k connections (about 5M packets, 500 MB with the default mix of
// every verdict; -mix clean=80,reset=10,refused=10 chooses another) in a few
// seconds, streaming: memory depends on -concurrency only.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/pflag"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage:
  tcpgen [-o DIR] all|NAME...   write the test captures (and expect.json with all)
  tcpgen list                   list the scenarios
  tcpgen synflood [-n N] [-synack] -o FILE
  tcpgen bench [-conns N] [-concurrency C] [-mix K=W,...] [-seed S] -o FILE
`

// run is main without the process: it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	var err error
	args = goStyleFlags(args)
	switch {
	case len(args) > 0 && args[0] == "synflood":
		err = runSynFlood(args[1:], stdout)
	case len(args) > 0 && args[0] == "bench":
		err = runBench(args[1:], stdout)
	case len(args) > 0 && args[0] == "list":
		for _, d := range catalogue {
			fmt.Fprintf(stdout, "%-32s %s\n", d.name, d.about)
		}
	default:
		err = runScenarios(args, stdout)
	}
	if errors.Is(err, pflag.ErrHelp) {
		fmt.Fprint(stderr, usage)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "tcpgen: %v\n", err)
		return 2
	}
	return 0
}

func runScenarios(args []string, stdout io.Writer) error {
	fs := pflag.NewFlagSet("tcpgen", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dir := fs.StringP("output", "o", "testdata", "directory to write the captures into")
	if err := fs.Parse(args); err != nil {
		return err
	}
	names := fs.Args()
	if len(names) == 0 {
		return fmt.Errorf("name the scenarios to write, or all\n%s", usage)
	}
	var outs []output
	var err error
	if slices.Contains(names, "all") {
		outs, err = generateAll()
	} else {
		outs, err = generate(names)
	}
	if err != nil {
		return err
	}
	for _, o := range outs {
		if err := writeIfChanged(filepath.Join(*dir, o.name), o.data); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%-40s %7d bytes %5d packets\n", o.name, len(o.data), o.stats.Packets)
	}
	return nil
}

// goStyleFlags rewrites "-conns" to "--conns", so that the subcommands take
// Go-style single-dash long flags as the documentation shows them, while
// pflag keeps "-o" and "-n" as shorthands.
func goStyleFlags(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		name, _, _ := strings.Cut(a, "=")
		if len(name) > 2 && a[0] == '-' && a[1] != '-' {
			a = "-" + a
		}
		out[i] = a
	}
	return out
}

// writeIfChanged leaves files that already hold the right bytes untouched, so
// that regenerating does not disturb mtimes (and make) needlessly.
func writeIfChanged(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// build runs one scenario of the catalogue.
func build(d scenarioDef) ([]output, *scenario, error) {
	s := newScenario(d.name, d.about)
	d.build(s)
	outs, err := s.render()
	return outs, s, err
}

// generate renders the named scenarios, without expect.json.
func generate(names []string) ([]output, error) {
	var outs []output
	for _, n := range names {
		i := slices.IndexFunc(catalogue, func(d scenarioDef) bool { return d.name == n })
		if i < 0 {
			return nil, fmt.Errorf("no scenario %q (see tcpgen list)", n)
		}
		o, _, err := build(catalogue[i])
		if err != nil {
			return nil, err
		}
		outs = append(outs, o...)
	}
	return outs, nil
}

// generateAll renders every scenario, then README.md and expect.json (last).
func generateAll() ([]output, error) {
	var outs []output
	var stats []fileStats
	var flows []flowExpect
	for _, d := range catalogue {
		o, s, err := build(d)
		if err != nil {
			return nil, err
		}
		for _, f := range o {
			stats = append(stats, f.stats)
		}
		outs = append(outs, o...)
		flows = append(flows, s.expects...)
	}
	var buf bytes.Buffer
	if err := writeExpectations(&buf, stats, flows); err != nil {
		return nil, err
	}
	outs = append(outs, output{name: "README.md", data: readme(flows), stats: fileStats{File: "README.md"}},
		output{name: "expect.json", data: buf.Bytes(), stats: fileStats{File: "expect.json"}})
	return outs, nil
}
