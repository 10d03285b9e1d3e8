// Command proxybench measures what the Cloud Run proxy costs: one fake Dify on
// 127.0.0.1, measured directly and through the proxy (the real template on this
// machine's nginx, started the way the image starts it) in the same run.
//
// It reports requests per second and p50/p99 latency for small JSON responses at
// several concurrency levels, and the delay of each server-sent event for many
// concurrent streams. Everything runs on loopback, in well under a minute:
//
//	go run ./bench/proxybench
//
// docs/performance.md holds the results and how to read them.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dify-gcp/dify-gcp/proxy"
	"github.com/dify-gcp/dify-gcp/proxy/proxytest"
)

// config is one benchmark run.
type config struct {
	duration    time.Duration // measuring time per target and concurrency level
	warmup      time.Duration // unmeasured load before each measurement
	concurrency []int         // concurrent clients for the JSON requests
	streams     int           // concurrent server-sent event streams
	events      int           // events per stream
	interval    time.Duration // between two events of a stream
	nginx       string        // nginx binary
	proxyDir    string        // the repository's proxy/ directory
}

func main() {
	cfg := config{}
	var levels string
	flag.DurationVar(&cfg.duration, "duration", 2*time.Second, "measuring time per target and concurrency level")
	flag.DurationVar(&cfg.warmup, "warmup", 300*time.Millisecond, "unmeasured load before each measurement")
	flag.StringVar(&levels, "concurrency", "1,16,64", "comma-separated concurrency levels for small JSON requests")
	flag.IntVar(&cfg.streams, "streams", 128, "concurrent server-sent event streams")
	flag.IntVar(&cfg.events, "events", 20, "events per stream")
	flag.DurationVar(&cfg.interval, "interval", 50*time.Millisecond, "time between two events of a stream")
	flag.StringVar(&cfg.nginx, "nginx", proxytest.DefaultNginx, "nginx binary")
	flag.StringVar(&cfg.proxyDir, "proxy-dir", "", "the repository's proxy/ directory (found from the working directory when empty)")
	flag.Parse()

	var err error
	if cfg.concurrency, err = parseLevels(levels); err != nil {
		fail(err)
	}
	if cfg.proxyDir == "" {
		if cfg.proxyDir, err = proxytest.FindDir(); err != nil {
			fail(err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "proxybench:", err)
	os.Exit(1)
}

func parseLevels(s string) ([]int, error) {
	var levels []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("concurrency level %q: want a positive number", f)
		}
		levels = append(levels, n)
	}
	return levels, nil
}

// run starts the fake Dify and the proxy, measures both and writes the report.
func run(ctx context.Context, cfg config, out io.Writer) error {
	if err := proxytest.Available(cfg.nginx); err != nil {
		return fmt.Errorf("cannot run the proxy: %w", err)
	}
	dify, err := startDify()
	if err != nil {
		return err
	}
	defer dify.Close()

	// The proxy as deployed: the image's entrypoint and template, the official
	// nginx.conf's worker count, and the access log written (and drained) for
	// every request.
	p, err := proxytest.Start(ctx, proxytest.Options{
		Dir:           cfg.proxyDir,
		Nginx:         cfg.nginx,
		Env:           proxy.Settings{Backend: dify.addr, TimeoutSeconds: 300, BodyLimitMiB: 16}.Env(),
		DropAccessLog: true,
	})
	if err != nil {
		return err
	}
	defer p.Stop()

	targets := []target{
		{name: "direct", base: "http://" + dify.addr},
		{name: "proxied", base: "http://" + p.Addr},
	}
	var reqRows []requestRow
	for _, c := range cfg.concurrency {
		row := requestRow{concurrency: c}
		for i, t := range targets {
			s, err := measureRequests(ctx, t.base+"/console/api/apps", c, cfg.warmup, cfg.duration)
			if err != nil {
				return fmt.Errorf("%s, concurrency %d: %w", t.name, c, err)
			}
			row.stats[i] = s
		}
		reqRows = append(reqRows, row)
	}
	var streams [2]streamStats
	for i, t := range targets {
		s, err := measureStreams(ctx, t.base, dify.start, cfg.streams, cfg.events, cfg.interval)
		if err != nil {
			return fmt.Errorf("%s streams: %w", t.name, err)
		}
		streams[i] = s
	}
	report(out, cfg, machine(cfg.nginx), reqRows, streams)
	return nil
}

