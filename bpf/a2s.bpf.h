/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A2S stage (docs/design.md "A2S"): Valve server queries to a service with
 * KM_A2S_F_ENABLED, after the lists and the limits. The edge challenges a
 * request only when it can then serve it (a servable cached A2S_INFO
 * answer, or a worker on this RX queue); a reply to a source that has not
 * proved its address is a 9-byte S2C_CHALLENGE, never larger than the
 * request. Everything the edge cannot serve goes on to the game server
 * untouched (KM_CONTINUE: the caller's forward path), so the server's own
 * challenge exchange runs end to end.
 *
 * The decap path calls km_a2s_ingest() for a game server's answer to a
 * worker's query.
 */
#ifndef KM_A2S_BPF_H
#define KM_A2S_BPF_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "kilimanjaro_abi.h"
#include "csum.bpf.h"
#include "encap.bpf.h"
#include "maps.bpf.h"
#include "parse.bpf.h"
#include "pkt.bpf.h"
#include "siphash.bpf.h"

/* The challenge's message words are built from packet fields as they sit
 * in memory, which is the byte string of the ABI only on a little-endian
 * BPF target. */
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "a2s.bpf.h: the challenge input assumes a little-endian BPF target"
#endif

#define KM_A2S_INFO_CH_LEN (KM_A2S_INFO_LEN + 4) /* INFO + challenge */
#define KM_A2S_S2C_CHALLENGE 0x41
#define KM_A2S_T_INFO 0x54
#define KM_A2S_REPLY_TTL 64
/* Ethernet + IPv4 (no options: km_parse_l4() refuses them for services)
 * + UDP: where a request's payload and a reply's payload start. */
#define KM_A2S_HDRS                                                            \
	(sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct udphdr))

#define KM_READ_ONCE32(x) (*(volatile __u32 *)&(x))
#define km_barrier() asm volatile("" ::: "memory")

/*
 * The stage is three global BPF functions, each verified once (inlined,
 * the stage multiplied the verifier's work by the states the limits leave
 * behind: 301k -> 716k processed instructions of the 1M limit). Their
 * stacks add to km_xdp's (512 bytes for the chain), so each keeps little:
 * the request's fields and what one function tells the next live in the
 * caller's struct km_a2s_args, packet pointers are derived from ctx, maps
 * are looked up again where needed (array lookups are inlined).
 */
struct km_a2s_args {
	__u64 now;	 /* in: the packet's coarse time or 0; out: the
			    same, read if the stage needed it */
	__u32 id;	 /* service id */
	__u32 frame_len; /* as received */
	__u32 action;	 /* out: XDP action of a TX/redirect verdict */
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u16 ip_len;
	__u8 a2s_type;
	__u8 has_ch; /* decide: INFO of 29 bytes, PLAYER/RULES */
	__u32 ch;    /* decide: the challenge as it sits in the packet */
	__u32 seq;   /* decide: the servable entry's seqlock sequence */
};

/* Key 0 of the single-entry arrays, in .rodata: a map key needs memory,
 * and this one costs the subprograms no stack. */
static const __u32 km_a2s_key0 = 0;

/* km_a2s_decide()'s verdicts besides a reason and KM_CONTINUE (-1). */
#define KM_A2S_DO_SERVE (-2)	 /* km_a2s_serve() */
#define KM_A2S_DO_CHALLENGE (-3) /* km_a2s_challenge() */

/*
 * SipHash input, 16 bytes: player address, player port, service address,
 * service port (network order, as in the packet), epoch (little endian).
 * The challenge is the low 32 bits of the hash, sent as their little-endian
 * bytes; 0 and FFFFFFFF (which ask PLAYER/RULES for a challenge) become 1.
 */
static __always_inline __u64 km_a2s_m0(const struct km_a2s_args *a)
{
	return (__u64)a->saddr | (__u64)a->sport << 32 |
	       (__u64)(a->daddr & 0xffff) << 48;
}

/* The second word without the epoch (its high half). */
static __always_inline __u64 km_a2s_m1(const struct km_a2s_args *a)
{
	return (__u64)(a->daddr >> 16) | (__u64)a->dport << 16;
}

/* A subprogram of its own: up to four hashes per request, and the 400
 * instructions of SipHash-2-4 (BPF has no rotate) inlined at every use
 * would double the stage's code. The key is read here, so that callers
 * keep nothing of it live across the call. No stack. */
