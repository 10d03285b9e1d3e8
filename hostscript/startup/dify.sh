# shellcheck shell=bash
# dify.sh: Dify's docker/ folder at one version, its .env, the compose override
# that pins every image, and the switch from one version to the next.
#
# Layout on the data disk:
#   volumes/                      all of Dify's docker/volumes
#   releases/<version>/docker/    the docker/ folder of that release; its
#                                 volumes -> ../../../volumes (a symlink)
#   current -> releases/<version> the release in use: the installed version

# The .env keys this script sets; every other key keeps the example's value.
readonly ENV_KEYS=(SECRET_KEY INIT_PASSWORD DB_PASSWORD POSTGRES_PASSWORD REDIS_PASSWORD
	CELERY_BROKER_URL SANDBOX_API_KEY CODE_EXECUTION_API_KEY PLUGIN_DAEMON_KEY
	PLUGIN_DIFY_INNER_API_KEY WEAVIATE_API_KEY WEAVIATE_AUTHENTICATION_APIKEY_ALLOWED_KEYS
	CONSOLE_API_URL CONSOLE_WEB_URL SERVICE_API_URL APP_API_URL APP_WEB_URL FILES_URL
	INTERNAL_FILES_URL TRIGGER_URL ENDPOINT_URL_TEMPLATE UPLOAD_FILE_SIZE_LIMIT
	NGINX_CLIENT_MAX_BODY_SIZE MIGRATION_ENABLED)
# The keys whose .env.example values are published secrets.
readonly SECRET_ENV_KEYS=(SECRET_KEY DB_PASSWORD REDIS_PASSWORD SANDBOX_API_KEY
	CODE_EXECUTION_API_KEY PLUGIN_DAEMON_KEY PLUGIN_DIFY_INNER_API_KEY WEAVIATE_API_KEY
	WEAVIATE_AUTHENTICATION_APIKEY_ALLOWED_KEYS)

compose_in() {
	local dir=$1
	shift
	(cd "$dir" && docker compose "$@")
}

# ensure_release VERSION: the docker/ folder of the Dify tag VERSION, fetched
# once. A release becomes visible (renamed into place) only when complete.
ensure_release() {
	local v=$1 rel="$RELEASES/$1" part="$RELEASES/.$1.partial"
	if [[ -f $rel/.complete ]]; then
		info "Dify $v's docker/ folder is present in $rel"
		return 0
	fi
	info "fetching Dify $v's docker/ folder from GitHub"
	rm -rf "$part" "$part.tar.gz"
	mkdir -p "$part"
	retry 5 15 curl -fsSL -o "$part.tar.gz" "https://github.com/langgenius/dify/archive/refs/tags/$v.tar.gz"
	tar -xzf "$part.tar.gz" -C "$part" --strip-components=1 "dify-$v/docker"
	rm -f "$part.tar.gz"
	[[ -f $part/docker/docker-compose.yaml && -f $part/docker/.env.example ]] ||
		die "the $v tarball has no docker/docker-compose.yaml or docker/.env.example"
	# The release's volumes folder seeds files the services need (the sandbox's
	# conf/config.yaml among them). Only what is missing is copied: existing
	# files and folders, their modes and owners, are left as they are.
	if [[ -d $part/docker/volumes ]]; then
		seed_volumes "$part/docker/volumes"
		rm -rf "$part/docker/volumes"
	fi
	# A symlink rather than a bind mount: nothing to mount before Docker starts,
	# it moves with the release on upgrade, and `ls -l` shows where data lives.
	ln -s ../../../volumes "$part/docker/volumes"
	touch "$part/.complete"
	mv "$part" "$rel"
	info "Dify $v's docker/ folder is in $rel"
}

# seed_volumes DIR: copy into VOLUMES each folder, file and link of DIR that
# VOLUMES lacks.
seed_volumes() {
	local seed=$1 f
	while IFS= read -r -d '' f; do
		if [[ -e $VOLUMES/$f || -L $VOLUMES/$f ]]; then
			continue
		fi
		if [[ -d $seed/$f && ! -L $seed/$f ]]; then
			mkdir -p "$VOLUMES/$f"
		else
			cp -a "$seed/$f" "$VOLUMES/$f"
		fi
	done < <(cd "$seed" && find . -mindepth 1 -print0 | sort -z)
}

