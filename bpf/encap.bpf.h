/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Sending: the next hop (FIB cache, else bpf_fib_lookup; always before
 * the packet is touched, so a failure hands the kernel the packet as
 * received), IPIP encapsulation to a backend, and the choice between
 * XDP_TX and redirect.
 */
#ifndef KM_ENCAP_BPF_H
#define KM_ENCAP_BPF_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "kilimanjaro_abi.h"
#include "csum.bpf.h"
#include "maps.bpf.h"
#include "parse.bpf.h"
#include "pkt.bpf.h"

#define KM_AF_INET 2
#define KM_OUTER_TTL 64

/* Where a packet goes: the FIB's answer, from km_fib_cache or the helper.
 * mtu and expires_ns let a cache further up (the decap fast path) keep the
 * answer no longer than km_fib_cache would; expires_ns 0: keep nothing. */
struct km_nexthop {
	__u32 ifindex;
	__u8 smac[ETH_ALEN];
	__u8 dmac[ETH_ALEN];
	__u16 mtu;
	__u64 expires_ns;
};

_Static_assert((KM_FIB_SLOTS & (KM_FIB_SLOTS - 1)) == 0, "power of two");
#define KM_FIB_SHIFT (32 - __builtin_ctz(KM_FIB_SLOTS))

/* Fibonacci hashing: the top bits of the product spread neighbouring
 * addresses over the slots. */
static __always_inline __u32 km_fib_slot(__be32 dst, __u32 ifindex)
{
	return ((dst ^ (ifindex << 24)) * 0x9e3779b1U) >> KM_FIB_SHIFT;
}

static __always_inline void km_nh_from(struct km_nexthop *nh,
				       const struct km_fib_entry *e)
{
	nh->ifindex = e->ifindex_out;
	__builtin_memcpy(nh->smac, e->smac, ETH_ALEN);
	__builtin_memcpy(nh->dmac, e->dmac, ETH_ALEN);
	nh->mtu = e->mtu;
	nh->expires_ns = e->expires_ns;
}

/* Only successes are kept, with the egress MTU the helper reports, so a
 * cached route refuses an oversized packet exactly as the helper would. */
static __always_inline void km_fib_store(struct km_fib_entry *e,
					 const struct bpf_fib_lookup *fib,
					 __be32 src, __be32 dst, __u32 in,
					 __u64 now)
{
	if (!fib->mtu_result)
		return;
	e->dst = dst;
	e->src = src;
	e->ifindex_in = in;
	e->ifindex_out = fib->ifindex;
	__builtin_memcpy(e->smac, fib->smac, ETH_ALEN);
	__builtin_memcpy(e->dmac, fib->dmac, ETH_ALEN);
	e->mtu = fib->mtu_result;
	e->expires_ns = now + KM_FIB_TTL_NS;
}

/*
 * Next hop of (src, dst) for a packet of tot_len IP bytes, always before
 * the packet is touched, so a failure hands the kernel the packet as
 * received. A per-CPU, direct-mapped cache answers for KM_FIB_TTL_NS after
 * a successful lookup (the helper costs ~4 hash lookups); TOS and the L4
 * protocol are not part of the key (docs/design.md "FIB and MTU").
 */
static __always_inline int km_fib(struct xdp_md *ctx, struct km_pkt *p,
				  struct km_nexthop *nh, __be32 src,
				  __be32 dst, __u8 proto, __u16 tot_len,
				  __u8 tos)
{
	__u32 in = ctx->ingress_ifindex, slot = km_fib_slot(dst, in);
	struct bpf_fib_lookup fib;
	struct km_fib_entry *e;
	__u64 now;
	long rc;

	e = bpf_map_lookup_elem(&km_fib_cache, &slot);
	if (!e)
		return KM_R_DROP_INTERNAL;
	now = km_pkt_now_coarse(p);
	if (e->dst == dst && e->src == src && e->ifindex_in == in &&
	    now < e->expires_ns) {
		if (tot_len > e->mtu)
			return KM_R_DROP_TOO_BIG;
		km_nh_from(nh, e);
		return KM_CONTINUE;
	}
	__builtin_memset(&fib, 0, sizeof(fib));
	fib.family = KM_AF_INET;
	fib.tos = tos;
	fib.l4_protocol = proto;
	fib.tot_len = tot_len; /* host order; makes the helper check the MTU */
	fib.ifindex = in;
	fib.ipv4_src = src;
	fib.ipv4_dst = dst;
	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
	if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED)
		return KM_R_DROP_TOO_BIG;
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return KM_R_PASS_FIB;
	km_fib_store(e, &fib, src, dst, in, now);
	nh->ifindex = fib.ifindex;
	__builtin_memcpy(nh->smac, fib.smac, ETH_ALEN);
	__builtin_memcpy(nh->dmac, fib.dmac, ETH_ALEN);
	nh->mtu = fib.mtu_result;
	/* What km_fib_store() kept, and nothing when it kept nothing. */
	nh->expires_ns = fib.mtu_result ? now + KM_FIB_TTL_NS : 0;
	return KM_CONTINUE;
}

