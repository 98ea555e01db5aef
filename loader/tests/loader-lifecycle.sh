#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# kilimanjaro-loader lifecycle, for real (root): a network namespace with a
# veth pair, native and skb attach, hitless restart (same link, new program,
# maps kept), SIGHUP reload (invalid refused, valid applied, a half-way
# failure rolled back with its systemd status), SIGTERM and
# SIGKILL leave forwarding attached, --detach removes everything, a foreign
# XDP program and a second loader are refused.
#
# Usage: loader-lifecycle.sh <kilimanjaro-loader> [<example config> [<kilimanjaro.bpf.o>]]
# Everything it creates (netns kmb3-lc-<pid>, pins /sys/fs/bpf/kmb3-lc-<pid>,
# temp files, loader processes) is removed on exit, also on failure.
set -u

LOADER=$(realpath "${1:?usage: $0 <kilimanjaro-loader> [example.json]}")
EXAMPLE=${2:-}
OBJECT=${3:-}
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
for t in ip bpftool nsenter python3 ethtool; do
	command -v $t >/dev/null || { echo "SKIP: $t missing"; exit 77; }
done

# KM_TEST_PREFIX: another prefix for names and pins (parallel runs).
NS=${KM_TEST_PREFIX:-kmb3}-lc-$$
PIN=/sys/fs/bpf/$NS
TMP=$(mktemp -d /tmp/kmb3-lc.XXXXXX)
CFG=$TMP/kilimanjaro.json
LOG=$TMP/loader.log
LPID=
NPID=
FAILS=0

