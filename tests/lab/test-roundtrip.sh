#!/bin/bash
# A player's UDP, TCP and ICMP round trips: player -> router -> edge (XDP,
# IPIP) -> game-server host (mapper decap) -> server, and the replies back
# through the mapper's encap and the edge's decap. Asserts on what arrives
# and on the counters `kilimanjaro status --json` shows.
source "$(dirname "$(readlink -f "$0")")/lib.sh"
lab_require "$KM_LOADER" "$KM_CLI" "$KM_MAPPER" "$KM_FLOW"

lab_up
# The base services, plus one that rewrites its port: players use
# $LAB_SVC2:27016, the game server listens on 27015.
lab_edge_config "$LAB_DIR/edge.json" '"services": [
	{ "name": "game", "protocol": "udp", "address": "'"$LAB_SVC"'",
	  "port": '"$LAB_GAME_PORT"', "backend": "'"$LAB_GS"'" },
	{ "name": "game-tcp", "protocol": "tcp", "address": "'"$LAB_SVC"'",
	  "port": '"$LAB_TCP_PORT"', "backend": "'"$LAB_GS"'" },
	{ "name": "rewritten", "protocol": "udp", "address": "'"$LAB_SVC2"'",
	  "port": 27016, "backend": "'"$LAB_GS"'", "backend_port": 27015 }
]'
lab_start_loader "$LAB_DIR/edge.json"
lab_start_mapper
lab_start_servers
lab_start_echo udp-echo-2 "$LAB_NS_GS" "$LAB_SVC2:27015"

fwd0=$(lab_stat fwd_service)
dec0=$(lab_stat fwd_decap)

# UDP: 200 datagrams, every one echoed.
out=$(lab_flow "$LAB_NS_PL" "$LAB_PLAYER" "$LAB_SVC:$LAB_GAME_PORT" 100 2)
lab_log "udp: $out"
lab_assert "udp: 200 datagrams sent" "$(lab_json_get "$out" sent)" -ge 190
lab_assert "udp: no datagram lost" "$(lab_json_get "$out" lost)" -eq 0
lab_assert "udp: no duplicate" "$(lab_json_get "$out" duplicate)" -eq 0

# Port rewrite: the player talks to :27016 and gets every answer from
# :27016 (its socket is connected there), although the server is on :27015.
out=$(lab_flow "$LAB_NS_PL" "$LAB_PLAYER" "$LAB_SVC2:27016" 100 1)
lab_log "udp with port rewrite: $out"
lab_assert "port rewrite: no datagram lost" "$(lab_json_get "$out" lost)" -eq 0
lab_assert "port rewrite: answers came back" "$(lab_json_get "$out" received)" -ge 95

# TCP: 300 kB both ways, byte for byte (segments at full MTU through IPIP).
head -c 300000 /dev/urandom >"$LAB_DIR/tcp.in"
lab_exec "$LAB_NS_PL" socat -t 5 -T 10 \
	"OPEN:$LAB_DIR/tcp.in,rdonly!!CREATE:$LAB_DIR/tcp.out" \
	"TCP:$LAB_SVC:$LAB_TCP_PORT,bind=$LAB_PLAYER" ||
	lab_fail "tcp: socat client failed"
cmp -s "$LAB_DIR/tcp.in" "$LAB_DIR/tcp.out" ||
	lab_fail "tcp: echoed bytes differ ($(stat -c %s "$LAB_DIR/tcp.out") of 300000 back)"
lab_log "ok: tcp: 300000 bytes echoed intact"

# ICMP: echo requests to a service address are answered by the edge.
icmp0=$(lab_stat tx_icmp_echo)
lab_exec "$LAB_NS_PL" ping -c 5 -i 0.2 -W 1 -I "$LAB_PLAYER" "$LAB_SVC" \
	>"$LAB_DIR/ping.out" || { cat "$LAB_DIR/ping.out"; lab_fail "icmp: ping failed"; }
grep -q ' 5 received' "$LAB_DIR/ping.out" || lab_fail "icmp: not 5 replies"
icmp1=$(lab_stat tx_icmp_echo)
lab_assert "icmp: edge answered 5 echo requests" $((icmp1 - icmp0)) -ge 5

# The edge's own address still reaches its kernel.
lab_exec "$LAB_NS_PL" ping -c 1 -W 1 "$LAB_EDGE" >/dev/null ||
	lab_fail "ping to the edge's own address failed"
lab_log "ok: edge address answered by the kernel"

fwd1=$(lab_stat fwd_service)
dec1=$(lab_stat fwd_decap)
lab_assert "counters: >= 200 packets tunnelled to the backend" $((fwd1 - fwd0)) -ge 200
lab_assert "counters: >= 200 replies decapsulated" $((dec1 - dec0)) -ge 200
