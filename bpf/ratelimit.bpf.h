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

enum km_rl_result { KM_RL_PASS = 0, KM_RL_REJECT, KM_RL_BLOCKED };

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

/*
 * GCRA: a packet conforms when the bucket's theoretical arrival time after
 * it stays within the burst horizon. Both dimensions must conform; only then
 * are both advanced, so a rejected packet costs the bucket nothing.
 * Divisions by a configured rate are the expensive part: one per dimension
 * for the packet's cost, one for the byte horizon.
 */
static __always_inline int km_bucket_admit(struct km_bucket *b,
					   const struct km_limit *l, __u64 now,
					   __u32 bytes)
{
	__u64 tp = 0, tb = 0;

	if (now < b->blocked_until)
		return KM_RL_BLOCKED;
	if (l->pps) {
		__u64 t = KM_NSEC_PER_SEC / l->pps;
		__u64 burst = l->burst_pkts ? l->burst_pkts : 1;

		tp = (b->tat_pkts > now ? b->tat_pkts : now) + t;
		if (tp - now > t * burst)
			return KM_RL_REJECT;
	}
	if (l->bps) {
		__u64 burst = l->burst_bytes < KM_BURST_BYTES_MAX ?
				      l->burst_bytes : KM_BURST_BYTES_MAX;

		tb = (b->tat_bytes > now ? b->tat_bytes : now) +
		     (__u64)bytes * KM_NSEC_PER_SEC / l->bps;
		if (tb - now > burst * KM_NSEC_PER_SEC / l->bps)
			return KM_RL_REJECT;
	}
	if (l->pps)
		b->tat_pkts = tp;
	if (l->bps)
		b->tat_bytes = tb;
	return KM_RL_PASS;
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

/* The service-wide budget of unvalidated traffic (per-CPU share). It has
 * no block time: blocking a whole service would be the attacker's win. */
static __always_inline int km_limit_total(struct km_pkt *p, __u32 id,
					  const struct km_limit *l)
{
	struct km_bucket *b;

	if (!l || !km_limit_on(l))
		return KM_CONTINUE;
	b = bpf_map_lookup_elem(&km_rl_total, &id);
	if (!b)
		return KM_R_DROP_INTERNAL;
	if (km_bucket_admit(b, l, km_pkt_now(p), p->ip_len) != KM_RL_PASS)
		return KM_R_DROP_SVC_LIMIT;
	return KM_CONTINUE;
}

static __always_inline __u8 km_rl_prefix_len(const struct km_config *cfg)
{
	__u8 plen = cfg->rl_prefix_len;

	if (!plen)
		return KM_RL_PREFIX_DEFAULT;
	return plen > 32 ? 32 : plen;
}

/*
 * Per-prefix bucket of an unvalidated source, then the service budget
 * (`total`, NULL for ICMP). A new prefix is charged to the budget before
 * its bucket is inserted: once a flood of new sources has used the budget
 * it is dropped without inserting anything (an LRU insert is the most
 * expensive thing this program does).
 */
static __always_inline int km_limit_prefix(struct km_pkt *p, __u32 id,
					   __u8 kind, const struct km_limit *l,
					   const struct km_limit *total)
{
	struct km_bucket *b, nb = {};
	struct km_rl_key k = {};
	__u8 plen;
	int r, rl;

	if (!km_limit_on(l))
		return km_limit_total(p, id, total);
	plen = km_rl_prefix_len(p->cfg);
	k.service_id = id;
	k.prefix = p->saddr & bpf_htonl(~0U << (32 - plen));
	k.kind = kind;
	km_pkt_now(p);
	b = bpf_map_lookup_elem(&km_rl_src, &k);
	if (b) {
		rl = km_bucket_admit(b, l, p->now, p->ip_len);
		if (rl != KM_RL_PASS)
			return km_rl_reject(p, b, l, rl, id, k.prefix, plen);
		return km_limit_total(p, id, total);
	}
	r = km_limit_total(p, id, total);
	if (r != KM_CONTINUE)
		return r;
	rl = km_bucket_admit(&nb, l, p->now, p->ip_len);
	if (rl != KM_RL_PASS)
		r = km_rl_reject(p, &nb, l, rl, id, k.prefix, plen);
	if (bpf_map_update_elem(&km_rl_src, &k, &nb, BPF_ANY))
		km_count(KM_C_INSERT_FAILED);
	else
		km_count(KM_C_RL_NEW);
	return r;
}

/* The validated entry of (service, source), NULL when there is none or it
 * has been idle longer than validated_idle_ns (then it is removed). */
static __always_inline struct km_validated *km_validated_get(struct km_pkt *p,
							     __u32 id)
{
	struct km_validated_key k = { .service_id = id, .player = p->saddr };
	__u64 idle = p->cfg->validated_idle_ns;
	struct km_validated *v;

	v = bpf_map_lookup_elem(&km_validated, &k);
	if (!v || !idle)
		return v;
	if (!km_older_than(km_pkt_now(p), v->last_seen_ns, idle))
		return v;
	bpf_map_delete_elem(&km_validated, &k);
	km_count(KM_C_VALIDATED_EXPIRED);
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
	rl = km_bucket_admit(&v->bucket, l, km_pkt_now(p), p->ip_len);
	if (rl == KM_RL_PASS || km_is_allowed(p))
		return KM_CONTINUE;
	return km_rl_reject(p, &v->bucket, l, rl, id, p->saddr, 32);
}

#endif /* KM_RATELIMIT_BPF_H */
