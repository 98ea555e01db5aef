/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Rate limits: GCRA buckets (theoretical arrival times in ns) for packets
 * and bytes, with a block time per bucket. Three classes (docs/design.md
 * "Rate limits and validated players"):
 *  - validated players: their own bucket inside km_validated;
 *  - other sources: one bucket per (service, source prefix, kind) in
 *    km_rl_src, plus the per-CPU service budget in km_rl_total.
 * The data plane never writes km_blocks: a bucket's block time refuses only
 * that bucket, so spoofing a player cannot get the player blocked.
 */
#ifndef KM_RATELIMIT_BPF_H
#define KM_RATELIMIT_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "kilimanjaro_abi.h"
#include "lists.bpf.h"
#include "maps.bpf.h"
#include "pkt.bpf.h"
#include "stats.bpf.h"
#include "time.bpf.h"

enum km_rl_kind { KM_RL_KIND_SERVICE = 0, KM_RL_KIND_ICMP = 1 };

enum km_rl_result { KM_RL_PASS = 0, KM_RL_REJECT, KM_RL_BLOCKED, KM_RL_RECHECK };

#define KM_RL_PREFIX_DEFAULT 24

static __always_inline int km_limit_on(const struct km_limit *l)
{
	return l->pps || l->bps;
}

/* Whether unvalidated traffic of the service has any limit: without one
 * the allow list cannot change the verdict and is not looked up. */
static __always_inline int km_unvalidated_limited(const struct km_svc_cfg *sc)
{
	return km_limit_on(&sc->unvalidated) || km_limit_on(&sc->total);
}

/* Byte bursts are clamped so burst * 1e9 stays within 64 bits. */
#define KM_BURST_BYTES_MAX (1ULL << 34)

/* x <= floor(num / den), den > 0. Equal to x * den <= num, which needs no
 * division (a large quotient is the dearest instruction of a bucket) when
 * the product cannot overflow; den == 1 is folded away by the compiler. */
static __always_inline int km_within(__u64 x, __u64 num, __u64 den)
{
	if (den == 1)
		return x <= num;
	if ((x <= 0xffffffffULL && den <= 0xffffffffULL) ||
	    (x <= 0xffffffULL && den <= 0xffffffffffULL))
		return x * den <= num;
	return x <= num / den;
}

/* One dimension of GCRA: the theoretical arrival time after this packet
 * (cost ns after the later of tat and now) must stay within the horizon,
 * hnum / hden ns (rounded down).
 * 1: conforms at now; 0: not even `slack` ns later; -1: only later. */
static __always_inline int km_gcra(__u64 tat, __u64 cost, __u64 hnum,
				   __u64 hden, __u64 now, __u64 slack,
				   __u64 *next)
{
	__u64 late = now + slack;

	*next = (tat > now ? tat : now) + cost;
	if (km_within(*next - now, hnum, hden))
		return 1;
	return km_within((tat > late ? tat : late) + cost - late, hnum, hden) ?
		       -1 : 0;
}

/* The arrival times a bucket takes when the packet is admitted. */
struct km_gcra_next {
	__u64 tat_pkts;
	__u64 tat_bytes;
};

/* Where a bucket is evaluated: the time, how far it may lag the real one,
 * and the packet's bytes. */
struct km_admit_at {
	__u64 now;
	__u64 slack;
	__u32 bytes;
	__u32 pad;
};

/*
 * GCRA: a packet conforms when the bucket's theoretical arrival time after
 * it stays within the burst horizon. Both dimensions must conform; only then
 * are both advanced, so a rejected packet costs the bucket nothing.
 * Divisions by a configured rate are the expensive part: one per dimension
 * for the packet's cost; the byte horizon is compared by multiplying
 * (km_within) unless the product could overflow.
 * `now` may lag the real time by up to `slack` (the coarse clock): a packet
 * that conforms at `now` conforms at the real time too (later is never
 * worse); one refused at `now` but not `slack` later is KM_RL_RECHECK, for
 * the caller to decide at the precise time. Admitting at the lagging time
 * anchors an idle bucket up to one tick early: at most one tick's worth of
 * rate on top of the burst (docs/design.md "Rate limits").
 */
static __always_inline int km_bucket_admit(const struct km_bucket *b,
					   const struct km_limit *l,
					   const struct km_admit_at *at,
					   struct km_gcra_next *n)
{
	__u64 tp = 0, tb = 0, now = at->now, slack = at->slack;
	__u32 bytes = at->bytes;
	int recheck = 0, c;

