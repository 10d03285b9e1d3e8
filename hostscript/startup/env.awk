# env.awk: writes Dify's .env from its .env.example.
#
#   awk -v set="KEY ..." [-v fill="KEY ..."] -v secret="KEY ..." [-v localfile=FILE] \
#       -f env.awk .env.example .env.example
#
# The value of each key in `set` and in `fill` comes from the environment
# variable DIFYENV_<KEY>, so no value is ever on a command line. Keys in `set`
# are the script's own; keys in `fill` (generated passwords of settings whose
# published default is not empty) give way to a non-empty value in
# `localfile`. The example is read
# twice. Pass 1 collects the published defaults: the example's own values of
# the keys in `secret`. Pass 2 prints the example with each key in `set` given
# its value (appended when the example lacks the key) and blanks every other
# key whose value contains a published default (settings of vector stores and
# databases this deployment does not run), naming it on stderr. Lines of the
# optional `localfile` (the operator's own settings, e.g. MAIL_*) replace or
# add to the example's, except for the keys in `set`, which this script owns.
# values(LIST, NAMES, VALUES): split LIST into NAMES and set VALUES[name] from
# DIFYENV_<name>; the count, or -1 when a value is missing.
function values(list, names, vals,    n, i) {
	n = split(list, names, " ")
	for (i = 1; i <= n; i++) {
		if (!(("DIFYENV_" names[i]) in ENVIRON)) {
			print "env.awk: no value given for " names[i] > "/dev/stderr"
			return -1
		}
		vals[names[i]] = ENVIRON["DIFYENV_" names[i]]
	}
	return n
}

BEGIN {
	if ((n = values(set, keys, want)) < 0 || (nf = values(fill, fk, filled)) < 0) {
		failed = 1
		exit 1
	}
	m = split(secret, sk, " ")
	for (i = 1; i <= m; i++)
		secretkey[sk[i]] = 1
	if (localfile != "") {
		while ((r = (getline line < localfile)) > 0) {
			if (!match(line, /^[A-Za-z_][A-Za-z0-9_]*=/))
				continue
			k = substr(line, 1, RLENGTH - 1)
			if (k in want) {
				print "env.awk: ignored " k " in " localfile ": the startup script sets it" > "/dev/stderr"
				continue
			}
			if (!(k in extra))
				order[++nextra] = k
			extra[k] = substr(line, RLENGTH + 1)
		}
		if (r < 0) {
			print "env.awk: cannot read " localfile > "/dev/stderr"
			failed = 1
			exit 1
		}
		close(localfile)
	}
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
		if ((k in extra) && !((k in filled) && extra[k] == "")) {
			print k "=" extra[k]
			seen[k] = 1
			next
		}
		if (k in filled) {
			print k "=" filled[k]
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
	for (i = 1; i <= nf; i++)
		if (!(fk[i] in seen)) {
			k = fk[i]
			print k "=" (((k in extra) && extra[k] != "") ? extra[k] : filled[k])
			seen[k] = 1
		}
	for (i = 1; i <= nextra; i++)
		if (!(order[i] in seen))
			print order[i] "=" extra[order[i]]
}
