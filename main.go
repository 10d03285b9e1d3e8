// Command dify-gcp is the Pulumi program that runs Dify on Google Cloud. The whole
// architecture is in package stack (the composition) and package components (one
// component per concern); this file only hands the program to Pulumi.
package main

import (
	"github.com/dify-gcp/dify-gcp/stack"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

func main() {
	pulumi.Run(stack.Program)
}
