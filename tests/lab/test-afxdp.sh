#!/bin/bash
# kilimanjaro-afxdp on the lab's edge, queue 0 (the lab's veths have one),
# with the real loader and XDP program, the mapper, and a2s-fixture as the
# game server (challenges required for every kind, RULES split, a serial in
# every answer). Proves the worker, not the clients (lab-a2s does those):
#   - ingest: INFO lands in km_a2s_info through the server's own challenge,
#     and XDP answers players from it without the server seeing them;
#   - PLAYER and RULES (split) answered by the worker, several frames per
#     request, bytes as the fixture generates them;
#   - the refresh schedule: under a flood of valid requests the server gets
#     at most one query per refresh interval and kind;
#   - down: a muted server is marked down after its timeout (counted, not
#     served) and up again when it answers;
#   - SIGTERM: exit 0, XDP forwards to the server while no worker runs;
#   - restart: a new worker serves from the shared cache at once;
#   - --queues all: the supervisor restarts a killed worker.
LAB_PREFIX=${LAB_PREFIX:-kw-$$}
source "$(dirname "$(readlink -f "$0")")/lib.sh"

KW_AFXDP=$KM_BUILD_DIR/afxdp-worker/kilimanjaro-afxdp
KW_FIXTURE=$KM_BUILD_DIR/tests/lab/a2s-fixture
KW_PROBE=$KM_BUILD_DIR/tests/lab/a2s-probe
lab_require "$KM_LOADER" "$KM_CLI" "$KM_MAPPER" "$KW_AFXDP" "$KW_FIXTURE" \
	"$KW_PROBE"
command -v bpftool >/dev/null || lab_fail "bpftool is missing"

KW_RUN=/run/$LAB_PREFIX-afxdp
REFRESH_MS=1000
TIMEOUT_MS=3000
RULES=100

lab_up
# The run directory too, keeping the exit status lab_teardown reports.
trap 'kw_rc=$?; rm -rf "$KW_RUN"; (exit $kw_rc); lab_teardown' EXIT

lab_edge_config "$LAB_DIR/edge.json" '"services": [
	{ "name": "game", "protocol": "udp", "address": "'"$LAB_SVC"'",
	  "port": '"$LAB_GAME_PORT"', "backend": "'"$LAB_GS"'",
	  "limits": { "unvalidated": { "pps": 100000, "burst_packets": 10000 },
		      "total": { "pps": 1000000, "burst_packets": 100000 } },
	  "a2s": { "refresh_ms": '$REFRESH_MS', "max_age_ms": 10000,
		   "timeout_ms": '$TIMEOUT_MS' } }
]'
lab_start_loader "$LAB_DIR/edge.json"
lab_start_mapper
lab_spawn fixture "$LAB_NS_GS" "$KW_FIXTURE" --listen "$LAB_SVC:$LAB_GAME_PORT" \
	--rules $RULES --players 3 --mutate --stats-file "$LAB_DIR/fixture.json"
lab_wait_for 5 test -s "$LAB_DIR/fixture.json" || lab_fail "fixture did not start"

SVC_ID=$(km --json services | jq -r '[.. | objects | select(.port? == '"$LAB_GAME_PORT"')][0].id')
[[ $SVC_ID =~ ^[0-9]+$ ]] || lab_fail "no service id ($SVC_ID)"
KEY="$((SVC_ID & 255)) $((SVC_ID >> 8 & 255)) 0 0"

# kw_map MAP: the service's value of a pinned per-service map, as JSON.
kw_map() {
	bpftool -j map lookup pinned "$LAB_PIN_EDGE/$1" key $KEY |
		jq -c '.formatted.value'
}
kw_wstat() { kw_map km_a2s_wstats | jq -r ".$1"; }
kw_info_flags() { kw_map km_a2s_info | jq -r '.flags'; }
# kw_fixture FIELD [SOURCE]: a count of the fixture (from SOURCE's address).
kw_fixture() {
	kill -USR1 "$(lab_pid fixture)" 2>/dev/null
	sleep 0.2
	if [[ -n ${2:-} ]]; then
		jq -r --arg s "$2" --arg f "$1" '.sources[$s][$f] // 0' "$LAB_DIR/fixture.json"
	else
		jq -r --arg f "$1" '.[$f] // 0' "$LAB_DIR/fixture.json"
	fi
}
# kw_probe KIND ARGS...: a2s-probe from the player; prints its JSON.
kw_probe() {
	local kind=$1
	shift
	lab_exec "$LAB_NS_PL" "$KW_PROBE" --to "$LAB_SVC:$LAB_GAME_PORT" \
		--bind "$LAB_PLAYER" --kind "$kind" "$@" | tail -n 1
}
kw_start_worker() { # NAME ARGS...
	local name=$1
	shift
	lab_spawn "$name" "$LAB_NS_ED" "$KW_AFXDP" --interface ed0 \
		--pin-root "$LAB_PIN_EDGE" --run-dir "$KW_RUN" "$@"
	_lab_wait_ready "$name" 'serving A2S on ed0 queue 0'
}
kw_info_valid() { (( ($(kw_info_flags) & 1) == 1 )); }
kw_info_down() { (( ($(kw_info_flags) & 2) == 2 )); }
kw_info_up() { (( ($(kw_info_flags) & 2) == 0 )); }
kw_wstat_gt() { (( $(kw_wstat "$1") > $2 )); } # FIELD VALUE

