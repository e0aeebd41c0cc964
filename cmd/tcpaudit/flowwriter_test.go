package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// failingWriter takes n bytes, then fails every write.
type failingWriter struct{ n int }

var errDiskFull = errors.New("no space left on device")

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		k := w.n
		w.n = 0
		return k, errDiskFull
	}
	w.n -= len(p)
	return len(p), nil
}

// A streamed report whose output fails midway (a full disk, a closed
// pipe) ends the run with the error on one line and exit status 2, whether
// the flows are written on the reading goroutine or on the writer's
// (flowWriter), and the run neither hangs nor panics.
func TestStreamedReportWriteFailure(t *testing.T) {
	for _, format := range []string{"json", "csv", "zeek"} {
		var stderr bytes.Buffer
		out := &failingWriter{n: 4096}
		code := run([]string{"--format", format, "../../testdata/time-wait-pileup.pcap"}, strings.NewReader(""), out, &stderr)
		if code != exitBadInput {
			t.Errorf("%s: exit status %d, want %d; stderr: %s", format, code, exitBadInput, stderr.String())
		}
		msg := strings.TrimSpace(stderr.String())
		if !strings.Contains(msg, "writing report") || !strings.Contains(msg, errDiskFull.Error()) || strings.Count(msg, "\n") > 0 {
			t.Errorf("%s: stderr %q, want one line naming the report and the error", format, msg)
		}
	}
}
