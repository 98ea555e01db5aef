#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Two edges and one controller (issue 4, item 6): the controller, then edge
# A's agent, then edge A's statsd killed (SIGKILL) and restarted while a
# player's flow runs through each edge:
#   - forwarding never stops (both flows lose nothing);
#   - nothing configured is lost (the controller's state after its restart
#     is the state before; the edges keep the controller's service while it
#     or their agent is gone);
#   - counters never go backwards (statsd's /metrics and the maps);
#   - the agent resyncs (a deny added while it was dead reaches its edge
#     once it is back; every edge acknowledges the latest version).
source "$(dirname "$(readlink -f "$0")")/lib-multi.sh"
lab_require "$KM_LOADER" "$KM_CLI" "$KM_MAPPER" "$KM_FLOW" "$KM_STATSD" \
	"$KM_AGENT" "$KM_CONTROLLER"

lab_multi_up
lab_make_pki
lab_edge_config "$LAB_DIR/edge-a.json"
lab_edge_b_config "$LAB_DIR/edge-b.json"
lab_controller_config "$LAB_DIR/controller.json"
lab_start_loader "$LAB_DIR/edge-a.json"
lab_start_loader_b "$LAB_DIR/edge-b.json"
lab_start_mapper_ab
lab_start_servers
svc2=$LAB_SVC2:27016
lab_start_echo udp-echo2 "$LAB_NS_GS" "$svc2"
lab_start_controller "$LAB_DIR/controller.json"
for e in a b; do
	lab_start_statsd "$e"
	lab_start_agent "$e"
done
lab_wait_synced 15 "$LAB_EDGE_A_ID" "$LAB_EDGE_B_ID"

# Controller-origin configuration: a service only the controller knows, a
# deny prefix (nobody in it sends here).
lab_api POST /services "{\"proto\":\"udp\",\"addr\":\"$LAB_SVC2\",\"port\":27016,\"backend\":\"$LAB_GS\"}" \
	>/dev/null || lab_fail "POST /api/services"
lab_api POST /deny '{"prefix":"198.18.6.0/24"}' >/dev/null || lab_fail "POST /api/deny"
lab_wait_synced 5 "$LAB_EDGE_A_ID" "$LAB_EDGE_B_ID"

# The game service reaches edge A, the controller's service edge B.
lab_route_to a
ip -n "$LAB_NS_RT" route replace "$LAB_SVC2/32" via "$LAB_EDGE_B" ||
	lab_fail "route to $LAB_SVC2 via edge B"
lab_flow_start flow-a "$LAB_NS_PL" "$LAB_PLAYER" "$LAB_SVC:$LAB_GAME_PORT" 100 15
lab_flow_start flow-b "$LAB_NS_PL" "$LAB_ALLOWED" "$svc2" 100 15
flows_t0=$SECONDS
sleep 1

# has_service km|km_b: the controller's service is in that edge's maps.
has_service() {
	"$1" services --json | jq -e --arg a "$LAB_SVC2" \
		'[.. | objects | select(.address? == $a and .port? == 27016)] | length > 0' >/dev/null
}
# prom a|b REASON: statsd's kilimanjaro_packets_total for REASON.
prom() {
	local ns=$LAB_NS_ED
	[[ $1 == b ]] && ns=$LAB_NS_EB
	lab_exec "$ns" curl -sS --max-time 2 http://127.0.0.1:9477/metrics |
		awk -v r="kilimanjaro_packets_total{reason=\"$2\"}" '$1 == r { print $2 }'
}
prom_ready() { [[ -n $(prom "$1" fwd_service) ]]; }
state_json() { lab_api GET /state | jq -S 'del(.version)'; }

for e in km km_b; do
	has_service "$e" || lab_fail "$e: the controller's service is not on the edge: $($e services --json)"
done

