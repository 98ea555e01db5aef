#!/bin/bash
# kilimanjaro-agent against a real peer: ctl-standin, a minimal controller
# (TLS 1.3 with mutual certificates, lib/frame), scripted by this test.
# What must hold (issue 4): the snapshot applied as origin "controller"
# (config-file entries untouched), deltas applied and acknowledged with
# their version, events (a learned punch) and stats streamed, bad input
# (undecodable frames, prefix length 40, port 0, unknown enum, truncated
# frames, a 4 GiB length prefix) refused with a clear reason and nothing
# changed, a delta on the wrong base answered and resynced, the controller
# gone and back (forwarding never stops, the agent reconnects and
# resyncs), TLS with the wrong CA refused, plain TCP refused off loopback.
# Namespaces, pins and logs named ka-<pid>-* (this test's own prefix).
LAB_PREFIX=${LAB_PREFIX:-ka-$$}
source "$(dirname "$(readlink -f "$0")")/lib.sh"
KM_AGENT=${KM_AGENT:-$KM_BUILD_DIR/agent/kilimanjaro-agent}
KM_STANDIN=${KM_STANDIN:-$KM_BUILD_DIR/tests/lab/ctl-standin}
KM_STATSD=$KM_BUILD_DIR/statsd/kilimanjaro-statsd
lab_require "$KM_LOADER" "$KM_CLI" "$KM_MAPPER" "$KM_FLOW" "$KM_AGENT" \
	"$KM_STANDIN" "$KM_STATSD"

lab_up
lab_edge_config "$LAB_DIR/edge.json"
lab_start_loader "$LAB_DIR/edge.json"
lab_start_mapper
lab_start_servers
CTL=$LAB_EDGE_GW # the router side of the edge's link
CTL_PORT=7443
CTL_SVC_PORT=7777
lab_start_echo ctl-echo "$LAB_NS_GS" "$LAB_SVC:$CTL_SVC_PORT"
certs=$LAB_DIR/certs
KM_CERT_IPS=$CTL "$(dirname "$(readlink -f "$0")")/../lib/gen-certs.sh" "$certs" ||
	lab_fail "gen-certs.sh"

# ---- helpers ----------------------------------------------------------------
# The stand-in reads its script from a FIFO held open here on fd 7.
standin_start() {
	local fifo=$LAB_DIR/ctl.in
	# lab_spawn starts a new log: keep the last run's for the end.
	[[ -f $LAB_DIR/ctl.log ]] && cat "$LAB_DIR/ctl.log" >>"$LAB_DIR/ctl-all.log"
	rm -f "$fifo"
	mkfifo "$fifo"
	exec 7<>"$fifo"
	lab_spawn ctl "$LAB_NS_RT" bash -c 'exec "$0" "$@" <"'"$fifo"'"' \
		"$KM_STANDIN" "$CTL" "$CTL_PORT" "$certs/ca.pem" \
		"$certs/controller.pem" "$certs/controller.key"
	lab_wait_for 5 grep -q listening "$LAB_DIR/ctl.log" ||
		lab_fail "ctl-standin did not start: $(cat "$LAB_DIR/ctl.log")"
}
ctl() { echo "$*" >&7; }
# ctl_n JQ-FILTER: how many lines of the stand-in's output match.
ctl_n() { grep '^{' "$LAB_DIR/ctl.log" | jq -c "select($1)" | wc -l; }
# ctl_wait N JQ-FILTER [SECONDS]: until more than N lines match.
ctl_wait() {
	local n=$1 f=$2 t=${3:-10}
	lab_wait_for "$t" _ctl_more "$n" "$f" ||
		lab_fail "controller never saw $f; its log: $(tail -n 20 "$LAB_DIR/ctl.log"); agent: $(tail -n 20 "$LAB_DIR/agent.log")"
}
_ctl_more() { (($(ctl_n "$2") > $1)); }
ctl_last() { grep '^{' "$LAB_DIR/ctl.log" | jq -c "select($1)" | tail -n 1; }

