#!/bin/bash
# kilimanjaro-afxdp@.service for real: systemd boots in a container
# (systemd-nspawn, volatile root, the host's bpffs) joined to the edge's
# namespace, next to a loader and a game server (a2s-fixture) run by the
# lab, and drives the packaged unit through start (Type=notify), watchdog,
# reload, stop, start, SIGKILL of the supervisor (Restart=on-failure) and
# stopping kilimanjaro.target. Meanwhile a player asks for RULES 20 times a
# second, retrying like a client: not one query may be lost, since XDP
# forwards to the game server whenever the queue has no worker.
LAB_PREFIX=${LAB_PREFIX:-kwu-$$}
source "$(dirname "$(readlink -f "$0")")/lib.sh"
KW_AFXDP=$KM_BUILD_DIR/afxdp-worker/kilimanjaro-afxdp
KW_FIXTURE=$KM_BUILD_DIR/tests/lab/a2s-fixture
KW_PROBE=$KM_BUILD_DIR/tests/lab/a2s-probe
lab_require "$KM_LOADER" "$KM_MAPPER" "$KW_AFXDP" "$KW_FIXTURE" "$KW_PROBE"
command -v systemd-nspawn >/dev/null ||
	lab_fail "systemd-nspawn missing (package systemd-container)"
src=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
template=kilimanjaro-afxdp@.service

lab_up
lab_edge_config "$LAB_DIR/edge.json" '"services": [
	{ "name": "game", "protocol": "udp", "address": "'"$LAB_SVC"'",
	  "port": '"$LAB_GAME_PORT"', "backend": "'"$LAB_GS"'",
	  "limits": { "unvalidated": { "pps": 100000, "burst_packets": 10000 } },
	  "a2s": { "refresh_ms": 1000, "max_age_ms": 10000, "timeout_ms": 3000 } }
]'
lab_start_loader "$LAB_DIR/edge.json"
lab_start_mapper
lab_spawn fixture "$LAB_NS_GS" "$KW_FIXTURE" --listen "$LAB_SVC:$LAB_GAME_PORT" \
	--rules 100 --stats-file "$LAB_DIR/fixture.json"
lab_wait_for 5 test -s "$LAB_DIR/fixture.json" || lab_fail "fixture did not start"

# The driver runs inside the container (/lab = $LAB_DIR, /km = the build).
cat >"$LAB_DIR/driver.sh" <<'EOF_DRIVER'
#!/bin/bash
unit=kilimanjaro-afxdp@ed0.service
exec >/lab/driver.log 2>&1
source /lab/unit-driver.sh

step "enable and start kilimanjaro.target"
systemctl enable kilimanjaro.target "$unit" || fail "enable"
systemctl start kilimanjaro.target || fail "start of kilimanjaro.target"
until_true 10 active || fail "$unit not active after the target started"
until_true 10 logged 'serving A2S on ed0 queue 0' || fail "no worker serving"
touch /lab/started
sleep 2

step "watchdog (3 s) fed"
sleep 4
active && [ "$(prop NRestarts)" = 0 ] ||
	fail "watchdog: state $(prop ActiveState), restarts $(prop NRestarts)"

step "reload: the workers re-read the services"
systemctl reload "$unit" || fail "reload"
until_true 5 logged 'SIGHUP: re-reading the services' || fail "reload not seen"
sleep 1

step "stop: the worker leaves its queue cleanly"
systemctl stop "$unit" || fail "stop"
inactive || fail "not inactive after stop"
logged 'queue 0: stopped' || fail "the worker did not stop cleanly"
sleep 2

step "start again"
systemctl start "$unit" || fail "start after stop"
until_true 10 logged 'serving A2S on ed0 queue 0' 2 || fail "no worker after the start"
sleep 2

step "SIGKILL of the supervisor: restarted by Restart=on-failure"
pid=$(prop MainPID)
kill -KILL "$pid"
until_true 15 restarted ||
	fail "no restart after SIGKILL (restarts $(prop NRestarts), $(prop ActiveState))"
[ "$(prop MainPID)" != "$pid" ] || fail "same main pid after the restart"
until_true 10 logged 'serving A2S on ed0 queue 0' 3 || fail "no worker after the restart"
sleep 2

step "stop kilimanjaro.target"
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
printf '[Service]\nExecStart=\nExecStart=%s\nWatchdogSec=3s\n' \
	"/km/afxdp-worker/kilimanjaro-afxdp --interface %I --queues all --pin-root $LAB_PIN_EDGE --run-dir /run/kw-test" \
	>"$units/$template.d/lab.conf"
printf '[Unit]\nAfter=multi-user.target\n[Service]\nType=oneshot\nExecStart=/lab/driver.sh\n' \
	>"$LAB_DIR/lab-driver.service"
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

lab_spawn probe "$LAB_NS_PL" "$KW_PROBE" --to "$LAB_SVC:$LAB_GAME_PORT" \
	--bind "$LAB_PLAYER" --kind rules --rate 20 --duration 100 --attempts 6 \
	--reuse-challenge --expect-rules 100
lab_wait_for 90 test -e "$LAB_DIR/result" || lab_fail "the unit test did not finish"
kill -INT "$(lab_pid probe)"
lab_flow_wait probe
out=$(lab_flow_json probe)
grep '^==' "$LAB_DIR/driver.log" | while read -r line; do
	lab_log "container: $line"
done
[[ $(cat "$LAB_DIR/result") == PASS ]] ||
	{ cat "$LAB_DIR/driver.log" >&2; lab_fail "$template failed in the container"; }
lab_log "ok: $template: start, watchdog, reload, stop, start, SIGKILL restart, target stop"
lab_log "player's RULES queries through all of it: $out"
lab_assert "player: >= 200 queries" "$(lab_json_get "$out" queries)" -ge 200
lab_assert "player: no query lost" "$(lab_json_get "$out" lost)" -eq 0
lab_assert "player: no bad answer" "$(lab_json_get "$out" bad)" -eq 0
cpid=$(lab_pid container)
lab_wait_for 30 bash -c "! kill -0 $cpid 2>/dev/null" ||
	lab_log "the container did not power off within 30 s: stopping it"
lab_stop container TERM || true
