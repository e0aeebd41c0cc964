// Package peers locates the shared reference corpus (zeek baselines, public
// captures) that lives next to the repository, never inside it, for tests.
package peers

import (
	"os"
	"path/filepath"
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