agent_start() { # EXTRA ARGS...
	lab_spawn agent "$LAB_NS_ED" "$KM_AGENT" --interface ed0 \
		--controller "$CTL:$CTL_PORT" --edge-id edge-a \
		--ca "$certs/ca.pem" --cert "$certs/edge-a.pem" \
		--key "$certs/edge-a.key" --pin-root "$LAB_PIN_EDGE" \
		--run-dir "$LAB_DIR/run" --stats-interval-ms 500 \
		--ping-interval-s 1 "$@"
}
agent_log_has() { grep -q -- "$1" "$LAB_DIR/agent.log"; }
_more_lines() { (($(grep -c -- "$1" "$LAB_DIR/agent.log") > $2)); }
agent_wait_log() {
	lab_wait_for "${2:-10}" agent_log_has "$1" ||
		lab_fail "agent log never said \"$1\": $(tail -n 20 "$LAB_DIR/agent.log")"
}
svc_origin() { # PORT -> origin of the UDP service on LAB_SVC:PORT, or ""
	km --json services | jq -r --argjson p "$1" \
		'[.. | objects | select(.port? == $p and .proto? == "udp") | .origin] | first // ""'
}
game_ok() { # PORT: a player's flow through the edge is answered in full
	local out
	out=$(lab_flow "$LAB_NS_PL" "$LAB_PLAYER" "$LAB_SVC:$1" 50 0.5)
	[[ $(lab_json_get "$out" lost) == 0 && $(lab_json_get "$out" received) -gt 0 ]]
}
mkdir -p "$LAB_DIR/run"

# ---- session, snapshot ------------------------------------------------------
standin_start
agent_start
ctl_wait 0 '.t == "conn" and .cn == "edge-a" and .tls == "TLSv1.3"'
ctl_wait 0 '.t == "hello" and .edge_id == "edge-a" and .config_version == 0'
lab_log "ok: TLS 1.3 session, edge identified by its certificate, hello"

ctl snapshot 1 "svc=udp:$LAB_SVC:$CTL_SVC_PORT:$LAB_GS" deny=198.18.6.0/24 \
	block=198.18.9.9 "punch=udp:$LAB_SVC:41000:198.18.7.9:6500:$LAB_GS" \
	key=00112233445566778899aabbccddeeff prev=ffeeddccbbaa99887766554433221100
ctl_wait 0 '.t == "ack" and .version == 1 and .ok'
lab_assert "snapshot: the service is installed as origin controller" \
	"$(svc_origin $CTL_SVC_PORT)" = controller
lab_assert "snapshot: the config file's service keeps origin config" \
	"$(svc_origin $LAB_GAME_PORT)" = config
km --json deny | jq -e '[.. | objects | select(.prefix? == "198.18.6.0/24" and .origin? == "controller")] | length == 1' >/dev/null ||
	lab_fail "controller deny 198.18.6.0/24 not listed: $(km --json deny)"
km --json deny | jq -e '[.. | objects | select(.prefix? == "198.18.4.0/24" and .origin? == "config")] | length == 1' >/dev/null ||
	lab_fail "config deny 198.18.4.0/24 lost: $(km --json deny)"
km --json punches | jq -e '[.. | strings | select(. == "198.18.7.9")] | length > 0' >/dev/null ||
	lab_fail "controller punch not installed: $(km --json punches)"
km --json blocks | jq -e '[.. | strings | select(. == "198.18.9.9")] | length > 0' >/dev/null ||
	lab_fail "controller block not installed: $(km --json blocks)"
key_id=$(km --json a2s key | jq -r '.key_id')
game_ok $CTL_SVC_PORT || lab_fail "the controller's service does not forward"
lab_log "ok: snapshot applied (service forwards, deny, block, punch, A2S key id $key_id)"

# ---- delta ------------------------------------------------------------------
ctl delta 2 1 del_deny=198.18.6.0/24 add_deny=198.18.3.0/24
ctl_wait 0 '.t == "ack" and .version == 2 and .ok'
km --json deny | jq -e '[.. | objects | select(.prefix? == "198.18.3.0/24")] | length == 1 and ([.. | objects | select(.prefix? == "198.18.6.0/24")] | length == 0)' >/dev/null ||
	lab_fail "delta 2 not applied to the deny list: $(km --json deny)"
lab_log "ok: delta 2 applied and acknowledged"

# ---- events and stats ---------------------------------------------------------
lab_start_echo remote-echo "$LAB_NS_PL" "$LAB_REMOTE:6000"
p0=$(ctl_n '.t == "punch"')
t0=$(date +%s%N)
lab_exec "$LAB_NS_GS" "$KM_FLOW" client --bind "$LAB_SVC:40000" \
	--to "$LAB_REMOTE:6000" --rate 20 --duration 0.3 >/dev/null
