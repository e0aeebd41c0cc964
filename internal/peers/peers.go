// Package peers locates the shared reference corpus (zeek baselines, public
// captures) that lives next to the repository, never inside it, for tests.
package peers

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Dir returns ../shared/peers beside the module root (the directory holding
// go.mod), or skips the test with a message when it is absent: the corpus is
// not part of the repository and a fresh clone does not have it.
func Dir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("go.mod not found above the test directory")
		}
		dir = parent
	}
	p := filepath.Join(dir, "..", "shared", "peers")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("peer corpus %s absent: skipping (it is not part of the repository)", p)
	}
	return p
}

// Captures lists every capture file under the corpus (pcap, pcapng and the
// other names captures go by, gzipped or not), or skips the test when there
// is none.
func Captures(t testing.TB) []string {
	t.Helper()
	dir := Dir(t)
	var files []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && isCapture(d.Name()) {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Skipf("no captures under %s", dir)
	}
	return files
}

func isCapture(name string) bool {
	name = strings.TrimSuffix(name, ".gz")
	for _, ext := range []string{".pcap", ".pcapng", ".cap", ".trace", ".dump"} {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}
