# shellcheck shell=bash
# docker.sh: packages, Docker Engine with the Compose v2 plugin, the gcloud CLI.

# The fingerprint Docker publishes for its apt signing key
# (https://docs.docker.com/engine/install/debian/).
readonly DOCKER_KEY_FINGERPRINT=9DC858229FC7DD38854AE2D88D81803C0EBFCD88
# Compose accepts the `!override` tag that the override file needs from 2.24.4.
readonly MIN_COMPOSE_VERSION=2.24.4

# finish_dpkg: a stop during apt (a Spot VM's preemption, say) leaves dpkg
# "interrupted", and apt refuses everything until `dpkg --configure -a` has
# run: without this, every later boot would fail. A no-op when dpkg is fine;
# it runs first thing on every boot, before anything installs.
finish_dpkg() {
	# The lock may be held for a while by unattended-upgrades: apt, which
	# waits for it, says so plainly if dpkg is still broken after this.
	retry 10 30 dpkg --configure -a || warn "dpkg --configure -a failed; apt may refuse to install until it succeeds"
}

apt_install() {
	export DEBIAN_FRONTEND=noninteractive
	# unattended-upgrades holds the dpkg lock for a while after the first boot.
	retry 3 20 apt-get -q -o DPkg::Lock::Timeout=600 update
	retry 3 20 apt-get -q -y -o DPkg::Lock::Timeout=600 install --no-install-recommends "$@"
}

ensure_base_packages() {
	local p missing=()
	DEBIAN_FRONTEND=noninteractive finish_dpkg
	for p in ca-certificates curl gnupg jq openssl; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	if ((${#missing[@]})); then
		info "installing ${missing[*]}"
		apt_install "${missing[@]}"
	fi
}

compose_is_recent() {
	local v
	v=$(docker compose version --short 2>/dev/null) || return 1
	printf '%s\n%s\n' "$MIN_COMPOSE_VERSION" "${v#v}" | sort -V -C
}

# ensure_docker: Docker's own packages (Debian's docker-compose is Compose v1),
# from Docker's repository with its key checked against the published
# fingerprint. Skipped when a recent enough Docker and Compose are present.
ensure_docker() {
	local key=/etc/apt/keyrings/docker.asc fpr arch codename gnupg_home
	if command -v docker >/dev/null && compose_is_recent; then
		info "Docker present: $(docker --version), Compose $(docker compose version --short)"
	else
		info "installing Docker Engine and the Compose plugin from download.docker.com"
		install -m 0755 -d /etc/apt/keyrings
		retry 5 10 curl -fsSL https://download.docker.com/linux/debian/gpg -o "$key.new"
		gnupg_home=$(mktemp -d)
		fpr=$(GNUPGHOME=$gnupg_home gpg --show-keys --with-colons "$key.new" | awk -F: '$1 == "fpr" { print $10 }')
		rm -rf "$gnupg_home"
		grep -qx "$DOCKER_KEY_FINGERPRINT" <<<"$fpr" || die "Docker's apt key has fingerprint '$fpr', expected $DOCKER_KEY_FINGERPRINT"
		chmod a+r "$key.new"
		mv "$key.new" "$key"
		arch=$(dpkg --print-architecture)
		# shellcheck source=/dev/null
		codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
		printf 'deb [arch=%s signed-by=%s] https://download.docker.com/linux/debian %s stable\n' \
			"$arch" "$key" "$codename" >/etc/apt/sources.list.d/docker.list
		apt_install docker-ce docker-ce-cli containerd.io docker-buildx-plugin docker-compose-plugin
		compose_is_recent || die "Docker Compose $(docker compose version --short) is older than $MIN_COMPOSE_VERSION"
	fi
	# Container logs rotate instead of filling the boot disk, and each line
	# carries its compose service, which the Ops Agent turns into a label.
	# Docker Hub images come through Google's mirror of it (mirror.gcr.io),
	# so Docker Hub's limit on anonymous pulls cannot break a first boot or a
	# VM replacement; Docker falls back to Docker Hub for what the mirror lacks.
	install_file /etc/docker/daemon.json 0644 <<'JSON'
{
  "log-driver": "json-file",
  "log-opts": { "max-size": "20m", "max-file": "5", "labels": "com.docker.compose.service" },
  "registry-mirrors": ["https://mirror.gcr.io"]
}
JSON
	if ((CHANGED)) && systemctl is-active -q docker; then
		info "Docker's daemon.json changed: restarting Docker"
		systemctl restart docker
	fi
	systemctl enable -q --now docker
}

# ensure_gcloud: the backup streams to Cloud Storage with gcloud. Debian's
# images on Compute Engine usually carry it; install it when they do not. A
# failure here does not keep Dify from starting: backups would fail, loudly,
# and the backup alerts would say so.
ensure_gcloud() {
	command -v gcloud >/dev/null && return 0
	local gnupg_home
	info "installing the gcloud CLI from packages.cloud.google.com"
	if ! grep -rqs 'packages.cloud.google.com/apt cloud-sdk' /etc/apt/sources.list /etc/apt/sources.list.d/; then
		retry 5 10 curl -fsSL https://packages.cloud.google.com/apt/doc/apt-key.gpg -o /tmp/cloud.google.asc || return 1
		gnupg_home=$(mktemp -d) || return 1
		GNUPGHOME=$gnupg_home gpg --batch --yes --dearmor -o /usr/share/keyrings/cloud.google.gpg /tmp/cloud.google.asc || return 1
		rm -rf /tmp/cloud.google.asc "$gnupg_home"
		echo 'deb [signed-by=/usr/share/keyrings/cloud.google.gpg] https://packages.cloud.google.com/apt cloud-sdk main' \
			>/etc/apt/sources.list.d/google-cloud-sdk.list || return 1
	fi
	apt_install google-cloud-cli
}
