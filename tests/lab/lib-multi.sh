# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# The multi-edge lab: lib.sh's lab plus a second edge and a controller host,
# sourced by the controller tests (test-controller-*.sh):
#
#   player (pl0) ── router ──┬── edge A (ed0, 198.18.1.2)  loader, statsd, agent
#                            ├── edge B (ed0, 198.18.3.2)  loader, statsd, agent
#                            ├── controller host (ct0, 198.18.8.2)
#                            └── game-server host (gs0: mapper, both edges)
#
# Both edges announce the service prefix; the router's route to it says
# which one the players reach (lab_route_to a|b), as an anycast route shift
# would. Both edges' interfaces are named ed0, as on real edges: each runs
# in its own namespace, with its own pins and run directory.
#
# TLS material is made per run by lab_make_pki (tests/lib/gen-certs.sh).

source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib.sh"

LAB_NS_EB=$LAB_PREFIX-eb
LAB_NS_CT=$LAB_PREFIX-ct
LAB_EDGE_B=198.18.3.2
LAB_EDGE_B_GW=198.18.3.1
LAB_CTL=198.18.8.2
LAB_CTL_GW=198.18.8.1
LAB_CTL_PORT=7443
LAB_HTTP_PORT=8080 # on the controller host's loopback only
LAB_PIN_EDGE_B=$LAB_PIN/edgeb
LAB_EDGE_A_ID=edge-a
LAB_EDGE_B_ID=edge-b

KM_STATSD=$KM_BUILD_DIR/statsd/kilimanjaro-statsd
KM_AGENT=$KM_BUILD_DIR/agent/kilimanjaro-agent
KM_CONTROLLER=$KM_BUILD_DIR/controller/kilimanjaro-controller
KM_WEB_DIR=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../controller/web

# lab_multi_up: lib.sh's lab, then edge B and the controller host.
lab_multi_up() {
	local ns

	lab_up
	trap lab_multi_teardown EXIT
	LAB_NAMESPACES+=("$LAB_NS_EB" "$LAB_NS_CT")
	for ns in "$LAB_NS_EB" "$LAB_NS_CT"; do
		ip netns add "$ns" || lab_fail "ip netns add $ns"
		ip -n "$ns" link set lo up
		_lab_sysctl "$ns" net.ipv4.conf.all.rp_filter=0 \
			net.ipv4.conf.default.rp_filter=0
	done
	mkdir -m 0700 "$LAB_PIN_EDGE_B" || lab_fail "mkdir $LAB_PIN_EDGE_B"
	mkdir -p "$LAB_DIR/run-a" "$LAB_DIR/run-b"

	_lab_veth "$LAB_NS_EB" ed0 "$LAB_NS_RT" rt-eb
	_lab_veth "$LAB_NS_CT" ct0 "$LAB_NS_RT" rt-ct
	ip -n "$LAB_NS_RT" addr add "$LAB_EDGE_B_GW/24" dev rt-eb
	ip -n "$LAB_NS_RT" addr add "$LAB_CTL_GW/24" dev rt-ct
	ip -n "$LAB_NS_EB" addr add "$LAB_EDGE_B/24" dev ed0
	ip -n "$LAB_NS_CT" addr add "$LAB_CTL/24" dev ct0
	ip -n "$LAB_NS_EB" link set ed0 mtu "$LAB_TUNNEL_MTU"
	ip -n "$LAB_NS_RT" link set rt-eb mtu "$LAB_TUNNEL_MTU"
	ip -n "$LAB_NS_EB" link set ed0 up
	ip -n "$LAB_NS_CT" link set ct0 up
	ip -n "$LAB_NS_RT" link set rt-eb up
	ip -n "$LAB_NS_RT" link set rt-ct up
	lab_exec "$LAB_NS_EB" ethtool -K ed0 tx off >/dev/null 2>&1 ||
		lab_fail "ethtool -K ed0 tx off (edge B)"
	lab_exec "$LAB_NS_RT" ethtool -K rt-eb tx off >/dev/null 2>&1 ||
		lab_fail "ethtool -K rt-eb tx off"
	ip -n "$LAB_NS_RT" link set dev rt-eb xdpdrv obj "$KM_XDP_PASS" sec xdp ||
		lab_fail "cannot attach the pass program to rt-eb"
	ip -n "$LAB_NS_EB" route add default via "$LAB_EDGE_B_GW"
	ip -n "$LAB_NS_CT" route add default via "$LAB_CTL_GW"
	_lab_sysctl "$LAB_NS_EB" net.ipv4.ip_forward=1 \
		net.ipv4.conf.ed0.forwarding=1 net.ipv4.conf.ed0.rp_filter=0
	_lab_sysctl "$LAB_NS_RT" net.ipv4.conf.rt-eb.rp_filter=0 \
		net.ipv4.conf.rt-ct.rp_filter=0
	_lab_neigh "$LAB_NS_EB" ed0 "$LAB_EDGE_B_GW" "$LAB_NS_RT" rt-eb
	_lab_neigh "$LAB_NS_RT" rt-eb "$LAB_EDGE_B" "$LAB_NS_EB" ed0
	_lab_neigh "$LAB_NS_CT" ct0 "$LAB_CTL_GW" "$LAB_NS_RT" rt-ct
	_lab_neigh "$LAB_NS_RT" rt-ct "$LAB_CTL" "$LAB_NS_CT" ct0
	lab_log "edge B and the controller host up"
}