ctl_wait "$p0" ".t == \"punch\" and .remote == \"$LAB_REMOTE\" and .remote_port == 6000" 5
pms=$(ctl_last ".t == \"punch\" and .remote == \"$LAB_REMOTE\"" | jq -r .ms)
lab_log "ok: learned punch reported to the controller $((pms - t0 / 1000000)) ms after the flow was started"
lab_assert "punch reported within one second" $((pms - t0 / 1000000)) -lt 1000
ctl_wait 0 '.t == "stats" and .reasons > 20 and .services >= 3 and .fwd_service > 0'
lab_log "ok: stats snapshots streamed: $(ctl_last '.t == "stats"')"
lab_assert "nothing the agent sent was invalid" "$(ctl_n '.t == "invalid" or .t == "undecodable"')" -eq 0

# Stats from statsd's ring while it runs; statsd killed: the agent reads
# the maps itself and the controller still gets totals that never go back.
lab_spawn statsd "$LAB_NS_ED" "$KM_STATSD" --interface ed0 \
	--pin-root "$LAB_PIN_EDGE" --run-dir "$LAB_DIR/run" --interval 200ms \
	--listen none
agent_wait_log "stats from statsd's ring"
n0=$(ctl_n '.t == "stats"')
game_ok $CTL_SVC_PORT || lab_fail "forwarding with statsd running"
ctl_wait $((n0 + 2)) '.t == "stats"'
m0=$(grep -c "stats read from the maps" "$LAB_DIR/agent.log")
lab_stop statsd KILL
lab_wait_for 10 _more_lines "stats read from the maps" "$m0" ||
	lab_fail "the agent did not fall back to the maps after statsd died"
n0=$(ctl_n '.t == "stats"')
game_ok $CTL_SVC_PORT || lab_fail "forwarding with statsd dead"
ctl_wait $((n0 + 1)) '.t == "stats" and .fwd_service > 0'
lab_log "ok: stats from statsd's ring, then from the maps once statsd was killed"

# ---- bad input: each refused with a reason, nothing changed, session kept ------
conns=$(ctl_n '.t == "conn"')
ctl junk 64
agent_wait_log "not a valid Envelope protobuf"
ctl snapshot 3 "svc=udp:$LAB_SVC:$CTL_SVC_PORT:$LAB_GS" deny=198.18.3.0/40
ctl_wait 0 '.t == "ack" and .version == 3 and (.ok | not) and (.error | contains("snapshot.deny[0].len: 40 is not a prefix length"))'
ctl snapshot 4 "svc=udp:$LAB_SVC:0:$LAB_GS"
ctl_wait 0 '.t == "ack" and .version == 4 and (.ok | not) and (.error | contains("snapshot.services[0].key.port: 0 is not a port"))'
ctl snapshot 5 "svc=99:$LAB_SVC:$CTL_SVC_PORT:$LAB_GS"
ctl_wait 0 '.t == "ack" and .version == 5 and (.ok | not) and (.error | contains("snapshot.services[0].key.proto: 99 is not a protocol"))'
ctl ping 4242
ctl_wait 0 '.t == "pong" and .nonce == 4242'
lab_assert "bad messages kept the session" "$(ctl_n '.t == "conn"')" -eq "$conns"
lab_assert "refused snapshots changed nothing (service still there)" \
	"$(svc_origin $CTL_SVC_PORT)" = controller
km --json deny | jq -e '[.. | objects | select(.prefix? == "198.18.3.0/24")] | length == 1' >/dev/null ||
	lab_fail "a refused snapshot changed the deny list: $(km --json deny)"
lab_log "ok: random bytes, prefix length 40, port 0, unknown enum: refused with reasons, session kept"

# A delta on a base this edge does not have: refused, then a resync.
ctl delta 9 8 add_deny=198.18.8.0/24
ctl_wait 0 '.t == "ack" and .version == 9 and (.ok | not) and (.error | contains("base_version 8 is not this edge'"'"'s version 2"))'
ctl_wait 0 '.t == "hello" and .config_version == 2'
lab_log "ok: delta on a wrong base refused; the agent reconnected with config_version 2 for a resync"
ctl snapshot 10 "svc=udp:$LAB_SVC:$CTL_SVC_PORT:$LAB_GS" deny=198.18.3.0/24
ctl_wait 0 '.t == "ack" and .version == 10 and .ok'

