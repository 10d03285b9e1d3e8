package config

import (
	"flag"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/dify-gcp/dify-gcp/graph"
	"github.com/dify-gcp/dify-gcp/internal/marked"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
)

var update = flag.Bool("update", false, "rewrite Pulumi.yaml's config block and docs/configuration.md's table from Keys")

// Pulumi.yaml's config block is generated from Keys, between these markers.
const yamlBegin, yamlEnd = "\nconfig:\n", "# end of config\n"

// TestPulumiYAMLIsGenerated: the config block is exactly ProjectYAML.
func TestPulumiYAMLIsGenerated(t *testing.T) {
	path := filepath.Join("..", "Pulumi.yaml")
	want := ProjectYAML()[len("config:\n"):]
	if *update {
		if err := marked.Replace(path, yamlBegin, yamlEnd, want); err != nil {
			t.Fatal(err)
		}
	}
	got, err := marked.Section(path, yamlBegin, yamlEnd)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("Pulumi.yaml's config block is not config.Keys(): run go test ./config -update")
	}
}

// TestPulumiYAMLDeclaresEveryKey holds Pulumi.yaml and Keys together: the CLI
// applies Pulumi.yaml's defaults, Load applies Keys' defaults, and the two must
// never disagree.
func TestPulumiYAMLDeclaresEveryKey(t *testing.T) {
	proj, err := workspace.LoadProject(filepath.Join("..", "Pulumi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	declared := map[string]workspace.ProjectConfigType{}
	for k, v := range proj.Config {
		declared[k] = v
	}
	for _, k := range Keys() {
		if k.Provider {
			if _, ok := declared[k.Name]; ok {
				t.Errorf("%s is a provider key: set it in the stack files, not Pulumi.yaml", k.Name)
			}
			continue
		}
		d, ok := declared[k.Name]
		if !ok {
			t.Errorf("Pulumi.yaml does not declare %s", k.Name)
			continue
		}
		delete(declared, k.Name)
		if d.Type == nil || *d.Type != k.Type {
			t.Errorf("%s: Pulumi.yaml type %v, Keys says %s", k.Name, d.Type, k.Type)
		}
		if d.Description != k.Description {
			t.Errorf("%s: descriptions differ:\n Pulumi.yaml %q\n Keys        %q", k.Name, d.Description, k.Description)
		}
		if k.Type == "array" && (d.Items == nil || d.Items.Type != "string") {
			t.Errorf("%s: Pulumi.yaml must declare items of type string", k.Name)
		}
		if got, want := fmt.Sprint(d.Default), fmt.Sprint(k.Default); got != want && !(k.Default == nil && d.Default == nil) {
			t.Errorf("%s: Pulumi.yaml default %v, Keys default %v", k.Name, got, want)
		}
	}
	for k := range declared {
		t.Errorf("Pulumi.yaml declares %s, which the program never reads", k)
	}
}

// TestStackFilesAreValid loads each shipped stack file with Load, so a stack
// file that the program would refuse never lands.
func TestStackFilesAreValid(t *testing.T) {
	for _, stack := range []string{"dev", "prod"} {
		_, raw, _, err := graph.StackConfig("..", stack)
		if err != nil {
			t.Fatal(err)
		}
		if len(raw) == 0 {
			t.Fatalf("Pulumi.%s.yaml has no config", stack)
		}
		if _, err := Load(stack, func(k string) (string, bool) { v, ok := raw[k]; return v, ok }); err != nil {
			t.Errorf("Pulumi.%s.yaml: %v", stack, err)
		}
	}
}
