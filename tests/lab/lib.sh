# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# The namespace lab, sourced by every lab test and by the demo:
#
#   player (pl0) ── router (rt-*) ──┬── edge (ed0: XDP, kilimanjaro-loader)
#                                   └── game-server host (gs0: mapper;
#                                        service addresses on lo)
#
# Addresses only from 198.18.0.0/15. The router sends the service prefix
# 198.18.10.0/24 to the edge, as BGP would on a real anycast edge. Floods
# (floodgen) leave the router's rt-ed towards the edge like traffic from the
# Internet, without going through the router's kernel forwarding, which
# would be the bottleneck instead of the edge.
#
# Processes run with `nsenter --net` (not `ip netns exec`), so they keep the
# host's /sys/fs/bpf and every pin stays visible to the CLI and the tests.
# Everything the lab creates carries LAB_PREFIX and is removed by the EXIT
# trap, which then checks that nothing was left behind.
#
# Needs: KM_BUILD_DIR (a configured and built meson build directory).

set -uo pipefail

LAB_PREFIX=${LAB_PREFIX:-kml-$$}
LAB_NS_PL=$LAB_PREFIX-pl
LAB_NS_RT=$LAB_PREFIX-rt
LAB_NS_ED=$LAB_PREFIX-ed
LAB_NS_GS=$LAB_PREFIX-gs
LAB_NAMESPACES=("$LAB_NS_PL" "$LAB_NS_RT" "$LAB_NS_ED" "$LAB_NS_GS")

# Player side: one veth, one /24 per role so limits that aggregate by /24
# never mix the roles.
LAB_PLAYER=198.18.0.2   # a well-behaved player
LAB_DENIED=198.18.4.2   # inside the demo/test deny prefix
LAB_ALLOWED=198.18.5.2  # inside the allow prefix (no limits)
LAB_LIMITED=198.18.6.2  # sends faster than its limit
LAB_REMOTE=198.18.7.2   # a remote the game server opens a flow to
LAB_PLAYER_NETS=(0 4 5 6 7)
LAB_EDGE=198.18.1.2
LAB_EDGE_GW=198.18.1.1
LAB_GS=198.18.2.2
LAB_GS_GW=198.18.2.1
LAB_SVC_NET=198.18.10.0/24
LAB_SVC=198.18.10.1
LAB_SVC2=198.18.10.2
# Links that carry IPIP have room for the 20-byte outer header.
LAB_TUNNEL_MTU=1600

LAB_PIN=/sys/fs/bpf/$LAB_PREFIX
LAB_PIN_EDGE=$LAB_PIN/edge
LAB_PIN_GS=$LAB_PIN/gs
LAB_DIR=  # logs and configs, made by lab_up

KM_BUILD_DIR=${KM_BUILD_DIR:?KM_BUILD_DIR must name the meson build directory}
KM_LOADER=$KM_BUILD_DIR/loader/kilimanjaro-loader
KM_CLI=$KM_BUILD_DIR/cli/kilimanjaro
KM_MAPPER=$KM_BUILD_DIR/mapper/kilimanjaro-mapper
KM_FLOODGEN=$KM_BUILD_DIR/tests/lab/floodgen
KM_FLOW=$KM_BUILD_DIR/tests/lab/kmflow
KM_XDP_PASS=$KM_BUILD_DIR/tests/lab/xdp_pass.bpf.o

declare -A LAB_PIDS=()  # name -> pid of every running background process
LAB_SPAWNED=()          # every pid ever started (the leftover check)
LAB_FAILED=0
LAB_KEEP_LOGS=${LAB_KEEP_LOGS:-0}

lab_log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

lab_fail() {
	lab_log "FAIL: $*"
	LAB_FAILED=1
	exit 1
}

# lab_exec NS CMD...: run CMD in namespace NS (network only).
lab_exec() {
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" -- "$@"
}

# lab_spawn NAME NS CMD...: CMD in the background in its own session
# (its whole process group is signalled by lab_stop, and a Ctrl-C on the
# terminal does not reach it), output in $LAB_DIR/NAME.log, killed by the
# teardown.
lab_spawn() {
	local name=$1 ns=$2
	shift 2
	: >"$LAB_DIR/$name.log"
	setsid nsenter --net="/run/netns/$ns" -- "$@" >>"$LAB_DIR/$name.log" 2>&1 &
	LAB_PIDS[$name]=$!
	LAB_SPAWNED+=($!)
}

lab_pid() { echo "${LAB_PIDS[$1]:-}"; }

