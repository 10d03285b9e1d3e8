# shellcheck shell=bash
# dify.sh: Dify's docker/ folder at one version, its .env, the compose override
# that pins every image, and the switch from one version to the next.
#
# Layout on the data disk:
#   volumes/                      all of Dify's docker/volumes
#   releases/<version>/docker/    the docker/ folder of that release; its
#                                 volumes -> ../../../volumes (a symlink)
#   current -> releases/<version> the release in use: the installed version

# The .env keys this script sets; every other key keeps the example's value,
# or the operator's from env.local.
readonly ENV_KEYS=(SECRET_KEY INIT_PASSWORD DB_PASSWORD POSTGRES_PASSWORD REDIS_PASSWORD
	CELERY_BROKER_URL SANDBOX_API_KEY CODE_EXECUTION_API_KEY PLUGIN_DAEMON_KEY
	PLUGIN_DIFY_INNER_API_KEY WEAVIATE_API_KEY WEAVIATE_AUTHENTICATION_APIKEY_ALLOWED_KEYS
	WEAVIATE_AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED VECTOR_STORE COMPOSE_PROFILES
	CONSOLE_API_URL CONSOLE_WEB_URL SERVICE_API_URL APP_API_URL APP_WEB_URL FILES_URL
	INTERNAL_FILES_URL TRIGGER_URL ENDPOINT_URL_TEMPLATE UPLOAD_FILE_SIZE_LIMIT
	UPLOAD_IMAGE_FILE_SIZE_LIMIT UPLOAD_VIDEO_FILE_SIZE_LIMIT UPLOAD_AUDIO_FILE_SIZE_LIMIT
	PLUGIN_MAX_PACKAGE_SIZE NGINX_CLIENT_MAX_BODY_SIZE MIGRATION_ENABLED)
# The keys whose .env.example values are published secrets (long enough that
# any other setting containing one is blanked).
readonly SECRET_ENV_KEYS=(SECRET_KEY DB_PASSWORD REDIS_PASSWORD SANDBOX_API_KEY
	CODE_EXECUTION_API_KEY PLUGIN_DAEMON_KEY PLUGIN_DIFY_INNER_API_KEY WEAVIATE_API_KEY
	WEAVIATE_AUTHENTICATION_APIKEY_ALLOWED_KEYS)
# A setting is password-like when its name ends so: PASSWORD, SECRET_KEY,
# API_KEY, ACCESS_KEY, TOKEN, ... Every password-like setting whose published
# default (in .env.example or as ${NAME:-default} in the compose file) is not
# empty gets a value of this deployment's own, used or not: compose brings the
# published default back for an empty one.
readonly PASSWORD_LIKE='(^|_)(PASSWORD|PWD|SECRET|KEY|KEYS|TOKEN|AUTH|CREDENTIALS|KEY_ID|SECRET_ID)$'
# The .env keys this script also sets on the managed tier: where Cloud SQL,
# Memorystore and the files bucket are. DB_EXTRAS and the SSL settings are not
# .env keys: Dify 1.8.1's compose file passes none of them, so the override
# sets them on the services.
readonly MANAGED_ENV_KEYS=(DB_HOST DB_PORT DB_USERNAME DB_DATABASE DB_PLUGIN_DATABASE
	REDIS_HOST REDIS_PORT REDIS_USE_SSL PGVECTOR_HOST PGVECTOR_PORT PGVECTOR_USER
	PGVECTOR_PASSWORD PGVECTOR_DATABASE STORAGE_TYPE GOOGLE_STORAGE_BUCKET_NAME
	GOOGLE_STORAGE_SERVICE_ACCOUNT_JSON_BASE64)
# The one vector store each tier runs and backs up: weaviate (volumes/weaviate)
# on the vm tier, pgvector (inside Cloud SQL's dify database, in its dumps) on
# the managed tier.
if [[ $DATA_TIER == managed ]]; then
	readonly VECTOR_STORE=pgvector
else
	readonly VECTOR_STORE=weaviate
fi

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

