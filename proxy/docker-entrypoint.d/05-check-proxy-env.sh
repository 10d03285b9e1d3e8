#!/bin/sh
# Refuses to start the proxy when a setting is missing or malformed, and names it.
#
# The official entrypoint runs this before 20-envsubst-on-templates.sh renders the
# template. Without it a missing variable would stay in the configuration as a
# literal "${DIFY_BACKEND}" for nginx to reject with a confusing message, and a
# value like "300s" would become "300ss". The values are pasted into nginx's
# configuration, so anything beyond the expected characters is refused, not
# escaped. proxy.Validate in proxy.go applies the same rules before a deployment;
# the tests run both on one table.
#
# A non-zero exit here stops the container: /docker-entrypoint.sh runs under
# "set -e" and starts nginx only after every script succeeded.
set -eu

me=$(basename "$0")
failed=0

complain() {
	echo "$me: ERROR: $*" >&2
	failed=1
}

# value NAME: prints the variable's value; fails when it is not set.
value() {
	printenv "$1"
}

# in_range NAME VALUE MIN MAX UNIT: complains unless VALUE is a whole number in
# MIN..MAX. The length check keeps huge numbers away from test(1)'s arithmetic.
in_range() {
	case $2 in
	'' | *[!0-9]*)
		complain "$1=\"$2\" is not a whole number (want $3..$4$5)"
		return 0
		;;
	esac
	if [ "${#2}" -gt 5 ] || [ "$2" -lt "$3" ] || [ "$2" -gt "$4" ]; then
		complain "$1=$2 is outside $3..$4$5"
	fi
}

# check_backend VALUE: host:port, the host a DNS name, an IPv4 address or a
# bracketed IPv6 address.
check_backend() {
	case $1 in
	\[*\]:*)
		host=${1%:*}
		host=${host#\[}
		host=${host%\]}
		case $host in
		*:*) ;;
		*)
			complain "DIFY_BACKEND=\"$1\": only IPv6 hosts go in brackets"
			return 0
			;;
		esac
		;;
	\[*\])
		complain "DIFY_BACKEND=\"$1\" is not host:port (the port is required)"
		return 0
		;;
	*:*:*)
		complain "DIFY_BACKEND=\"$1\" is not host:port (an IPv6 host must be in brackets)"
		return 0
		;;
	*:*)
		host=${1%:*}
		;;
	*)
		complain "DIFY_BACKEND=\"$1\" is not host:port (the port is required)"
		return 0
		;;
	esac
	case $host in
	'')
		complain "DIFY_BACKEND=\"$1\" has an empty host"
		return 0
		;;
	*[!A-Za-z0-9.:-]*)
		complain "DIFY_BACKEND=\"$1\": the host may only hold letters, digits, '.', '-' (and ':' inside brackets)"
		return 0
		;;
	esac
	in_range "DIFY_BACKEND's port" "${1##*:}" 1 65535 ""
}

# check_lb_address VALUE: empty (no load balancer) or an IPv4 address in dotted
# decimal, as nginx's map compares it with X-Forwarded-For entries.
check_lb_address() {
	case $1 in
	'') return 0 ;;
	*[!0-9.]* | .* | *. | *..*)
		complain "PROXY_LB_ADDRESS=\"$1\" is not an IPv4 address (or empty, without a load balancer)"
		return 0
		;;
	esac
	rest=$1 fields=0
	while :; do
		octet=${rest%%.*}
		fields=$((fields + 1))
		case $octet in
		0) ;;
		0* | ????*)
			complain "PROXY_LB_ADDRESS=\"$1\" is not an IPv4 address in dotted decimal (no leading zeros)"
			return 0
			;;
		esac
		if [ "$octet" -gt 255 ]; then
			complain "PROXY_LB_ADDRESS=\"$1\" is not an IPv4 address ($octet is over 255)"
			return 0
		fi
		[ "$rest" = "$octet" ] && break
		rest=${rest#*.}
	done
	if [ "$fields" -ne 4 ]; then
		complain "PROXY_LB_ADDRESS=\"$1\" is not an IPv4 address (want four numbers)"
	fi
}

if backend=$(value DIFY_BACKEND) && [ -n "$backend" ]; then
	check_backend "$backend"
else
	complain "DIFY_BACKEND is not set: it must be host:port of Dify's nginx on the VM (the Pulumi program sets it)"
fi

if timeout=$(value PROXY_TIMEOUT_SECONDS); then
	in_range PROXY_TIMEOUT_SECONDS "$timeout" 1 3600 " seconds"
else
	complain "PROXY_TIMEOUT_SECONDS is not set: it must equal Cloud Run's request timeout, 1..3600 seconds"
fi

if limit=$(value PROXY_BODY_LIMIT_MIB); then
	in_range PROXY_BODY_LIMIT_MIB "$limit" 1 32 " MiB"
else
	complain "PROXY_BODY_LIMIT_MIB is not set: it must be the largest request body in MiB, 1..32"
fi

if lb=$(value PROXY_LB_ADDRESS); then
	check_lb_address "$lb"
else
	complain "PROXY_LB_ADDRESS is not set: it must be the load balancer's IPv4 address, or empty without one (the Pulumi program sets it)"
fi

if port=$(value PORT); then
	in_range PORT "$port" 1 65535 ""
else
	complain "PORT is not set: Cloud Run sets it; the image defaults it to 8080"
fi

if [ "$failed" -ne 0 ]; then
	echo "$me: refusing to start the proxy" >&2
	exit 1
fi