# ---- an INFO miss waits for the first answer, then ingest -----------------
# The server is silent when the worker starts: a player's INFO request (a
# miss: nothing cached) waits in the worker, which queries again one
# refresh interval later, once the server answers; the request is answered
# from that answer, and the game server never sees the player.
kill -USR2 "$(lab_pid fixture)"
kw_start_worker afxdp --queue 0
kw_probe info --count 1 --attempts 1 --timeout 2500 >"$LAB_DIR/miss.json" &
pr=$!
sleep 0.5
kill -USR2 "$(lab_pid fixture)"
wait $pr
out=$(cat "$LAB_DIR/miss.json")
lab_log "info miss: $out"
lab_assert "info miss: answered on the first attempt" "$(lab_json_get "$out" answered)" -eq 1
lab_assert "info miss: no retransmission" "$(lab_json_get "$out" retransmits)" -eq 0
lab_assert "info miss: served by the worker" "$(kw_wstat served)" -eq 1
lab_assert "info miss: the game server saw no player query" \
	"$(kw_fixture queries "$LAB_PLAYER")" -eq 0
lab_wait_for 10 kw_info_valid || lab_fail "ingest: km_a2s_info never became valid"
lab_log "ok: ingest: km_a2s_info holds the INFO answer ($(kw_map km_a2s_info | jq -c '{flags,len}'))"
lab_assert "challenge: the fixture challenged the worker" \
	"$(kw_fixture challenged "$LAB_EDGE")" -ge 1
lab_assert "challenge: the worker's queries carried it" \
	"$(kw_fixture queries "$LAB_EDGE")" -ge 1

# ---- a forged answer (plain UDP, not through the tunnel) is refused ------
# From the player's side with the service's address as its source, to the
# worker's port on the edge address: the kernel hands it to the worker's
# UDP socket, where a source address proves nothing.
port=$(grep -o 'queries from [0-9.]*:[0-9]*' "$LAB_DIR/afxdp.log" | tail -n 1 | cut -d: -f2)
[[ $port =~ ^[0-9]+$ ]] || lab_fail "no worker port in the log"
ip -n "$LAB_NS_PL" addr add "$LAB_SVC/32" dev pl0
b0=$(kw_wstat bad_answers)
g0=$(kw_wstat ingested)
printf '\xff\xff\xff\xff\x49\x11FORGED\x00map\x00' |
	lab_exec "$LAB_NS_PL" socat -u - "UDP-SENDTO:$LAB_EDGE:$port,bind=$LAB_SVC:$LAB_GAME_PORT" ||
	lab_fail "forged answer: socat failed"
ip -n "$LAB_NS_PL" addr del "$LAB_SVC/32" dev pl0
kw_bad_gt() { kw_wstat_gt bad_answers "$b0"; }
lab_wait_for 5 kw_bad_gt || lab_fail "forged answer: not counted as bad"
lab_assert "forged answer: not ingested" "$(kw_wstat ingested)" -le $((g0 + 3))
kw_map km_a2s_info | grep -q FORGED && lab_fail "forged answer: in km_a2s_info"
grep -q 'answers no query of this worker' "$LAB_DIR/afxdp.log" ||
	lab_fail "forged answer: not logged"
lab_log "ok: forged answer on the UDP socket refused, counted and logged"
b1=$(kw_wstat bad_answers)