	if (now < b->blocked_until)
		return now + slack < b->blocked_until ? KM_RL_BLOCKED
						      : KM_RL_RECHECK;
	if (l->pps) {
		/* A division is the dearest instruction of a bucket:
		 * lib/maps.c writes its result with the limit. */
		__u64 t = l->ns_per_pkt ?: KM_NSEC_PER_SEC / l->pps;
		__u64 burst = l->burst_pkts ? l->burst_pkts : 1;

		c = km_gcra(b->tat_pkts, t, t * burst, 1, now, slack, &tp);
		if (!c)
			return KM_RL_REJECT;
		recheck |= c < 0;
	}
	if (l->bps) {
		__u64 burst = l->burst_bytes < KM_BURST_BYTES_MAX ?
				      l->burst_bytes : KM_BURST_BYTES_MAX;

		c = km_gcra(b->tat_bytes,
			    (__u64)bytes * KM_NSEC_PER_SEC / l->bps,
			    burst * KM_NSEC_PER_SEC, l->bps, now, slack, &tb);
		if (!c)
			return KM_RL_REJECT;
		recheck |= c < 0;
	}
	if (recheck)
		return KM_RL_RECHECK;
	n->tat_pkts = tp;
	n->tat_bytes = tb;
	return KM_RL_PASS;
}

static __always_inline void km_bucket_commit(struct km_bucket *b,
					     const struct km_limit *l,
					     const struct km_gcra_next *n)
{
	if (l->pps)
		b->tat_pkts = n->tat_pkts;
	if (l->bps)
		b->tat_bytes = n->tat_bytes;
}

/* The rare second evaluation at the precise time, as a global function:
 * verified once instead of at every bucket of the program (inlined, that
 * copy made loading the program three times slower), and called only
 * when the coarse clock's lag matters. */
__noinline int km_bucket_admit_again(const struct km_bucket *b,
				     const struct km_limit *l,
				     const struct km_admit_at *at,
				     struct km_gcra_next *n)
{
	if (!b || !l || !at || !n)
		return KM_RL_REJECT;
	return km_bucket_admit(b, l, at, n);
}

/* km_bucket_admit on the coarse clock, and on the precise one only when
 * the coarse clock's lag could change the verdict. Nothing is written. */
static __always_inline int km_admit_peek(struct km_pkt *p,
					 const struct km_bucket *b,
					 const struct km_limit *l,
					 struct km_gcra_next *n)
{
	struct km_admit_at at = {
		.now = km_pkt_now_coarse(p),
		.slack = p->flags & KM_PF_PRECISE ? 0 : KM_COARSE_SLACK_NS,
		.bytes = p->ip_len,
	};
	int rl;

	rl = km_bucket_admit(b, l, &at, n);
	if (rl != KM_RL_RECHECK)
		return rl;
	at.now = km_pkt_now_precise(p);
	at.slack = 0;
	return km_bucket_admit_again(b, l, &at, n);
}

/* km_admit_peek, and the bucket advanced when the packet is admitted. */
static __always_inline int km_admit(struct km_pkt *p, struct km_bucket *b,
				    const struct km_limit *l)
{
	struct km_gcra_next n;
	int rl = km_admit_peek(p, b, l, &n);

	if (rl == KM_RL_PASS)
		km_bucket_commit(b, l, &n);
	return rl;
}

/* Verdict for a bucket that did not admit the packet; a first rejection
 * starts the block time (when the limit has one) and reports it. */
static __always_inline int km_rl_reject(struct km_pkt *p, struct km_bucket *b,
					const struct km_limit *l, int rl,
					__u32 id, __be32 addr, __u8 plen)
{
	__u64 until;

	if (rl == KM_RL_BLOCKED)
		return KM_R_DROP_RL_BLOCKED;
	if (!l->block_ms)
		return KM_R_DROP_RATELIMIT;
	until = p->now + (__u64)l->block_ms * KM_NSEC_PER_MSEC;
	b->blocked_until = until;
	km_count(KM_C_BLOCK_ADDED);
	km_event_block(id, addr, plen, until, p->now);
	return KM_R_DROP_RATELIMIT;
}

/* The service-wide budget of unvalidated traffic (per-CPU share), checked
 * before anything is looked up for the source and charged only once the
 * packet has passed the source's own bucket. It has no block time:
 * blocking a whole service would be the attacker's win. */
struct km_total {
	struct km_bucket *b; /* NULL: no budget */
	const struct km_limit *l;
	struct km_gcra_next n;
};

static __always_inline int km_total_peek(struct km_pkt *p, __u32 id,
					 const struct km_limit *l,
					 struct km_total *t)
{
	t->b = NULL;
	t->l = l;
	if (!l || !km_limit_on(l))
		return KM_CONTINUE;
	t->b = bpf_map_lookup_elem(&km_rl_total, &id);
	if (!t->b)
		return KM_R_DROP_INTERNAL;
	if (km_admit_peek(p, t->b, l, &t->n) != KM_RL_PASS)
		return KM_R_DROP_SVC_LIMIT;
	return KM_CONTINUE;
}

