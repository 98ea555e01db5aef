/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Return path: IPIP from a backend to an edge address. Decapsulated only
 * when the outer source is a registered backend and the inner packet is a
 * well-formed IPv4 packet from a service address that backend serves.
 * (proto, source port, source address, backend) found in km_svc_rev is a
 * service's reply to a player: the player is validated and the source port
 * put back to the service's port. Anything else from a served address is a
 * flow the backend opened: a port punch is learned. Then the inner packet
 * goes to the player.
 */
#ifndef KM_DECAP_BPF_H
#define KM_DECAP_BPF_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "kilimanjaro_abi.h"
#include "a2s.bpf.h"
#include "csum.bpf.h"
#include "encap.bpf.h"
#include "maps.bpf.h"
#include "parse.bpf.h"
#include "pkt.bpf.h"
#include "punch.bpf.h"
#include "stats.bpf.h"

struct km_inner {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u16 len;
	__u8 proto;
	__u8 tos;
	__u8 has_ports;
	__u8 pad[3];
	void *l4; /* inner UDP/TCP header when has_ports */
};

/* The inner packet must fill the outer payload exactly; UDP/TCP headers of
 * first fragments must be whole (their ports decide what is learned). */
static __always_inline int km_inner_parse(const struct km_pkt *p,
					  struct km_inner *in)
{
	struct iphdr *ip = (void *)p->ip + p->ip_hlen;
	void *end = p->data_end;
	__u32 hlen, need;
	__u8 vihl;
	void *l4;

	if ((void *)(ip + 1) > end)
		return KM_R_DROP_IPIP_BAD_INNER;
	vihl = *(__u8 *)ip;
	hlen = (vihl & 0xf) * 4;
	in->len = bpf_ntohs(ip->tot_len);
	if ((vihl >> 4) != 4 || hlen < sizeof(*ip) || in->len < hlen ||
	    in->len != p->ip_len - p->ip_hlen)
		return KM_R_DROP_IPIP_BAD_INNER;
	in->saddr = ip->saddr;
	in->daddr = ip->daddr;
	in->proto = ip->protocol;
	in->tos = ip->tos;
	if (ip->frag_off & bpf_htons(KM_IP_OFFSET))
		return KM_CONTINUE;
	if (in->proto == IPPROTO_UDP)
		need = sizeof(struct udphdr);
	else if (in->proto == IPPROTO_TCP)
		need = sizeof(struct tcphdr);
	else
		return KM_CONTINUE;
	l4 = (void *)ip + hlen;
	if (in->len < hlen + need || l4 + need > end)
		return KM_R_DROP_IPIP_BAD_INNER;
	in->sport = ((__be16 *)l4)[0];
	in->dport = ((__be16 *)l4)[1];
	in->has_ports = 1;
	in->l4 = l4;
	return KM_CONTINUE;
}

/* A new validated player: no CPU may keep answering "not validated" for
 * it from km_unval_seen. Rare (once per player), so a helper call per CPU
 * is affordable. A CPU that writes the pair again in between keeps it for
 * at most KM_SEEN_NS. */
struct km_unseen_ctx {
	__u32 slot;
	__u32 id;
	__be32 player;
};

/* bpf_loop callback: verified once, where an unrolled loop would add a
 * few thousand instructions to the program. */
static long km_unseen_clear_cpu(__u64 cpu, void *arg)
{
	struct km_unseen_ctx *c = arg;
	struct km_seen *s;

	s = bpf_map_lookup_percpu_elem(&km_unval_seen, &c->slot, cpu);
	if (s && s->player == c->player && s->service_id == c->id)
		s->until_ns = 0;
	return 0;
}

static __always_inline void km_unseen_clear(__u32 slot, __u32 id,
					    __be32 player)
{
	struct km_unseen_ctx c = { .slot = slot, .id = id, .player = player };

	bpf_loop(KM_SEEN_CPUS, km_unseen_clear_cpu, &c, 0);
}

/* The backend sent `player` a packet of service `id`: the player is
 * validated (inserted, or refreshed when its timestamp is a second old).
 * A pair this CPU handled less than KM_SEEN_NS ago is skipped: its
 * timestamp is refreshed at most once a second anyway. Returns until when
 * this CPU may skip the pair (its km_val_seen slot), 0 when it may not. */
