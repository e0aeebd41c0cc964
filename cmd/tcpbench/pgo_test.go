package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestWritePGO profiles tcpaudit on the demo capture as `make pgo` does
// on the bench capture, and checks that the Go toolchain takes the result
// as a profile: `go tool pprof` reads it back. A capture tcpaudit cannot
// read is an error that names the step, and leaves no file behind.
func TestWritePGO(t *testing.T) {
	if testing.Short() {
		t.Skip("builds tcpaudit")
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "tcpaudit")
	ctx := context.Background()
	if err := goBuild(ctx, root, "./cmd/tcpaudit", bin); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "default.pgo")
	if err := writePGO(ctx, root, bin, filepath.Join(root, "testdata", "demo.pcap"), out, io.Discard); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
		t.Fatalf("%s is not a gzipped profile: % x...", out, b[:min(len(b), 8)])
	}
	top := exec.Command("go", "tool", "pprof", "-top", out)
	top.Dir = root
	if o, err := top.CombinedOutput(); err != nil || !strings.Contains(string(o), "Type: cpu") {
		t.Fatalf("go tool pprof -top %s: %v\n%s", out, err, o)
	}

	bad := filepath.Join(dir, "bad.pgo")
	err = writePGO(ctx, root, bin, filepath.Join(dir, "missing.pcap"), bad, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "profiling tcpaudit") {
		t.Fatalf("profiling a missing capture: %v, want an error about profiling", err)
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Fatalf("%s left behind after a failure (%v)", bad, err)
	}
}