# secret_defaults DIR: every password-like setting whose published default is
# not empty, as KEY=DEFAULT lines: the values of .env.example, and the
# ${KEY:-default} fallbacks of docker-compose.yaml. Defaults that are another
# variable (${KEY:-${OTHER}}) are left out.
secret_defaults() {
	local dir=$1
	{
		grep -oE '^[A-Za-z_][A-Za-z0-9_]*=.+' "$dir/.env.example" || true
		grep -oE '\$\{[A-Za-z_][A-Za-z0-9_]*:?-[^}$]+\}' "$dir/docker-compose.yaml" |
			sed -E 's/^\$\{([A-Za-z0-9_]+):?-(.*)\}$/\1=\2/' || true
	} | awk -F= -v re="$PASSWORD_LIKE" '$1 ~ re && substr($0, length($1) + 2) !~ /^\$/' | sort -u
}

# derived_secret KEY: this deployment's value for a password-like setting of
# a store or service it does not run: stable across boots and VMs (a hash of
# SECRET_KEY and the name), never a published default. The secret reaches
# sha256sum on stdin, never argv.
derived_secret() {
	printf '%s\ndify-gcp/%s\n' "$DIFYENV_SECRET_KEY" "$1" | sha256sum | cut -c1-40
}

# refuse_other_stores: only the tier's vector store runs, and only its data is
# backed up (volumes/weaviate, or the Cloud SQL dumps); another store would run
# with no backup. On the managed tier no profile may start a container.
refuse_other_stores() {
	local file=$DATA_MNT/env.local k v where=volumes/$VECTOR_STORE
	[[ -f $file ]] || return 0
	[[ $DATA_TIER == managed ]] && where="the Cloud SQL database's dumps"
	for k in VECTOR_STORE COMPOSE_PROFILES; do
		v=$(env_value "$file" "$k")
		if [[ -n $v && ($v != "$VECTOR_STORE" || ($k == COMPOSE_PROFILES && $DATA_TIER == managed)) ]]; then
			die "$file sets $k=$v: this deployment runs the $VECTOR_STORE vector store only, and only its data ($where) is in the backups, so another store would run unprotected. Remove the line, then run the startup script again"
		fi
	done
}

