#!/bin/bash
# kilimanjaro-statsd@.service for real: systemd boots in a container
# (systemd-nspawn, volatile root, the host's bpffs) joined to the edge's
# namespace, next to a loader run by the lab, and drives the packaged unit
# through start (Type=notify), watchdog, SIGKILL (Restart=on-failure: a new
# ring epoch, no counter back), stop (the ring marked closed) and stopping
# kilimanjaro.target, while a player's flow goes through the edge without a
# loss.
LAB_PREFIX=${LAB_PREFIX:-ksu-$$}
source "$(dirname "$(readlink -f "$0")")/lib.sh"
KM_STATSD=$KM_BUILD_DIR/statsd/kilimanjaro-statsd
lab_require "$KM_LOADER" "$KM_MAPPER" "$KM_CLI" "$KM_FLOW" "$KM_STATSD"
command -v systemd-nspawn >/dev/null ||
	lab_fail "systemd-nspawn missing (package systemd-container)"
src=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
template=kilimanjaro-statsd@.service

lab_up
lab_edge_config "$LAB_DIR/edge.json" '"services": [
	{ "name": "game", "protocol": "udp", "address": "'"$LAB_SVC"'",
	  "port": '"$LAB_GAME_PORT"', "backend": "'"$LAB_GS"'" }
]'
lab_start_loader "$LAB_DIR/edge.json"
lab_start_mapper
lab_start_servers

# The driver runs inside the container (/lab = $LAB_DIR, /km = the build).
cat >"$LAB_DIR/driver.sh" <<'EOF_DRIVER'
#!/bin/bash
unit=kilimanjaro-statsd@ed0.service
exec >/lab/driver.log 2>&1
source /lab/unit-driver.sh
ring() { /km/cli/kilimanjaro --json stats --run-dir /run/ks-test | jq -r "$1"; }
metric_fwd() {
	# No awk here: its /etc/alternatives link is not in the volatile /etc.
	curl -sf http://127.0.0.1:9477/metrics |
		grep -F 'kilimanjaro_packets_total{reason="fwd_service"} ' |
		cut -d' ' -f2
}

step "enable and start kilimanjaro.target"
systemctl enable kilimanjaro.target "$unit" || fail "enable"
systemctl start kilimanjaro.target || fail "start of kilimanjaro.target"
until_true 10 active || fail "$unit not active after the target started"
until_true 10 logged 'first snapshot published' || fail "no snapshot published"
touch /lab/started
sleep 1
e1=$(ring '.ring.epoch')
f1=$(metric_fwd)
[ -n "$f1" ] || fail "/metrics has no fwd_service"

step "watchdog (3 s) fed"
sleep 4
active && [ "$(prop NRestarts)" = 0 ] ||
	fail "watchdog: state $(prop ActiveState), restarts $(prop NRestarts)"
f2=$(metric_fwd)
((f2 > f1)) || fail "fwd_service did not grow under the flow ($f1 -> $f2)"

step "SIGKILL: restarted by Restart=on-failure, new epoch, no counter back"
pid=$(prop MainPID)
kill -KILL "$pid"
until_true 15 restarted ||
	fail "no restart after SIGKILL (restarts $(prop NRestarts), $(prop ActiveState))"
until_true 10 logged 'first snapshot published' 2 || fail "no snapshot after the restart"
sleep 0.5
e2=$(ring '.ring.epoch')
[ "$e1" != "$e2" ] || fail "same ring epoch after the restart ($e1)"
f3=$(metric_fwd)
((f3 >= f2)) || fail "fwd_service went back across the restart ($f2 -> $f3)"

step "stop: clean exit, the ring says the writer is gone"
systemctl stop "$unit" || fail "stop"
inactive || fail "not inactive after stop"
logged 'signal 15: exiting' || fail "statsd did not exit on SIGTERM"
[ "$(ring '.ring.writer_closed')" = true ] || fail "ring not closed after stop"

step "start again, then stop kilimanjaro.target"
systemctl start "$unit" || fail "start after stop"
until_true 10 logged 'first snapshot published' 3 || fail "no snapshot after the start"
systemctl stop kilimanjaro.target || fail "stop of the target"
until_true 5 inactive || fail "still $(prop ActiveState) after the target stopped"

journalctl --no-pager -o cat -u "$unit"
echo PASS >/lab/result
systemctl poweroff
EOF_DRIVER
chmod +x "$LAB_DIR/driver.sh"
cp "$(dirname "$(readlink -f "$0")")/unit-driver.sh" "$LAB_DIR/"

units=$LAB_DIR/units
mkdir -p "$units/$template.d"
cp "$src/packaging/kilimanjaro.target" "$src/packaging/$template" "$units/"
# The loader is the lab's, not a unit: no dependency on its unit here.
printf '[Unit]\nAfter=\nWants=\n[Service]\nExecStart=\nExecStart=%s\nWatchdogSec=3s\n' \
	"/km/statsd/kilimanjaro-statsd --interface %I --pin-root $LAB_PIN_EDGE --run-dir /run/ks-test --interval 100ms" \
	>"$units/$template.d/lab.conf"
printf '[Unit]\nAfter=multi-user.target\n[Service]\nType=oneshot\nExecStart=/lab/driver.sh\n' \
	>"$LAB_DIR/lab-driver.service"
lab_flow_start steady "$LAB_NS_PL" "$LAB_PLAYER" "$LAB_SVC:$LAB_GAME_PORT" 200 120
lab_spawn container "$LAB_NS_ED" \
	timeout 120 systemd-nspawn --quiet --register=no --keep-unit \
	-D / --volatile=yes --network-namespace-path="/run/netns/$LAB_NS_ED" \
	--capability=all --system-call-filter='bpf perf_event_open' \
	--bind=/sys/fs/bpf --bind="$LAB_DIR:/lab" --bind-ro="$KM_BUILD_DIR:/km" \
	--bind-ro="$LAB_DIR/lab-driver.service:/etc/systemd/system/lab-driver.service" \
	--boot systemd.firstboot=off systemd.wants=lab-driver.service
lab_wait_for 60 test -e "$LAB_DIR/started" ||
	{ cat "$LAB_DIR/driver.log" >&2; lab_fail "$template did not start"; }
lab_log "ok: $template active in a container on the edge"
lab_wait_for 90 test -e "$LAB_DIR/result" || lab_fail "the unit test did not finish"
kill -INT "$(lab_pid steady)"
lab_flow_wait steady
out=$(lab_flow_json steady)
grep '^==' "$LAB_DIR/driver.log" | while read -r line; do
	lab_log "container: $line"
done
[[ $(cat "$LAB_DIR/result") == PASS ]] ||
	{ cat "$LAB_DIR/driver.log" >&2; lab_fail "$template failed in the container"; }
lab_log "ok: $template: start, watchdog, SIGKILL restart, stop, start, target stop"
lab_log "player's flow through all of it: $out"
lab_assert "flow: >= 1000 datagrams sent" "$(lab_json_get "$out" sent)" -ge 1000
lab_assert "flow: no datagram lost" "$(lab_json_get "$out" lost)" -eq 0
cpid=$(lab_pid container)
lab_wait_for 30 bash -c "! kill -0 $cpid 2>/dev/null" ||
	lab_log "the container did not power off within 30 s: stopping it"
lab_stop container TERM || true
