/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Map definitions of the XDP edge program. Names, types and layouts are the
 * contract of kilimanjaro_abi.h; sizes are the KM_DEF_* defaults, which the
 * loader may change before load. No `pinning` attribute: the loader pins
 * and reuses maps itself (docs/design.md "Pins and the link").
 */
#ifndef KM_MAPS_BPF_H
#define KM_MAPS_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "kilimanjaro_abi.h"

/* <errno.h> is not available to BPF objects. */
#define KM_EEXIST 17

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct km_config);
} km_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KM_MAX_EDGE_ADDRS);
	__type(key, __be32);
	__type(value, struct km_edge_addr);
} km_edge_addrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KM_MAX_SERVICES);
	__type(key, struct km_service_key);
	__type(value, struct km_service);
} km_services SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KM_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct km_svc_cfg);
} km_svc_cfg SEC(".maps");

/* Derived maps: at most one entry per service each. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KM_MAX_SERVICES);
	__type(key, __be32);
	__type(value, struct km_svc_addr);
} km_svc_addrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KM_MAX_SERVICES);
	__type(key, __be32);
	__type(value, __u32);
} km_backends SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KM_MAX_SERVICES);
	__type(key, struct km_backend_svc_key);
	__type(value, __u32);
} km_backend_svc SEC(".maps");

/* Twice the services: while a reload applies, the old and the new
 * services' entries both exist (docs/design.md "Derived maps"). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * KM_MAX_SERVICES);
	__type(key, struct km_svc_rev_key);
	__type(value, struct km_svc_rev);
} km_svc_rev SEC(".maps");

/* Allow and deny lists, double-buffered: km_config.active_lists picks the
 * pair packets read. */
#define KM_PREFIX_MAP(name)                                                    \
	struct {                                                               \
		__uint(type, BPF_MAP_TYPE_LPM_TRIE);                           \
		__uint(max_entries, KM_DEF_PREFIXES);                          \
		__uint(map_flags, BPF_F_NO_PREALLOC);                          \
		__type(key, struct km_prefix_key);                             \
		__type(value, struct km_prefix_val);                           \
	} name SEC(".maps")

KM_PREFIX_MAP(km_allow_a);
KM_PREFIX_MAP(km_allow_b);
KM_PREFIX_MAP(km_deny_a);
KM_PREFIX_MAP(km_deny_b);

#define KM_BITMAP_MAP(name)                                                    \
	struct {                                                               \
		__uint(type, BPF_MAP_TYPE_ARRAY);                              \
		__uint(max_entries, KM_BM_WORDS);                              \
		__uint(map_flags, BPF_F_MMAPABLE);                             \
		__type(key, __u32);                                            \
		__type(value, __u64);                                          \
	} name SEC(".maps")

KM_BITMAP_MAP(km_allow_bm_a);
KM_BITMAP_MAP(km_allow_bm_b);
KM_BITMAP_MAP(km_deny_bm_a);
KM_BITMAP_MAP(km_deny_bm_b);

/* Operator blocks only: the data plane reads and expires them, never adds. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KM_DEF_BLOCKS);
	__type(key, __be32);
	__type(value, struct km_block);
} km_blocks SEC(".maps");

/* Per-CPU LRU lists: a spoofed flood on one CPU churns only that CPU's
 * share and never the validated players (a different map). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KM_DEF_RL_SRC);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__type(key, struct km_rl_key);
	__type(value, struct km_bucket);
} km_rl_src SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KM_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct km_bucket);
} km_rl_total SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KM_DEF_VALIDATED);
	__type(key, struct km_validated_key);
	__type(value, struct km_validated);
} km_validated SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KM_DEF_PUNCHES);
	__type(key, struct km_punch_key);
	__type(value, struct km_punch);
} km_punches SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KM_FIB_SLOTS);
	__type(key, __u32);
	__type(value, struct km_fib_entry);
} km_fib_cache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KM_SVC_CACHE_SLOTS);
	__type(key, __u32);
	__type(value, struct km_svc_cached);
} km_svc_cache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KM_SVC_CACHE_SLOTS);
	__type(key, __u32);
	__type(value, struct km_rev_cached);
} km_rev_cache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KM_SEEN_SLOTS);
	__type(key, __u32);
	__type(value, struct km_seen);
} km_val_seen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KM_SEEN_SLOTS);
	__type(key, __u32);
	__type(value, struct km_seen);
} km_unval_seen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KM_VAL_FILTER_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} km_val_filter SEC(".maps");

/* Bit of (service id, player) in km_val_filter: word bit >> 6, bit & 63. */
static __always_inline __u32 km_val_filter_bit(__u32 id, __be32 player)
{
	return ((player ^ (id << 20)) * 0x9e3779b1U) >>
	       (32 - KM_VAL_FILTER_BITS);
}

/* 0 only when (id, player) was never found or inserted in km_validated by
 * the decap path since km_val_filter was created. */
static __always_inline int km_val_filter_may(__u32 id, __be32 player)
{
	__u32 bit = km_val_filter_bit(id, player), word = bit >> 6;
	__u64 *w = bpf_map_lookup_elem(&km_val_filter, &word);

	return !w || (*w & (1ULL << (bit & 63)));
}

static __always_inline void km_val_filter_set(__u32 id, __be32 player)
{
	__u32 bit = km_val_filter_bit(id, player), word = bit >> 6;
	__u64 *w = bpf_map_lookup_elem(&km_val_filter, &word);
	__u64 m = 1ULL << (bit & 63);

	/* Atomic: a plain read-modify-write could lose another CPU's bit,
	 * which would hide a validated player. */
	if (w && !(*w & m))
		__sync_fetch_and_or(w, m);
}

static __always_inline __u32 km_seen_slot(__u32 id, __be32 player)
{
	return ((player ^ (id << 20)) * 0x9e3779b1U) >>
	       (32 - __builtin_ctz(KM_SEEN_SLOTS));
}

static __always_inline int km_seen_is(const struct km_seen *s, __u32 id,
				      __be32 player, __u64 now)
{
	return s && s->player == player && s->service_id == id &&
	       now < s->until_ns;
}

static __always_inline void km_seen_set(struct km_seen *s, __u32 id,
					__be32 player, __u64 now)
{
	if (!s)
		return;
	s->player = player;
	s->service_id = id;
	s->until_ns = now + KM_SEEN_NS;
}

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KM_STATS_SLOTS);
	__type(key, __u32);
	__type(value, struct km_stat);
} km_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KM_STATS_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} km_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KM_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct km_svc_stat);
} km_svc_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, KM_EVENTS_BYTES);
} km_events SEC(".maps");

/* A2S (kilimanjaro_abi.h, docs/design.md "A2S") */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KM_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct km_a2s_cfg);
} km_a2s_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct km_a2s_key);
} km_a2s_key SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, KM_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct km_a2s_entry);
} km_a2s_info SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KM_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct km_a2s_stat);
} km_a2s_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, KM_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct km_a2s_wstat);
} km_a2s_wstats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, KM_A2S_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} km_xsks SEC(".maps");

#endif /* KM_MAPS_BPF_H */
