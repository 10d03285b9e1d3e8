// Command composeconfig answers `docker compose config --format json` and
// `docker compose config --services` the way Docker Compose v2 does, with the
// library Compose is built on (github.com/compose-spec/compose-go/v2). The host
// tests run the VM scripts against it, through a docker stand-in, so that the
// configuration they check is the one Compose would resolve from Dify's real
// files: .env, COMPOSE_PROFILES, ${VAR:-default}, anchors, the override file
// and its !override tags.
//
// It mirrors docker/compose (cmd/compose/compose.go toProjectOptions,
// pkg/compose/loader.go LoadProject and cmd/compose/config.go runConfig):
// the project is found in the working directory (compose.yaml or
// docker-compose.yaml, plus docker-compose.override.yaml), the OS environment
// wins over .env, profiles come from COMPOSE_PROFILES, the name from `name:`
// or COMPOSE_PROJECT_NAME or the folder, and the JSON output has its dollar
// signs doubled as Compose prints them.
//
//	composeconfig --format json    # the resolved project
//	composeconfig --services       # its service names, one a line
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "composeconfig:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	var services bool
	switch {
	case len(args) == 2 && args[0] == "--format" && args[1] == "json":
	case len(args) == 1 && args[0] == "--services":
		services = true
	default:
		return fmt.Errorf("usage: composeconfig --format json | --services (got %q)", args)
	}
	project, err := load(ctx, services)
	if err != nil {
		return err
	}
	if services {
		names := project.ServiceNames()
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintln(out, n)
		}
		return nil
	}
	if project, err = project.WithServicesEnvironmentResolved(true); err != nil {
		return err
	}
	if err := project.CheckContainerNameUnicity(); err != nil {
		return err
	}
	b, err := project.MarshalJSON()
	if err != nil {
		return err
	}
	_, err = out.Write(bytes.ReplaceAll(b, []byte("$"), []byte("$$")))
	return err
}

// load builds the project with the options docker compose config uses, in
// the same order.
func load(ctx context.Context, withoutEnvResolution bool) (*types.Project, error) {
	opts := []cli.ProjectOptionsFn{
		// config's own options (configOptions.ToProjectOptions)
		cli.WithInterpolation(true),
		cli.WithResolvedPaths(true),
		cli.WithNormalization(true),
		cli.WithConsistency(true),
		cli.WithDefaultProfiles(),
		cli.WithDiscardEnvFile,
	}
	if withoutEnvResolution {
		opts = append(opts, cli.WithoutEnvironmentResolution)
	}
	opts = append(opts,
		// every command's (buildProjectOptions)
		cli.WithWorkingDirectory(""),
		cli.WithOsEnv,
	)
	if _, present := os.LookupEnv("PWD"); !present {
		if pwd, err := os.Getwd(); err == nil {
			opts = append(opts, cli.WithEnv([]string{"PWD=" + pwd}))
		}
	}
	opts = append(opts,
		cli.WithEnvFiles(),
		cli.WithDotEnv,
		cli.WithConfigFileEnv,
		cli.WithDefaultConfigPath,
		cli.WithEnvFiles(),
		cli.WithDotEnv,
		cli.WithDefaultProfiles(),
		cli.WithName(""),
	)
	po, err := cli.NewProjectOptions(nil, opts...)
	if err != nil {
		return nil, err
	}
	project, err := po.LoadProject(ctx)
	if err != nil {
		return nil, err
	}
	if project.Name == "" {
		return nil, errors.New("project name can't be empty")
	}
	if project, err = project.WithServicesEnabled(); err != nil {
		return nil, err
	}
	if project, err = project.WithSelectedServices(nil); err != nil {
		return nil, err
	}
	return project.WithoutUnnecessaryResources(), nil
}
