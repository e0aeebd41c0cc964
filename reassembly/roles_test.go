package reassembly

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/tcpaudit/tcpaudit/capture"
)

// TestRolesFromServerPorts: a flow seen without its SYN takes as server
// the end whose port answered SYNs in earlier flows, before the port
// ranks, and Sharded decides as Table does. The midstream flow is the one
// of suricata-verify's enip-keywords_enip_cip_example.pcap: EtherNet/IP's
// 44818, above Linux's ephemeral range start, against an old Windows
// client's 3033.
func TestRolesFromServerPorts(t *testing.T) {
	ap := netip.MustParseAddrPort
	mk := func(sec float64, src, dst string, fl capture.Flags, seq, ack, n uint32) capture.Segment {
		return capture.Segment{Time: testEpoch + int64(sec*1e9), Src: ap(src), Dst: ap(dst), Flags: fl,
			Seq: seq, Ack: ack, PayloadLen: n, Window: 1000, WScale: -1, WireLen: 66 + n}
	}
	synAck := capture.SYN | capture.ACK
	answered := []capture.Segment{ // another host's EtherNet/IP server answers a SYN
		mk(0, "10.1.1.167:5262", "10.1.1.164:44818", capture.SYN, 100, 0, 0),
		mk(0.001, "10.1.1.164:44818", "10.1.1.167:5262", synAck, 900, 101, 0),
		mk(0.002, "10.1.1.167:5262", "10.1.1.164:44818", capture.ACK, 101, 901, 0),
	}
	unanswered := []capture.Segment{ // a SYN alone says nothing of the port
		mk(0, "10.1.1.167:5262", "10.1.1.164:44818", capture.SYN, 100, 0, 0),
	}
	midstream := []capture.Segment{
		mk(1, "192.168.10.105:3033", "192.168.10.120:44818", capture.PSH|capture.ACK, 1000, 5000, 210),
		mk(1.001, "192.168.10.120:44818", "192.168.10.105:3033", capture.ACK, 5000, 1210, 0),
	}
	tests := []struct {
		name        string
		before      []capture.Segment
		client, why string
	}{
		{"44818 answered SYNs before", answered, "192.168.10.105:3033", "server port of other flows"},
		{"44818 only received a SYN", unanswered, "192.168.10.120:44818", "ports"},
		{"nothing before", nil, "192.168.10.120:44818", "ports"},
	}
	for _, tt := range tests {
		segs := append(append([]capture.Segment(nil), tt.before...), midstream...)
		for i := range segs {
			segs[i].Index = uint64(i + 1)
		}
		for _, n := range []int{1, 2, 3, 8} {
			t.Run(fmt.Sprintf("%s/%d shards", tt.name, n), func(t *testing.T) {
				var flows []*Flow
				emit := func(f *Flow) { flows = append(flows, f) }
				var tab interface {
					Add(*capture.Segment)
					Close(int64)
				} = NewTable(DefaultConfig(), emit)
				if n > 1 {
					tab = NewSharded(DefaultConfig(), n, emit)
				}
				for i := range segs {
					tab.Add(&segs[i])
				}
				tab.Close(segs[len(segs)-1].Time)
				var f *Flow
				for _, g := range flows {
					if g.FirstIndex == uint64(len(tt.before)+1) {
						f = g
					}
				}
				if f == nil {
					t.Fatalf("no flow begins with the midstream packet: %s", describe(flows))
				}
				if got := fmt.Sprint(f.Client().Addr, " ", f.RoleReason); got != tt.client+" "+tt.why {
					t.Errorf("client and role reason = %s, want %s %s", got, tt.client, tt.why)
				}
			})
		}
	}
}