lab_alive() {
	local pid=${LAB_PIDS[$1]:-}
	[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null
}

# _lab_group_alive PID: a process of PID's process group (lab_spawn makes
# each one a group) still runs; zombies waiting for init do not count.
_lab_group_alive() {
	local p
	kill -0 "$1" 2>/dev/null && return 0
	for p in $(pgrep -g "$1"); do
		[[ $(ps -o stat= -p "$p" 2>/dev/null) == Z* ]] || return 0
	done
	return 1
}

# lab_stop NAME [SIGNAL]: signal (default TERM) the process and its group,
# wait for all of it (SIGKILL after 5 s) and reap; returns its status.
lab_stop() {
	local name=$1 sig=${2:-TERM} pid=${LAB_PIDS[$1]:-} i rc
	[[ -n $pid ]] || return 0
	kill "-$sig" -- "-$pid" 2>/dev/null || kill "-$sig" "$pid" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		_lab_group_alive "$pid" || break
		sleep 0.1
	done
	if _lab_group_alive "$pid"; then
		lab_log "$name (pid $pid) ignored SIG$sig for 5 s: SIGKILL"
		kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
		sleep 0.2
	fi
	wait "$pid" 2>/dev/null
	rc=$?
	unset "LAB_PIDS[$name]"
	return $rc
}

# lab_wait_for SECONDS CMD...: poll CMD every 0.1 s until it succeeds.
lab_wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || return 1
		sleep 0.1
	done
}

lab_require() {
	local f
	for f in "$@"; do
		[[ -x $f ]] || lab_fail "$f is missing: build first (ninja -C $KM_BUILD_DIR)"
	done
}

_lab_veth() { # NS_A DEV_A NS_B DEV_B
	ip -n "$1" link add "$2" type veth peer name "$4" netns "$3" ||
		lab_fail "cannot create veth $2/$4"
}


# A permanent neighbour entry: bpf_fib_lookup and the first packets never
# depend on ARP timing.
_lab_neigh() { # NS DEV ADDR PEER_NS PEER_DEV
	local mac
	mac=$(ip -n "$4" -j link show dev "$5" | jq -r '.[0].address')
	ip -n "$1" neigh replace "$3" lladdr "$mac" dev "$2" nud permanent
}

_lab_sysctl() { # NS KEY=VALUE...
	local ns=$1 kv
	shift
	for kv in "$@"; do
		lab_exec "$ns" sysctl -qw "$kv" >/dev/null ||
			lab_fail "sysctl $kv in $ns"
	done
}