# lab_route_to a|b: the router sends the service prefix to that edge.
lab_route_to() {
	local via=$LAB_EDGE
	[[ $1 == b ]] && via=$LAB_EDGE_B
	ip -n "$LAB_NS_RT" route replace "$LAB_SVC_NET" via "$via" ||
		lab_fail "route to edge $1"
	ip -n "$LAB_NS_RT" route flush cache 2>/dev/null
	return 0
}

# lab_edge_b_config FILE [JSON-FRAGMENT]: edge A's configuration with edge
# B's address.
lab_edge_b_config() {
	lab_edge_config "$1" "${2:-}"
	jq --arg a "$LAB_EDGE_B" '.edge_addresses = [$a]' "$1" >"$1.b" &&
		mv "$1.b" "$1" || lab_fail "edge B config"
}

# lab_start_loader_b CONFIG: edge B's loader (edge A: lab_start_loader).
lab_start_loader_b() {
	local cfg=$1 pos

	: >>"$LAB_DIR/loader-b.log"
	pos=$(stat -c %s "$LAB_DIR/loader-b.log")
	nsenter --net="/run/netns/$LAB_NS_EB" -- "$KM_LOADER" --interface ed0 \
		--config "$cfg" --pin-root "$LAB_PIN_EDGE_B" \
		>>"$LAB_DIR/loader-b.log" 2>&1 &
	LAB_PIDS["loader-b"]=$!
	LAB_SPAWNED+=($!)
	_lab_wait_ready loader-b 'running on' "$pos"
}

# lab_start_mapper_ab: the mapper, knowing both edges (replies go back
# through the edge each player came from; new remotes through edge A).
lab_start_mapper_ab() {
	lab_start_mapper --edge "$LAB_EDGE_B"
}

# km_b ARGS...: the CLI on edge B's pins (edge A: km).
km_b() { "$KM_CLI" --pin-root "$LAB_PIN_EDGE_B" "$@"; }

# lab_stat_b REASON: lab_stat on edge B.
lab_stat_b() {
	km_b --json status | jq -r --arg r "$1" '.verdicts[$r].packets // 0'
}

# ---- controller, statsd, agents --------------------------------------------

LAB_API_TOKEN=
LAB_PASSWORD=

# lab_controller_config FILE [JSON-FRAGMENT]: the controller's configuration
# (TLS for the agents on the controller host's address; HTTP on its
# loopback; SQLite in the lab's directory; user "admin" with a random
# password in LAB_PASSWORD and a random API token in LAB_API_TOKEN). The
# fragment (object members) is merged over it.
lab_controller_config() {
	local file=$1 extra=${2:-} hash
	[[ -n $LAB_API_TOKEN ]] ||
		LAB_API_TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
	[[ -n $LAB_PASSWORD ]] ||
		LAB_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
	hash=$(printf '%s\n' "$LAB_PASSWORD" | "$KM_CONTROLLER" --hash-password 2>>"$LAB_DIR/hash.log") ||
		lab_fail "kilimanjaro-controller --hash-password: $(cat "$LAB_DIR/hash.log")"
	jq -n --arg listen "$LAB_CTL:$LAB_CTL_PORT" \
		--arg http "127.0.0.1:$LAB_HTTP_PORT" --arg pki "$LAB_PKI" \
		--arg db "$LAB_DIR/controller.db" --arg web "$KM_WEB_DIR" \
		--arg hash "$hash" --arg token "$LAB_API_TOKEN" \
		--argjson extra "{${extra}}" '{
			agents_listen: $listen, http_listen: $http,
			tls: { ca: ($pki + "/ca.pem"), cert: ($pki + "/controller.pem"),
			       key: ($pki + "/controller.key") },
			db: $db, web_root: $web,
			users: [ { name: "admin", password_hash: $hash } ],
			api_tokens: [ $token ]
		} * $extra' >"$file" || lab_fail "bad controller config fragment: $extra"
}