cleanup() {
	[ -n "$LPID" ] && kill -KILL "$LPID" 2>/dev/null && wait "$LPID" 2>/dev/null
	[ -n "$NPID" ] && kill "$NPID" 2>/dev/null && wait "$NPID" 2>/dev/null
	if [ -e "$PIN" ]; then
		[ -e "$PIN/km_link" ] && innet "$LOADER" --pin-root "$PIN" \
			--interface kmb3a --detach >/dev/null 2>&1
		rm -rf "$PIN"
	fi
	ip netns del "$NS" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

innet() { nsenter --net=/run/netns/"$NS" "$@"; }
pass() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; FAILS=$((FAILS + 1)); }
check() { # check "what" command...
	local what=$1; shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
link_field() { bpftool -j link show pinned "$PIN/km_link" 2>/dev/null | json "d['$1']"; }
map_id() { bpftool -j map show pinned "$PIN/$1" | json "d['id']"; }
map_len() { bpftool -j map dump pinned "$PIN/$1" | json "len(d)"; }
xdp_word() { ip -n "$NS" -d link show kmb3a | grep -o -E '\bxdp(generic)?\b' | head -1; }
logged() { grep -q -- "$1" "$LOG"; }
active_deny() {
	local a
	a=$(bpftool -j map dump pinned "$PIN/km_config" | json "d[0]['formatted']['value']['active_lists']")
	[ "$a" = 1 ] && echo km_deny_b || echo km_deny_a
}

write_config() { # deny list as JSON
	cat >"$CFG" <<-EOF
	// lifecycle test config
	{
		"interface": "kmb3a",
		"edge_addresses": ["198.18.0.2"],
		"services": [ { "name": "s1", "protocol": "udp",
				"address": "198.18.10.1", "port": 27015,
				"backend": "198.19.0.10" } ],
		"allow": ["198.18.1.0/24"],
		"deny": $1,
		"blocks": [ { "address": "198.18.5.5", "seconds": 600 } ]
	}
	EOF
}

start_loader() { # extra args...; waits for "running on"
	: >"$LOG"
	# Not through innet(): `func &` would fork a subshell and $! would
	# not be the loader. nsenter execs the loader, so $! is its pid.
	nsenter --net=/run/netns/"$NS" "$LOADER" --config "$CFG" \
		--pin-root "$PIN" "$@" >>"$LOG" 2>&1 &
	LPID=$!
	for _ in $(seq 50); do
		logged "running on" && return 0
		kill -0 "$LPID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$LOG"
	return 1
}

stop_loader() { # signal; sets RC
	kill -"$1" "$LPID"
	wait "$LPID" 2>/dev/null
	RC=$?
	LPID=
}

ip netns add "$NS" || exit 1
ip -n "$NS" link add kmb3a type veth peer name kmb3b || exit 1
ip -n "$NS" link set kmb3a up && ip -n "$NS" link set kmb3b up
# Native XDP on veth delivers XDP_TX/redirected frames only when the peer
# has GRO on (or an XDP program).
innet ethtool -K kmb3b gro on >/dev/null
write_config '["198.18.2.0/24"]'

# --- validation touches nothing ---------------------------------------
if [ -n "$EXAMPLE" ]; then
	check "--check-config accepts the example config" \
		"$LOADER" --check-config --config "$EXAMPLE"
fi
echo '{ "edge_addresses": ["198.18.0.2"], "services": [ { "protocol": "udp", "address": "198.18.10.1", "port": 70000, "backend": "198.19.0.10" } ] }' >"$TMP/bad.json"
out=$("$LOADER" --check-config --config "$TMP/bad.json" 2>&1); rc=$?
check "--check-config rejects a bad config (exit 1)" [ $rc = 1 ]
check "the error names file, field and reason" \
	grep -q "$TMP/bad.json: services\[0\].port: 70000 is out of range 1..65535" <<<"$out"
innet "$LOADER" --config "$TMP/bad.json" --pin-root "$PIN" -i kmb3a >/dev/null 2>&1
check "an invalid config at start exits 1" [ $? = 1 ]
check "... and creates no pins" [ ! -e "$PIN" ]
check "... and attaches nothing" [ -z "$(xdp_word)" ]

# --- first start, native ----------------------------------------------
check "first start (native)" start_loader
check "ip link shows native XDP" [ "$(xdp_word)" = xdp ]
LINK1=$(link_field id); PROG1=$(link_field prog_id)
check "link pinned at $PIN/km_link" [ -n "$LINK1" ]
check "the config is in the maps (1 service)" [ "$(map_len km_services)" = 1 ]
check "forwarding enabled and logged" \
	[ "$(innet cat /proc/sys/net/ipv4/conf/kmb3a/forwarding)" = 1 ]
check "the pin root is mode 0700" [ "$(stat -c %a "$PIN")" = 700 ]

out=$(innet "$LOADER" --config "$CFG" --pin-root "$PIN" 2>&1)
check "a second loader on the same pin root is refused" \
	grep -q "another kilimanjaro-loader is running" <<<"$out"

# Learned-like state the loader must not touch: a port punch.
bpftool map update pinned "$PIN/km_punches" \
	key hex 11 00 00 00 c6 12 0a 01 c6 12 03 03 69 87 30 39 \
	value hex c6 13 00 0a 04 00 00 00 00 00 00 00 00 00 00 00
SVC_MAP=$(map_id km_services)

# --- SIGHUP ---------------------------------------------------------------
cp "$CFG" "$TMP/good.json"
echo '{ "edge_addresses": [] }' >"$CFG"
kill -HUP "$LPID"; sleep 0.5
check "SIGHUP with an invalid file: refused, every error logged" \
	logged "edge_addresses: is empty"
check "... and the loader keeps running" kill -0 "$LPID"
check "... and the maps are unchanged (1 deny)" \
	[ $(( $(map_len km_deny_a) + $(map_len km_deny_b) )) = 1 ]
# An operator's CLI entry (origin 2) in the active deny list: a reload
# of the file must keep it.
bpftool map update pinned "$PIN/$(active_deny)" \
	key hex 18 00 00 00 c6 12 09 00 value hex 02 00 00 00 00 00 00 00
write_config '["198.18.2.0/24", "198.18.3.0/24"]'
kill -HUP "$LPID"; sleep 0.5
check "SIGHUP with a valid file: applied and summarised" \
	logged "reloaded $CFG: 1 services, 1 allow, 2 deny"
check "... the active deny list is the file's 2 prefixes + the CLI's 1" \
	[ "$(map_len "$(active_deny)")" = 3 ]
check "... the other pair was cleared" \
	[ $(( $(map_len km_deny_a) + $(map_len km_deny_b) )) = 3 ]
check "... the CLI entry kept its origin" \
	[ "$(bpftool -j map lookup pinned "$PIN/$(active_deny)" key hex 18 00 00 00 c6 12 09 00 | json "d['formatted']['value']['origin']")" = 2 ]

# --- SIGTERM leaves forwarding, restart is hitless ---------------------------
stop_loader TERM
check "SIGTERM exits 0" [ "$RC" = 0 ]
check "... the link stays attached" [ "$(link_field prog_id)" = "$PROG1" ]
check "... ip link still shows XDP" [ "$(xdp_word)" = xdp ]
check "restart" start_loader
check "restart logs the in-place replacement" logged "replaced program $PROG1 by"
check "restart keeps the link id" [ "$(link_field id)" = "$LINK1" ]
PROG2=$(link_field prog_id)
check "restart runs a new program ($PROG1 -> $PROG2)" [ "$PROG2" != "$PROG1" ]
check "restart reuses the maps (same km_services id)" \
	[ "$(map_id km_services)" = "$SVC_MAP" ]
check "the port punch survived the restart" [ "$(map_len km_punches)" = 1 ]

# --- SIGKILL ------------------------------------------------------------------
stop_loader KILL
check "SIGKILL leaves the program attached" [ "$(link_field prog_id)" = "$PROG2" ]
check "... and the pins" [ -e "$PIN/km_services" ]
out=$(innet "$LOADER" --config "$CFG" --pin-root "$PIN" --xdp-mode skb 2>&1)
check "a mode change against the pinned link is refused (no silent switch)" \
	grep -q "not in the requested skb mode" <<<"$out"
check "... and that start changed nothing" [ "$(link_field prog_id)" = "$PROG2" ]
cp "$CFG" "$TMP/sized.json"
sed -i 's|"interface": "kmb3a",|"interface": "kmb3a", "map_sizes": { "prefixes": 1024 },|' "$TMP/sized.json"
out=$(innet "$LOADER" --config "$TMP/sized.json" --pin-root "$PIN" 2>&1)
check "map_sizes differing from the pins: refused, naming key and map" \
	grep -q "map_sizes.prefixes: 1024 differs from the pinned km_allow_a (65536 entries)" <<<"$out"

# --- --detach -------------------------------------------------------------------
innet "$LOADER" --pin-root "$PIN" --interface kmb3a --detach >/dev/null 2>&1
check "--detach exits 0" [ $? = 0 ]
check "--detach removes the pin root" [ ! -e "$PIN" ]
check "--detach removes the XDP program" [ -z "$(xdp_word)" ]
check "--detach removes the link" \
	[ -z "$(bpftool -j link show | json "[l for l in d if l.get('prog_id') == $PROG2]" | tr -d '[]')" ]

# --- pins of another layout or ABI -----------------------------------------------
mkdir -m 0700 "$PIN"
bpftool map create "$PIN/km_services" type hash key 8 value 16 entries 4096 name km_services
out=$(innet "$LOADER" --config "$CFG" --pin-root "$PIN" 2>&1)
check "a pinned map of another layout: refused, naming map and sizes" \
	grep -q "pinned map km_services ($PIN/km_services) has key/value size 8/16, this program's 8/12" <<<"$out"
check "... and nothing attached" [ -z "$(xdp_word)" ]
rm -f "$PIN/km_services"
bpftool map create "$PIN/km_config" type array key 4 value 48 entries 1 name km_config
bpftool map update pinned "$PIN/km_config" key hex 00 00 00 00 value hex \
	63 00 00 00 $(printf '00 %.0s' $(seq 44))
out=$(innet "$LOADER" --config "$CFG" --pin-root "$PIN" 2>&1)
ABI=$(sed -n 's/^#define KM_ABI_VERSION \([0-9]*\).*/\1/p' \
	"$(dirname "$0")/../../bpf/kilimanjaro_abi.h")
check "a km_config of another ABI version: refused" \
	grep -q "km_config was written by ABI version 99, this loader is version $ABI" <<<"$out"
rm -rf "$PIN"

# --- skb mode (and --object) ---------------------------------------------------------
check "start in skb mode" start_loader --xdp-mode skb ${OBJECT:+--object "$OBJECT"}
check "ip link shows generic XDP" [ "$(xdp_word)" = xdpgeneric ]
stop_loader TERM
innet "$LOADER" --pin-root "$PIN" --interface kmb3a --detach >/dev/null 2>&1
check "skb attachment detached" [ -z "$(xdp_word)" ]

# --- a foreign XDP program is never replaced -------------------------------------
cat >"$TMP/pass.c" <<'EOF'
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("xdp") int pass(struct xdp_md *ctx) { return XDP_PASS; }
char LICENSE[] SEC("license") = "GPL";
EOF
if clang -O2 -target bpf -I/usr/include/"$(gcc -print-multiarch)" \
	-c "$TMP/pass.c" -o "$TMP/pass.o" 2>/dev/null &&
	ip -n "$NS" link set dev kmb3a xdpgeneric obj "$TMP/pass.o" sec xdp; then
	out=$(innet "$LOADER" --config "$CFG" --pin-root "$PIN" 2>&1); rc=$?
	check "a foreign XDP program: refused (exit 1)" [ $rc = 1 ]
	check "... with a message saying how to remove it" \
		grep -q "already runs an XDP program .* xdpgeneric off" <<<"$out"
	check "... and left in place" [ "$(xdp_word)" = xdpgeneric ]
	check "... and the failed start left no pin root" [ ! -e "$PIN" ]
	ip -n "$NS" link set dev kmb3a xdpgeneric off
else
	fail "could not build/attach the foreign pass program"
fi

# --- native mode where the driver has none: error, no fallback -------------------
out=$(innet "$LOADER" --config "$CFG" --pin-root "$PIN" --interface lo 2>&1); rc=$?
check "native XDP on lo (no driver support): exit 1" [ $rc = 1 ]
check "... saying so, with no silent fallback to skb" \
	grep -q "cannot attach XDP to lo in native mode" <<<"$out"
check "... nothing attached to lo" \
	[ -z "$(ip -n "$NS" -d link show lo | grep -o -E '\bxdp(generic)?\b')" ]
check "... and no pin root left" [ ! -e "$PIN" ]

# --- systemd notification (a fake NOTIFY_SOCKET) ---------------------------
cat >"$TMP/notify.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as f:
    while True:
        f.write(s.recv(4096).decode().replace("\n", " | ") + "\n")
EOF
python3 "$TMP/notify.py" "$TMP/notify.sock" "$TMP/notify.log" &
NPID=$!
for _ in $(seq 30); do [ -S "$TMP/notify.sock" ] && break; sleep 0.1; done
NOTIFY_SOCKET=$TMP/notify.sock WATCHDOG_USEC=200000 start_loader
sleep 1
check "sd_notify: READY=1 with a STATUS line" \
	grep -q "^READY=1 | STATUS=running on kmb3a: 1 services" "$TMP/notify.log"
check "sd_notify: WATCHDOG=1 every WATCHDOG_USEC/2" \
	[ "$(grep -c '^WATCHDOG=1$' "$TMP/notify.log")" -ge 5 ]
# A reload the kernel refuses half-way (km_rl_total frozen: the new
# service's counters cannot be zeroed) is rolled back, and the status says so.
bpftool map freeze pinned "$PIN/km_rl_total"
sed -i 's|"backend": "198.19.0.10" } ],|"backend": "198.19.0.10" }, { "name": "s2", "protocol": "udp", "address": "198.18.10.2", "port": 27015, "backend": "198.19.0.10" } ],|' "$CFG"
kill -HUP "$LPID"
for _ in $(seq 50); do logged "rolled back" && break; sleep 0.1; done
check "a reload failing half-way: rolled back" \
	logged "failed while applying (services: Operation not permitted); rolled back to the running configuration"
check "... the status line says so" \
	grep -q "^STATUS=running on kmb3a: 1 services.*; last reload failed and was rolled back" "$TMP/notify.log"
check "... and the file's new service is not there" [ "$(map_len km_services)" = 1 ]
stop_loader TERM
check "sd_notify: STOPPING=1 on SIGTERM" grep -q "^STOPPING=1" "$TMP/notify.log"
innet "$LOADER" --pin-root "$PIN" --interface kmb3a --detach >/dev/null 2>&1

[ "$FAILS" = 0 ] && { echo "all loader lifecycle checks passed"; exit 0; }
echo "$FAILS loader lifecycle checks failed"
exit 1
