// Command plan shows what a stack would deploy, without a cloud account: it runs
// the real program in-process against Pulumi's mocks for a stack file and prints
// every resource with its settings, protection and dependencies, the outputs,
// warnings and a monthly cost estimate.
//
//	go run ./cmd/plan dev
//	go run ./cmd/plan --format json prod
//	go run ./cmd/plan --format mermaid prod
//	go run ./cmd/plan prod-managed                         # a variant (plan.Variants)
//	go run ./cmd/plan --set dify-gcp:dataTier=managed dev  # what if: keys changed, as pulumi config set would
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/dify-gcp/dify-gcp/plan"
	"github.com/dify-gcp/dify-gcp/stack"
)

// sets collects repeated --set KEY=VALUE flags.
type sets map[string]string

func (s sets) String() string { return fmt.Sprint(map[string]string(s)) }

func (s sets) Set(kv string) error {
	k, v, ok := strings.Cut(kv, "=")
	if !ok || !strings.Contains(k, ":") {
		return fmt.Errorf("want NAMESPACE:KEY=VALUE, such as dify-gcp:dataTier=managed (an empty VALUE removes the key)")
	}
	s[k] = v
	return nil
}

func main() {
	format := flag.String("format", plan.FormatTable, "output format: table, json or mermaid")
	dir := flag.String("dir", ".", "project folder holding Pulumi.yaml and the stack files")
	set := sets{}
	flag.Var(set, "set", "change a key of the stack file, as `KEY=VALUE` (repeatable; an empty VALUE removes the key)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: plan [--format table|json|mermaid] [--dir DIR] [--set KEY=VALUE ...] STACK|VARIANT\n\nvariants:\n")
		for _, v := range plan.Variants() {
			fmt.Fprintf(flag.CommandLine.Output(), "  %-14s %s\n", v.Name, v.Description)
		}
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	name := flag.Arg(0)
	var p *plan.Plan
	var err error
	if v, ok := plan.FindVariant(name); ok {
		for k, val := range set {
			v.Set[k] = val
		}
		p, err = plan.ForVariant(*dir, v, stack.Program)
	} else {
		p, err = plan.ForStackWith(*dir, name, set, stack.Program)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := plan.Write(os.Stdout, p, *format); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
