package config

// Release pins every image one Dify release runs, by compose service. Dify's
// compose files leave some images on `latest` (nginx, ubuntu/squid) or on an
// older tag (1.8.1's worker, worker_beat and web name 1.8.0); the program pins
// all of them in the compose override, so a new compose file cannot change any
// image silently, and an upgrade that changes a stateful one is seen before
// anything moves.
type Release struct {
	// Images maps each service the stack runs (the default profile plus the
	// weaviate vector store) to its image reference.
	Images map[string]string
}

// Releases returns the Dify releases this program can run, keyed by version.
// Add a release here after reading its docker/docker-compose.yaml;
// TestReleasesMatchUpstream (hostscript) compares the table with the release's
// own file, where one is in ../shared/upstream.
func Releases() map[string]Release {
	return map[string]Release{
		// langgenius/dify d011ddfc (1.8.1). Its file names dify-api:1.8.0 for
		// worker and worker_beat and dify-web:1.8.0 (fixed after the release,
		// c7700ac1, #25092): all Dify images are pinned to 1.8.1 here.
		"1.8.1": {Images: withCommon("1.8.1", "langgenius/dify-plugin-daemon:0.2.0-local")},
		// langgenius/dify cd47a47c (1.9.1): plugin daemon 0.3.0-local; weaviate
		// still 1.19.0 (1.9.2 moves to 1.27.0, which needs Dify's migration).
		"1.9.1": {Images: withCommon("1.9.1", "langgenius/dify-plugin-daemon:0.3.0-local")},
	}
}

// withCommon is one release's table: its own Dify and plugin daemon images,
// and the images 1.8.1 and 1.9.1 share. nginx and ssrf_proxy are `latest` in
// both compose files; here they name a release instead: nginx 1.29.1 (the
// mainline of Dify 1.8.1's release date) and Canonical's squid 6.6 on Ubuntu
// 24.04 (a risk-track tag, which Canonical rebuilds with fixes). No test here
// can pull an image: check a new tag with `docker manifest inspect` before
// adding a release.
func withCommon(version, pluginDaemon string) map[string]string {
	return map[string]string{
		"api":           "langgenius/dify-api:" + version,
		"worker":        "langgenius/dify-api:" + version,
		"worker_beat":   "langgenius/dify-api:" + version,
		"web":           "langgenius/dify-web:" + version,
		"db":            "postgres:15-alpine",
		"redis":         "redis:6-alpine",
		"sandbox":       "langgenius/dify-sandbox:0.2.12",
		"plugin_daemon": pluginDaemon,
		"ssrf_proxy":    "ubuntu/squid:6.6-24.04_edge",
		"nginx":         "nginx:1.29.1",
		"weaviate":      "semitechnologies/weaviate:1.19.0",
	}
}