__noinline __u32 km_a2s_hash(const struct km_a2s_key *k, __u32 prev, __u64 m0,
			     __u64 m1)
{
	__u32 c;

	if (!k)
		return 0;
	c = (__u32)km_siphash16(prev ? k->prev_k0 : k->k0,
				prev ? k->prev_k1 : k->k1, m0, m1);
	return c + 1 <= 1 ? 1 : c;
}

static __always_inline __u64 km_a2s_ep(__u32 epoch)
{
	return (__u64)epoch << 32;
}

/* Current epoch under the current key first (what a client echoes within
 * an epoch), then the previous epoch; the previous key only when the key
 * was rotated. */
static __always_inline int km_a2s_valid(const struct km_a2s_args *a,
					const struct km_a2s_key *k)
{
	__u64 m0 = km_a2s_m0(a), m1 = km_a2s_m1(a);

	if (km_a2s_hash(k, 0, m0, m1 | km_a2s_ep(k->epoch)) == a->ch ||
	    km_a2s_hash(k, 0, m0, m1 | km_a2s_ep(k->epoch - 1)) == a->ch)
		return 1;
	if (k->prev_k0 == k->k0 && k->prev_k1 == k->k1)
		return 0;
	return km_a2s_hash(k, 1, m0, m1 | km_a2s_ep(k->epoch)) == a->ch ||
	       km_a2s_hash(k, 1, m0, m1 | km_a2s_ep(k->epoch - 1)) == a->ch;
}

static __always_inline __u32 km_csum_add32(__u32 sum, __be32 a)
{
	return sum + (a & 0xffff) + (a >> 16);
}

/* Only well-formed requests: IPv4 without options, UDP length = IP
 * payload, A2S_INFO exactly 25 or 29 bytes, PLAYER/RULES exactly 9.
 * Anything else (extra or missing bytes) is ordinary traffic for the game
 * server. */
static __always_inline int km_a2s_shape(struct xdp_md *ctx,
					struct km_a2s_args *a)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct udphdr *u = data + sizeof(struct ethhdr) + sizeof(struct iphdr);
	__u8 *pay = (__u8 *)(u + 1);
	__u32 n;

	if ((void *)pay > end ||
	    *(__u8 *)(data + sizeof(struct ethhdr)) != 0x45)
		return 0;
	n = a->ip_len - sizeof(struct iphdr) - sizeof(*u);
	if (bpf_ntohs(u->len) != n + sizeof(*u))
		return 0;
	if (a->a2s_type != KM_A2S_T_INFO) {
		if (n != KM_A2S_CHALLENGE_LEN ||
		    (void *)(pay + KM_A2S_CHALLENGE_LEN) > end)
			return 0;
		a->ch = *(__u32 *)(pay + 5);
		a->has_ch = 1;
		return 1;
	}
	if (n == KM_A2S_INFO_LEN)
		return 1;
	if (n != KM_A2S_INFO_CH_LEN || (void *)(pay + KM_A2S_INFO_CH_LEN) > end)
		return 0;
	a->ch = *(__u32 *)(pay + KM_A2S_INFO_LEN);
	a->has_ch = 1;
	return 1;
}

static __always_inline int km_a2s_has_worker(struct xdp_md *ctx)
{
	__u32 q = ctx->rx_queue_index;

	return bpf_map_lookup_elem(&km_xsks, &q) != NULL;
}

/* To this queue's worker, or (no worker, or its socket closed since the
 * lookup: bpf_redirect_map() fails, never XDP_ABORTED) on to the game
 * server. Counts the outcome. */
static __always_inline int km_a2s_to_worker(struct xdp_md *ctx,
					    struct km_a2s_args *a,
					    struct km_a2s_stat *st)
{
	if (bpf_redirect_map(&km_xsks, ctx->rx_queue_index, 0) ==
	    XDP_REDIRECT) {
		st->to_worker += 1;
		a->action = XDP_REDIRECT;
		return KM_R_REDIR_A2S_WORKER;
	}
	st->forwarded += 1;
	return KM_CONTINUE;
}

/* The cached A2S_INFO answer of service a->id when it may be served: a
 * stable seqlock sequence (kept in a->seq), VALID and not DOWN, this very
 * service (an id reused by another service misses) and not older than
 * max_age (coarse clock: at most one tick younger than it is). */
