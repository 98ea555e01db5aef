#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The real `kilimanjaro` binary against maps of the real XDP object, pinned
# by km_fixture under /sys/fs/bpf/kmb4-<pid>. What the CLI did is checked
# through km_fixture (a second path to the maps) and its --json output.
# One case attaches to a veth inside a network namespace of its own.
# Usage: cli_test.sh KILIMANJARO KM_FIXTURE   (root; needs jq)
set -u

K=$1
F=$2
D=/sys/fs/bpf/kmb4-$$
D2=/sys/fs/bpf/kmb4-$$-attached
NS=kmb4-$$
TMP=$(mktemp -d /tmp/kmb4-cli.XXXXXX)
passed=0

cleanup() {
	rm -rf "$D" "$D2" "$TMP"
	ip netns del "$NS" 2>/dev/null
	return 0
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*"
	[ -s "$TMP/out" ] && sed 's/^/  stdout: /' "$TMP/out" | head -20
	[ -s "$TMP/err" ] && sed 's/^/  stderr: /' "$TMP/err" | head -20
	exit 1
}

command -v jq >/dev/null || fail "jq is not installed (packaging/install-deps)"
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf || fail "no bpffs"

# run CMD...: stdout in $TMP/out, stderr in $TMP/err, exit status in $rc.
run() {
	"$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
}

kj() { run "$K" --pin-root "$D" "$@"; }

# ok WHAT CMD...: exit 0 and nothing on stderr.
ok() {
	local what=$1
	shift
	run "$@"
	[ "$rc" = 0 ] || fail "$what: exit $rc"
	[ -s "$TMP/err" ] && fail "$what: unexpected stderr"
	passed=$((passed + 1))
}

# err WHAT RC REGEX CMD...: exit RC and exactly one stderr line matching.
err() {
	local what=$1 want=$2 re=$3
	shift 3
	run "$@"
	[ "$rc" = "$want" ] || fail "$what: exit $rc, want $want"
	[ "$(wc -l <"$TMP/err")" = 1 ] || fail "$what: want one stderr line"
	grep -qE -- "$re" "$TMP/err" || fail "$what: stderr does not match /$re/"
	passed=$((passed + 1))
}

