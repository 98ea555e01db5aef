#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The loader's A2S duties with a real loaded program (root): km_a2s_key
# gets a random key at the first start, the key survives a restart, a
# key_file is applied, a changed key_file rotates at a reload (previous key
# kept), a bad key file is refused at --check-config and at a reload, the
# epoch follows the wall clock, km_a2s_cfg follows the services (written,
# switched off, cleared when the service goes), "challenge": "off" warns.
#
# Usage: loader-a2s.sh <kilimanjaro-loader>
# Everything it creates (netns kc-a2s-<pid>, pins /sys/fs/bpf/kc-a2s-<pid>,
# temp files, loader processes) is removed on exit, also on failure.
set -u

LOADER=$(realpath "${1:?usage: $0 <kilimanjaro-loader>}")
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
for t in ip bpftool nsenter python3; do
	command -v $t >/dev/null || { echo "SKIP: $t missing"; exit 77; }
done

# KM_TEST_PREFIX: another prefix for names and pins (parallel runs).
NS=${KM_TEST_PREFIX:-kc}-a2s-$$
PIN=/sys/fs/bpf/$NS
TMP=$(mktemp -d /tmp/kc-a2s.XXXXXX)
CFG=$TMP/kilimanjaro.json
KEY=$TMP/a2s.key
LOG=$TMP/loader.log
LPID=
FAILS=0

cleanup() {
	[ -n "$LPID" ] && kill -KILL "$LPID" 2>/dev/null && wait "$LPID" 2>/dev/null
	if [ -e "$PIN" ]; then
		[ -e "$PIN/km_link" ] && nsenter --net=/run/netns/"$NS" \
			"$LOADER" --pin-root "$PIN" --interface kca --detach \
			>/dev/null 2>&1
		rm -rf "$PIN"
	fi
	ip netns del "$NS" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

pass() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; FAILS=$((FAILS + 1)); }
check() { # check "what" command...
	local what=$1; shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}
logged() { grep -q -- "$1" "$LOG"; }
# The formatted value of index $2 of pinned array $1, field $3.
field() {
	bpftool -j map lookup pinned "$PIN/$1" key $2 0 0 0 2>/dev/null |
		python3 -c "import json,sys; print(json.load(sys.stdin)['formatted']['value']['$3'])"
}
key() { field km_a2s_key 0 "$1"; }
now_epoch() { echo $(( $(date +%s) / $1 )); }

write_config() { # a2s of the service, top-level a2s
	cat >"$CFG" <<-EOF
	{
		"interface": "kca",
		"edge_addresses": ["198.18.0.2"],
		"services": [ { "name": "s1", "protocol": "udp",
				"address": "198.18.10.1", "port": 27015,
				"backend": "198.19.0.10", "a2s": $1 } ],
		"a2s": $2
	}
	EOF
}

start_loader() {
	: >"$LOG"
	nsenter --net=/run/netns/"$NS" "$LOADER" --config "$CFG" \
		--pin-root "$PIN" --xdp-mode skb >>"$LOG" 2>&1 &
	LPID=$!
	for _ in $(seq 50); do
		logged "running on" && return 0
		kill -0 "$LPID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$LOG"
	return 1
}

stop_loader() {
	kill -TERM "$LPID"
	wait "$LPID" 2>/dev/null
	LPID=
}

reload() { # waits for the reload's last line
	local n
	n=$(grep -c -E "reloaded|reload refused|reload of" "$LOG")
	kill -HUP "$LPID"
	for _ in $(seq 50); do
		[ "$(grep -c -E "reloaded|reload refused|reload of" "$LOG")" -gt "$n" ] && return 0
		sleep 0.1
	done
	return 1
}

ip netns add "$NS" || exit 1
ip -n "$NS" link add kca type veth peer name kcb || exit 1
ip -n "$NS" link set kca up && ip -n "$NS" link set kcb up

# --- first start: a random key, the epoch of now -----------------------
write_config '{ "refresh_ms": 500, "max_age_ms": 4000, "timeout_ms": 1000 }' \
	'{ "epoch_s": 1 }'
start_loader || { fail "the loader starts"; exit 1; }
check "first start: a valid key (flags 1, key id 1)" \
	[ "$(key flags)" = 1 -a "$(key key_id)" = 1 ]
K0=$(key k0); K1=$(key k1)
check "the key is not zero" [ "$K0" != 0 -a "$K1" != 0 ]
check "without a rotation the previous key is the current one" \
	[ "$(key prev_k0)" = "$K0" -a "$(key prev_k1)" = "$K1" ]
check "epoch_s is the config's" [ "$(key epoch_s)" = 1 ]
e1=$(key epoch); now=$(now_epoch 1)
check "the epoch is wall-clock seconds / epoch_s ($e1 vs $now)" \
	[ $((now - e1)) -ge 0 -a $((now - e1)) -le 1 ]
check "logged: a random key for this edge" logged "A2S key 1 installed (random, this edge only)"
check "km_a2s_cfg[0]: enabled, challenge required" [ "$(field km_a2s_cfg 0 flags)" = 1 ]
check "km_a2s_cfg[0]: refresh, max_age, timeout in ns" \
	[ "$(field km_a2s_cfg 0 refresh_ns)" = 500000000 -a \
	  "$(field km_a2s_cfg 0 max_age_ns)" = 4000000000 -a \
	  "$(field km_a2s_cfg 0 timeout_ns)" = 1000000000 ]