static __always_inline __u64 km_validate(struct km_pkt *p, __u32 id,
					 __be32 player)
{
	struct km_validated_key k = { .service_id = id, .player = player };
	__u32 slot = km_seen_slot(id, player);
	struct km_validated *v, nv = {};
	__u64 now = km_pkt_now_coarse(p);
	struct km_seen *s;
	long err;

	s = bpf_map_lookup_elem(&km_val_seen, &slot);
	if (km_seen_is(s, id, player, now))
		return s->until_ns;
	v = bpf_map_lookup_elem(&km_validated, &k);
	if (v) {
		km_touch(&v->last_seen_ns, now);
	} else {
		nv.last_seen_ns = now;
		err = bpf_map_update_elem(&km_validated, &k, &nv, BPF_NOEXIST);
		if (err && err != -KM_EEXIST /* another CPU was first */) {
			km_count(KM_C_INSERT_FAILED);
			return 0;
		}
		if (!err) {
			km_count(KM_C_VALIDATED_NEW);
			km_unseen_clear(slot, id, player);
		}
	}
	/* Also for an entry found: maps reused from a program without the
	 * filter get their bits from the next reply. */
	km_val_filter_set(id, player);
	if (!s)
		return 0;
	km_seen_set(s, id, player, now);
	return s->until_ns;
}

/* The backend port -> the service's port, L4 checksum patched (RFC 1624);
 * a UDP checksum of 0 means "none" and stays 0. The port is inside every
 * checksum (a first fragment's too: it covers the reassembled datagram). */
static __always_inline void km_rewrite_sport_at(void *l4, void *end,
						__u8 proto, __be16 port)
{
	if (proto == IPPROTO_UDP) {
		struct udphdr *u = l4;

		if (!u || (void *)(u + 1) > end)
			return;
		if (u->check) {
			__u16 c = km_csum_replace16(u->check, u->source, port);

			u->check = c ? c : 0xffff;
		}
		u->source = port;
	} else if (proto == IPPROTO_TCP) {
		struct tcphdr *t = l4;

		if (!t || (void *)(t + 1) > end)
			return;
		t->check = km_csum_replace16(t->check, t->source, port);
		t->source = port;
	}
}

static __always_inline void km_rewrite_sport(const struct km_pkt *p,
					     const struct km_inner *in,
					     __be16 port)
{
	km_rewrite_sport_at(in->l4, p->data_end, in->proto, port);
}

/*
 * Which service answered, if any. A hit in km_svc_rev proves the backend
 * serves the inner source (the derived maps are written together), so
 * the common case, a reply to a player, costs one lookup; a miss needs
 * km_backend_svc to authenticate the backend before a punch is learned.
 */
static __always_inline const struct km_svc_rev *
km_decap_service(const struct km_pkt *p, const struct km_inner *in)
{
	struct km_svc_rev_key k = {
		.proto = in->proto,
		.port = in->sport,
		.svc_addr = in->saddr,
		.backend = p->saddr,
	};
	__u32 slot = ((in->saddr ^ p->saddr ^ ((__u32)in->sport << 16)) *
		      0x9e3779b1U) >>
		     (32 - __builtin_ctz(KM_SVC_CACHE_SLOTS));
	__u16 epoch = p->cfg->svc_epoch;
	struct km_rev_cached *c;
	struct km_svc_rev *rev;

	if (!in->has_ports)
		return NULL;
	/* Per-CPU cache of hits, emptied by svc_epoch like km_svc_cache. */
	c = bpf_map_lookup_elem(&km_rev_cache, &slot);
	if (c && c->valid && c->epoch == epoch &&
	    c->key.backend == k.backend && c->key.svc_addr == k.svc_addr &&
	    c->key.port == k.port && c->key.proto == k.proto)
		return &c->rev;
	rev = bpf_map_lookup_elem(&km_svc_rev, &k);
	if (!rev || !c)
		return rev;
	c->key = k;
	c->rev = *rev;
	c->epoch = epoch;
	c->valid = 1;
	return &c->rev;
}

