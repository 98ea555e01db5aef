#!/bin/bash
# kilimanjaro-mapper end to end in two network namespaces:
#
#   edge ns: e0 198.18.20.1/24 (edge A) + 198.18.20.3 (default edge B)
#            + 198.18.20.4 (not an edge)
#     | veth
#   host ns: h0 198.18.20.2/24 (IPIP address), service 198.18.30.1 on lo,
#            default route via 198.18.20.1; kilimanjaro-mapper on h0,
#            a UDP echo server on 198.18.30.1:27015.
#
# The edge side sends hand-built IPIP (tests/bpf/mapper/ipip-probe) and
# checks that the replies come back IPIP-encapsulated to the right edge
# with every checksum correct; the learned flow must be in the pinned map,
# survive a restart, and --detach must remove everything.
#
# usage: mapper-netns.sh MAPPER-BINARY IPIP-PROBE-BINARY [native|skb]
set -euo pipefail
# shellcheck source=tests/bpf/mapper/mapper-lib.sh
source "$(dirname "$0")/mapper-lib.sh"

ml_start "MAPPER IPIP-PROBE [native|skb]" 2 3 $#
mapper=$(realpath "$1")
probe=$(realpath "$2")
mode=${3:-native}
other=$([[ $mode == native ]] && echo skb || echo native)

nse="kmb5-e-$$"
nsh="kmb5-h-$$"
pins="/sys/fs/bpf/kmb5-netns-$$"
log=$(mktemp -d /tmp/kmb5-netns.XXXXXX)
ml_logs="$log/*"

cleanup() {
	ml_kill_pids
	ml_detach "$nsh" h0 "$pins"
	ml_detach "$nsh" k0 "$pins-flap"
	ip netns del "$nse" 2>/dev/null || true
	ip netns del "$nsh" 2>/dev/null || true
	rm -rf "$pins" "$log" "$pins-bad" "$pins-flap"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# nsenter keeps this mount namespace, so /sys/fs/bpf is the real bpffs
# (ip netns exec would give a fresh /sys without it).
inh() { nsenter --net="/run/netns/$nsh" "$@"; }
ine() { nsenter --net="/run/netns/$nse" "$@"; }

ml_veth "$nse" e0 "$nsh" h0
ip -n "$nse" addr add 198.18.20.1/24 dev e0
ip -n "$nse" addr add 198.18.20.3/24 dev e0
ip -n "$nse" addr add 198.18.20.4/24 dev e0
ip -n "$nsh" addr add 198.18.20.2/24 dev h0
ip -n "$nsh" addr add 198.18.30.1/32 dev lo
ip -n "$nsh" route add default via 198.18.20.1
# As in the lab: without this, veth hands the inner L4 checksum on
# unfinished (CHECKSUM_PARTIAL) and raw receivers see it unfinished.
inh ethtool -K h0 tx off >/dev/null

mapper_args=(--interface h0 --address 198.18.20.2 --edge 198.18.20.1
	--default-edge 198.18.20.3 --service 198.18.30.1/32
	--pin-root "$pins" --xdp-mode "$mode")

start_mapper() {
	rm -f "$log/ready"
	# nsenter, not the inh function: $! must be the mapper itself.
	nsenter --net="/run/netns/$nsh" "$mapper" "${mapper_args[@]}" "$@" \
		>"$log/mapper.out" \
		2>"$log/mapper.err" &
	mapper_pid=$!
	pids+=("$mapper_pid")
	for _ in $(seq 50); do
		grep -q "ready" "$log/mapper.err" && return 0
		kill -0 "$mapper_pid" 2>/dev/null || fail "mapper exited"
		sleep 0.1
	done
	fail "mapper not ready"
}

stop_mapper() {
	kill -TERM "$mapper_pid"
	wait "$mapper_pid" || fail "mapper exit status $? on SIGTERM"
}

show() { inh "$mapper" --interface h0 --pin-root "$pins" --show; }

counter() { # name -> packets
	show | awk -v n="$1" '$1 == n { print $2 }'
}

exchange() { # from-edge player pport [icmp]
	ine "$probe" exchange 198.18.20.2 "$1" "$2" "$3" 198.18.30.1 27015 \
		${4:-}
}

# to_default_edge SVC-PORT LOG: the service sends unsolicited UDP; whether
# it reaches default edge B as IPIP (the probe's status).
to_default_edge() {
	local exp_pid
	nsenter --net="/run/netns/$nse" "$probe" expect 198.18.20.2 \
		198.18.20.3 198.18.30.1 "$1" 198.18.41.9 5000 >"$2" 2>&1 &
	exp_pid=$!
	pids+=("$exp_pid")
	for _ in $(seq 30); do
		grep -q ready "$2" && break
		sleep 0.1
	done
	inh "$probe" send 198.18.30.1 "$1" 198.18.41.9 5000 ||
		fail "probe send to port $1"
	wait "$exp_pid"
}

nsenter --net="/run/netns/$nsh" "$probe" echo 198.18.30.1 27015 \
	>"$log/echo.out" 2>&1 &
pids+=($!)

start_mapper

echo "# UDP from edge A: decapsulated, echoed, re-encapsulated to A"
exchange 198.18.20.1 198.18.40.7 40000 >"$log/x1" 2>&1 ||
	fail "UDP exchange through edge A"
cat "$log/x1"
show >"$log/show1"
grep -q "udp 198.18.40.7:40000 -> 198.18.30.1:27015 via 198.18.20.1" \
	"$log/show1" || fail "flow not learned in $pins/km_m_flows"
# Independent of --show: the raw key in the pinned map (proto 17, player,
# service, ports 40000 and 27015 in network order).
bpftool -j map dump pinned "$pins/km_m_flows" | tr -d ' \n' |
	grep -q '"key":\["0x11","0x00","0x00","0x00","0xc6","0x12","0x28","0x07","0xc6","0x12","0x1e","0x01","0x9c","0x40","0x69","0x87"\]' ||
	fail "learned key not found by bpftool in $pins/km_m_flows"
inh "$mapper" --interface h0 --pin-root "$pins" --show --json >"$log/show1.json"
jq -e '.flows[] | select(.proto == "udp" and .player == "198.18.40.7"
	and .player_port == 40000 and .service == "198.18.30.1"
	and .service_port == 27015 and .edge == "198.18.20.1")' \
	"$log/show1.json" >/dev/null || fail "--show --json lacks the flow"