static __always_inline int km_a2s_servable(struct km_a2s_args *a,
					   const struct km_a2s_cfg *cfg)
{
	struct km_a2s_entry *e = bpf_map_lookup_elem(&km_a2s_info, &a->id);
	struct km_config *kc;
	__u32 len;

	if (!e)
		return 0;
	a->seq = KM_READ_ONCE32(e->seq);
	km_barrier();
	len = e->len;
	if ((a->seq & 1) ||
	    (e->flags & (KM_A2S_E_VALID | KM_A2S_E_DOWN)) != KM_A2S_E_VALID ||
	    e->svc.proto != IPPROTO_UDP || e->svc.port != a->dport ||
	    e->svc.addr != a->daddr || !len || len > KM_A2S_INFO_MAX)
		return 0;
	if (!a->now) {
		kc = bpf_map_lookup_elem(&km_config, &km_a2s_key0);
		if (!kc)
			return 0;
		a->now = km_now_coarse(kc);
	}
	return !km_older_than(a->now, e->updated_ns, cfg->max_age_ns);
}

/*
 * An A2S request (KM_PF_A2S) to service a->id that passed the lists and the
 * limits: the decision table of docs/design.md "A2S". Returns
 * KM_A2S_DO_SERVE or KM_A2S_DO_CHALLENGE for the next function, a
 * verdict (to the worker), or KM_CONTINUE to forward it to the game
 * server. The edge challenges only what it can then serve; without a key,
 * or with nothing to serve it with, the request goes on untouched. Every
 * request of an A2S service is counted in `requests` and, by the end of
 * the stage, in exactly one of challenges, cached, to_worker, forwarded.
 */
__noinline int km_a2s_decide(struct xdp_md *ctx, struct km_a2s_args *a)
{
	const struct km_a2s_cfg *cfg;
	const struct km_a2s_key *k;
	struct km_a2s_stat *st;
	int info, e, off;

	if (!a)
		return KM_CONTINUE;
	cfg = bpf_map_lookup_elem(&km_a2s_cfg, &a->id);
	if (!cfg || !(cfg->flags & KM_A2S_F_ENABLED))
		return KM_CONTINUE;
	st = bpf_map_lookup_elem(&km_a2s_stats, &a->id);
	if (!st)
		return KM_CONTINUE;
	st->requests += 1;
	off = cfg->flags & KM_A2S_F_NO_CHALLENGE;
	info = a->a2s_type == KM_A2S_T_INFO;
	if (!km_a2s_shape(ctx, a))
		goto forward;
	e = info && km_a2s_servable(a, cfg);
	if (e && off)
		return KM_A2S_DO_SERVE;
	if (!e && !km_a2s_has_worker(ctx))
		goto forward;
	if (off)
		return km_a2s_to_worker(ctx, a, st);
	k = bpf_map_lookup_elem(&km_a2s_key, &km_a2s_key0);
	if (!k || !(k->flags & KM_A2S_KEY_F_VALID))
		goto forward;
	/* PLAYER/RULES ask for a challenge with FFFFFFFF or 0. */
	if (a->has_ch && (info || (a->ch != 0 && a->ch != 0xffffffffU))) {
		if (km_a2s_valid(a, k)) {
			if (e)
				return KM_A2S_DO_SERVE;
			return km_a2s_to_worker(ctx, a, st);
		}
		st->bad_challenges += 1;
	}
	return KM_A2S_DO_CHALLENGE;
forward:
	st->forwarded += 1;
	return KM_CONTINUE;
}

/* Turn the request's headers into the reply's: MACs, addresses and ports
 * swapped, a fresh IPv4 header of `ulen` UDP bytes. Returns the partial
 * UDP checksum (pseudo header + UDP header, checksum field 0) in memory
 * byte order, unfolded. The caller has checked KM_A2S_HDRS bytes. */
static __always_inline __u32 km_a2s_headers(const struct km_a2s_args *a,
					    void *data, __u16 ulen)
{
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	struct udphdr *u = (void *)(ip + 1);
	__u32 m0 = *(__u32 *)eth->h_dest;
	__u16 m1 = *(__u16 *)(eth->h_dest + 4);

	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	*(__u32 *)eth->h_source = m0;
	*(__u16 *)(eth->h_source + 4) = m1;
	*(__u8 *)ip = 0x45;
	ip->tot_len = bpf_htons(ulen + sizeof(struct iphdr));
	ip->id = 0;
	ip->frag_off = bpf_htons(KM_IP_DF);
	ip->ttl = KM_A2S_REPLY_TTL;
	ip->protocol = IPPROTO_UDP;
	ip->saddr = a->daddr;
	ip->daddr = a->saddr;
	ip->check = km_ip_csum(ip);
	u->source = a->dport;
	u->dest = a->sport;
	u->len = bpf_htons(ulen);
	return km_csum_add32(km_csum_add32(0, a->saddr), a->daddr) +
	       bpf_htons(IPPROTO_UDP) + 2 * (__u32)bpf_htons(ulen) + a->sport +
	       a->dport;
}

