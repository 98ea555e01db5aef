#!/bin/bash
# Loader restarts under a steady UDP flow: SIGTERM, then SIGKILL, each
# followed by a new loader. Forwarding never depends on the loader process
# (pinned link and maps), so the flow loses nothing; the new loader replaces
# the program on the same link and keeps the learned punches and players.
source "$(dirname "$(readlink -f "$0")")/lib.sh"
lab_require "$KM_LOADER" "$KM_CLI" "$KM_MAPPER" "$KM_FLOW"

lab_up
lab_edge_config "$LAB_DIR/edge.json"
lab_start_loader "$LAB_DIR/edge.json"
lab_start_mapper
lab_start_servers

# Learned state to keep: a punch (the server opened a flow to a remote).
lab_start_echo remote-echo "$LAB_NS_PL" "$LAB_REMOTE:6000"
out=$(lab_exec "$LAB_NS_GS" "$KM_FLOW" client --bind "$LAB_SVC:40000" \
	--to "$LAB_REMOTE:6000" --rate 50 --duration 0.5)
lab_assert "punch learned before the restarts" "$(lab_json_get "$out" lost)" -eq 0
punch_count() {
	km --json punches | jq --arg r "$LAB_REMOTE" \
		'[.punches[] | select(.remote_address == $r)] | length'
}
lab_assert "punch listed" "$(punch_count)" -eq 1

link0=$(km --json status | jq -r .link.link_id)
prog0=$(km --json status | jq -r .link.prog_id)

lab_flow_start steady "$LAB_NS_PL" "$LAB_PLAYER" "$LAB_SVC:$LAB_GAME_PORT" 200 11
sleep 2
validated0=$(lab_map_fill km_validated | cut -d' ' -f1)

lab_stop loader TERM || lab_fail "loader did not exit cleanly on SIGTERM"
ip -n "$LAB_NS_ED" link show dev ed0 | grep -q xdp ||
	lab_fail "XDP detached when the loader stopped"
lab_log "ok: SIGTERM: loader exited 0, XDP still attached"
sleep 1.5
lab_start_loader "$LAB_DIR/edge.json"
prog1=$(km --json status | jq -r .link.prog_id)
lab_assert "restart: same pinned link" "$(km --json status | jq -r .link.link_id)" = "$link0"
lab_assert "restart: program replaced on the link" "$prog1" != "$prog0"
sleep 1.5

lab_stop loader KILL
ip -n "$LAB_NS_ED" link show dev ed0 | grep -q xdp ||
	lab_fail "XDP detached when the loader was killed"
lab_log "ok: SIGKILL: XDP still attached"
sleep 1.5
lab_start_loader "$LAB_DIR/edge.json"
lab_assert "restart after SIGKILL: same pinned link" \
	"$(km --json status | jq -r .link.link_id)" = "$link0"
lab_assert "restart after SIGKILL: program replaced" \
	"$(km --json status | jq -r .link.prog_id)" != "$prog1"

lab_flow_wait steady
out=$(lab_flow_json steady)
lab_log "steady flow across 2 restarts: $out"
lab_assert "steady flow: ~2200 datagrams sent" "$(lab_json_get "$out" sent)" -ge 2000
lab_assert "steady flow: no datagram lost" "$(lab_json_get "$out" lost)" -eq 0
lab_assert "steady flow: no duplicate" "$(lab_json_get "$out" duplicate)" -eq 0

lab_assert "punch kept across restarts" "$(punch_count)" -eq 1
lab_assert "validated players kept across restarts" \
	"$(lab_map_fill km_validated | cut -d' ' -f1)" -ge "$validated0"
# And the punch still forwards: the remote answers the server again.
p0=$(lab_stat fwd_punch)
out=$(lab_exec "$LAB_NS_GS" "$KM_FLOW" client --bind "$LAB_SVC:40000" \
	--to "$LAB_REMOTE:6000" --rate 50 --duration 0.5)
lab_assert "punched flow after restarts: no loss" "$(lab_json_get "$out" lost)" -eq 0
lab_assert "punched flow after restarts: counted fwd_punch" \
	$(($(lab_stat fwd_punch) - p0)) -ge 20
