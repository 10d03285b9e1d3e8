# shellcheck shell=bash
# dify-backup-lib.sh: what dify-backup and dify-restore share. Sourced, never run.
#
# Configuration comes from the environment first, then from the file the startup
# script writes (/etc/dify-gcp/backup.env), then from the defaults below. The
# environment wins so that tests (and an operator) can point both commands at a
# local folder instead of the bucket and at a local PostgreSQL instead of the
# compose stack:
#
#   BACKUP_DEST      gs://BUCKET/STACK, or a local folder (/path or file:///path)
#   DIFY_DIR         Dify's docker/ folder (the compose project)
#   DIFY_VOLUMES     the folder holding Dify's volumes (docker/volumes)
#   DIFY_STACK       stack name, recorded in the manifest
#   DIFY_VERSION     Dify version, recorded in the manifest (default: from DIFY_DIR)
#   DIFY_DOCKER      1: reach PostgreSQL with `docker compose exec` (default);
#                    0: run pg_dump/pg_restore here, libpq env (PGHOST...) decides where
#   DIFY_PG_USER     database superuser (default postgres)
#   DIFY_DATABASES   databases to back up (default "dify dify_plugin")
#   DIFY_PG_WAIT_SECONDS  how long to wait for PostgreSQL to accept connections
#   DIFY_HEALTH_URL  what "Dify is up" means (restore, docker mode)
#   DIFY_LOCK_FILE   serialises backups, restores and upgrades
#   DIFY_CLOUD_LOGGING  1 (default): also write the run's outcome to Cloud
#                    Logging, log "dify-backup", for the backup alerts
#   DIFY_TMP_ROOT    where the run's private folder goes (default /run, tmpfs)
#   DIFY_DATA_TIER   vm (default): PostgreSQL in the compose stack, weaviate's
#                    files; managed: Cloud SQL, reached as DIFY_PG_USER with the
#                    password in DIFY_DIR/.env (DB_PASSWORD) over TLS, with the
#                    client of DIFY_PG_IMAGE (`docker run`; DIFY_DOCKER=0: the
#                    client here), and Dify's files in DIFY_FILES_DEST
#   DIFY_PG_HOST     Cloud SQL's private address (managed)
#   DIFY_PG_IMAGE    the PostgreSQL client image (managed; the release's db image)
#   DIFY_REDIS_IMAGE redis-cli's image, to flush Memorystore on a restore (managed)
#   DIFY_VECTOR_EXTENSION  the extension Dify's pgvector store needs in database
#                    dify (managed; default vector: tests name another, their
#                    stand-in for Cloud SQL has no pgvector)
#   DIFY_FILES_DEST  gs://BUCKET holding Dify's files (managed): a backup copies
#                    them into volumes/app/storage first, so that
#                    app-storage.tar.gz has the same layout on both tiers

# The manifest: written last, so a run without one is incomplete. Its format
# field must match; restore refuses any other.
# shellcheck disable=SC2034 # used by dify-backup and dify-restore
readonly MANIFEST=manifest.json DIFY_BACKUP_FORMAT="dify-backup/1"

# Each archive object and the volume folders (relative to DIFY_VOLUMES) it holds.
# db/data is not here: the databases are dumped, which is consistent while Dify
# runs. redis/data is not here either: cache and Celery queue, transient.
# shellcheck disable=SC2034 # used by dify-backup and dify-restore
readonly DIFY_ARCHIVES=(
	"app-storage.tar.gz=app/storage"
	"plugin-daemon.tar.gz=plugin_daemon"
	"weaviate.tar.gz=weaviate"
	"sandbox.tar.gz=sandbox/conf sandbox/dependencies"
)
# The archive only the vm tier has: its vector store's files. On the managed
# tier the vectors are pgvector tables inside database dify, in its dump.
readonly VM_ONLY_ARCHIVE=weaviate.tar.gz

