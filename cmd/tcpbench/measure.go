package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// tool is one command to measure on the benchmark capture.
type tool struct {
	// Name labels the table row ("tcpaudit json", "tcptrace").
	Name string
	// Peer is true for the tools tcpaudit is compared against.
	Peer bool
	// OneCore is true for the run limited to one core, which the
	// packets-per-second target is about.
	OneCore bool
	// Args is the command line, with the capture path already in place.
	Args []string
	// Env holds extra environment variables (GOMAXPROCS=1).
	Env []string
}

// result is what one run of a tool cost.
type result struct {
	Wall     time.Duration
	CPU      time.Duration // user + system, all threads
	MaxRSSKB int64         // peak resident set size of the process, KiB
}

// errNoRusage means the platform did not report resource usage.
var errNoRusage = errors.New("no resource usage reported (wait4 rusage is Linux/BSD only)")

// measure runs t once with its output thrown away and reports its wall
// time, CPU time and peak RSS. The peak RSS comes from wait4's rusage
// (ru_maxrss), which the kernel keeps for the child alone: it is exact and
// costs nothing, unlike sampling /proc.
func measure(ctx context.Context, t tool) (result, error) {
	cmd := exec.CommandContext(ctx, t.Args[0], t.Args[1:]...)
	cmd.Env = append(os.Environ(), t.Env...)
	// The peers print a line per connection; writing that to a pipe we
	// read would measure us, so it goes to /dev/null as the report does.
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return result{}, err
	}
	defer devnull.Close()
	cmd.Stdout = devnull
	var stderr bytes.Buffer
	cmd.Stderr = &limitedBuffer{buf: &stderr, max: 4 << 10}

	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start)
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg != "" {
			return result{}, fmt.Errorf("%s: %w: %s", strings.Join(t.Args, " "), err, msg)
		}
		return result{}, fmt.Errorf("%s: %w", strings.Join(t.Args, " "), err)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return result{}, errNoRusage
	}
	return result{
		Wall: wall,
		CPU:  cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(),
		// Linux reports ru_maxrss in KiB.
		MaxRSSKB: ru.Maxrss,
	}, nil
}

// keepBest returns the faster of b, the best run so far (none if first),
// and r: the run least disturbed by the rest of the machine, with the
// largest peak RSS seen.
func keepBest(b, r result, first bool) result {
	if first {
		return r
	}
	rss := max(b.MaxRSSKB, r.MaxRSSKB)
	if r.Wall < b.Wall {
		b = r
	}
	b.MaxRSSKB = rss
	return b
}

// limitedBuffer keeps the first max bytes written to it and drops the rest,
// so a tool that floods stderr cannot exhaust memory.
type limitedBuffer struct {
	buf *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.buf.Len(); room > 0 {
		l.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
