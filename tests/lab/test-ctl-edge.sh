#!/bin/bash
# kilimanjaro-controller with one real edge (loader, mapper, kilimanjaro-
# agent over TLS 1.3): what the operator does through the HTTP API reaches
# the edge's maps and its traffic, and what the edge learns reaches the
# controller. What must hold (issue 4):
#  - the agent is identified by its certificate, gets the snapshot and
#    acknowledges every version; a certificate from another CA, a Hello
#    naming another edge than the certificate, and plain TCP are refused;
#  - a service added through the API forwards; a deny drops, and its
#    removal forwards again; the edge's config-file entries are untouched;
#  - a punch the edge learns is stored by the controller; stats become
#    rates in /api/edges and /api/edges/<id>/stats;
#  - the A2S key rotation reaches the edge;
#  - controller killed: forwarding never stops; restarted: nothing lost
#    (same version, same entries), the agent reconnects and later changes
#    still arrive.
source "$(dirname "$(readlink -f "$0")")/lib.sh"
KM_AGENT=$KM_BUILD_DIR/agent/kilimanjaro-agent
KM_CONTROLLER=$KM_BUILD_DIR/controller/kilimanjaro-controller
KM_CTL_LOAD=$KM_BUILD_DIR/tests/ctl/km-ctl-load
lab_require "$KM_LOADER" "$KM_CLI" "$KM_MAPPER" "$KM_FLOW" "$KM_AGENT" \
	"$KM_CONTROLLER" "$KM_CTL_LOAD"

lab_up
lab_edge_config "$LAB_DIR/edge.json"
lab_start_loader "$LAB_DIR/edge.json"
lab_start_mapper
lab_start_servers
CTL=$LAB_EDGE_GW # the controller runs on the router, the edge's neighbour
CTL_PORT=7443
HTTP=127.0.0.1:8080 # the router namespace's own loopback
SVC_PORT=7777
TOKEN=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
certs=$LAB_DIR/certs
KM_CERT_IPS=$CTL "$(dirname "$(readlink -f "$0")")/../lib/gen-certs.sh" "$certs" ||
	lab_fail "gen-certs.sh"
lab_start_echo svc-echo "$LAB_NS_GS" "$LAB_SVC:$SVC_PORT"

hash=$(echo "lab-password" | "$KM_CONTROLLER" --hash-password) ||
	lab_fail "--hash-password"
cat >"$LAB_DIR/controller.json" <<EOF_CFG
{
	"agents_listen": "$CTL:$CTL_PORT",
	"http_listen": "$HTTP",
	"tls": {"ca": "$certs/ca.pem", "cert": "$certs/controller.pem",
		"key": "$certs/controller.key"},
	"db": "$LAB_DIR/controller.db",
	"web_root": "$LAB_DIR",
	"users": [{"name": "op", "password_hash": "$hash"}],
	"api_tokens": ["$TOKEN"],
	"a2s": {"epoch_s": 1, "rotate_s": 0}
}
EOF_CFG
"$KM_CONTROLLER" --check-config --config "$LAB_DIR/controller.json" >/dev/null ||
	lab_fail "the lab's controller config is invalid"