static __always_inline int km_decap_auth(const struct km_pkt *p,
					 const struct km_inner *in)
{
	struct km_backend_svc_key bk = {
		.backend = p->saddr,
		.svc_addr = in->saddr,
	};

	if (bpf_map_lookup_elem(&km_backend_svc, &bk))
		return KM_CONTINUE;
	if (!bpf_map_lookup_elem(&km_backends, &p->saddr))
		return KM_R_DROP_IPIP_NOT_BACKEND;
	return KM_R_DROP_IPIP_BAD_INNER;
}

/* The backend opened a flow from a port that serves no player. */
static __always_inline void km_decap_punch(struct km_pkt *p,
					   const struct km_inner *in)
{
	struct km_punch_key pk = {
		.proto = in->proto,
		.svc_addr = in->saddr,
		.remote = in->daddr,
		.svc_port = in->sport,
		.remote_port = in->dport,
	};

	km_punch_learn(p, &pk, p->saddr);
}

/*
 * The fast path of a steady reply stream: per CPU, direct-mapped by the
 * flow, what the slow path found for it (the service, the next hop) and
 * until when that holds. A hit is one inlined array lookup where the slow
 * path makes three (km_rev_cache, km_val_seen, km_fib_cache) with their
 * hashing, and its verdicts are the slow path's:
 *  - the service: filled from a km_svc_rev hit and tagged with svc_epoch,
 *    so a service change empties it as it empties km_rev_cache;
 *  - validation: until_ns is at most the pair's km_val_seen deadline, so
 *    km_validated is touched exactly as often as km_val_seen allows;
 *  - the next hop: until_ns is at most its km_fib_cache expiry, and a hit
 *    refuses tot_len > mtu as DROP_TOO_BIG, as a km_fib_cache hit does.
 * Only player replies the slow path sent are kept (a km_svc_rev hit and a
 * next hop): punches, failures, and packets the slow path passes, drops
 * or hands elsewhere before km_fib() (a branch after the authentication,
 * such as A2S answers to the edge address) never get an entry, so they
 * never take the fast path. Each load of the program starts with an empty
 * cache (not pinned: nothing in it outlives a second).
 */
#define KM_DECAP_SLOTS 8192
_Static_assert((KM_DECAP_SLOTS & (KM_DECAP_SLOTS - 1)) == 0, "power of two");

struct km_decap_cached {
	__be32 svc_addr;  /* inner source      } in km_inner's order: */
	__be32 player;    /* inner destination } compared as one word */
	__be32 backend;   /* outer source */
	__be16 sport;     /* inner source port, the backend's */
	__u8 proto;
	__u8 pad0;
	__u32 ifindex_in;
	__u32 id;         /* service id */
	__be16 svc_port;  /* put back as the source port; 0: unchanged */
	__u16 epoch;      /* km_config.svc_epoch when filled */
	__u32 ifindex_out;
	__u8 dmac[ETH_ALEN]; /* in Ethernet header order */
	__u8 smac[ETH_ALEN];
	__u16 mtu;
	__u16 pad1;
	__u64 until_ns;   /* km_now_coarse() time; 0 = empty */
	__u64 tick;       /* km_coarse_before()'s: until_ns not reached in
			     this tick; 0 = not known */
};
/* km_decap_fast() copies the MACs as a __u64 and a __u32. */
_Static_assert(__builtin_offsetof(struct km_decap_cached, dmac) % 8 == 0,
	       "dmac 8-byte aligned");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KM_DECAP_SLOTS);
	__type(key, __u32);
	__type(value, struct km_decap_cached);
} decap_cache SEC(".maps");

/* The flow's slot: inner source and destination, inner source port. */
static __always_inline __u32 km_decap_slot_of(__u32 saddr, __u32 daddr,
					      __be16 sport)
{
	return ((daddr ^ saddr ^ ((__u32)sport << 16)) * 0x9e3779b1U) >>
	       (32 - __builtin_ctz(KM_DECAP_SLOTS));
}

static __always_inline struct km_decap_cached *
km_decap_slot(const struct km_inner *in)
{
	__u32 slot = km_decap_slot_of(in->saddr, in->daddr, in->sport);

	return bpf_map_lookup_elem(&decap_cache, &slot);
}