# write_env DIR: DIR/.env from DIR/.env.example, with the secrets and this
# deployment's settings, plus the operator's own settings from
# $DATA_MNT/env.local if present (mail, for instance); mode 0600; replaced
# only when it changes. Edits to .env itself do not survive the next boot.
write_env() {
	local dir=$1 fill keys=("${ENV_KEYS[@]}")
	[[ -f $dir/.env.example ]] || die "$dir/.env.example is missing"
	refuse_other_stores
	if [[ $DATA_TIER == managed ]]; then
		keys+=("${MANAGED_ENV_KEYS[@]}")
	fi
	fill=$(secret_defaults "$dir" | cut -d= -f1 | sort -u | grep -vxF -f <(printf '%s\n' "${keys[@]}") | tr '\n' ' ') || true
	# shellcheck disable=SC2154 # the DIFYENV_ variables are exported by name
	(
		umask 077
		for k in "${APP_SECRET_KEYS[@]}"; do
			export "DIFYENV_$k=$(env_value "$RUN_DIR/app-secrets.env" "$k")"
			v="DIFYENV_$k"
			[[ -n ${!v} ]] || exit 1
		done
		for k in $fill; do
			export "DIFYENV_$k=$(derived_secret "$k")"
		done
		export DIFYENV_INIT_PASSWORD
		DIFYENV_INIT_PASSWORD=$(<"$RUN_DIR/admin-password")
		# The vm tier's database container keeps the vm tier's password.
		export DIFYENV_POSTGRES_PASSWORD=$DIFYENV_DB_PASSWORD
		export DIFYENV_CODE_EXECUTION_API_KEY=$DIFYENV_SANDBOX_API_KEY
		export DIFYENV_WEAVIATE_AUTHENTICATION_APIKEY_ALLOWED_KEYS=$DIFYENV_WEAVIATE_API_KEY
		export DIFYENV_WEAVIATE_AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED=false
		export DIFYENV_VECTOR_STORE=$VECTOR_STORE
		if [[ $DATA_TIER == managed ]]; then
			# Cloud SQL (TLS: see the override), Memorystore (AUTH, no TLS:
			# plugin daemon 0.2.0 cannot verify Memorystore's CA), the files
			# bucket with the VM's own identity (an empty key makes Dify use
			# Application Default Credentials), pgvector in database dify.
			# No profile: db, redis and weaviate do not run.
			DIFYENV_DB_PASSWORD=$(env_value "$RUN_DIR/app-secrets.env" "$MANAGED_DB_PASSWORD_KEY")
			DIFYENV_REDIS_PASSWORD=$(<"$RUN_DIR/redis-auth")
			export DIFYENV_DB_PASSWORD DIFYENV_REDIS_PASSWORD DIFYENV_COMPOSE_PROFILES=""
			export DIFYENV_DB_HOST=$DB_HOST DIFYENV_DB_PORT=5432 DIFYENV_DB_USERNAME=$DB_USER
			export DIFYENV_DB_DATABASE=dify DIFYENV_DB_PLUGIN_DATABASE=dify_plugin
			export DIFYENV_REDIS_HOST=$REDIS_HOST DIFYENV_REDIS_PORT=$REDIS_PORT DIFYENV_REDIS_USE_SSL=false
			export DIFYENV_CELERY_BROKER_URL="redis://:$DIFYENV_REDIS_PASSWORD@$REDIS_HOST:$REDIS_PORT/1"
			export DIFYENV_PGVECTOR_HOST=$DB_HOST DIFYENV_PGVECTOR_PORT=5432 DIFYENV_PGVECTOR_USER=$DB_USER
			export DIFYENV_PGVECTOR_PASSWORD=$DIFYENV_DB_PASSWORD DIFYENV_PGVECTOR_DATABASE=dify
			export DIFYENV_STORAGE_TYPE=google-storage DIFYENV_GOOGLE_STORAGE_BUCKET_NAME=$FILES_BUCKET
			export DIFYENV_GOOGLE_STORAGE_SERVICE_ACCOUNT_JSON_BASE64=""
		else
			export DIFYENV_CELERY_BROKER_URL="redis://:$DIFYENV_REDIS_PASSWORD@redis:6379/1"
			export DIFYENV_COMPOSE_PROFILES=$VECTOR_STORE
		fi
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
		# Every upload-like limit is capped by the one upload limit, which
		# the body limit of nginx and of the proxy leave room for: a file Dify
		# refuses gets Dify's own size message, never a bare 413 (Dify counts
		# these in MiB; its defaults: images 10, video 100, audio 50, plugin
		# packages 50 MiB).
		export DIFYENV_UPLOAD_FILE_SIZE_LIMIT=$UPLOAD_LIMIT_MIB
		export DIFYENV_UPLOAD_IMAGE_FILE_SIZE_LIMIT=$((UPLOAD_LIMIT_MIB < 10 ? UPLOAD_LIMIT_MIB : 10))
		export DIFYENV_UPLOAD_VIDEO_FILE_SIZE_LIMIT=$((UPLOAD_LIMIT_MIB < 100 ? UPLOAD_LIMIT_MIB : 100))
		export DIFYENV_UPLOAD_AUDIO_FILE_SIZE_LIMIT=$((UPLOAD_LIMIT_MIB < 50 ? UPLOAD_LIMIT_MIB : 50))
		export DIFYENV_PLUGIN_MAX_PACKAGE_SIZE=$(((UPLOAD_LIMIT_MIB < 50 ? UPLOAD_LIMIT_MIB : 50) * 1048576))
		export DIFYENV_NGINX_CLIENT_MAX_BODY_SIZE="${BODY_LIMIT_MIB}M"
		# Only api migrates: the override turns it off for worker and worker_beat.
		export DIFYENV_MIGRATION_ENABLED=true
		local_env=""
		if [[ -f $DATA_MNT/env.local ]]; then
			local_env=$DATA_MNT/env.local
			info "adding the operator's settings from $local_env"
		fi
		awk -v set="${keys[*]}" -v fill="$fill" -v secret="${SECRET_ENV_KEYS[*]}" -v localfile="$local_env" \
			-f "$LIB_DIR/env.awk" "$dir/.env.example" "$dir/.env.example" >"$dir/.env.new" 2>"$RUN_DIR/env.awk.log"
	) || die "writing $dir/.env failed: $(cat "$RUN_DIR/env.awk.log" 2>/dev/null)"
	local line
	while IFS= read -r line; do
		info "$line"
	done <"$RUN_DIR/env.awk.log"
	chmod 0600 "$dir/.env.new"
	local k
	for k in "${keys[@]}"; do
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

# write_override DIR: pin every service to the release table's image (the
# 1.8.1 compose file left worker, worker_beat and web on 1.8.0, nginx and
# ssrf_proxy on latest), let only api run the database migrations, publish
# nothing but nginx on $DIFY_PORT (no 443) and the plugin debugging port on
# loopback only. EXPOSE_PLUGIN_DEBUGGING_HOST would not do: it is what Dify
# tells plugin developers, not a bind address. `!override` replaces the base
# file's list.
#
# On the managed tier it also turns off db, redis and weaviate (a profile no
# one enables, `!override` replacing the base file's list; weaviate's
# includes '', which an empty COMPOSE_PROFILES would enable), drops every
# dependency on them (`!reset`: compose refuses a dependency on a disabled
# service), and makes every connection to Cloud SQL use TLS: DB_EXTRAS
# (appended to Dify's SQLAlchemy URL) and PGSSLMODE (libpq's default, for
# the pgvector store's own connection pool) for api, worker and worker_beat,
# DB_SSL_MODE for the plugin daemon (0.2.0 accepts disable or require).
write_override() {
	local dir=$1 s managed=0
	[[ $DATA_TIER == managed ]] && managed=1
	{
		printf '%s\n' "# Written by the dify-gcp startup script on every boot: edits are overwritten." "name: dify" "services:"
		for s in $(printf '%s\n' "${!IMAGES[@]}" | sort); do
			printf '  %s:\n    image: %s\n' "$s" "${IMAGES[$s]}"
			if ((managed)) && [[ " ${MANAGED_OFF_SERVICES[*]} " == *" $s "* ]]; then
				printf '    profiles: !override\n      - %s\n' "$OFF_PROFILE"
			fi
			case $s in
			api | worker | worker_beat)
				if [[ $s != api || $managed == 1 ]]; then
					printf '    environment:\n'
				fi
				if [[ $s != api ]]; then
					printf '      MIGRATION_ENABLED: "false"\n'
				fi
				if ((managed)); then
					printf '      DB_EXTRAS: sslmode=require\n      PGSSLMODE: require\n    depends_on: !reset {}\n'
				fi
				;;
			plugin_daemon)
				if ((managed)); then
					printf '    environment:\n      DB_SSL_MODE: require\n    depends_on: !reset {}\n'
				fi
				# shellcheck disable=SC2016 # compose expands these, not bash
				printf '    ports: !override\n      - "127.0.0.1:${EXPOSE_PLUGIN_DEBUGGING_PORT:-5003}:${PLUGIN_DEBUGGING_PORT:-5003}"\n'
				;;
			nginx)
				# shellcheck disable=SC2016 # compose expands these, not bash
				printf '    ports: !override\n      - "%s:${NGINX_PORT:-80}"\n' "$DIFY_PORT"
				;;
			esac
		done
	} | install_file "$dir/docker-compose.override.yaml" 0644
}

