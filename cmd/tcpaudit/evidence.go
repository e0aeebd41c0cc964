package main

import (
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/tcpaudit/tcpaudit/capture"
	"github.com/tcpaudit/tcpaudit/reassembly"
	"github.com/tcpaudit/tcpaudit/report"
)

// evidenceSelection reads --evidence-verdicts and --evidence-flows into
// the collection of flows whose packets go to the evidence file.
func evidenceSelection(o *options) (*report.Evidence, error) {
	var verdicts []reassembly.Verdict
	for _, name := range parseList(o.evidenceVerdicts) {
		var v reassembly.Verdict
		if err := v.UnmarshalText([]byte(name)); err != nil {
			return nil, fmt.Errorf("--evidence-verdicts: %w", err)
		}
		verdicts = append(verdicts, v)
	}
	var ids []uint64
	for _, s := range parseList(o.evidenceFlows) {
		id, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("--evidence-flows: %q is not a flow id", s)
		}
		ids = append(ids, id)
	}
	return report.NewEvidence(verdicts, ids), nil
}

// writeEvidence makes a second pass over the inputs and copies the packets
// of the selected flows, untouched, into a pcapng file a reviewer can open in
// Wireshark. Packet numbers (capture.Segment.Index) are stable between the
// passes because both read the same files with the same filter.
func writeEvidence(o *options, e *report.Evidence) error {
	keep := e.Selector()

	src, err := capture.OpenFiles(o.inputs, capture.Options{Filter: o.filter})
	if err != nil {
		return fmt.Errorf("evidence: %w", err)
	}
	defer src.Close()
	f, err := os.Create(o.evidence)
	if err != nil {
		return fmt.Errorf("evidence: %w", err)
	}
	w, err := capture.NewWriter(f, capture.FormatPcapNG)
	if err != nil {
		f.Close()
		return fmt.Errorf("evidence %s: %w", o.evidence, err)
	}
	var seg capture.Segment
	for {
		err := src.Next(&seg)
		if err == io.EOF {
			break
		}
		if err != nil {
			// The first pass already reported the damage; the evidence
			// holds what could be read.
			break
		}
		if !keep(seg.Src, seg.Dst, seg.Index) {
			continue
		}
		data, ts, origLen, link := src.Raw()
		if err := w.WritePacket(data, ts, origLen, link); err != nil {
			f.Close()
			return fmt.Errorf("evidence %s: %w", o.evidence, err)
		}
	}
	if err := w.Close(); err != nil {
		f.Close()
		return fmt.Errorf("evidence %s: %w", o.evidence, err)
	}
	return f.Close()
}
