package config

// Release pins the companion images of one Dify release. Dify's compose file
// leaves some of them unpinned or on an older tag; the program pins all of them so
// no service drifts to another version on upgrade.
type Release struct {
	PluginDaemonImage string
	SandboxImage      string
}

// Releases returns the Dify releases whose companion images are known, keyed by
// version. Add a release here (after reading its docker/docker-compose.yaml) to
// make it deployable by setting dify-gcp:difyVersion alone.
func Releases() map[string]Release {
	return map[string]Release{
		"1.8.1": {
			PluginDaemonImage: "langgenius/dify-plugin-daemon:0.2.0-local",
			SandboxImage:      "langgenius/dify-sandbox:0.2.12",
		},
	}
}