jq -e '.verdicts.xdp_decap.packets == 1 and .counters.flow_learned == 1' \
	"$log/show1.json" >/dev/null || fail "--show --json counters"

echo "# ICMP echo from edge A: the kernel's echo reply goes back to A"
exchange 198.18.20.1 198.18.40.8 777 icmp >"$log/x2" 2>&1 ||
	fail "ICMP exchange through edge A"
cat "$log/x2"

echo "# unsolicited UDP from the service: default edge B"
to_default_edge 27016 "$log/x3" || fail "no IPIP to the default edge"
cat "$log/x3"
[[ $(counter tc_encap_default) -ge 1 ]] || fail "tc_encap_default not counted"

echo "# IPIP from a non-edge address: dropped and counted"
if exchange 198.18.20.4 198.18.40.9 40001 >"$log/x4" 2>&1; then
	fail "IPIP from a non-edge was answered"
fi
[[ $(counter xdp_drop_not_edge) -ge 1 ]] || fail "xdp_drop_not_edge not counted"

echo "# SIGTERM leaves both programs attached and the flow pinned"
stop_mapper
[[ -e "$pins/km_m_xdp_link" && -e "$pins/km_m_tc_link" ]] ||
	fail "links not pinned after exit"
exchange 198.18.20.1 198.18.40.7 40000 >"$log/x5" 2>&1 ||
	fail "no forwarding while the mapper is not running"

echo "# another XDP mode over the pinned link is refused"
if inh "$mapper" "${mapper_args[@]}" --xdp-mode "$other" --attach-only \
	2>"$log/mode.err"; then
	fail "--xdp-mode $other accepted over a $mode link"
fi
grep -q "attached XDP mode is not --xdp-mode $other" "$log/mode.err" ||
	fail "mode refusal message: $(cat "$log/mode.err")"

echo "# restart from a config file (in-place update, next hop player)"
cat >"$log/mapper.json" <<'JSON'
{
	/* settings not on the command line */
	"address": "198.18.20.2",
	"edges": ["198.18.20.1"],
	"default_edge": "198.18.20.3",
	"services": ["198.18.30.1/32"],
	"next_hop": "player", // keep the kernel's next hop
	"idle_seconds": 120
}
JSON
mapper_args=(--interface h0 --pin-root "$pins" --config "$log/mapper.json"
	--xdp-mode "$mode")
start_mapper
grep -q "program replaced in place" "$log/mapper.err" ||
	fail "restart did not update the pinned links"
