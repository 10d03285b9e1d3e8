# shellcheck shell=bash
# secrets.sh: Dify's secrets, generated once on the VM and kept in Secret Manager.
#
# Pulumi creates the two secrets empty. The first boot generates the values and
# adds them as the first version; every later boot, and any replacement VM,
# reads them back. Values travel only through files in RUN_DIR (tmpfs, 0700)
# and the environment of awk: never argv, never a log line.

# The application secret holds one KEY=VALUE line for each of these.
readonly APP_SECRET_KEYS=(SECRET_KEY DB_PASSWORD REDIS_PASSWORD SANDBOX_API_KEY
	PLUGIN_DAEMON_KEY PLUGIN_DIFY_INNER_API_KEY WEAVIATE_API_KEY)
# On the managed tier it also holds the Cloud SQL user's password, which the VM
# generates and sets through the Cloud SQL Admin API (managed.sh). DB_PASSWORD
# stays the vm tier's own, for the database on the data disk.
readonly MANAGED_DB_PASSWORD_KEY=MANAGED_DB_PASSWORD

# sm_login: an access token for the VM's service account, from the metadata
# server, kept in a header file so that it never appears in a process list.
sm_login() {
	local token
	mkdir -p "$RUN_DIR"
	chmod 0700 "$RUN_DIR"
	token=$(curl -fsS --retry 5 -H 'Metadata-Flavor: Google' \
		"$METADATA_URL/instance/service-accounts/default/token" | jq -er .access_token) ||
		die "no access token from the metadata server"
	(
		umask 077
		printf 'Authorization: Bearer %s\n' "$token" >"$RUN_DIR/auth.header"
	)
}

# Right after Pulumi grants the VM's service account access to a secret (or,
# on the managed tier, to the Cloud SQL instance and the Redis instance),
# Google's APIs may still answer 403 for a few minutes: IAM changes propagate
# eventually ("typically within 2 minutes, up to 7 minutes or more",
# https://cloud.google.com/iam/docs/access-change-propagation). A secret just
# created may be invisible for as long (404 on addVersion). Cloud SQL runs one
# operation at a time on an instance and answers 409 while another (a backup,
# maintenance, Pulumi's own change) is under way. Those answers, 429 and 5xx
# are retried with a doubling delay, up to about nine minutes, before the
# script gives up.
SM_RETRY_DELAY=${DIFY_SM_RETRY_DELAY:-10} # seconds before the first retry
SM_RETRY_ATTEMPTS=${DIFY_SM_RETRY_ATTEMPTS:-12}
SM_CODE=""

# gcp_call API WHAT RESP CURL_ARGS...: one request to a Google API (API is its
# name in messages), retried while the answer may be eventual consistency (403,
# and 404 when WHAT ends in ":addVersion"), a Cloud SQL operation in progress
# (409 from the Cloud SQL Admin API), throttling or a server error. Sets
# SM_CODE to the final HTTP code (not printed: the retries log to stdout).
gcp_call() {
	local api=$1 what=$2 resp=$3 code msg why n=1 delay=$SM_RETRY_DELAY
	shift 3
	while :; do
		code=$(curl -sS --retry 3 -o "$resp" -w '%{http_code}' -H @"$RUN_DIR/auth.header" "$@") ||
			die "$api unreachable ($what)"
		SM_CODE=$code
		case $code in
		403 | 429 | 5??) ;;
		404) [[ $what == *:addVersion ]] || break ;;
		409) [[ $api == "Cloud SQL Admin API" ]] || break ;;
		*) break ;;
		esac
		((n < SM_RETRY_ATTEMPTS)) || break
		msg=$(jq -r '.error | "\(.status // ""): \(.message // "")"' "$resp" 2>/dev/null) || msg=""
		why="the VM's access to a new secret or instance can take minutes to propagate"
		[[ $code == 409 ]] && why="Cloud SQL runs one operation at a time on an instance"
		warn "$api answered HTTP $code to $what ($msg): $why; retrying in ${delay}s (attempt $n of $SM_RETRY_ATTEMPTS)"
		sleep "$delay"
		delay=$((delay * 2 > 60 ? 60 : delay * 2))
		n=$((n + 1))
	done
}

# sm_call WHAT RESP CURL_ARGS...: gcp_call for Secret Manager.
sm_call() {
	gcp_call "Secret Manager" "$@"
}

