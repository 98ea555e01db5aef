#!/bin/bash
# packaging/kilimanjaro-controller.service for real: systemd boots in a
# container (systemd-nspawn, volatile root) in a network namespace of its
# own and runs the packaged unit (dynamic user, configuration and TLS key
# as credentials, state directory), with ExecStart pointing at the build:
# start (ExecStartPre checks the config), the API answers with the token,
# a change is made, SIGKILL -> restarted by Restart=on-failure with the
# change kept (the state directory survives), stop.
# Env: KM_BUILD_DIR; LAB_PREFIX (names of what this test creates).
set -uo pipefail
KM_BUILD_DIR=${KM_BUILD_DIR:?KM_BUILD_DIR must name the meson build directory}
src=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
PREFIX=${LAB_PREFIX:-kml-ctlu-$$}
NS=$PREFIX-ns
DIR=$(mktemp -d "/tmp/$PREFIX.XXXXXX")
CTL=$KM_BUILD_DIR/controller/kilimanjaro-controller
TOKEN=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
cpid=

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
fail() {
	log "FAIL: $*"
	[[ -f $DIR/driver.log ]] && cat "$DIR/driver.log" >&2
	exit 1
}
cleanup() {
	if [[ -n $cpid ]] && kill -0 "$cpid" 2>/dev/null; then
		kill -TERM "$cpid" 2>/dev/null
		for _ in $(seq 100); do kill -0 "$cpid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$cpid" 2>/dev/null
		wait "$cpid" 2>/dev/null
	fi
	ip netns del "$NS" 2>/dev/null
	if [[ -n ${LAB_KEEP_LOGS:-} ]]; then log "logs kept in $DIR"; else rm -rf "$DIR"; fi
}
trap cleanup EXIT
command -v systemd-nspawn >/dev/null ||
	fail "systemd-nspawn missing (package systemd-container)"
[[ -x $CTL ]] || fail "$CTL missing: build first"

ip netns add "$NS" || fail "ip netns add $NS"
ip -n "$NS" link set lo up
"$src/tests/lib/gen-certs.sh" "$DIR/certs" || fail "gen-certs.sh"
# The dynamic user reads the CA and certificate in place; the key and the
# configuration reach it as credentials (root reads them).
chmod 755 "$DIR" "$DIR/certs"
chmod 644 "$DIR/certs/"*.pem
hash=$(echo "unit-password" | "$CTL" --hash-password) || fail "--hash-password"
cat >"$DIR/controller.json" <<EOF_CFG
{
	"agents_listen": "127.0.0.1:7443",
	"http_listen": "127.0.0.1:8080",
	"tls": {"ca": "/lab/certs/ca.pem", "cert": "/lab/certs/controller.pem",
		"key": "/run/credentials/kilimanjaro-controller.service/controller.key"},
	"users": [{"name": "op", "password_hash": "$hash"}],
	"api_tokens": ["$TOKEN"]
}
EOF_CFG
chmod 600 "$DIR/controller.json"
mkdir -p "$DIR/units/kilimanjaro-controller.service.d"
cp "$src/packaging/kilimanjaro-controller.service" "$DIR/units/"
cat >"$DIR/units/kilimanjaro-controller.service.d/lab.conf" <<'EOF_DROPIN'
[Service]
LoadCredential=
LoadCredential=controller.json:/lab/controller.json
LoadCredential=controller.key:/lab/certs/controller.key
ExecStartPre=
ExecStartPre=/km/controller/kilimanjaro-controller --check-config --config ${CREDENTIALS_DIRECTORY}/controller.json
ExecStart=
ExecStart=/km/controller/kilimanjaro-controller --config ${CREDENTIALS_DIRECTORY}/controller.json
EOF_DROPIN

cat >"$DIR/driver.sh" <<EOF_DRV
#!/bin/bash
unit=kilimanjaro-controller.service
exec >/lab/driver.log 2>&1
fail() {
	echo "FAIL: \$*"
	journalctl --no-pager -o cat -u \$unit
	echo FAIL >/lab/result
	systemctl poweroff
	exit 1
}
step() { echo "== \$*"; }
prop() { systemctl show -P "\$1" \$unit; }
until_true() {
	local i
	for ((i = 0; i < \$1 * 5; i++)); do "\${@:2}" && return 0; sleep 0.2; done
	return 1
}
api() { curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "\$@"; }
api_up() { api http://127.0.0.1:8080/api/state >/dev/null; }
restarted() { [ "\$(prop NRestarts)" = 1 ] && [ "\$(prop ActiveState)" = active ]; }

cp -r /lab/units/. /etc/systemd/system/
systemctl daemon-reload
step "start"
systemctl start \$unit || fail "start"
until_true 10 api_up || fail "the API does not answer"
[ "\$(stat -c %U /proc/\$(prop MainPID))" != root ] || fail "runs as root"
step "a change through the API"
api -X POST -d '{"prefix":"198.18.4.0/24"}' http://127.0.0.1:8080/api/deny >/dev/null ||
	fail "POST /api/deny"
step "SIGKILL: restarted, the change kept"
pid=\$(prop MainPID)
kill -KILL "\$pid"
until_true 10 restarted || fail "no restart (\$(prop NRestarts), \$(prop ActiveState))"
until_true 10 api_up || fail "the API does not answer after the restart"
api http://127.0.0.1:8080/api/state | grep -q '"198.18.4.0/24"' ||
	fail "the deny was lost: \$(api http://127.0.0.1:8080/api/state)"
step "stop"
systemctl stop \$unit || fail "stop"
[ "\$(prop ActiveState)" = inactive ] || fail "not inactive after stop"
journalctl --no-pager -o cat -u \$unit
echo PASS >/lab/result
systemctl poweroff
EOF_DRV
chmod +x "$DIR/driver.sh"
printf '[Unit]\nAfter=multi-user.target\n[Service]\nType=oneshot\nExecStart=/lab/driver.sh\n' \
	>"$DIR/lab-driver.service"

timeout 120 systemd-nspawn --quiet --register=no --keep-unit -D / \
	--volatile=yes --network-namespace-path="/run/netns/$NS" \
	--bind="$DIR:/lab" --bind-ro="$KM_BUILD_DIR:/km" \
	--bind-ro="$DIR/lab-driver.service:/etc/systemd/system/lab-driver.service" \
	--boot systemd.firstboot=off systemd.wants=lab-driver.service \
	>"$DIR/container.log" 2>&1 &
cpid=$!
for _ in $(seq 600); do [[ -e $DIR/result ]] && break; sleep 0.2; done
[[ -e $DIR/result ]] || fail "the container gave no verdict: $(tail -n 20 "$DIR/container.log")"
grep '^==' "$DIR/driver.log" | while read -r line; do log "container: $line"; done
[[ $(cat "$DIR/result") == PASS ]] || fail "the unit test failed in the container"
log "ok: kilimanjaro-controller.service: dynamic user, credentials, ExecStartPre check, SIGKILL restart with the state kept, stop"
