// Package proxy holds the nginx image that Cloud Run runs in front of Dify, and the
// names of the settings the Pulumi program passes to it. The image reads every
// value from its environment, so the service component and the nginx template agree
// on these names through this package alone.
//
// The image is built from this directory (Dockerfile, templates/,
// docker-entrypoint.d/, proxy-entrypoint.sh); docs/proxy.md describes its behaviour
// and proxytest runs it on a local nginx for tests and benchmarks.
package proxy

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Environment variables the proxy image reads. The Pulumi program sets each of them
// on the Cloud Run container; the template under templates/ consumes them.
const (
	// EnvBackend is the host:port of Dify's own nginx on the VM (its reserved
	// internal address), never written into the image.
	EnvBackend = "DIFY_BACKEND"
	// EnvTimeoutSeconds is the read and send timeout, equal to Cloud Run's request
	// timeout so the two cut a request at the same moment.
	EnvTimeoutSeconds = "PROXY_TIMEOUT_SECONDS"
	// EnvBodyLimitMiB is the largest request body accepted, in MiB.
	EnvBodyLimitMiB = "PROXY_BODY_LIMIT_MIB"
	// EnvLoadBalancerAddress is the address of the external Application Load
	// Balancer in front of the service (the edge's reserved global IPv4
	// address), or empty when clients reach Cloud Run directly. It tells nginx
	// which X-Forwarded-For entry is the client: behind the balancer, the one
	// just left of the balancer's own address.
	EnvLoadBalancerAddress = "PROXY_LB_ADDRESS"
	// EnvPort is the port nginx listens on. Cloud Run sets it to the container port
	// and refuses it as a user-set variable, so Env never returns it; the image
	// defaults it to ContainerPort for local runs.
	EnvPort = "PORT"
)

// HealthPath answers 200 from nginx itself, without touching the backend, so the
// Cloud Run startup probe passes while the VM is still booting.
const HealthPath = "/proxy-health"

// What the Cloud Run service should declare for the container.
const (
	// ContainerPort is the port the image listens on when PORT is not set; declare
	// it as the container port so Cloud Run's PORT and the image agree.
	ContainerPort = 8080
	// ContainerPortName is the Cloud Run port name for plain HTTP/1 to the
	// container. ("h2c" would need nginx to speak cleartext HTTP/2; it does not.)
	ContainerPortName = "http1"
	// MaxConcurrency bounds the service's max_instance_request_concurrency. The
	// official nginx.conf gives each worker 1024 connections and an instance has at
	// least one worker; every proxied request holds two (client and Dify), and up
	// to 32 idle connections to Dify are kept per worker, so about 490 requests fit
	// in one worker. 400 leaves room for idle client connections.
	MaxConcurrency = 400
)

// Ranges the image accepts; docker-entrypoint.d/05-check-proxy-env.sh refuses to
// start outside them and Validate applies the same rules before a deployment.
const (
	// MinTimeoutSeconds and MaxTimeoutSeconds bound EnvTimeoutSeconds. 3600 s is
	// Cloud Run's maximum request timeout.
	MinTimeoutSeconds = 1
	MaxTimeoutSeconds = 3600
	// MinBodyLimitMiB and MaxBodyLimitMiB bound EnvBodyLimitMiB. Cloud Run refuses
	// HTTP/1 request bodies over 32 MiB before they reach the container, so a
	// larger limit would promise what the platform does not deliver.
	MinBodyLimitMiB = 1
	MaxBodyLimitMiB = 32
)

// Settings are the proxy's settings as the Pulumi program knows them.
type Settings struct {
	Backend        string // host:port of Dify's nginx on the VM
	TimeoutSeconds int    // equal to Cloud Run's request timeout
	BodyLimitMiB   int
	// LoadBalancerAddress is the edge's IPv4 address, "" without an edge.
	LoadBalancerAddress string
}

// Env returns the container environment for s. It does not validate (the
// service component fills the backend and the balancer's address in later);
// call Validate for that.
func (s Settings) Env() map[string]string {
	return map[string]string{
		EnvBackend:             s.Backend,
		EnvTimeoutSeconds:      strconv.Itoa(s.TimeoutSeconds),
		EnvBodyLimitMiB:        strconv.Itoa(s.BodyLimitMiB),
		EnvLoadBalancerAddress: s.LoadBalancerAddress,
	}
}

// Validate reports every setting the image would refuse at start, so a bad value
// fails a preview instead of a Cloud Run revision. It applies the rules of
// docker-entrypoint.d/05-check-proxy-env.sh (the tests hold the two together).
func (s Settings) Validate() error {
	var errs []error
	if err := checkBackend(s.Backend); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", EnvBackend, err))
	}
	if s.TimeoutSeconds < MinTimeoutSeconds || s.TimeoutSeconds > MaxTimeoutSeconds {
		errs = append(errs, fmt.Errorf("%s: %d is outside %d..%d seconds", EnvTimeoutSeconds, s.TimeoutSeconds, MinTimeoutSeconds, MaxTimeoutSeconds))
	}
	if s.BodyLimitMiB < MinBodyLimitMiB || s.BodyLimitMiB > MaxBodyLimitMiB {
		errs = append(errs, fmt.Errorf("%s: %d is outside %d..%d MiB", EnvBodyLimitMiB, s.BodyLimitMiB, MinBodyLimitMiB, MaxBodyLimitMiB))
	}
	if a := s.LoadBalancerAddress; a != "" {
		if ip, err := netip.ParseAddr(a); err != nil || !ip.Is4() || ip.String() != a {
			errs = append(errs, fmt.Errorf("%s: %q is not an IPv4 address in dotted decimal (or empty, without a load balancer)", EnvLoadBalancerAddress, a))
		}
	}
	return errors.Join(errs...)
}

// checkBackend accepts host:port where host is a DNS name, an IPv4 address or a
// bracketed IPv6 address. The value is pasted into nginx's configuration, so
// anything else (spaces, semicolons, braces) is refused rather than escaped.
func checkBackend(backend string) error {
	if backend == "" {
		return errors.New("not set; want host:port of Dify's nginx on the VM")
	}
	host, port, err := net.SplitHostPort(backend)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %w", backend, err)
	}
	if host == "" || strings.Trim(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:") != "" {
		return fmt.Errorf("%q: host %q may only hold letters, digits, '.', '-' (or ':' inside brackets)", backend, host)
	}
	if strings.Contains(host, ":") && !strings.HasPrefix(backend, "[") {
		return fmt.Errorf("%q: an IPv6 host must be in brackets", backend)
	}
	if !strings.Contains(host, ":") && strings.HasPrefix(backend, "[") {
		return fmt.Errorf("%q: only IPv6 hosts go in brackets", backend)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 || strings.Trim(port, "0123456789") != "" || len(port) > 5 {
		return fmt.Errorf("%q: port %q is not a number in 1..65535", backend, port)
	}
	return nil
}