# sm_error RESP: the error message of a Secret Manager answer.
sm_error() {
	jq -r '.error.message // empty' "$1" 2>/dev/null || true
}

# sm_access SECRET OUT: write the latest version's payload to OUT. Returns 3
# when the secret has no version yet; dies on any other failure, because
# guessing would create new secrets for an existing database. Secret Manager
# answers 404 "Secret [...] not found or has no versions." both for a secret
# without versions and for one it does not show (yet): sm_add tells them
# apart, since adding a version to a secret that is not there is 404 too.
sm_access() {
	local secret=$1 out=$2 resp="$RUN_DIR/response.json" code msg
	sm_call "read $secret" "$resp" "$SECRETMANAGER_URL/projects/$PROJECT/secrets/$secret/versions/latest:access"
	code=$SM_CODE
	case $code in
	200)
		(
			umask 077
			jq -er .payload.data "$resp" | base64 -d >"$out"
		) || die "Secret Manager returned an unreadable payload for $secret"
		rm -f "$resp"
		;;
	404)
		rm -f "$resp"
		return 3
		;;
	*)
		msg=$(sm_error "$resp")
		rm -f "$resp"
		die "reading secret $secret failed: HTTP $code ${msg:+($msg)}"
		;;
	esac
}

# sm_add SECRET IN: add IN's content as a new version of SECRET.
sm_add() {
	local secret=$1 in=$2 resp="$RUN_DIR/response.json" body="$RUN_DIR/request.json" code msg
	(
		umask 077
		{
			printf '{"payload":{"data":"'
			base64 -w0 <"$in"
			printf '"}}'
		} >"$body"
	)
	sm_call "$secret:addVersion" "$resp" -H 'Content-Type: application/json' --data-binary @"$body" \
		"$SECRETMANAGER_URL/projects/$PROJECT/secrets/$secret:addVersion"
	code=$SM_CODE
	rm -f "$body"
	if [[ $code != 200 ]]; then
		msg=$(sm_error "$resp")
		rm -f "$resp"
		die "adding a version to secret $secret failed: HTTP $code ${msg:+($msg)}"
	fi
	rm -f "$resp"
}