# ---- INFO from XDP, PLAYER and RULES from the worker --------------------
out=$(kw_probe info --count 20 --reuse-challenge)
lab_log "info: $out"
lab_assert "info: 20 answered" "$(lab_json_get "$out" answered)" -eq 20
lab_assert "info: none bad" "$(lab_json_get "$out" bad)" -eq 0
out=$(kw_probe player --count 20 --reuse-challenge --expect-players 3)
lab_log "player: $out"
lab_assert "player: 20 answered" "$(lab_json_get "$out" answered)" -eq 20
lab_assert "player: none bad" "$(lab_json_get "$out" bad)" -eq 0
out=$(kw_probe rules --count 20 --reuse-challenge --expect-rules $RULES)
lab_log "rules: $out"
lab_assert "rules: 20 answered" "$(lab_json_get "$out" answered)" -eq 20
lab_assert "rules: none bad" "$(lab_json_get "$out" bad)" -eq 0
lab_assert "rules: split answers" "$(lab_json_get "$out" split_answers)" -ge 20
lab_assert "cache: the game server saw no player query" \
	"$(kw_fixture queries "$LAB_PLAYER")" -eq 0
lab_assert "worker: served >= 41" "$(kw_wstat served)" -ge 41
lab_assert "worker: RULES took several frames each" \
	"$(kw_wstat served_frames)" -gt "$(kw_wstat served)"
lab_assert "worker: no bad answer from the server" "$(kw_wstat bad_answers)" -eq "$b1"

# ---- refresh schedule under a flood -------------------------------------
q0=$(kw_fixture queries "$LAB_EDGE")
i0=$(kw_fixture info "$LAB_EDGE")
r0=$(kw_fixture rules "$LAB_EDGE")
t0=$SECONDS
kw_probe rules --duration 4 --rate 300 --reuse-challenge >"$LAB_DIR/flood-rules.json" &
fl=$!
out=$(kw_probe info --duration 4 --rate 300 --reuse-challenge)
wait $fl
secs=$((SECONDS - t0 + 1))
i1=$(kw_fixture info "$LAB_EDGE")
r1=$(kw_fixture rules "$LAB_EDGE")
lab_log "flood: info $out; rules $(cat "$LAB_DIR/flood-rules.json")"
lab_log "schedule: in ~$secs s the server got $((i1 - i0)) INFO and $((r1 - r0)) RULES requests from the edge (challenge rounds included)"
# One query per second and kind, plus a challenge round each when the
# server's challenge changed; at most one more for the interval in flight.
lab_assert "schedule: INFO queries <= 1 per refresh interval" \
	"$(( $(kw_fixture queries "$LAB_EDGE") - q0 ))" -le $((3 * (secs + 1)))
lab_assert "schedule: INFO requests bounded" $((i1 - i0)) -le $((secs + 2))
lab_assert "schedule: RULES requests bounded" $((r1 - r0)) -le $((secs + 2))
lab_assert "schedule: the cache was refreshed" $((i1 - i0)) -ge 2
lab_assert "cache: still no player query at the server" \
	"$(kw_fixture queries "$LAB_PLAYER")" -eq 0

# ---- down and up again ---------------------------------------------------
kill -USR2 "$(lab_pid fixture)"
d0=$(kw_wstat server_down)
lab_wait_for $((TIMEOUT_MS / 1000 + 5)) kw_wstat_gt server_down "$d0" ||
	lab_fail "down: the muted server was not marked down"
kw_info_down || lab_fail "down: km_a2s_info not flagged DOWN"
lab_log "ok: down: marked after the timeout, km_a2s_info flagged DOWN"
grep -q 'down, its cached answers are not served' "$LAB_DIR/afxdp.log" ||
	lab_fail "down: not logged"
out=$(kw_probe rules --count 3 --reuse-challenge --attempts 1)
lab_log "rules while down: $out"
lab_assert "down: RULES not served from the cache" "$(lab_json_get "$out" answered)" -eq 0
kill -USR2 "$(lab_pid fixture)"
lab_wait_for $((REFRESH_MS / 1000 + 5)) kw_info_up ||
	lab_fail "up: the server answers again but stays down"
lab_log "ok: up again once the server answered"
out=$(kw_probe rules --count 5 --reuse-challenge --expect-rules $RULES)
lab_assert "up: RULES served again" "$(lab_json_get "$out" answered)" -eq 5