static __always_inline void km_total_charge(const struct km_total *t)
{
	if (t->b)
		km_bucket_commit(t->b, t->l, &t->n);
}

static __always_inline __u8 km_rl_prefix_len(const struct km_config *cfg)
{
	__u8 plen = cfg->rl_prefix_len;

	if (!plen)
		return KM_RL_PREFIX_DEFAULT;
	return plen > 32 ? 32 : plen;
}

/*
 * The service budget (`total`, NULL for ICMP) first, then the per-prefix
 * bucket of an unvalidated source. While the budget is spent nothing is
 * looked up or inserted for the source (a flood of new sources costs no
 * per-source state), and the verdict is DROP_SVC_LIMIT even for a source
 * over its own limit. The budget is charged only for packets that pass.
 */
static __always_inline int km_limit_prefix(struct km_pkt *p, __u32 id,
					   __u8 kind, const struct km_limit *l,
					   const struct km_limit *total)
{
	struct km_bucket *b, nb = {};
	struct km_rl_key k = {};
	struct km_total t;
	__u8 plen;
	int r, rl;

	r = km_total_peek(p, id, total, &t);
	if (r != KM_CONTINUE)
		return r;
	if (!km_limit_on(l)) {
		km_total_charge(&t);
		return KM_CONTINUE;
	}
	plen = km_rl_prefix_len(p->cfg);
	k.service_id = id;
	k.prefix = p->saddr & bpf_htonl(~0U << (32 - plen));
	k.kind = kind;
	b = bpf_map_lookup_elem(&km_rl_src, &k);
	if (b) {
		rl = km_admit(p, b, l);
		if (rl != KM_RL_PASS)
			return km_rl_reject(p, b, l, rl, id, k.prefix, plen);
		km_total_charge(&t);
		return KM_CONTINUE;
	}
	rl = km_admit(p, &nb, l);
	if (rl != KM_RL_PASS)
		r = km_rl_reject(p, &nb, l, rl, id, k.prefix, plen);
	else
		km_total_charge(&t);
	if (bpf_map_update_elem(&km_rl_src, &k, &nb, BPF_ANY))
		km_count(KM_C_INSERT_FAILED);
	else
		km_count(KM_C_RL_NEW);
	return r;
}

/* The validated entry of (service, source), NULL when there is none or it
 * has been idle longer than validated_idle_ns (then it is removed). A
 * miss is remembered per CPU for KM_SEEN_NS (km_unval_seen). */
static __always_inline struct km_validated *km_validated_get(struct km_pkt *p,
							     __u32 id)
{
	struct km_validated_key k = { .service_id = id, .player = p->saddr };
	__u32 slot = km_seen_slot(id, p->saddr);
	__u64 idle = p->cfg->validated_idle_ns;
	struct km_validated *v;
	struct km_seen *s;
	__u64 now;

	/* Never validated (the common case of a spoofed flood): neither the
	 * LRU miss (a cold hash bucket) nor the per-CPU miss cache. */
	if (!km_val_filter_may(id, p->saddr))
		return NULL;
	now = km_pkt_now_coarse(p);
	/* A source this CPU found unvalidated a moment ago: no LRU lookup
	 * (a miss costs ~38 ns); the decap path clears the pair when it
	 * validates it. */
	s = bpf_map_lookup_elem(&km_unval_seen, &slot);
	if (km_seen_is(s, id, p->saddr, now))
		return NULL;
	v = bpf_map_lookup_elem(&km_validated, &k);
	if (v && (!idle || !km_older_than(now, v->last_seen_ns, idle)))
		return v;
	if (v) {
		bpf_map_delete_elem(&km_validated, &k);
		km_count(KM_C_VALIDATED_EXPIRED);
	}
	km_seen_set(s, id, p->saddr, now);
	return NULL;
}

/*
 * A validated player's own bucket. The allow list only matters when the
 * bucket refuses, so it is looked up only then: the verdict is the same as
 * checking it first, and the common case saves an LPM lookup. (An allowed
 * player's conforming packets do advance its own bucket, which nobody else
 * shares.)
 */
static __always_inline int km_limit_validated(struct km_pkt *p,
					      struct km_validated *v,
					      const struct km_limit *l,
					      __u32 id)
{
	int rl;

	if (!km_limit_on(l))
		return KM_CONTINUE;
	rl = km_admit(p, &v->bucket, l);
	if (rl == KM_RL_PASS || km_is_allowed(p))
		return KM_CONTINUE;
	return km_rl_reject(p, &v->bucket, l, rl, id, p->saddr, 32);
}

#endif /* KM_RATELIMIT_BPF_H */