show | grep -q "udp 198.18.40.7:40000 -> 198.18.30.1:27015 via 198.18.20.1" ||
	fail "learned flow lost over the restart"
show | grep -q "idle 120s next-hop player" || fail "config file not applied"
exchange 198.18.20.1 198.18.40.7 40000 >"$log/x6" 2>&1 ||
	fail "UDP exchange with next hop player"

echo "# SIGHUP: a bad file is refused whole, a good one applied"
sed -i 's/"idle_seconds": 120/"idle_seconds": 90, "edges": ["198.18.20.1", "bad"]/' \
	"$log/mapper.json"
kill -HUP "$mapper_pid"
for _ in $(seq 30); do
	grep -q "reload failed" "$log/mapper.err" && break
	sleep 0.1
done
grep -q "field 'edges\[1\]': 'bad' is not an IPv4 address" \
	"$log/mapper.err" || fail "bad reload not reported by field"
show | grep -q "idle 120s" || fail "bad reload changed the settings"
sed -i 's/, "bad"//' "$log/mapper.json"
kill -HUP "$mapper_pid"
for _ in $(seq 30); do
	grep -q "reloaded" "$log/mapper.err" && break
	sleep 0.1
done
show | grep -q "idle 90s" || fail "good reload not applied"

echo "# idle flows are swept from the map"
show | grep -q "udp 198.18.40.7:40000" || fail "flow gone too early"
sed -i 's/"idle_seconds": 90/"idle_seconds": 1/' "$log/mapper.json"
kill -HUP "$mapper_pid"
swept=0
for _ in $(seq 40); do
	if ! show | grep -q "udp 198.18.40.7:40000"; then
		swept=1
		break
	fi
	sleep 0.1
done
((swept)) || fail "idle flow not swept within 4 s"
stop_mapper

echo "# --detach removes the programs and every pin"
inh "$mapper" --interface h0 --pin-root "$pins" --detach 2>"$log/detach" ||
	fail "--detach failed"
[[ ! -e "$pins" ]] || fail "pins left in $pins"
if ip -n "$nsh" link show h0 | grep -q xdp; then
	fail "XDP still attached to h0"
fi
if exchange 198.18.20.1 198.18.40.7 40000 >"$log/x7" 2>&1; then
	fail "answered after --detach"
fi
# bpftool 7.1 does not list tcx links: check the egress path by behaviour.
if to_default_edge 27017 "$log/x8"; then
	fail "egress still encapsulated after --detach"
fi
echo "# a pinned map of another layout is refused by name, nothing attached"
mkdir -p "$pins-bad"
bpftool map create "$pins-bad/km_m_flows" type hash key 4 value 4 \
	entries 8 name km_m_flows
if inh "$mapper" --interface h0 --address 198.18.20.2 --edge 198.18.20.1 \
	--service 198.18.30.1 --pin-root "$pins-bad" --attach-only \
	2>"$log/bad.err"; then
	fail "a foreign km_m_flows pin was accepted"
fi
grep -q "$pins-bad/km_m_flows: pinned map differs from this version's km_m_flows" \
	"$log/bad.err" || fail "refusal message: $(cat "$log/bad.err")"
[[ ! -e "$pins-bad/km_m_xdp_link" ]] || fail "attached despite the refusal"
ip -n "$nsh" link show h0 | grep -q xdp && fail "XDP attached despite the refusal"
echo "# an interface deleted and made again: the defunct links are replaced"
flap_args=(--interface k0 --address 198.18.20.2 --edge 198.18.20.1
	--service 198.18.30.1 --pin-root "$pins-flap" --xdp-mode "$mode"
	--attach-only)
ip -n "$nsh" link add k0 type veth peer name k1
inh "$mapper" "${flap_args[@]}" 2>"$log/flap1.err" || fail "attach to k0"
ip -n "$nsh" link del k0
ip -n "$nsh" link add k0 type veth peer name k1
inh "$mapper" "${flap_args[@]}" 2>"$log/flap2.err" ||
	fail "re-attach to a new k0"
grep -q "km_m_xdp_link: its interface is gone; attaching anew" \
	"$log/flap2.err" || fail "defunct link not replaced"
ip -n "$nsh" link show k0 | grep -q "prog/xdp.*kmm_xdp" ||
	fail "XDP not attached to the new k0"
inh "$mapper" --interface k0 --pin-root "$pins-flap" --detach 2>/dev/null
echo "PASS"
