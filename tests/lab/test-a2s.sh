#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# A2S end to end: a game server that requires challenges (a2s-fixture,
# split RULES) behind the edge; real third-party clients (Debian's
# quakestat, the npm package gamedig) and the lab's a2s-probe query it
# through the edge's XDP program and its kilimanjaro-afxdp worker.
#
#  1. no worker yet, nothing cached: the game server answers through the
#     edge (its own challenge exchange included);
#  2. worker: quakestat and gamedig get the fixture's exact content, split
#     RULES included, from the edge;
#  3. absorption: 200 INFO + 40 PLAYER + 40 RULES queries from a player,
#     none reaches the game server; the edge's refreshes do, at most one
#     per refresh interval and kind (+ its challenge exchange);
#  4. no stampede: the game server hangs (muted), the entry goes stale, a
#     back-to-back flood of valid requests is answered from the stale
#     cache and at most one refresh per interval reaches the game server;
#  5. worker stopped (SIGTERM), restarted, killed (SIGKILL), restarted while
#     clients query continuously: no query lost (defined below), and while
#     no worker runs the game server answers (its counts rise);
#  6. `kilimanjaro a2s --json` shows the counters.
LAB_PREFIX=${LAB_PREFIX:-kl-$$}
LAB_DIR_SELF=$(dirname "$(readlink -f "$0")")
source "$LAB_DIR_SELF/lib.sh"

KM_AFXDP=$KM_BUILD_DIR/afxdp-worker/kilimanjaro-afxdp
FIXTURE=$KM_BUILD_DIR/tests/lab/a2s-fixture
PROBE=$KM_BUILD_DIR/tests/lab/a2s-probe
GAMEDIG_QUERY=$LAB_DIR_SELF/a2s-query.js
lab_require "$KM_LOADER" "$KM_CLI" "$KM_MAPPER" "$KM_AFXDP" "$FIXTURE" "$PROBE"
command -v quakestat >/dev/null ||
	lab_fail "quakestat is missing (Debian qstat): run packaging/install-deps"
[[ -f $LAB_DIR_SELF/node_modules/gamedig/package.json ]] ||
	lab_fail "gamedig is missing in tests/lab/node_modules: run packaging/install-deps"

SVC=$LAB_SVC:$LAB_GAME_PORT
REFRESH_S=1
NAME="Kilimanjaro lab"
MAP=cp_kilimanjaro
PLAYERS=5
RULES=100 # about 3.1 kB: RULES answers are split into 3 datagrams

lab_up
FX_STATS=$LAB_DIR/fixture.json

# The game service with A2S caching; limits high enough that the test's
# own query rates are never what limits them (rate limiting before the
# cache is the bpf suite's subject).
lab_edge_config "$LAB_DIR/edge.json" '
	"defaults": {
		"unvalidated": { "pps": 5000, "burst_packets": 5000 },
		"validated": { "pps": 5000, "burst_packets": 5000 }
	},
	"services": [
		{ "name": "game", "protocol": "udp", "address": "'"$LAB_SVC"'",
		  "port": '"$LAB_GAME_PORT"', "backend": "'"$LAB_GS"'",
		  "a2s": { "refresh_ms": '$((REFRESH_S * 1000))',
			   "max_age_ms": 20000, "timeout_ms": 10000,
			   "challenge": "required" } }
	]'
lab_start_loader "$LAB_DIR/edge.json"
lab_start_mapper

lab_spawn fixture "$LAB_NS_GS" "$FIXTURE" --listen "$SVC" --name "$NAME" \
	--map "$MAP" --players "$PLAYERS" --rules "$RULES" --mutate \
	--stats-file "$FX_STATS"
lab_wait_for 5 test -s "$FX_STATS" || lab_fail "a2s-fixture did not start"

# ---- helpers ------------------------------------------------------------

# snap: the fixture's counts now. The file is rewritten (atomically)
# whenever the fixture has drained its socket, a few microseconds after it
# answered; the short sleep covers that.
snap() {
	sleep 0.05
	cat "$FX_STATS"
}
# sget SNAP ADDR FIELD...: sum of per-source counts (info, player, rules,
# queries, challenged) of ADDR in SNAP.
sget() {
	local snap=$1 addr=$2
	shift 2
	jq -r --arg a "$addr" --arg f "$*" \
		'[.sources[$a] // {} | .[($f | split(" "))[]] // 0] | add' <<<"$snap"
}
# fx_src ADDR FIELD...: the same, now.
fx_src() { sget "$(snap)" "$@"; }