# write_env DIR: DIR/.env from DIR/.env.example, with the secrets and this
# deployment's settings, plus the operator's own settings from
# $DATA_MNT/env.local if present (mail, for instance); mode 0600; replaced
# only when it changes. Edits to .env itself do not survive the next boot.
write_env() {
	local dir=$1
	[[ -f $dir/.env.example ]] || die "$dir/.env.example is missing"
	# shellcheck disable=SC2154 # the DIFYENV_ variables are exported by name
	(
		umask 077
		for k in "${APP_SECRET_KEYS[@]}"; do
			export "DIFYENV_$k=$(env_value "$RUN_DIR/app-secrets.env" "$k")"
			v="DIFYENV_$k"
			[[ -n ${!v} ]] || exit 1
		done
		export DIFYENV_INIT_PASSWORD
		DIFYENV_INIT_PASSWORD=$(<"$RUN_DIR/admin-password")
		export DIFYENV_POSTGRES_PASSWORD=$DIFYENV_DB_PASSWORD
		export DIFYENV_CELERY_BROKER_URL="redis://:$DIFYENV_REDIS_PASSWORD@redis:6379/1"
		export DIFYENV_CODE_EXECUTION_API_KEY=$DIFYENV_SANDBOX_API_KEY
		export DIFYENV_WEAVIATE_AUTHENTICATION_APIKEY_ALLOWED_KEYS=$DIFYENV_WEAVIATE_API_KEY
		# What the browser calls: $BROWSER_URL, empty for a private stack, which
		# Dify reads as "the origin that served the page". What other systems
		# call with their own ID token: $PUBLIC_URL.
		export DIFYENV_CONSOLE_API_URL=$BROWSER_URL DIFYENV_CONSOLE_WEB_URL=$BROWSER_URL
		export DIFYENV_APP_API_URL=$BROWSER_URL DIFYENV_APP_WEB_URL=$BROWSER_URL DIFYENV_FILES_URL=$BROWSER_URL
		export DIFYENV_SERVICE_API_URL=$PUBLIC_URL DIFYENV_TRIGGER_URL=$PUBLIC_URL
		# The plugin daemon fetches files inside the compose network, not
		# through the public (possibly IAM-protected) URL.
		export DIFYENV_INTERNAL_FILES_URL=http://api:5001
		export DIFYENV_ENDPOINT_URL_TEMPLATE="$PUBLIC_URL/e/{hook_id}"
		export DIFYENV_UPLOAD_FILE_SIZE_LIMIT=$UPLOAD_LIMIT_MIB
		export DIFYENV_NGINX_CLIENT_MAX_BODY_SIZE="${BODY_LIMIT_MIB}M"
		export DIFYENV_MIGRATION_ENABLED=true
		local_env=""
		if [[ -f $DATA_MNT/env.local ]]; then
			local_env=$DATA_MNT/env.local
			info "adding the operator's settings from $local_env"
		fi
		awk -v set="${ENV_KEYS[*]}" -v secret="${SECRET_ENV_KEYS[*]}" -v localfile="$local_env" \
			-f "$LIB_DIR/env.awk" "$dir/.env.example" "$dir/.env.example" >"$dir/.env.new" 2>"$RUN_DIR/env.awk.log"
	) || die "writing $dir/.env failed: $(cat "$RUN_DIR/env.awk.log" 2>/dev/null)"
	local line
	while IFS= read -r line; do
		info "$line"
	done <"$RUN_DIR/env.awk.log"
	chmod 0600 "$dir/.env.new"
	local k
	for k in "${ENV_KEYS[@]}"; do
		[[ $(grep -c "^$k=" "$dir/.env.new") == 1 ]] || die ".env: $k is not set exactly once"
	done
	if [[ -f $dir/.env ]] && cmp -s "$dir/.env.new" "$dir/.env"; then
		rm -f "$dir/.env.new"
		info "$dir/.env is up to date"
	else
		mv -f "$dir/.env.new" "$dir/.env"
		info "wrote $dir/.env (mode 0600; values not shown)"
	fi
}