type target struct{ name, base string }

// fakeDify answers like Dify's api behind its nginx: small JSON, and chat
// answers as server-sent events stamped with the time they were written.
type fakeDify struct {
	*http.Server
	addr  string
	start time.Time // event stamps are monotonic durations since start
}

// appsJSON is a small answer like Dify's console API gives.
const appsJSON = `{"page":1,"limit":20,"total":1,"has_more":false,"data":[{"id":"0d4e7c2a-4b1f-4a57-9d0c-3a9f1c8b2e61","name":"Support bot","mode":"chat","icon":"🤖"}]}`

func startDify() (*fakeDify, error) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("starting the fake Dify: %w", err)
	}
	d := &fakeDify{addr: l.Addr().String(), start: time.Now()}
	mux := http.NewServeMux()
	mux.HandleFunc("/console/api/apps", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, appsJSON)
	})
	mux.HandleFunc("/v1/chat-messages", d.stream)
	d.Server = &http.Server{Handler: mux}
	go d.Serve(l)
	return d, nil
}

// stream writes ?events= events, ?interval= apart, each carrying the moment it
// was written.
func (d *fakeDify) stream(w http.ResponseWriter, r *http.Request) {
	events, _ := strconv.Atoi(r.URL.Query().Get("events"))
	interval, _ := time.ParseDuration(r.URL.Query().Get("interval"))
	w.Header().Set("Content-Type", "text/event-stream")
	flusher := w.(http.Flusher)
	for i := range events {
		if i > 0 {
			select {
			case <-time.After(interval):
			case <-r.Context().Done():
				return
			}
		}
		fmt.Fprintf(w, "event: message\ndata: %d\n\n", time.Since(d.start).Nanoseconds())
		flusher.Flush()
	}
}

// requestStats summarises one measurement of small requests.
type requestStats struct {
	requests int
	elapsed  time.Duration
	p50, p99 time.Duration
}

func (s requestStats) perSecond() float64 { return float64(s.requests) / s.elapsed.Seconds() }

type requestRow struct {
	concurrency int
	stats       [2]requestStats // direct, proxied
}

func newClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConnsPerHost: conns,
			DisableCompression:  true,
		},
	}
}

// measureRequests keeps concurrency clients busy with GET url: warmup first, then
// duration measured. Every request must succeed with 200.
func measureRequests(ctx context.Context, url string, concurrency int, warmup, duration time.Duration) (requestStats, error) {
	client := newClient(concurrency)
	defer client.CloseIdleConnections()
	if _, _, err := load(ctx, client, url, concurrency, warmup); err != nil {
		return requestStats{}, err
	}
	latencies, elapsed, err := load(ctx, client, url, concurrency, duration)
	if err != nil {
		return requestStats{}, err
	}
	slices.Sort(latencies)
	return requestStats{
		requests: len(latencies),
		elapsed:  elapsed,
		p50:      percentile(latencies, 0.50),
		p99:      percentile(latencies, 0.99),
	}, nil
}

