// SPDX-License-Identifier: GPL-2.0-only
/*
 * `kmbench --diagnose`: one operation per program, on Kilimanjaro's own maps
 * (kmbench reuses their fds before load), so that its cost is this
 * program's time minus the empty program's. The keys are the ones the
 * forward and flood scenarios use; each program returns XDP_PASS and leaves
 * the packet alone, so `repeat` measures the same operation every time.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "bench_abi.h"
#include "kilimanjaro_abi.h"
#include "siphash.bpf.h"

struct cost_cfg cfg;
__u64 seq;
__u64 fib_failed;
__u64 store_failed;

/* kmbench gives it the fd of the active deny trie (km_deny_a or _b). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct km_prefix_key);
	__type(value, struct km_prefix_val);
} km_deny_a SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, struct km_service_key);
	__type(value, struct km_service);
} km_services SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct km_svc_cfg);
} km_svc_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1);
	__type(key, __be32);
	__type(value, struct km_block);
} km_blocks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1);
	__type(key, struct km_validated_key);
	__type(value, struct km_validated);
} km_validated SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__type(key, struct km_rl_key);
	__type(value, struct km_bucket);
} km_rl_src SEC(".maps");

SEC("xdp")
int cost_ktime(struct xdp_md *ctx)
{
	seq += bpf_ktime_get_ns() & 1;
	return XDP_PASS;
}

SEC("xdp")
int cost_ktime_coarse(struct xdp_md *ctx)
{
	seq += bpf_ktime_get_coarse_ns() & 1;
	return XDP_PASS;
}

SEC("xdp")
int cost_lpm_miss(struct xdp_md *ctx)
{
	struct km_prefix_key k = {.prefixlen = 32, .addr = cfg.player};

	bpf_map_lookup_elem(&km_deny_a, &k);
	return XDP_PASS;
}

SEC("xdp")
int cost_lpm_hit(struct xdp_md *ctx)
{
	struct km_prefix_key k = {.prefixlen = 32, .addr = cfg.denied};

	bpf_map_lookup_elem(&km_deny_a, &k);
	return XDP_PASS;
}

SEC("xdp")
int cost_lpm_flood(struct xdp_md *ctx)
{
	struct km_prefix_key k = {
	    .prefixlen = 32,
	    .addr = __builtin_bswap32(cfg.flood_base +
				      (__u32)(seq++ & cfg.flood_mask)),
	};

	bpf_map_lookup_elem(&km_deny_a, &k);
	return XDP_PASS;
}

SEC("xdp")
int cost_hash_hit(struct xdp_md *ctx)
{
	bpf_map_lookup_elem(&km_services, &cfg.svc);
	return XDP_PASS;
}

/* The tick clock: the verifier inlines this helper into one load. */
SEC("xdp")
int cost_jiffies(struct xdp_md *ctx)
{
	seq += bpf_jiffies64() & 1;
	return XDP_PASS;
}

SEC("xdp")
int cost_array_hit(struct xdp_md *ctx)
{
	__u32 id = 0;

	bpf_map_lookup_elem(&km_svc_cfg, &id);
	return XDP_PASS;
}

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} cost_pcpu SEC(".maps");

/* A per-CPU array hit, read and written: what each of the program's
 * per-CPU caches and counters costs. */
SEC("xdp")
int cost_percpu_hit(struct xdp_md *ctx)
{
	__u32 k = 7;
	__u64 *v = bpf_map_lookup_elem(&cost_pcpu, &k);

	if (v)
		*v += 1;
	return XDP_PASS;
}

/* The decap scenario's player: validated, so always a hit. */
SEC("xdp")
int cost_lru_hit(struct xdp_md *ctx)
{
	struct km_validated_key k = {.service_id = cfg.fwd_id,
				     .player = cfg.validated};

	bpf_map_lookup_elem(&km_validated, &k);
	return XDP_PASS;
}

