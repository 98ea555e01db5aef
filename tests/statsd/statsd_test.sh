#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# kilimanjaro-statsd against the maps of the real XDP object, pinned by
# km_fixture under /sys/fs/bpf/ks-<pid> (the counters written there the
# way the data plane does, per CPU): the ring at --interval 100ms,
# `kilimanjaro stats --json` and `top` from it, /metrics parsed and its
# values checked against `kilimanjaro status --json` (read from the maps
# directly), counters monotonic across a statsd killed and restarted.
# Usage: statsd_test.sh KILIMANJARO-STATSD KILIMANJARO KM_FIXTURE PROM_CHECK.AWK
set -u

S=$1
K=$2
F=$3
AWKCHECK=$4
D=/sys/fs/bpf/ks-$$
R=/run/ks-$$
PORT=$((20000 + $$ % 20000))
TMP=$(mktemp -d /tmp/ks-statsd.XXXXXX)
spid=
passed=0

cleanup() {
	[ -n "$spid" ] && kill "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
	rm -rf "$D" "$R" "$TMP"
	return 0
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*"
	for f in "$TMP"/statsd.log "$TMP"/err; do
		[ -s "$f" ] && sed "s|^|  $(basename "$f"): |" "$f" | tail -20
	done
	exit 1
}
ok() { passed=$((passed + 1)); }

command -v jq >/dev/null || fail "jq is not installed (packaging/install-deps)"
command -v curl >/dev/null || fail "curl is not installed (packaging/install-deps)"
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf || fail "no bpffs"

"$F" load "$D" >/dev/null || fail "km_fixture load"
"$F" service "$D" config udp 198.18.0.10 27015 198.18.1.1 >/dev/null &&
	"$F" service "$D" config udp 198.18.0.11 27016 198.18.1.1 >/dev/null &&
	"$F" service "$D" cli tcp 198.18.0.10 27015 198.18.1.2 >/dev/null ||
	fail "km_fixture service"
# Fill levels of LRU maps (counted by the kernel's element counters).
"$F" block "$D" cli 198.18.5.5 600 >/dev/null &&
	"$F" punch "$D" learned udp 198.18.0.10 27015 198.18.7.7 4000 198.18.1.1 >/dev/null &&
	"$F" punch "$D" learned udp 198.18.0.10 27015 198.18.7.8 4000 198.18.1.1 >/dev/null ||
	fail "km_fixture block/punch"
ncpu=$("$K" --pin-root "$D" --json status | jq '.verdicts.fwd_service.packets') # 0 now
[ "$ncpu" = 0 ] || fail "fresh maps have fwd_service $ncpu"

start_statsd() {
	"$S" --interface ks$$ --pin-root "$D" --run-dir "$R" --interval 100ms \
		--listen "127.0.0.1:$PORT" >>"$TMP/statsd.log" 2>&1 &
	spid=$!
	for _ in $(seq 50); do
		[ -s "$R/stats.ring" ] && curl -sf -o /dev/null "http://127.0.0.1:$PORT/metrics" && return 0
		sleep 0.1
	done
	fail "statsd did not publish within 5 s"
}

# status: what the maps hold now, read directly (not through statsd).
direct() { "$K" --pin-root "$D" --json status | jq -r "$1"; }

# stats: the latest snapshot through the ring.
ring() { "$K" --json stats --run-dir "$R" 2>"$TMP/err" | jq -r "$1"; }

metric() { grep -F "$1 " "$TMP/metrics" | awk '{print $2}'; }

scrape() {
	curl -sf "http://127.0.0.1:$PORT/metrics" -o "$TMP/raw" || fail "GET /metrics"
	awk -f "$AWKCHECK" "$TMP/raw" >"$TMP/metrics" 2>"$TMP/err" || fail "/metrics is not valid Prometheus text"
}

