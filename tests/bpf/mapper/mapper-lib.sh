# shellcheck shell=bash
# What the mapper's namespace tests (mapper-netns.sh, mapper-tcp-netns.sh)
# share: argument and root checks, background processes, cleanup of a
# mapper's pins, the failure report and the two-namespace veth setup.
# Sourced; expects `mapper` to be set before ml_detach is called.

# ml_start USAGE-ARGS MIN MAX ARGC: usage and root checks.
ml_start() {
	if (($4 < $2 || $4 > $3)); then
		echo "usage: $0 $1" >&2
		exit 2
	fi
	if ((EUID != 0)); then
		echo "$0: needs root (network namespaces, BPF)" >&2
		exit 1
	fi
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
}

# Background processes the cleanup stops.
pids=()
ml_kill_pids() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
}

# ml_detach NETNS IFACE PIN-ROOT: best effort, for cleanup.
ml_detach() {
	[[ -d "$3" ]] || return 0
	# shellcheck disable=SC2154 # mapper: set by the sourcing script
	nsenter --net="/run/netns/$1" "$mapper" --interface "$2" \
		--pin-root "$3" --detach >/dev/null 2>&1 || true
}

# Files fail() prints, as a glob expanded when it fails (no spaces).
ml_logs=
fail() {
	local f
	echo "FAIL: $*" >&2
	# shellcheck disable=SC2086
	for f in $ml_logs; do
		[[ -s "$f" ]] && { echo "--- $f" >&2; cat "$f" >&2; }
	done
	exit 1
}

# ml_veth NS-A IF-A NS-B IF-B: both namespaces, one veth pair between
# them, every link up.
ml_veth() {
	ip netns add "$1"
	ip netns add "$3"
	ip link add "$2" netns "$1" type veth peer name "$4" netns "$3"
	ip -n "$1" link set lo up
	ip -n "$1" link set "$2" up
	ip -n "$3" link set lo up
	ip -n "$3" link set "$4" up
}