# tier_archives TIER: the DIFY_ARCHIVES entries a backup of TIER holds.
tier_archives() {
	local entry
	for entry in "${DIFY_ARCHIVES[@]}"; do
		if [[ $1 == managed && ${entry%%=*} == "$VM_ONLY_ARCHIVE" ]]; then
			continue
		fi
		printf '%s\n' "$entry"
	done
}

LOG_TAG=dify-backup
LOG_TO_JOURNAL=0

# log_init TAG: under systemd, stderr is the journal and a "<N>" prefix sets the
# message's priority, so each line is logged once with its real severity. Run by
# hand, lines go to the terminal and, through logger, to the journal.
log_init() {
	LOG_TAG=$1
	if [[ -n ${JOURNAL_STREAM:-} ]] &&
		[[ "$(stat -L -c '%d:%i' /proc/self/fd/2 2>/dev/null)" == "$JOURNAL_STREAM" ]]; then
		LOG_TO_JOURNAL=1
	fi
}

# log PRIORITY MESSAGE... (PRIORITY: err, warning, notice or info)
log() {
	local prio=$1 num=6
	shift
	case $prio in
	err) num=3 ;;
	warning) num=4 ;;
	notice) num=5 ;;
	esac
	if ((LOG_TO_JOURNAL)); then
		printf '<%d>%s\n' "$num" "$*" >&2
	else
		printf '%s %s: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$LOG_TAG" "$*" >&2
		logger -t "$LOG_TAG" -p "user.$prio" -- "$*" 2>/dev/null || true
	fi
}
info() { log info "$@"; }
warn() { log warning "$@"; }
die() {
	LAST_ERROR="$*"
	log err "ERROR: $*"
	exit 1
}

# cloud_log EVENT SEVERITY MESSAGE [JSON]: one structured entry in Cloud
# Logging's "dify-backup" log: {event, stack, run, dest, message, ...JSON}.
# The monitoring alerts match jsonPayload.event and jsonPayload.stack. The VM's
# journal does not reach Cloud Logging by itself, hence gcloud.
cloud_log() {
	[[ ${DIFY_CLOUD_LOGGING:-1} == 1 ]] || return 0
	local payload extra=${4:-}
	[[ -n $extra ]] || extra='{}'
	if ! payload=$(jq -cn --arg event "$1" --arg stack "${DIFY_STACK:-}" --arg run "${RUN:-}" \
		--arg dest "${BACKUP_DEST:-}" --arg message "$3" --argjson extra "$extra" \
		'{event: $event, stack: $stack, run: $run, dest: $dest, message: $message} + $extra') ||
		! gcloud logging write dify-backup "$payload" --payload-type=json --severity="$2" \
			--monitored-resource-type=global --quiet >/dev/null 2>&1; then
		warn "could not write the $1 entry to Cloud Logging"
	fi
}

