// SPDX-License-Identifier: GPL-2.0-only
/*
 * Kilimanjaro XDP edge program. The pipeline (docs/design.md):
 *
 *   parse Ethernet + IPv4
 *   IPIP to an edge address         -> decap (backend authenticated) -> player
 *                                      (outer fragments: as the edge's own)
 *   parse L4, matches a service     -> block -> deny -> allow | limits
 *                                      -> A2S (challenge, cache, worker) | IPIP
 *   other packets to a service address:
 *       malformed                   -> dropped with its reason
 *       ICMP                        -> echo reply (block, deny, limit)
 *       matches a port punch        -> block -> deny -> IPIP
 *       else                        -> DROP_NO_SERVICE
 *   to an edge address              -> block -> deny -> kernel
 *   anything else                   -> kernel (PASS_NOT_OURS)
 *
 * Every stage returns a reason or KM_CONTINUE; km_finish() counts the one
 * reason of the packet and maps it to the XDP action.
 */
#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>

#include "kilimanjaro_abi.h"
#include "a2s.bpf.h"
#include "decap.bpf.h"
#include "encap.bpf.h"
#include "icmp.bpf.h"
#include "lists.bpf.h"
#include "maps.bpf.h"
#include "parse.bpf.h"
#include "pkt.bpf.h"
#include "punch.bpf.h"
#include "ratelimit.bpf.h"
#include "stats.bpf.h"

/* IPIP replies come back to km_config.edge_addr (the outer source of every
 * tunnelled packet), which is therefore an edge address without a lookup. */
static __always_inline int km_is_edge(const struct km_pkt *p)
{
	return p->daddr == p->cfg->edge_addr ||
	       bpf_map_lookup_elem(&km_edge_addrs, &p->daddr) != NULL;
}

/*
 * km_services through a per-CPU direct-mapped cache: an inlined array
 * lookup and a compare instead of a hash lookup (~27 ns) for the few
 * services that carry the traffic. lib/maps.c bumps km_config.svc_epoch
 * after every change of km_services, which empties the cache at once for
 * every CPU. Misses are not cached.
 */
static __always_inline const struct km_service *
km_service_find(struct km_pkt *p, const struct km_service_key *k)
{
	__u32 slot = (((__u32)k->port << 16 ^ k->proto ^ k->addr) *
		      0x9e3779b1U) >>
		     (32 - __builtin_ctz(KM_SVC_CACHE_SLOTS));
	__u16 epoch = p->cfg->svc_epoch;
	struct km_svc_cached *c;
	struct km_service *svc;

	c = bpf_map_lookup_elem(&km_svc_cache, &slot);
	if (c && c->valid && c->epoch == epoch &&
	    *(__u64 *)&c->key == *(const __u64 *)k)
		return &c->svc;
	svc = bpf_map_lookup_elem(&km_services, k);
	if (!svc || !c)
		return svc;
	c->key = *k;
	c->svc = *svc;
	c->epoch = epoch;
	c->valid = 1;
	return &c->svc;
}

/* Player -> service: lists, then the limits of the player's class. */
static __always_inline int km_player(struct xdp_md *ctx, struct km_pkt *p,
				     const struct km_service *svc)
{
	__u32 id = svc->id;
	struct km_validated *v;
	struct km_svc_cfg *sc;
	int r;

	km_svc_match(p, id, 1);
	km_a2s_detect(p);
	r = km_check_source(p);
	if (r != KM_CONTINUE)
		return r;
	sc = bpf_map_lookup_elem(&km_svc_cfg, &id);
	if (!sc)
		return KM_R_DROP_INTERNAL;
	v = km_validated_get(p, id);
	if (v)
		r = km_limit_validated(p, v, &sc->validated, id);
	else if (km_unvalidated_limited(sc) && !km_is_allowed(p))
		r = km_limit_prefix(p, id, KM_RL_KIND_SERVICE,
				    &sc->unvalidated, &sc->total);
	if (r != KM_CONTINUE)
		return r;
	/* After the limits: the cache never answers what they refuse. */
	if (p->flags & KM_PF_A2S) {
		r = km_a2s(ctx, p, id);
		if (r != KM_CONTINUE)
			return r;
	}
	return km_encap(ctx, p, svc->backend, svc->backend_port,
			KM_R_FWD_SERVICE);
}

/* A service address, but no service matched (l4 is km_parse_l4()'s
 * verdict): malformed, ICMP, a port punch or nothing. */
static __always_inline int km_to_service_addr(struct xdp_md *ctx,
					      struct km_pkt *p,
					      const struct km_svc_addr *sa,
					      int l4)
{
	if (l4 != KM_CONTINUE)
		return l4;
	if (p->proto == IPPROTO_ICMP)
		return km_icmp(ctx, p, sa);
	return km_punch_in(ctx, p);
}

/* The edge's own traffic (SSH, BGP, ...): the kernel's, unless refused. */
static __always_inline int km_to_edge(struct km_pkt *p)
{
	int r = km_check_source(p);

	return r != KM_CONTINUE ? r : KM_R_PASS_EDGE;
}

static __always_inline int km_pipeline(struct xdp_md *ctx, struct km_pkt *p)
{
	struct km_service_key k = {};
	const struct km_svc_addr *sa;
	const struct km_service *svc;
	__u32 zero = 0;
	int r, l4;

	r = km_parse_ipv4(ctx, p);
	if (r != KM_CONTINUE)
		return r;
	p->cfg = bpf_map_lookup_elem(&km_config, &zero);
	if (!p->cfg)
		return KM_R_DROP_INTERNAL;
	/* A fragment of a tunnelled packet cannot be decapsulated here: it
	 * is the edge's own traffic, for the kernel to reassemble. */
	if (p->proto == IPPROTO_IPIP && !(p->flags & KM_PF_FRAGMENT) &&
	    km_is_edge(p))
		return km_decap(ctx, p);
	/* The service itself first: players are the bulk of the traffic and
	 * a hit makes the km_svc_addrs lookup unnecessary. */
	l4 = km_parse_l4(p);
	if (l4 == KM_CONTINUE && p->proto != IPPROTO_ICMP) {
		k.proto = p->proto;
		k.port = p->dport;
		k.addr = p->daddr;
		svc = km_service_find(p, &k);
		if (svc)
			return km_player(ctx, p, svc);
	}
	sa = bpf_map_lookup_elem(&km_svc_addrs, &p->daddr);
	if (sa)
		return km_to_service_addr(ctx, p, sa, l4);
	if ((p->proto != IPPROTO_IPIP || (p->flags & KM_PF_FRAGMENT)) &&
	    km_is_edge(p))
		return km_to_edge(p);
	return KM_R_PASS_NOT_OURS;
}

static __always_inline int km_slow(struct xdp_md *ctx)
{
	struct km_pkt p = {};

	return km_finish(&p, km_pipeline(ctx, &p));
}

SEC("xdp")
int km_xdp(struct xdp_md *ctx)
{
	/* A steady reply stream skips the generic setup (decap.bpf.h). */
	int action = km_decap_fast(ctx);

	return action != KM_CONTINUE ? action : km_slow(ctx);
}

char LICENSE[] SEC("license") = "GPL";
