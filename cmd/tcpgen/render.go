package main

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// output is one generated file, held in memory: the committed captures are
// small, and the tests compare them byte for byte.
type output struct {
	name  string
	data  []byte
	stats fileStats
}

// render encodes the scenario into its file(s) and fills in the inputs of its
// expectations.
func (s *scenario) render() ([]output, error) {
	pkts := s.packets
	if !s.keepOrder {
		pkts = slices.Clone(pkts)
		// Stable: packets stamped alike keep the order they were sent in.
		slices.SortStableFunc(pkts, func(a, b packet) int { return cmpDuration(a.at, b.at) })
	}
	names := s.files
	if names == nil {
		names = []string{s.name}
	}
	parts := make([][]packet, len(names))
	for _, p := range pkts {
		if p.file >= len(parts) {
			return nil, fmt.Errorf("%s: packet %s in file %d of %d", s.name, p.tcpdump(), p.file, len(names))
		}
		parts[p.file] = append(parts[p.file], p)
	}
	outs := make([]output, len(parts))
	for i, part := range parts {
		var buf bytes.Buffer
		st, err := writeFile(&buf, names[i], s.format, s.links, part)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", names[i], err)
		}
		outs[i] = output{name: names[i], data: buf.Bytes(), stats: st}
	}
	for i := range s.expects {
		s.expects[i].Inputs = names
		s.expects[i].File = names[0]
	}
	return outs, nil
}

func cmpDuration(a, b time.Duration) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// writeFile writes packets as one capture file, gzip-compressed when the
// name ends in .gz.
func writeFile(w io.Writer, name string, format fileFormat, links []link, pkts []packet) (fileStats, error) {
	st := fileStats{File: name}
	var zw io.WriteCloser
	if strings.HasSuffix(name, ".gz") {
		zw = gzipWriter(w)
		w = zw
	}
	fw, err := newFrameWriter(w, format, links)
	if err != nil {
		return st, err
	}
	enc := newEncoder()
	for i := range pkts {
		p := &pkts[i]
		if p.iface >= len(links) {
			return st, fmt.Errorf("packet %s on interface %d of %d", p.tcpdump(), p.iface, len(links))
		}
		at := baseTime.Add(p.at)
		if !p.udp {
			st.TCPSegments++
		}
		err := enc.encode(links[p.iface], p, func(frame []byte) error {
			st.Packets++
			return fw.write(at, p.iface, frame)
		})
		if err != nil {
			return st, err
		}
	}
	if err := fw.flush(); err != nil {
		return st, err
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return st, fmt.Errorf("gzip: %w", err)
		}
	}
	return st, nil
}
