#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The controller's agent listener against wrong peers and bad input (issue
# 4, item 6), with a real edge A and its agent connected throughout:
#   - an agent whose certificate comes from another CA is refused (the real
#     agent and kmpeer);
#   - plain TCP is refused when the controller does not allow it (the real
#     agent with --plain-tcp and kmpeer --plain), accepted by a controller
#     that allows it on its loopback;
#   - over an accepted session: a truncated frame and a 4 GiB length prefix
#     end the session, random bytes and valid protobuf with invalid values
#     (prefix length 40, port 0, unknown protocol) are refused and the
#     session answers a Ping afterwards; each with a logged reason, and
#     none of it changes the controller's state.
source "$(dirname "$(readlink -f "$0")")/lib-multi.sh"
KM_PEER=$KM_BUILD_DIR/tests/lab/kmpeer
lab_require "$KM_LOADER" "$KM_CLI" "$KM_STATSD" "$KM_AGENT" "$KM_CONTROLLER" "$KM_PEER"

lab_multi_up
lab_make_pki
lab_edge_config "$LAB_DIR/edge-a.json"
lab_edge_b_config "$LAB_DIR/edge-b.json"
lab_controller_config "$LAB_DIR/controller.json"
lab_start_loader "$LAB_DIR/edge-a.json"
# Edge B's data plane, so that its agents get as far as the controller.
lab_start_loader_b "$LAB_DIR/edge-b.json"
lab_start_controller "$LAB_DIR/controller.json"
lab_start_statsd a
lab_start_agent a
lab_wait_synced 15 "$LAB_EDGE_A_ID"
lab_log "ok: edge A's agent connected with its certificate"

edge_json() { lab_api GET /edges | jq -c --arg id "$1" '.edges[] | select(.id == $id)'; }
peer_a=$(edge_json "$LAB_EDGE_A_ID" | jq -r .peer)

# kmpeer [ARGS...]: from edge B's namespace, as edge B.
kmpeer() {
	lab_exec "$LAB_NS_EB" timeout 20 "$KM_PEER" --connect "$LAB_CTL:$LAB_CTL_PORT" "$@"
}
kmpeer_tls() { # CERT-NAME MODE
	kmpeer --edge-id "$LAB_EDGE_B_ID" --ca "$LAB_PKI/ca.pem" \
		--cert "$LAB_PKI/$1.pem" --key "$LAB_PKI/$1.key" \
		--server-name controller --mode "$2"
}
ctl_log_from() { tail -c +$(($1 + 1)) "$LAB_DIR/controller.log"; }
ctl_log_size() { stat -c %s "$LAB_DIR/controller.log"; }

# ---- certificates from another CA ---------------------------------------------
out=$(kmpeer --edge-id "$LAB_EDGE_A_ID" --ca "$LAB_PKI/ca.pem" \
	--cert "$LAB_PKI/rogue.pem" --key "$LAB_PKI/rogue.key" \
	--server-name controller --mode hello)
lab_log "kmpeer with a certificate from another CA: $out"
lab_assert "another CA's certificate gets no snapshot" "$(jq -r .snapshot <<<"$out")" = false
lab_assert "another CA's certificate: session closed" "$(jq -r .closed <<<"$out")" = true

# The real agent with that certificate, claiming edge A's identity from edge
# B's address: it must never take edge A's place.
lab_start_agent b --edge-id "$LAB_EDGE_A_ID" --cert "$LAB_PKI/rogue.pem" \
	--key "$LAB_PKI/rogue.key"
sleep 3
e=$(edge_json "$LAB_EDGE_A_ID")
lab_assert "rogue agent refused: edge A still connected" "$(jq -r .connected <<<"$e")" = true
lab_assert "rogue agent refused: edge A's peer is still $peer_a" "$(jq -r .peer <<<"$e")" = "$peer_a"
lab_stop agent-b
lab_log "rogue agent's log: $(tail -n 3 "$LAB_DIR/agent-b.log" | tr '\n' ' ')"
grep -q -i -E 'certificate|alert|handshake|tls|ssl' "$LAB_DIR/agent-b.log" ||
	lab_fail "the rogue agent's log does not show a TLS refusal"

