package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// pgoRuns is how many runs of each kind go into a profile: the CPU
// profiler samples at 100 Hz, and a run of the bench capture lasts about
// a second.
const pgoRuns = 3

// writePGO writes to out the CPU profile that the Go toolchain builds
// tcpaudit with (profile-guided optimization: cmd/tcpaudit/default.pgo,
// which `go build` reads by itself): tcpaudit's hidden --cpuprofile of
// pgoRuns runs each of the text and the JSON report on the capture at
// path, merged by `go tool pprof`. `make pgo` runs it; the profile is
// regenerated when the hot paths change much, as Go's documentation
// advises, and a stale one only optimizes less.
func writePGO(ctx context.Context, root, tcpaudit, path, out string, stderr io.Writer) error {
	dir, err := os.MkdirTemp("", "tcpbench-pgo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var profiles []string
	for i := range pgoRuns {
		for _, format := range []string{"text", "json"} {
			prof := filepath.Join(dir, fmt.Sprintf("%s-%d.pprof", format, i))
			args := []string{"--cpuprofile", prof, "--format", format, path}
			fmt.Fprintf(stderr, "tcpbench: profiling %s %s\n", tcpaudit, strings.Join(args, " "))
			cmd := exec.CommandContext(ctx, tcpaudit, args...)
			cmd.Stdout, cmd.Stderr = io.Discard, stderr
			// Exit status 1 says abnormal flows were found, as they are.
			if err := cmd.Run(); err != nil && cmd.ProcessState.ExitCode() != 1 {
				return fmt.Errorf("profiling tcpaudit: %w", err)
			}
			profiles = append(profiles, prof)
		}
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	merge := exec.CommandContext(ctx, "go", append([]string{"tool", "pprof", "-proto"}, profiles...)...)
	merge.Dir, merge.Stdout, merge.Stderr = root, f, stderr
	err = merge.Run()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(out)
		return fmt.Errorf("merging the profiles: %w", err)
	}
	fmt.Fprintf(stderr, "tcpbench: wrote %s\n", out)
	return nil
}
