#!/bin/bash
# The systemd units for real: systemd boots in a container (systemd-nspawn,
# volatile root, the edge's network namespace, the host's bpffs) and runs
# packaging/kilimanjaro-loader@.service through start, watchdog, reload,
# stop, start, SIGKILL (Restart=on-failure) and stopping kilimanjaro.target,
# while a player's flow runs through the edge from outside. The unit may
# never detach, so the flow loses nothing at any of those steps.
source "$(dirname "$(readlink -f "$0")")/lib.sh"
lab_require "$KM_LOADER" "$KM_MAPPER" "$KM_FLOW"
command -v systemd-nspawn >/dev/null ||
	lab_fail "systemd-nspawn missing (package systemd-container)"
src=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)

lab_up
lab_start_mapper
lab_start_servers

# Inside the container: /lab = $LAB_DIR, /km = the build directory.
lab_edge_config "$LAB_DIR/edge.json"
units=$LAB_DIR/units
mkdir -p "$units/kilimanjaro-loader@.service.d"
cp "$src/packaging/kilimanjaro.target" "$src/packaging/kilimanjaro-loader@.service" "$units/"
# Only the paths change (and a short watchdog, to see it fed).
cat >"$units/kilimanjaro-loader@.service.d/lab.conf" <<EOF_UNIT
[Service]
ExecStart=
ExecStart=/km/loader/kilimanjaro-loader --interface %I --config /lab/edge.json --pin-root $LAB_PIN_EDGE
WatchdogSec=3s
EOF_UNIT
cat >"$units/lab-driver.service" <<'EOF_UNIT'
[Unit]
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/lab/units/driver.sh
EOF_UNIT
cat >"$units/driver.sh" <<EOF_DRIVER
#!/bin/bash
exec >/lab/driver.log 2>&1
unit=kilimanjaro-loader@ed0.service
fail() {
	echo "FAIL: \$*"
	journalctl --no-pager -o cat -u "\$unit"
	echo FAIL >/lab/result
	systemctl poweroff
	exit 1
}
step() { echo "== \$*"; }
prop() { systemctl show -P "\$1" "\$unit"; }
attached() { ip link show dev ed0 | grep -q 'prog/xdp' && [ -e $LAB_PIN_EDGE/km_link ]; }
wait_active() {
	for i in \$(seq 50); do
		[ "\$(prop ActiveState)" = active ] && return 0
		sleep 0.2
	done
	return 1
}
for f in kilimanjaro.target kilimanjaro-loader@.service kilimanjaro-loader@.service.d; do
	cp -r "/lab/units/\$f" /etc/systemd/system/
done
systemctl daemon-reload

step "enable and start the target"
systemctl enable kilimanjaro.target "\$unit" || fail "enable"
systemctl start kilimanjaro.target || fail "start of kilimanjaro.target"
wait_active || fail "\$unit not active after the target started"
attached || fail "not attached after start"
touch /lab/started
sleep 2

step "watchdog (3 s) fed"
sleep 4
[ "\$(prop ActiveState)" = active ] && [ "\$(prop NRestarts)" = 0 ] ||
	fail "watchdog: state \$(prop ActiveState), restarts \$(prop NRestarts)"

step "reload"
systemctl reload "\$unit" || fail "reload"
sleep 1
journalctl --no-pager -o cat -u "\$unit" | grep -q 'reloaded /lab/edge.json' ||
	fail "reload not applied"

step "stop: stays attached"
systemctl stop "\$unit" || fail "stop"
[ "\$(prop ActiveState)" = inactive ] || fail "not inactive after stop"
attached || fail "stop detached the program"
sleep 2

step "start again"
systemctl start "\$unit" || fail "start after stop"
attached || fail "not attached after restart"
sleep 2

step "SIGKILL: restarted by Restart=on-failure"
pid=\$(prop MainPID)
kill -KILL "\$pid"
sleep 0.5
attached || fail "SIGKILL detached the program"
for i in \$(seq 50); do
	[ "\$(prop NRestarts)" = 1 ] && [ "\$(prop ActiveState)" = active ] && break
	sleep 0.2
done
[ "\$(prop NRestarts)" = 1 ] && [ "\$(prop ActiveState)" = active ] ||
	fail "no restart after SIGKILL (restarts \$(prop NRestarts), \$(prop ActiveState))"
[ "\$(prop MainPID)" != "\$pid" ] || fail "same main pid after restart"
sleep 2

step "stop kilimanjaro.target: the loader stops, forwarding goes on"
systemctl stop kilimanjaro.target || fail "stop target"
sleep 0.5
[ "\$(prop ActiveState)" = inactive ] || fail "loader still \$(prop ActiveState) after the target stopped"
attached || fail "stopping the target detached the program"
sleep 1

journalctl --no-pager -o cat -u "\$unit"
echo PASS >/lab/result
systemctl poweroff
EOF_DRIVER
chmod +x "$units/driver.sh"

# /proc/sys/net writable in the container, as on a host: the loader checks
# (and sets) net.ipv4.conf.ed0.forwarding.
lab_spawn container "$LAB_NS_ED" env SYSTEMD_NSPAWN_API_VFS_WRITABLE=network \
	timeout 120 systemd-nspawn --quiet \
	--register=no --keep-unit -D / --volatile=yes \
	--network-namespace-path="/run/netns/$LAB_NS_ED" \
	--capability=all --system-call-filter='bpf perf_event_open' \
	--bind=/sys/fs/bpf --bind="$LAB_DIR:/lab" --bind-ro="$KM_BUILD_DIR:/km" \
	--bind-ro="$units/lab-driver.service:/etc/systemd/system/lab-driver.service" \
	--boot systemd.firstboot=off systemd.wants=lab-driver.service
lab_wait_for 60 test -e "$LAB_DIR/started" ||
	{ cat "$LAB_DIR/driver.log" >&2; lab_fail "the loader unit did not start"; }
lab_log "ok: kilimanjaro-loader@ed0.service active in the container"
lab_flow_start steady "$LAB_NS_PL" "$LAB_PLAYER" "$LAB_SVC:$LAB_GAME_PORT" 200 120

lab_wait_for 90 test -e "$LAB_DIR/result" || lab_fail "the unit test did not finish"
kill -INT "$(lab_pid steady)"
lab_flow_wait steady
out=$(lab_flow_json steady)
grep '^==' "$LAB_DIR/driver.log" | while read -r line; do lab_log "container: $line"; done
[[ $(cat "$LAB_DIR/result") == PASS ]] ||
	{ cat "$LAB_DIR/driver.log" >&2; lab_fail "unit test in the container failed"; }
lab_log "ok: unit start, watchdog, reload, stop, start, SIGKILL restart, target stop"
lab_log "player's flow through all of it: $out"
lab_assert "flow: >= 2000 datagrams sent" "$(lab_json_get "$out" sent)" -ge 2000
lab_assert "flow: no datagram lost" "$(lab_json_get "$out" lost)" -eq 0
# The container powers itself off after the driver; reap it.
cpid=$(lab_pid container)
lab_wait_for 30 bash -c "! kill -0 $cpid 2>/dev/null" ||
	lab_log "the container did not power off within 30 s: stopping it"
lab_stop container TERM || true
