/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Source lists: operator blocks (timed), deny and allow prefixes. The
 * prefix lists are double-buffered; km_config.active_lists picks the pair
 * (trie and bitmap), so a reload never shows packets a half-applied list.
 * The bitmap answers most addresses from one inlined array lookup; the
 * trie only for /24s that hold a longer prefix (or a bitmap not built).
 */
#ifndef KM_LISTS_BPF_H
#define KM_LISTS_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "kilimanjaro_abi.h"
#include "maps.bpf.h"
#include "pkt.bpf.h"
#include "stats.bpf.h"

static __always_inline int km_check_block(struct km_pkt *p)
{
	struct km_block *b;

	/* Operator blocks are rare: without any, no lookup (an LRU miss
	 * costs more than the rest of a deny verdict). */
	if (p->cfg->lib_flags & KM_LIB_F_NO_BLOCKS)
		return KM_CONTINUE;
	b = bpf_map_lookup_elem(&km_blocks, &p->saddr);
	if (!b)
		return KM_CONTINUE;
	/* The coarse clock may hold a block up to one tick longer. */
	if (km_pkt_now_coarse(p) < b->until_ns)
		return KM_R_DROP_BLOCKED;
	bpf_map_delete_elem(&km_blocks, &p->saddr);
	km_count(KM_C_BLOCK_EXPIRED);
	return KM_CONTINUE;
}

/* The /24's state in a list's bitmap: an inlined array lookup. */
static __always_inline __u32 km_bm_state(void *bm, __be32 saddr)
{
	__u32 n = bpf_ntohl(saddr) >> 8, w = n >> 5;
	__u64 *v = bpf_map_lookup_elem(bm, &w);

	if (!v)
		return KM_BM_TRIE;
	return (*v >> ((n & 31) * 2)) & KM_BM_MASK;
}

static __always_inline int km_list_hit(struct km_pkt *p, void *bm, void *trie)
{
	struct km_prefix_key k = { .prefixlen = 32, .addr = p->saddr };
	__u32 st = km_bm_state(bm, p->saddr);

	if (st == KM_BM_NONE)
		return 0;
	if (st == KM_BM_ALL)
		return 1;
	return bpf_map_lookup_elem(trie, &k) != NULL;
}

/*
 * One call site per map: a lookup whose map pointer depends on a branch
 * makes the verifier fall back to the generic (indirect) helper path (and
 * an array lookup would not be inlined). The barrier after one of the calls
 * keeps clang from merging both into one with a selected map pointer.
 */
#define KM_LIST_HIT(p, list)                                                   \
	({                                                                     \
		int __hit;                                                     \
		if ((p)->cfg->active_lists) {                                  \
			__hit = km_list_hit(p, &list##_bm_b, &list##_b);       \
		} else {                                                       \
			__hit = km_list_hit(p, &list##_bm_a, &list##_a);       \
			asm volatile("" ::: "memory");                         \
		}                                                              \
		__hit;                                                         \
	})

static __always_inline int km_check_deny(struct km_pkt *p)
{
	if (KM_LIST_HIT(p, km_deny))
		return KM_R_DROP_DENIED;
	return KM_CONTINUE;
}

static __always_inline int km_is_allowed(struct km_pkt *p)
{
	return KM_LIST_HIT(p, km_allow);
}

/* Block list, then deny: every path that accepts traffic from outside
 * (players, punches, the edge's own addresses, ICMP) starts here. */
static __always_inline int km_check_source(struct km_pkt *p)
{
	int r = km_check_block(p);

	if (r != KM_CONTINUE)
		return r;
	return km_check_deny(p);
}

#endif /* KM_LISTS_BPF_H */