# is WHAT GOT WANT
is() {
	[ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
	passed=$((passed + 1))
}

# is_epoch NAME VALUE T0: VALUE is the 30 s epoch of some second between
# T0 (taken before the command) and now, so a command that straddles an
# epoch boundary passes either way.
is_epoch() {
	local lo=$(($3 / 30)) hi=$(($(date +%s) / 30))
	[ "$2" -ge "$lo" ] && [ "$2" -le "$hi" ] ||
		fail "$1: got '$2', want an epoch in $lo..$hi"
	passed=$((passed + 1))
}

jqo() { jq -r "$1" "$TMP/out"; }
dump() { "$F" dump "$D" "$1" | sort; }
# Every list edit flips the pair (docs/design.md "Lists"): the active pair's
# letter, and the other one.
act() { "$F" dump "$D" km_config | grep -q "active_lists=1" && echo b || echo a; }
ina() { [ "$(act)" = a ] && echo b || echo a; }

"$F" load "$D" || fail "km_fixture load"
ncpus=$(nproc --all)

# ---- services and the derived maps ----
ok "services add" "$K" --pin-root "$D" services add udp 198.18.10.1:27015 \
	backend 198.18.2.2:27016 --pps 100 --total-pps 5000 --block-s 2.5
grep -q "added udp 198.18.10.1:27015 -> 198.18.2.2:27016 (id 0)" "$TMP/out" ||
	fail "services add output"
ok "services list --json" "$K" --pin-root "$D" --json services
is "one service" "$(jqo '.services | length')" 1
is "origin" "$(jqo '.services[0].origin')" cli
is "port" "$(jqo '.services[0].port')" 27015
is "backend port" "$(jqo '.services[0].backend_port')" 27016
is "pps" "$(jqo '.services[0].limits.unvalidated.pps')" 100
is "default burst" "$(jqo '.services[0].limits.unvalidated.burst_packets')" 100
is "block" "$(jqo '.services[0].limits.unvalidated.block_s')" 2.5
is "total per cpu" "$(jqo '.services[0].limits.total_per_cpu.pps')" \
	$(((5000 + ncpus - 1) / ncpus))
ok "second service" "$K" --pin-root "$D" services add udp 198.18.10.1:27016 \
	backend 198.18.2.3
"$F" service "$D" config udp 198.18.10.2 27015 198.18.2.2 || fail "fixture service"
is "svc_addrs" "$(dump km_svc_addrs)" "198.18.10.1 icmp_id=0 services=2
198.18.10.2 icmp_id=2 services=1"
is "backends" "$(dump km_backends)" "198.18.2.2 2
198.18.2.3 1"
is "backend_svc" "$(dump km_backend_svc)" "198.18.2.2 198.18.10.1 1
198.18.2.2 198.18.10.2 1
198.18.2.3 198.18.10.1 1"
err "add over config" 1 "already installed by config" \
	"$K" --pin-root "$D" services add udp 198.18.10.2:27015 backend 198.18.2.9
err "del config entry" 1 "belongs to config; use --force" \
	"$K" --pin-root "$D" services del udp 198.18.10.2:27015
ok "del --force" "$K" --pin-root "$D" services del udp 198.18.10.2:27015 --force
ok "del own" "$K" --pin-root "$D" services del udp 198.18.10.1:27015
is "svc_addrs after del" "$(dump km_svc_addrs)" "198.18.10.1 icmp_id=1 services=1"
is "backends after del" "$(dump km_backends)" "198.18.2.3 1"
is "backend_svc after del" "$(dump km_backend_svc)" "198.18.2.3 198.18.10.1 1"
err "del missing" 1 "no service udp 198.18.10.1:27015" \
	"$K" --pin-root "$D" services del udp 198.18.10.1:27015
ok "re-add takes the free id" "$K" --pin-root "$D" --json services add \
	tcp 198.18.10.1:27015 backend 198.18.2.2
is "lowest free id" "$(jqo .id)" 0

# ---- allow / deny and the double-buffer flip ----
ok "allow add" "$K" --pin-root "$D" allow add 198.18.0.0/24
ok "allow add address" "$K" --pin-root "$D" allow add 198.18.1.1
ok "deny add" "$K" --pin-root "$D" deny add 198.18.66.0/23
ok "allow list" "$K" --pin-root "$D" allow list --json
is "allow entries" "$(jqo '[.allow[] | "\(.prefix) \(.origin)"] | join(",")')" \
	"198.18.0.0/24 cli,198.18.1.1/32 cli"
was=$(act)
"$F" prefixes "$D" config allow 198.18.4.0/24 deny 198.18.9.0/24 ||
	fail "fixture prefixes"
is "flipped" "$(ina)" "$was"
is "old pair cleared" "$(dump km_allow_$(ina))$(dump km_deny_$(ina))" ""
ok "allow list after flip" "$K" --pin-root "$D" --json allow
is "cli entries kept" "$(jqo '[.allow[] | "\(.prefix) \(.origin)"] | join(",")')" \
	"198.18.0.0/24 cli,198.18.1.1/32 cli,198.18.4.0/24 config"
ok "deny list after flip" "$K" --pin-root "$D" --json deny
is "deny entries" "$(jqo '[.deny[] | "\(.prefix) \(.origin)"] | join(",")')" \
	"198.18.9.0/24 config,198.18.66.0/23 cli"
err "allow del config" 1 "belongs to config; use --force" \
	"$K" --pin-root "$D" allow del 198.18.4.0/24
err "allow add over config" 1 "already installed by config" \
	"$K" --pin-root "$D" allow add 198.18.4.0/24
ok "allow del --force" "$K" --pin-root "$D" allow del 198.18.4.0/24 --force
ok "deny del" "$K" --pin-root "$D" deny del 198.18.66.0/23
is "deny edited on the active pair" "$(dump km_deny_$(act))" "198.18.9.0/24 config"
err "del covered, not an entry" 1 "198.18.0.0/25 is not in the allow list" \
	"$K" --pin-root "$D" allow del 198.18.0.0/25
"$F" prefixes "$D" config || fail "fixture prefixes (empty)"
is "cli entries survive a second flip" "$(dump km_allow_$(act))" "198.18.0.0/24 cli
198.18.1.1/32 cli"
is "config deny gone" "$(dump km_deny_$(act))" ""

# ---- blocks ----
ok "blocks add" "$K" --pin-root "$D" blocks add 198.18.5.5 --seconds 60
ok "blocks list" "$K" --pin-root "$D" --json blocks
is "block origin" "$(jqo '.blocks[0].origin')" cli
is "block remaining" "$(jqo '.blocks[0].remaining_s > 55 and .blocks[0].remaining_s <= 60')" true
"$F" block "$D" config 198.18.5.6 60 || fail "fixture block"
err "blocks del config" 1 "belongs to config; use --force" \
	"$K" --pin-root "$D" blocks del 198.18.5.6
ok "blocks del --force" "$K" --pin-root "$D" blocks del --force 198.18.5.6
ok "blocks del" "$K" --pin-root "$D" blocks del 198.18.5.5
err "blocks del missing" 1 "198.18.5.5 is not blocked" \
	"$K" --pin-root "$D" blocks del 198.18.5.5
err "blocks bad seconds" 2 "--seconds wants a number" \
	"$K" --pin-root "$D" blocks add 198.18.5.5 --seconds soon

# ---- punches ----
ok "punches add" "$K" --pin-root "$D" punches add udp 198.18.10.1:40000 \
	198.18.7.7:5000 backend 198.18.2.2
ok "punches list" "$K" --pin-root "$D" --json punches
is "punch" "$(jqo '.punches[0] | "\(.proto) \(.service_address):\(.service_port) \(.remote_address):\(.remote_port) \(.backend) \(.origin)"')" \
	"udp 198.18.10.1:40000 198.18.7.7:5000 198.18.2.2 cli"
"$F" punch "$D" learned udp 198.18.10.1 40001 198.18.7.8 5000 198.18.2.2 ||
	fail "fixture punch"
err "punches del learned" 1 "belongs to learned; use --force" \
	"$K" --pin-root "$D" punches del udp 198.18.10.1:40001 198.18.7.8:5000
ok "punches del --force" "$K" --pin-root "$D" punches del udp \
	198.18.10.1:40001 198.18.7.8:5000 --force
ok "punches del" "$K" --pin-root "$D" punches del udp 198.18.10.1:40000 \
	198.18.7.7:5000
ok "punches empty" "$K" --pin-root "$D" --json punches
is "no punches" "$(jqo '.punches | length')" 0

# ---- status ----
"$F" stat "$D" 4 10 1000 || fail "fixture stat" # KM_R_FWD_SERVICE
ok "status --json" "$K" --pin-root "$D" status --json
is "fwd_service packets" "$(jqo .verdicts.fwd_service.packets)" $((10 * ncpus))
is "not attached" "$(jqo .link.attached)" false
is "services fill" "$(jqo .maps.km_services.entries)" 2
is "allow fill" "$(jqo ".maps.km_allow_$(act).entries")" 2
ok "status" "$K" --pin-root "$D" status
grep -q "attached   no (no km_link pin)" "$TMP/out" || fail "status: attached line"
grep -qE "fwd_service +$((10 * ncpus)) " "$TMP/out" || fail "status: verdict row"
# --watch until SIGINT, with traffic arriving meanwhile.
(for i in 1 2 3 4 5 6; do sleep 0.25; "$F" stat "$D" 4 100 64000; done) &
run timeout --preserve-status -s INT 2 "$K" --pin-root "$D" status --watch 0.4
wait
is "watch exit" "$rc" 0
grep -qE "^fwd_service +[0-9.]+k? +[0-9.]+[kM]? " "$TMP/out" ||
	fail "watch: no fwd_service rate row"
grep -q "drop_denied" "$TMP/out" && fail "watch: zero rows must be hidden"
(for i in 1 2 3 4 5 6; do sleep 0.25; "$F" stat "$D" 4 100 64000; done) &
run timeout --preserve-status -s INT 2 "$K" --pin-root "$D" --json status --watch 0.4
wait
is "watch --json exit" "$rc" 0
[ "$(jq -s '[.[] | select(.verdicts.fwd_service.pps > 0)] | length' \
	"$TMP/out")" -gt 0 ] || fail "watch --json: no fwd_service rate"

# ---- A2S: services add --a2s, a2s list, a2s key ----
ok "services add --a2s" "$K" --pin-root "$D" services add udp \
	198.18.20.1:27015 backend 198.18.2.5 --a2s --a2s-refresh-ms 500 \
	--a2s-max-age-ms 4000 --a2s-timeout-ms 1000
grep -qE "added udp 198.18.20.1:27015 -> 198.18.2.5 \(id [0-9]+\), A2S cached$" \
	"$TMP/out" || fail "services add --a2s output"
ok "services --json" "$K" --pin-root "$D" --json services
A=$(jqo '.services[] | select(.address == "198.18.20.1") | .id')
is "a2s flag in the list" \
	"$(jqo ".services[] | select(.id == $A) | .a2s")" true
is "a2s challenge in the list" \
	"$(jqo ".services[] | select(.id == $A) | .a2s_challenge")" required
is "a2s off elsewhere" \
	"$(jqo '[.services[] | select(.address != "198.18.20.1") | .a2s_challenge] | unique | .[0]')" null
is "km_a2s_cfg written" "$("$F" dump "$D" km_a2s_cfg | grep "^id=$A ")" \
	"id=$A flags=1 refresh_ms=500 max_age_ms=4000 timeout_ms=1000 svc_flags=1"
ok "services list" "$K" --pin-root "$D" services
grep -qE "^$A +udp 198.18.20.1:27015 +198.18.2.5 +cli +on " "$TMP/out" ||
	fail "services list: A2S column"
run "$K" --pin-root "$D" services add udp 198.18.20.1:27016 backend \
	198.18.2.5:27016 --a2s --a2s-challenge off
is "challenge off: added" "$rc" 0
grep -q "A2S cached WITHOUT challenges" "$TMP/out" || fail "challenge off: output"
is "challenge off: one warning line" "$(wc -l <"$TMP/err")" 1
grep -q "udp 198.18.20.1:27016: --a2s-challenge off: cached answers go to unproven, spoofable sources (a reflection amplifier)" \
	"$TMP/err" || fail "challenge off: warning text"
B=$("$F" dump "$D" km_a2s_cfg | grep "flags=3 " | sed 's/^id=\([0-9]*\) .*/\1/')
is "challenge off: flags 3, defaults" "$("$F" dump "$D" km_a2s_cfg | grep "^id=$B ")" \
	"id=$B flags=3 refresh_ms=1000 max_age_ms=10000 timeout_ms=5000 svc_flags=1"

ok "a2s --json, nothing cached" "$K" --pin-root "$D" --json a2s
is "two A2S services" "$(jqo '.a2s | length')" 2
is "empty cache" "$(jqo ".a2s[] | select(.id == $A) | .cache.state")" empty
is "no age" "$(jqo ".a2s[] | select(.id == $A) | .cache.age_ms")" null
is "policy" "$(jqo ".a2s[] | select(.id == $A) | [.refresh_ms, .max_age_ms, .timeout_ms, .challenge] | join(\" \")")" \
	"500 4000 1000 required"
is "policy off" "$(jqo ".a2s[] | select(.id == $B) | .challenge")" off
"$F" a2sentry "$D" "$A" udp 198.18.20.1 27015 100 142 1 2 || fail "fixture a2sentry"
"$F" a2sstat "$D" "$A" 3 || fail "fixture a2sstat"
"$F" a2swstat "$D" "$A" 2 || fail "fixture a2swstat"
ok "a2s --json" "$K" --pin-root "$D" --json a2s list
is "fresh" "$(jqo ".a2s[] | select(.id == $A) | .cache.state")" fresh
is "size" "$(jqo ".a2s[] | select(.id == $A) | .cache.size")" 142
age=$(jqo ".a2s[] | select(.id == $A) | .cache.age_ms")
[ "$age" -ge 100 ] && [ "$age" -lt 500 ] || fail "age $age ms"
# km_a2s_stat field i holds 3*(i+1) per CPU; km_a2s_wstat 2*(i+1).
is "xdp counters summed over cpus" \
	"$(jqo ".a2s[] | select(.id == $A) | .xdp | [.requests, .challenges, .bad_challenges, .cached, .stale, .to_worker, .forwarded, .ingested] | join(\" \")")" \
	"$((3 * ncpus)) $((6 * ncpus)) $((9 * ncpus)) $((12 * ncpus)) $((15 * ncpus)) $((18 * ncpus)) $((21 * ncpus)) $((24 * ncpus))"
is "worker counters" \
	"$(jqo ".a2s[] | select(.id == $A) | .worker | [.refreshes, .ingested, .served, .served_frames, .pending_dropped, .server_down, .bad_answers] | join(\" \")")" \
	"2 4 6 8 10 12 14"
"$F" a2sentry "$D" "$A" udp 198.18.20.1 27015 700 142 1 2 || fail "fixture a2sentry"
ok "a2s" "$K" --pin-root "$D" a2s
grep -qE "^$A +udp 198.18.20.1:27015 +198.18.2.5 +0.5s/4.0s/1.0s challenge +stale +0.[78]s +142B" \
	"$TMP/out" || fail "a2s: stale row"
grep -qE "^ +xdp: +challenges $((6 * ncpus)) +cached $((12 * ncpus)) +stale $((15 * ncpus)) +forwarded $((21 * ncpus)) +to_worker $((18 * ncpus)) +bad_challenges $((9 * ncpus)) +ingested $((24 * ncpus))$" \
	"$TMP/out" || fail "a2s: xdp row"
grep -qE "^ +worker: +refreshes 2 +ingested 4 +served 6 +pending_dropped 10 +server_down 12$" \
	"$TMP/out" || fail "a2s: worker row"
grep -qE "^$B .* NO-CHALLENGE +empty +- +0B" "$TMP/out" || fail "a2s: open row"
"$F" a2sentry "$D" "$A" udp 198.18.20.1 27015 5000 142 1 2 || fail "fixture a2sentry"
ok "expired" "$K" --pin-root "$D" --json a2s
is "expired" "$(jqo ".a2s[] | select(.id == $A) | .cache.state")" expired
"$F" a2sentry "$D" "$A" udp 198.18.20.1 27015 10 142 3 2 || fail "fixture a2sentry"
ok "down" "$K" --pin-root "$D" --json a2s
is "down" "$(jqo ".a2s[] | select(.id == $A) | .cache.state")" down
"$F" a2sentry "$D" "$A" udp 198.18.20.9 27015 10 142 1 2 || fail "fixture a2sentry"
ok "another service's entry" "$K" --pin-root "$D" --json a2s
is "an entry of another service is not this one's" \
	"$(jqo ".a2s[] | select(.id == $A) | .cache.state")" empty
"$F" a2sentry "$D" "$A" udp 198.18.20.1 27015 10 142 1 3 || fail "fixture a2sentry"
ok "a worker mid-write" "$K" --pin-root "$D" --json a2s
is "a torn entry reads as empty" "$(jqo ".a2s[] | select(.id == $A) | .cache.state")" empty

ok "a2s key, none" "$K" --pin-root "$D" a2s key
grep -q "^no key installed" "$TMP/out" || fail "a2s key: none"
err "a2s rotate without a key" 1 "km_a2s_key: no key installed yet" \
	"$K" --pin-root "$D" a2s rotate
t0=$(date +%s)
"$F" a2skey "$D" install 00112233445566778899aabbccddeeff || fail "fixture a2skey"
ok "a2s key --json" "$K" --pin-root "$D" a2s key --json
is "key valid" "$(jqo .valid)" true
is "key id" "$(jqo .key_id)" 1
is "epoch_s" "$(jqo .epoch_s)" 30
is_epoch "epoch" "$(jqo .epoch)" "$t0"
is "no previous key yet" "$(jqo .previous_key_accepted)" false
"$F" a2skey "$D" install ffeeddccbbaa99887766554433221100 || fail "fixture a2skey"
ok "a2s key" "$K" --pin-root "$D" a2s key
grep -q "^key id    2 (the previous key is still accepted)$" "$TMP/out" ||
	fail "a2s key: rotated"
grep -qE "^epoch     [0-9]+ \(30 s each; the next in [0-9]+s\)$" "$TMP/out" ||
	fail "a2s key: epoch line"
for f in "$K --pin-root $D a2s key" "$K --pin-root $D --json a2s key"; do
	# never the key: neither hex nor k0/k1 as decimals
	$f | grep -qiE "ffeedd|00112233|77665544|8899aabb|8603657889541918976|18441921395520346504|9843086184167632639|4822678189205111" &&
		fail "a2s key prints key material"
done
passed=$((passed + 1))
t0=$(date +%s)
ok "a2s rotate" "$K" --pin-root "$D" a2s rotate
is "a2s rotate output" "$(cat "$TMP/out")" \
	"rotated to key 3 (key 2 still accepted until the next rotation)"
key=$("$F" a2skey "$D")
ep=${key#*epoch=}
ep=${ep%% *}
is "rotated in the map" "$key" \
	"key_id=3 epoch=$ep epoch_s=30 flags=1 rotated=1"
is_epoch "rotated in the map: epoch" "$ep" "$t0"
ok "a2s rotate --json" "$K" --pin-root "$D" --json a2s rotate
is "a2s rotate --json" "$(jqo '[.key_id, .previous_key_id] | join(" ")')" "4 3"

ok "services del an A2S service" "$K" --pin-root "$D" services del udp 198.18.20.1:27016
ok "a2s after del" "$K" --pin-root "$D" --json a2s
is "one A2S service left" "$(jqo '.a2s | length')" 1
ok "services del" "$K" --pin-root "$D" services del udp 198.18.20.1:27015
ok "a2s, none" "$K" --pin-root "$D" a2s
grep -q "^no service has A2S caching" "$TMP/out" || fail "a2s: none"

err "a2s on tcp" 2 "services add: --a2s: A2S is udp only" \
	"$K" --pin-root "$D" services add tcp 198.18.20.1:1 backend 198.18.2.2 --a2s
err "a2s option without --a2s" 2 "services add: --a2s-\* options need --a2s" \
	"$K" --pin-root "$D" services add udp 198.18.20.1:1 backend 198.18.2.2 \
	--a2s-refresh-ms 500
err "a2s refresh too small" 2 "services add: --a2s-\*-ms values are 100..3600000 ms" \
	"$K" --pin-root "$D" services add udp 198.18.20.1:1 backend 198.18.2.2 \
	--a2s --a2s-refresh-ms 50
err "a2s timeout too large" 2 "--a2s-timeout-ms wants a whole number 0..3600000, not \"3600001\"" \
	"$K" --pin-root "$D" services add udp 198.18.20.1:1 backend 198.18.2.2 \
	--a2s --a2s-timeout-ms 3600001
err "a2s max age below refresh" 2 "--a2s-max-age-ms 1000 is less than the refresh \(2000 ms\)" \
	"$K" --pin-root "$D" services add udp 198.18.20.1:1 backend 198.18.2.2 \
	--a2s --a2s-refresh-ms 2000 --a2s-max-age-ms 1000 --a2s-timeout-ms 9000
err "a2s timeout below twice refresh" 2 "--a2s-timeout-ms 5000 is less than twice the refresh \(3000 ms\)" \
	"$K" --pin-root "$D" services add udp 198.18.20.1:1 backend 198.18.2.2 \
	--a2s --a2s-refresh-ms 3000
err "a2s challenge word" 2 "--a2s-challenge wants required or off, not \"none\"" \
	"$K" --pin-root "$D" services add udp 198.18.20.1:1 backend 198.18.2.2 \
	--a2s --a2s-challenge none
err "a2s challenge value missing" 2 "--a2s-challenge needs a value" \
	"$K" --pin-root "$D" services add udp 198.18.20.1:1 backend 198.18.2.2 \
	--a2s --a2s-challenge
err "a2s flag with a value" 2 "--a2s takes no value" \
	"$K" --pin-root "$D" services add udp 198.18.20.1:1 backend 198.18.2.2 --a2s=1
err "a2s unknown subcommand" 2 'a2s: unknown subcommand "frob" \(list, key, rotate; see --help\)' \
	"$K" --pin-root "$D" a2s frob
err "a2s key extra argument" 2 'a2s key: unexpected argument "x"' \
	"$K" --pin-root "$D" a2s key x
err "a2s nothing loaded" 1 "nothing loaded at /nonexistent/kmb4" \
	"$K" --pin-root /nonexistent/kmb4 a2s
is "nothing was added by the bad lines" "$("$F" dump "$D" km_a2s_cfg | grep -c "flags=[13]")" 0

# ---- command-line errors: one line, exit 2 ----
err "unknown command" 2 'unknown command "frob"' "$K" frob
err "no command" 2 "missing command" "$K"
err "pin-root without value" 2 "--pin-root needs a value" "$K" --pin-root
err "unknown subcommand" 2 'services: unknown subcommand "frob"' \
	"$K" --pin-root "$D" services frob
err "bad address" 2 'bad service address "198.18.10.300:27015"' \
	"$K" --pin-root "$D" services add udp 198.18.10.300:27015 backend 198.18.2.2
err "no port" 2 'needs a port' \
	"$K" --pin-root "$D" services add udp 198.18.10.1 backend 198.18.2.2
err "bad port" 2 'bad service port' \
	"$K" --pin-root "$D" services add udp 198.18.10.1:0 backend 198.18.2.2
err "missing argument" 2 "services add: missing argument" \
	"$K" --pin-root "$D" services add udp 198.18.10.1:27015
err "bad protocol" 2 'bad protocol "icmp"' \
	"$K" --pin-root "$D" services add icmp 198.18.10.1:1 backend 198.18.2.2
err "no backend keyword" 2 'expected "backend"' \
	"$K" --pin-root "$D" services add udp 198.18.10.1:1 via 198.18.2.2
err "bad limit" 2 "--pps wants a whole number" \
	"$K" --pin-root "$D" services add udp 198.18.10.1:1 backend 198.18.2.2 --pps -5
err "unknown option" 2 "unknown option --bogus" \
	"$K" --pin-root "$D" allow add 198.18.0.0/24 --bogus
err "host bits" 2 "has host bits set \(did you mean 198.18.0.0/24\?\)" \
	"$K" --pin-root "$D" allow add 198.18.0.1/24
err "prefix length" 2 "bad prefix length" "$K" --pin-root "$D" deny add 198.18.0.0/33
err "extra argument" 2 'unexpected argument "x"' \
	"$K" --pin-root "$D" blocks del 198.18.5.5 x
err "nothing loaded" 1 "nothing loaded at /nonexistent/kmb4" \
	"$K" --pin-root /nonexistent/kmb4 status
err "both roots" 2 "not both" "$K" --pin-root "$D" -i lo status
for c in status services allow deny blocks punches detach "services add" \
	"allow del" "blocks add" "punches add" a2s "a2s key" "a2s list" "a2s rotate"; do
	# shellcheck disable=SC2086
	ok "$c --help" "$K" $c --help
	grep -q "^usage: kilimanjaro" "$TMP/out" || fail "$c --help: no usage"
done
ok "help" "$K" --help
# Nothing on any argv may crash (signals show as exit >= 128).
for a in "" "--json" "-i" "--interface=" "--pin-root=" "services add" \
	"services add udp" "services add udp : backend :" "allow add /" \
	"allow add 1.2.3.4/" "deny add 1.2.3.4/-1" "blocks add 1.2.3.4 --seconds" \
	"blocks add 1.2.3.4 --seconds=1e999" "punches add udp a:b c:d backend e" \
	"status --watch -1" "status --watch=0" "services add udp 1.1.1.1:99999 backend 1.1.1.1" \
	"services add udp 1.1.1.1:1 backend 1.1.1.1:65536" "-- status" "allow -- add" \
	"a2s frob" "a2s key x" "a2s rotate x" "a2s --a2s" "services add udp 1.1.1.1:1 backend 1.1.1.1 --a2s-challenge" \
	"services add udp 1.1.1.1:1 backend 1.1.1.1 --a2s --a2s-refresh-ms=" \
	"services add udp 1.1.1.1:1 backend 1.1.1.1 --a2s --a2s-refresh-ms 99999999999999999999"; do
	# shellcheck disable=SC2086
	run "$K" --pin-root "$D" $a
	[ "$rc" -lt 128 ] || fail "argv '$a' crashed (exit $rc)"
	[ "$rc" = 0 ] || [ "$(wc -l <"$TMP/err")" = 1 ] ||
		fail "argv '$a': want one stderr line"
done
passed=$((passed + 1))

# ---- the default pin root, in a private mount namespace with its own bpffs ----
cat >"$TMP/pinroot.sh" <<'EOS'
set -u
K=$1 F=$2
mount -t bpf bpf /sys/fs/bpf || exit 10
B=/sys/fs/bpf/kilimanjaro
out=$("$K" services 2>&1) && exit 11
echo "$out" | grep -q "nothing loaded: $B does not exist" || exit 12
mkdir -p "$B" && "$F" load "$B/kmb4x" || exit 13
"$K" allow add 198.18.0.0/24 >/dev/null || exit 14
[ "$("$K" --json allow | jq -r '.allow[0].prefix')" = 198.18.0.0/24 ] || exit 15
[ "$("$K" -i kmb4x --json allow | jq -r '.allow | length')" = 1 ] || exit 16
mkdir "$B/kmb4y"
out=$("$K" allow 2>&1) && exit 17
echo "$out" | grep -q "2 pin roots under $B" || exit 18
out=$("$K" -i kmb4z allow 2>&1) && exit 19
echo "$out" | grep -q "nothing loaded at $B/kmb4z" || exit 20
exit 0
EOS
run unshare --mount --propagation private bash "$TMP/pinroot.sh" "$K" "$F"
is "default pin root (step that failed)" "$rc" 0

# ---- detach ----
# As many map pins as the object has maps (the ABI grows).
npins=$(find "$D" -maxdepth 1 -name 'km_*' ! -name km_link | wc -l)
ok "detach" "$K" --pin-root "$D" detach
grep -q "removed $npins map pins" "$TMP/out" || fail "detach output"
[ -e "$D" ] && fail "detach left $D"
err "detach again" 1 "nothing attached at $D" "$K" --pin-root "$D" detach

# ---- attached, in a network namespace of our own ----
ip netns add "$NS" || fail "ip netns add"
ip -n "$NS" link add kmb4a type veth peer name kmb4b || fail "veth"
ip -n "$NS" link set kmb4a up && ip -n "$NS" link set kmb4b up || fail "link up"
"$F" load "$D2" "$NS" kmb4a || fail "km_fixture load + attach"
inns() { run nsenter --net=/var/run/netns/"$NS" "$K" --pin-root "$D2" "$@"; }
inns --json status
[ "$rc" = 0 ] || fail "status (attached): exit $rc"
is "attached" "$(jqo .link.attached)" true
is "interface" "$(jqo .link.interface)" kmb4a
is "mode" "$(jqo .link.mode)" native
is "prog" "$(jqo .link.prog_name)" km_xdp
is "tag" "$(jqo '.link.prog_tag | length')" 16
inns detach
[ "$rc" = 0 ] || fail "detach (attached): exit $rc"
ip -n "$NS" link show kmb4a | grep -q "xdp" && fail "still attached after detach"
[ -e "$D2" ] && fail "detach left $D2"
passed=$((passed + 1))

echo "ok: $passed checks"
