#!/bin/bash
# kilimanjaro-statsd on a live edge: a player's flow through the real XDP
# program is counted in the stats ring at --interval 100ms and on /metrics
# (parsed, every family announced, values equal to the maps'); statsd is
# killed and restarted in the middle of the flow, and no counter it shows
# ever goes backwards while forwarding goes on without a loss.
source "$(dirname "$(readlink -f "$0")")/lib.sh"
KM_STATSD=$KM_BUILD_DIR/statsd/kilimanjaro-statsd
PROM_CHECK=$(dirname "$(readlink -f "$0")")/../statsd/prom_check.awk
lab_require "$KM_LOADER" "$KM_CLI" "$KM_MAPPER" "$KM_FLOW" "$KM_STATSD"
command -v curl >/dev/null || lab_fail "curl is not installed (packaging/install-deps)"

lab_up
lab_edge_config "$LAB_DIR/edge.json" '"services": [
	{ "name": "game", "protocol": "udp", "address": "'"$LAB_SVC"'",
	  "port": '"$LAB_GAME_PORT"', "backend": "'"$LAB_GS"'" }
]'
lab_start_loader "$LAB_DIR/edge.json"
lab_start_mapper
lab_start_servers

RUN=$LAB_DIR/run
SVC="udp:$LAB_SVC:$LAB_GAME_PORT"
URL=http://127.0.0.1:9477/metrics

start_statsd() {
	lab_spawn statsd "$LAB_NS_ED" "$KM_STATSD" --interface ed0 \
		--pin-root "$LAB_PIN_EDGE" --run-dir "$RUN" --interval 100ms \
		--listen 127.0.0.1:9477
	_lab_wait_ready statsd 'first snapshot published'
	lab_wait_for 5 lab_exec "$LAB_NS_ED" curl -sf -o /dev/null "$URL" ||
		lab_fail "/metrics not served"
}

# scrape: /metrics checked by prom_check.awk into $LAB_DIR/metrics.
scrape() {
	lab_exec "$LAB_NS_ED" curl -sf "$URL" >"$LAB_DIR/metrics.raw" ||
		lab_fail "GET /metrics failed"
	awk -f "$PROM_CHECK" "$LAB_DIR/metrics.raw" >"$LAB_DIR/metrics" ||
		lab_fail "/metrics is not valid Prometheus text"
}
metric() { grep -F "$1 " "$LAB_DIR/metrics" | awk '{print $2}'; }
ring() { "$KM_CLI" --json stats --run-dir "$RUN" | jq -r "$1"; }

start_statsd
scrape
lab_assert "metrics: one packets_total per reason" \
	"$(grep -c '^kilimanjaro_packets_total{reason=' "$LAB_DIR/metrics")" -eq \
	"$(km --json status | jq '.verdicts | length')"
lab_assert "metrics: the service is listed" \
	"$(grep -c "^kilimanjaro_service_packets_total{service=\"$SVC\"," "$LAB_DIR/metrics")" -eq 4

# 200 pps for 6 s; statsd SIGKILLed after 2 s, back 0.5 s later. Every
# sample of both counters, through /metrics and through the ring, must be
# at least the one before.
lab_flow_start flow "$LAB_NS_PL" "$LAB_PLAYER" "$LAB_SVC:$LAB_GAME_PORT" 200 6
prev_fwd=0 prev_rx=0 prev_ring=0 samples=0 pps_seen=
start=$SECONDS killed=0
while lab_alive flow; do
	if ((!killed && SECONDS - start >= 2)); then
		lab_stop statsd KILL
		sleep 0.5
		start_statsd
		killed=1
		lab_log "statsd killed and restarted during the flow"
	fi
	scrape
	fwd=$(metric 'kilimanjaro_packets_total{reason="fwd_service"}')
	rx=$(metric "kilimanjaro_service_packets_total{service=\"$SVC\",kind=\"rx\"}")
	rf=$(ring '.reasons.fwd_service.packets')
	((fwd >= prev_fwd && rx >= prev_rx && rf >= prev_ring)) ||
		lab_fail "a counter went backwards: fwd_service $prev_fwd -> $fwd, rx $prev_rx -> $rx, ring $prev_ring -> $rf"
	prev_fwd=$fwd prev_rx=$rx prev_ring=$rf
	p=$(ring '.reasons.fwd_service.pps // 0')
	# A rate from two snapshots 100 ms apart in the middle of the flow.
	if ((samples > 2)) && [ -z "$pps_seen" ] && awk "BEGIN{exit !($p > 120 && $p < 300)}"; then
		pps_seen=$p
	fi
	samples=$((samples + 1))
	sleep 0.2
done
lab_flow_wait flow
out=$(lab_flow_json flow)
lab_log "flow: $out; $samples samples"
lab_assert "statsd was restarted during the flow" "$killed" -eq 1
lab_assert "flow: no datagram lost" "$(lab_json_get "$out" lost)" -eq 0
lab_assert "samples taken" "$samples" -ge 10
[ -n "$pps_seen" ] || lab_fail "kilimanjaro stats never showed the flow's ~200 pps as fwd_service"
lab_log "ok: stats --json showed fwd_service at $pps_seen pps"

# Settled: the ring and /metrics equal the maps read directly.
sleep 0.3
scrape
want=$(lab_stat fwd_service)
lab_assert "metrics: fwd_service equals the maps" "$(metric 'kilimanjaro_packets_total{reason="fwd_service"}')" -eq "$want"
lab_assert "ring: fwd_service equals the maps" "$(ring '.reasons.fwd_service.packets')" -eq "$want"
sent=$(lab_json_get "$out" sent)
lab_assert "metrics: the service received every datagram" \
	"$(metric "kilimanjaro_service_packets_total{service=\"$SVC\",kind=\"rx\"}")" -ge "$sent"
lab_assert "metrics: every reply decapsulated to the player" \
	"$(metric "kilimanjaro_service_packets_total{service=\"$SVC\",kind=\"ret\"}")" -ge "$sent"

# top from the ring, no terminal: plain frames with the service.
"$KM_CLI" top --run-dir "$RUN" --iterations 2 >"$LAB_DIR/top.out" ||
	lab_fail "top failed"
grep -q "^$SVC " "$LAB_DIR/top.out" || lab_fail "top does not show $SVC"
lab_log "ok: top drew the service"

lab_stop statsd TERM || lab_fail "statsd did not exit 0 on SIGTERM"
lab_assert "ring marked closed after SIGTERM" "$(ring '.ring.writer_closed')" = true