WORKER_RUN=$LAB_DIR/run
mkdir -p "$WORKER_RUN"
# start_worker: kilimanjaro-afxdp for ed0's only RX queue; returns once it
# has registered its socket. The log accumulates across restarts.
start_worker() {
	local pos
	: >>"$LAB_DIR/worker.log"
	pos=$(stat -c %s "$LAB_DIR/worker.log")
	setsid nsenter --net="/run/netns/$LAB_NS_ED" -- "$KM_AFXDP" \
		--interface ed0 --queue 0 --pin-root "$LAB_PIN_EDGE" \
		--run-dir "$WORKER_RUN" >>"$LAB_DIR/worker.log" 2>&1 &
	LAB_PIDS[worker]=$!
	LAB_SPAWNED+=($!)
	_lab_wait_ready worker 'serving A2S on' "$pos"
}

# quakestat_check WHAT: INFO, players (-P) and rules (-R) from a player
# through the edge, compared with what the fixture was told to serve.
quakestat_check() {
	local what=$1 out
	out=$(lab_exec "$LAB_NS_PL" quakestat -a2s "$SVC" -R -P -json \
		-retry 3 -interval 0.3) || lab_fail "$what: quakestat failed"
	jq -e --arg name "$NAME" --arg map "$MAP" --argjson np "$PLAYERS" \
		--argjson nr "$RULES" '.[0] |
		.status == "online" and (.name | startswith($name)) and
		.map == $map and .numplayers == $np and
		(.players | length) == $np and
		([.players[].name] | sort) ==
			[range($np) | "player_\(if . < 10 then "0" else "" end)\(.)"] and
		([.rules | keys[] | select(startswith("km_rule_"))] | length) == $nr and
		.rules.km_rule_000 == "value-000-abcdefghijklmnop" and
		.rules["km_rule_\($nr - 1 | tostring | ("00" + .)[-3:])"] ==
			"value-\($nr - 1 | tostring | ("00" + .)[-3:])-abcdefghijklmnop"' \
		<<<"$out" >/dev/null || {
		a2s_diag
		lab_fail "$what: quakestat's answer differs: $(jq -c '.[0] | del(.rules) + {rules: (.rules | length)}' <<<"$out")"
	}
	lab_log "ok: $what: quakestat -a2s -R -P: $(jq -r '.[0] | "\(.name), \(.map), \(.numplayers) players, \(.rules | length) rules"' <<<"$out")"
}

# gamedig_check WHAT: the same through gamedig (npm, pinned).
gamedig_check() {
	local what=$1 out
	out=$(lab_exec "$LAB_NS_PL" node "$GAMEDIG_QUERY" "$SVC") ||
		lab_fail "$what: gamedig failed"
	jq -e --arg name "$NAME" --arg map "$MAP" --argjson np "$PLAYERS" \
		--argjson nr "$RULES" '
		(.name | startswith($name)) and .map == $map and
		.numplayers == $np and (.players | length) == $np and
		([.rules | keys[] | select(startswith("km_rule_"))] | length) == $nr and
		.rules.km_rule_042 == "value-042-abcdefghijklmnop"' \
		<<<"$out" >/dev/null || {
		a2s_diag
		lab_fail "$what: gamedig's answer differs: $(jq -c 'del(.rules) + {rules: (.rules | length)}' <<<"$out")"
	}
	lab_log "ok: $what: gamedig: $(jq -r '"\(.name), \(.map), \(.numplayers) players, \(.rules | length) rules"' <<<"$out")"
}

# probe NS SRC ARGS...: a2s-probe to the service; prints its JSON.
probe() {
	local ns=$1 src=$2
	shift 2
	lab_exec "$ns" "$PROBE" --to "$SVC" --bind "$src" "$@"
}

