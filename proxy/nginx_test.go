package proxy_test

// These tests run the real template on Debian's nginx through the image's own
// entrypoint (see proxytest), in front of a fake Dify on 127.0.0.1.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/dify-gcp/dify-gcp/proxy"
	"github.com/dify-gcp/dify-gcp/proxy/proxytest"
)

const mib = 1 << 20

func TestHealthAnswersWithBackendDown(t *testing.T) {
	t.Parallel()
	p := startProxy(t, defaults(closedPort(t)))
	resp, err := client(10 * time.Second).Get(p.URL(proxy.HealthPath))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "ok\n" {
		t.Errorf("GET %s with Dify down = %d %q, want 200 \"ok\\n\"", proxy.HealthPath, resp.StatusCode, body)
	}
	// server_tokens off: no version for scanners.
	if got := resp.Header.Get("Server"); got != "nginx" {
		t.Errorf("Server header = %q, want \"nginx\" without a version", got)
	}
}

// Each event must reach the client before Dify writes the next one: the fake
// Dify waits for the test to confirm receipt of every event before sending the
// following one, so any buffering in the proxy stalls the stream and fails the
// test, however fast the machine.
func TestServerSentEventsArriveOneByOne(t *testing.T) {
	t.Parallel()
	const events = 5
	received := make(chan int)
	var b *backend
	b = newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		flusher := w.(http.Flusher)
		for i := range events {
			fmt.Fprintf(w, "event: message\ndata: {\"answer\":\"part %d\"}\n\n", i)
			flusher.Flush()
			if i == events-1 {
				return
			}
			select {
			case got := <-received:
				if got != i {
					panic(fmt.Sprintf("client confirmed event %d, want %d", got, i))
				}
			case <-r.Context().Done():
				return
			case <-b.done:
				return
			}
		}
	})
	p := startProxy(t, defaults(b.hostPort()))

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", p.URL("/v1/chat-messages"), strings.NewReader(`{"response_mode":"streaming"}`))
	resp, err := client(0).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type = %q, want text/event-stream", ct)
	}
	r := bufio.NewReader(resp.Body)
	for i := range events {
		ev, err := readEvent(r)
		if err != nil {
			t.Fatalf("event %d never arrived while Dify waited for it to be received (the proxy buffers the stream): %v", i, err)
		}
		if want := fmt.Sprintf("event: message\ndata: {\"answer\":\"part %d\"}\n", i); ev != want {
			t.Fatalf("event %d = %q, want %q", i, ev, want)
		}
		if i < events-1 {
			select {
			case received <- i:
			case <-ctx.Done():
				t.Fatalf("Dify stopped waiting after event %d", i)
			}
		}
	}
}

// readEvent reads one server-sent event: lines up to a blank line.
func readEvent(r *bufio.Reader) (string, error) {
	var ev strings.Builder
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return ev.String(), err
		}
		if line == "\n" {
			return ev.String(), nil
		}
		ev.WriteString(line)
	}
}

// uploadBackend records what reaches Dify's upload endpoint.
func uploadBackend(t *testing.T) *backend {
	return newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%d %s", n, hex.EncodeToString(h.Sum(nil)))
	})
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestUploadWithinLimitReachesDifyIntact(t *testing.T) {
	t.Parallel()
	b := uploadBackend(t)
	p := startProxy(t, defaults(b.hostPort())) // 2 MiB limit
	for _, c := range []struct {
		name    string
		size    int
		chunked bool
	}{
		{"just under the limit", 2*mib - 1, false},
		{"exactly the limit", 2 * mib, false},
		{"chunked, under the limit", 2*mib - 4096, true},
	} {
		data := randomBytes(t, c.size)
		var body io.Reader = bytes.NewReader(data)
		if c.chunked {
			body = io.MultiReader(body) // hides the length: Transfer-Encoding: chunked
		}
		req, _ := http.NewRequest("POST", p.URL("/console/api/files/upload"), body)
		resp, err := client(30 * time.Second).Do(req)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		sum := sha256.Sum256(data)
		want := fmt.Sprintf("%d %s", c.size, hex.EncodeToString(sum[:]))
		if resp.StatusCode != http.StatusOK || string(got) != want {
			t.Errorf("%s: Dify received %d %q, want 200 %q (byte count and sha256)", c.name, resp.StatusCode, got, want)
		}
	}
}