# load_config: fill unset settings from the config file, then from defaults.
# The file is parsed, not sourced: only known keys, values taken literally.
load_config() {
	local file=${DIFY_BACKUP_CONFIG:-/etc/dify-gcp/backup.env} key value
	if [[ -r $file ]]; then
		while IFS='=' read -r key value; do
			case $key in
			BACKUP_DEST | DIFY_DIR | DIFY_VOLUMES | DIFY_STACK | DIFY_HEALTH_URL | DIFY_DATA_TIER | DIFY_PG_HOST | DIFY_PG_USER | DIFY_PG_IMAGE | DIFY_REDIS_IMAGE | DIFY_FILES_DEST)
				if [[ -z ${!key:-} ]]; then
					printf -v "$key" '%s' "$value"
				fi
				;;
			esac
		done <"$file"
	fi
	: "${BACKUP_DEST:?BACKUP_DEST is not set (and no $file)}"
	DIFY_DIR=${DIFY_DIR:-/mnt/disks/dify-data/current/docker}
	DIFY_VOLUMES=${DIFY_VOLUMES:-$DIFY_DIR/volumes}
	DIFY_STACK=${DIFY_STACK:-unknown}
	DIFY_DOCKER=${DIFY_DOCKER:-1}
	DIFY_PG_USER=${DIFY_PG_USER:-postgres}
	DIFY_DATABASES=${DIFY_DATABASES:-dify dify_plugin}
	DIFY_PG_WAIT_SECONDS=${DIFY_PG_WAIT_SECONDS:-300}
	DIFY_HEALTH_URL=${DIFY_HEALTH_URL:-http://127.0.0.1/console/api/ping}
	DIFY_LOCK_FILE=${DIFY_LOCK_FILE:-/run/lock/dify-backup.lock}
	DIFY_DATA_TIER=${DIFY_DATA_TIER:-vm}
	DIFY_VECTOR_EXTENSION=${DIFY_VECTOR_EXTENSION:-vector}
	[[ $DIFY_VECTOR_EXTENSION =~ ^[a-z_]+$ ]] || die "DIFY_VECTOR_EXTENSION '$DIFY_VECTOR_EXTENSION' is not an extension name"
	case $DIFY_DATA_TIER in
	vm) ;;
	managed)
		[[ $DIFY_FILES_DEST == gs://?* ]] || die "DIFY_FILES_DEST must be gs://BUCKET on the managed tier, not '${DIFY_FILES_DEST:-}'"
		DIFY_FILES_DEST=${DIFY_FILES_DEST%/}
		if [[ $DIFY_DOCKER != 0 ]]; then
			[[ -n ${DIFY_PG_HOST:-} && -n ${DIFY_PG_IMAGE:-} && -n ${DIFY_REDIS_IMAGE:-} ]] ||
				die "DIFY_PG_HOST, DIFY_PG_IMAGE and DIFY_REDIS_IMAGE must be set on the managed tier"
		fi
		;;
	*) die "DIFY_DATA_TIER must be vm or managed, not '$DIFY_DATA_TIER'" ;;
	esac
	# gcloud needs a writable configuration folder; systemd services have no HOME.
	export CLOUDSDK_CONFIG=${CLOUDSDK_CONFIG:-/var/lib/dify-gcp/gcloud}
	BACKUP_DEST=${BACKUP_DEST%/}
	case $BACKUP_DEST in
	gs://?*) DEST_KIND=gs ;;
	file:///*)
		DEST_KIND=local
		BACKUP_DEST=${BACKUP_DEST#file://}
		;;
	/*) DEST_KIND=local ;;
	*) die "BACKUP_DEST must be gs://BUCKET/PREFIX or an absolute folder, not '$BACKUP_DEST'" ;;
	esac
}

# RESTORE_MARKER (in DIFY_VOLUMES): dify-restore leaves it while it changes
# data; the startup script and dify-backup refuse to run while it is there.
readonly RESTORE_MARKER=.restore-in-progress

# private_work NAME: a private folder (0700) on tmpfs for the run, which is
# also its TMPDIR: bash writes here-documents larger than a pipe to TMPDIR,
# and the default, /tmp, is on the boot disk. Sets WORK.
private_work() {
	WORK=$(mktemp -d "${DIFY_TMP_ROOT:-/run}/$1.XXXXXX") || die "cannot create a private folder under ${DIFY_TMP_ROOT:-/run}"
	chmod 0700 "$WORK"
	export TMPDIR=$WORK
}

# refuse_unfinished_restore: nothing may read or back up half-restored data.
refuse_unfinished_restore() {
	local marker="$DIFY_VOLUMES/$RESTORE_MARKER" run
	[[ -f $marker ]] || return 0
	run=$(awk -F= '$1 == "RUN" { print $2 }' "$marker")
	die "a restore of backup ${run:-?} did not finish ($marker): finish it with 'sudo dify-restore --yes ${run:-<timestamp>}' first"
}

# take_lock: one backup, restore or upgrade at a time; wait for the one running.
take_lock() {
	mkdir -p "$(dirname "$DIFY_LOCK_FILE")"
	exec 8>"$DIFY_LOCK_FILE"
	if ! flock -w "${DIFY_LOCK_WAIT_SECONDS:-3600}" 8; then
		die "another backup, restore or upgrade holds $DIFY_LOCK_FILE"
	fi
}

# dify_version: the version whose database schema the backup holds.
dify_version() {
	if [[ -n ${DIFY_VERSION:-} ]]; then
		printf '%s\n' "$DIFY_VERSION"
		return
	fi
	local real
	real=$(readlink -f "$DIFY_DIR" 2>/dev/null) || real=""
	real=${real%/docker}
	printf '%s\n' "${real##*/}"
}

