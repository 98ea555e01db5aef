#!/bin/bash
# A 1M-packet flood from random spoofed sources (floodgen: live frames,
# random addresses in 198.18.0.0/15, random ports) at the game service while
# a validated player keeps playing. The player loses (almost) nothing, the
# rate-limit state stays within its map size although the flood has far
# more sources than the map has entries, and the flood cannot validate
# anyone (the game server ignores junk, as real ones do).
source "$(dirname "$(readlink -f "$0")")/lib.sh"
lab_require "$KM_LOADER" "$KM_CLI" "$KM_MAPPER" "$KM_FLOW" "$KM_FLOODGEN"

FLOOD_COUNT=${FLOOD_COUNT:-1000000}
# Below what this 2-vCPU VM handles for the whole lab (~45k pps with
# per-address buckets; the edge, the router and floodgen share the CPUs).
# Small batches keep the veth ring into the edge from overflowing; when the
# CPU running the ring is busy it still does now and then, dropping frames
# before XDP sees them, the player's included: the lab's "wire" is lossy
# under a flood, the edge must not add to it.
FLOOD_RATE=${FLOOD_RATE:-35000}
# The service-wide budget for unvalidated sources (lab_edge_config).
FLOOD_BATCH=${FLOOD_BATCH:-8}
# The service-wide budget for unvalidated sources: what the game server
# can take besides its players.
TOTAL_PPS=4000
TOTAL_BURST=1000
RL_SIZE=4096

lab_up
# Per-address buckets (/32) in a small map: 131072 spoofable addresses
# against 4096 entries.
lab_edge_config "$LAB_DIR/edge.json" '"rate_limit_prefix_len": 32,
	"map_sizes": { "rate_limit_sources": '$RL_SIZE' },
	"defaults": { "total": { "pps": '$TOTAL_PPS', "burst_packets": '$TOTAL_BURST' } }'
lab_start_loader "$LAB_DIR/edge.json"
lab_start_mapper
lab_start_servers

# The player becomes validated (the server answered it) before the flood.
out=$(lab_flow "$LAB_NS_PL" "$LAB_PLAYER" "$LAB_SVC:$LAB_GAME_PORT" 100 1)
lab_assert "player validated before the flood: no loss" "$(lab_json_get "$out" lost)" -eq 0
read -r val0 val_max < <(lab_map_fill km_validated)
lab_assert "validated map holds the player" "$val0" -ge 1
read -r rl0 rl_max < <(lab_map_fill km_rl_src)
lab_assert "rate-limit map has the configured size" "$rl_max" -eq "$RL_SIZE"
new0=$(lab_counter rl_new)
verdicts() { km --json status | jq -c '[.verdicts | to_entries[] | {(.key): .value.packets}] | add'; }
v0=$(verdicts)

# The player plays until the flood is over (SIGINT ends kmflow's run).
lab_flow_start player "$LAB_NS_PL" "$LAB_PLAYER" "$LAB_SVC:$LAB_GAME_PORT" 200 120
sleep 1
flood=$(lab_flood --dst "$LAB_SVC:$LAB_GAME_PORT" --src 198.18.0.0/15 \
	--count "$FLOOD_COUNT" --rate "$FLOOD_RATE" --batch "$FLOOD_BATCH" \
	--duration 60) ||
	lab_fail "floodgen failed"
lab_log "flood: $flood"
sleep 1
kill -INT "$(lab_pid player)"
lab_flow_wait player
out=$(lab_flow_json player)
lab_log "player during the flood: $out"
lab_log "rt-ed tx: $(ip -n "$LAB_NS_RT" -s -j link show dev rt-ed | jq -c '.[0].stats64.tx')"
lab_log "ed0: $(lab_exec "$LAB_NS_ED" ethtool -S ed0 | grep -v ': 0$' | tr -s ' \n' ' ')"
lab_log "game server: $(lab_exec "$LAB_NS_GS" nstat -az UdpInDatagrams UdpRcvbufErrors | tail -n +2 | awk '{printf "%s %s ", $1, $2}')"
lab_log "edge verdicts: $(km --json status | jq -c '[.verdicts | to_entries[] | select(.value.packets > 0) | {(.key): .value.packets}] | add')"

# Per-verdict packets during the flood.
v1=$(verdicts)
delta() { jq -n --argjson a "$v0" --argjson b "$v1" "$1"' as $r | [$r[] | ($b[.] // 0) - ($a[.] // 0)] | add'; }
sent=$(lab_json_get "$flood" sent)
player_sent=$(lab_json_get "$out" sent)
replies=$(delta '["fwd_decap"]')
edge_seen=$(delta '[$b | keys[]]')
flood_seen=$((edge_seen - player_sent - replies))
dropped=$(delta '["drop_ratelimit", "drop_rl_blocked", "drop_svc_limit", "drop_denied"]')
forwarded=$(($(delta '["fwd_service"]') - player_sent))
lab_log "edge: $flood_seen flood packets: $dropped dropped, $forwarded forwarded"

lab_assert "floodgen sent every frame" "$sent" -eq "$FLOOD_COUNT"
# (The rest overflowed the veth ring into the edge, see FLOOD_RATE.)
lab_assert "the flood reached the edge (>= 60%)" $((flood_seen * 10)) -ge $((sent * 6))

lost=$(lab_json_get "$out" lost)
secs=$(jq '.seconds | ceil' <<<"$flood")
lab_assert "player: kept sending through the flood" "$player_sent" -ge $((secs * 180))
lab_assert "player: loss ~0 (<= 0.5%) during the flood" $((lost * 200)) -le "$player_sent"

# What passed the per-source buckets is capped by the service budget, so
# the game server sees at most its budget whatever the flood's size.
budget=$((TOTAL_PPS * (secs + 2) + TOTAL_BURST))
lab_assert "backend got at most its unvalidated budget ($budget)" "$forwarded" -le "$budget"
lab_assert "every other flood packet dropped by the limits or the deny list" \
	$((dropped + forwarded)) -ge $((flood_seen - 20))

read -r rl1 rl_max < <(lab_map_fill km_rl_src)
new1=$(lab_counter rl_new)
lab_log "km_rl_src: $rl1/$rl_max entries, $((new1 - new0)) buckets created"
lab_assert "rate-limit map within its size" "$rl1" -le "$rl_max"
lab_assert "the flood churned far more sources than the map holds" \
	$((new1 - new0)) -gt "$rl_max"
read -r val1 val_max < <(lab_map_fill km_validated)
lab_assert "no spoofed source validated" "$val1" -eq "$val0"
lab_assert "validated map within its size" "$val1" -le "$val_max"