// An upload goes to Dify as it arrives, not after the proxy has stored all of it:
// Dify must see the first part of the body while the client still holds the
// rest back.
func TestUploadStreamsToDify(t *testing.T) {
	t.Parallel()
	const part = 64 * 1024
	firstSeen := make(chan struct{})
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadFull(r.Body, make([]byte, part)); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		close(firstSeen)
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, part+n)
	})
	p := startProxy(t, defaults(b.hostPort()))

	body, upload := io.Pipe()
	go func() {
		upload.Write(make([]byte, part))
		select {
		case <-firstSeen:
			upload.Write(make([]byte, part))
			upload.Close()
		case <-time.After(15 * time.Second):
			upload.CloseWithError(errors.New("Dify never saw the first part while the client held the rest back: the proxy buffers uploads"))
		}
	}()
	req, _ := http.NewRequest("POST", p.URL("/console/api/files/upload"), body)
	resp, err := client(30 * time.Second).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(got) != fmt.Sprint(2*part) {
		t.Errorf("got %d %q, want 200 %d", resp.StatusCode, got, 2*part)
	}
}

// A client that reads slowly holds Dify back instead of the proxy storing the
// response: Cloud Run's disk is memory, and nginx would otherwise read ahead into
// temporary files of up to 1 GiB per request. Dify writes a large response to a
// client that reads nothing; Dify must stall long before the end.
func TestSlowClientHoldsBackDify(t *testing.T) {
	t.Parallel()
	const total = 64 * mib
	var written atomic.Int64
	var b *backend
	b = newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 64*1024)
		for written.Load() < total {
			select {
			case <-b.done:
				return
			default:
			}
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	})
	p := startProxy(t, defaults(b.hostPort()))
	resp, err := client(60 * time.Second).Get(p.URL("/console/api/files/export"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// Read nothing; wait until Dify stops making progress.
	last, still := int64(-1), 0
	for deadline := time.Now().Add(20 * time.Second); still < 5 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		if n := written.Load(); n == last {
			still++
		} else {
			last, still = n, 0
		}
	}
	if last >= total {
		t.Errorf("Dify wrote all %d MiB to a client that read none of it: the proxy buffers responses", total/mib)
	}
}

func TestUploadOverLimitIs413AndNeverReachesDify(t *testing.T) {
	t.Parallel()
	var complete atomic.Int64
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err == nil {
			complete.Add(1)
		}
	})
	p := startProxy(t, defaults(b.hostPort())) // 2 MiB limit

	// With Content-Length, as browsers upload files: refused before Dify is asked.
	req, _ := http.NewRequest("POST", p.URL("/console/api/files/upload"), bytes.NewReader(randomBytes(t, 2*mib+1)))
	check413(t, req)
	if n := b.requests.Load(); n != 0 {
		t.Errorf("Content-Length over the limit: Dify received %d requests, want none", n)
	}

	// Chunked, in small pieces: the proxy streams the body, so Dify sees the start
	// of it, but the proxy cuts it off at the limit and Dify never gets a whole
	// request.
	body, upload := io.Pipe()
	go func() {
		piece := make([]byte, 32*1024)
		for range 3 * mib / len(piece) {
			if _, err := upload.Write(piece); err != nil {
				return
			}
		}
		upload.Close()
	}()
	req, _ = http.NewRequest("POST", p.URL("/console/api/files/upload"), body)
	check413(t, req)
	if n := complete.Load(); n != 0 {
		t.Errorf("chunked over the limit: Dify received %d complete bodies, want none", n)
	}
}

func check413(t *testing.T, req *http.Request) {
	t.Helper()
	resp, err := client(30 * time.Second).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("status = %d, want 413", resp.StatusCode)
	}
	if want := "larger than 2 MiB"; !strings.Contains(string(body), want) {
		t.Errorf("413 body = %q, want it to say %q", body, want)
	}
}

func TestSlowDifyGets504AtTheTimeout(t *testing.T) {
	t.Parallel()
	var b *backend
	b = newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-b.done:
		}
	})
	s := defaults(b.hostPort())
	s.timeoutSeconds = 2
	p := startProxy(t, s)
	start := time.Now()
	resp, err := client(30 * time.Second).Get(p.URL("/v1/workflows/run"))
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Errorf("status = %d, want 504", resp.StatusCode)
	}
	if !strings.Contains(string(body), "did not answer in time") {
		t.Errorf("504 body = %q, want the proxy's plain message", body)
	}
	// The timeout itself is the behaviour under test; the upper bound is generous
	// for a busy machine.
	if elapsed < 1900*time.Millisecond || elapsed > 10*time.Second {
		t.Errorf("504 after %v, want at the 2 s timeout", elapsed)
	}
}

