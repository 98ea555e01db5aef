#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The dashboard in a real headless browser against a real controller, in a
# network namespace of its own (its loopback only):
#   kilimanjaro-controller (TLS listener,
#   SQLite in a temporary directory, one user, one API token), two simulated
#   edges (tests/ctl's km-ctl-load over mutual TLS: Hello, Acks, a stats
#   snapshot every second), and
#   tests/web/dashboard.js driving Debian's chromium through playwright-core:
#   anonymous reads and writes refused, login, both edges connected with
#   their charts, a deny added through the form listed in /api/state, an
#   invalid prefix refused with the API's reason, the deny removed with its
#   button and added again, a service added and removed through its form
#   (port 0 refused), the A2S key rotated with its button, logout.
# Then, with the API token: the changes reached both edges (each acknowledged
# the new version).
#
# Needs: KM_BUILD_DIR; root (namespace); packaging/install-deps (chromium,
# tests/web/node_modules).
set -uo pipefail

here=$(dirname "$(readlink -f "$0")")
repo=$(readlink -f "$here/../..")
KM_BUILD_DIR=${KM_BUILD_DIR:?KM_BUILD_DIR must name the meson build directory}
ctl=$KM_BUILD_DIR/controller/kilimanjaro-controller
sim=$KM_BUILD_DIR/tests/ctl/km-ctl-load
prefix=${KMW_PREFIX:-kmw-$$}
ns=$prefix
dir=
pids=()
failed=0

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
fail() {
	log "FAIL: $*"
	failed=1
	exit 1
}

cleanup() {
	local rc=$? pid i
	trap - EXIT INT TERM
	((rc)) && failed=1
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${pids[@]}"; do
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	ip netns del "$ns" 2>/dev/null
	if [[ -n $dir ]]; then
		if ((failed)); then
			for f in "$dir"/*.log; do
				[[ -s $f ]] || continue
				echo "---- $(basename "$f")" >&2
				tail -n 30 "$f" >&2
			done
		fi
		rm -rf "$dir"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for f in "$ctl" "$sim"; do
	[[ -x $f ]] || fail "$f is missing: build first (ninja -C $KM_BUILD_DIR)"
done
[[ -x /usr/bin/chromium ]] || fail "/usr/bin/chromium is missing: run packaging/install-deps"
[[ -f $here/node_modules/playwright-core/package.json ]] ||
	fail "playwright-core is missing in tests/web: run packaging/install-deps"

dir=$(mktemp -d "/tmp/$prefix.XXXXXX") || fail "mktemp"
ip netns add "$ns" || fail "ip netns add $ns"
ip -n "$ns" link set lo up
in_ns() { nsenter --net="/run/netns/$ns" -- "$@"; }

"$repo/tests/lib/gen-certs.sh" "$dir/pki" || fail "gen-certs.sh"
password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
hash=$(printf '%s\n' "$password" | "$ctl" --hash-password 2>"$dir/hash.log") ||
	fail "kilimanjaro-controller --hash-password: $(cat "$dir/hash.log")"
[[ -n $hash ]] || fail "kilimanjaro-controller --hash-password printed nothing"

cat >"$dir/controller.json" <<EOF
{
	"agents_listen": "127.0.0.1:7443",
	"http_listen": "127.0.0.1:8080",
	"tls": { "ca": "$dir/pki/ca.pem", "cert": "$dir/pki/controller.pem",
		 "key": "$dir/pki/controller.key" },
	"db": "$dir/state.db",
	"web_root": "$repo/controller/web",
	"users": [ { "name": "admin", "password_hash": "$hash" } ],
	"api_tokens": [ "$token" ]
}
EOF

setsid nsenter --net="/run/netns/$ns" -- "$ctl" --config "$dir/controller.json" \
	>"$dir/controller.log" 2>&1 &
pids+=($!)
api() { # METHOD PATH [BODY]
	in_ns curl -sS --max-time 5 -X "$1" -H "Authorization: Bearer $token" \
		-H 'Content-Type: application/json' ${3:+--data "$3"} \
		"http://127.0.0.1:8080/api$2"
}
deadline=$((SECONDS + 15))
until api GET /state >/dev/null 2>&1; do
	kill -0 "${pids[0]}" 2>/dev/null || fail "the controller exited"
	((SECONDS < deadline)) || fail "the controller's API did not answer within 15 s"
	sleep 0.1
done
log "controller up"

setsid nsenter --net="/run/netns/$ns" -- "$sim" --connect 127.0.0.1:7443 \
	--ca "$dir/pki/ca.pem" --ca-key "$dir/pki/ca.key" --agents 2 \
	--punches 1 --id-prefix web- --stats-ms 1000 --timeout 150 --hold 150 \
	>"$dir/km-ctl-load.log" 2>&1 &
pids+=($!)
connected() {
	api GET /edges | jq -e '[.edges[] | select(.connected and (.id | startswith("web-")))] | length == 2' >/dev/null
}
deadline=$((SECONDS + 15))
until connected; do
	kill -0 "${pids[1]}" 2>/dev/null || fail "the simulated edges exited"
	((SECONDS < deadline)) || fail "the simulated edges did not connect: $(api GET /edges)"
	sleep 0.1
done
log "ok: two simulated edges connected"

deny=198.18.44.0/24
in_ns timeout 90 node "$here/dashboard.js" --url http://127.0.0.1:8080 \
	--user admin --password "$password" --deny "$deny" \
	--edge web-0 --edge web-1 --remove yes \
	--service 198.18.10.3:27017:198.18.2.2 --rotate yes || fail "dashboard checks"

# Every change made through the page reached both edges.
version=$(api GET /state | jq -r .version)
deadline=$((SECONDS + 5))
until api GET /edges | jq -e --argjson v "$version" \
	'[.edges[] | select((.id | startswith("web-")) and .acked_version == $v)] | length == 2' >/dev/null; do
	((SECONDS < deadline)) || fail "not every edge acknowledged version $version: $(api GET /edges)"
	sleep 0.1
done
log "ok: both edges acknowledged version $version (every change made through the page)"
echo "dashboard test: passed"
