#!/bin/bash
# Runs a bpf test binary inside a network namespace of its own that gives
# bpf_fib_lookup a real routing context (docs/design.md "FIB and MTU"):
#
#   e0 198.18.0.1/24 (02:6b:6d:00:00:01)  -- neighbour 198.18.0.2 (02:6b:6d:00:00:02)
#       routes: 198.18.100.0/24 (backends), 198.19.0.0/16 (players)
#   e1 198.18.1.1/24 (02:6b:6d:00:01:01)  -- neighbour 198.18.1.2 (02:6b:6d:00:01:02)
#       routes: 198.18.101.0/24 (backends behind the second interface)
#   no route to 198.18.200.0/24 and no default route: lookups fail there.
#
# Neighbours are PERMANENT so lookups return SUCCESS with known MACs
# (tests/lib/kmtest.h KMT_MAC_*). The binary gets the interfaces' ifindexes
# in KMT_IFINDEX0/KMT_IFINDEX1. Nothing is pinned, so the namespace needs no
# bpffs (ip netns exec gives it a fresh /sys without one). The namespace (and with it every veth) is
# removed on exit, also on failure or interruption.
set -euo pipefail

if (($# < 1)); then
	echo "usage: $0 TEST-BINARY [ARGS...]" >&2
	exit 2
fi
if ((EUID != 0)); then
	echo "$0: needs root (network namespaces, BPF)" >&2
	exit 1
fi

ns="kmb2-$$"
cleanup() {
	ip netns del "$ns" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$ns"
ipn() { ip -n "$ns" "$@"; }

ipn link set lo up
ipn link add e0 address 02:6b:6d:00:00:01 type veth \
	peer name p0 address 02:6b:6d:00:00:02
ipn link add e1 address 02:6b:6d:00:01:01 type veth \
	peer name p1 address 02:6b:6d:00:01:02
for l in e0 p0 e1 p1; do
	ipn link set "$l" up
done
ipn addr add 198.18.0.1/24 dev e0
ipn addr add 198.18.1.1/24 dev e1
ipn neigh replace 198.18.0.2 lladdr 02:6b:6d:00:00:02 dev e0 nud permanent
ipn neigh replace 198.18.1.2 lladdr 02:6b:6d:00:01:02 dev e1 nud permanent
ipn route add 198.18.100.0/24 via 198.18.0.2 dev e0
ipn route add 198.19.0.0/16 via 198.18.0.2 dev e0
ipn route add 198.18.101.0/24 via 198.18.1.2 dev e1
# The FIB helper refuses to forward on interfaces without forwarding.
ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.forwarding=1 \
	net.ipv4.conf.e0.forwarding=1 net.ipv4.conf.e1.forwarding=1

idx0=$(ipn -o link show e0 | cut -d: -f1)
idx1=$(ipn -o link show e1 | cut -d: -f1)

# Not exec: the EXIT trap must still run after the binary. In the
# background with `wait`, so that a TERM (meson's timeout) runs the trap at
# once instead of after the binary, by when meson's KILL would have left
# the namespace behind.
status=0
ip netns exec "$ns" env KMT_IFINDEX0="$idx0" KMT_IFINDEX1="$idx1" \
	"$@" &
child=$!
trap 'kill -TERM "$child" 2>/dev/null; exit 130' INT TERM
wait "$child" || status=$?
exit "$status"