static __always_inline int km_decap_is(const struct km_decap_cached *c,
				       const struct km_pkt *p,
				       const struct km_inner *in, __u32 ifin)
{
	return *(const __u64 *)&c->svc_addr == *(const __u64 *)&in->saddr &&
	       c->backend == p->saddr && c->sport == in->sport &&
	       c->proto == in->proto && c->ifindex_in == ifin &&
	       c->epoch == p->cfg->svc_epoch;
}

static __always_inline void km_decap_fill(struct km_decap_cached *c,
					  const struct km_pkt *p,
					  const struct km_inner *in, __u32 ifin,
					  const struct km_svc_rev *rev,
					  __u16 epoch,
					  const struct km_nexthop *nh,
					  __u64 until)
{
	if (!c)
		return;
	c->tick = 0; /* until_ns changes */
	if (!until || !nh->expires_ns) {
		c->until_ns = 0;
		return;
	}
	c->svc_addr = in->saddr;
	c->player = in->daddr;
	c->backend = p->saddr;
	c->sport = in->sport;
	c->proto = in->proto;
	c->ifindex_in = ifin;
	c->id = rev->id;
	c->svc_port = rev->svc_port != in->sport ? rev->svc_port : 0;
	c->epoch = epoch;
	c->ifindex_out = nh->ifindex;
	__builtin_memcpy(c->dmac, nh->dmac, ETH_ALEN);
	__builtin_memcpy(c->smac, nh->smac, ETH_ALEN);
	c->mtu = nh->mtu;
	c->until_ns = until < nh->expires_ns ? until : nh->expires_ns;
}

/* The fast path's send: what the slow path's does, from the entry. */
static __always_inline int km_decap_send_cached(struct xdp_md *ctx,
						struct km_pkt *p,
						const struct km_inner *in,
						const struct km_decap_cached *c)
{
	struct ethhdr *eth;
	void *data;

	if (c->svc_port)
		km_rewrite_sport(p, in, c->svc_port);
	if (km_trim(ctx, p, sizeof(*eth) + p->ip_len) ||
	    bpf_xdp_adjust_head(ctx, p->ip_hlen))
		return KM_R_DROP_INTERNAL;
	data = (void *)(long)ctx->data;
	eth = data;
	if ((void *)(eth + 1) > (void *)(long)ctx->data_end)
		return KM_R_DROP_INTERNAL;
	__builtin_memcpy(eth->h_dest, c->dmac, 2 * ETH_ALEN);
	eth->h_proto = bpf_htons(ETH_P_IP);
	if (c->ifindex_out == c->ifindex_in)
		p->action = XDP_TX;
	else
		p->action = bpf_redirect(c->ifindex_out, 0);
	return KM_R_FWD_DECAP;
}

