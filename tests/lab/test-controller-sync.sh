#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Two edges and one controller (issue 4, item 6), with real loaders,
# statsd, agents (mutual TLS) and the controller:
#   - a port punch learned on edge A is on edge B within one second, and
#     edge B forwards the remote's answers once the route shifts to it;
#   - a service added through the API forwards on both edges;
#   - a deny added through the dashboard (headless chromium) drops on both.
source "$(dirname "$(readlink -f "$0")")/lib-multi.sh"
lab_require "$KM_LOADER" "$KM_CLI" "$KM_MAPPER" "$KM_FLOW" "$KM_STATSD" \
	"$KM_AGENT" "$KM_CONTROLLER"
web=$(dirname "$(readlink -f "$0")")/../web
[[ -f $web/node_modules/playwright-core/package.json && -x /usr/bin/chromium ]] ||
	lab_fail "chromium or playwright-core missing: run packaging/install-deps"

lab_multi_up
lab_make_pki
lab_edge_config "$LAB_DIR/edge-a.json"
lab_edge_b_config "$LAB_DIR/edge-b.json"
lab_controller_config "$LAB_DIR/controller.json"
lab_start_loader "$LAB_DIR/edge-a.json"
lab_start_loader_b "$LAB_DIR/edge-b.json"
lab_start_mapper_ab
lab_start_servers
lab_start_controller "$LAB_DIR/controller.json"
for e in a b; do
	lab_start_statsd "$e"
	lab_start_agent "$e"
done
lab_wait_synced 15 "$LAB_EDGE_A_ID" "$LAB_EDGE_B_ID"
lab_log "ok: both edges connected and in sync"

# ---- one A2S challenge key on every edge -----------------------------------
# A challenge is SipHash(key, player, service, epoch): edges that hold the
# controller's key (k0, k1: bytes 0-15 of km_a2s_key) and the same epoch
# (bytes 32-35, from the wall clock) accept each other's challenges, so an
# anycast shift between the two packets of an exchange does not matter.
a2s_key_bytes() { # PIN-ROOT FIRST COUNT
	bpftool -j map lookup pinned "$1/km_a2s_key" key 0 0 0 0 |
		jq -r --argjson f "$2" --argjson n "$3" '.value[$f:$f+$n] | map(ltrimstr("0x")) | join("")'
}
ka=$(a2s_key_bytes "$LAB_PIN_EDGE" 0 16)
kb=$(a2s_key_bytes "$LAB_PIN_EDGE_B" 0 16)
[[ -n $ka && $ka == "$kb" ]] ||
	lab_fail "edges hold different A2S keys after the controller's snapshot"
[[ $ka != 00000000000000000000000000000000 ]] ||
	lab_fail "edge A's A2S key is zero"
for _ in 1 2 3; do # an epoch boundary may fall between the two reads
	ea=$(a2s_key_bytes "$LAB_PIN_EDGE" 32 4)
	eb=$(a2s_key_bytes "$LAB_PIN_EDGE_B" 32 4)
	[[ $ea == "$eb" ]] && break
	sleep 1
done
lab_assert "both edges in the same A2S epoch" "$([[ $ea == "$eb" ]] && echo 1 || echo 0)" -eq 1
lab_log "ok: both edges hold the controller's A2S key, epoch $ea"

now_ms() { echo $(($(date +%s%N) / 1000000)); }
has_punch_b() {
	km_b punches --json | jq -e --arg r "$LAB_REMOTE" \
		'[.. | strings | select(. == $r)] | length > 0' >/dev/null
}

# ---- punch learned on A, forwarded by B ----------------------------------
lab_route_to a
lab_start_echo remote-echo "$LAB_NS_PL" "$LAB_REMOTE:6000"
has_punch_b && lab_fail "edge B has a punch to $LAB_REMOTE before any traffic"
t0=$(now_ms)
# One datagram from the game server's service address to a remote: out
# through the mapper's default edge, A, which learns the punch.
lab_exec "$LAB_NS_GS" "$KM_FLOW" client --bind "$LAB_SVC:40000" \
	--to "$LAB_REMOTE:6000" --rate 20 --duration 0.05 >/dev/null ||
	lab_fail "the game server's first datagram to the remote"