# write_override DIR: pin every image to this deployment's versions (the 1.8.1
# compose file left worker, worker_beat and web on 1.8.0), publish nothing but
# nginx on $DIFY_PORT (no 443) and the plugin debugging port on loopback only.
# EXPOSE_PLUGIN_DEBUGGING_HOST would not do: it is what Dify tells plugin
# developers, not a bind address. `!override` replaces the base file's list.
write_override() {
	local dir=$1
	install_file "$dir/docker-compose.override.yaml" 0644 <<YAML
# Written by the dify-gcp startup script on every boot: edits are overwritten.
name: dify
services:
  api:
    image: langgenius/dify-api:$DIFY_VERSION
  worker:
    image: langgenius/dify-api:$DIFY_VERSION
  worker_beat:
    image: langgenius/dify-api:$DIFY_VERSION
  web:
    image: langgenius/dify-web:$DIFY_VERSION
  sandbox:
    image: $SANDBOX_IMAGE
  plugin_daemon:
    image: $PLUGIN_DAEMON_IMAGE
    ports: !override
      - "127.0.0.1:\${EXPOSE_PLUGIN_DEBUGGING_PORT:-5003}:\${PLUGIN_DEBUGGING_PORT:-5003}"
  nginx:
    ports: !override
      - "$DIFY_PORT:\${NGINX_PORT:-80}"
YAML
}

# published_defaults DIR: the example's values of the secret keys, one a line.
published_defaults() {
	local k v
	for k in "${SECRET_ENV_KEYS[@]}"; do
		v=$(env_value "$1/.env.example" "$k")
		[[ -n $v && $v != \$* ]] && printf '%s\n' "$v"
	done
	return 0
}

# The container settings that carry secrets of services this deployment runs
# (api, worker, db, redis, sandbox, plugin_daemon, weaviate).
readonly SECRET_CONTAINER_KEYS="SECRET_KEY INIT_PASSWORD DB_PASSWORD POSTGRES_PASSWORD REDIS_PASSWORD REDISCLI_AUTH CELERY_BROKER_URL CODE_EXECUTION_API_KEY API_KEY PLUGIN_DAEMON_KEY SERVER_KEY INNER_API_KEY_FOR_PLUGIN DIFY_INNER_API_KEY PLUGIN_DIFY_INNER_API_KEY WEAVIATE_API_KEY AUTHENTICATION_APIKEY_ALLOWED_KEYS"