# rand_alnum N: N random letters and digits (safe unquoted in .env and URLs).
rand_alnum() {
	local s=""
	while ((${#s} < $1)); do
		s+=$(openssl rand -base64 96 | tr -dc 'A-Za-z0-9')
	done
	printf '%s' "${s:0:$1}"
}

# env_value FILE KEY: the value of KEY in a dotenv file (last one wins).
env_value() {
	awk -v k="$2" 'index($0, k "=") == 1 { v = substr($0, length(k) + 2) } END { print v }' "$1"
}

# recover_app_secrets OUT: when Secret Manager has lost its versions (the
# secret was recreated) but the data disk still has an installed .env, take the
# values from there: they are the ones the databases were initialised with.
recover_app_secrets() {
	local out=$1 env="$CURRENT/docker/.env" example="$CURRENT/docker/.env.example" k v
	[[ -f $env && -f $example ]] || return 1
	: >"$out"
	for k in "${APP_SECRET_KEYS[@]}"; do
		v=$(env_value "$env" "$k")
		[[ $v =~ ^[A-Za-z0-9]{16,}$ && $v != "$(env_value "$example" "$k")" ]] || return 1
		printf '%s=%s\n' "$k" "$v" >>"$out"
	done
}

db_initialised() {
	[[ -f $VOLUMES/db/data/PG_VERSION ]] || compgen -G "$VOLUMES/db/data/*/PG_VERSION" >/dev/null
}

# check_app_secrets FILE: every key once, each a long alphanumeric value.
check_app_secrets() {
	local file=$1 k
	for k in "${APP_SECRET_KEYS[@]}"; do
		[[ $(grep -c "^$k=" "$file") == 1 ]] || die "secret $APP_SECRETS_SECRET: $k missing or repeated"
		[[ $(env_value "$file" "$k") =~ ^[A-Za-z0-9]{16,}$ ]] || die "secret $APP_SECRETS_SECRET: $k is not 16+ letters and digits"
	done
}

load_app_secrets() {
	local file="$RUN_DIR/app-secrets.env" rc=0 k keys
	sm_access "$APP_SECRETS_SECRET" "$file" || rc=$?
	if ((rc == 3)); then
		if recover_app_secrets "$file"; then
			warn "secret $APP_SECRETS_SECRET has no version, but the installed .env has secrets: storing those"
		elif db_initialised; then
			die "secret $APP_SECRETS_SECRET has no version and there is no installed .env, but $VOLUMES/db/data holds a database: new secrets would lock Dify out of it. Add the old values as a version (docs/host.md) or restore a backup"
		else
			info "first install: generating application secrets"
			(
				umask 077
				keys=("${APP_SECRET_KEYS[@]}")
				if [[ $DATA_TIER == managed ]]; then
					keys+=("$MANAGED_DB_PASSWORD_KEY")
				fi
				for k in "${keys[@]}"; do
					printf '%s=%s\n' "$k" "$(rand_alnum 48)"
				done >"$file"
			)
		fi
		sm_add "$APP_SECRETS_SECRET" "$file"
		info "stored application secrets as a version of $APP_SECRETS_SECRET"
		# Read back what Secret Manager holds now: that, not the local file, is
		# what every later boot will use.
		sm_access "$APP_SECRETS_SECRET" "$file" || die "secret $APP_SECRETS_SECRET still has no version after adding one"
	else
		info "application secrets read from $APP_SECRETS_SECRET"
	fi
	check_app_secrets "$file"
	if [[ $DATA_TIER == managed ]] && ! grep -q "^$MANAGED_DB_PASSWORD_KEY=" "$file"; then
		# A stack that moves from the vm tier keeps its secrets and gains this one.
		info "data tier managed: generating the Cloud SQL user's password, stored as $MANAGED_DB_PASSWORD_KEY in $APP_SECRETS_SECRET"
		(
			umask 077
			printf '%s=%s\n' "$MANAGED_DB_PASSWORD_KEY" "$(rand_alnum 48)" >>"$file"
		)
		sm_add "$APP_SECRETS_SECRET" "$file"
		sm_access "$APP_SECRETS_SECRET" "$file" || die "secret $APP_SECRETS_SECRET has no version after adding one"
		check_app_secrets "$file"
	fi
	if [[ $DATA_TIER == managed ]]; then
		[[ $(grep -c "^$MANAGED_DB_PASSWORD_KEY=" "$file") == 1 && $(env_value "$file" "$MANAGED_DB_PASSWORD_KEY") =~ ^[A-Za-z0-9]{16,}$ ]] ||
			die "secret $APP_SECRETS_SECRET: $MANAGED_DB_PASSWORD_KEY must be set once, 16+ letters and digits"
	fi
}

# load_admin_password: Dify asks for INIT_PASSWORD before anyone may create the
# admin account; at most 30 characters, with letters and digits.
load_admin_password() {
	local file="$RUN_DIR/admin-password" rc=0 pw
	sm_access "$ADMIN_PASSWORD_SECRET" "$file" || rc=$?
	if ((rc == 3)); then
		pw=""
		if [[ -f $CURRENT/docker/.env ]]; then
			pw=$(env_value "$CURRENT/docker/.env" INIT_PASSWORD)
		fi
		if [[ $pw =~ ^[A-Za-z0-9]{12,30}$ ]]; then
			warn "secret $ADMIN_PASSWORD_SECRET has no version: storing the installed INIT_PASSWORD"
		else
			info "first install: generating the admin password"
			until [[ $pw =~ [A-Za-z] && $pw =~ [0-9] ]]; do
				pw=$(rand_alnum 24)
			done
		fi
		(
			umask 077
			printf '%s' "$pw" >"$file"
		)
		sm_add "$ADMIN_PASSWORD_SECRET" "$file"
		info "stored the admin password as a version of $ADMIN_PASSWORD_SECRET"
		sm_access "$ADMIN_PASSWORD_SECRET" "$file" || die "secret $ADMIN_PASSWORD_SECRET still has no version after adding one"
	else
		info "admin password read from $ADMIN_PASSWORD_SECRET"
	fi
	# Characters that mean something to .env or compose ($ # quotes) are out.
	local allowed='^[A-Za-z0-9._~+=@%!:,/^-]{8,30}$'
	[[ $(<"$file") =~ $allowed ]] ||
		die "secret $ADMIN_PASSWORD_SECRET must hold 8 to 30 letters, digits or ._~+=@%!:,/^-"
}

load_secrets() {
	sm_login
	load_app_secrets
	load_admin_password
	if [[ $DATA_TIER == managed ]]; then
		set_db_password
		load_redis_auth
	fi
	rm -f "$RUN_DIR/auth.header"
}
