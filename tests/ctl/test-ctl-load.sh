#!/bin/bash
# 100 simulated agents over TLS against one controller, in a network
# namespace of their own (loopback only): every agent gets its snapshot,
# 1,000 punches from one of them reach the 99 others in order, p99 under
# one second; the controller is then killed and restarted and every agent
# comes back with the same version. Bad input: invalid messages inside a
# session (port 0, unknown protocol, a second Hello, a snapshot from an
# agent) are refused with their reason while the session and the relay go
# on; raw streams (a 4 GiB length prefix, bytes that are no Envelope, a
# frame cut short) are refused with their reason.
# Env: KM_BUILD_DIR; LAB_PREFIX (names of what this test creates).
set -uo pipefail
KM_BUILD_DIR=${KM_BUILD_DIR:?KM_BUILD_DIR must name the meson build directory}
PREFIX=${LAB_PREFIX:-kml-ctl-$$}
NS=$PREFIX-ns
DIR=$(mktemp -d "/tmp/$PREFIX.XXXXXX")
CTL=$KM_BUILD_DIR/controller/kilimanjaro-controller
LOAD=$KM_BUILD_DIR/tests/ctl/km-ctl-load
AGENTS=${KM_CTL_AGENTS:-100}
ctl_pid=

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
fail() {
	log "FAIL: $*"
	[[ -f $DIR/controller.log ]] && tail -n 20 "$DIR/controller.log" >&2
	exit 1
}
cleanup() {
	[[ -n $ctl_pid ]] && kill "$ctl_pid" 2>/dev/null && wait "$ctl_pid" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT
in_ns() { ip netns exec "$NS" "$@"; }

ip netns add "$NS" || fail "ip netns add $NS"
in_ns ip link set lo up
"$(dirname "$(readlink -f "$0")")/../lib/gen-certs.sh" "$DIR/certs" ||
	fail "gen-certs.sh"
hash=$(echo "load-password" | "$CTL" --hash-password) || fail "--hash-password"
cat >"$DIR/controller.json" <<EOF_CFG
{
	"agents_listen": "127.0.0.1:7443",
	"http_listen": "127.0.0.1:8080",
	"tls": {"ca": "$DIR/certs/ca.pem", "cert": "$DIR/certs/controller.pem",
		"key": "$DIR/certs/controller.key"},
	"db": "$DIR/controller.db",
	"allow_plain_tcp": true,
	"users": [{"name": "op", "password_hash": "$hash"}]
}
EOF_CFG
start() {
	# Not through in_ns: $! must be the controller, not a subshell.
	ip netns exec "$NS" "$CTL" --config "$DIR/controller.json" \
		>>"$DIR/controller.log" 2>&1 &
	ctl_pid=$!
	for _ in $(seq 50); do
		in_ns bash -c 'exec 3<>/dev/tcp/127.0.0.1/7443' 2>/dev/null && return
		sleep 0.1
	done
	fail "the controller did not start"
}
load() {
	in_ns "$LOAD" --connect 127.0.0.1:7443 --ca "$DIR/certs/ca.pem" \
		--ca-key "$DIR/certs/ca.key" --agents "$AGENTS" --json "$@"
}

start
out=$(load --punches 1000 --rate 500 --timeout 60) || fail "km-ctl-load: $out"
log "$out"
p99=$(jq -r .punch_sync_p99_ms <<<"$out")
jq -e '.punch_sync_p99_ms < 1000' <<<"$out" >/dev/null ||
	fail "punch sync p99 $p99 ms over $AGENTS edges (must stay under 1000)"
log "ok: $AGENTS TLS agents, 1000 punches relayed to every other edge in order, p99 $p99 ms"

version=$(grep -o 'snapshot of version [0-9]*' "$DIR/controller.log" | tail -n 1)
kill -KILL "$ctl_pid"
wait "$ctl_pid" 2>/dev/null
ctl_pid=
start
out=$(load --punches 10 --rate 100 --timeout 30) || fail "after the restart: $out"
grep -q "state version 1000 from" "$DIR/controller.log" ||
	fail "the restarted controller lost versions (before: $version): $(grep 'state version' "$DIR/controller.log")"
log "ok: killed and restarted: version 1000 kept, $AGENTS agents back"

# ---- bad input ----------------------------------------------------------------
refusals() { grep -c "message refused" "$DIR/controller.log"; }
r0=$(refusals)
out=$(load --punches 10 --rate 100 --timeout 30 --send-invalid) ||
	fail "with invalid messages first, the run failed: $out"
jq -e '.unexpected_punches == 0' <<<"$out" >/dev/null || fail "an invalid punch was relayed"
(($(refusals) - r0 == 4)) || fail "expected 4 refusals, got $(($(refusals) - r0))"
for why in "remote_port: 0" "punch.proto: 99" "hello is not accepted" \
	"snapshot is not accepted"; do
	grep "message refused" "$DIR/controller.log" | grep -q -- "$why" ||
		fail "no refusal naming \"$why\""
done
log "ok: invalid messages refused with their reason, session and relay kept"
raw() { # BYTES (printf format) -> sent on a plain TCP connection, closed
	in_ns bash -c "printf '$1' >/dev/tcp/127.0.0.1/7443" 2>/dev/null
	sleep 0.3
}
raw '\xff\xff\xff\xff'
grep -q "frame length exceeds the cap" "$DIR/controller.log" ||
	fail "4 GiB length prefix: no refusal logged"
raw '\x00\x00\x00\x05hello'
grep -q "message refused: not a valid Envelope" "$DIR/controller.log" ||
	fail "bytes that are no Envelope: no refusal logged"
raw '\x00\x00\x00\x64abc'
grep -q "closed inside a frame" "$DIR/controller.log" ||
	fail "a truncated frame: not reported"
log "ok: 4 GiB length, non-Envelope bytes, truncated frame: each refused with its reason"