# api METHOD PATH [BODY]: the answer's body; fails the test on a non-2xx.
api() {
	local out code
	out=$(lab_exec "$LAB_NS_RT" curl -sS -o - -w '\n%{http_code}' -X "$1" \
		-H "Authorization: Bearer $TOKEN" \
		-H 'Content-Type: application/json' \
		${3:+--data "$3"} "http://$HTTP/api$2") || lab_fail "curl $1 $2"
	code=${out##*$'\n'}
	out=${out%$'\n'*}
	[[ $code == 2* ]] || lab_fail "$1 $2 ${3:-}: HTTP $code $out"
	echo "$out"
}
api_ok() { api "$@" >/dev/null; }
_api_up() { lab_exec "$LAB_NS_RT" curl -s -o /dev/null "http://$HTTP/"; }
controller_start() {
	lab_spawn controller "$LAB_NS_RT" "$KM_CONTROLLER" \
		--config "$LAB_DIR/controller.json"
	lab_wait_for 10 _api_up ||
		lab_fail "the controller did not start: $(cat "$LAB_DIR/controller.log")"
}
edge_json() { api GET /edges | jq -c '.edges[] | select(.id == "edge-a")'; }
# The edge is connected and has acknowledged the controller's version.
_in_sync() {
	local v e
	v=$(api GET /state | jq -r .version)
	e=$(edge_json)
	[[ $(jq -r .connected <<<"$e") == true &&
		$(jq -r .acked_version <<<"$e") == "$v" ]]
}
wait_sync() {
	lab_wait_for "${1:-10}" _in_sync ||
		lab_fail "edge-a not in sync: $(api GET /edges) state $(api GET /state | jq -c .version); agent: $(tail -n 5 "$LAB_DIR/agent.log")"
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
game_dropped() { # PORT: nothing of a player's flow comes back
	local out
	out=$(lab_flow "$LAB_NS_PL" "$LAB_PLAYER" "$LAB_SVC:$1" 50 0.5)
	[[ $(lab_json_get "$out" received) == 0 ]]
}
denied_by() { # PREFIX ORIGIN: the edge lists the deny with that origin
	km --json deny | jq -e --arg p "$1" --arg o "$2" \
		'[.. | objects | select(.prefix? == $p and .origin? == $o)] | length == 1' >/dev/null
}
not_denied() {
	km --json deny | jq -e --arg p "$1" \
		'[.. | objects | select(.prefix? == $p)] | length == 0' >/dev/null
}

# ---- session ----------------------------------------------------------------
controller_start
lab_spawn agent "$LAB_NS_ED" "$KM_AGENT" --interface ed0 \
	--controller "$CTL:$CTL_PORT" --edge-id edge-a \
	--ca "$certs/ca.pem" --cert "$certs/edge-a.pem" \
	--key "$certs/edge-a.key" --pin-root "$LAB_PIN_EDGE" \
	--run-dir "$LAB_DIR/run" --stats-interval-ms 500 --ping-interval-s 1
wait_sync 15
lab_assert "the edge is named by its certificate, over TLS" \
	"$(edge_json | jq -r .id)" = edge-a
grep -q 'edge edge-a .*connected (TLS' "$LAB_DIR/controller.log" ||
	lab_fail "controller log: no TLS session of edge-a"

# refused AGENT-ARGS... -- LOG-TEXT: km-ctl-load from the edge's namespace
# is refused before any snapshot, and the controller says why.
refused() {
	local args=() out
	while [[ $1 != -- ]]; do args+=("$1"); shift; done
	shift
	out=$(lab_exec "$LAB_NS_ED" "$KM_CTL_LOAD" --connect "$CTL:$CTL_PORT" \
		--agents 1 --timeout 5 --expect-refused "${args[@]}" 2>&1) ||
		lab_fail "not refused (${args[*]}): $out"
	lab_wait_for 3 grep -q -- "$1" "$LAB_DIR/controller.log" ||
		lab_fail "controller did not log \"$1\": $(tail -n 5 "$LAB_DIR/controller.log")"
}
refused --ca "$certs/ca.pem" --ca-key "$certs/ca.key" \
	--cert-ca "$certs/other-ca.pem" --cert-ca-key "$certs/other-ca.key" \
	-- "TLS handshake failed: certificate verification"
refused --ca "$certs/ca.pem" --ca-key "$certs/ca.key" --hello-id edge-a \
	-- "Hello edge_id \"edge-a\" differs from its certificate's CN"
refused --plain -- "refused: plain TCP"
lab_assert "edge-a's session survived the refused ones" \
	"$(edge_json | jq -r .connected)" = true
lab_log "ok: another CA, a Hello naming another edge, plain TCP: refused"

# ---- a service through the API ---------------------------------------------
api_ok POST /services "{\"proto\":\"udp\",\"addr\":\"$LAB_SVC\",\"port\":$SVC_PORT,\"backend\":\"$LAB_GS\",\"name\":\"from-api\"}"
wait_sync
lab_assert "the API's service is on the edge as origin controller" \
	"$(svc_origin $SVC_PORT)" = controller
lab_assert "the config file's service keeps origin config" \
	"$(svc_origin $LAB_GAME_PORT)" = config
game_ok $SVC_PORT || lab_fail "the API's service does not forward"
lab_log "ok: a service added through the API forwards"

# ---- deny, then its removal -------------------------------------------------
game_ok $LAB_GAME_PORT || lab_fail "the player's game flow fails before the deny"
api_ok POST /deny '{"prefix":"198.18.0.0/24"}'
wait_sync
denied_by 198.18.0.0/24 controller || lab_fail "deny not on the edge: $(km --json deny)"
denied_by 198.18.4.0/24 config || lab_fail "the config file's deny was lost: $(km --json deny)"
game_dropped $LAB_GAME_PORT || lab_fail "a denied player still gets answers"
api_ok DELETE /deny/198.18.0.0/24
wait_sync
not_denied 198.18.0.0/24 || lab_fail "deny still on the edge: $(km --json deny)"
game_ok $LAB_GAME_PORT || lab_fail "the player is not answered after the deny's removal"
lab_log "ok: a deny through the API drops, its removal forwards again"

# ---- what the edge reports --------------------------------------------------
lab_start_echo remote-echo "$LAB_NS_PL" "$LAB_REMOTE:6000"
lab_exec "$LAB_NS_GS" "$KM_FLOW" client --bind "$LAB_SVC:40000" \
	--to "$LAB_REMOTE:6000" --rate 20 --duration 0.3 >/dev/null
_punch_stored() { (($(api GET /state | jq -r .punches) >= 1)); }
lab_wait_for 5 _punch_stored ||
	lab_fail "the learned punch never reached the controller: $(api GET /state)"
lab_assert "the edge's punch is counted on its entry" \
	"$(edge_json | jq -r .punches_reported)" -ge 1
wait_sync
_rates() {
	api GET /edges/edge-a/stats?points=10 |
		jq -e '(.t_ms | length) >= 2 and (.pps_in | length) == (.t_ms | length)' >/dev/null &&
		edge_json | jq -e '.pps | has("fwd_service")' >/dev/null
}
game_ok $LAB_GAME_PORT
lab_wait_for 10 _rates || lab_fail "no stats for edge-a: $(api GET '/edges/edge-a/stats?points=10')"
lab_log "ok: punch stored, stats as rates: $(edge_json | jq -c '{pps: .pps.fwd_service, bps}')"

# ---- A2S key ----------------------------------------------------------------
kid=$(km --json a2s key | jq -r .key_id)
api_ok POST /a2s/rotate
_rotated() { [[ $(km --json a2s key | jq -r .key_id) != "$kid" ]]; }
lab_wait_for 5 _rotated || lab_fail "the rotated key never reached the edge"
wait_sync
lab_log "ok: the A2S key rotation reached the edge"

# ---- controller killed and restarted -----------------------------------------
version=$(api GET /state | jq -r .version)
lab_stop controller KILL
game_ok $SVC_PORT || lab_fail "forwarding stopped with the controller"
game_ok $LAB_GAME_PORT || lab_fail "forwarding stopped with the controller"
controller_start
lab_assert "the version survives the restart" \
	"$(api GET /state | jq -r .version)" = "$version"
lab_assert "the service survives the restart" \
	"$(api GET /state | jq -r "[.services[] | select(.port == $SVC_PORT)] | length")" = 1
wait_sync 20
lab_assert "the edge still has the API's service" "$(svc_origin $SVC_PORT)" = controller
api_ok POST /deny '{"prefix":"198.18.6.0/24"}'
wait_sync
denied_by 198.18.6.0/24 controller || lab_fail "a change after the restart did not arrive"
game_ok $SVC_PORT || lab_fail "the API's service stopped forwarding after the restart"
lab_log "ok: controller killed and restarted: forwarding kept, nothing lost, agent resynced"

lab_assert "the controller logged no refused message" \
	"$(grep -c 'message refused' "$LAB_DIR/controller.log")" -eq 0