static __always_inline __u16 km_udp_check(__u32 sum)
{
	__u16 c = km_csum_fold(sum);

	return c ? c : 0xffff;
}

/* S2C_CHALLENGE (FF FF FF FF 41 + 4 bytes) in place of the request: the
 * frame shrinks to 51 bytes, never more than any request (>= 9 bytes of
 * payload). */
__noinline int km_a2s_challenge(struct xdp_md *ctx, struct km_a2s_args *a)
{
	const struct km_a2s_key *k;
	struct km_a2s_stat *st;
	void *data, *end;
	__u32 ch, sum;
	__u8 *pay;
	int delta;

	if (!a)
		return KM_R_DROP_INTERNAL;
	k = bpf_map_lookup_elem(&km_a2s_key, &km_a2s_key0);
	ch = km_a2s_hash(k, 0, km_a2s_m0(a),
			 km_a2s_m1(a) | km_a2s_ep(k ? k->epoch : 0));
	delta = (int)(KM_A2S_HDRS + KM_A2S_CHALLENGE_LEN) - (int)a->frame_len;
	if (!ch || (delta && bpf_xdp_adjust_tail(ctx, delta)))
		return KM_R_DROP_INTERNAL;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	pay = data + KM_A2S_HDRS;
	if ((void *)(pay + KM_A2S_CHALLENGE_LEN) > end)
		return KM_R_DROP_INTERNAL;
	sum = km_a2s_headers(a, data,
			     sizeof(struct udphdr) + KM_A2S_CHALLENGE_LEN);
	*(__u32 *)pay = 0xffffffffU;
	pay[4] = KM_A2S_S2C_CHALLENGE;
	*(__u32 *)(pay + 5) = ch;
	/* The payload's 16-bit words as they sit in memory: FFFF FFFF, 41c0,
	 * c1c2, c3 00. */
	sum += 0x1fffe + *(__u16 *)(pay + 4) + *(__u16 *)(pay + 6) + pay[8];
	((struct udphdr *)(pay - sizeof(struct udphdr)))->check =
	    km_udp_check(sum);
	st = bpf_map_lookup_elem(&km_a2s_stats, &a->id);
	if (st)
		st->challenges += 1;
	a->action = XDP_TX;
	return KM_R_TX_A2S_CHALLENGE;
}

/* What of the request's headers the reply does not keep, saved before a
 * cache answer grows the frame at its head, so that a torn copy can put
 * the request back exactly. */
struct km_a2s_orig {
	__u8 dmac[ETH_ALEN];
	__u8 smac[ETH_ALEN];
	__u8 tos;
	__u8 ttl;
	__be16 id;
	__be16 frag_off;
	__sum16 ucheck;
};

/* Per-CPU room for it: the A2S functions' stacks add to km_xdp's, and the
 * two together may not pass 512 bytes. Per load, not pinned (like the
 * clock memo): it only lives within one packet. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct km_a2s_orig);
} a2s_scratch SEC(".maps");

/* A torn cache copy overwrote the request: put the A2S_INFO request back at
 * its received length, every header byte as received (Ethernet padding
 * comes back as zeros). `grown`: how far the answer grew the frame at its
 * head (0: it was resized at the tail, `cur` its length now; the verifier
 * allows no arithmetic on data_end). */
