# env.awk: writes Dify's .env from its .env.example.
#
#   awk -v set="KEY ..." -v secret="KEY ..." -f env.awk .env.example .env.example
#
# The value of each key in `set` comes from the environment variable
# DIFYENV_<KEY>, so no value is ever on a command line. The example is read
# twice. Pass 1 collects the published defaults: the example's own values of
# the keys in `secret`. Pass 2 prints the example with each key in `set` given
# its value (appended when the example lacks the key) and blanks every other
# key whose value contains a published default (settings of vector stores and
# databases this deployment does not run), naming it on stderr.
BEGIN {
	n = split(set, keys, " ")
	for (i = 1; i <= n; i++) {
		if (!(("DIFYENV_" keys[i]) in ENVIRON)) {
			print "env.awk: no value given for " keys[i] > "/dev/stderr"
			failed = 1
			exit 1
		}
		want[keys[i]] = ENVIRON["DIFYENV_" keys[i]]
	}
	m = split(secret, sk, " ")
	for (i = 1; i <= m; i++)
		secretkey[sk[i]] = 1
}

FNR == NR {
	if (match($0, /^[A-Za-z_][A-Za-z0-9_]*=/)) {
		k = substr($0, 1, RLENGTH - 1)
		v = substr($0, RLENGTH + 1)
		if ((k in secretkey) && v != "" && v !~ /^\$/)
			published[v] = 1
	}
	next
}

{
	if (match($0, /^[A-Za-z_][A-Za-z0-9_]*=/)) {
		k = substr($0, 1, RLENGTH - 1)
		v = substr($0, RLENGTH + 1)
		if (k in want) {
			print k "=" want[k]
			seen[k] = 1
			next
		}
		for (d in published) {
			if (index(v, d)) {
				print k "="
				print "env.awk: cleared " k ": it held a published default" > "/dev/stderr"
				next
			}
		}
	}
	print
}

END {
	if (failed)
		exit 1
	for (i = 1; i <= n; i++)
		if (!(keys[i] in seen))
			print keys[i] "=" want[keys[i]]
}