# a2s_json: the CLI's view of the game service's A2S cache and counters.
a2s_json() {
	km --json a2s | jq --arg a "$LAB_SVC" --argjson p "$LAB_GAME_PORT" \
		'.a2s[] | select(.address == $a and .port == $p)'
}
# a2s_count PATH: a counter of the game service, e.g. xdp.stale or
# worker.refreshes (`kilimanjaro --json a2s`).
a2s_count() { a2s_json | jq -r --arg f "$1" 'getpath($f | split(".")) // 0'; }

# a2s_diag: what the edge and the game server counted, for a failure's log
# (bad challenges on both sides mean the two challenges ping-pong).
a2s_diag() {
	lab_log "edge: $(a2s_json | jq -c '{cache, xdp, worker}' 2>/dev/null)"
	lab_log "game server: $(jq -c 'del(.sources)' "$FX_STATS")"
}

now() { date +%s.%N; }
# allowed N ELAPSED_S: refreshes allowed over ELAPSED_S seconds, at most
# one per refresh interval plus the one at the window's start, times N.
allowed() { awk -v n="$1" -v t="$2" -v r="$REFRESH_S" 'BEGIN { printf "%d", n * (int(t / r) + 1) }'; }

# ---- 1. no worker, nothing cached: the game server answers -----------------

quakestat_check "no worker yet"
gamedig_check "no worker yet"
lab_assert "no worker: the game server answered the player itself" \
	"$(fx_src "$LAB_PLAYER" queries)" -ge 6
lab_assert "no worker: the game server's own challenges reached the player" \
	"$(fx_src "$LAB_PLAYER" challenged)" -ge 2

# ---- 2. worker: the edge answers -----------------------------------------

start_worker
# The worker fills the cache with its first refresh; a player's request
# that arrives before is still answered (forwarded or held by the worker).
lab_wait_for 10 bash -c "[[ \$(jq -r '.sources[\"$LAB_EDGE\"].queries // 0' '$FX_STATS') -ge 1 ]]" ||
	lab_fail "the worker never queried the game server"
sleep 0.5
quakestat_check "worker"
gamedig_check "worker"
out=$(probe "$LAB_NS_PL" "$LAB_PLAYER" --kind rules --count 3 --expect-rules "$RULES")
lab_assert "worker: RULES by a2s-probe, split and exact" \
	"$(lab_json_get "$out" answered)" -eq 3
lab_assert "worker: RULES answers arrived split" \
	"$(lab_json_get "$out" split_answers)" -eq 3
out=$(probe "$LAB_NS_PL" "$LAB_PLAYER" --kind player --count 3 --expect-players "$PLAYERS")
lab_assert "worker: PLAYER by a2s-probe, exact" "$(lab_json_get "$out" answered)" -eq 3

# ---- 3. absorption ------------------------------------------------------
#
# 200 INFO (50/s), 40 PLAYER and 40 RULES (10/s each) queries from one
# player over 4 s, each starting with a challenge request: none may reach
# the game server. What does reach it from the edge (its worker's refresh
# queries) is bounded per refresh interval and kind.

s0=$(snap)
t0=$(now)
lab_spawn ab-info "$LAB_NS_PL" "$PROBE" --to "$SVC" --bind "$LAB_PLAYER" \
	--kind info --count 200 --rate 50
lab_spawn ab-player "$LAB_NS_PL" "$PROBE" --to "$SVC" --bind "$LAB_PLAYER" \
	--kind player --count 40 --rate 10 --expect-players "$PLAYERS"
lab_spawn ab-rules "$LAB_NS_PL" "$PROBE" --to "$SVC" --bind "$LAB_PLAYER" \
	--kind rules --count 40 --rate 10 --expect-rules "$RULES"
for q in ab-info ab-player ab-rules; do
	lab_flow_wait "$q"
	out=$(lab_flow_json "$q")
	lab_assert "absorption: $q: every query answered, none bad" \
		"$(lab_json_get "$out" answered)/$(lab_json_get "$out" bad)" = \
		"$(lab_json_get "$out" queries)/0"
done
info=$(lab_flow_json ab-info)
s1=$(snap)
el=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')
lab_assert "absorption: no player request reached the game server" \
	"$(sget "$s1" "$LAB_PLAYER" info player rules)" -eq \
	"$(sget "$s0" "$LAB_PLAYER" info player rules)"
