# shellcheck shell=bash
# managed.sh: the managed data tier as the VM sees it. Cloud SQL for
# PostgreSQL (private IP, SSL required), Memorystore for Redis (AUTH on) and a
# files bucket are created by Pulumi; no credential passes through Pulumi or the
# metadata. With its own identity, the VM
#   - sets the Cloud SQL user's password (generated once, kept in the app
#     secret as MANAGED_DB_PASSWORD) through the Cloud SQL Admin API, on every
#     boot, so a password changed by hand is put right;
#   - reads Redis's AUTH string through the Memorystore API;
#   - creates the vector extension in Dify's database (pgvector is its vector
#     store there), and refuses to start Dify on an empty Cloud SQL database
#     while the data disk still holds a vm-tier database (docs/managed.md,
#     "Migrating from the vm tier").
# The custom role Pulumi grants allows exactly: cloudsql.users.update,
# cloudsql.users.list and cloudsql.instances.get on the instance (the last also
# reads its operations: https://cloud.google.com/sql/docs/postgres/iam-permissions),
# and redis.instances.getAuthString on the Redis instance.

SQLADMIN_URL=${DIFY_SQLADMIN_URL:-https://sqladmin.googleapis.com/v1}
REDIS_API_URL=${DIFY_REDIS_API_URL:-https://redis.googleapis.com/v1}
SQL_POLL_SECONDS=${DIFY_SQL_POLL_SECONDS:-3}
# The extension Dify's pgvector store needs (tests name another: their stand-in
# for Cloud SQL has no pgvector).
VECTOR_EXTENSION=${DIFY_VECTOR_EXTENSION:-vector}

# The services the managed tier replaces: they get a profile no one enables
# (the override), and their containers left from the vm tier are removed.
readonly MANAGED_OFF_SERVICES=(db redis weaviate)
# shellcheck disable=SC2034 # dify.sh's write_override uses it
readonly OFF_PROFILE=dify-gcp-vm-tier

# sqladmin_error RESP: the error message of a Cloud SQL answer.
sqladmin_error() {
	jq -r '.error.message // empty' "$1" 2>/dev/null || true
}

# set_db_password: give the Cloud SQL built-in user DB_USER the password in
# the app secret (users.update, a long-running operation, waited for). The
# password reaches curl in a 0600 file on tmpfs, never argv.
set_db_password() {
	local resp="$RUN_DIR/response.json" body="$RUN_DIR/request.json" op status deadline
	gcp_call "Cloud SQL Admin API" "users.list on $DB_INSTANCE" "$resp" \
		"$SQLADMIN_URL/projects/$PROJECT/instances/$DB_INSTANCE/users"
	[[ $SM_CODE == 200 ]] ||
		die "listing the users of Cloud SQL instance $DB_INSTANCE failed: HTTP $SM_CODE ($(sqladmin_error "$resp")). The VM's service account needs the custom role Pulumi grants on the instance (cloudsql.users.list, users.update, instances.get)"
	jq -e --arg u "$DB_USER" '[.items[]? | select(.name == $u and (.type // "BUILT_IN") == "BUILT_IN")] | length == 1' "$resp" >/dev/null ||
		die "Cloud SQL instance $DB_INSTANCE has no built-in user '$DB_USER' (pulumi up creates it): run pulumi up, then the startup script again"
	(
		umask 077
		env_value "$RUN_DIR/app-secrets.env" "$MANAGED_DB_PASSWORD_KEY" >"$RUN_DIR/db-password"
		jq -cn --arg name "$DB_USER" --rawfile pw "$RUN_DIR/db-password" '{name: $name, password: ($pw | rtrimstr("\n"))}' >"$body"
	)
	rm -f "$RUN_DIR/db-password"
	gcp_call "Cloud SQL Admin API" "users.update of $DB_USER on $DB_INSTANCE" "$resp" -X PUT \
		-H 'Content-Type: application/json' --data-binary @"$body" \
		"$SQLADMIN_URL/projects/$PROJECT/instances/$DB_INSTANCE/users?name=$DB_USER"
	rm -f "$body"
	[[ $SM_CODE == 200 ]] ||
		die "setting the password of $DB_USER on Cloud SQL instance $DB_INSTANCE failed: HTTP $SM_CODE ($(sqladmin_error "$resp"))"
	op=$(jq -r '.name // empty' "$resp")
	[[ $op =~ ^[A-Za-z0-9_-]+$ ]] || die "Cloud SQL answered users.update without an operation name"
	deadline=$((SECONDS + 600))
	while :; do
		status=$(jq -r '.status // empty' "$resp")
		[[ $status == DONE ]] && break
		((SECONDS < deadline)) || die "Cloud SQL operation $op (users.update of $DB_USER) is still $status after 600s"
		sleep "$SQL_POLL_SECONDS"
		gcp_call "Cloud SQL Admin API" "operations.get $op" "$resp" "$SQLADMIN_URL/projects/$PROJECT/operations/$op"
		[[ $SM_CODE == 200 ]] || die "reading Cloud SQL operation $op failed: HTTP $SM_CODE ($(sqladmin_error "$resp"))"
	done
	if jq -e '.error.errors | length > 0' "$resp" >/dev/null 2>&1; then
		die "Cloud SQL could not set the password of $DB_USER on $DB_INSTANCE: $(jq -r '[.error.errors[] | "\(.code // ""): \(.message // "")"] | join("; ")' "$resp")"
	fi
	rm -f "$resp"
	info "Cloud SQL user $DB_USER on $DB_INSTANCE has the password from $APP_SECRETS_SECRET (operation $op done)"
}

# load_redis_auth: Memorystore's AUTH string (a UUID, 36 characters) into
# RUN_DIR/redis-auth, for .env.
load_redis_auth() {
	local resp="$RUN_DIR/response.json"
	gcp_call "Memorystore API" "getAuthString of $REDIS_INSTANCE" "$resp" "$REDIS_API_URL/$REDIS_INSTANCE/authString"
	[[ $SM_CODE == 200 ]] ||
		die "reading the AUTH string of $REDIS_INSTANCE failed: HTTP $SM_CODE ($(sqladmin_error "$resp")). The VM's service account needs redis.instances.getAuthString on it (Pulumi grants it)"
	(
		umask 077
		jq -j '.authString // empty' "$resp" >"$RUN_DIR/redis-auth"
	)
	rm -f "$resp"
	[[ -s $RUN_DIR/redis-auth ]] ||
		die "$REDIS_INSTANCE has no AUTH string: AUTH is off, and the managed tier requires it (Pulumi sets authEnabled); run pulumi up"
	[[ $(<"$RUN_DIR/redis-auth") =~ ^[A-Za-z0-9-]{16,64}$ ]] ||
		die "the AUTH string of $REDIS_INSTANCE is not 16 to 64 letters, digits and hyphens (Memorystore's is a UUID): it cannot go into CELERY_BROKER_URL as it is"
	info "Memorystore AUTH string read from $REDIS_INSTANCE"
}

# cloudsql_psql DB SQL: run one statement in database DB of Cloud SQL as
# DB_USER, with the release's own PostgreSQL client image (the db service's,
# pinned in the release table: no client to install, and the same pg_dump the
# vm tier's backups use), over TLS (PGSSLMODE=require: the instance accepts
# nothing else). The password reaches the client in a pgpass file on tmpfs.
# psql's unaligned output goes to the file OUT.
cloudsql_psql() {
	local db=$1 sql=$2 out=$3 pass="$RUN_DIR/pgpass" rc=0
	(
		umask 077
		printf '*:*:*:%s:' "$DB_USER"
		env_value "$RUN_DIR/app-secrets.env" "$MANAGED_DB_PASSWORD_KEY"
	) >"$pass"
	docker run --rm -i --network host -v "$pass:$pass:ro" -e PGPASSFILE="$pass" \
		-e PGHOST="$DB_HOST" -e PGPORT=5432 -e PGUSER="$DB_USER" -e PGSSLMODE=require -e PGCONNECT_TIMEOUT=10 \
		"${IMAGES[db]}" psql -X -At -v ON_ERROR_STOP=1 -d "$db" -c "$sql" >"$out" || rc=$?
	rm -f "$pass"
	return "$rc"
}

# prepare_managed_database: the vector extension in Dify's database (Dify's
# pgvector store would create it on first use, but a missing right should stop
# the boot, not a first upload), and the guard against starting Dify on an
# empty Cloud SQL database while the data disk holds the vm tier's.
prepare_managed_database() {
	local out="$RUN_DIR/psql.out"
	[[ $VECTOR_EXTENSION =~ ^[a-z_]+$ ]] || die "'$VECTOR_EXTENSION' is not an extension name"
	retry 5 15 cloudsql_psql dify "CREATE EXTENSION IF NOT EXISTS $VECTOR_EXTENSION; SELECT to_regclass('public.alembic_version') IS NOT NULL" "$out" ||
		die "cannot prepare Cloud SQL database dify on $DB_HOST as $DB_USER (CREATE EXTENSION $VECTOR_EXTENSION): see the lines above; the user must be a built-in user (a member of cloudsqlsuperuser)"
	info "Cloud SQL: the $VECTOR_EXTENSION extension is in database dify"
	if [[ $(tail -n1 "$out") == f ]] && db_initialised; then
		rm -f "$out"
		die "Cloud SQL database dify is empty, and this data disk still holds the vm tier's database ($VOLUMES/db/data): Dify is not started on an empty database. Migrate first (docs/managed.md, 'Migrating from the vm tier'): sudo dify-restore --yes <the backup taken on the vm tier>, then run the startup script again"
	fi
	rm -f "$out"
}

# remove_off_containers: containers of db, redis and weaviate left from the
# vm tier. Compose leaves them running, since services turned off by a
# profile are not orphans; their data stays on the disk.
remove_off_containers() {
	local s ids
	for s in "${MANAGED_OFF_SERVICES[@]}"; do
		ids=$(docker ps -aq --filter label=com.docker.compose.project=dify --filter "label=com.docker.compose.service=$s") || ids=""
		if [[ -n $ids ]]; then
			info "removing the vm tier's $s container (its data stays in $VOLUMES)"
			# shellcheck disable=SC2086 # one id a word
			docker rm -f $ids >/dev/null
		fi
	done
}
