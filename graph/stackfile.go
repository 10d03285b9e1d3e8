package graph

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
)

// StackConfig reads Pulumi.yaml and Pulumi.<stack>.yaml from dir and returns
// the stack's config as the Pulumi CLI hands it to a program: namespaced keys,
// arrays and objects as JSON. Pulumi.yaml is validated against Pulumi's schema.
// Secure values cannot be decrypted here: they come back as "[secret]" and
// their keys in secretKeys.
func StackConfig(dir, stack string) (project string, cfg map[string]string, secretKeys []string, err error) {
	proj, err := workspace.LoadProject(filepath.Join(dir, "Pulumi.yaml"))
	if err != nil {
		return "", nil, nil, fmt.Errorf("graph: %w", err)
	}
	path := filepath.Join(dir, "Pulumi."+stack+".yaml")
	if _, err := os.Stat(path); err != nil {
		return "", nil, nil, fmt.Errorf("graph: stack %q: %w", stack, err)
	}
	ps, err := workspace.LoadProjectStack(nil, proj, path)
	if err != nil {
		return "", nil, nil, fmt.Errorf("graph: %s: %w", path, err)
	}
	cfg = map[string]string{}
	for k, v := range ps.Config {
		key := k.Namespace() + ":" + k.Name()
		if v.Secure() {
			cfg[key] = "[secret]"
			secretKeys = append(secretKeys, key)
			continue
		}
		s, err := v.Value(config.NopDecrypter)
		if err != nil {
			return "", nil, nil, fmt.Errorf("graph: %s: %s: %w", path, key, err)
		}
		cfg[key] = s
	}
	return string(proj.Name), cfg, secretKeys, nil
}