static __always_inline int km_a2s_restore(struct xdp_md *ctx,
					  const struct km_a2s_args *a,
					  const struct km_a2s_orig *o, int grown,
					  int cur)
{
	struct ethhdr *eth;
	struct iphdr *ip;
	struct udphdr *u;
	void *data, *end;
	__u8 *pay;

	if (grown ? bpf_xdp_adjust_head(ctx, grown)
		  : bpf_xdp_adjust_tail(ctx, (int)a->frame_len - cur))
		return -1;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	pay = data + KM_A2S_HDRS;
	if ((void *)(pay + KM_A2S_INFO_CH_LEN) > end)
		return -1;
	eth = data;
	ip = data + sizeof(*eth);
	u = (void *)(ip + 1);
	__builtin_memcpy(eth->h_dest, o->dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, o->smac, ETH_ALEN);
	eth->h_proto = bpf_htons(ETH_P_IP);
	*(__u8 *)ip = 0x45;
	ip->tos = o->tos;
	ip->tot_len = bpf_htons(a->ip_len);
	ip->id = o->id;
	ip->frag_off = o->frag_off;
	ip->ttl = o->ttl;
	ip->protocol = IPPROTO_UDP;
	ip->saddr = a->saddr;
	ip->daddr = a->daddr;
	ip->check = km_ip_csum(ip);
	u->source = a->sport;
	u->dest = a->dport;
	u->len = bpf_htons(a->ip_len - sizeof(struct iphdr));
	u->check = o->ucheck;
	*(__u32 *)pay = 0xffffffffU;
	pay[4] = KM_A2S_T_INFO;
	*(__u64 *)(pay + 5) = KM_A2S_INFO_W0;
	*(__u64 *)(pay + 13) = KM_A2S_INFO_W1;
	*(__u32 *)(pay + 21) = KM_A2S_INFO_W2;
	if (a->has_ch)
		*(__u32 *)(pay + KM_A2S_INFO_LEN) = a->ch;
	return 0;
}

/* Answer from the cache: the frame becomes headers + the entry's data,
 * copied under the entry's seqlock (a->seq, read by km_a2s_decide()). A
 * larger answer grows the frame at its head: XDP guarantees 256 bytes of
 * headroom, while a frame a veth hands over from the stack often has no
 * tailroom (docs/design.md "A2S"); only what the headroom cannot take is
 * tried at the tail. The UDP checksum is the entry's data sum
 * (big-endian words, unfolded) plus the pseudo and UDP headers. A torn copy
 * is never sent: the request is put back and goes to the worker, or on to
 * the game server. */
__noinline int km_a2s_serve(struct xdp_md *ctx, struct km_a2s_args *a)
{
	struct km_a2s_orig *o;
	struct km_a2s_entry *e;
	struct km_a2s_stat *st;
	const struct km_a2s_cfg *cfg;
	struct ethhdr *eth;
	struct iphdr *ip;
	void *data, *end;
	__u32 len, sum;
	int delta, grown = 0;

	if (!a)
		return KM_R_DROP_INTERNAL;
	e = bpf_map_lookup_elem(&km_a2s_info, &a->id);
	st = bpf_map_lookup_elem(&km_a2s_stats, &a->id);
	o = bpf_map_lookup_elem(&a2s_scratch, &km_a2s_key0);
	if (!e || !st || !o)
		return KM_R_DROP_INTERNAL;
	len = e->len;
	if (!len || len > KM_A2S_INFO_MAX)
		goto fallback;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	eth = data;
	ip = data + sizeof(*eth);
	if (data + KM_A2S_HDRS > end)
		return KM_R_DROP_INTERNAL;
	__builtin_memcpy(o->dmac, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(o->smac, eth->h_source, ETH_ALEN);
	o->tos = ip->tos;
	o->ttl = ip->ttl;
	o->id = ip->id;
	o->frag_off = ip->frag_off;
	o->ucheck = ((struct udphdr *)(ip + 1))->check;
	delta = (int)(KM_A2S_HDRS + len) - (int)a->frame_len;
	if (delta > 0 && bpf_xdp_adjust_head(ctx, -delta)) {
		/* More than the headroom (256 bytes guaranteed): the tail. */
		if (bpf_xdp_adjust_tail(ctx, delta))
			goto fallback;
	} else if (delta > 0) {
		grown = delta;
		data = (void *)(long)ctx->data;
		end = (void *)(long)ctx->data_end;
		eth = data;
		ip = data + sizeof(*eth);
		if (data + KM_A2S_HDRS > end)
			goto torn;
		/* What km_a2s_headers() keeps or swaps in place. */
		__builtin_memcpy(eth->h_dest, o->dmac, ETH_ALEN);
		__builtin_memcpy(eth->h_source, o->smac, ETH_ALEN);
		eth->h_proto = bpf_htons(ETH_P_IP);
		ip->tos = o->tos;
	} else if (delta && bpf_xdp_adjust_tail(ctx, delta)) {
		goto fallback;
	}
	if (bpf_xdp_store_bytes(ctx, KM_A2S_HDRS, e->data, len))
		goto torn;
	sum = e->csum;
	km_barrier();
	if (KM_READ_ONCE32(e->seq) != a->seq)
		goto torn;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	if (data + KM_A2S_HDRS > end)
		return KM_R_DROP_INTERNAL;
	/* The entry's sum is of big-endian words: fold, then to memory
	 * order, like every other word of this sum. */
	sum = bpf_htons((__u16)~km_csum_fold(sum)) +
	      km_a2s_headers(a, data, sizeof(struct udphdr) + len);
	((struct udphdr *)(data + KM_A2S_HDRS - sizeof(struct udphdr)))->check =
	    km_udp_check(sum);
	st->cached += 1;
	cfg = bpf_map_lookup_elem(&km_a2s_cfg, &a->id);
	if (cfg && km_older_than(a->now, e->updated_ns, cfg->refresh_ns))
		st->stale += 1;
	a->action = XDP_TX;
	return KM_R_TX_A2S_CACHED;
torn:
	if (km_a2s_restore(ctx, a, o, grown, KM_A2S_HDRS + len))
		return KM_R_DROP_INTERNAL;
fallback:
	if (km_a2s_has_worker(ctx))
		return km_a2s_to_worker(ctx, a, st);
	st->forwarded += 1;
	return KM_CONTINUE;
}

/* Packet pointers again after the A2S stage, which may have moved them. */
static __always_inline int km_a2s_repoint(struct xdp_md *ctx, struct km_pkt *p)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;

	if (data + KM_A2S_HDRS > end)
		return -1;
	p->eth = data;
	p->ip = data + sizeof(struct ethhdr);
	p->l4 = data + sizeof(struct ethhdr) + sizeof(struct iphdr);
	p->data_end = end;
	return 0;
}

