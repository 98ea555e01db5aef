#!/bin/bash
# The systemd units for real: systemd boots in a container (systemd-nspawn,
# volatile root, the host's bpffs) joined to a lab namespace, and runs a
# packaged unit through start, watchdog, reload, stop, start, SIGKILL
# (Restart=on-failure) and stopping kilimanjaro.target:
#  1. kilimanjaro-mapper@gs0.service on the game-server host;
#  2. kilimanjaro-loader@ed0.service on the edge, while a player's flow runs
#     through the edge and through the mapper's programs, whose process
#     ended with the first container. The units never detach, so the flow
#     loses nothing at any of those steps.
source "$(dirname "$(readlink -f "$0")")/lib.sh"
lab_require "$KM_LOADER" "$KM_MAPPER" "$KM_FLOW"
command -v systemd-nspawn >/dev/null ||
	lab_fail "systemd-nspawn missing (package systemd-container)"
src=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)

lab_up
lab_start_servers
lab_edge_config "$LAB_DIR/edge.json"
cat >"$LAB_DIR/mapper.json" <<EOF
{
	"address": "$LAB_GS",
	"edges": ["$LAB_EDGE"],
	"default_edge": "$LAB_EDGE",
	"services": ["$LAB_SVC_NET"],
	"pin_root": "$LAB_PIN_GS"
}
EOF

# The driver runs inside the container (/lab = $LAB_DIR, /km = the build
# directory): DRIVER UNIT-TEMPLATE IFNAME LINK-PIN RELOAD-LOG-PATTERN.
cat >"$LAB_DIR/driver.sh" <<'EOF'
#!/bin/bash
template=$1 ifname=$2 link_pin=$3 reloaded=$4
unit=${template/@/@$ifname}
exec >"/lab/driver-$template.log" 2>&1
fail() {
	echo "FAIL: $*"
	journalctl --no-pager -o cat -u "$unit"
	echo FAIL >"/lab/result-$template"
	systemctl poweroff
	exit 1
}
step() { echo "== $*"; }
prop() { systemctl show -P "$1" "$unit"; }
attached() { ip link show dev "$ifname" | grep -q 'prog/xdp' && [ -e "$link_pin" ]; }
until_true() { # SECONDS COMMAND...
	local i
	for ((i = 0; i < $1 * 5; i++)); do
		"${@:2}" && return 0
		sleep 0.2
	done
	return 1
}
active() { [ "$(prop ActiveState)" = active ]; }
restarted() { [ "$(prop NRestarts)" = 1 ] && active; }

cp -r /lab/units/. /etc/systemd/system/
systemctl daemon-reload

step "enable and start kilimanjaro.target"
systemctl enable kilimanjaro.target "$unit" || fail "enable"
systemctl start kilimanjaro.target || fail "start of kilimanjaro.target"
until_true 10 active || fail "$unit not active after the target started"
attached || fail "not attached after start"
touch "/lab/started-$template"
sleep 1

step "watchdog (3 s) fed"
sleep 4
active && [ "$(prop NRestarts)" = 0 ] ||
	fail "watchdog: state $(prop ActiveState), restarts $(prop NRestarts)"

step "reload"
systemctl reload "$unit" || fail "reload"
until_true 5 eval 'journalctl --no-pager -o cat -u "$unit" | grep -q "$reloaded"' ||
	fail "reload not applied"

step "stop: stays attached"
systemctl stop "$unit" || fail "stop"
[ "$(prop ActiveState)" = inactive ] || fail "not inactive after stop"
attached || fail "stop detached the programs"
sleep 1

step "start again"
systemctl start "$unit" || fail "start after stop"
attached || fail "not attached after restart"
sleep 1

step "SIGKILL: restarted by Restart=on-failure"
pid=$(prop MainPID)
kill -KILL "$pid"
sleep 0.3
attached || fail "SIGKILL detached the programs"
until_true 10 restarted ||
	fail "no restart after SIGKILL (restarts $(prop NRestarts), $(prop ActiveState))"
[ "$(prop MainPID)" != "$pid" ] || fail "same main pid after the restart"
sleep 1

step "stop kilimanjaro.target: the process stops, forwarding goes on"
systemctl stop kilimanjaro.target || fail "stop of the target"
until_true 5 eval '[ "$(prop ActiveState)" = inactive ]' ||
	fail "still $(prop ActiveState) after the target stopped"
attached || fail "stopping the target detached the programs"

