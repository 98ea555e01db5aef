#!/bin/bash
# Deny, allow, rate limits, runtime list edits and port punching, end to
# end: what each source gets back, and the verdict counters and lists the
# CLI shows.
source "$(dirname "$(readlink -f "$0")")/lib.sh"
lab_require "$KM_LOADER" "$KM_CLI" "$KM_MAPPER" "$KM_FLOW"

lab_up
lab_edge_config "$LAB_DIR/edge.json"
lab_start_loader "$LAB_DIR/edge.json"
lab_start_mapper
lab_start_servers
game=$LAB_SVC:$LAB_GAME_PORT

# Deny: 198.18.4.0/24 gets nothing back, every packet counted.
d0=$(lab_stat drop_denied)
out=$(lab_flow "$LAB_NS_PL" "$LAB_DENIED" "$game" 50 1)
lab_log "denied source: $out"
lab_assert "deny: no reply to a denied source" "$(lab_json_get "$out" received)" -eq 0
lab_assert "deny: every packet counted drop_denied" \
	$(($(lab_stat drop_denied) - d0)) -ge "$(lab_json_get "$out" sent)"

# Deny covers the edge's own addresses too (SSH, BGP on a real edge).
d0=$(lab_stat drop_denied)
lab_exec "$LAB_NS_PL" ping -c 3 -i 0.2 -W 1 -I "$LAB_DENIED" "$LAB_EDGE" >/dev/null &&
	lab_fail "a denied source reached the edge's own address"
lab_assert "deny: pings to the edge itself dropped" $(($(lab_stat drop_denied) - d0)) -ge 3
lab_exec "$LAB_NS_PL" ping -c 1 -W 1 -I "$LAB_ALLOWED" "$LAB_EDGE" >/dev/null ||
	lab_fail "an allowed source cannot reach the edge's own address"
lab_log "ok: other sources still reach the edge itself"

# Allow: 198.18.5.0/24 skips the limits (600 pps validated here).
out=$(lab_flow "$LAB_NS_PL" "$LAB_ALLOWED" "$game" 2000 2)
lab_log "allowed source at 2000 pps: $out"
lab_assert "allow: no loss above the limits" "$(lab_json_get "$out" lost)" -eq 0

# Limit: the same rate from an ordinary source is cut to its budget.
r0=$(($(lab_stat drop_ratelimit) + $(lab_stat drop_rl_blocked)))
out=$(lab_flow "$LAB_NS_PL" "$LAB_LIMITED" "$game" 2000 2)
lab_log "limited source at 2000 pps: $out"
sent=$(lab_json_get "$out" sent)
got=$(lab_json_get "$out" received)
r1=$(($(lab_stat drop_ratelimit) + $(lab_stat drop_rl_blocked)))
lab_assert "limit: some replies get through" "$got" -ge 1
lab_assert "limit: at most half of 2000 pps gets through a 600 pps limit" \
	$((got * 2)) -le "$sent"
lab_assert "limit: drops counted as rate limit" $((r1 - r0)) -ge $((sent - got - 50))

# The well-behaved player is untouched by all of that.
out=$(lab_flow "$LAB_NS_PL" "$LAB_PLAYER" "$game" 100 1)
lab_assert "player: no loss" "$(lab_json_get "$out" lost)" -eq 0

# Runtime deny through the CLI, then removed again.
km deny add 198.18.0.0/24 >/dev/null || lab_fail "kilimanjaro deny add"
km deny --json | jq -e '[.. | strings | select(. == "198.18.0.0/24")] | length > 0' \
	>/dev/null || lab_fail "deny list does not show 198.18.0.0/24"
out=$(lab_flow "$LAB_NS_PL" "$LAB_PLAYER" "$game" 50 1)
lab_assert "cli deny: player cut off" "$(lab_json_get "$out" received)" -eq 0
km deny del 198.18.0.0/24 >/dev/null || lab_fail "kilimanjaro deny del"
out=$(lab_flow "$LAB_NS_PL" "$LAB_PLAYER" "$game" 50 1)
lab_assert "cli deny del: player back" "$(lab_json_get "$out" lost)" -eq 0

# A timed block through the CLI, then lifted again.
b0=$(lab_stat drop_blocked)
km blocks add "$LAB_PLAYER" --seconds 60 >/dev/null || lab_fail "kilimanjaro blocks add"
out=$(lab_flow "$LAB_NS_PL" "$LAB_PLAYER" "$game" 50 1)
lab_assert "cli block: player cut off" "$(lab_json_get "$out" received)" -eq 0
lab_assert "cli block: counted drop_blocked" $(($(lab_stat drop_blocked) - b0)) -ge 45
km blocks del "$LAB_PLAYER" >/dev/null || lab_fail "kilimanjaro blocks del"
out=$(lab_flow "$LAB_NS_PL" "$LAB_PLAYER" "$game" 50 1)
lab_assert "cli block lifted: player back" "$(lab_json_get "$out" lost)" -eq 0

# Port punching: the game server opens a flow from its service address and
# a non-service port to a remote; the remote's answers come back through
# the edge only because the edge learned the punch on the way out.
lab_start_echo remote-echo "$LAB_NS_PL" "$LAB_REMOTE:6000"
nd0=$(lab_stat drop_no_service)
# Unsolicited: nothing was punched yet, the edge drops it.
lab_exec "$LAB_NS_PL" "$KM_FLOW" client --bind "$LAB_REMOTE:6001" \
	--to "$LAB_SVC:40000" --rate 50 --duration 0.4 --grace 100 >/dev/null
lab_assert "unsolicited packets to a service address are dropped" \
	$(($(lab_stat drop_no_service) - nd0)) -ge 15
p0=$(lab_stat fwd_punch)
out=$(lab_exec "$LAB_NS_GS" "$KM_FLOW" client --bind "$LAB_SVC:40000" \
	--to "$LAB_REMOTE:6000" --rate 100 --duration 2)
lab_log "server-initiated flow: $out"
lab_assert "punch: every datagram of the server's flow answered" \
	"$(lab_json_get "$out" lost)" -eq 0
lab_assert "punch: answers counted fwd_punch" \
	$(($(lab_stat fwd_punch) - p0)) -ge "$(lab_json_get "$out" received)"
km punches --json >"$LAB_DIR/punches.json" || lab_fail "kilimanjaro punches --json"
jq -e --arg r "$LAB_REMOTE" '[.. | strings | select(. == $r)] | length > 0' \
	"$LAB_DIR/punches.json" >/dev/null ||
	lab_fail "kilimanjaro punches does not show the punch to $LAB_REMOTE: $(cat "$LAB_DIR/punches.json")"
lab_log "ok: punch to $LAB_REMOTE:6000 listed by kilimanjaro punches"
