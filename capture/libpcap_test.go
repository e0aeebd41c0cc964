package capture

import (
	"bufio"
	"github.com/tcpaudit/tcpaudit/internal/peers"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLibpcapRejects reads the files libpcap's test suite rejects
// (../shared/peers/libpcap, with libpcap's message for each in
// EXPECTED_ERRORS.txt) and requires that we reject them too, saying the
// same thing in our words, with the file and offset.
func TestLibpcapRejects(t *testing.T) {
	dir := filepath.Join(peers.Dir(t), "libpcap")
	f, err := os.Open(filepath.Join(dir, "EXPECTED_ERRORS.txt"))
	if err != nil {
		t.Skipf("libpcap expectations absent: %v", err)
	}
	defer f.Close()
	// What our message must contain, per file: the fact libpcap states.
	ours := map[string][]string{
		"linktype-reserved-field-not-zero.pcap": {"offset 20: ", "reserved bits", "0x00300000"},
		"pcap-empty-file.pcap":                  {"offset 0: ", "empty file"},
		"pcap-invalid-version-1.pcap":           {"offset 4: ", "unsupported pcap version 1.4"},
		"pcap-truncated-hdr-23.pcap":            {"offset 0: ", "truncated pcap file header", "needs 24 bytes, only 23"},
		"pcapng-block-len-not-mult4.pcapng":     {"offset 32: ", "length of 21 that is not a multiple of 4"},
		"pcapng-block-len-too-small.pcapng":     {"offset 32: ", "length of 4 < 12"},
		"pcapng-invalid-vers-1.pcapng":          {"offset 12: ", "unsupported pcapng version 0.1"},
		"pcapng-packet-before-idb.pcapng":       {"offset 28: ", "packet block before any Interface Description Block"},
		"pcapng-shb-len-insane.pcapng":          {"offset 4: ", "invalid length 2097152"},
		"pcapng-truncated-shb.pcapng":           {"offset 0: ", "truncated", "only 16 left"},
		"shb-option-too-long.pcapng":            {"offset 0: ", "header 52 and trailer 808464432 don't match"},
		// libpcap refuses a file with no Interface Description Block; a
		// section without interfaces is valid pcapng (it holds no packets),
		// so we read it and warn instead.
		"pcapng-no-idb.pcapng": nil,
	}
	sc := bufio.NewScanner(f)
	seen := 0
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		name, libpcapMsg, _ := strings.Cut(line, "\t")
		_, libpcapMsg, _ = strings.Cut(libpcapMsg, "\t")
		want, ok := ours[name]
		if !ok {
			t.Errorf("%s: no expectation for this file (libpcap says %q)", name, libpcapMsg)
			continue
		}
		seen++
		path := filepath.Join(dir, name)
		err := readFileErr(t, path)
		if want == nil {
			if err != nil {
				t.Errorf("%s: %v, want it read with a warning", name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: accepted; libpcap says %q", name, libpcapMsg)
			continue
		}
		checkFormatError(t, err, path)
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q lacks %q (libpcap: %q)", name, err, w, libpcapMsg)
			}
		}
	}
	if seen != len(ours) {
		t.Errorf("EXPECTED_ERRORS.txt lists %d of our %d files", seen, len(ours))
	}
}

// readFileErr opens and drains a capture, returning the first error.
func readFileErr(t *testing.T, path string) error {
	src, err := OpenFiles([]string{path}, Options{})
	if err != nil {
		return err
	}
	defer src.Close()
	_, err = readAll(t, src)
	return err
}