# The settings that must hold the same secret on both sides, as
# "SERVICE KEY SERVICE KEY"; redis's password is also in its command.
readonly COUPLED_SETTINGS="api DB_PASSWORD db POSTGRES_PASSWORD
api DB_PASSWORD plugin_daemon DB_PASSWORD
api REDIS_PASSWORD redis REDISCLI_AUTH
api REDIS_PASSWORD plugin_daemon REDIS_PASSWORD
api CODE_EXECUTION_API_KEY sandbox API_KEY
api PLUGIN_DAEMON_KEY plugin_daemon SERVER_KEY
api INNER_API_KEY_FOR_PLUGIN plugin_daemon DIFY_INNER_API_KEY
api WEAVIATE_API_KEY weaviate AUTHENTICATION_APIKEY_ALLOWED_KEYS
api SECRET_KEY worker SECRET_KEY
api SECRET_KEY worker_beat SECRET_KEY
api CELERY_BROKER_URL worker CELERY_BROKER_URL"
# The same on the managed tier, where db, redis and weaviate do not run and
# the vector store shares the database's password.
readonly MANAGED_COUPLED_SETTINGS="api DB_PASSWORD plugin_daemon DB_PASSWORD
api DB_PASSWORD api PGVECTOR_PASSWORD
api DB_PASSWORD worker PGVECTOR_PASSWORD
api REDIS_PASSWORD plugin_daemon REDIS_PASSWORD
api REDIS_PASSWORD worker REDIS_PASSWORD
api CODE_EXECUTION_API_KEY sandbox API_KEY
api PLUGIN_DAEMON_KEY plugin_daemon SERVER_KEY
api INNER_API_KEY_FOR_PLUGIN plugin_daemon DIFY_INNER_API_KEY
api SECRET_KEY worker SECRET_KEY
api SECRET_KEY worker_beat SECRET_KEY
api CELERY_BROKER_URL worker CELERY_BROKER_URL
api CELERY_BROKER_URL worker_beat CELERY_BROKER_URL"

