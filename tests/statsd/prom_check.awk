# Checks Prometheus text exposition format 0.0.4 as kilimanjaro-statsd
# writes it: every sample belongs to a family announced by # HELP and
# # TYPE lines before it, counters end in _total, every sample line is
# name{label="value",...} value, no family appears twice. Prints
# "name{labels} value" of every sample on success; exits 1 with the line
# number and why on the first problem.
function fail(why) {
	printf "prom_check: line %d: %s: %s\n", NR, why, $0 > "/dev/stderr"
	bad = 1
	exit 1
}
/^# HELP / {
	if (NF < 4) fail("HELP without text")
	if ($3 in help) fail("family announced twice")
	help[$3] = 1
	next
}
/^# TYPE / {
	if (!($3 in help)) fail("TYPE before HELP")
	if ($4 != "counter" && $4 != "gauge") fail("unknown type")
	if ($4 == "counter" && $3 !~ /_total$/) fail("counter not named _total")
	type[$3] = $4
	next
}
/^#/ { fail("unknown comment") }
/^$/ { fail("empty line") }
{
	if (NF != 2) fail("want NAME{LABELS} VALUE")
	if ($2 !~ /^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$/) fail("bad value")
	name = $1
	sub(/\{.*/, "", name)
	if (name !~ /^[a-zA-Z_:][a-zA-Z0-9_:]*$/) fail("bad metric name")
	if (!(name in type)) fail("sample of an unannounced family")
	labels = $1
	if (labels ~ /\{/) {
		sub(/^[^{]*\{/, "", labels)
		if (labels !~ /\}$/) fail("labels not closed")
		sub(/\}$/, "", labels)
		n = split(labels, kv, ",")
		for (i = 1; i <= n; i++)
			if (kv[i] !~ /^[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*"$/)
				fail("bad label " kv[i])
	}
	if ($1 in seen) fail("sample twice")
	seen[$1] = 1
	samples++
	print
}
END {
	if (!bad && !samples) {
		print "prom_check: no samples" > "/dev/stderr"
		exit 1
	}
}