# lab_api METHOD PATH [BODY]: the controller's HTTP API with the token;
# prints the body, fails (status 1) on a non-2xx answer.
lab_api() {
	lab_exec "$LAB_NS_CT" curl -sS --fail-with-body --max-time 5 -X "$1" \
		-H "Authorization: Bearer $LAB_API_TOKEN" \
		-H 'Content-Type: application/json' ${3:+--data "$3"} \
		"http://127.0.0.1:$LAB_HTTP_PORT/api$2"
}

# lab_start_controller CONFIG: returns once its API answers.
lab_start_controller() {
	local deadline=$((SECONDS + 20))
	lab_spawn controller "$LAB_NS_CT" "$KM_CONTROLLER" --config "$1"
	until lab_api GET /state >/dev/null 2>&1; do
		lab_alive controller || {
			cat "$LAB_DIR/controller.log" >&2
			lab_fail "the controller exited"
		}
		((SECONDS < deadline)) || lab_fail "the controller's API did not answer within 20 s"
		sleep 0.1
	done
}

# lab_start_statsd a|b: statsd on that edge (ring in $LAB_DIR/run-a|b,
# Prometheus on the edge's loopback).
lab_start_statsd() {
	local ns=$LAB_NS_ED pin=$LAB_PIN_EDGE
	[[ $1 == b ]] && ns=$LAB_NS_EB pin=$LAB_PIN_EDGE_B
	lab_spawn "statsd-$1" "$ns" "$KM_STATSD" --interface ed0 --pin-root "$pin" \
		--run-dir "$LAB_DIR/run-$1" --interval 200ms --listen 127.0.0.1:9477
	lab_wait_for 10 test -s "$LAB_DIR/run-$1/stats.ring" ||
		lab_fail "statsd on edge $1 made no ring: $(tail -n 5 "$LAB_DIR/statsd-$1.log")"
}

# lab_start_agent a|b [EXTRA ARGS...]: the agent of that edge, with its
# certificate (CN = edge id); does not wait (lab_wait_synced does).
lab_start_agent() {
	local e=$1 ns=$LAB_NS_ED pin=$LAB_PIN_EDGE id=$LAB_EDGE_A_ID
	shift
	[[ $e == b ]] && ns=$LAB_NS_EB pin=$LAB_PIN_EDGE_B id=$LAB_EDGE_B_ID
	lab_spawn "agent-$e" "$ns" "$KM_AGENT" --interface ed0 \
		--controller "$LAB_CTL:$LAB_CTL_PORT" --edge-id "$id" \
		--ca "$LAB_PKI/ca.pem" --cert "$LAB_PKI/$id.pem" \
		--key "$LAB_PKI/$id.key" --server-name controller \
		--pin-root "$pin" --run-dir "$LAB_DIR/run-$e" "$@"
}

# lab_synced ID...: every edge named is connected and acknowledged the
# controller's current version.
lab_synced() {
	local v edges id
	v=$(lab_api GET /state | jq -r .version) || return 1
	edges=$(lab_api GET /edges) || return 1
	for id in "$@"; do
		jq -e --arg id "$id" --argjson v "$v" \
			'.edges[] | select(.id == $id and .connected and .acked_version == $v)' \
			<<<"$edges" >/dev/null || return 1
	done
}

# lab_wait_synced SECONDS ID...
lab_wait_synced() {
	local s=$1
	shift
	lab_wait_for "$s" lab_synced "$@" ||
		lab_fail "edges $* not in sync within $s s: state $(lab_api GET /state | jq -c '{version}') edges $(lab_api GET /edges | jq -c '[.edges[] | {id, connected, config_version, acked_version}]')"
}

# ---- TLS material ------------------------------------------------------------

# lab_make_pki: tests/lib/gen-certs.sh's set in $LAB_PKI (ca.pem,
# controller.pem with the controller host's address, edge-a.pem, edge-b.pem,
# rogue.pem from other-ca.pem; keys beside them).
lab_make_pki() {
	LAB_PKI=$LAB_DIR/pki
	KM_CERT_IPS=$LAB_CTL "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../lib/gen-certs.sh" \
		"$LAB_PKI" || lab_fail "gen-certs.sh failed"
}

# ---- teardown ---------------------------------------------------------------

# Edge B's pinned link needs its own --detach; the rest is lib.sh's.
lab_multi_teardown() {
	local rc=$? name

	for name in "${!LAB_PIDS[@]}"; do
		lab_stop "$name" TERM
	done
	if [[ -e $LAB_PIN_EDGE_B/km_link && -x $KM_LOADER ]]; then
		timeout 10 nsenter --net="/run/netns/$LAB_NS_EB" -- "$KM_LOADER" \
			--interface ed0 --pin-root "$LAB_PIN_EDGE_B" --detach \
			>>"$LAB_DIR/teardown.log" 2>&1
	fi
	(exit "$rc")
	lab_teardown
}
