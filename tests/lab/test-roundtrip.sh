#!/bin/bash
# A player's UDP, TCP and ICMP round trips: player -> router -> edge (XDP,
# IPIP) -> game-server host (mapper decap) -> server, and the replies back
# through the mapper's encap and the edge's decap. Asserts on what arrives
# and on the counters `kilimanjaro status --json` shows.
source "$(dirname "$(readlink -f "$0")")/lib.sh"
lab_require "$KM_LOADER" "$KM_CLI" "$KM_MAPPER" "$KM_FLOW"

lab_up
lab_edge_config "$LAB_DIR/edge.json"
lab_start_loader "$LAB_DIR/edge.json"
lab_start_mapper
lab_start_servers

fwd0=$(lab_stat fwd_service)
dec0=$(lab_stat fwd_decap)

# UDP: 200 datagrams, every one echoed.
out=$(lab_flow "$LAB_NS_PL" "$LAB_PLAYER" "$LAB_SVC:$LAB_GAME_PORT" 100 2)
lab_log "udp: $out"
lab_assert "udp: 200 datagrams sent" "$(lab_json_get "$out" sent)" -ge 190
lab_assert "udp: no datagram lost" "$(lab_json_get "$out" lost)" -eq 0
lab_assert "udp: no duplicate" "$(lab_json_get "$out" duplicate)" -eq 0

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
