package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dify-gcp/dify-gcp/proxy/proxytest"
)

// A short run of the whole benchmark, so it keeps working: both targets answer,
// every stream delivers every event, and the report has its rows.
func TestBenchmarkRuns(t *testing.T) {
	if err := proxytest.Available(""); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and %v", err)
		}
		t.Skipf("SKIPPED, NOT PASSED: %v (install Debian's nginx and gettext-base)", err)
	}
	dir, err := proxytest.FindDir()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	err = run(context.Background(), config{
		duration:    200 * time.Millisecond,
		warmup:      50 * time.Millisecond,
		concurrency: []int{1, 4},
		streams:     8,
		events:      3,
		interval:    10 * time.Millisecond,
		nginx:       proxytest.DefaultNginx,
		proxyDir:    dir,
	}, &out)
	if err != nil {
		t.Fatal(err)
	}
	report := out.String()
	for _, want := range []string{"| 1 | ", "| 4 | ", "| p50 | ", "| p99 | ", "(24 events per target)"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
}

func TestParseLevels(t *testing.T) {
	got, err := parseLevels("1, 16,64")
	if err != nil || len(got) != 3 || got[0] != 1 || got[1] != 16 || got[2] != 64 {
		t.Errorf("parseLevels = %v, %v", got, err)
	}
	for _, bad := range []string{"", "0", "a", "1,,2", "-4"} {
		if _, err := parseLevels(bad); err == nil {
			t.Errorf("parseLevels(%q) accepted", bad)
		}
	}
}
