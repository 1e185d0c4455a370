package cohort

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// progress reports a long import: a redrawn bar on a terminal, a plain line
// every few seconds otherwise (logs, CI).
type progress struct {
	w       io.Writer
	bar     bool
	size    int64
	bytes   *countingReader
	rows    atomic.Int64
	start   time.Time
	done    chan struct{}
	once    sync.Once
	stopped sync.WaitGroup
}

func newProgress(w io.Writer, bar bool, size int64, bytes *countingReader) *progress {
	p := &progress{w: w, bar: bar, size: size, bytes: bytes, start: time.Now(), done: make(chan struct{})}
	if w == nil {
		return p
	}
	every := 5 * time.Second
	if bar {
		every = 200 * time.Millisecond
	}
	p.stopped.Add(1)
	go func() {
		defer p.stopped.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				p.draw(false)
			case <-p.done:
				p.draw(true)
				return
			}
		}
	}()
	return p
}

func (p *progress) row() { p.rows.Add(1) }

func (p *progress) stop() {
	p.once.Do(func() { close(p.done) })
	p.stopped.Wait()
}

func (p *progress) draw(final bool) {
	rows := p.rows.Load()
	secs := time.Since(p.start).Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(rows) / secs
	}
	pct := -1.0
	if p.size > 0 {
		pct = 100 * float64(p.bytes.n.Load()) / float64(p.size)
		if pct > 100 {
			pct = 100
		}
	}
	if !p.bar {
		if pct >= 0 {
			fmt.Fprintf(p.w, "import: %d rows read (%.0f%%), %.0f rows/s\n", rows, pct, rate)
		} else {
			fmt.Fprintf(p.w, "import: %d rows read, %.0f rows/s\n", rows, rate)
		}
		return
	}
	const width = 30
	filled := 0
	if pct >= 0 {
		filled = int(pct / 100 * width)
	}
	line := fmt.Sprintf("\r[%s%s] %5.1f%% %d rows %.0f rows/s", strings.Repeat("#", filled), strings.Repeat(".", width-filled), max(pct, 0), rows, rate)
	if final {
		line += "\n"
	}
	fmt.Fprint(p.w, line)
}
