// Package marked finds and replaces the generated part of a document: the text
// between a begin and an end marker. Docs that carry a table or diagram made
// from code (the configuration keys, the outputs contract, the architecture
// picture) keep it there, and tests compare it with what the code makes now.
package marked

import (
	"fmt"
	"os"
	"strings"
)

// Section returns the text between begin and end in the file at path.
func Section(path, begin, end string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("marked: %w", err)
	}
	s := string(b)
	i := strings.Index(s, begin)
	j := strings.Index(s, end)
	if i < 0 || j < i+len(begin) {
		return "", fmt.Errorf("marked: %s lacks a section between %q and %q", path, strings.TrimSpace(begin), strings.TrimSpace(end))
	}
	return s[i+len(begin) : j], nil
}

// Replace rewrites the section between begin and end in the file at path.
func Replace(path, begin, end, section string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("marked: %w", err)
	}
	s := string(b)
	i := strings.Index(s, begin)
	j := strings.Index(s, end)
	if i < 0 || j < i+len(begin) {
		return fmt.Errorf("marked: %s lacks a section between %q and %q", path, strings.TrimSpace(begin), strings.TrimSpace(end))
	}
	s = s[:i+len(begin)] + section + s[j:]
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		return fmt.Errorf("marked: %w", err)
	}
	return nil
}