# Truncated frame: the stream ends inside a frame.
ctl raw 000000640801
sleep 0.2
ctl close
agent_wait_log "inside a frame (truncated frame)"
ctl_wait 0 '.t == "hello" and .config_version == 10'
ctl snapshot 11 "svc=udp:$LAB_SVC:$CTL_SVC_PORT:$LAB_GS" deny=198.18.3.0/24
ctl_wait 0 '.t == "ack" and .version == 11 and .ok'
# A 4 GiB length prefix: the session is closed before anything is
# allocated (a stream cannot be resynchronised), the config is kept.
ctl raw ffffffff0801
agent_wait_log "frame of 4294967295 bytes refused: frame length exceeds the cap"
ctl_wait 0 '.t == "hello" and .config_version == 11'
game_ok $CTL_SVC_PORT || lab_fail "the controller's service stopped forwarding after bad frames"
lab_log "ok: truncated frame and 4 GiB length prefix: session closed with a reason, config kept, reconnected"

# A controller that stops answering (pings unanswered, nothing sent): dead
# after three ping intervals, the agent reconnects.
h0=$(ctl_n '.t == "hello" and .config_version == 11')
ctl mute
agent_wait_log "nothing from the controller for 3000 ms (dead peer)" 10
ctl_wait "$h0" '.t == "hello" and .config_version == 11' 10
lab_log "ok: a silent controller is found dead and the agent reconnects"

# ---- controller gone and back ----------------------------------------------------
lab_stop ctl KILL
exec 7>&-
agent_wait_log "reconnecting in"
game_ok $CTL_SVC_PORT || lab_fail "forwarding stopped with the controller down"
game_ok $LAB_GAME_PORT || lab_fail "the config file's service stopped with the controller down"
standin_start
ctl_wait 0 '.t == "hello" and .config_version == 11' 40
ctl snapshot 12 "svc=udp:$LAB_SVC:$CTL_SVC_PORT:$LAB_GS"
ctl_wait 0 '.t == "ack" and .version == 12 and .ok'
km --json deny | jq -e '[.. | objects | select(.origin? == "controller")] | length == 0' >/dev/null ||
	lab_fail "resync snapshot without deny left controller deny entries: $(km --json deny)"
lab_log "ok: controller killed and restarted: forwarding never stopped, the agent reconnected and resynced"
all_stats() { cat "$LAB_DIR/ctl-all.log" "$LAB_DIR/ctl.log" | grep '^{' | jq -c 'select(.t == "stats")'; }
all_stats | jq -s -e '[.[] | .fwd_service] as $a |
	[range(1; $a | length) | select($a[.] < $a[. - 1])] | length == 0' >/dev/null ||
	lab_fail "a counter the controller received went backwards: $(all_stats | jq -c .fwd_service | tr '\n' ' ')"
lab_log "ok: over $(all_stats | wc -l) stats snapshots (ring, maps, two controllers) fwd_service never went back"

# ---- agent killed: the edge keeps the controller's config -------------------------
lab_stop agent KILL
game_ok $CTL_SVC_PORT || lab_fail "the controller's service stopped when the agent died"
lab_log "ok: agent killed: the edge keeps forwarding with the last config"
h0=$(ctl_n '.t == "hello" and .config_version == 0')
agent_start
ctl_wait "$h0" '.t == "hello" and .config_version == 0'
ctl snapshot 13 "svc=udp:$LAB_SVC:$CTL_SVC_PORT:$LAB_GS"
ctl_wait 0 '.t == "ack" and .version == 13 and .ok'
game_ok $CTL_SVC_PORT || lab_fail "the controller's service stopped across the agent's restart"
lab_stop agent
lab_log "ok: agent restarted: hello with version 0, resynced by a snapshot, forwarding throughout"

# ---- TLS and plain TCP refusals ------------------------------------------------------
tls0=$(ctl_n '.t == "tls_error"')
agent_start --cert "$certs/rogue.pem" --key "$certs/rogue.key"
ctl_wait "$tls0" '.t == "tls_error" and (.why | test("certificate"))'
agent_wait_log "alert unknown ca"
lab_stop agent
lab_log "ok: an agent with a certificate from another CA is refused"

out=$(lab_exec "$LAB_NS_ED" "$KM_AGENT" --interface ed0 --controller "$CTL:$CTL_PORT" \
	--edge-id edge-a --plain-tcp --pin-root "$LAB_PIN_EDGE" 2>&1)
rc=$?
lab_assert "plain TCP to a non-loopback controller: exit 2" "$rc" -eq 2
[[ $out == *"plain TCP is only allowed to a loopback address"* ]] ||
	lab_fail "plain TCP refusal does not say why: $out"
lab_log "ok: plain TCP refused off loopback: $out"
