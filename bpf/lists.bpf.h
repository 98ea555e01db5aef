/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Source lists: operator blocks (timed), deny and allow prefixes. The
 * prefix lists are double-buffered; km_config.active_lists picks the pair,
 * so a reload never shows packets a half-applied list.
 */
#ifndef KM_LISTS_BPF_H
#define KM_LISTS_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

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
	if (km_pkt_now(p) < b->until_ns)
		return KM_R_DROP_BLOCKED;
	bpf_map_delete_elem(&km_blocks, &p->saddr);
	km_count(KM_C_BLOCK_EXPIRED);
	return KM_CONTINUE;
}

/*
 * One call site per map: a lookup whose map pointer depends on a branch
 * makes the verifier fall back to the generic (indirect) helper path. The
 * barrier after one of the calls keeps clang from sinking both calls into
 * one with a selected map pointer.
 */
#define KM_LIST_LOOKUP(p, list)                                                \
	({                                                                     \
		struct km_prefix_key __k = { .prefixlen = 32,                  \
					     .addr = (p)->saddr };             \
		void *__v;                                                     \
		if ((p)->cfg->active_lists) {                                  \
			__v = bpf_map_lookup_elem(&list##_b, &__k);            \
		} else {                                                       \
			__v = bpf_map_lookup_elem(&list##_a, &__k);            \
			asm volatile("" ::: "memory");                         \
		}                                                              \
		__v;                                                           \
	})

static __always_inline int km_check_deny(struct km_pkt *p)
{
	if (KM_LIST_LOOKUP(p, km_deny))
		return KM_R_DROP_DENIED;
	return KM_CONTINUE;
}

static __always_inline int km_is_allowed(struct km_pkt *p)
{
	return KM_LIST_LOOKUP(p, km_allow) != NULL;
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
