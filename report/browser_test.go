package report

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's chromium; the Makefile installs it for CI.
const chromiumPath = "/usr/bin/chromium"

// browser starts a headless chromium with a fresh profile and returns a
// tab context. Without chromium the test fails under CI=true (the Makefile
// must have installed it) and is skipped elsewhere.
func browser(t *testing.T, listen func(ev any)) context.Context {
	t.Helper()
	path := chromiumPath
	if _, err := os.Stat(path); err != nil {
		if p, err := exec.LookPath("chromium"); err == nil {
			path = p
		} else if os.Getenv("CI") == "true" {
			t.Fatalf("chromium not found at %s or on PATH; the Makefile installs it (apt-get install chromium)", chromiumPath)
		} else {
			t.Skipf("chromium not found at %s or on PATH; skipping the browser test (CI=true makes this a failure)", chromiumPath)
		}
	}
	profile := t.TempDir()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox, // CI runs as root, where the sandbox cannot start
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.NoFirstRun,
		// containers often have a 64 MB /dev/shm, too small for chromium
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithListener(listen))
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	// Start the browser on the uncancelled context (a timeout on the first
	// Run would stop the whole browser), then bound the rest.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[int](`1`)); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	tctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancel)
	return tctx
}

// TestHTMLInBrowser opens the HTML report of the fixture in headless
// chromium, offline, and checks what a reader of a ticket would: it renders
// without console errors and without fetching anything, the summary,
// charts, ladders and flow table are there, sorting and filtering work,
// and a screenshot shows the key regions drawn.
func TestHTMLInBrowser(t *testing.T) {
	d := fixture()
	var html bytes.Buffer
	if err := Write(&html, "html", d); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(file, html.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	url := "file://" + file

	var mu sync.Mutex
	var problems []string
	ctx := browser(t, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				problems = append(problems, fmt.Sprintf("console.%s: %s", ev.Type, consoleArgs(ev.Args)))
			}
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+(&chromedp.ExceptionError{ExceptionDetails: ev.ExceptionDetails}).Error())
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError || ev.Entry.Level == log.EntryLevelWarning {
				problems = append(problems, fmt.Sprintf("log %s/%s: %s", ev.Entry.Source, ev.Entry.Level, ev.Entry.Text))
			}
		case *network.EventRequestWillBeSent:
			if u := ev.Request.URL; u != url && !strings.HasPrefix(u, "data:") {
				problems = append(problems, "fetched "+u)
			}
		}
	})

	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("#flowtable"))); err != nil {
		t.Fatalf("opening %s: %v", url, err)
	}

	eval := func(js string) int {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](js))
		if err != nil {
			t.Fatalf("evaluating %s: %v", js, err)
		}
		return n
	}
	count := func(css string) int {
		return eval(fmt.Sprintf("document.querySelectorAll(%q).length", css))
	}

	abnormal := 0
	for _, f := range d.Flows {
		if f.Verdict.Abnormal() {
			abnormal++
		}
	}
	groups := len(abnormalGroups(d))
	for _, c := range []struct {
		css  string
		want int
	}{
		{"#summary .card", 10}, // one card per verdict present
		{"#hosttable tbody tr", 13},
		{"svg.states-chart", htmlChartHosts},
		{"svg.states-chart polyline", 0}, // checked below: at least one per chart
		{"svg.rtt-chart rect", 0},
		{"svg.ladder", groups},
		{"#flowtable tbody tr", len(d.Flows)},
		{"#flowtable tbody tr.abn", abnormal},
	} {
		got := count(c.css)
		if c.want == 0 && got == 0 || c.want > 0 && got != c.want {
			t.Errorf("%s: %d elements, want %d", c.css, got, c.want)
		}
	}

	// Rows in table order, as "id" cells.
	ids := func() string {
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](
			`Array.from(document.querySelectorAll("#flowtable tbody tr")).filter(r => !r.hidden).map(r => r.cells[0].textContent).join(",")`))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if got, want := ids(), "6,7,8,9,10,11,12,13,14,1,2,3,4,5"; got != want {
		t.Errorf("initial row order %s, want abnormal first: %s", got, want)
	}
	// Clicking "id" sorts ascending, numerically; again, descending.
	click := func(css string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(css))); err != nil {
			t.Fatalf("clicking %s: %v", css, err)
		}
	}
	click("#flowtable th:nth-child(1)")
	if got, want := ids(), "1,2,3,4,5,6,7,8,9,10,11,12,13,14"; got != want {
		t.Errorf("after one click on id: %s, want %s", got, want)
	}
	click("#flowtable th:nth-child(1)")
	if got, want := ids(), "14,13,12,11,10,9,8,7,6,5,4,3,2,1"; got != want {
		t.Errorf("after two clicks on id: %s, want %s", got, want)
	}
	// Packets: numeric sort on data-v, flow 13 (40 packets) last.
	click("#flowtable th:nth-child(12)")
	if got := ids(); !strings.HasSuffix(got, ",13") {
		t.Errorf("after sorting by packets: %s, want flow 13 last", got)
	}

	// Typing in the filter hides the rows that do not match.
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("#filter"), "reset")); err != nil {
		t.Fatal(err)
	}
	if got := ids(); got != "12,14" && got != "14,12" {
		t.Errorf("filter 'reset' shows %s, want flows 12 and 14", got)
	}
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("#filter"), " 2001:db8")); err != nil {
		t.Fatal(err)
	}
	if got := ids(); got != "" {
		t.Errorf("filter 'reset 2001:db8' shows %s, want none", got)
	}
	shown, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("shown").textContent`))
	if err != nil || shown != "0 of 14 flows shown" {
		t.Errorf("filter count = %q, %v; want %q", shown, err, "0 of 14 flows shown")
	}
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](
		`(() => { const f = document.getElementById("filter"); f.value = ""; f.dispatchEvent(new Event("input")); })()`)); err != nil {
		t.Fatal(err)
	}

	screenshot(t, ctx)

	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Errorf("browser: %s", p)
	}
}

// screenshot takes a full-page PNG and checks it: the width is the
// window's, the height the document's, and each key region (banner,
// verdict cards, first states chart, RTT chart, first ladder) has enough
// non-white pixels to be drawn rather than blank. TCPAUDIT_SCREENSHOT=FILE
// keeps a copy to look at.
func screenshot(t *testing.T, ctx context.Context) {
	t.Helper()
	buf, err := chromedp.Run(ctx, fullPage)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if path := os.Getenv("TCPAUDIT_SCREENSHOT"); path != "" {
		if err := os.WriteFile(path, buf, 0o644); err != nil {
			t.Error(err)
		}
	}
	img, err := png.Decode(bytes.NewReader(buf))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	height, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollHeight`))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != height {
		t.Errorf("screenshot is %dx%d, want 1280x%d", b.Dx(), b.Dy(), height)
	}
	for _, region := range []struct {
		css     string
		minInk  float64 // share of pixels that are not white
		minHues int     // distinct saturated colours, for the pictures
	}{
		{".banner", 0.9, 0},
		{"#summary .cards", 0.2, 0},
		{"svg.states-chart", 0.05, 2},
		{"svg.rtt-chart", 0.05, 1},
		{"svg.ladder", 0.05, 3},
	} {
		rect, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](fmt.Sprintf(
			`(() => { const r = document.querySelector(%q).getBoundingClientRect(); return [r.left + scrollX, r.top + scrollY, r.width, r.height]; })()`, region.css)))
		if err != nil || len(rect) != 4 {
			t.Errorf("%s: no bounding box: %v", region.css, err)
			continue
		}
		r := image.Rect(int(rect[0]), int(rect[1]), int(rect[0]+rect[2]), int(rect[1]+rect[3])).Intersect(img.Bounds())
		ink, hues := inspect(img, r)
		if ink < region.minInk || hues < region.minHues {
			t.Errorf("%s at %v: %.1f%% ink and %d colours, want at least %.1f%% and %d",
				region.css, r, 100*ink, hues, 100*region.minInk, region.minHues)
		}
	}
}