# check_compose JSON DEFAULTS: refuse the resolved configuration (the output of
# `docker compose config --format json`, in the file JSON) unless every
# service runs the release table's image, nothing but nginx on $DIFY_PORT
# and loopback is published, no password-like setting of any service holds a
# published default (DEFAULTS: secret_defaults' KEY=DEFAULT lines) and no
# setting or command contains a long one, coupled settings are equal, only
# api migrates, and every size limit fits the upload limit. Messages name
# services and settings, never values. The configuration holds every secret:
# it is read from its file by jq, never through a here-string, which bash
# would write to $TMPDIR when larger than a pipe.
check_compose() {
	local json=$1 defaults=$2 pins="$RUN_DIR/images.json" bad coupled=$COUPLED_SETTINGS
	local s off=" "
	if [[ $DATA_TIER == managed ]]; then
		off=" ${MANAGED_OFF_SERVICES[*]} "
		coupled=$MANAGED_COUPLED_SETTINGS
		bad=$(jq -r --arg off "$off" '.services | keys[] | select(. as $s | $off | contains(" \($s) "))' "$json") ||
			die "cannot read the compose configuration"
		[[ -z $bad ]] || die "refusing to start: on the managed tier Cloud SQL, Memorystore and pgvector replace db, redis and weaviate, but these would run: $(tr '\n' ' ' <<<"$bad")"
	fi
	for s in "${!IMAGES[@]}"; do
		[[ $off == *" $s "* ]] || printf '%s\t%s\n' "$s" "${IMAGES[$s]}"
	done | jq -Rn '[inputs | split("\t") | {(.[0]): .[1]}] | add' >"$pins"
	bad=$(jq -r --slurpfile want "$pins" '$want[0] as $w | .services as $svc
		| ($svc | to_entries[] | select(.value.image != $w[.key])
		   | if $w[.key] == null then "\(.key) runs \(.value.image), which the release table does not pin"
		     else "\(.key) runs \(.value.image), not \($w[.key])" end),
		  ($w | keys[] | select($svc[.] == null) | "\(.) is not in the configuration")' "$json") ||
		die "cannot read the compose configuration"
	[[ -z $bad ]] || die "refusing to start: $(tr '\n' ';' <<<"$bad")"
	bad=$(jq -r --arg port "$DIFY_PORT" '.services | to_entries[] | .key as $s | (.value.ports // [])[]
		| select(.host_ip != "127.0.0.1")
		| select(($s == "nginx" and (.target|tostring) == "80" and (.published|tostring) == $port and (.host_ip // "") == "") | not)
		| "\($s) publishes \(.target) on \(.host_ip // "all interfaces"):\(.published)"' "$json") ||
		die "cannot read the compose configuration"
	[[ -z $bad ]] || die "refusing to start: $(tr '\n' ';' <<<"$bad")"
	[[ $(jq -r '.services.nginx.ports // [] | length' "$json") == 1 ]] ||
		die "refusing to start: nginx should publish exactly one port, $DIFY_PORT"
	bad=$(jq -r --rawfile defaults "$defaults" --arg re "$PASSWORD_LIKE" '
		($defaults | split("\n") | map(select(length > 0) | sub("^[^=]*="; "")) | unique) as $d
		| ($d | map(select(length >= 12))) as $long
		| .services | to_entries[] | .key as $s | .value as $svc
		| ( ($svc.environment // {}) | to_entries[] | {k: .key, v: (.value // "")}
		    | select((.k | test($re)) and (.v as $v | any($d[]; . == $v)) or (.v as $v | any($long[]; . as $x | $v | contains($x))))
		    | "\($s) \(.k)" ),
		  ( [($svc.command // []), ($svc.entrypoint // [])] | flatten | join(" ")
		    | select(. as $v | any($long[]; . as $x | $v | contains($x))) | "\($s) command" )' "$json") ||
		die "cannot read the compose configuration"
	[[ -z $bad ]] || die "refusing to start: a published default secret reaches $(tr '\n' ';' <<<"$bad")"
	local broker="redis:6379"
	[[ $DATA_TIER == managed ]] && broker="$REDIS_HOST:$REDIS_PORT"
	bad=$(jq -r --arg pairs "$coupled" --arg broker "$broker" --arg tier "$DATA_TIER" '.services as $svc
		| ($pairs | split("\n")[] | split(" ")
		   | select(($svc[.[0]].environment[.[1]] // "") != ($svc[.[2]].environment[.[3]] // "")
		            or ($svc[.[0]].environment[.[1]] // "") == "")
		   | "\(.[0]) \(.[1]) and \(.[2]) \(.[3])"),
		  (select($tier == "vm") | $svc.redis.command // [] | index("--requirepass") as $i
		   | select($i == null or .[$i + 1] != ($svc.api.environment.REDIS_PASSWORD // ""))
		   | "api REDIS_PASSWORD and redis --requirepass"),
		  (select(($svc.api.environment.CELERY_BROKER_URL // "") != "redis://:\($svc.api.environment.REDIS_PASSWORD // "")@\($broker)/1")
		   | "api CELERY_BROKER_URL and REDIS_PASSWORD")' "$json") ||
		die "cannot read the compose configuration"
	[[ -z $bad ]] || die "refusing to start: these settings must be equal and set: $(tr '\n' ';' <<<"$bad")"
	if [[ $DATA_TIER == managed ]]; then
		check_managed_settings "$json"
	fi
	bad=$(jq -r '.services | to_entries[] | select(.value.image | test("/dify-api[:@]"))
		| select((.key == "api") != ((.value.environment.MIGRATION_ENABLED // "") == "true")) | .key' "$json") ||
		die "cannot read the compose configuration"
	[[ -z $bad ]] || die "refusing to start: only api may run the database migrations (MIGRATION_ENABLED=true), not so for: $(tr '\n' ' ' <<<"$bad")"
	bad=$(jq -r --argjson mib "$UPLOAD_LIMIT_MIB" --arg body "${BODY_LIMIT_MIB}M" '.services as $svc
		| ([["api", "UPLOAD_FILE_SIZE_LIMIT", 1], ["api", "UPLOAD_IMAGE_FILE_SIZE_LIMIT", 1],
		    ["api", "UPLOAD_VIDEO_FILE_SIZE_LIMIT", 1], ["api", "UPLOAD_AUDIO_FILE_SIZE_LIMIT", 1],
		    ["api", "PLUGIN_MAX_PACKAGE_SIZE", 1048576], ["plugin_daemon", "MAX_PLUGIN_PACKAGE_SIZE", 1048576]][]
		   | select((($svc[.[0]].environment[.[1]] // "x") | test("^[0-9]+$") | not)
		            or (($svc[.[0]].environment[.[1]] | tonumber) > $mib * .[2]))
		   | "\(.[0]) \(.[1])"),
		  (select(($svc.nginx.environment.NGINX_CLIENT_MAX_BODY_SIZE // "") != $body) | "nginx NGINX_CLIENT_MAX_BODY_SIZE")' "$json") ||
		die "cannot read the compose configuration"
	[[ -z $bad ]] || die "refusing to start: size limits beyond the ${UPLOAD_LIMIT_MIB} MiB upload limit (the proxy and nginx accept ${BODY_LIMIT_MIB} MiB bodies): $(tr '\n' ';' <<<"$bad")"
	rm -f "$pins"
}

# check_managed_settings JSON: on the managed tier every Dify service that
# reaches a data service reaches the managed one: Cloud SQL at DB_HOST as
# DB_USER over TLS, Memorystore at REDIS_HOST:REDIS_PORT, pgvector in database
# dify, the files bucket with no key (the VM's identity), and the plugin
# daemon's storage on the data disk (0.2.0 takes GCS only with a JSON key).
check_managed_settings() {
	local json=$1 bad
	bad=$(jq -r --arg db "$DB_HOST" --arg user "$DB_USER" --arg redis "$REDIS_HOST" --arg port "$REDIS_PORT" \
		--arg bucket "$FILES_BUCKET" '.services as $svc
		| ([["api", "worker", "worker_beat", "plugin_daemon"][] as $s
		    | [$s, "DB_HOST", $db], [$s, "DB_PORT", "5432"], [$s, "DB_USERNAME", $user],
		      [$s, "REDIS_HOST", $redis], [$s, "REDIS_PORT", $port], [$s, "REDIS_USE_SSL", "false"]]
		   + [["api", "worker", "worker_beat"][] as $s
		    | [$s, "DB_DATABASE", "dify"], [$s, "DB_EXTRAS", "sslmode=require"], [$s, "PGSSLMODE", "require"],
		      [$s, "VECTOR_STORE", "pgvector"], [$s, "PGVECTOR_HOST", $db], [$s, "PGVECTOR_PORT", "5432"],
		      [$s, "PGVECTOR_USER", $user], [$s, "PGVECTOR_DATABASE", "dify"], [$s, "STORAGE_TYPE", "google-storage"],
		      [$s, "GOOGLE_STORAGE_BUCKET_NAME", $bucket], [$s, "GOOGLE_STORAGE_SERVICE_ACCOUNT_JSON_BASE64", ""]]
		   + [["plugin_daemon", "DB_DATABASE", "dify_plugin"], ["plugin_daemon", "DB_SSL_MODE", "require"],
		      ["plugin_daemon", "PLUGIN_STORAGE_TYPE", "local"]])[]
		  | select(($svc[.[0]].environment[.[1]] // "") != .[2])
		  | "\(.[0]) \(.[1]) should be \(if .[2] == "" then "empty" else .[2] end)"' "$json") ||
		die "cannot read the compose configuration"
	[[ -z $bad ]] || die "refusing to start: the managed tier's settings do not hold: $(tr '\n' ';' <<<"$bad")"
}

# verify_compose DIR: check the configuration compose resolves in DIR.
verify_compose() {
	local dir=$1 json="$RUN_DIR/compose.json"
	secret_defaults "$dir" >"$RUN_DIR/secret-defaults"
	(
		umask 077
		compose_in "$dir" config --format json >"$json"
	) || die "docker compose config failed in $dir"
	check_compose "$json" "$RUN_DIR/secret-defaults"
	rm -f "$json" "$RUN_DIR/secret-defaults"
	info "compose configuration checked: images pinned, only nginx on $DIFY_PORT and loopback ports published, no default secret, coupled settings equal, only api migrates, size limits within ${UPLOAD_LIMIT_MIB} MiB${DB_HOST:+; managed tier: no db, redis or weaviate, Cloud SQL over TLS, Memorystore, pgvector, the files bucket without a key}"
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

# refuse_unfinished_restore: dify-restore leaves this marker until it is done;
# Dify must not start on half-restored data.
refuse_unfinished_restore() {
	local marker="$VOLUMES/$RESTORE_MARKER" run
	[[ -f $marker ]] || return 0
	run=$(awk -F= '$1 == "RUN" { print $2 }' "$marker")
	die "a restore of backup ${run:-?} did not finish ($marker): Dify is not started on half-restored data. Finish it with 'sudo dify-restore --yes ${run:-<timestamp>}', then run the startup script again"
}

# check_stateful_images OLD_DIR: refuse a version change that changes the image
# of a service whose data needs a migration (STATEFUL), unless the operator
# has recorded that it was done: a line "SERVICE IMAGE" in
# $DATA_MNT/allow-image-change.
check_stateful_images() {
	local old=$1 json="$RUN_DIR/old-compose.json" s svc was allow="$DATA_MNT/allow-image-change"
	(
		umask 077
		compose_in "$old" config --format json >"$json"
	) || die "docker compose config failed in $old: cannot compare the installed release's images"
	for s in "${!STATEFUL[@]}"; do
		svc=$s
		if [[ $s == db ]] && jq -e '.services.db == null' "$json" >/dev/null; then
			svc=db_postgres
		fi
		was=$(jq -r --arg s "$svc" '.services[$s].image // ""' "$json")
		[[ -n $was && $was != "${IMAGES[$s]}" ]] || continue
		if [[ -f $allow ]] && grep -qxF -- "$s ${IMAGES[$s]}" "$allow"; then
			warn "$s changes from $was to ${IMAGES[$s]}: allowed by $allow"
			continue
		fi
		rm -f "$json"
		die "refusing to upgrade Dify $(current_version) -> $DIFY_VERSION: $s changes from $was to ${IMAGES[$s]}, and its data needs ${STATEFUL[$s]}. Nothing was changed. Do that first (docs/upgrade.md), then allow this change with: echo '$s ${IMAGES[$s]}' | sudo tee -a $allow"
	done
	rm -f "$json"
}

# check_boot_disk: an upgrade pulls a release's images (about 5 GB) onto the
# boot disk before it switches.
check_boot_disk() {
	local root=${DIFY_DOCKER_ROOT:-/var/lib/docker} avail need=$((UPGRADE_FREE_GIB * 1073741824))
	[[ -d $root ]] || root=/
	avail=$(df -B1 --output=avail "$root" | tail -n1 | tr -d ' ')
	((avail >= need)) ||
		die "the boot disk has $((avail / 1048576)) MiB free at $root; upgrading needs ${UPGRADE_FREE_GIB} GiB for the new release's images. Nothing was changed: free space ('sudo docker image prune -a' removes images no container uses) or grow the boot disk (dify-gcp:bootDiskGiB), then run the startup script again"
	info "boot disk: $((avail / 1073741824)) GiB free at $root (an upgrade needs ${UPGRADE_FREE_GIB})"
}

readonly UPGRADE_FREE_GIB=6

# migration_revisions: the Alembic revisions in `flask db current` or `flask
# db heads` output (other lines are Dify's logging).
migration_revisions() {
	grep -oE '^[0-9a-f]{8,40}( \(.*\))?$' | cut -d' ' -f1 | sort -u | tr '\n' ' ' || true
}

# check_migrations: /console/api/ping answers without the database, and
# `flask upgrade-db` logs a failed migration and exits 0, so the api serves
# either way. Only the database can say: `flask db current` (what it holds)
# must equal `flask db heads` (what this release's code expects).
check_migrations() {
	local err="$RUN_DIR/flask.err" heads at n=1
	until heads=$(dc exec -T api flask db heads 2>"$err" | migration_revisions) && [[ -n $heads ]]; do
		if ((n >= 5)); then
			die "cannot read this release's migration heads ('flask db heads' in api: $(tail -n1 "$err" 2>/dev/null)); see 'docker compose logs api' in $CURRENT/docker"
		fi
		sleep 10
		n=$((n + 1))
	done
	at=$(dc exec -T api flask db current 2>"$err" | migration_revisions) || at=""
	if [[ -s $err ]] && grep -q "Can't locate revision" "$err"; then
		die "the database holds a migration Dify $DIFY_VERSION does not know ($(grep -o "Can't locate revision.*" "$err" | head -n1)): it was migrated by a newer Dify. Restore the backup taken before that upgrade (docs/upgrade.md, rolling back)"
	fi
	[[ $at == "$heads" ]] ||
		die "database migrations are not at head: the database is at ${at:-no revision}, Dify $DIFY_VERSION expects $heads. The api's migration failed or has not run (flask upgrade-db logs the error and exits 0): see 'docker compose logs api' in $CURRENT/docker, fix the cause and run the startup script again"
	rm -f "$err"
	info "database migrations are at head ($heads)"
}

# converge_dify: on an upgrade, check what could fail before anything moves
# (stateful images, boot disk space, pulling the new images), then back up
# (with the old release's compose project, its database started if need be);
# then point `current` at this version, start it, wait until Dify answers and
# its database is migrated to head, and prune the images no container uses.
converge_dify() {
	local prev db
	prev=$(current_version)
	if [[ -n $prev && $prev != "$DIFY_VERSION" ]]; then
		step upgrade "upgrading Dify $prev -> $DIFY_VERSION: checks, then a backup, before anything moves"
		[[ -d $RELEASES/$prev/docker ]] || die "the installed release $RELEASES/$prev is missing: cannot back it up before upgrading"
		check_stateful_images "$RELEASES/$prev/docker"
		check_boot_disk
		info "pulling Dify $DIFY_VERSION's images"
		retry 3 30 compose_in "$RELEASES/$DIFY_VERSION/docker" pull --quiet ||
			die "pulling Dify $DIFY_VERSION's images failed: not upgrading, Dify $prev stays current and running"
		if [[ $DATA_TIER == vm ]]; then
			db=$(pg_service "$RELEASES/$prev/docker") || die "no database service in Dify $prev's compose file"
			compose_in "$RELEASES/$prev/docker" up -d --wait "$db"
		fi
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
		touch "$DATA_MNT/.prune-images"
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
	step migrations "checking that the database is migrated to Dify $DIFY_VERSION's head"
	check_migrations
	flock -u 9
	info "Dify $DIFY_VERSION answers pong, its database at head"
	if [[ -f $DATA_MNT/.prune-images ]]; then
		step prune "removing the images no container uses (each release brings about 5 GB)"
		docker image prune -a -f >/dev/null || warn "docker image prune failed; old images stay on the boot disk"
		rm -f "$DATA_MNT/.prune-images"
	fi
}