func TestDifyDownGets502Quickly(t *testing.T) {
	t.Parallel()
	p := startProxy(t, defaults(closedPort(t)))
	start := time.Now()
	resp, err := client(30 * time.Second).Get(p.URL("/console/api/ping"))
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("status = %d, want 502", resp.StatusCode)
	}
	if !strings.Contains(string(body), "the Dify VM is unreachable") {
		t.Errorf("502 body = %q, want the proxy's plain message", body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain" {
		t.Errorf("502 Content-Type = %q, want text/plain", ct)
	}
	if elapsed > 5*time.Second {
		t.Errorf("502 after %v; a refused connection should fail at once", elapsed)
	}
}

// A stopped VM does not refuse connections, it answers nothing. A listening
// socket whose accept queue is full behaves the same way: Linux drops further
// connection attempts without an answer. The client must get the proxy's message
// at the connect timeout (5 s), not after the request timeout (30 s here).
func TestSilentVMFailsAtTheConnectTimeout(t *testing.T) {
	t.Parallel()
	p := startProxy(t, defaults(silentAddress(t)))
	start := time.Now()
	resp, err := client(40 * time.Second).Get(p.URL("/"))
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Errorf("status = %d, want 504", resp.StatusCode)
	}
	if !strings.Contains(string(body), "the Dify VM did not answer in time") {
		t.Errorf("body = %q, want the proxy's plain message", body)
	}
	if elapsed < 4500*time.Millisecond || elapsed > 15*time.Second {
		t.Errorf("answered after %v, want at the 5 s connect timeout", elapsed)
	}
}