/* The operator block list, empty in the bench as on most edges: what
 * every packet pays to learn that. */
SEC("xdp")
int cost_blocks_empty(struct xdp_md *ctx)
{
	bpf_map_lookup_elem(&km_blocks, &cfg.player);
	return XDP_PASS;
}

/* A new source every packet, as in the flood: lookups that miss. */
SEC("xdp")
int cost_lru_miss(struct xdp_md *ctx)
{
	struct km_rl_key k = {
	    .service_id = cfg.flood_id,
	    .prefix = __builtin_bswap32(cfg.flood_base +
					(__u32)(seq++ & cfg.flood_mask)),
	};

	bpf_map_lookup_elem(&km_rl_src, &k);
	return XDP_PASS;
}

/* ... and inserting their state (each insert evicts one). */
SEC("xdp")
int cost_lru_insert(struct xdp_md *ctx)
{
	struct km_rl_key k = {
	    .service_id = cfg.flood_id,
	    .prefix = __builtin_bswap32(cfg.flood_base +
					(__u32)(seq++ & cfg.flood_mask)),
	};
	struct km_bucket b = {};

	bpf_map_update_elem(&km_rl_src, &k, &b, BPF_ANY);
	return XDP_PASS;
}

SEC("xdp")
int cost_fib(struct xdp_md *ctx)
{
	struct bpf_fib_lookup f = {
	    .family = 2,      /* AF_INET */
	    .l4_protocol = 4, /* IPIP */
	    .tot_len = 134,
	    .ifindex = ctx->ingress_ifindex,
	    .ipv4_src = cfg.edge,
	    .ipv4_dst = cfg.backend,
	};

	if (bpf_fib_lookup(ctx, &f, sizeof(f), 0) != BPF_FIB_LKUP_RET_SUCCESS)
		fib_failed++;
	return XDP_PASS;
}

/* One 64-bit division by a value the verifier cannot know, as GCRA does
 * per limit (1e9 / pps, bytes * 1e9 / bps, ...). Chained, so they do not
 * overlap; the program does four, kmbench reports a quarter. */
SEC("xdp")
int cost_div64(struct xdp_md *ctx)
{
	__u64 x = 1000000000000ULL + seq;
	__u64 d = cfg.divisor;

	x = x / d + 1000000000000ULL;
	x = x / d + 1000000000000ULL;
	x = x / d + 1000000000000ULL;
	x = x / d;
	seq += x & 1;
	return XDP_PASS;
}

SEC("xdp")
int cost_adjust_head(struct xdp_md *ctx)
{
	if (bpf_xdp_adjust_head(ctx, 0))
		return XDP_ABORTED;
	return XDP_PASS;
}

/* One SipHash-2-4 of 16 bytes (one A2S challenge), the input new every
 * time so that nothing is computed once for all. */
SEC("xdp")
int cost_siphash(struct xdp_md *ctx)
{
	seq += km_siphash16(cfg.sip_k0, cfg.sip_k1, seq, cfg.sip_k1) & 1;
	seq++;
	return XDP_PASS;
}

SEC("xdp")
int cost_adjust_tail(struct xdp_md *ctx)
{
	if (bpf_xdp_adjust_tail(ctx, 0))
		return XDP_ABORTED;
	return XDP_PASS;
}

/* 150 bytes, about a cached A2S_INFO answer. */
__u8 store_src[150];

/* bpf_xdp_store_bytes of 150 bytes into the 128-byte frame: room made at
 * the head and given back, two adjust_head calls kmbench takes out. */
SEC("xdp")
int cost_store_bytes_150(struct xdp_md *ctx)
{
	if (bpf_xdp_adjust_head(ctx, -22))
		return XDP_ABORTED;
	if (bpf_xdp_store_bytes(ctx, 0, store_src, sizeof(store_src)))
		store_failed++;
	if (bpf_xdp_adjust_head(ctx, 22))
		return XDP_ABORTED;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
