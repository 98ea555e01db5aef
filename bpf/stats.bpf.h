/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Accounting: one km_stats reason per packet, km_counters for events that
 * are not verdicts, per-service counters, and the event ring buffer.
 * All per-CPU: plain increments, no atomics.
 */
#ifndef KM_STATS_BPF_H
#define KM_STATS_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "kilimanjaro_abi.h"
#include "maps.bpf.h"
#include "pkt.bpf.h"

/* km_reason_action() relies on the enum being grouped: passes, then
 * forwards/replies, then drops. */
_Static_assert(KM_R_PASS_NOT_IPV4 == 0 && KM_R_PASS_FIB == 3, "pass group");
_Static_assert(KM_R_FWD_SERVICE == 4 && KM_R_TX_ICMP_ECHO == 7, "fwd group");
_Static_assert(KM_R_DROP_TRUNCATED == 8 && KM_R_DROP_INTERNAL == 22,
	       "drop group");
/* After the drops, the A2S verdicts: one pass, the others TX/redirect. */
_Static_assert(KM_R_TX_A2S_CHALLENGE == KM_R_DROP_INTERNAL + 1 &&
		   KM_R_PASS_A2S_INGEST == KM_R_MAX - 1,
	       "a2s group");

static __always_inline int km_reason_is_drop(int reason)
{
	return reason >= KM_R_DROP_TRUNCATED && reason <= KM_R_DROP_INTERNAL;
}

static __always_inline void km_count(__u32 counter)
{
	__u64 *v = bpf_map_lookup_elem(&km_counters, &counter);

	if (v)
		*v += 1;
}

/* A service matched: later verdicts of this packet count against it. */
static __always_inline void km_svc_match(struct km_pkt *p, __u32 id, int rx)
{
	p->sst = bpf_map_lookup_elem(&km_svc_stats, &id);
	if (p->sst && rx) {
		p->sst->rx_packets += 1;
		p->sst->rx_bytes += p->frame_len;
	}
}

static __always_inline void km_svc_verdict(struct km_svc_stat *s, int reason,
					   __u32 bytes)
{
	if (reason == KM_R_FWD_SERVICE) {
		s->fwd_packets += 1;
		s->fwd_bytes += bytes;
	} else if (reason == KM_R_FWD_DECAP) {
		s->ret_packets += 1;
		s->ret_bytes += bytes;
	} else if (km_reason_is_drop(reason)) {
		s->drop_packets += 1;
		s->drop_bytes += bytes;
	}
}

/* Count one verdict (a valid reason) of `bytes`: km_stats and, when the
 * packet matched a service, that service's counters. */
static __always_inline void km_count_verdict(__u32 reason, __u32 bytes,
					     struct km_svc_stat *sst)
{
	struct km_stat *st = bpf_map_lookup_elem(&km_stats, &reason);

	if (st) {
		st->packets += 1;
		st->bytes += bytes;
	}
	if (sst)
		km_svc_verdict(sst, reason, bytes);
}

/* Count the packet's one verdict and turn it into its XDP action. */
static __always_inline int km_finish(struct km_pkt *p, int reason)
{
	if (reason < 0 || reason >= KM_R_MAX)
		reason = KM_R_DROP_INTERNAL;
	km_count_verdict(reason, p->frame_len, p->sst);
	if (reason <= KM_R_PASS_FIB || reason == KM_R_PASS_A2S_INGEST)
		return XDP_PASS;
	if (km_reason_is_drop(reason))
		return XDP_DROP;
	return p->action;
}

static __always_inline struct km_event *km_event_new(__u32 type, __u32 svc_id,
						     __u64 now)
{
	struct km_event *e;

	e = bpf_ringbuf_reserve(&km_events, sizeof(*e), 0);
	if (!e) {
		km_count(KM_C_EVENT_LOST);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->type = type;
	e->service_id = svc_id;
	e->ts_ns = now;
	return e;
}

static __always_inline void km_event_punch(const struct km_punch_key *k,
					   __be32 backend, __u64 now)
{
	struct km_event *e = km_event_new(KM_EV_PUNCH_LEARNED, ~0U, now);

	if (!e)
		return;
	e->punch = *k;
	e->backend = backend;
	bpf_ringbuf_submit(e, 0);
}

static __always_inline void km_event_block(__u32 svc_id, __be32 addr,
					   __u8 prefix_len, __u64 until,
					   __u64 now)
{
	struct km_event *e = km_event_new(KM_EV_BLOCK_ADDED, svc_id, now);

	if (!e)
		return;
	e->block_addr = addr;
	e->block_prefix_len = prefix_len;
	e->block_reason = KM_BLOCK_RATELIMIT;
	e->block_until_ns = until;
	bpf_ringbuf_submit(e, 0);
}

#endif /* KM_STATS_BPF_H */
