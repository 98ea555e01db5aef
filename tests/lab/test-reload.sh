#!/bin/bash
# SIGHUP reload under a steady flow: an invalid file (bad value, broken
# JSON) changes nothing and the loader says which file and field; a valid
# file applies at once, keeps the CLI's own entries, and no packet of the
# flow is lost on the way.
#
# All or nothing (docs/design.md "Reload is all or nothing"): a file that
# does not fit the maps next to the CLI's entries is refused by the
# pre-flight, at reload and at start, naming list and numbers; a failure
# the pre-flight cannot see (a map the kernel refuses to write: frozen) is
# rolled back to exactly the running state; a rollback that fails too is
# said loudly and the loader keeps serving.
source "$(dirname "$(readlink -f "$0")")/lib.sh"
lab_require "$KM_LOADER" "$KM_CLI" "$KM_MAPPER" "$KM_FLOW"

lab_up
cfg=$LAB_DIR/edge.json
# Small list maps, so that the CLI can fill most of one.
SIZES='"map_sizes": { "prefixes": 64 }'
# write_cfg [JSON-FRAGMENT]: the edge config with SIZES, as the file.
write_cfg() {
	lab_edge_config "$cfg.new" "$SIZES${1:+, $1}"
	mv "$cfg.new" "$cfg"
}
write_cfg
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
write_cfg '"deny": ["198.18.4.0/24", "198.18.6.1/24"]'
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
SVC3='"services": [
		{ "name": "game", "protocol": "udp", "address": "'"$LAB_SVC"'",
		  "port": '"$LAB_GAME_PORT"', "backend": "'"$LAB_GS"'" },
		{ "name": "game-tcp", "protocol": "tcp", "address": "'"$LAB_SVC"'",
		  "port": '"$LAB_TCP_PORT"', "backend": "'"$LAB_GS"'" },
		{ "name": "game-2", "protocol": "udp", "address": "'"$LAB_SVC2"'",
		  "port": 27020, "backend": "'"$LAB_GS"'" }
	]'
DENY3='"deny": ["198.18.4.0/24", "198.18.6.0/24"]'
write_cfg "$DENY3, $SVC3"
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

# ---- all or nothing ------------------------------------------------------
# Everything a reload writes, exactly: raw map values where the CLI rounds
# or hides (block end times, km_config, the A2S key bytes and key id). Not
# km_config.svc_epoch (a rollback bumps it: the service caches start over)
# nor the A2S epoch number (the wall clock moves it).
raw() { bpftool -j map dump pinned "$LAB_PIN_EDGE/$1"; }
state() {
	{
		km --json services | jq -S '.services | sort_by(.port, .proto)'
		km --json allow | jq -S '.allow | sort_by(.prefix)'
		km --json deny | jq -S '.deny | sort_by(.prefix)'
		raw km_config | jq -S '.[0].formatted.value | del(.svc_epoch)'
		raw km_edge_addrs | jq -S 'map(.formatted) | sort_by(.key)'
		raw km_blocks | jq -S 'map(.formatted) | sort_by(.key)'
		raw km_a2s_key | jq -S '.[0].formatted.value | del(.epoch)'
	} 2>&1
}
svc_epoch() { raw km_config | jq '.[0].formatted.value.svc_epoch'; }
same_state() { # WHAT BEFORE
	local now
	now=$(state)
	[[ $now == "$2" ]] || lab_fail "$1: $(diff <(echo "$2") <(echo "$now"))"
	lab_log "ok: $1"
}
# served: the game service still answers every datagram.
served() {
	local out
	out=$(lab_flow "$LAB_NS_PL" "$LAB_PLAYER" "$LAB_SVC:$LAB_GAME_PORT" 50 1)
	lab_assert "$1: flow served ($out)" "$(lab_json_get "$out" lost)" -eq 0
	lab_assert "$1: flow received" "$(lab_json_get "$out" received)" -ge 45
}

# 4. Pre-flight at reload: 20 CLI deny prefixes in a 64-entry list, a file
# with 50 of its own (and other changes) is refused before any write.
for i in $(seq 0 19); do
	km deny add "198.19.$((100 + i)).0/24" >/dev/null || lab_fail "kilimanjaro deny add"
done
deny50=$(for i in $(seq 0 49); do printf '"198.19.%d.0/24",' $((150 + i)); done)
BIG='"deny": ['"${deny50%,}"'], "icmp_echo": false,
	"blocks": [ { "address": "198.19.250.9", "seconds": 600 } ]'
before=$(state)
epoch_before=$(svc_epoch)
write_cfg "$BIG, $SVC3"
log=$(hup 'reload refused')
want="reload refused: $cfg: deny list: 50 prefixes from the config + 20 added outside it (cli 20) exceed its capacity 64 (map_sizes.prefixes); the running configuration is unchanged"
grep -qF "$want" <<<"$log" || lab_fail "pre-flight refusal not as expected: $log"
lab_log "ok: pre-flight: $(grep -m1 'deny list' <<<"$log")"
! grep -q "allow list" <<<"$log" || lab_fail "the allow list fits, yet: $log"
lab_alive loader || lab_fail "loader died on a refused reload"
same_state "refused reload: km_config, lists, services, blocks, A2S key unchanged" "$before"
lab_assert "refused reload: no service epoch bump (nothing written)" "$(svc_epoch)" -eq "$epoch_before"