static __always_inline int km_decap(struct xdp_md *ctx, struct km_pkt *p)
{
	const struct km_svc_rev *rev = NULL;
	__u32 ifin = ctx->ingress_ifindex;
	struct km_decap_cached *dc = NULL;
	__u16 epoch = p->cfg->svc_epoch;
	struct km_nexthop nh;
	struct km_inner in = {};
	struct ethhdr *eth, oeth;
	void *data, *end;
	__be16 svc_port = 0;
	__u64 until = 0;
	int r;

	/* Authenticate before anything else is looked at. */
	r = km_inner_parse(p, &in);
	if (r != KM_CONTINUE)
		return bpf_map_lookup_elem(&km_backends, &p->saddr) ?
			       r : KM_R_DROP_IPIP_NOT_BACKEND;
	if (in.has_ports) {
		dc = km_decap_slot(&in);
		if (dc && km_decap_is(dc, p, &in, ifin) &&
		    km_pkt_now_coarse(p) < dc->until_ns) {
			km_svc_match(p, dc->id, 0);
			if (in.len > dc->mtu)
				return KM_R_DROP_TOO_BIG;
			return km_decap_send_cached(ctx, p, &in, dc);
		}
	}
	rev = km_decap_service(p, &in);
	if (rev) {
		km_svc_match(p, rev->id, 0);
		/* A game server's answer to a worker's A2S query. */
		if (in.daddr == p->cfg->edge_addr && in.proto == IPPROTO_UDP)
			return km_a2s_ingest(ctx, p, rev->id);
		until = km_validate(p, rev->id, in.daddr);
		if (rev->svc_port != in.sport)
			svc_port = rev->svc_port;
	} else {
		r = km_decap_auth(p, &in);
		if (r != KM_CONTINUE)
			return r;
		if (in.has_ports)
			km_decap_punch(p, &in);
	}
	/* Without a next hop (no route, neighbour not resolved yet) the
	 * kernel gets the decapsulated packet: it routes it and resolves the
	 * neighbour, where the tunnelled one would be dropped (no ipip
	 * module) and the player would lose the reply. */
	r = km_fib(ctx, p, &nh, in.saddr, in.daddr, in.proto, in.len, in.tos);
	if (r != KM_CONTINUE && r != KM_R_PASS_FIB)
		return r;
	if (r == KM_R_PASS_FIB)
		__builtin_memcpy(&oeth, p->eth, sizeof(oeth));
	else if (rev)
		km_decap_fill(dc, p, &in, ifin, rev, epoch, &nh, until);
	if (svc_port)
		km_rewrite_sport(p, &in, svc_port);
	if (km_trim(ctx, p, sizeof(*eth) + p->ip_len) ||
	    bpf_xdp_adjust_head(ctx, p->ip_hlen))
		return KM_R_DROP_INTERNAL;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) > end)
		return KM_R_DROP_INTERNAL;
	if (r == KM_R_PASS_FIB) {
		__builtin_memcpy(eth, &oeth, sizeof(oeth));
		return KM_R_PASS_FIB;
	}
	km_set_eth(eth, &nh);
	return km_send(ctx, p, &nh, KM_R_FWD_DECAP);
}

/* A fast-path verdict, counted as km_finish() counts it: the service's
 * counters are looked up only here, after the send, where they lengthen
 * no chain of loads the send waits for. */
static __always_inline void km_decap_count(__u32 reason, __u32 bytes,
					   const struct km_decap_cached *c)
{
	km_count_verdict(reason, bytes,
			 bpf_map_lookup_elem(&km_svc_stats, &c->id));
}

/* A packet word at a fixed offset: one load (this machine loads unaligned
 * words), where clang splits loads through 4-byte aligned iphdr fields. */
#define KM_AT(type, off) (*(type *)(data + (off)))
/* Offsets of the plain shape: Ethernet, outer IPv4 (20), inner IPv4 (20). */
#define KM_FO_OUTER 14
#define KM_FO_INNER (KM_FO_OUTER + 20)
#define KM_FO_L4 (KM_FO_INNER + 20)

/*
 * decap_cache ahead of everything else: km_xdp calls this first, before
 * its generic setup (the zeroed km_pkt, the generic parse, the pipeline's
 * dispatch and km_finish), and it decides only a packet the slow path
 * would decide from the same entry, in the same way:
 *  - the plain shape: Ethernet, outer IPv4 without options or
 *    fragmentation, protocol IPIP, to km_config.edge_addr (an edge address
 *    without a lookup, and the one replies are tunnelled to), inner IPv4
 *    without options, not a non-first fragment, UDP or TCP with its whole
 *    header, tot_len consistent; a stricter test than km_parse_ipv4 and
 *    km_inner_parse make, so the slow path would reach km_decap's cache
 *    check with the same fields;
 *  - a hit by km_decap's own test (km_decap_is, the coarse clock before
 *    until_ns, whose bounds keep km_validated and the next hop exact);
 *  - then exactly km_decap's hit: the service's counters, DROP_TOO_BIG
 *    above the mtu, the port put back, padding trimmed, the Ethernet
 *    header, TX or redirect, the verdict counted as km_finish counts it.
 * Anything else returns KM_CONTINUE having written nothing but the clock
 * memo and the entry's tick (km_coarse_before): the pipeline decides it,
 * including hits of other edge addresses and of packets with options.
 */
