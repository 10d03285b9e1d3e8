# shellcheck shell=bash
# This file is inlined into the rendered startup script, after the values the
# template sets (DIFY_PORT, HEALTH_PATH, ...) and before the parts that use the
# paths below. Checked alone, those look unset or unused; the tests shellcheck
# the whole rendered script, where they are neither.
# shellcheck disable=SC2034,SC2154
# common.sh: where things live on the VM, logging, the final status line.
#
# The paths can be moved through the environment only so that tests can run
# these functions in a temporary folder; on the VM the defaults apply.

DISK_BY_ID=${DIFY_DISK_BY_ID:-/dev/disk/by-id}    # where udev names Compute Engine disks
DATA_MNT=${DIFY_DATA_MNT:-/mnt/disks/dify-data} # the data disk
VOLUMES="$DATA_MNT/volumes"                       # all of Dify's docker/volumes
RELEASES="$DATA_MNT/releases"                     # releases/<version>/docker
CURRENT="$DATA_MNT/current"                       # -> releases/<version>: the one running
LIB_DIR=${DIFY_LIB_DIR:-/usr/local/lib/dify-gcp}  # backup library, env.awk
BIN_DIR=${DIFY_BIN_DIR:-/usr/local/bin}           # dify-backup, dify-restore
ETC_DIR=${DIFY_ETC_DIR:-/etc/dify-gcp}            # backup.env
UNIT_DIR=${DIFY_UNIT_DIR:-/etc/systemd/system}
RUN_DIR=${DIFY_RUN_DIR:-/run/dify-gcp}            # tmpfs: secrets in transit, never on disk
STATUS_FILE=${DIFY_STATUS_FILE:-/var/lib/dify-gcp/startup-status}
CONSOLE=${DIFY_CONSOLE:-/dev/console}
METADATA_URL=${DIFY_METADATA_URL:-http://metadata.google.internal/computeMetadata/v1}
SECRETMANAGER_URL=${DIFY_SECRETMANAGER_URL:-https://secretmanager.googleapis.com/v1}
HEALTH_URL=${DIFY_HEALTH_URL:-http://127.0.0.1:$DIFY_PORT$HEALTH_PATH}
BACKUP_LOCK=${DIFY_LOCK_FILE:-/run/lock/dify-backup.lock}

STEP=start
RESULT=""

# log PRIORITY MESSAGE...: to stdout (the guest agent forwards it to the
# journal and Cloud Logging), to the journal under the tag dify-startup with its
# real severity, and to the serial console.
log() {
	local prio=$1 line
	shift
	line="dify-startup[$STEP]: $*"
	printf '%s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$line"
	logger -t dify-startup -p "user.$prio" -- "$line" 2>/dev/null || true
	{ printf '%s\n' "$line" >"$CONSOLE"; } 2>/dev/null || true
}
info() { log info "$@"; }
warn() { log warning "$@"; }
die() {
	log err "ERROR: $*"
	exit 1
}

# step NAME DESCRIPTION: name the phase that a failure will be blamed on.
step() {
	STEP=$1
	shift
	info "$*"
}

on_error() {
	log err "ERROR: command failed (exit $1) at line $2: $3"
}

# on_exit: the guest agent reports the startup script as succeeded whatever
# its exit status, so the real outcome is logged here, last, and kept in
# STATUS_FILE for `cat`.
on_exit() {
	local rc=$? line
	if ((rc == 0)); then
		line="RESULT: SUCCESS: ${RESULT:-done} (${SECONDS}s)"
		log notice "$line"
	else
		line="RESULT: FAILED in step '$STEP' (exit $rc, ${SECONDS}s); see journalctl -t dify-startup -p err"
		log err "$line"
	fi
	if mkdir -p "$(dirname "$STATUS_FILE")" 2>/dev/null; then
		{ printf '%s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$line" >"$STATUS_FILE"; } 2>/dev/null || true
	fi
}

# private_tmp: RUN_DIR, on tmpfs and 0700, is the run's TMPDIR too: bash
# writes a here-string or here-document larger than a pipe to a file under
# TMPDIR (default /tmp, on the boot disk), and the values this script handles
# are secrets.
private_tmp() {
	mkdir -p "$RUN_DIR"
	chmod 0700 "$RUN_DIR"
	export TMPDIR=$RUN_DIR
}

# retry ATTEMPTS DELAY COMMAND...: for network steps that fail transiently.
# (DIFY_RETRY_SLEEP replaces DELAY in tests.)
retry() {
	local attempts=$1 delay=$2 n=1
	shift 2
	until "$@"; do
		if ((n >= attempts)); then
			log err "ERROR: gave up after $n attempts: $*"
			return 1
		fi
		warn "attempt $n of $attempts failed, retrying in ${delay}s: $*"
		sleep "${DIFY_RETRY_SLEEP:-$delay}"
		n=$((n + 1))
	done
}

# install_file PATH MODE < CONTENT: replace PATH only when CONTENT differs, so
# a boot that changes nothing touches nothing. Sets CHANGED to 1 or 0.
install_file() {
	local path=$1 mode=$2 tmp
	mkdir -p "$(dirname "$path")"
	tmp=$(mktemp "$path.XXXXXX")
	cat >"$tmp"
	chmod "$mode" "$tmp"
	CHANGED=0
	if [[ -f $path ]] && cmp -s "$tmp" "$path" && [[ $(stat -c '%a' "$path") == "${mode#0}" ]]; then
		rm -f "$tmp"
		return 0
	fi
	mv -f "$tmp" "$path"
	CHANGED=1
	info "wrote $path"
}

# dc ARGS...: docker compose in the release that `current` points at.
dc() {
	(cd "$CURRENT/docker" && docker compose "$@")
}

# current_version: the Dify version `current` points at, empty before the
# first install. The symlink on the data disk is the record of what is installed.
current_version() {
	local target
	target=$(readlink "$CURRENT" 2>/dev/null) || return 0
	printf '%s\n' "${target##*/}"
}
