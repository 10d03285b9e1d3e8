package hostscript

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/dify-gcp/dify-gcp/config"
)

// TestReleasesMatchUpstream compares the release table with each release's
// own compose file, resolved as Dify ships it (.env from .env.example, no
// override): the table pins exactly the services the file runs, each to the
// file's image, except where the file is known to be wrong or unpinned.
func TestReleasesMatchUpstream(t *testing.T) {
	// Where the table deliberately differs from the file, and why.
	deviations := map[string]map[string]string{
		"1.8.1": {
			"worker":      "the 1.8.1 file names dify-api:1.8.0 (fixed upstream by c7700ac1, #25092)",
			"worker_beat": "the 1.8.1 file names dify-api:1.8.0 (fixed upstream by c7700ac1, #25092)",
			"web":         "the 1.8.1 file names dify-web:1.8.0 (fixed upstream by c7700ac1, #25092)",
		},
	}
	unpinned := map[string]bool{"nginx": true, "ssrf_proxy": true} // `latest` in the file: the table picks a tag
	for version, rel := range config.Releases() {
		t.Run(version, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "releases", version, "docker")
			copyRelease(t, version, dir)
			example, err := os.ReadFile(filepath.Join(dir, ".env.example"))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dir, ".env"), example, 0o600)
			p := resolve(t, dir)
			var names []string
			for name, s := range p.Services {
				names = append(names, name)
				want, ok := rel.Images[name]
				switch {
				case !ok:
					t.Errorf("Dify %s runs %s (%s), which the release table does not pin", version, name, s.Image)
				case unpinned[name]:
					repo, tag, _ := strings.Cut(want, ":")
					if !strings.HasPrefix(s.Image, repo+":") || tag == "" || tag == "latest" {
						t.Errorf("Dify %s: %s is %s upstream; the table's %s should pin a tag of the same image", version, name, s.Image, want)
					}
				case deviations[version][name] != "":
					if s.Image == want {
						t.Errorf("Dify %s: %s no longer deviates (%s); drop the deviation", version, name, deviations[version][name])
					}
					if want != "langgenius/"+strings.SplitN(strings.TrimPrefix(s.Image, "langgenius/"), ":", 2)[0]+":"+version {
						t.Errorf("Dify %s: %s should be pinned to the release's own version, not %s", version, name, want)
					}
				case s.Image != want:
					t.Errorf("Dify %s: %s is %s in the compose file, %s in the table", version, name, s.Image, want)
				}
			}
			sort.Strings(names)
			if got, want := strings.Join(names, " "), strings.Join(Services(), " "); got != want {
				t.Errorf("Dify %s runs %s; the deployment pins %s", version, got, want)
			}
			if len(rel.Images) != len(Services()) {
				t.Errorf("the table pins %d services for %s, want %d", len(rel.Images), version, len(Services()))
			}
		})
	}
}