# Wait until the ring shows what the maps hold (statsd publishes every 100 ms).
settle() {
	local want
	want=$(direct '.verdicts.fwd_service.packets')
	for _ in $(seq 30); do
		[ "$(ring '.reasons.fwd_service.packets')" = "$want" ] && return 0
		sleep 0.1
	done
	fail "ring never showed fwd_service $want (has $(ring '.reasons.fwd_service.packets'))"
}

"$F" stat "$D" 4 100 10000 >/dev/null || fail "km_fixture stat"
"$F" svcstat "$D" 0 7 >/dev/null && "$F" svcstat "$D" 1 3 >/dev/null || fail "km_fixture svcstat"
start_statsd
settle
ok

# --interval 100ms: about 10 snapshots a second, and the ring says so.
[ "$(ring '.interval_ms')" = 100 ] || fail "interval_ms $(ring '.interval_ms'), want 100"
s1=$(ring '.ring.seq')
sleep 1
s2=$(ring '.ring.seq')
n=$((s2 - s1))
[ "$n" -ge 6 ] && [ "$n" -le 13 ] || fail "$n snapshots in 1 s at --interval 100ms"
ok

# Ring vs maps: every reason, the services.
[ "$(ring '.services_total')" = 3 ] || fail "services_total $(ring '.services_total')"
[ "$(ring '[.services[].service] | sort | join(" ")')" = \
	"tcp:198.18.0.10:27015 udp:198.18.0.10:27015 udp:198.18.0.11:27016" ] ||
	fail "services in the ring: $(ring '[.services[].service]')"
for r in $(direct '.verdicts | keys[]'); do
	[ "$(ring ".reasons.$r.packets")" = "$(direct ".verdicts.$r.packets")" ] ||
		fail "reason $r: ring $(ring ".reasons.$r.packets"), maps $(direct ".verdicts.$r.packets")"
done
ok

# /metrics: valid exposition format, values equal to the maps'.
scrape
fwd=$(direct '.verdicts.fwd_service.packets')
[ "$fwd" -gt 0 ] || fail "fixture wrote no fwd_service packets"
[ "$(metric 'kilimanjaro_packets_total{reason="fwd_service"}')" = "$fwd" ] ||
	fail "packets_total fwd_service $(metric 'kilimanjaro_packets_total{reason="fwd_service"}'), maps $fwd"
[ "$(metric 'kilimanjaro_bytes_total{reason="fwd_service"}')" = "$(direct '.verdicts.fwd_service.bytes')" ] ||
	fail "bytes_total fwd_service"
rx0=$(ring '.services[] | select(.service == "udp:198.18.0.10:27015") | .rx_packets')
[ "$rx0" -gt 0 ] || fail "service rx_packets $rx0"
[ "$(metric 'kilimanjaro_service_packets_total{service="udp:198.18.0.10:27015",kind="rx"}')" = "$rx0" ] ||
	fail "service_packets_total rx"
[ "$(metric 'kilimanjaro_map_entries{map="km_services"}')" = 3 ] || fail "map_entries km_services"
[ "$(metric 'kilimanjaro_map_entries{map="km_blocks"}')" = 1 ] || fail "map_entries km_blocks"
[ "$(metric 'kilimanjaro_map_entries{map="km_punches"}')" = 2 ] || fail "map_entries km_punches $(metric 'kilimanjaro_map_entries{map="km_punches"}')"
[ "$(metric 'kilimanjaro_map_capacity{map="km_rl_src"}')" = 262144 ] || fail "map_capacity km_rl_src"
[ "$(grep -c '^kilimanjaro_packets_total{reason=' "$TMP/metrics")" = "$(direct '.verdicts | length')" ] ||
	fail "not one packets_total per reason"
grep -q '^# TYPE kilimanjaro_map_entries gauge$' "$TMP/raw" || fail "map_entries not a gauge"
ok

# A2S counters of a service with A2S on (added by the CLI), XDP's and the
# workers': every event as a label, values from the maps.
"$K" --pin-root "$D" services add udp 198.18.0.20:27020 backend 198.18.1.1 --a2s \
	>/dev/null 2>"$TMP/err" || fail "services add --a2s"