// fullPage captures the whole document as a PNG, clipped to the
// scrollable content size (chromedp.FullScreenshot alone stops short of a
// long page in headless mode).
func fullPage(ctx context.Context, t *chromedp.Target) ([]byte, error) {
	m, err := cdp.Call(ctx, t, page.GetLayoutMetrics, cdp.Empty{})
	if err != nil {
		return nil, fmt.Errorf("layout metrics: %w", err)
	}
	beyond := true
	r, err := cdp.Call(ctx, t, page.CaptureScreenshot, page.CaptureScreenshotParams{
		Format:                page.CaptureScreenshotFormatPng,
		CaptureBeyondViewport: &beyond,
		FromSurface:           &beyond,
		Clip:                  &page.Viewport{Width: m.CSSContentSize.Width, Height: m.CSSContentSize.Height, Scale: 1},
	})
	if err != nil {
		return nil, err
	}
	return r.Data, nil
}

// inspect returns the share of pixels in r that are not (nearly) white
// and the number of distinct saturated colours, quantised, among them.
func inspect(img image.Image, r image.Rectangle) (ink float64, hues int) {
	if r.Empty() {
		return 0, 0
	}
	seen := make(map[[3]uint32]bool)
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			cr, cg, cb = cr>>8, cg>>8, cb>>8
			if cr < 235 || cg < 235 || cb < 235 {
				n++
			}
			if max(cr, cg, cb)-min(cr, cg, cb) > 80 { // saturated: a chart colour, not grey text
				seen[[3]uint32{cr >> 5, cg >> 5, cb >> 5}] = true
			}
		}
	}
	return float64(n) / float64(r.Dx()*r.Dy()), len(seen)
}

func consoleArgs(args []*runtime.RemoteObject) string {
	var s []string
	for _, a := range args {
		if a.Value != nil {
			s = append(s, string(a.Value))
		} else {
			s = append(s, a.Description)
		}
	}
	return strings.Join(s, " ")
}