# --- the destination: a gs:// prefix or a local folder standing in for it ---

# put RUN NAME: store stdin as object NAME of run RUN.
put() {
	local run=$1 name=$2
	if [[ $DEST_KIND == gs ]]; then
		gcloud storage cp --quiet - "$BACKUP_DEST/$run/$name"
	else
		# Callers test the status, which turns off errexit in here: chain.
		mkdir -p "$BACKUP_DEST/$run" &&
			cat >"$BACKUP_DEST/$run/$name.partial" &&
			mv "$BACKUP_DEST/$run/$name.partial" "$BACKUP_DEST/$run/$name"
	fi
}

# get RUN NAME: write object NAME of run RUN to stdout.
get() {
	local run=$1 name=$2
	if [[ $DEST_KIND == gs ]]; then
		gcloud storage cat "$BACKUP_DEST/$run/$name"
	else
		cat "$BACKUP_DEST/$run/$name"
	fi
}

# has_object RUN NAME
has_object() {
	local run=$1 name=$2
	if [[ $DEST_KIND == gs ]]; then
		gcloud storage ls "$BACKUP_DEST/$run/$name" >/dev/null 2>&1
	else
		[[ -f $BACKUP_DEST/$run/$name ]]
	fi
}

# complete_runs: the timestamps of every run that has a manifest, oldest first.
complete_runs() {
	local out rc=0 f
	if [[ $DEST_KIND == gs ]]; then
		out=$(gcloud storage ls "$BACKUP_DEST/*/$MANIFEST" 2>&1) || rc=$?
		if ((rc != 0)); then
			if [[ $out == *"matched no objects"* ]]; then
				return 0
			fi
			die "cannot list $BACKUP_DEST: $out"
		fi
		while IFS= read -r f; do
			f=${f%/"$MANIFEST"}
			printf '%s\n' "${f##*/}"
		done <<<"$out" | grep -E '^[0-9]{8}T[0-9]{6}Z$' | sort || true
	else
		for f in "$BACKUP_DEST"/*/"$MANIFEST"; do
			[[ -f $f ]] || continue
			f=${f%/"$MANIFEST"}
			printf '%s\n' "${f##*/}"
		done | grep -E '^[0-9]{8}T[0-9]{6}Z$' | sort || true
	fi
}

# tap PREFIX: copy stdin to stdout, recording its byte count in PREFIX.size and
# its sha256 in PREFIX.sha256, so nothing is stored locally to be measured.
tap() {
	local p=$1 rc=0 sum_pid len_pid
	rm -f "$p.sum.fifo" "$p.len.fifo"
	mkfifo "$p.sum.fifo" "$p.len.fifo" || return 1
	sha256sum <"$p.sum.fifo" | cut -d' ' -f1 >"$p.sha256" &
	sum_pid=$!
	wc -c <"$p.len.fifo" | tr -d ' ' >"$p.size" &
	len_pid=$!
	tee "$p.sum.fifo" "$p.len.fifo" || rc=$?
	wait "$sum_pid" || rc=1
	wait "$len_pid" || rc=1
	rm -f "$p.sum.fifo" "$p.len.fifo"
	return "$rc"
}

# --- PostgreSQL: inside the compose stack, or wherever libpq points ---

dc() {
	(cd "$DIFY_DIR" && docker compose "$@")
}

