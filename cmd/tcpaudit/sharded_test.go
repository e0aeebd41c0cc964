package main

import (
	"bufio"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/tcpaudit/tcpaudit/internal/segsynth"
	"github.com/tcpaudit/tcpaudit/report"
)

// synthCapture writes a capture of cfg's synthetic stream to path.
func synthCapture(t *testing.T, path string, cfg segsynth.Config) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if _, err := segsynth.WritePcap(w, segsynth.New(cfg)); err != nil {
		t.Fatalf("writing %s: %v", path, err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// The command spreads the flow table over the cores (reassembly.Sharded);
// its reports must not depend on how many there are, nor on how the
// workers were scheduled: every format, byte for byte, equals the report
// of a single Table (one core) and of the same run repeated. Text, md and
// html keep the first flows of each verdict in the order they end, and
// json, csv and zeek stream them in that order, so this also checks that
// flows end in Table's order, with Table's IDs.
func TestReportsDoNotDependOnCores(t *testing.T) {
	type job struct {
		name string
		args []string
	}
	var jobs []job
	for _, dir := range []string{"../../testdata", "../../testdata/real"} {
		for _, pattern := range []string{"*.pcap", "*.pcapng", "*.gz"} {
			paths, err := filepath.Glob(filepath.Join(dir, pattern))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range paths {
				jobs = append(jobs, job{p, []string{p}})
			}
		}
	}
	if len(jobs) < 40 {
		t.Fatalf("found %d test captures: the test looks in the wrong place", len(jobs))
	}
	// Thousands of flows, so that flows of different shards end at
	// nearby packets: every ending, 4-tuples reused during and after
	// TIME_WAIT, idle timeouts, and random flags.
	dir := t.TempDir()
	many := filepath.Join(dir, "many.pcap")
	synthCapture(t, many, segsynth.Config{Conns: 6000, Concurrency: 300, GapNanos: 300_000, Seed: 11,
		Mix: []int{4, 2, 1, 1, 1, 1, 1, 2}, Clients: 400})
	jobs = append(jobs,
		job{"many", []string{many}},
		job{"many, short TIME_WAIT", []string{"--time-wait", "500ms", many}},
		job{"many, idle timeout", []string{"--idle-timeout", "150ms", "--time-wait", "1s", many}})

	one := func(args []string) string {
		t.Helper()
		prev := runtime.GOMAXPROCS(1)
		defer runtime.GOMAXPROCS(prev)
		return runCommand(t, args...).stdout
	}
	for _, j := range jobs {
		for _, format := range report.Formats() {
			args := append([]string{"--format", format}, j.args...)
			want := one(args)
			if want == "" {
				t.Fatalf("%s, %s: empty report", j.name, format)
			}
			for _, procs := range []int{2, 3, 8} {
				prev := runtime.GOMAXPROCS(procs)
				got, again := runCommand(t, args...).stdout, runCommand(t, args...).stdout
				runtime.GOMAXPROCS(prev)
				if got != want {
					t.Errorf("%s, --format %s: the report on %d cores differs from the one on one core", j.name, format, procs)
				}
				if again != got {
					t.Errorf("%s, --format %s: two runs on %d cores give different reports", j.name, format, procs)
				}
			}
		}
	}
}

func TestMemTotal(t *testing.T) {
	in := "MemTotal:        8038172 kB\nMemFree:         1234 kB\n"
	if got, want := memTotal([]byte(in)), uint64(8038172)<<10; got != want {
		t.Errorf("memTotal = %d, want %d", got, want)
	}
	if got := memTotal([]byte("MemFree: 12 kB\n")); got != 0 {
		t.Errorf("memTotal without MemTotal = %d, want 0", got)
	}
}