lab_up() {
	local ns dev n

	[[ $(stat -f -c %T /sys/fs/bpf 2>/dev/null) == bpf_fs ]] ||
		lab_fail "/sys/fs/bpf is not bpffs (run packaging/install-deps)"
	LAB_DIR=$(mktemp -d "/tmp/$LAB_PREFIX.XXXXXX") || lab_fail "mktemp"
	trap lab_teardown EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	for ns in "${LAB_NAMESPACES[@]}"; do
		ip netns add "$ns" || lab_fail "ip netns add $ns"
		ip -n "$ns" link set lo up
		_lab_sysctl "$ns" net.ipv4.conf.all.rp_filter=0 \
			net.ipv4.conf.default.rp_filter=0
	done
	mkdir -p -m 0700 "$LAB_PIN" "$LAB_PIN_EDGE" "$LAB_PIN_GS"

	_lab_veth "$LAB_NS_PL" pl0 "$LAB_NS_RT" rt-pl
	_lab_veth "$LAB_NS_ED" ed0 "$LAB_NS_RT" rt-ed
	_lab_veth "$LAB_NS_GS" gs0 "$LAB_NS_RT" rt-gs

	# Router.
	for n in "${LAB_PLAYER_NETS[@]}"; do
		ip -n "$LAB_NS_RT" addr add "198.18.$n.1/24" dev rt-pl
		ip -n "$LAB_NS_PL" addr add "198.18.$n.2/24" dev pl0
	done
	ip -n "$LAB_NS_RT" addr add "$LAB_EDGE_GW/24" dev rt-ed
	ip -n "$LAB_NS_RT" addr add "$LAB_GS_GW/24" dev rt-gs
	ip -n "$LAB_NS_ED" addr add "$LAB_EDGE/24" dev ed0
	ip -n "$LAB_NS_GS" addr add "$LAB_GS/24" dev gs0
	ip -n "$LAB_NS_GS" addr add "$LAB_SVC/32" dev lo
	ip -n "$LAB_NS_GS" addr add "$LAB_SVC2/32" dev lo
	ip -n "$LAB_NS_ED" link set ed0 mtu "$LAB_TUNNEL_MTU"
	ip -n "$LAB_NS_RT" link set rt-ed mtu "$LAB_TUNNEL_MTU"
	ip -n "$LAB_NS_GS" link set gs0 mtu "$LAB_TUNNEL_MTU"
	ip -n "$LAB_NS_RT" link set rt-gs mtu "$LAB_TUNNEL_MTU"

	for dev in pl0 ed0 gs0; do
		ns=$LAB_PREFIX-${dev:0:2}
		ip -n "$ns" link set "$dev" up
		# Complete checksums on the wire: XDP sees what a NIC would.
		lab_exec "$ns" ethtool -K "$dev" tx off >/dev/null 2>&1 ||
			lab_fail "ethtool -K $dev tx off"
	done
	for dev in rt-pl rt-ed rt-gs; do
		ip -n "$LAB_NS_RT" link set "$dev" up
		lab_exec "$LAB_NS_RT" ethtool -K "$dev" tx off >/dev/null 2>&1 ||
			lab_fail "ethtool -K $dev tx off"
	done
	# veth native XDP: frames the edge sends by XDP_TX need its peer to
	# run NAPI with an XDP program (GRO alone left them stuck in the ring
	# here; see xdp_pass.bpf.c).
	ip -n "$LAB_NS_RT" link set dev rt-ed xdpdrv obj "$KM_XDP_PASS" sec xdp ||
		lab_fail "cannot attach the pass program to rt-ed"

	ip -n "$LAB_NS_PL" route add default via 198.18.0.1 src "$LAB_PLAYER"
	ip -n "$LAB_NS_ED" route add default via "$LAB_EDGE_GW"
	ip -n "$LAB_NS_GS" route add default via "$LAB_GS_GW"
	ip -n "$LAB_NS_RT" route add "$LAB_SVC_NET" via "$LAB_EDGE"
	# Replies to spoofed sources end here instead of looping.
	ip -n "$LAB_NS_RT" route add blackhole 198.18.0.0/15

	_lab_sysctl "$LAB_NS_RT" net.ipv4.ip_forward=1
	_lab_sysctl "$LAB_NS_ED" net.ipv4.ip_forward=1 \
		net.ipv4.conf.ed0.forwarding=1
	for dev in rt-pl rt-ed rt-gs; do
		_lab_sysctl "$LAB_NS_RT" "net.ipv4.conf.$dev.rp_filter=0"
	done
	_lab_sysctl "$LAB_NS_ED" net.ipv4.conf.ed0.rp_filter=0
	_lab_sysctl "$LAB_NS_GS" net.ipv4.conf.gs0.rp_filter=0 \
		net.ipv4.conf.lo.rp_filter=0

	_lab_neigh "$LAB_NS_ED" ed0 "$LAB_EDGE_GW" "$LAB_NS_RT" rt-ed
	_lab_neigh "$LAB_NS_RT" rt-ed "$LAB_EDGE" "$LAB_NS_ED" ed0
	_lab_neigh "$LAB_NS_GS" gs0 "$LAB_GS_GW" "$LAB_NS_RT" rt-gs
	_lab_neigh "$LAB_NS_RT" rt-gs "$LAB_GS" "$LAB_NS_GS" gs0
	_lab_neigh "$LAB_NS_PL" pl0 198.18.0.1 "$LAB_NS_RT" rt-pl
	for n in "${LAB_PLAYER_NETS[@]}"; do
		_lab_neigh "$LAB_NS_RT" rt-pl "198.18.$n.2" "$LAB_NS_PL" pl0
	done
	lab_log "lab $LAB_PREFIX up (logs in $LAB_DIR)"
}

# ---- configuration ---------------------------------------------------------

# Service ports on LAB_SVC: the game (UDP, kmflow echo; TCP, socat echo) and
# a port only the flood aims at.
LAB_GAME_PORT=27015
LAB_TCP_PORT=27015

# lab_edge_config FILE [JSON-FRAGMENT]: the edge configuration the tests and
# the demo start from; the fragment (object members) is merged over it, e.g.
# '"deny": ["198.18.6.0/24"]'.
lab_edge_config() {
	local file=$1 extra=${2:-}
	cat >"$file.base" <<-EOF_CFG
	{
		"interface": "ed0",
		"xdp_mode": "native",
		"edge_addresses": ["$LAB_EDGE"],
		"timeouts": { "punch_idle_s": 300, "validated_idle_s": 300 },
		"rate_limit_prefix_len": 24,
		"icmp_echo": true,
		"defaults": {
			"unvalidated": { "pps": 100, "burst_packets": 50 },
			"validated": { "pps": 600, "burst_packets": 300,
				       "block_s": 1 },
			"total": { "pps": 20000, "burst_packets": 2000 },
			"icmp": { "pps": 20, "burst_packets": 20 }
		},
		"services": [
			{ "name": "game", "protocol": "udp",
			  "address": "$LAB_SVC", "port": $LAB_GAME_PORT,
			  "backend": "$LAB_GS" },
			{ "name": "game-tcp", "protocol": "tcp",
			  "address": "$LAB_SVC", "port": $LAB_TCP_PORT,
			  "backend": "$LAB_GS" }
		],
		"allow": ["198.18.5.0/24"],
		"deny": ["198.18.4.0/24"]
	}
	EOF_CFG
	jq --argjson extra "{${extra}}" '. * $extra' "$file.base" >"$file" ||
		lab_fail "bad config fragment: $extra"
	rm -f "$file.base"
}