# ---- plain TCP, not allowed here ------------------------------------------------
out=$(kmpeer --edge-id "$LAB_EDGE_B_ID" --plain --mode hello)
lab_log "kmpeer over plain TCP: $out"
lab_assert "plain TCP gets no snapshot" "$(jq -r .snapshot <<<"$out")" = false
lab_start_agent b --plain-tcp
sleep 3
lab_log "agent with --plain-tcp: $(tail -n 2 "$LAB_DIR/agent-b.log" | tr '\n' ' ')"
e=$(edge_json "$LAB_EDGE_B_ID")
lab_assert "agent over plain TCP refused: edge B not connected" \
	"$(jq -r '.connected // false' <<<"${e:-null}")" = false
lab_stop agent-b

# ---- plain TCP where allowed: a second controller on the controller host's
# loopback with allow_plain_tcp --------------------------------------------------
lab_controller_config "$LAB_DIR/controller-plain.json" \
	"\"agents_listen\": \"127.0.0.1:7444\", \"http_listen\": \"127.0.0.1:8081\",
	 \"allow_plain_tcp\": true, \"db\": \"$LAB_DIR/controller-plain.db\""
lab_spawn controller-plain "$LAB_NS_CT" "$KM_CONTROLLER" --config "$LAB_DIR/controller-plain.json"
plain_up() {
	lab_exec "$LAB_NS_CT" curl -sS --fail --max-time 2 \
		-H "Authorization: Bearer $LAB_API_TOKEN" http://127.0.0.1:8081/api/state
}
lab_wait_for 10 plain_up ||
	lab_fail "the plain-TCP controller did not start: $(tail -n 5 "$LAB_DIR/controller-plain.log")"
out=$(lab_exec "$LAB_NS_CT" timeout 20 "$KM_PEER" --connect 127.0.0.1:7444 \
	--edge-id "$LAB_EDGE_B_ID" --plain --mode hello)
lab_log "kmpeer over plain TCP where allowed (loopback): $out"
lab_assert "plain TCP accepted where allowed" "$(jq -r .snapshot <<<"$out")" = true
lab_stop controller-plain

# ---- bad input over an accepted session ---------------------------------------
state0=$(lab_api GET /state | jq -cS .)
out=$(kmpeer_tls "$LAB_EDGE_B_ID" hello)
lab_assert "edge B's own certificate is accepted" "$(jq -r .snapshot <<<"$out")" = true

# The reason the controller must log for each (its words, naming the field).
declare -A reason=(
	[truncated]='inside a frame'
	[huge]='exceeds the cap'
	[random]='not a valid Envelope'
	[prefix-len]='prefix_len: 40'
	[port0]='service_port: 0'
	[enum]='proto: 99'
)
for mode in truncated huge random prefix-len port0 enum; do
	pos=$(ctl_log_size)
	out=$(kmpeer_tls "$LAB_EDGE_B_ID" "$mode")
	sleep 0.2
	why=$(ctl_log_from "$pos" | grep -F "${reason[$mode]}")
	lab_log "$mode: $out; controller: $why"
	lab_assert "$mode: the session had its snapshot first" "$(jq -r .snapshot <<<"$out")" = true
	case $mode in
	truncated | huge)
		lab_assert "$mode: the session is closed" "$(jq -r .closed <<<"$out")" = true
		;;
	*)
		lab_assert "$mode: refused, the session still answers a Ping" \
			"$(jq -r .pong <<<"$out")" = true
		;;
	esac
	[[ -n $why ]] || lab_fail "$mode: the controller did not log '${reason[$mode]}': $(ctl_log_from "$pos")"
done
state1=$(lab_api GET /state | jq -cS .)
[[ $state1 == "$state0" ]] || lab_fail "bad input changed the controller's state: $state0 -> $state1"
lab_log "ok: no bad input changed the controller's state"
e=$(edge_json "$LAB_EDGE_A_ID")
lab_assert "edge A stayed connected throughout" "$(jq -r .connected <<<"$e")" = true
lab_log "PASS"
