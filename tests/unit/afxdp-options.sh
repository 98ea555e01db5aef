#!/bin/bash
# kilimanjaro-afxdp's command line: every bad use exits 2 with a message
# naming what was wrong; --help exits 0; a missing pin root exits 1 naming
# it. No privileges needed.
set -uo pipefail
exe=$1
fail=0

# expect STATUS PATTERN ARGS...
expect() {
	local want=$1 pattern=$2 out rc
	shift 2
	out=$("$exe" "$@" 2>&1)
	rc=$?
	if ((rc != want)) || ! grep -q -- "$pattern" <<<"$out"; then
		echo "FAIL: '$*': status $rc (want $want), output: $out"
		fail=1
	else
		echo "ok: '$*'"
	fi
}

expect 2 '--interface is required'
expect 2 'exactly one of --queue N and --queues all' --interface eth0
expect 2 'exactly one of' --interface eth0 --queue 1 --queues all
expect 2 '"x" is not a queue number 0..63' --interface eth0 --queue x
expect 2 '"64" is not a queue number' --interface eth0 --queue 64
expect 2 '"-1" is not a queue number' --interface eth0 --queue -1
expect 2 '"some" is not "all"' --interface eth0 --queues some
expect 2 '"loud" is not one of' --interface eth0 --queue 0 --log-level loud
expect 2 'option --bogus is unknown' --bogus
expect 2 'unexpected argument "extra"' --interface eth0 --queue 0 extra
expect 0 'Usage:' --help
expect 1 'no Kilimanjaro pins' --interface eth0 --queue 0 \
	--pin-root /nonexistent/kw-pins --run-dir /nonexistent/kw-run
exit $fail
