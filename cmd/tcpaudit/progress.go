package main

import (
	"io"
	"os"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/tcpaudit/tcpaudit/capture"
)

// progress draws a bar on stderr while files are read, only when stderr is a
// terminal (never in CI logs or when redirected) and the input size is known.
type progress struct {
	src  *capture.Source
	bar  *progressbar.ProgressBar
	n    uint32
	done int64
}

func newProgress(o *options, src *capture.Source, stderr io.Writer) *progress {
	p := &progress{src: src}
	f, ok := stderr.(*os.File)
	if !o.progress || !ok || !term.IsTerminal(int(f.Fd())) {
		return p
	}
	if _, total := src.Progress(); total > 0 {
		p.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetDescription("reading"),
			progressbar.OptionShowBytes(true),
			progressbar.OptionThrottle(100_000_000), // 100 ms
			progressbar.OptionClearOnFinish(),
		)
	}
	return p
}

// tick is called once per segment; it touches the bar only every 64k
// segments so the hot loop stays cheap. It never asks the reader to stop.
func (p *progress) tick() bool {
	if p.bar == nil {
		return false
	}
	p.n++
	if p.n&0xffff == 0 {
		done, _ := p.src.Progress()
		p.bar.Add64(done - p.done)
		p.done = done
	}
	return false
}

func (p *progress) finish() {
	if p.bar != nil {
		p.bar.Finish()
	}
}