# find_pg_service: the compose service running PostgreSQL. Dify 1.8 calls it
# "db", later versions "db_postgres"; failing both, any service whose image is
# postgres.
find_pg_service() {
	PG_SERVICE=""
	[[ $DIFY_DOCKER == 0 || $DIFY_DATA_TIER == managed ]] && return 0
	local running s
	running=$(dc ps --services --status running) || die "docker compose ps failed in $DIFY_DIR"
	for s in db db_postgres; do
		if grep -qx -- "$s" <<<"$running"; then
			PG_SERVICE=$s
			return 0
		fi
	done
	PG_SERVICE=$(dc ps --status running --format '{{.Service}} {{.Image}}' |
		awk '$2 ~ /(^|\/)postgres(:|@|$)/ { print $1; exit }') || true
	[[ -n $PG_SERVICE ]] || die "no running PostgreSQL service in $DIFY_DIR (looked for db, db_postgres and postgres images)"
}

# pg TOOL ARGS...: run a PostgreSQL client tool against Dify's server; stdin and
# stdout pass through. On the managed tier the server is Cloud SQL, which takes
# TLS only (PGSSLMODE=require), reached with the release's PostgreSQL image from
# the host's network, the password in a pgpass file on tmpfs (pg_login).
pg() {
	if [[ $DIFY_DATA_TIER == managed ]]; then
		if [[ $DIFY_DOCKER == 0 ]]; then
			PGSSLMODE=require PGPASSFILE=${PG_PASSFILE:-${PGPASSFILE:-}} "$@"
		else
			docker run --rm -i --network host -v "$PG_PASSFILE:$PG_PASSFILE:ro" -e PGPASSFILE="$PG_PASSFILE" \
				-e PGHOST="$DIFY_PG_HOST" -e PGPORT=5432 -e PGSSLMODE=require "$DIFY_PG_IMAGE" "$@"
		fi
	elif [[ $DIFY_DOCKER == 0 ]]; then
		"$@"
	else
		dc exec -T "$PG_SERVICE" "$@"
	fi
}

# pg_login: on the managed tier, the Cloud SQL user's password (DB_PASSWORD in
# Dify's .env, which the startup script writes) as a pgpass file in WORK.
# Without a .env (a test's local server) libpq's own settings decide.
PG_PASSFILE=""
pg_login() {
	[[ $DIFY_DATA_TIER == managed ]] || return 0
	local env="$DIFY_DIR/.env"
	if [[ ! -r $env ]]; then
		[[ $DIFY_DOCKER == 0 ]] || die "$env is missing: it holds the Cloud SQL user's password (run the startup script)"
		return 0
	fi
	PG_PASSFILE="$WORK/pgpass"
	(
		umask 077
		printf '*:*:*:%s:' "$DIFY_PG_USER"
		awk 'index($0, "DB_PASSWORD=") == 1 { v = substr($0, 13) } END { print v }' "$env"
	) >"$PG_PASSFILE"
}

# files_sync SRC DST: make the files under DST those under SRC, one of them
# DIFY_FILES_DEST (gcloud storage rsync: recursive, deleting what SRC lacks;
# symbolic links and empty folders are not copied, and Dify's storage makes
# neither).
files_sync() {
	gcloud storage rsync --recursive --delete-unmatched-destination-objects --quiet "$1" "$2"
}

# wait_for_pg: a backup fired at boot may start before the database accepts
# connections.
wait_for_pg() {
	local deadline=$((SECONDS + DIFY_PG_WAIT_SECONDS))
	until pg pg_isready -q -U "$DIFY_PG_USER" -d postgres; do
		if ((SECONDS >= deadline)); then
			die "PostgreSQL is not accepting connections (waited ${DIFY_PG_WAIT_SECONDS}s)"
		fi
		sleep 2
	done
}

# is_running SERVICE (docker mode)
is_running() {
	dc ps --services --status running | grep -qx -- "$1"
}

# wait_healthy: poll Dify's ping endpoint until it answers pong.
wait_healthy() {
	local deadline=$((SECONDS + ${DIFY_HEALTH_WAIT_SECONDS:-900})) body
	while ((SECONDS < deadline)); do
		body=$(curl -fsS --max-time 5 "$DIFY_HEALTH_URL" 2>/dev/null) || body=""
		if [[ $body =~ \"result\"[[:space:]]*:[[:space:]]*\"pong\" ]]; then
			return 0
		fi
		sleep 5
	done
	return 1
}