// load runs concurrency loops of requests for duration and returns every
// request's latency.
func load(ctx context.Context, client *http.Client, url string, concurrency int, duration time.Duration) ([]time.Duration, time.Duration, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu        sync.Mutex
		latencies []time.Duration
		firstErr  error
		wg        sync.WaitGroup
	)
	start := time.Now()
	end := start.Add(duration)
	for range concurrency {
		wg.Go(func() {
			var mine []time.Duration
			for time.Now().Before(end) && ctx.Err() == nil {
				t0 := time.Now()
				err := get(ctx, client, url)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return latencies, time.Since(start), firstErr
}

func get(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// streamStats summarises the delay between Dify writing an event and the client
// reading it.
type streamStats struct {
	events        int
	p50, p99, max time.Duration
}

// measureStreams opens streams concurrent event streams and measures each
// event's delay.
func measureStreams(ctx context.Context, base string, start time.Time, streams, events int, interval time.Duration) (streamStats, error) {
	client := newClient(streams)
	defer client.CloseIdleConnections()
	url := fmt.Sprintf("%s/v1/chat-messages?events=%d&interval=%s", base, events, interval)
	var (
		mu     sync.Mutex
		delays []time.Duration
		errs   []error
		wg     sync.WaitGroup
	)
	for i := range streams {
		// Spread the stream starts over one interval, as chats arrive at different
		// moments; started together, every stream would tick at the same instant.
		offset := interval * time.Duration(i) / time.Duration(streams)
		wg.Go(func() {
			time.Sleep(offset)
			d, err := readStream(ctx, client, url, start)
			mu.Lock()
			defer mu.Unlock()
			delays = append(delays, d...)
			if err == nil && len(d) != events {
				err = fmt.Errorf("got %d events, want %d", len(d), events)
			}
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return streamStats{}, err
	}
	slices.Sort(delays)
	return streamStats{
		events: len(delays),
		p50:    percentile(delays, 0.50),
		p99:    percentile(delays, 0.99),
		max:    delays[len(delays)-1],
	}, nil
}

func readStream(ctx context.Context, client *http.Client, url string, start time.Time) ([]time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	var delays []time.Duration
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		stamp, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		now := time.Since(start)
		sent, err := strconv.ParseInt(stamp, 10, 64)
		if err != nil {
			return delays, fmt.Errorf("event %q: %w", stamp, err)
		}
		delays = append(delays, now-time.Duration(sent))
	}
	return delays, sc.Err()
}

// percentile returns the q-quantile of sorted durations (nearest rank).
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*q+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// machine describes where the numbers were taken.
func machine(nginx string) string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if name, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), ":"))
				break
			}
		}
	}
	version := "nginx (version unknown)"
	if b, err := exec.Command(nginx, "-v").CombinedOutput(); err == nil {
		version = strings.TrimPrefix(strings.TrimSpace(string(b)), "nginx version: ")
	}
	kernel := runtime.GOOS
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = "Linux " + strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("%s, %d logical CPUs (GOMAXPROCS %d), %s, %s, %s %s/%s",
		cpu, runtime.NumCPU(), runtime.GOMAXPROCS(0), kernel, version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func report(w io.Writer, cfg config, machine string, rows []requestRow, streams [2]streamStats) {
	fmt.Fprintf(w, "Machine: %s\n", machine)
	fmt.Fprintf(w, "Load generator, fake Dify and nginx share this machine; nginx worker_processes auto.\n\n")
	fmt.Fprintf(w, "Small JSON responses (%d bytes), %v per measurement after %v warm-up:\n\n", len(appsJSON), cfg.duration, cfg.warmup)
	fmt.Fprintln(w, "| concurrency | direct req/s | proxied req/s | ratio | direct p50 | proxied p50 | direct p99 | proxied p99 | added p50 | added p99 |")
	fmt.Fprintln(w, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, r := range rows {
		d, p := r.stats[0], r.stats[1]
		fmt.Fprintf(w, "| %d | %.0f | %.0f | %.2f | %s | %s | %s | %s | %s | %s |\n",
			r.concurrency, d.perSecond(), p.perSecond(), p.perSecond()/d.perSecond(),
			ms(d.p50), ms(p.p50), ms(d.p99), ms(p.p99), ms(p.p50-d.p50), ms(p.p99-d.p99))
	}
	d, p := streams[0], streams[1]
	fmt.Fprintf(w, "\nServer-sent events: %d concurrent streams x %d events, %v apart (%d events per target):\n\n", cfg.streams, cfg.events, cfg.interval, d.events)
	fmt.Fprintln(w, "| per-event delay | direct | proxied | added |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: |")
	fmt.Fprintf(w, "| p50 | %s | %s | %s |\n", ms(d.p50), ms(p.p50), ms(p.p50-d.p50))
	fmt.Fprintf(w, "| p99 | %s | %s | %s |\n", ms(d.p99), ms(p.p99), ms(p.p99-d.p99))
	fmt.Fprintf(w, "| max | %s | %s | %s |\n", ms(d.max), ms(p.max), ms(p.max-d.max))
}

// ms formats a duration in milliseconds with microsecond precision.
func ms(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond)) }