# ---- the controller ---------------------------------------------------------
before=$(state_json) || lab_fail "GET /api/state"
v_before=$(lab_api GET /state | jq -r .version)
lab_stop controller KILL
lab_log "controller killed"
sleep 1
for e in km km_b; do
	has_service "$e" || lab_fail "$e lost the controller's service while the controller was down"
done
lab_log "ok: both edges keep the controller's configuration while it is down"
lab_start_controller "$LAB_DIR/controller.json"
after=$(state_json)
[[ $after == "$before" ]] ||
	lab_fail "the controller's state changed over its restart: before $before after $after"
v_after=$(lab_api GET /state | jq -r .version)
lab_assert "the controller's version survives its restart ($v_before -> $v_after)" \
	"$v_after" -ge "$v_before"
lab_wait_synced 20 "$LAB_EDGE_A_ID" "$LAB_EDGE_B_ID"
lab_log "ok: both agents reconnected and resynced after the controller's restart"

# ---- edge A's agent ---------------------------------------------------------
lab_stop agent-a KILL
lab_log "agent A killed"
lab_api POST /deny '{"prefix":"198.18.77.0/24"}' >/dev/null || lab_fail "POST /api/deny"
sleep 1
has_service km || lab_fail "edge A lost the controller's service while its agent was dead"
km deny --json | jq -e '[.. | strings | select(startswith("198.18.77.0"))] | length == 0' \
	>/dev/null || lab_fail "edge A has a deny its dead agent cannot have applied"
lab_start_agent a
lab_wait_synced 20 "$LAB_EDGE_A_ID" "$LAB_EDGE_B_ID"
km deny --json | jq -e '[.. | strings | select(startswith("198.18.77.0"))] | length > 0' \
	>/dev/null || lab_fail "edge A did not get the deny added while its agent was dead: $(km deny --json)"
lab_log "ok: agent A resynced: the deny added while it was dead is on edge A"

# ---- edge A's statsd ----------------------------------------------------------
m0=$(prom a fwd_service)
k0=$(lab_stat fwd_service)
[[ -n $m0 ]] || lab_fail "statsd A serves no kilimanjaro_packets_total{reason=\"fwd_service\"}"
lab_stop statsd-a KILL
lab_log "statsd A killed (fwd_service: metrics $m0, maps $k0)"
sleep 0.5
lab_start_statsd a
lab_wait_for 5 prom_ready a || lab_fail "statsd A serves no metrics after its restart"
m1=$(prom a fwd_service)
k1=$(lab_stat fwd_service)
lab_assert "statsd restart: /metrics fwd_service never goes backwards ($m0 -> $m1)" "$m1" -ge "$m0"
lab_assert "statsd restart: the maps' fwd_service never goes backwards ($k0 -> $k1)" "$k1" -ge "$k0"
lab_wait_synced 5 "$LAB_EDGE_A_ID" "$LAB_EDGE_B_ID"

# ---- the flows ran throughout -------------------------------------------------
lab_log "restarts done after $((SECONDS - flows_t0)) s of the 15 s flows"
lab_flow_wait flow-a
lab_flow_wait flow-b
for f in flow-a flow-b; do
	out=$(lab_flow_json "$f")
	lab_log "$f: $out"
	lab_assert "$f: forwarding never stopped (no loss)" "$(lab_json_get "$out" lost)" -eq 0
done
m2=$(prom a fwd_service)
lab_assert "statsd A still counting ($m1 -> $m2)" "$m2" -gt "$m1"
# The controller's rates for edge A across all three restarts: counters
# that went back would show as negative rates.
series=$(lab_api GET "/edges/$LAB_EDGE_A_ID/stats?points=120") || lab_fail "GET stats of edge A"
neg=$(jq '[.pps_in[], .pps_fwd[], .pps_drop[] | select(. < 0)] | length' <<<"$series")
n=$(jq '.pps_in | length' <<<"$series")
lab_assert "the controller's rates for edge A ($n points) never negative" "$neg" -eq 0
lab_assert "the controller has edge A's rates across the restarts" "$n" -ge 5
lab_log "PASS"
