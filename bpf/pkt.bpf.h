/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Per-packet context passed down the pipeline. Every stage returns either a
 * final enum km_reason or KM_CONTINUE; the entry point counts the reason
 * once and turns it into an XDP action.
 */
#ifndef KM_PKT_BPF_H
#define KM_PKT_BPF_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>

#include "kilimanjaro_abi.h"
#include "time.bpf.h"

#define KM_CONTINUE (-1)

enum km_pkt_flag {
	KM_PF_FRAGMENT = 0x1, /* MF set or fragment offset != 0 */
	KM_PF_OPTIONS = 0x2,  /* IHL > 5 */
	KM_PF_A2S = 0x4,      /* UDP payload is an A2S request (A2S cache) */
	KM_PF_PRECISE = 0x8,  /* `now` is from the precise clock */
};

struct km_pkt {
	/* Valid until the first bpf_xdp_adjust_head/tail, which only the
	 * last stage of a path calls. */
	struct ethhdr *eth;
	struct iphdr *ip;
	void *l4;       /* L4 header, checked for its minimum size */
	void *data_end;
	struct km_config *cfg;
	struct km_svc_stat *sst; /* service the packet matched, or NULL */
	__u64 now;               /* 0 until km_pkt_now_*() */
	__u32 frame_len;         /* as received */
	__u32 action;            /* XDP action of FWD and TX verdicts */
	__be32 saddr;
	__be32 daddr;
	__be16 sport;            /* 0 unless UDP/TCP */
	__be16 dport;
	__u16 ip_len;            /* tot_len, host order */
	__u8 ip_hlen;            /* bytes */
	__u8 proto;
	__u8 flags;              /* enum km_pkt_flag */
	__u8 a2s_type;           /* 0x54, 0x55, 0x56 when KM_PF_A2S */
	__u8 pad[2];
};

/* Time read lazily: paths that never compare times never pay for the
 * clock, and no path reads it twice. The coarse clock (a per-CPU memo,
 * ~3 ns, less than a tick behind) serves everything; the precise one
 * (~37 ns) is read only when a rate-limit decision depends on the
 * difference (ratelimit.bpf.h). Once read, the precise time replaces the
 * coarse one for the rest of the packet. */
static __always_inline __u64 km_pkt_now_coarse(struct km_pkt *p)
{
	if (!p->now)
		p->now = km_now_coarse(p->cfg);
	return p->now;
}

static __always_inline __u64 km_pkt_now_precise(struct km_pkt *p)
{
	if (!(p->flags & KM_PF_PRECISE)) {
		p->now = km_now(p->cfg);
		p->flags |= KM_PF_PRECISE;
	}
	return p->now;
}

/* now - then > span, for stamps that may lie ahead of now (a coarse or a
 * test clock) and spans up to ~0 ("never"). */
static __always_inline int km_older_than(__u64 now, __u64 then, __u64 span)
{
	return now > then && now - then > span;
}

#endif /* KM_PKT_BPF_H */