static __always_inline int km_decap_fast(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct km_decap_cached *c;
	struct km_config *cfg;
	__u32 zero = 0, slot, len, frame_len, need, w;
	struct ethhdr *eth;
	__be16 sport;
	__u64 addrs;
	__u8 proto;
	int action;

	/* Ethernet type IPv4, outer version 4 and IHL 5 (TOS any); outer
	 * neither MF nor an offset, protocol IPIP (TTL any); inner version 4
	 * and IHL 5; inner offset 0 (MF allowed: a first fragment has its
	 * ports), protocol UDP or TCP. Each test one masked word. */
	if (data + KM_FO_L4 + sizeof(struct udphdr) > end ||
	    (KM_AT(__u32, 12) & bpf_htonl(0xffffff00)) != bpf_htonl(0x08004500) ||
	    (KM_AT(__u32, KM_FO_OUTER + 6) & bpf_htonl(0x3fff00ff)) !=
		    bpf_htonl(IPPROTO_IPIP) ||
	    KM_AT(__u8, KM_FO_INNER) != 0x45)
		return KM_CONTINUE;
	w = KM_AT(__u32, KM_FO_INNER + 6) & bpf_htonl(0x1fff00ff);
	if (w == bpf_htonl(IPPROTO_UDP)) {
		need = sizeof(struct iphdr) + sizeof(struct udphdr);
		proto = IPPROTO_UDP;
	} else if (w == bpf_htonl(IPPROTO_TCP)) {
		need = sizeof(struct iphdr) + sizeof(struct tcphdr);
		proto = IPPROTO_TCP;
	} else {
		return KM_CONTINUE;
	}
	/* tot_len: the inner packet fills the outer payload, which lies in
	 * the frame; the inner holds its whole L4 header. */
	frame_len = end - data;
	len = bpf_ntohs(KM_AT(__be16, KM_FO_INNER + 2));
	if (bpf_ntohs(KM_AT(__be16, KM_FO_OUTER + 2)) != len + 20 ||
	    KM_FO_INNER + len > frame_len || len < need ||
	    data + KM_FO_INNER + need > end)
		return KM_CONTINUE;
	cfg = bpf_map_lookup_elem(&km_config, &zero);
	if (!cfg || KM_AT(__be32, KM_FO_OUTER + 16) != cfg->edge_addr)
		return KM_CONTINUE;
	/* Inner source and destination as one word, as the entry holds them. */
	addrs = KM_AT(__u64, KM_FO_INNER + 12);
	sport = KM_AT(__be16, KM_FO_L4);
	slot = km_decap_slot_of((__u32)addrs, (__u32)(addrs >> 32), sport);
	c = bpf_map_lookup_elem(&decap_cache, &slot);
	if (!c || *(const __u64 *)&c->svc_addr != addrs ||
	    c->backend != KM_AT(__be32, KM_FO_OUTER + 12) ||
	    c->sport != sport || c->proto != proto ||
	    c->epoch != cfg->svc_epoch ||
	    c->ifindex_in != ctx->ingress_ifindex ||
	    !km_coarse_before(cfg, &c->tick, c->until_ns))
		return KM_CONTINUE;
	if (len > c->mtu) {
		km_decap_count(KM_R_DROP_TOO_BIG, frame_len, c);
		return XDP_DROP;
	}
	if (c->svc_port)
		km_rewrite_sport_at(data + KM_FO_L4, end, proto, c->svc_port);
	need = KM_FO_INNER + len;
	if ((frame_len > need &&
	     bpf_xdp_adjust_tail(ctx, -(int)(frame_len - need))) ||
	    bpf_xdp_adjust_head(ctx, sizeof(struct iphdr)))
		goto internal;
	eth = (void *)(long)ctx->data;
	if ((void *)(eth + 1) > (void *)(long)ctx->data_end)
		goto internal;
	/* Both MACs in two stores (dmac is 8-byte aligned in the entry, and
	 * this machine loads and stores unaligned packet words). */
	*(__u64 *)eth = *(const __u64 *)c->dmac;
	*(__u32 *)((void *)eth + 8) = *(const __u32 *)(c->dmac + 8);
	eth->h_proto = bpf_htons(ETH_P_IP);
	if (c->ifindex_out == c->ifindex_in)
		action = XDP_TX;
	else
		action = bpf_redirect(c->ifindex_out, 0);
	km_decap_count(KM_R_FWD_DECAP, frame_len, c);
	return action;
internal:
	km_decap_count(KM_R_DROP_INTERNAL, frame_len, c);
	return XDP_DROP;
}

#endif /* KM_DECAP_BPF_H */
