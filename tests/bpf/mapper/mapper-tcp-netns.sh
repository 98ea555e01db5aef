#!/bin/bash
# TCP bulk transfer through two kilimanjaro-mappers facing each other, so
# that both ends are real kernel TCP stacks behind the mapper's IPIP:
#
#   "player" ns: p0 198.18.21.1/24, player 198.18.41.7 on lo, mapper with
#                the host as its only edge and the player as its "service"
#     | veth
#   host ns:     h0 198.18.21.2/24, service 198.18.31.1 on lo, mapper with
#                the player side as its edge
#
# This exercises what the UDP probe cannot: GSO super-packets and
# CHECKSUM_PARTIAL from the local TCP stack through bpf_skb_adjust_room,
# with veth tx checksum offload off (as in the lab) and on.
#
# usage: mapper-tcp-netns.sh MAPPER-BINARY
set -euo pipefail
# shellcheck source=tests/bpf/mapper/mapper-lib.sh
source "$(dirname "$0")/mapper-lib.sh"

ml_start "MAPPER" 1 1 $#
mapper=$(realpath "$1")

nsp="kmb5-tp-$$"
nsh="kmb5-th-$$"
pinp="/sys/fs/bpf/kmb5-tp-$$"
pinh="/sys/fs/bpf/kmb5-th-$$"
dir=$(mktemp -d /tmp/kmb5-tcp.XXXXXX)
ml_logs="$dir/*.err $dir/show.*"

cleanup() {
	ml_kill_pids
	ml_detach "$nsh" h0 "$pinh"
	ml_detach "$nsp" p0 "$pinp"
	rm -rf "$pinp" "$pinh"
	ip netns del "$nsp" 2>/dev/null || true
	ip netns del "$nsh" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

inp() { nsenter --net="/run/netns/$nsp" "$@"; }
inh() { nsenter --net="/run/netns/$nsh" "$@"; }

ml_veth "$nsp" p0 "$nsh" h0
ip -n "$nsp" addr add 198.18.21.1/24 dev p0
ip -n "$nsh" addr add 198.18.21.2/24 dev h0
ip -n "$nsp" addr add 198.18.41.7/32 dev lo
ip -n "$nsh" addr add 198.18.31.1/32 dev lo
# The encapsulated packet must fit the link: 20 bytes for the outer header.
ip -n "$nsh" route add default via 198.18.21.1 mtu 1480
ip -n "$nsp" route add 198.18.31.0/24 via 198.18.21.2 mtu 1480

inh "$mapper" --interface h0 --address 198.18.21.2 --edge 198.18.21.1 \
	--default-edge 198.18.21.1 --service 198.18.31.1 --pin-root "$pinh" \
	--attach-only 2>"$dir/host.err" || fail "host mapper"
inp "$mapper" --interface p0 --address 198.18.21.1 --edge 198.18.21.2 \
	--default-edge 198.18.21.2 --service 198.18.41.7 --pin-root "$pinp" \
	--attach-only 2>"$dir/player.err" || fail "player mapper"

head -c 4000000 /dev/urandom >"$dir/blob"

# transfer FROM-NS TO-NS DST-ADDR SRC-ADDR PORT WHAT
transfer() {
	local srv
	rm -f "$dir/got"
	nsenter --net="/run/netns/$2" socat -u \
		"TCP4-LISTEN:$5,bind=$3,reuseaddr" \
		"OPEN:$dir/got,creat,trunc" 2>"$dir/socat-srv.err" &
	srv=$!
	pids+=("$srv")
	for _ in $(seq 30); do
		nsenter --net="/run/netns/$2" ss -Htln "sport = :$5" |
			grep -q . && break
		sleep 0.1
	done
	nsenter --net="/run/netns/$1" timeout 20 socat -u "OPEN:$dir/blob" \
		"TCP4:$3:$5,bind=$4" 2>"$dir/socat-cli.err" ||
		fail "transfer: $6"
	wait "$srv" || fail "receiver: $6"
	cmp -s "$dir/blob" "$dir/got" || fail "data differs: $6"
}

for tx in off on; do
	inh ethtool -K h0 tx "$tx" >/dev/null
	inp ethtool -K p0 tx "$tx" >/dev/null
	echo "# 4 MB player -> service over TCP, veth tx offload $tx"
	transfer "$nsp" "$nsh" 198.18.31.1 198.18.41.7 7000 "to the service, tx $tx"
	# The service opens the connection: the default edge carries it and
	# the host encapsulates full-size GSO segments.
	echo "# 4 MB service -> player over TCP, veth tx offload $tx"
	transfer "$nsh" "$nsp" 198.18.41.7 198.18.31.1 7001 "from the service, tx $tx"
done

inh "$mapper" --interface h0 --pin-root "$pinh" --show >"$dir/show.host"
inp "$mapper" --interface p0 --pin-root "$pinp" --show >"$dir/show.player"
grep -q "tcp 198.18.41.7:[0-9]* -> 198.18.31.1:7000 via 198.18.21.1" \
	"$dir/show.host" || fail "host did not learn the TCP flow"
for f in "$dir/show.host" "$dir/show.player"; do
	if awk '$1 ~ /drop/ && $2 != 0 { bad = 1 } END { exit !bad }' "$f"; then
		fail "drops counted in $f"
	fi
done
echo "PASS"
