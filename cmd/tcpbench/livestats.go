package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// captureStats are the counters a capture prints when it stops: libpcap's
// pcap_stats, as tcpdump words them on three lines ("12 packets captured",
// "24 packets received by filter", "0 packets dropped by kernel") and
// tcpaudit on one ("12 packets captured, 24 received by filter, 0 dropped
// by the kernel, 0 by the interface").
type captureStats struct {
	captured, received, kernelDropped, ifaceDropped uint64
}

var (
	capturedRE = regexp.MustCompile(`(\d+) packets? captured`)
	receivedRE = regexp.MustCompile(`(\d+) (?:packets? )?received by filter`)
	kernelRE   = regexp.MustCompile(`(\d+) (?:packets? )?dropped by (?:the )?kernel`)
	// tcpdump prints this line only when the count is not zero.
	ifaceRE = regexp.MustCompile(`(\d+) (?:packets? )?(?:dropped )?by (?:the )?interface`)
)

// parseCaptureStats finds the counters in what a capture printed on
// standard error; the last occurrence of each counts.
func parseCaptureStats(text string) (captureStats, error) {
	var s captureStats
	for _, c := range []struct {
		re       *regexp.Regexp
		v        *uint64
		optional bool
	}{
		{capturedRE, &s.captured, false},
		{receivedRE, &s.received, false},
		{kernelRE, &s.kernelDropped, false},
		{ifaceRE, &s.ifaceDropped, true},
	} {
		m := c.re.FindAllStringSubmatch(text, -1)
		if len(m) == 0 {
			if c.optional {
				continue
			}
			return s, fmt.Errorf("no %q in the capture's output", strings.TrimPrefix(c.re.String(), `(\d+) `))
		}
		v, err := strconv.ParseUint(m[len(m)-1][1], 10, 64)
		if err != nil {
			return s, err
		}
		*c.v = v
	}
	return s, nil
}

// dropped is what the capture lost before reading it.
func (s captureStats) dropped() uint64 { return s.kernelDropped + s.ifaceDropped }

// parseRates reads a comma-separated list of packet rates, each a number
// with an optional k (thousands) or M (millions) suffix: "25k,50k,1.5M".
func parseRates(list string) ([]float64, error) {
	var rates []float64
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		mult := 1.0
		switch {
		case strings.HasSuffix(f, "k"):
			mult, f = 1e3, strings.TrimSuffix(f, "k")
		case strings.HasSuffix(f, "M"):
			mult, f = 1e6, strings.TrimSuffix(f, "M")
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("rate %q: want a positive number of packets per second, like 25k or 1.5M", f)
		}
		rates = append(rates, v*mult)
	}
	for i := 1; i < len(rates); i++ {
		if rates[i] <= rates[i-1] {
			return nil, fmt.Errorf("rates must increase: %s after %s", formatRate(rates[i]), formatRate(rates[i-1]))
		}
	}
	return rates, nil
}

// formatRate prints a packet rate the way parseRates reads it.
func formatRate(r float64) string {
	switch {
	case r >= 1e6:
		return strconv.FormatFloat(r/1e6, 'f', -1, 64) + "M"
	case r >= 1e3:
		return strconv.FormatFloat(r/1e3, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(r, 'f', -1, 64)
}

// reachShare is how close to its target a step must come to count as
// reached: the generator steers to the target, so a step well short of it
// means the generator (or the machine) cannot go faster.
const reachShare = 0.9

// nextStep says whether stepping up goes on after a step that aimed at
// target and measured achieved packets per second, and why not.
func nextStep(target, achieved float64) (bool, string) {
	if achieved >= reachShare*target {
		return true, ""
	}
	return false, fmt.Sprintf("the generator reached %s of %s packets/s (under %.0f%%): higher rates not tried",
		formatRate(float64(int(achieved/100))*100), formatRate(target), reachShare*100)
}