ed_info=$(($(sget "$s1" "$LAB_EDGE" info) - $(sget "$s0" "$LAB_EDGE" info)))
ed_q=$(($(sget "$s1" "$LAB_EDGE" queries) - $(sget "$s0" "$LAB_EDGE" queries)))
ed_ch=$(($(sget "$s1" "$LAB_EDGE" challenged) - $(sget "$s0" "$LAB_EDGE" challenged)))
lab_log "absorption: 280 queries in $el s; the game server saw from the edge $ed_q queries ($ed_info INFO requests) and $ed_ch challenge requests"
# An INFO refresh may take two requests (the server's challenge first).
lab_assert "absorption: INFO refreshes <= 1 per ${REFRESH_S}s (+ challenge)" \
	"$ed_info" -le "$(allowed 2 "$el")"
lab_assert "absorption: refresh queries <= 1 per ${REFRESH_S}s and kind" \
	"$ed_q" -le "$(allowed 3 "$el")"
lab_assert "absorption: challenge requests <= 1 per refresh query" \
	"$ed_ch" -le "$(allowed 3 "$el")"
# With --mutate every answer the fixture sends has a new name: 200 INFO
# answers with only a few names were served from the cache.
lab_assert "absorption: 200 INFO answers carried <= one name per refresh" \
	"$(lab_json_get "$info" serials)" -le "$(allowed 1 "$el")"

# ---- 4. no stampede -------------------------------------------------------
#
# The game server hangs (muted: it counts but answers nothing). Once the
# entry is older than the refresh interval it is stale; a back-to-back
# flood of valid INFO requests from an allowed source (no rate limit) is
# answered from it, and at most one refresh query per interval and kind
# reaches the game server.

kill -USR2 "$(lab_pid fixture)"
lab_wait_for 2 bash -c "[[ \$(jq -r .mute '$FX_STATS') == 1 ]]" ||
	lab_fail "the fixture did not mute"
s0=$(snap)
t0=$(now)
a0=$(a2s_json)
sleep $((REFRESH_S * 3 / 2)) # the entry is stale now
flood=$(probe "$LAB_NS_PL" "$LAB_ALLOWED" --kind info --duration 3 \
	--reuse-challenge --timeout 200 --attempts 5)
s1=$(snap)
el=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')
kill -USR2 "$(lab_pid fixture)"
answers0=$(jq -r .info_answers <<<"$s1")
ed_info=$(($(sget "$s1" "$LAB_EDGE" info) - $(sget "$s0" "$LAB_EDGE" info)))
ed_all=$(($(sget "$s1" "$LAB_EDGE" info player rules) - $(sget "$s0" "$LAB_EDGE" info player rules)))
lab_log "stampede: $flood"
lab_log "stampede: in $el s the game server saw $ed_info INFO and $ed_all requests in all from the edge"
lab_assert "stampede: the flood was answered (stale entry served)" \
	"$(lab_json_get "$flood" answered)" -ge 1000
lab_assert "stampede: no flood query lost" "$(lab_json_get "$flood" lost)" -eq 0
lab_assert "stampede: the flood saw one cached answer" \
	"$(lab_json_get "$flood" serials)" -eq 1
a1=$(a2s_json)
d() { echo $(($(jq -r "$1" <<<"$a1") - $(jq -r "$1" <<<"$a0"))); }
lab_log "stampede: the edge answered $(d .xdp.cached) from XDP ($(d .xdp.stale) stale), $(d .worker.served) from the worker; $(d .xdp.forwarded) forwarded"
# A valid request is answered from XDP's copy of the cache (XDP_TX), or,
# when the frame cannot grow to the answer's size, by the worker from its
# copy: the edge answers either way.
lab_assert "stampede: every flood query answered by the edge" \
	$(($(d .xdp.cached) + $(d .worker.served))) -ge "$(lab_json_get "$flood" answered)"
lab_assert "stampede: none forwarded to the game server" "$(d .xdp.forwarded)" -eq 0
lab_assert "stampede: stale answers counted" "$(d .xdp.stale)" -ge 1
lab_assert "stampede: no flood request reached the game server" \
	"$(sget "$s1" "$LAB_ALLOWED" info)" -eq 0