# check_compose DEFAULTS < `docker compose config --format json`: refuse a
# configuration that runs an image other than the pinned ones, publishes a
# port beyond nginx on $DIFY_PORT and loopback, or hands a running service a published
# default secret (the compose file's own ${VAR:-default} fallbacks included).
# Messages name services and settings, never values.
check_compose() {
	local defaults=$1 json bad s want got
	json=$(cat)
	for s in api worker worker_beat web sandbox plugin_daemon; do
		case $s in
		api | worker | worker_beat) want=langgenius/dify-api:$DIFY_VERSION ;;
		web) want=langgenius/dify-web:$DIFY_VERSION ;;
		sandbox) want=$SANDBOX_IMAGE ;;
		plugin_daemon) want=$PLUGIN_DAEMON_IMAGE ;;
		esac
		got=$(jq -r --arg s "$s" '.services[$s].image // "(no such service)"' <<<"$json") ||
			die "cannot read the compose configuration"
		[[ $got == "$want" ]] || die "refusing to start: $s runs $got, not $want"
	done
	bad=$(jq -r --arg port "$DIFY_PORT" '.services | to_entries[] | .key as $s | (.value.ports // [])[]
		| select(.host_ip != "127.0.0.1")
		| select(($s == "nginx" and (.target|tostring) == "80" and (.published|tostring) == $port and (.host_ip // "") == "") | not)
		| "\($s) publishes \(.target) on \(.host_ip // "all interfaces"):\(.published)"' <<<"$json") ||
		die "cannot read the compose configuration"
	[[ -z $bad ]] || die "refusing to start: $(tr '\n' ';' <<<"$bad")"
	[[ $(jq -r '.services.nginx.ports // [] | length' <<<"$json") == 1 ]] ||
		die "refusing to start: nginx should publish exactly one port, $DIFY_PORT"
	bad=$(jq -r --rawfile defaults "$defaults" --arg keys "$SECRET_CONTAINER_KEYS" '
		($defaults | split("\n") | map(select(length > 0))) as $d
		| ($keys | split(" ")) as $k
		| .services | to_entries[] | .key as $s | .value as $svc
		| ( ($svc.environment // {}) | to_entries[]
		    | select(.key as $n | any($k[]; . == $n))
		    | {where: "\($s) \(.key)", v: (.value // "")} ),
		  {where: "\($s) command", v: ($svc.command // [] | if type == "array" then join(" ") else . end)}
		| select(.v as $v | any($d[]; . as $x | $v | contains($x)))
		| .where' <<<"$json") || die "cannot read the compose configuration"
	[[ -z $bad ]] || die "refusing to start: a published default secret reaches $(tr '\n' ';' <<<"$bad")"
}

verify_compose() {
	local dir=$1
	published_defaults "$dir" >"$RUN_DIR/published-defaults"
	compose_in "$dir" config --format json | check_compose "$RUN_DIR/published-defaults"
	info "compose configuration checked: images pinned, only nginx on $DIFY_PORT and loopback ports published, no default secret"
}

# pg_service DIR: Dify 1.8 names the database service db, later versions
# db_postgres.
pg_service() {
	local services s
	services=$(compose_in "$1" config --services)
	for s in db db_postgres; do
		if grep -qx -- "$s" <<<"$services"; then
			printf '%s\n' "$s"
			return 0
		fi
	done
	return 1
}

# converge_dify: on an upgrade, back up first (with the old release's compose
# project, its database started if need be); then point `current` at this
# version, start it, and wait until Dify answers. MIGRATION_ENABLED=true makes
# the api container migrate the schema when it starts.
converge_dify() {
	local prev db
	prev=$(current_version)
	if [[ -n $prev && $prev != "$DIFY_VERSION" ]]; then
		step upgrade "upgrading Dify $prev -> $DIFY_VERSION: taking a backup first"
		[[ -d $RELEASES/$prev/docker ]] || die "the installed release $RELEASES/$prev is missing: cannot back it up before upgrading"
		db=$(pg_service "$RELEASES/$prev/docker") || die "no database service in Dify $prev's compose file"
		compose_in "$RELEASES/$prev/docker" up -d --wait "$db"
		systemctl start dify-backup.service ||
			die "the pre-upgrade backup failed (journalctl -u dify-backup): not upgrading, Dify $prev stays installed"
		info "pre-upgrade backup done"
	fi
	# Hold the backup lock while containers are replaced: a timer-started backup
	# waits instead of failing half way.
	exec 9>"$BACKUP_LOCK"
	flock -w 3600 9 || die "a backup or restore holds $BACKUP_LOCK"
	if [[ $prev != "$DIFY_VERSION" ]]; then
		ln -sfn "releases/$DIFY_VERSION" "$CURRENT.new"
		mv -Tf "$CURRENT.new" "$CURRENT"
		info "current -> releases/$DIFY_VERSION${prev:+ (was $prev)}"
	fi
	step start "starting Dify $DIFY_VERSION (docker compose up -d)"
	retry 3 30 dc up -d --remove-orphans --pull missing --quiet-pull
	step health "waiting for $HEALTH_URL to answer pong"
	local deadline=$((SECONDS + 900)) body
	while :; do
		body=$(curl -fsS --max-time 5 "$HEALTH_URL" 2>/dev/null) || body=""
		[[ $body =~ \"result\"[[:space:]]*:[[:space:]]*\"pong\" ]] && break
		if ((SECONDS >= deadline)); then
			dc ps --format '{{.Service}} {{.State}} {{.Status}}' || true
			die "Dify did not answer $HEALTH_URL within 900s; see 'docker compose logs api' in $CURRENT/docker"
		fi
		sleep 5
	done
	flock -u 9
	info "Dify $DIFY_VERSION answers pong"
}