static __always_inline int km_send(struct xdp_md *ctx, struct km_pkt *p,
				   const struct km_nexthop *nh, int reason)
{
	if (nh->ifindex == ctx->ingress_ifindex)
		p->action = XDP_TX;
	else
		p->action = bpf_redirect(nh->ifindex, 0);
	return reason;
}

static __always_inline void km_set_eth(struct ethhdr *eth,
				       const struct km_nexthop *nh)
{
	__builtin_memcpy(eth->h_dest, nh->dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, nh->smac, ETH_ALEN);
	eth->h_proto = bpf_htons(ETH_P_IP);
}

/* Drop Ethernet padding (or anything else) after the first `keep` bytes. */
static __always_inline int km_trim(struct xdp_md *ctx, struct km_pkt *p,
				   __u32 keep)
{
	int excess = (int)p->frame_len - (int)keep;

	if (excess > 0 && bpf_xdp_adjust_tail(ctx, -excess))
		return -1;
	return 0;
}

/* Service port -> backend port, checksum patched (RFC 1624); a UDP
 * checksum of 0 means "none" and stays 0. */
static __always_inline void km_rewrite_dport(struct km_pkt *p, __be16 port)
{
	if (p->proto == IPPROTO_UDP) {
		struct udphdr *u = p->l4;

		if ((void *)(u + 1) > p->data_end)
			return;
		if (u->check) {
			__u16 c = km_csum_replace16(u->check, u->dest, port);

			u->check = c ? c : 0xffff;
		}
		u->dest = port;
	} else if (p->proto == IPPROTO_TCP) {
		struct tcphdr *t = p->l4;

		if ((void *)(t + 1) > p->data_end)
			return;
		t->check = km_csum_replace16(t->check, t->dest, port);
		t->dest = port;
	}
}

/* Outer IPv4 header of the tunnel, built on the stack so its checksum
 * reads no packet memory. */
static __always_inline void km_outer_hdr(struct iphdr *o,
					 const struct km_pkt *p, __be32 backend,
					 __u16 len)
{
	*(__u8 *)o = 0x45; /* version 4, IHL 5 */
	o->tos = p->ip->tos;
	o->tot_len = bpf_htons(len);
	o->id = 0;
	o->frag_off = p->ip->frag_off & bpf_htons(KM_IP_DF);
	o->ttl = KM_OUTER_TTL;
	o->protocol = IPPROTO_IPIP;
	o->check = 0;
	o->saddr = p->cfg->edge_addr;
	o->daddr = backend;
	o->check = km_ip_csum(o);
}

/* Tunnel the packet to `backend`: the last stage of the player and punch
 * paths. `reason` is the verdict when it goes out. */
static __always_inline int km_encap(struct xdp_md *ctx, struct km_pkt *p,
				    __be32 backend, __be16 backend_port,
				    int reason)
{
	__u32 len = p->ip_len + sizeof(struct iphdr);
	struct km_nexthop nh;
	struct ethhdr *eth;
	struct iphdr outer;
	void *data, *end;
	int r;

	if (len > 0xffff)
		return KM_R_DROP_TOO_BIG;
	r = km_fib(ctx, p, &nh, p->cfg->edge_addr, backend, IPPROTO_IPIP, len,
		   p->ip->tos);
	if (r != KM_CONTINUE)
		return r;
	km_outer_hdr(&outer, p, backend, len);
	if (backend_port)
		km_rewrite_dport(p, backend_port);
	if (km_trim(ctx, p, sizeof(*eth) + p->ip_len) ||
	    bpf_xdp_adjust_head(ctx, -(int)sizeof(struct iphdr)))
		return KM_R_DROP_INTERNAL;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	eth = data;
	if (data + sizeof(*eth) + sizeof(outer) > end)
		return KM_R_DROP_INTERNAL;
	km_set_eth(eth, &nh);
	*(struct iphdr *)(eth + 1) = outer;
	return km_send(ctx, p, &nh, reason);
}

#endif /* KM_ENCAP_BPF_H */