# lab_start_servers: the game server's processes on the game-server host:
# kmflow echo (UDP) and a socat echo (TCP) on the service address.
lab_start_servers() {
	lab_start_echo udp-echo "$LAB_NS_GS" "$LAB_SVC:$LAB_GAME_PORT"
	lab_spawn tcp-echo "$LAB_NS_GS" socat \
		"TCP-LISTEN:$LAB_TCP_PORT,bind=$LAB_SVC,reuseaddr,fork" PIPE
	lab_wait_for 5 _lab_listening tcp "$LAB_SVC:$LAB_TCP_PORT" ||
		lab_fail "tcp echo did not start"
}

_lab_listening() { # udp|tcp ADDR:PORT [NS]
	lab_exec "${3:-$LAB_NS_GS}" ss -Hln "--$1" "src $2" | grep -q .
}

# lab_start_echo NAME NS ADDR:PORT: a kmflow echo server, returns once it
# is bound (a datagram sent earlier would be lost).
lab_start_echo() {
	lab_spawn "$1" "$2" "$KM_FLOW" echo --bind "$3"
	lab_wait_for 5 _lab_listening udp "$3" "$2" ||
		lab_fail "echo $1 on $3 did not start"
}

# ---- Kilimanjaro processes ------------------------------------------------

# lab_start_loader CONFIG [EXTRA ARGS...]: the loader on the edge, in the
# foreground as systemd runs it; returns once it reports it is running.
lab_start_loader() {
	local cfg=$1
	shift
	local pos

	: >>"$LAB_DIR/loader.log"
	pos=$(stat -c %s "$LAB_DIR/loader.log")
	nsenter --net="/run/netns/$LAB_NS_ED" -- "$KM_LOADER" --interface ed0 \
		--config "$cfg" --pin-root "$LAB_PIN_EDGE" "$@" \
		>>"$LAB_DIR/loader.log" 2>&1 &
	LAB_PIDS[loader]=$!
	LAB_SPAWNED+=($!)
	_lab_wait_ready loader 'running on' "$pos"
}

# _lab_wait_ready NAME PATTERN [LOG-OFFSET]: until the log of NAME (after
# LOG-OFFSET bytes) shows PATTERN; fails at once when the process exits.
_lab_wait_ready() {
	local name=$1 pattern=$2 pos=${3:-0} deadline=$((SECONDS + 20))
	until tail -c +$((pos + 1)) "$LAB_DIR/$name.log" |
		grep -q "$pattern"; do
		if ! lab_alive "$name"; then
			cat "$LAB_DIR/$name.log" >&2
			lab_fail "$name exited before it was ready"
		fi
		((SECONDS < deadline)) || lab_fail "$name not ready after 20 s"
		sleep 0.1
	done
}

# lab_start_mapper [EXTRA ARGS...]: the mapper on the game-server host.
lab_start_mapper() {
	lab_spawn mapper "$LAB_NS_GS" "$KM_MAPPER" --interface gs0 \
		--address "$LAB_GS" --edge "$LAB_EDGE" --default-edge "$LAB_EDGE" \
		--service "$LAB_SVC_NET" --pin-root "$LAB_PIN_GS" "$@"
	_lab_wait_ready mapper ': ready'
}

# km ARGS...: the CLI on the edge's pins.
km() { "$KM_CLI" --pin-root "$LAB_PIN_EDGE" "$@"; }

# lab_stat REASON: packets counted under a verdict (km_reason_name()).
lab_stat() {
	km --json status | jq -r --arg r "$1" '.verdicts[$r].packets // 0'
}

# lab_counter NAME: an event counter (km_counter_name()).
lab_counter() {
	km --json status | jq -r --arg c "$1" '.counters[$c] // 0'
}