# 5. Pre-flight at start: the same file over the pins (the CLI's entries
# are still there) exits 1 and changes nothing, the link keeps its program.
lab_stop loader TERM
prog=$(bpftool -j link show pinned "$LAB_PIN_EDGE/km_link" | jq .prog_id)
out=$(nsenter --net="/run/netns/$LAB_NS_ED" -- "$KM_LOADER" --interface ed0 \
	--config "$cfg" --pin-root "$LAB_PIN_EDGE" 2>&1)
rc=$?
lab_assert "start with a file that does not fit: exit 1" "$rc" -eq 1
want="cannot start: $cfg: deny list: 50 prefixes from the config + 20 added outside it (cli 20) exceed its capacity 64 (map_sizes.prefixes); nothing was changed"
grep -qF "$want" <<<"$out" || lab_fail "start refusal not as expected: $out"
lab_assert "refused start: same program on the link" \
	"$(bpftool -j link show pinned "$LAB_PIN_EDGE/km_link" | jq .prog_id)" -eq "$prog"
same_state "refused start: maps unchanged" "$before"

# Back to a good file, with a block of its own (its end time must survive
# a rollback to the nanosecond).
GOOD="$DENY3, $SVC3, \"blocks\": [ { \"address\": \"198.19.250.1\", \"seconds\": 3600 } ]"
write_cfg "$GOOD"
lab_start_loader "$cfg"
served "restart"

# 6. A failure the pre-flight cannot see, for real: km_rl_total frozen
# (BPF_MAP_FREEZE: the kernel refuses every write from user space), so the
# new service's counters cannot be zeroed, in the last step of the apply,
# after km_config, edge addresses, lists, blocks and a rotated A2S key.
printf '00112233445566778899aabbccddeeff\n' >"$LAB_DIR/a2s.key"
chmod 600 "$LAB_DIR/a2s.key"
NEW='"deny": ["198.18.4.0/24", "198.18.6.0/24", "198.19.160.0/24"],
	"icmp_echo": false, "rate_limit_prefix_len": 20,
	"edge_addresses": ["'"$LAB_EDGE"'", "198.18.1.3"],
	"blocks": [ { "address": "198.19.250.2", "seconds": 600 } ],
	"a2s": { "key_file": "'"$LAB_DIR/a2s.key"'", "epoch_s": 60 },
	"services": [
		{ "name": "game", "protocol": "udp", "address": "'"$LAB_SVC"'",
		  "port": '"$LAB_GAME_PORT"', "backend": "'"$LAB_GS"'" },
		{ "name": "game-tcp", "protocol": "tcp", "address": "'"$LAB_SVC"'",
		  "port": '"$LAB_TCP_PORT"', "backend": "'"$LAB_GS"'" },
		{ "name": "game-3", "protocol": "udp", "address": "'"$LAB_SVC2"'",
		  "port": 27030, "backend": "'"$LAB_GS"'" }
	]'
before=$(state)
bpftool map freeze pinned "$LAB_PIN_EDGE/km_rl_total" || lab_fail "bpftool map freeze"
write_cfg "$NEW"
log=$(hup 'rolled back\|ROLLBACK FAILED')
want="reload of $cfg failed while applying (services: Operation not permitted); rolled back to the running configuration"
grep -qF "$want" <<<"$log" || lab_fail "rollback not as expected: $log"
grep -q "A2S key rotated to key 2" <<<"$log" ||
	lab_fail "the apply did not get as far as the key rotation: $log"
grep -q "A2S key 1 put back" <<<"$log" || lab_fail "key not put back: $log"
lab_log "ok: $(grep -m1 'rolled back' <<<"$log")"
lab_alive loader || lab_fail "loader died on a failed reload"
same_state "rolled back: km_config, edge addresses, lists, blocks (end time), A2S key (bytes, id), services exactly as before" "$before"
served "after the rollback"

# 7. A rollback that fails too: km_edge_addrs frozen, so both the apply
# and its rollback fail there. The loader says so and keeps running.
bpftool map freeze pinned "$LAB_PIN_EDGE/km_edge_addrs" || lab_fail "bpftool map freeze"
write_cfg "$DENY3, $SVC3, \"icmp_echo\": false"
log=$(hup 'ROLLBACK FAILED\|rolled back')
want="reload of $cfg failed while applying (edge addresses: Operation not permitted) and the ROLLBACK FAILED too (edge addresses): those maps hold a mix of the running and the new configuration; the loader keeps running; fix the cause and reload"
grep -qF "$want" <<<"$log" || lab_fail "failed rollback not as expected: $log"
lab_log "ok: $(grep -m1 'ROLLBACK FAILED' <<<"$log")"
lab_alive loader || lab_fail "loader died on a failed rollback"
same_state "failed rollback: every other step put back (km_config)" "$before"
served "after a failed rollback"
