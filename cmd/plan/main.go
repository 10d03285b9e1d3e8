// Command plan shows what a stack would deploy, without a cloud account: it runs
// the real program in-process against Pulumi's mocks for a stack file and prints
// every resource with its settings, protection and dependencies, the outputs,
// warnings and a monthly cost estimate.
//
//	go run ./cmd/plan dev
//	go run ./cmd/plan --format json prod
//	go run ./cmd/plan --format mermaid prod
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/dify-gcp/dify-gcp/plan"
	"github.com/dify-gcp/dify-gcp/stack"
)

func main() {
	format := flag.String("format", plan.FormatTable, "output format: table, json or mermaid")
	dir := flag.String("dir", ".", "project folder holding Pulumi.yaml and the stack files")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: plan [--format table|json|mermaid] [--dir DIR] STACK\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	p, err := plan.ForStack(*dir, flag.Arg(0), stack.Program)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := plan.Write(os.Stdout, p, *format); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
