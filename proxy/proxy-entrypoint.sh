#!/bin/sh
# PID 1 of the proxy image: the official entrypoint's configuration, then nginx as
# a child whose SIGTERM becomes a graceful shutdown.
#
# Cloud Run stops an instance with SIGTERM and kills it 10 seconds later. nginx
# takes SIGTERM as "fast shutdown" and drops every open connection at once, so a
# chat answer still streaming would be cut off. SIGQUIT is nginx's graceful
# shutdown: it stops accepting connections and lets the requests in flight finish.
# This script turns SIGTERM (and SIGINT, for Ctrl-C) into SIGQUIT.
#
# Usage: proxy-entrypoint.sh nginx [ARGS...]   (the image's CMD)
#        proxy-entrypoint.sh COMMAND [ARGS...]  (anything else runs as is)
#
# PROXY_CONFIGURE names the configuration step, /docker-entrypoint.sh by default.
# It receives the nginx command line with -t added: the official entrypoint runs
# every script in /docker-entrypoint.d/ (the environment check, the template
# rendering, ...) and then executes "nginx ... -t", which checks the rendered
# configuration. Any failure stops the container before nginx listens. The tests
# point PROXY_CONFIGURE at a stand-in and the nginx path at Debian's binary.
set -eu

me=proxy-entrypoint

case ${1:-} in
nginx | nginx-debug | */nginx | */nginx-debug) ;;
*) exec "$@" ;;
esac

# A stop requested while configuring: do not start nginx at all.
stopping=
trap 'stopping=yes' TERM INT QUIT

"${PROXY_CONFIGURE:-/docker-entrypoint.sh}" "$@" -t

if [ -n "$stopping" ]; then
	echo "$me: stopped before nginx started" >&2
	exit 0
fi

"$@" &
nginx=$!

# A background child starts with SIGQUIT ignored until nginx installs its own
# handlers, a few milliseconds after the fork; a stop in that instant is lost and
# Cloud Run's SIGKILL ends the instance instead, with nothing in flight to lose.
# shellcheck disable=SC2317 # called by the traps below
graceful() {
	echo "$me: $1 received; asking nginx to finish the requests in flight (SIGQUIT)" >&2
	kill -QUIT "$nginx" 2>/dev/null || :
}
trap 'graceful SIGTERM' TERM
trap 'graceful SIGINT' INT
trap 'graceful SIGQUIT' QUIT
trap 'kill -HUP "$nginx" 2>/dev/null || :' HUP

# wait returns early whenever a trapped signal arrives; keep waiting until nginx
# itself has exited, then exit with its status.
while :; do
	status=0
	wait "$nginx" || status=$?
	kill -0 "$nginx" 2>/dev/null || break
done
exit "$status"