# ---- SIGTERM -------------------------------------------------------------
p0=$(kw_fixture queries "$LAB_PLAYER")
lab_stop afxdp TERM
rc=$?
lab_assert "SIGTERM: exit status 0" $rc -eq 0
grep -q 'queue 0: stopped' "$LAB_DIR/afxdp.log" || lab_fail "SIGTERM: no clean stop logged"
w0=$(lab_stat redir_a2s_worker)
out=$(kw_probe rules --count 5 --reuse-challenge --expect-rules $RULES)
lab_log "rules without a worker: $out"
lab_assert "no worker: RULES answered by the game server" "$(lab_json_get "$out" answered)" -eq 5
lab_assert "no worker: the game server saw them" \
	"$(kw_fixture queries "$LAB_PLAYER")" -ge $((p0 + 5))
lab_assert "no worker: nothing redirected to the empty slot" \
	"$(lab_stat redir_a2s_worker)" -eq "$w0"

# ---- restart: the shared cache serves at once ----------------------------
s0=$(kw_wstat served)
kw_start_worker afxdp --queue 0
p1=$(kw_fixture queries "$LAB_PLAYER")
out=$(kw_probe rules --count 10 --reuse-challenge --expect-rules $RULES)
lab_log "rules after the restart: $out"
lab_assert "restart: RULES answered" "$(lab_json_get "$out" answered)" -eq 10
lab_assert "restart: by the new worker" "$(kw_wstat served)" -ge $((s0 + 10))
lab_assert "restart: not by the game server" "$(kw_fixture queries "$LAB_PLAYER")" -eq "$p1"
lab_stop afxdp TERM || lab_fail "second worker: SIGTERM exit status"

# ---- SIGTERM with a request pending: handed to the game server ----------
# An empty shared cache and a silent (muted) server: the worker keeps a
# PLAYER request pending; stopped before the timeout, it hands it over.
rm -f "$KW_RUN/a2s.cache"
kill -USR2 "$(lab_pid fixture)"
kw_start_worker afxdp --queue 0
h0=$(kw_fixture player "$LAB_PLAYER")
kw_probe player --count 1 --attempts 1 --timeout 3000 >"$LAB_DIR/pending.json" &
pr=$!
sleep 1
lab_stop afxdp TERM || lab_fail "pending: SIGTERM exit status"
wait $pr
grep -q '1 pending request(s) handed to their game servers' "$LAB_DIR/afxdp.log" ||
	lab_fail "pending: the worker did not hand its request over"
lab_assert "pending: the game server received the player's request" 	"$(kw_fixture player "$LAB_PLAYER")" -ge $((h0 + 1))
kill -USR2 "$(lab_pid fixture)"

# ---- --queues all: a killed worker comes back ----------------------------
kw_start_worker sup --queues all
child=$(grep -o 'queue 0: worker pid [0-9]*' "$LAB_DIR/sup.log" | tail -n 1 | awk '{print $NF}')
[[ -n $child ]] || lab_fail "supervisor: no worker process"
kill -KILL "$child"
lab_wait_for 10 grep -q 'restart in' "$LAB_DIR/sup.log" || lab_fail "supervisor: no restart"
kw_sup_served_twice() { (( $(grep -c 'serving A2S on ed0 queue 0' "$LAB_DIR/sup.log") >= 2 )); }
lab_wait_for 10 kw_sup_served_twice ||
	lab_fail "supervisor: the worker did not come back"
out=$(kw_probe rules --count 5 --reuse-challenge --expect-rules $RULES)
lab_assert "supervisor: RULES answered after the restart" "$(lab_json_get "$out" answered)" -eq 5
lab_stop sup TERM || lab_fail "supervisor: SIGTERM exit status"
lab_log "ok: supervisor restarted the killed worker and stopped cleanly"

# ---- a killed supervisor takes its worker with it -------------------------
kw_start_worker sup2 --queues all
child=$(grep -o 'queue 0: worker pid [0-9]*' "$LAB_DIR/sup2.log" | tail -n 1 | awk '{print $NF}')
[[ -n $child ]] || lab_fail "supervisor: no worker process"
kill -KILL "$(lab_pid sup2)"
kw_child_gone() { ! kill -0 "$child" 2>/dev/null; }
lab_wait_for 5 kw_child_gone || lab_fail "supervisor killed: its worker $child lives on"
grep -q 'queue 0: stopped' "$LAB_DIR/sup2.log" || lab_fail "supervisor killed: the worker did not stop cleanly"
lab_stop sup2 TERM
out=$(kw_probe rules --count 3 --reuse-challenge --expect-rules $RULES)
lab_assert "supervisor killed: XDP forwards again" "$(lab_json_get "$out" answered)" -eq 3
lab_log "ok: a killed supervisor's worker stopped cleanly (parent-death signal)"