// silentAddress returns 127.0.0.1:port where connection attempts get no answer: a
// socket listening with a backlog of 0, never accepting, its queue filled by
// one connection of ours.
func silentAddress(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", itoa(sa.(*syscall.SockaddrInet4).Port))
	for range 8 {
		c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
		if err != nil {
			return addr // the queue is full: attempts now go unanswered
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Fatalf("%s kept accepting connections; cannot simulate a silent VM", addr)
	return ""
}

// Errors Dify produces itself pass through unchanged: the proxy's messages are
// only for failures to reach Dify.
func TestDifyErrorsPassThrough(t *testing.T) {
	t.Parallel()
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"code":"internal_server_error"}`, http.StatusBadGateway)
	})
	p := startProxy(t, defaults(b.hostPort()))
	resp, err := client(10 * time.Second).Get(p.URL("/console/api/apps"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway || string(body) != "{\"code\":\"internal_server_error\"}\n" {
		t.Errorf("got %d %q, want Dify's own 502 and body", resp.StatusCode, body)
	}
}

func TestForwardedHeaders(t *testing.T) {
	t.Parallel()
	type seen struct {
		Proto, Host, XFF, XFP, XRealIP string
		Connection                     []string
		Close                          bool
	}
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(seen{
			Proto:      r.Proto,
			Host:       r.Host,
			XFF:        strings.Join(r.Header.Values("X-Forwarded-For"), "|"),
			XFP:        strings.Join(r.Header.Values("X-Forwarded-Proto"), "|"),
			XRealIP:    strings.Join(r.Header.Values("X-Real-IP"), "|"),
			Connection: r.Header.Values("Connection"),
			Close:      r.Close,
		})
	})
	p := startProxy(t, defaults(b.hostPort()))
	for _, c := range []struct {
		name    string
		headers map[string]string
		want    seen
	}{
		{
			// What Cloud Run delivers: X-Forwarded-For holds the client's address.
			name: "Cloud Run request",
			headers: map[string]string{
				"Host":              "dify-abc123-an.a.run.app",
				"X-Forwarded-For":   "203.0.113.7",
				"X-Forwarded-Proto": "https",
			},
			want: seen{Proto: "HTTP/1.1", Host: "dify-abc123-an.a.run.app", XFF: "203.0.113.7", XFP: "https", XRealIP: "203.0.113.7"},
		},
		{
			// A client forging headers: what it wrote in X-Forwarded-For sits left
			// of the address Google appends, and its X-Real-IP is replaced.
			name: "forged by the client",
			headers: map[string]string{
				"Host":              "dify.example.com",
				"X-Forwarded-For":   "10.0.0.1, 198.51.100.9, 203.0.113.7",
				"X-Forwarded-Proto": "http",
				"X-Real-IP":         "10.0.0.1",
			},
			want: seen{Proto: "HTTP/1.1", Host: "dify.example.com", XFF: "203.0.113.7", XFP: "https", XRealIP: "203.0.113.7"},
		},
		{
			// Empty entries the client wrote change nothing either.
			name: "forged with empty entries",
			headers: map[string]string{
				"Host":            "dify.example.com",
				"X-Forwarded-For": "10.0.0.1,, , 203.0.113.7",
			},
			want: seen{Proto: "HTTP/1.1", Host: "dify.example.com", XFF: "203.0.113.7", XFP: "https", XRealIP: "203.0.113.7"},
		},
		{
			// No X-Forwarded-For (a local run): the peer is the client.
			name:    "direct",
			headers: map[string]string{"Host": "localhost"},
			want:    seen{Proto: "HTTP/1.1", Host: "localhost", XFF: "127.0.0.1", XFP: "https", XRealIP: "127.0.0.1"},
		},
	} {
		req, _ := http.NewRequest("GET", p.URL("/console/api/setup"), nil)
		for k, v := range c.headers {
			req.Header.Set(k, v)
		}
		req.Host = c.headers["Host"]
		resp, err := client(10 * time.Second).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var got seen
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got.Proto != c.want.Proto || got.Host != c.want.Host || got.XFF != c.want.XFF || got.XFP != c.want.XFP || got.XRealIP != c.want.XRealIP {
			t.Errorf("%s: Dify saw %+v, want %+v", c.name, got, c.want)
		}
		if len(got.Connection) != 0 || got.Close {
			t.Errorf("%s: Dify saw Connection %q (close %v); want none, so the connection is reused", c.name, got.Connection, got.Close)
		}
	}
}

// Behind the edge's load balancer, Google's X-Forwarded-For is
// "[supplied, ]client, balancer[, Google proxies]": Dify, and the access log,
// must see the client, whatever the client wrote.
func TestForwardedHeadersBehindTheLoadBalancer(t *testing.T) {
	t.Parallel()
	const lb = "34.120.7.9"
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s|%s", strings.Join(r.Header.Values("X-Forwarded-For"), ","), strings.Join(r.Header.Values("X-Real-IP"), ","))
	})
	s := defaults(b.hostPort())
	s.lbAddress = lb
	p := startProxy(t, s)
	for _, c := range []struct {
		name, xff, want string
	}{
		{"as the balancer sends it", "203.0.113.7, " + lb, "203.0.113.7"},
		{"without spaces", "203.0.113.7," + lb, "203.0.113.7"},
		{"a Google proxy appended after the balancer", "203.0.113.7, " + lb + ", 203.0.113.7", "203.0.113.7"},
		{"the client wrote its own entries", "10.0.0.1, 198.51.100.1, 203.0.113.7, " + lb, "203.0.113.7"},
		{"the client wrote the balancer's address", "10.0.0.1, " + lb + ", 203.0.113.7, " + lb, "203.0.113.7"},
		{"the client wrote a look-alike of it", "10.0.0.1, 34x120x7x9, 203.0.113.7, " + lb, "203.0.113.7"},
		{"the client wrote the balancer's address last in its part", "10.0.0.1, " + lb + ", 203.0.113.7, " + lb + ", 203.0.113.7", "203.0.113.7"},
		{"an IPv6 client", "2001:db8::7, " + lb, "2001:db8::7"},
		{"another balancer's address", "203.0.113.7, 34.120.7.90", "34.120.7.90"},
		{"no balancer in the header: the last entry", "203.0.113.7", "203.0.113.7"},
	} {
		req, _ := http.NewRequest("GET", p.URL("/console/api/setup"), nil)
		req.Header.Set("X-Forwarded-For", c.xff)
		req.Header.Set("X-Real-IP", "10.0.0.1")
		resp, err := client(10 * time.Second).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := c.want + "|" + c.want; string(body) != want {
			t.Errorf("%s (X-Forwarded-For %q): Dify saw X-Forwarded-For|X-Real-IP %q, want %q", c.name, c.xff, body, want)
		}
	}
	// The access log names the same client.
	logged := p.Stdout()
	if !strings.Contains(logged, `"remote_addr":"2001:db8::7"`) || strings.Contains(logged, `"remote_addr":"`+lb+`"`) {
		t.Errorf("the access log should name the clients, never the balancer:\n%s", logged)
	}
}

func TestConnectionsToDifyAreReused(t *testing.T) {
	t.Parallel()
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"result":"pong"}`)
	})
	s := defaults(b.hostPort())
	s.workers = "1" // each worker has its own pool; one worker makes the count exact
	p := startProxy(t, s)
	const requests = 20
	// Reused client connections, then a new client connection per request: either
	// way nginx should reach Dify over the one pooled connection.
	for _, c := range []*http.Client{client(10 * time.Second), {Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}} {
		for range requests {
			resp, err := c.Get(p.URL("/console/api/ping"))
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	if got := b.requests.Load(); got != 2*requests {
		t.Fatalf("Dify received %d requests, want %d", got, 2*requests)
	}
	if got := b.conns.Load(); got != 1 {
		t.Errorf("Dify accepted %d connections for %d requests, want 1 (kept alive and reused)", got, 2*requests)
	}
}

// inFlight starts a streamed request that Dify answers in two parts: the first
// at once, the second when release is closed. It returns once Dify has sent the
// first part, and delivers the client's result on the channel.
type streamResult struct {
	status int
	body   string
	err    error
}

const (
	firstPart = "data: {\"answer\":\"first\"}\n\n"
	lastPart  = "data: {\"answer\":\"last\"}\n\n"
)

func inFlight(t *testing.T, p *proxytest.Proxy, sent <-chan struct{}) <-chan streamResult {
	t.Helper()
	result := make(chan streamResult, 1)
	go func() {
		resp, err := client(60 * time.Second).Get(p.URL("/v1/chat-messages"))
		if err != nil {
			result <- streamResult{err: err}
			return
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		result <- streamResult{status: resp.StatusCode, body: string(body), err: err}
	}()
	select {
	case <-sent:
	case r := <-result:
		t.Fatalf("request ended before Dify answered: %+v", r)
	case <-time.After(20 * time.Second):
		t.Fatal("the request never reached Dify")
	}
	return result
}

func twoPartBackend(t *testing.T) (b *backend, sent chan struct{}, release chan struct{}) {
	sent, release = make(chan struct{}), make(chan struct{})
	b = newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, firstPart)
		w.(http.Flusher).Flush()
		close(sent)
		select {
		case <-release:
			io.WriteString(w, lastPart)
		case <-r.Context().Done():
		case <-b.done:
		}
	})
	return b, sent, release
}