journalctl --no-pager -o cat -u "$unit"
echo PASS >"/lab/result-$template"
systemctl poweroff
EOF
chmod +x "$LAB_DIR/driver.sh"

# run_unit NS TEMPLATE IFNAME LINK-PIN RELOAD-PATTERN EXECSTART: the
# packaged units with ExecStart pointing at the build (and a 3 s watchdog,
# to see it fed), in a container in NS; returns once the unit is started.
run_unit() {
	local ns=$1 template=$2 ifname=$3 pin=$4 reloaded=$5 exec=$6 units
	units=$LAB_DIR/units
	rm -rf "$units"
	mkdir -p "$units/$template.d"
	cp "$src/packaging/kilimanjaro.target" "$src/packaging/$template" "$units/"
	printf '[Service]\nExecStart=\nExecStart=%s\nWatchdogSec=3s\n' "$exec" \
		>"$units/$template.d/lab.conf"
	printf '[Unit]\nAfter=multi-user.target\n[Service]\nType=oneshot\nExecStart=/lab/driver.sh %s %s %s "%s"\n' \
		"$template" "$ifname" "$pin" "$reloaded" >"$LAB_DIR/lab-driver.service"
	# /proc/sys/net writable in the container, as on a host: the loader
	# checks (and sets) net.ipv4.conf.<if>.forwarding.
	lab_spawn "container-$template" "$ns" \
		env SYSTEMD_NSPAWN_API_VFS_WRITABLE=network \
		timeout 120 systemd-nspawn --quiet --register=no --keep-unit \
		-D / --volatile=yes --network-namespace-path="/run/netns/$ns" \
		--capability=all --system-call-filter='bpf perf_event_open' \
		--bind=/sys/fs/bpf --bind="$LAB_DIR:/lab" --bind-ro="$KM_BUILD_DIR:/km" \
		--bind-ro="$LAB_DIR/lab-driver.service:/etc/systemd/system/lab-driver.service" \
		--boot systemd.firstboot=off systemd.wants=lab-driver.service
	lab_wait_for 60 test -e "$LAB_DIR/started-$template" ||
		{ cat "$LAB_DIR/driver-$template.log" >&2; lab_fail "$template did not start"; }
	lab_log "ok: $template active in a container in $ns"
}

# finish_unit TEMPLATE: wait for the driver's verdict and the container.
finish_unit() {
	local template=$1 cpid
	lab_wait_for 90 test -e "$LAB_DIR/result-$template" ||
		lab_fail "the $template test did not finish"
	grep '^==' "$LAB_DIR/driver-$template.log" | while read -r line; do
		lab_log "container: $line"
	done
	[[ $(cat "$LAB_DIR/result-$template") == PASS ]] ||
		{ cat "$LAB_DIR/driver-$template.log" >&2; lab_fail "$template failed in the container"; }
	lab_log "ok: $template: start, watchdog, reload, stop, start, SIGKILL restart, target stop"
	cpid=$(lab_pid "container-$template")
	lab_wait_for 30 bash -c "! kill -0 $cpid 2>/dev/null" ||
		lab_log "the container did not power off within 30 s: stopping it"
	lab_stop "container-$template" TERM || true
}

run_unit "$LAB_NS_GS" 'kilimanjaro-mapper@.service' gs0 "$LAB_PIN_GS/km_m_xdp_link" \
	'reloaded' '/km/mapper/kilimanjaro-mapper --interface %I --config /lab/mapper.json'
finish_unit 'kilimanjaro-mapper@.service'

run_unit "$LAB_NS_ED" 'kilimanjaro-loader@.service' ed0 "$LAB_PIN_EDGE/km_link" \
	'reloaded /lab/edge.json' \
	"/km/loader/kilimanjaro-loader --interface %I --config /lab/edge.json --pin-root $LAB_PIN_EDGE"
lab_flow_start steady "$LAB_NS_PL" "$LAB_PLAYER" "$LAB_SVC:$LAB_GAME_PORT" 200 120
lab_wait_for 90 test -e "$LAB_DIR/result-kilimanjaro-loader@.service"
kill -INT "$(lab_pid steady)"
lab_flow_wait steady
out=$(lab_flow_json steady)
finish_unit 'kilimanjaro-loader@.service'
lab_log "player's flow through all of it (no mapper process running): $out"
lab_assert "flow: >= 2000 datagrams sent" "$(lab_json_get "$out" sent)" -ge 2000
lab_assert "flow: no datagram lost" "$(lab_json_get "$out" lost)" -eq 0