ncpu=$(($(direct '.verdicts.fwd_service.packets') / 100))
for _ in $(seq 30); do
	id=$(ring '.services[] | select(.service == "udp:198.18.0.20:27020") | .id')
	[ -n "$id" ] && break
	sleep 0.1
done
[ -n "$id" ] || fail "the A2S service never reached the ring"
"$F" a2sstat "$D" "$id" 10 >/dev/null && "$F" a2swstat "$D" "$id" 3 >/dev/null ||
	fail "km_fixture a2sstat"
sleep 0.3
scrape
A='kilimanjaro_a2s_total{service="udp:198.18.0.20:27020",event='
W='kilimanjaro_a2s_worker_total{service="udp:198.18.0.20:27020",event='
# km_fixture adds N*(i+1) to field i (per CPU for XDP's).
[ "$(metric "${A}\"requests\"}")" = $((10 * ncpu)) ] || fail "a2s requests $(metric "${A}\"requests\"}")"
[ "$(metric "${A}\"cached\"}")" = $((40 * ncpu)) ] || fail "a2s cached"
[ "$(metric "${A}\"ingested\"}")" = $((80 * ncpu)) ] || fail "a2s ingested"
[ "$(metric "${W}\"refreshes\"}")" = 3 ] || fail "a2s worker refreshes"
[ "$(metric "${W}\"bad_answers\"}")" = 21 ] || fail "a2s worker bad_answers"
[ "$(grep -c "^kilimanjaro_a2s_total{service=\"udp:198.18.0.10:27015\"" "$TMP/metrics")" = 0 ] ||
	fail "a2s counters listed for a service without A2S"
ok

# Only /metrics, only GET; the bad answers are clean HTTP errors.
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/")" = 404 ] || fail "GET / is not 404"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/metrics")" = 405 ] || fail "POST is not 405"
ok

# top draws from the ring alone (no pins given), without a terminal.
"$K" top --run-dir "$R" --iterations 2 >"$TMP/top" 2>"$TMP/err" || fail "top exited $?"
[ "$(grep -c '^kilimanjaro top' "$TMP/top")" = 2 ] || fail "top drew $(grep -c '^kilimanjaro top' "$TMP/top") frames"
grep -q '^udp:198.18.0.10:27015 ' "$TMP/top" || fail "top does not list the service"
grep -q $'\033' "$TMP/top" && fail "top wrote escapes to a pipe"
ok

# top on a terminal (script(1) gives it a pty): the alternate screen is
# entered and left, and the terminal modes are back (icanon, echo) after q
# and after Ctrl-C. script(1) runs its command with $SHELL: bash is named
# because dash, CI's login shell, dies of the Ctrl-C that top handles.
for key in q '\003'; do
	(sleep 1; printf "$key") | SHELL=/bin/bash timeout 10 script -qfec \
		"$K top --run-dir $R; echo rc=\$?; stty -a" /dev/null >"$TMP/tty" 2>&1 ||
		fail "top on a pty did not end on $key"
	grep -q $'\033\[?1049h' "$TMP/tty" && grep -q $'\033\[?1049l' "$TMP/tty" ||
		fail "top did not enter and leave the alternate screen ($key)"
	grep -q 'rc=0' "$TMP/tty" || fail "top exited $(grep -o 'rc=[0-9]*' "$TMP/tty") on $key"
	grep -qE '(^| )icanon( |$)' "$TMP/tty" && grep -qE '(^| )echo( |$)' "$TMP/tty" ||
		fail "terminal modes not restored after $key: $(grep -o -- '-\?icanon\|-\?echo ' "$TMP/tty" | tr '\n' ' ')"
done
ok

