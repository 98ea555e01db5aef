/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ICMP to a service address: echo requests are answered here (when
 * KM_CFG_F_ICMP_ECHO is set), limited per source prefix with the icmp limit
 * of the lowest service id at that address; all other ICMP is dropped.
 */
#ifndef KM_ICMP_BPF_H
#define KM_ICMP_BPF_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "kilimanjaro_abi.h"
#include "csum.bpf.h"
#include "encap.bpf.h"
#include "parse.bpf.h"
#include "lists.bpf.h"
#include "maps.bpf.h"
#include "pkt.bpf.h"
#include "ratelimit.bpf.h"

#define KM_ECHO_TTL 64

/* Turn the request into its reply in place and send it back out. */
static __always_inline int km_echo_reply(struct xdp_md *ctx, struct km_pkt *p)
{
	struct km_icmphdr *ic = p->l4;
	struct ethhdr *eth = p->eth;
	struct iphdr *ip = p->ip;
	__u8 mac[ETH_ALEN];
	__u16 old;

	if ((void *)(ic + 1) > p->data_end)
		return KM_R_DROP_TRUNCATED;
	__builtin_memcpy(mac, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, mac, ETH_ALEN);
	ip->saddr = p->daddr;
	ip->daddr = p->saddr;
	/* Swapping the addresses keeps the sum; TTL and type are patched. */
	old = *(__u16 *)&ip->ttl;
	ip->ttl = KM_ECHO_TTL;
	ip->check = km_csum_replace16(ip->check, old, *(__u16 *)&ip->ttl);
	ic->type = KM_ICMP_ECHOREPLY;
	ic->checksum = km_csum_replace16(ic->checksum,
					 bpf_htons(KM_ICMP_ECHO << 8),
					 bpf_htons(KM_ICMP_ECHOREPLY << 8));
	/* RFC 1624's update yields -0 (0x0000) when the rest of the message
	 * sums to zero (id, seq and payload all zero); receivers need +0
	 * (0xffff), which is valid for any contents. */
	if (!ic->checksum)
		ic->checksum = 0xffff;
	if (km_trim(ctx, p, sizeof(*eth) + p->ip_len))
		return KM_R_DROP_INTERNAL;
	p->action = XDP_TX;
	return KM_R_TX_ICMP_ECHO;
}

static __always_inline int km_icmp(struct xdp_md *ctx, struct km_pkt *p,
				   const struct km_svc_addr *sa)
{
	struct km_icmphdr *ic = p->l4;
	struct km_svc_cfg *sc;
	__u32 id;
	int r;

	if ((void *)(ic + 1) > p->data_end)
		return KM_R_DROP_TRUNCATED;
	if (ic->type != KM_ICMP_ECHO || ic->code != 0 ||
	    !(p->cfg->flags & KM_CFG_F_ICMP_ECHO))
		return KM_R_DROP_ICMP;
	r = km_check_source(p);
	if (r != KM_CONTINUE)
		return r;
	id = sa->icmp_service_id;
	sc = bpf_map_lookup_elem(&km_svc_cfg, &id);
	if (!sc)
		return KM_R_DROP_INTERNAL;
	if (km_limit_on(&sc->icmp) && !km_is_allowed(p)) {
		r = km_limit_prefix(p, id, KM_RL_KIND_ICMP, &sc->icmp, NULL);
		if (r != KM_CONTINUE)
			return r;
	}
	return km_echo_reply(ctx, p);
}

#endif /* KM_ICMP_BPF_H */