lab_wait_for 3 has_punch_b ||
	lab_fail "edge B never got the punch learned on edge A: $(km punches --json | jq -c .)"
dt=$(($(now_ms) - t0))
lab_log "punch learned on A present on B after $dt ms"
lab_assert "punch on A reaches B within 1 s ($dt ms)" "$dt" -le 1000
# The route shifts to B: the remote's answers now arrive there.
lab_route_to b
p0=$(lab_stat_b fwd_punch)
out=$(lab_exec "$LAB_NS_GS" "$KM_FLOW" client --bind "$LAB_SVC:40000" \
	--to "$LAB_REMOTE:6000" --rate 100 --duration 1)
lab_log "server's flow to the remote, answers through B: $out"
lab_assert "punch: every answer through edge B forwarded" "$(lab_json_get "$out" lost)" -eq 0
lab_assert "punch: edge B counted them fwd_punch" \
	$(($(lab_stat_b fwd_punch) - p0)) -ge "$(lab_json_get "$out" received)"

# ---- service through the API, forwarding on both -------------------------
svc2=$LAB_SVC2:27016
lab_start_echo udp-echo2 "$LAB_NS_GS" "$svc2"
lab_route_to a
out=$(lab_flow "$LAB_NS_PL" "$LAB_PLAYER" "$svc2" 50 0.5)
lab_assert "no service on $svc2 yet: nothing forwarded" "$(lab_json_get "$out" received)" -eq 0
lab_api POST /services "{\"proto\":\"udp\",\"addr\":\"$LAB_SVC2\",\"port\":27016,\"backend\":\"$LAB_GS\"}" \
	>/dev/null || lab_fail "POST /api/services"
lab_wait_synced 5 "$LAB_EDGE_A_ID" "$LAB_EDGE_B_ID"
for e in a b; do
	lab_route_to "$e"
	out=$(lab_flow "$LAB_NS_PL" "$LAB_PLAYER" "$svc2" 100 1)
	lab_log "player to the API's service through edge $e: $out"
	lab_assert "API service forwards on edge $e" "$(lab_json_get "$out" lost)" -eq 0
done

# ---- deny through the dashboard, dropping on both ------------------------
deny=198.18.0.0/24 # the well-behaved player's network
lab_exec "$LAB_NS_CT" timeout 90 node "$web/dashboard.js" \
	--url "http://127.0.0.1:$LAB_HTTP_PORT" --user admin \
	--password "$LAB_PASSWORD" --deny "$deny" \
	--edge "$LAB_EDGE_A_ID" --edge "$LAB_EDGE_B_ID" >&2 ||
	lab_fail "dashboard checks"
lab_wait_synced 5 "$LAB_EDGE_A_ID" "$LAB_EDGE_B_ID"
game=$LAB_SVC:$LAB_GAME_PORT
for e in a b; do
	lab_route_to "$e"
	if [[ $e == a ]]; then d0=$(lab_stat drop_denied); else d0=$(lab_stat_b drop_denied); fi
	out=$(lab_flow "$LAB_NS_PL" "$LAB_PLAYER" "$game" 50 1)
	if [[ $e == a ]]; then d1=$(lab_stat drop_denied); else d1=$(lab_stat_b drop_denied); fi
	lab_log "denied player through edge $e: $out"
	lab_assert "dashboard deny drops on edge $e" "$(lab_json_get "$out" received)" -eq 0
	lab_assert "dashboard deny counted drop_denied on edge $e" $((d1 - d0)) -ge 50
done
lab_api DELETE "/deny/198.18.0.0/24" >/dev/null || lab_fail "DELETE /api/deny"
lab_wait_synced 5 "$LAB_EDGE_A_ID" "$LAB_EDGE_B_ID"
for e in a b; do
	lab_route_to "$e"
	out=$(lab_flow "$LAB_NS_PL" "$LAB_PLAYER" "$game" 50 1)
	lab_assert "deny removed: the player is back on edge $e" "$(lab_json_get "$out" lost)" -eq 0
done
lab_log "PASS"
