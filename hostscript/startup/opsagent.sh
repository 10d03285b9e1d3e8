# shellcheck shell=bash
# opsagent.sh: Google's Ops Agent, so that Cloud Monitoring sees inside the VM
# (memory, swap and per-disk use, which Compute Engine alone does not report)
# and Cloud Logging gets Dify's container logs, each labelled with its compose
# service (api, worker, plugin_daemon, nginx, ...). docs/operations.md says
# what the alerts and the dashboard do with them.

# The release this script installs, pinned: a GoogleCloudPlatform/ops-agent
# tag. Its Debian package's version is RELEASE~debianMAJOR (the repository's
# pkg/deb/build.sh), from the repository of its major version,
# google-cloud-ops-agent-CODENAME-MAJOR (Google's add-google-cloud-ops-agent-
# repo.sh with REPO_SUFFIX=MAJOR).
readonly OPS_AGENT_VERSION=2.70.0
# The keys that may sign packages.cloud.google.com's apt repositories, by
# fingerprint. apt-key.gpg holds Google's current and older keys; only these
# reach the keyring apt trusts for the agent's repository, so a key someone
# slipped into the download signs nothing here. A rotation Google makes shows
# as a failed install (and the agent-silent alert): add its fingerprint.
#   A362B822F6DEDC652817EA46B53DC80D13EDEF05  Rapture Automatic Signing Key
#                                              (cloud-rapture-signing-key-2022-03-07)
#   35BAA0B33E9EB396F59CA838C0BA5CE6DC6315A3  Artifact Registry Repository Signer
# Overridable only so that tests can sign with a key of their own.
OPS_AGENT_TRUSTED_KEYS=${DIFY_OPS_AGENT_TRUSTED_KEYS:-A362B822F6DEDC652817EA46B53DC80D13EDEF05 35BAA0B33E9EB396F59CA838C0BA5CE6DC6315A3}
OPS_AGENT_REPO=${DIFY_OPS_AGENT_REPO:-https://packages.cloud.google.com/apt}
OPS_AGENT_KEYRING=${DIFY_OPS_AGENT_KEYRING:-/etc/apt/keyrings/google-cloud-ops-agent.gpg}
OPS_AGENT_LIST=${DIFY_OPS_AGENT_LIST:-/etc/apt/sources.list.d/google-cloud-ops-agent.list}
OPS_AGENT_CONFIG=${DIFY_OPS_AGENT_CONFIG:-/etc/google-cloud-ops-agent/config.yaml}
OS_RELEASE=${DIFY_OS_RELEASE:-/etc/os-release}

# ops_agent_keyring: Google's package keys, reduced to the trusted ones, in a
# keyring of the agent's own. Sets CHANGED.
ops_agent_keyring() {
	local tmp fpr kept=() rc=0
	tmp=$(mktemp -d) || return 1
	# A few quick retries for a network still settling at boot; a failure
	# leaves Dify running, and the next boot (or a re-run) tries again.
	curl -fsSL --retry 2 --retry-delay 1 --max-time 60 "$OPS_AGENT_REPO/doc/apt-key.gpg" -o "$tmp/key" || rc=$?
	if ((rc == 0)); then
		GNUPGHOME=$tmp gpg --batch --quiet --import "$tmp/key" 2>/dev/null || rc=$?
	fi
	if ((rc == 0)); then
		for fpr in $OPS_AGENT_TRUSTED_KEYS; do
			GNUPGHOME=$tmp gpg --batch --list-keys "$fpr" >/dev/null 2>&1 && kept+=("$fpr")
		done
		if ((${#kept[@]} == 0)); then
			log err "ERROR: $OPS_AGENT_REPO/doc/apt-key.gpg holds none of the trusted keys ($OPS_AGENT_TRUSTED_KEYS): not trusting it"
			rc=1
		fi
	fi
	if ((rc == 0)); then
		GNUPGHOME=$tmp gpg --batch --export "${kept[@]}" >"$tmp/keyring" &&
			install_file "$OPS_AGENT_KEYRING" 0644 <"$tmp/keyring" || rc=$?
	fi
	rm -rf "$tmp"
	return "$rc"
}

# ops_agent_config: what the agent collects, on top of its built-in
# configuration (its hostmetrics receiver every 60 s and its syslog files).
# The metrics filter leaves out what Compute Engine reports for free (CPU,
# network, disk I/O) and what nobody reads (processes): every series of these
# is billed. The containers' json-file logs carry the compose service in
# attrs, which Docker's "labels" log option (docker.sh's daemon.json) writes
# into every line; it becomes the entry's label, and the line its message.
# Sets CHANGED.
ops_agent_config() {
	install_file "$OPS_AGENT_CONFIG" 0644 <<'YAML'
# Written by the dify-gcp startup script on every boot (opsagent.sh); edits
# here are overwritten. Merged with the agent's built-in configuration.
metrics:
  processors:
    metrics_filter:
      type: exclude_metrics
      metrics_pattern:
        - agent.googleapis.com/cpu/*
        - agent.googleapis.com/disk/io_time
        - agent.googleapis.com/disk/merged_operations
        - agent.googleapis.com/disk/operation_count
        - agent.googleapis.com/disk/operation_time
        - agent.googleapis.com/disk/pending_operations
        - agent.googleapis.com/disk/read_bytes_count
        - agent.googleapis.com/disk/weighted_io_time
        - agent.googleapis.com/disk/write_bytes_count
        - agent.googleapis.com/interface/*
        - agent.googleapis.com/network/*
        - agent.googleapis.com/processes/*
logging:
  receivers:
    dify_containers:
      type: files
      include_paths:
        - /var/lib/docker/containers/*/*-json.log
  processors:
    dify_docker_json:
      type: parse_json
      field: message
      time_key: time
      time_format: "%Y-%m-%dT%H:%M:%S.%L%z"
    dify_compose_service:
      type: modify_fields
      fields:
        labels."compose_service":
          move_from: jsonPayload.attrs."com.docker.compose.service"
        jsonPayload.message:
          move_from: jsonPayload.log
  service:
    pipelines:
      dify_containers:
        receivers: [dify_containers]
        processors: [dify_docker_json, dify_compose_service]
YAML
}

# ensure_ops_agent: the pinned agent from Google's repository, held there, with
# this deployment's configuration, running. A boot that finds all of it in
# place downloads nothing and restarts nothing. It returns non-zero instead of
# stopping the script: Dify runs without the agent, and the agent-silent alert
# says it is missing.
ensure_ops_agent() {
	step agent "Google's Ops Agent $OPS_AGENT_VERSION: memory, swap and disk metrics, Dify's container logs"
	local id version codename want status restart=0
	# shellcheck source=/dev/null
	id=$(. "$OS_RELEASE" && echo "$ID") && version=$(. "$OS_RELEASE" && echo "$VERSION_ID") &&
		codename=$(. "$OS_RELEASE" && echo "$VERSION_CODENAME") || return 1
	if [[ $id != debian ]]; then
		log err "ERROR: the Ops Agent is pinned for Debian; this VM runs $id $version"
		return 1
	fi
	want="$OPS_AGENT_VERSION~debian$version"
	status=$(dpkg-query -W -f='${db:Status-Status} ${Version}' google-cloud-ops-agent 2>/dev/null || true)
	if [[ $status != "installed $want" ]]; then
		info "installing google-cloud-ops-agent $want (found: ${status:-none})"
		ops_agent_keyring || return 1
		printf 'deb [signed-by=%s] %s google-cloud-ops-agent-%s-%s main\n' \
			"$OPS_AGENT_KEYRING" "$OPS_AGENT_REPO" "$codename" "${OPS_AGENT_VERSION%%.*}" |
			install_file "$OPS_AGENT_LIST" 0644 || return 1
		# Held, so unattended upgrades never move it off the pinned version;
		# changing the pin is a change to this file.
		apt_install --allow-change-held-packages --allow-downgrades "google-cloud-ops-agent=$want" || return 1
		apt-mark hold google-cloud-ops-agent >/dev/null || return 1
		restart=1
	fi
	ops_agent_config || return 1
	restart=$((restart + CHANGED))
	if ((restart)); then
		info "starting the Ops Agent with $OPS_AGENT_CONFIG"
		systemctl restart google-cloud-ops-agent || return 1
	fi
	systemctl enable -q google-cloud-ops-agent || return 1
}