/* The hook on the player path, after the limits. */
static __always_inline int km_a2s(struct xdp_md *ctx, struct km_pkt *p,
				  __u32 id)
{
	struct km_a2s_args a = {
	    .now = p->now,
	    .id = id,
	    .frame_len = p->frame_len,
	    .saddr = p->saddr,
	    .daddr = p->daddr,
	    .sport = p->sport,
	    .dport = p->dport,
	    .ip_len = p->ip_len,
	    .a2s_type = p->a2s_type,
	};
	int r = km_a2s_decide(ctx, &a);

	if (r == KM_A2S_DO_CHALLENGE)
		r = km_a2s_challenge(ctx, &a);
	else if (r == KM_A2S_DO_SERVE)
		r = km_a2s_serve(ctx, &a);
	if (r != KM_CONTINUE) {
		p->action = a.action;
		return r;
	}
	if (!(p->flags & KM_PF_PRECISE))
		p->now = a.now;
	/* The forward path reads the headers again. */
	return km_a2s_repoint(ctx, p) ? KM_R_DROP_INTERNAL : KM_CONTINUE;
}

/*
 * Decap path: an authenticated answer of service `id`'s game server to the
 * edge address, i.e. to a worker's query. The inner packet goes to this
 * queue's worker, or to the kernel (the querying worker's UDP socket) when
 * the queue has none. Nothing is validated or learned from it.
 */
static __always_inline int km_a2s_ingest(struct xdp_md *ctx, struct km_pkt *p,
					 __u32 id)
{
	struct km_a2s_stat *st = bpf_map_lookup_elem(&km_a2s_stats, &id);
	struct ethhdr *eth, oeth;
	void *data, *end;

	__builtin_memcpy(&oeth, p->eth, sizeof(oeth));
	if (km_trim(ctx, p, sizeof(*eth) + p->ip_len) ||
	    bpf_xdp_adjust_head(ctx, p->ip_hlen))
		return KM_R_DROP_INTERNAL;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) > end)
		return KM_R_DROP_INTERNAL;
	__builtin_memcpy(eth, &oeth, sizeof(oeth));
	if (st)
		st->ingested += 1;
	if (bpf_redirect_map(&km_xsks, ctx->rx_queue_index, XDP_PASS) !=
	    XDP_REDIRECT)
		return KM_R_PASS_A2S_INGEST;
	p->action = XDP_REDIRECT;
	return KM_R_REDIR_A2S_INGEST;
}

#endif /* KM_A2S_BPF_H */
