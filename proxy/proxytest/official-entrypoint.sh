#!/bin/sh
# Stand-in for the official nginx image's /docker-entrypoint.sh, for running the
# proxy's files on a machine without Docker. It does for this image what that
# script and its 20-envsubst-on-templates.sh do (nginxinc/docker-nginx,
# entrypoint/):
#
#  1. run every executable *.sh in ENTRYPOINT_D, in version order, under set -e:
#     the first failure stops everything, as in the image;
#  2. render every *.template in NGINX_ENVSUBST_TEMPLATE_DIR into
#     NGINX_ENVSUBST_OUTPUT_DIR with envsubst, giving it the names of the
#     *defined* environment variables that match NGINX_ENVSUBST_FILTER (an awk
#     regular expression), so that any other $name is left as it is;
#  3. execute its arguments.
#
# The image runs our scripts (numbered below 20) before its template step, as
# here. proxytest reads NGINX_ENVSUBST_FILTER from the Dockerfile, so the filter
# cannot drift.
set -eu

: "${ENTRYPOINT_D:?ENTRYPOINT_D must name the docker-entrypoint.d directory}"
: "${NGINX_ENVSUBST_TEMPLATE_DIR:?NGINX_ENVSUBST_TEMPLATE_DIR must be set}"
: "${NGINX_ENVSUBST_OUTPUT_DIR:?NGINX_ENVSUBST_OUTPUT_DIR must be set}"
suffix=${NGINX_ENVSUBST_TEMPLATE_SUFFIX:-.template}

find "$ENTRYPOINT_D" -follow -type f -name '*.sh' -print | sort -V | while IFS= read -r script; do
	if [ -x "$script" ]; then
		"$script"
	else
		echo "$0: ignoring $script, not executable" >&2
	fi
done

defined=$(awk -v filter="${NGINX_ENVSUBST_FILTER:-}" \
	'END { for (name in ENVIRON) if (name ~ filter) printf "${%s} ", name }' </dev/null)

for template in "$NGINX_ENVSUBST_TEMPLATE_DIR"/*"$suffix"; do
	[ -f "$template" ] || continue
	name=$(basename "$template" "$suffix")
	envsubst "$defined" <"$template" >"$NGINX_ENVSUBST_OUTPUT_DIR/$name"
done

exec "$@"
