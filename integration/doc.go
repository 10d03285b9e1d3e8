// Package integration holds the project's tests that look beyond the Go code:
// the GitHub Actions workflows users run (actionlint and the repository's own
// rules for them), and an opt-in end-to-end deployment through Pulumi's
// Automation API that needs a Google Cloud project and is skipped without one.
//
// The package has no API; this file exists so that `go build ./...` and
// `go vet ./...` see an ordinary package.
package integration