# lab_map_fill MAP: "entries max_entries" of a pinned map (km_...).
lab_map_fill() {
	km --json status | jq -r --arg m "$1" '"\(.maps[$m].entries) \(.maps[$m].max_entries)"'
}

# ---- traffic --------------------------------------------------------------

# lab_flow NS SRC DST:PORT RATE SECONDS: a kmflow client; prints its JSON.
lab_flow() {
	lab_exec "$1" "$KM_FLOW" client --bind "$2" --to "$3" --rate "$4" \
		--duration "$5"
}

# lab_flow_start NAME NS SRC DST:PORT RATE SECONDS: the same in the
# background; lab_flow_wait NAME waits for it (in this shell, not in a
# $(...)), then lab_flow_json NAME prints its JSON.
lab_flow_start() {
	local name=$1 ns=$2
	lab_spawn "$name" "$ns" "$KM_FLOW" client --bind "$3" --to "$4" \
		--rate "$5" --duration "$6"
}

lab_flow_wait() {
	local pid=${LAB_PIDS[$1]:-}
	[[ -n $pid ]] || lab_fail "no flow named $1"
	wait "$pid" || lab_fail "flow $1 failed: $(cat "$LAB_DIR/$1.log")"
	unset "LAB_PIDS[$1]"
}

lab_flow_json() { grep '^{' "$LAB_DIR/$1.log" | tail -n 1; }

# lab_flood FLOODGEN-ARGS...: floodgen from the router towards the edge
# (frames leave rt-ed, addressed to ed0); prints its JSON.
lab_flood() {
	local mac
	mac=$(ip -n "$LAB_NS_ED" -j link show dev ed0 | jq -r '.[0].address')
	lab_exec "$LAB_NS_RT" "$KM_FLOODGEN" --interface rt-ed --dst-mac "$mac" "$@"
}

# lab_json_get JSON FIELD
lab_json_get() { jq -r ".$2" <<<"$1"; }

lab_assert() { # DESCRIPTION TEST-ARGS...
	local what=$1
	shift
	if test "$@"; then
		lab_log "ok: $what"
	else
		lab_fail "$what (test $*)"
	fi
}

# ---- teardown ---------------------------------------------------------------

lab_teardown() {
	local rc=$? name ns pid left=0

	trap - EXIT INT TERM
	((rc)) && LAB_FAILED=1
	for name in "${!LAB_PIDS[@]}"; do
		lab_stop "$name" TERM
	done
	# Only --detach removes a pinned link; ask the loader and the mapper
	# to do it properly, then remove whatever remains.
	if [[ -e $LAB_PIN_EDGE/km_link && -x $KM_LOADER ]]; then
		timeout 10 nsenter --net="/run/netns/$LAB_NS_ED" -- "$KM_LOADER" \
			--interface ed0 --pin-root "$LAB_PIN_EDGE" --detach \
			>>"$LAB_DIR/teardown.log" 2>&1
	fi
	if [[ -d $LAB_PIN_GS && -x $KM_MAPPER ]] && ip netns list | grep -q "^$LAB_NS_GS\b"; then
		timeout 10 nsenter --net="/run/netns/$LAB_NS_GS" -- "$KM_MAPPER" \
			--interface gs0 --pin-root "$LAB_PIN_GS" --detach \
			>>"$LAB_DIR/teardown.log" 2>&1
	fi
	for ns in "${LAB_NAMESPACES[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$LAB_PIN"

	# Leftover check: a lab that leaks breaks the next one. A spawned pid
	# leads its own process group (setsid): nothing of it may remain.
	for pid in "${LAB_SPAWNED[@]}"; do
		if _lab_group_alive "$pid"; then
			lab_log "LEFTOVER process(es) of pid $pid: $(pgrep -a -g "$pid" | tr '\n' ' ')"
			left=1
		fi
	done
	if ip netns list | grep -q "^$LAB_PREFIX-"; then
		lab_log "LEFTOVER namespaces: $(ip netns list | grep "^$LAB_PREFIX-" | tr '\n' ' ')"
		left=1
	fi
	if [[ -e $LAB_PIN ]]; then
		lab_log "LEFTOVER pins under $LAB_PIN"
		left=1
	fi
	if ((LAB_FAILED || left)) || [[ $LAB_KEEP_LOGS == 1 ]]; then
		for name in "$LAB_DIR"/*.log; do
			[[ -s $name ]] || continue
			echo "---- $(basename "$name")" >&2
			tail -n 40 "$name" >&2
		done
		lab_log "logs kept in $LAB_DIR"
	else
		rm -rf "$LAB_DIR"
	fi
	if ((left)); then
		rc=1
	else
		lab_log "lab $LAB_PREFIX removed"
	fi
	exit $rc
}