# statsd killed (no clean exit) and restarted: new epoch, nothing counted
# lost or going backwards, the counting goes on meanwhile.
e1=$(ring '.ring.epoch')
before_fwd=$(ring '.reasons.fwd_service.packets')
before_rx=$rx0
{ kill -9 "$spid" && wait "$spid"; } 2>/dev/null
spid=
"$F" stat "$D" 4 50 5000 >/dev/null && "$F" svcstat "$D" 0 5 >/dev/null || fail "km_fixture while statsd is down"
# A reader that was open keeps the dead writer's last snapshot meanwhile.
[ "$(ring '.reasons.fwd_service.packets')" = "$before_fwd" ] || fail "ring changed with no writer"
start_statsd
settle
e2=$(ring '.ring.epoch')
[ "$e1" != "$e2" ] || fail "epoch unchanged across a restart ($e1)"
after_fwd=$(ring '.reasons.fwd_service.packets')
after_rx=$(ring '.services[] | select(.service == "udp:198.18.0.10:27015") | .rx_packets')
[ "$after_fwd" -gt "$before_fwd" ] || fail "fwd_service $before_fwd -> $after_fwd across the restart"
[ "$after_fwd" = "$(direct '.verdicts.fwd_service.packets')" ] || fail "fwd_service after restart differs from the maps"
[ "$after_rx" -gt "$before_rx" ] || fail "service rx $before_rx -> $after_rx across the restart"
scrape
[ "$(metric 'kilimanjaro_packets_total{reason="fwd_service"}')" = "$after_fwd" ] || fail "/metrics after restart"
ok

# The edge detached and loaded again (new maps at the same pins): statsd
# follows the new maps instead of publishing the old ones' frozen totals.
rm -rf "$D"
"$F" load "$D" >/dev/null || fail "km_fixture load again"
"$F" service "$D" config udp 198.18.0.12 27017 198.18.1.1 >/dev/null || fail "km_fixture service"
"$F" stat "$D" 4 3 300 >/dev/null || fail "km_fixture stat"
settle
[ "$(ring '[.services[].service] | join(" ")')" = "udp:198.18.0.12:27017" ] ||
	fail "services after the maps were replaced: $(ring '[.services[].service]')"
grep -q 'removed or replaced' "$TMP/statsd.log" || fail "statsd did not say the maps were replaced"
ok

# Clean stop: the ring says the writer is gone.
kill "$spid"
wait "$spid"
rc=$?
spid=
[ "$rc" = 0 ] || fail "statsd exited $rc on SIGTERM"
[ "$(ring '.ring.writer_closed')" = true ] || fail "ring not marked closed after SIGTERM"
ok

# More services than --max-services: the lowest ids, flagged truncated.
"$S" --interface x --pin-root "$D" --run-dir "$R" --max-services 0 --once \
	>/dev/null 2>"$TMP/err" || fail "statsd --once exited $?"
"$F" service "$D" config udp 198.18.0.13 27018 198.18.1.1 >/dev/null || fail "km_fixture service"
"$S" --interface x --pin-root "$D" --run-dir "$R" --max-services 1 --once \
	>/dev/null 2>"$TMP/err" || fail "statsd --once exited $?"
[ "$(ring '.truncated')" = true ] || fail "2 services, --max-services 1: not truncated"
[ "$(ring '.services_total')" = 2 ] || fail "services_total $(ring '.services_total') with a cap"
[ "$(ring '[.services[].service] | join(" ")')" = "udp:198.18.0.12:27017" ] ||
	fail "capped snapshot holds $(ring '[.services[].service]'), want the lowest id"
ok

# Bad command lines: one clear line, exit 2.
for bad in "--interval 50ms" "--interval 2x" "--listen 127.0.0.1" "--listen 1.2.3.4:0" "--slots 1"; do
	# shellcheck disable=SC2086
	"$S" --interface x $bad >/dev/null 2>"$TMP/err"
	rc=$?
	[ "$rc" = 2 ] || fail "statsd $bad: exit $rc, want 2"
	[ "$(wc -l <"$TMP/err")" = 1 ] || fail "statsd $bad: want one error line"
done
"$S" --pin-root "$D" >/dev/null 2>"$TMP/err"
[ $? = 2 ] && grep -q -- '--interface is required' "$TMP/err" || fail "statsd without --interface"
ok

echo "statsd: $passed checks passed"