# Muted, the fixture sends no challenge either: every request counts.
lab_assert "stampede: INFO refreshes <= 1 per ${REFRESH_S}s" \
	"$ed_info" -le "$(allowed 1 "$el")"
lab_assert "stampede: all refreshes <= 1 per ${REFRESH_S}s and kind" \
	"$ed_all" -le "$(allowed 3 "$el")"
# Answering again, the server's next answer replaces the stale one.
lab_wait_for 5 bash -c "[[ \$(jq -r .info_answers '$FX_STATS') -gt $answers0 ]]" ||
	lab_fail "no refresh after the fixture answered again"
out=$(probe "$LAB_NS_PL" "$LAB_PLAYER" --kind info --count 1)
lab_assert "stampede: a fresh answer after the server came back" \
	"$(lab_json_get "$out" last_name)" != "$(lab_json_get "$flood" last_name)"

# ---- 5. worker restarts under continuous queries ------------------------
#
# "No query lost": every query a client starts gets a correct answer. A
# query is a2s-probe's: request, a new challenge whenever one comes (the
# edge's or, while no worker runs, the game server's), retransmission after
# 250 ms without an answer, at most 6 attempts; it is lost only when all
# 6 attempts saw nothing. A worker dying may lose the frames it held (a
# client retransmits, as real clients do); a query may not go unanswered.

lab_spawn q-info "$LAB_NS_PL" "$PROBE" --to "$SVC" --bind "$LAB_PLAYER" \
	--kind info --duration 12 --rate 40 --timeout 250 --attempts 6
lab_spawn q-rules "$LAB_NS_PL" "$PROBE" --to "$SVC" --bind "$LAB_PLAYER" \
	--kind rules --expect-rules "$RULES" --duration 12 --rate 10 \
	--timeout 250 --attempts 6
sleep 2
lab_stop worker TERM || lab_fail "the worker did not exit 0 on SIGTERM"
lab_log "ok: worker stopped (SIGTERM, status 0)"
pr0=$(fx_src "$LAB_PLAYER" rules)
sleep 1
quakestat_check "worker stopped"
lab_assert "worker stopped: the game server answered RULES itself" \
	"$(fx_src "$LAB_PLAYER" rules)" -gt "$pr0"
start_worker
sleep 2.5
lab_stop worker KILL
lab_log "ok: worker killed (SIGKILL)"
sleep 1.5
start_worker
for q in q-info q-rules; do
	lab_flow_wait "$q"
	out=$(lab_flow_json "$q")
	lab_log "$q across 2 worker restarts: $out"
	lab_assert "$q: queries made" "$(lab_json_get "$out" queries)" -ge 50
	(($(lab_json_get "$out" lost) == 0)) || a2s_diag
	lab_assert "$q: no query lost" "$(lab_json_get "$out" lost)" -eq 0
	lab_assert "$q: every query answered" \
		"$(lab_json_get "$out" answered)" -eq "$(lab_json_get "$out" queries)"
	lab_assert "$q: no bad answer" "$(lab_json_get "$out" bad)" -eq 0
done
gamedig_check "after the restarts"

# ---- 6. the CLI ---------------------------------------------------------

json=$(a2s_json) || lab_fail "kilimanjaro --json a2s failed"
lab_log "kilimanjaro a2s --json: $(jq -c . <<<"$json")"
for c in xdp.challenges xdp.cached xdp.stale xdp.forwarded xdp.to_worker \
	xdp.ingested worker.refreshes worker.ingested worker.served; do
	lab_assert "kilimanjaro a2s: $c counted" "$(a2s_count "$c")" -gt 0
done
lab_assert "kilimanjaro a2s: the cache holds an answer" \
	"$(a2s_count cache.size)" -gt 0
km a2s || lab_fail "kilimanjaro a2s failed"

lab_stop worker TERM || lab_fail "the worker did not exit 0 on SIGTERM"
lab_stop fixture TERM || lab_fail "a2s-fixture did not exit 0 on SIGTERM"
lab_log "fixture totals: $(jq -c 'del(.sources)' "$FX_STATS")"
