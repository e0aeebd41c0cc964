package capture

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func requireCaptureRoot(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		t.Skip("live capture on lo needs Linux and root (or CAP_NET_RAW); CI runs as root")
	}
}

// TestListenLoopback captures one real connection on the loopback: every
// packet arrives, in order, decoded, and the -w copy reads back the same.
func TestListenLoopback(t *testing.T) {
	requireCaptureRoot(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port

	saved := filepath.Join(t.TempDir(), "live.pcap")
	f, err := os.Create(saved)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(f, FormatPcap)
	if err != nil {
		t.Fatal(err)
	}
	live, err := Listen("lo", LiveOptions{Filter: fmt.Sprintf("tcp port %d", port), Save: w})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	if live.Link() != LinkEthernet {
		t.Errorf("lo link type %s, want EN10MB (Linux loopback is Ethernet-framed)", live.Link())
	}
	if live.Snaplen() != DefaultSnaplen {
		t.Errorf("snaplen %d, want %d", live.Snaplen(), DefaultSnaplen)
	}
	src := live.Source()

	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		io.Copy(io.Discard, c)
		c.Close()
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("hello"))
	c.Close()

	// Read until the four-way close has been seen, then until the link is
	// quiet: the quiet link must answer ErrNoPacket, not block.
	var flags []string
	var seg Segment
	fins, quiet := 0, 0
	deadline := time.Now().Add(5 * time.Second)
	for quiet < 3 && time.Now().Before(deadline) {
		err := src.Next(&seg)
		if errors.Is(err, ErrNoPacket) {
			if fins == 2 {
				quiet++
			}
			continue
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		flags = append(flags, seg.Flags.String())
		if seg.Flags.Has(FIN) {
			fins++
		}
		if len(flags) == 1 {
			if !seg.Flags.Has(SYN) || int(seg.Dst.Port()) != port || seg.MSS == 0 {
				t.Errorf("first segment %s %s -> %s mss %d, want the client's SYN with its MSS", seg.Flags, seg.Src, seg.Dst, seg.MSS)
			}
		}
	}
	if fins != 2 || quiet < 3 {
		t.Fatalf("saw %v (%d FINs) and %d quiet polls before the deadline", flags, fins, quiet)
	}
	if flags[0] != "S" || flags[1] != "S." {
		t.Errorf("segments %v, want the handshake first", flags)
	}

	live.Close()
	if err := src.Next(&seg); err != io.EOF {
		t.Errorf("Next after Close = %v, want io.EOF", err)
	}
	st := live.Stats()
	if st.Received < uint64(len(flags)) || st.Dropped() {
		t.Errorf("stats %+v after %d segments", st, len(flags))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()

	back, err := OpenFiles([]string{saved}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	n := 0
	for back.Next(&seg) == nil {
		n++
	}
	if n != len(flags) {
		t.Errorf("-w copy has %d TCP segments, live saw %d", n, len(flags))
	}
}

func TestListenErrors(t *testing.T) {
	requireCaptureRoot(t)
	_, err := Listen("tcpaudit-none0", LiveOptions{})
	if err == nil || !strings.Contains(err.Error(), "tcpaudit-none0") {
		t.Errorf("Listen on a missing interface: %v, want an error naming it", err)
	}
	_, err = Listen("lo", LiveOptions{Filter: "tcp port"})
	if err == nil || !strings.Contains(err.Error(), `filter "tcp port"`) {
		t.Errorf("Listen with a broken filter: %v, want an error naming the filter", err)
	}
}

// TestActivateError checks that libpcap's ways of saying "no privilege"
// all become the one-line PermissionError with the setcap fix.
func TestActivateError(t *testing.T) {
	for _, tc := range []struct {
		pcap string
		perm bool
	}{
		{"Permission Denied", true},
		{"Error: socket: Operation not permitted", true},
		{"You don't have permission to capture on that device (socket: Operation not permitted)", true},
		{"No Such Device", false},
		{"Interface Not Up", false},
	} {
		err := activateError("eth0", errors.New(tc.pcap))
		var pe *PermissionError
		if got := errors.As(err, &pe); got != tc.perm {
			t.Errorf("activateError(%q) = %v, permission error %v, want %v", tc.pcap, err, got, tc.perm)
			continue
		}
		msg := err.Error()
		if strings.Contains(msg, "\n") {
			t.Errorf("activateError(%q) is not one line: %q", tc.pcap, msg)
		}
		if tc.perm && !strings.Contains(msg, "setcap cap_net_raw,cap_net_admin=eip $(which tcpaudit)") {
			t.Errorf("activateError(%q) = %q, want the setcap fix", tc.pcap, msg)
		}
	}
}

func TestInterfaces(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("checks Linux's loopback name")
	}
	ifs, err := Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, it := range ifs {
		names = append(names, it.Name)
		if it.Name == "lo" {
			if !it.Loopback || !it.Up {
				t.Errorf("lo = %+v, want a loopback that is up", it)
			}
			return
		}
	}
	t.Errorf("interfaces %v, want lo among them", names)
}

// TestListenAnySLL2 checks that -i any delivers Linux cooked capture v2,
// which names the interface of each packet, as tcpdump does.
func TestListenAnySLL2(t *testing.T) {
	requireCaptureRoot(t)
	live, err := Listen("any", LiveOptions{Filter: "tcp port 9"})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	if live.Link() != LinkLinuxSLL2 {
		t.Errorf("-i any link type %s, want LINUX_SLL2", live.Link())
	}
}

// TestLiveWarnings checks that drops and a failed -w copy reach the
// report's warnings, and that a clean capture has none.
func TestLiveWarnings(t *testing.T) {
	r := &liveReader{iface: "eth0", closed: true}
	if w := r.Warnings(); len(w) != 0 {
		t.Errorf("no drops, no -w error: warnings %q, want none", w)
	}
	r.stats = LiveStats{Received: 100, KernelDropped: 7, IfaceDropped: 2}
	r.saveErr = errors.New("no space left on device")
	w := strings.Join(r.Warnings(), "\n")
	for _, want := range []string{"report incomplete: 7 packets dropped by the kernel and 2 by the interface on eth0", "-w", "no space left on device"} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings %q do not say %q", w, want)
		}
	}
}