// awaitClosed waits until the proxy no longer accepts connections: nginx has
// begun shutting down.
func awaitClosed(t *testing.T, p *proxytest.Proxy) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", p.Addr, time.Second)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the proxy still accepts connections 15 s after the signal")
}

// Cloud Run stops an instance with SIGTERM to PID 1. The request in flight must
// still complete: PID 1 (proxy-entrypoint.sh) turns SIGTERM into nginx's graceful
// shutdown.
func TestSIGTERMLetsRequestsInFlightFinish(t *testing.T) {
	t.Parallel()
	for _, shell := range shells(t) {
		t.Run(strings.Join(shell, " "), func(t *testing.T) {
			t.Parallel()
			sigtermLetsRequestsInFlightFinish(t, shell)
		})
	}
}

func sigtermLetsRequestsInFlightFinish(t *testing.T, shell []string) {
	b, sent, release := twoPartBackend(t)
	s := defaults(b.hostPort())
	s.shell = shell
	p := startProxy(t, s)
	result := inFlight(t, p, sent)

	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	awaitClosed(t, p) // shutting down, with the request still open
	close(release)

	select {
	case r := <-result:
		if r.err != nil || r.status != http.StatusOK || r.body != firstPart+lastPart {
			t.Errorf("request in flight at SIGTERM ended with %d %q (err %v), want 200 and the whole stream", r.status, r.body, r.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the request in flight never completed")
	}
	select {
	case <-p.Done():
		if err := p.ExitErr(); err != nil {
			t.Errorf("PID 1 exited with %v after a graceful shutdown, want status 0", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("PID 1 did not exit after the last request finished")
	}
	if !strings.Contains(p.Stderr(), "SIGTERM received") {
		t.Errorf("PID 1 did not log the signal:\n%s", p.Stderr())
	}
}

// Why the wrapper exists: nginx as PID 1, as in the official image, drops the
// request in flight on SIGTERM. If this ever stops failing the request, nginx
// has changed and proxy-entrypoint.sh may no longer be needed.
func TestBareNginxSIGTERMDropsRequestsInFlight(t *testing.T) {
	t.Parallel()
	b, sent, release := twoPartBackend(t)
	s := defaults(b.hostPort())
	s.bare = true
	p := startProxy(t, s)
	result := inFlight(t, p, sent)

	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	awaitClosed(t, p)
	close(release)

	select {
	case r := <-result:
		if r.err == nil && r.body == firstPart+lastPart {
			t.Errorf("bare nginx finished the request after SIGTERM (%d %q): nginx now shuts down gracefully on SIGTERM", r.status, r.body)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the request neither completed nor failed")
	}
}

// The template goes through envsubst as the image runs it, here with an
// environment variable named after every nginx variable in the template: only
// the five settings may change, every $name of nginx's must stay as written.
func TestTemplateKeepsNginxVariables(t *testing.T) {
	t.Parallel()
	requireNginx(t)
	template := readTemplate(t)
	settings := map[string]string{
		proxy.EnvBackend:        "10.10.0.2:80",
		proxy.EnvTimeoutSeconds: "300",
		proxy.EnvBodyLimitMiB:   "16",
		proxy.EnvPort:           "8080",
		// A value that is also a fragment of the template's text, so a
		// replacement beyond ${PROXY_LB_ADDRESS} would show.
		proxy.EnvLoadBalancerAddress: "34.120.7.9",
	}
	env := map[string]string{}
	var replace []string
	for k, v := range settings {
		if !strings.Contains(template, "${"+k+"}") {
			t.Errorf("the template never uses ${%s}", k)
		}
		env[k] = v
		replace = append(replace, "${"+k+"}", v)
	}
	nginxVars := nginxVariables(t, template)
	if len(nginxVars) < 10 {
		t.Fatalf("found only %d nginx variables in the template: %v", len(nginxVars), nginxVars)
	}
	for _, name := range nginxVars {
		env[name] = "REPLACED"
	}

	out := t.TempDir()
	if err := proxytest.Render(context.Background(), proxytest.Options{Dir: ".", Env: env}, out); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, "default.conf"))
	if err != nil {
		t.Fatal(err)
	}
	rendered := string(b)
	if want := strings.NewReplacer(replace...).Replace(template); rendered != want {
		t.Errorf("rendered template differs from the template with only the five settings replaced:\n%s", lineDiff(want, rendered))
	}
	for _, leftover := range []string{"${DIFY_", "${PROXY_", "${PORT}", "REPLACED"} {
		if strings.Contains(rendered, leftover) {
			t.Errorf("rendered template still contains %q", leftover)
		}
	}
	if got := nginxVariables(t, rendered); strings.Join(got, " ") != strings.Join(nginxVars, " ") {
		t.Errorf("nginx variables after rendering = %v, want %v", got, nginxVars)
	}
}

// lineDiff lists the lines that differ, for a readable failure.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %q\n  got  %q\n", i+1, wl, gl)
		}
	}
	return b.String()
}

