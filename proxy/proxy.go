// Package proxy holds the nginx image that Cloud Run runs in front of Dify, and the
// names of the settings the Pulumi program passes to it. The image reads every
// value from its environment, so the service component and the nginx template agree
// on these names through this package alone.
package proxy

import "strconv"

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
)

// HealthPath answers 200 from nginx itself, without touching the backend, so the
// Cloud Run startup probe passes while the VM is still booting.
const HealthPath = "/proxy-health"

// Env returns the container environment for the given settings.
func Env(backend string, timeoutSeconds, bodyLimitMiB int) map[string]string {
	return map[string]string{
		EnvBackend:        backend,
		EnvTimeoutSeconds: strconv.Itoa(timeoutSeconds),
		EnvBodyLimitMiB:   strconv.Itoa(bodyLimitMiB),
	}
}
