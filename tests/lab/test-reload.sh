#!/bin/bash
# SIGHUP reload under a steady flow: an invalid file (bad value, broken
# JSON) changes nothing and the loader says which file and field; a valid
# file applies at once, keeps the CLI's own entries, and no packet of the
# flow is lost on the way.
source "$(dirname "$(readlink -f "$0")")/lib.sh"
lab_require "$KM_LOADER" "$KM_CLI" "$KM_MAPPER" "$KM_FLOW"

lab_up
cfg=$LAB_DIR/edge.json
lab_edge_config "$cfg"
lab_start_loader "$cfg"
lab_start_mapper
lab_start_servers

km allow add 198.18.9.0/24 >/dev/null || lab_fail "kilimanjaro allow add"

# Everything a reload may change, as the CLI shows it.
snapshot() {
	{
		km --json services | jq -S '[.services[] | {proto, address, port, backend, origin}] | sort_by(.port, .proto)'
		km --json allow | jq -S '.allow | sort_by(.prefix)'
		km --json deny | jq -S '.deny | sort_by(.prefix)'
	} 2>&1
}

# hup PATTERN: SIGHUP the loader, wait for PATTERN in its log after the
# signal, print that part of the log.
hup() {
	local pattern=$1 pos deadline=$((SECONDS + 10))
	pos=$(stat -c %s "$LAB_DIR/loader.log")
	kill -HUP "$(lab_pid loader)"
	until tail -c +$((pos + 1)) "$LAB_DIR/loader.log" | grep -q "$pattern"; do
		((SECONDS < deadline)) || lab_fail "no '$pattern' in the loader's log after SIGHUP"
		sleep 0.1
	done
	tail -c +$((pos + 1)) "$LAB_DIR/loader.log"
}

before=$(snapshot)
lab_flow_start steady "$LAB_NS_PL" "$LAB_PLAYER" "$LAB_SVC:$LAB_GAME_PORT" 200 8
sleep 1.5

# 1. A value that is wrong: a deny prefix with host bits set.
lab_edge_config "$cfg.new" '"deny": ["198.18.4.0/24", "198.18.6.1/24"]'
mv "$cfg.new" "$cfg"
log=$(hup 'reload refused')
grep -q "edge.json: deny\[1\]" <<<"$log" ||
	lab_fail "the refusal does not name the file and the field: $log"
lab_log "ok: invalid value refused: $(grep -m1 'deny\[1\]' <<<"$log")"
lab_alive loader || lab_fail "loader died on an invalid config"
[[ $(snapshot) == "$before" ]] || lab_fail "an invalid config changed the maps"
lab_log "ok: maps unchanged"
sleep 1

# 2. Not JSON at all.
printf '{ "services": [ {\n' >"$cfg"
log=$(hup 'reload refused')
lab_log "ok: broken JSON refused: $(grep -m1 '^<3>' <<<"$log")"
lab_alive loader || lab_fail "loader died on broken JSON"
[[ $(snapshot) == "$before" ]] || lab_fail "broken JSON changed the maps"
lab_log "ok: maps unchanged"
sleep 1

# 3. Valid: deny one more prefix, one more service.
lab_edge_config "$cfg.new" '"deny": ["198.18.4.0/24", "198.18.6.0/24"],
	"services": [
		{ "name": "game", "protocol": "udp", "address": "'"$LAB_SVC"'",
		  "port": '"$LAB_GAME_PORT"', "backend": "'"$LAB_GS"'" },
		{ "name": "game-tcp", "protocol": "tcp", "address": "'"$LAB_SVC"'",
		  "port": '"$LAB_TCP_PORT"', "backend": "'"$LAB_GS"'" },
		{ "name": "game-2", "protocol": "udp", "address": "'"$LAB_SVC2"'",
		  "port": 27020, "backend": "'"$LAB_GS"'" }
	]'
mv "$cfg.new" "$cfg"
hup 'reloaded' >/dev/null
km --json deny | jq -e '.deny[] | select(.prefix == "198.18.6.0/24" and .origin == "config")' \
	>/dev/null || lab_fail "new deny prefix not applied: $(km --json deny)"
km --json services | jq -e --arg a "$LAB_SVC2" '.services[] | select(.address == $a and .port == 27020)' \
	>/dev/null || lab_fail "new service not applied: $(km --json services)"
km --json allow | jq -e '.allow[] | select(.prefix == "198.18.9.0/24" and .origin == "cli")' \
	>/dev/null || lab_fail "the reload removed the CLI's allow entry"
lab_log "ok: valid config applied (deny, service), CLI entry kept"
out=$(lab_flow "$LAB_NS_PL" "$LAB_LIMITED" "$LAB_SVC:$LAB_GAME_PORT" 50 0.5)
lab_assert "newly denied prefix gets no reply" "$(lab_json_get "$out" received)" -eq 0

lab_flow_wait steady
out=$(lab_flow_json steady)
lab_log "steady flow across 3 reloads: $out"
lab_assert "steady flow: ~1600 datagrams sent" "$(lab_json_get "$out" sent)" -ge 1500
lab_assert "steady flow: no datagram lost" "$(lab_json_get "$out" lost)" -eq 0
lab_assert "steady flow: no duplicate" "$(lab_json_get "$out" duplicate)" -eq 0