// A missing or malformed setting stops the start, before nginx listens, with a
// message naming the variable: the image's entrypoint runs the check first.
func TestStartFailsLoudlyOnABadSetting(t *testing.T) {
	t.Parallel()
	requireNginx(t)
	good := proxy.Settings{Backend: "127.0.0.1:9", TimeoutSeconds: 30, BodyLimitMiB: 2}.Env()
	for _, c := range []struct {
		name, value string // value "" with unset true removes it
		unset       bool
	}{
		{proxy.EnvBackend, "", true},
		{proxy.EnvTimeoutSeconds, "", true},
		{proxy.EnvBodyLimitMiB, "", true},
		{proxy.EnvPort, "", true},
		{proxy.EnvBackend, "10.10.0.2", false},
		{proxy.EnvTimeoutSeconds, "300s", false},
		{proxy.EnvBodyLimitMiB, "64", false},
	} {
		env := map[string]string{}
		for k, v := range good {
			env[k] = v
		}
		if c.unset {
			delete(env, c.name)
			if c.name == proxy.EnvPort {
				env[proxy.EnvPort] = "" // proxytest: leave PORT unset
			}
		} else {
			env[c.name] = c.value
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		p, err := proxytest.Start(ctx, proxytest.Options{Dir: ".", Env: env})
		cancel()
		if err == nil {
			p.Stop()
			t.Errorf("%s=%q (unset %v): the proxy started, want a refusal", c.name, c.value, c.unset)
			continue
		}
		if !strings.Contains(err.Error(), "ERROR: "+c.name) || !strings.Contains(err.Error(), "refusing to start") {
			t.Errorf("%s=%q (unset %v): the error does not name the variable:\n%v", c.name, c.value, c.unset, err)
		}
		if strings.Contains(err.Error(), "syntax is ok") {
			t.Errorf("%s=%q (unset %v): nginx checked a configuration; the start should have stopped before", c.name, c.value, c.unset)
		}
	}
}

func TestAccessLogIsOneJSONObjectPerLine(t *testing.T) {
	t.Parallel()
	const answer = `{"result":"pong"}`
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, answer)
	})
	p := startProxy(t, defaults(b.hostPort()))
	const agent = `Mozilla/5.0 "quoted" \ agent`
	req, _ := http.NewRequest("GET", p.URL("/files/abc/file-preview?timestamp=1&nonce=2&sign=SECRET-SIGNATURE"), nil)
	req.Header.Set("User-Agent", agent)
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	c := client(10 * time.Second)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	// A request nginx answers itself, and the health probe, which is not logged.
	if resp, err := c.Get(p.URL(proxy.HealthPath)); err == nil {
		resp.Body.Close()
	}

	var entry map[string]any
	deadline := time.Now().Add(10 * time.Second)
	for entry == nil && time.Now().Before(deadline) {
		for _, line := range p.AccessLog() {
			var e map[string]any
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Fatalf("access log line is not JSON: %v\n%s", err, line)
			}
			if e["path"] == "/files/abc/file-preview" {
				entry = e
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if entry == nil {
		t.Fatalf("no access log line for the request; stdout:\n%s", p.Stdout())
	}
	if _, err := time.Parse(time.RFC3339, fmt.Sprint(entry["time"])); err != nil {
		t.Errorf("time %v: %v", entry["time"], err)
	}
	for field, want := range map[string]any{
		"method":          "GET",
		"status":          float64(200),
		"bytes":           float64(len(answer)),
		"upstream_status": "200",
		"user_agent":      agent,
		"remote_addr":     "203.0.113.7",
	} {
		if entry[field] != want {
			t.Errorf("%s = %#v, want %#v", field, entry[field], want)
		}
	}
	for _, field := range []string{"latency", "request_bytes"} {
		if v, ok := entry[field].(float64); !ok || v < 0 {
			t.Errorf("%s = %#v, want a number", field, entry[field])
		}
	}
	if v, ok := entry["upstream_time"].(string); !ok || v == "" || v == "-" {
		t.Errorf("upstream_time = %#v, want Dify's response time", entry["upstream_time"])
	}
	stdout := p.Stdout()
	if strings.Contains(stdout, "SECRET-SIGNATURE") {
		t.Errorf("the access log holds the query string's signature:\n%s", stdout)
	}
	if strings.Contains(stdout, proxy.HealthPath) {
		t.Errorf("the health probe is logged:\n%s", stdout)
	}
}

// proxy-entrypoint.sh leaves any command other than nginx alone, so "docker run
// IMAGE sh" still gives a shell.
func TestEntrypointRunsOtherCommandsAsIs(t *testing.T) {
	t.Parallel()
	out, err := runScript(t, nil, "./proxy-entrypoint.sh", nil, "echo", "hello")
	if err != nil || out != "hello\n" {
		t.Errorf("proxy-entrypoint.sh echo hello = %q, %v", out, err)
	}
	var exit interface{ ExitCode() int }
	_, err = runScript(t, nil, "./proxy-entrypoint.sh", nil, "sh", "-c", "exit 3")
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Errorf("proxy-entrypoint.sh sh -c 'exit 3' = %v, want exit status 3", err)
	}
}