check "km_services carries KM_SVC_F_A2S" \
	[ "$(bpftool -j map dump pinned "$PIN/km_services" | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['formatted']['value']['flags'])")" = 1 ]

# --- the loop moves the epoch at each boundary -------------------------
sleep 2.2
e2=$(key epoch); now=$(now_epoch 1)
check "the epoch advanced with the clock ($e1 -> $e2, now $now)" \
	[ "$e2" -ge $((e1 + 2)) -a $((now - e2)) -le 1 ]
check "an epoch advance leaves the key alone" \
	[ "$(key k0)" = "$K0" -a "$(key k1)" = "$K1" -a "$(key key_id)" = 1 ]

# --- a restart keeps the key -------------------------------------------
stop_loader
start_loader || fail "restart"
check "restart: the pinned key is kept" \
	[ "$(key k0)" = "$K0" -a "$(key k1)" = "$K1" -a "$(key key_id)" = 1 ]
check "logged: kept" logged "A2S key 1 kept (the pinned map's)"

# --- key_file: rotation at a reload -----------------------------------
(umask 077; printf '0001020304050607 08090a0b0c0d0e0f' >"$KEY")
write_config true "{ \"epoch_s\": 30, \"key_file\": \"$KEY\" }"
out=$("$LOADER" --check-config --config "$CFG" 2>&1); rc=$?
check "--check-config: a bad key file is an error (exit 1)" [ $rc = 1 ]
check "the error names the config, the field and the file" \
	grep -q "$CFG: a2s.key_file: $KEY: byte 17 is not a hex digit" <<<"$out"
(umask 077; printf '000102030405060708090a0b0c0d0e0f\n' >"$KEY")
check "--check-config accepts the fixed key file" \
	bash -c "\"\$0\" --check-config --config \"\$1\" >/dev/null" "$LOADER" "$CFG"
reload || fail "reload"
# k0 = bytes 0..7 little-endian, k1 = bytes 8..15
check "reload: the file's key is current" \
	[ "$(key k0)" = $((0x0706050403020100)) -a "$(key k1)" = $((0x0f0e0d0c0b0a0908)) ]
check "reload: the old key is the previous one, key id 2" \
	[ "$(key prev_k0)" = "$K0" -a "$(key prev_k1)" = "$K1" -a "$(key key_id)" = 2 ]
check "reload: epoch_s 30 and its epoch" \
	[ "$(key epoch_s)" = 30 -a "$(key epoch)" -ge $(( $(now_epoch 30) - 1 )) ]
check "logged: rotated" logged "A2S key rotated to key 2 from $KEY (key 1 still accepted)"
check "km_a2s_cfg[0]: the defaults of \"a2s\": true" \
	[ "$(field km_a2s_cfg 0 refresh_ns)" = 1000000000 -a \
	  "$(field km_a2s_cfg 0 max_age_ns)" = 10000000000 -a \
	  "$(field km_a2s_cfg 0 timeout_ns)" = 5000000000 ]
reload || fail "reload"
check "the same file again: kept, key id 2" \
	[ "$(key key_id)" = 2 -a "$(key prev_k0)" = "$K0" ]

# --- a key file readable by others is refused at a reload --------------
(umask 077; printf '101112131415161718191a1b1c1d1e1f' >"$KEY")
chmod 0644 "$KEY"
reload || fail "reload"
check "reload refused" logged "reload refused"
check "the refusal names the mode" logged "a2s.key_file: $KEY: mode 0644 is wider than 0600"
check "the key is unchanged" [ "$(key k0)" = $((0x0706050403020100)) -a "$(key key_id)" = 2 ]
chmod 0600 "$KEY"

# --- a restart over pins with another key rotates to the file ----------
stop_loader
start_loader || fail "restart with the new key file"
check "restart with a changed file: rotated, key id 3" \
	[ "$(key key_id)" = 3 -a "$(key k0)" = $((0x1716151413121110)) -a \
	  "$(key prev_k0)" = $((0x0706050403020100)) ]

# --- challenge off warns; a2s off and a removed service clear km_a2s_cfg
write_config '{ "challenge": "off" }' "{ \"key_file\": \"$KEY\" }"
reload || fail "reload"
check "challenge off: flags enabled|no_challenge" [ "$(field km_a2s_cfg 0 flags)" = 3 ]
check "challenge off: a warning names the service and the danger" \
	logged "service s1 (udp 198.18.10.1:27015): a2s.challenge is \"off\": cached A2S answers go to unproven, spoofable sources (a reflection amplifier)"
write_config false "{ \"key_file\": \"$KEY\" }"
reload || fail "reload"
check "a2s false: km_a2s_cfg[0] is zero" \
	[ "$(field km_a2s_cfg 0 flags)" = 0 -a "$(field km_a2s_cfg 0 refresh_ns)" = 0 ]
write_config true "{ \"key_file\": \"$KEY\" }"
reload || fail "reload"
check "a2s back on" [ "$(field km_a2s_cfg 0 flags)" = 1 ]
sed -i 's/"services": \[.*/"services": [],/; /"address": "198.18.10.1"/d; /"backend": "198.19.0.10"/d' "$CFG"
reload || fail "reload"
check "the service is gone" logged "reloaded $CFG: 0 services"
check "its km_a2s_cfg entry is cleared" \
	[ "$(field km_a2s_cfg 0 flags)" = 0 -a "$(field km_a2s_cfg 0 timeout_ns)" = 0 ]
stop_loader

[ "$FAILS" = 0 ] && { echo "all loader A2S checks passed"; exit 0; }
echo "$FAILS loader A2S checks failed"
exit 1
