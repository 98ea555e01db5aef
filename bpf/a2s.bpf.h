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

/* The request's fields, for the A2S stage's own subprogram. Scalars only
 * (a global function's pointer arguments must point to plain data). */
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
	__u8 pad;
};

/* The stage's state. Small on purpose: the subprogram's stack adds to
 * the caller's (512 bytes for both), so packet pointers are derived from
 * ctx where needed rather than kept here. */
struct km_a2s_req {
	struct km_a2s_args *a;
	const struct km_a2s_cfg *cfg;
	struct km_a2s_stat *st;
	__u32 ch;    /* the challenge as it sits in the packet */
	__u32 queue; /* RX queue: the km_xsks slot */
	__u8 has_ch; /* INFO: 29 bytes; PLAYER/RULES: always */
	__u8 worker; /* 0 unknown, 1 no worker, 2 worker */
	__u8 keyed;  /* km_a2s_key holds a key (KM_A2S_KEY_F_VALID) */
	__u8 pad[5];
};

/* What the edge does with a request. */
enum km_a2s_do {
	KM_A2S_DO_FORWARD = 0, /* on to the game server */
	KM_A2S_DO_WORKER,      /* to this queue's worker */
	KM_A2S_DO_SERVE,       /* A2S_INFO answer from the cache */
	KM_A2S_DO_CHALLENGE,   /* S2C_CHALLENGE */
};

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

static __always_inline __u64 km_a2s_m1(const struct km_a2s_args *a, __u32 epoch)
{
	return (__u64)(a->daddr >> 16) | (__u64)a->dport << 16 |
	       (__u64)epoch << 32;
}

/* A subprogram of its own: the stage needs up to four hashes, and the 150
 * instructions of SipHash-2-4 inlined at every use would double the
 * stage's code. Scalars in, scalar out: verified once. */
__noinline __u32 km_a2s_hash(__u64 k0, __u64 k1, __u64 m0, __u64 m1)
{
	__u32 c = (__u32)km_siphash16(k0, k1, m0, m1);

	return c + 1 <= 1 ? 1 : c;
}

/* Current epoch under the current key first (what a client echoes within
 * an epoch), then the previous epoch; the previous key only when the key
 * was rotated. */
static __always_inline int km_a2s_valid(const struct km_a2s_args *a,
					const struct km_a2s_key *k, __u32 ch)
{
	__u64 m0 = km_a2s_m0(a), m1 = km_a2s_m1(a, k->epoch),
	      m1p = km_a2s_m1(a, k->epoch - 1);

	if (km_a2s_hash(k->k0, k->k1, m0, m1) == ch ||
	    km_a2s_hash(k->k0, k->k1, m0, m1p) == ch)
		return 1;
	if (k->prev_k0 == k->k0 && k->prev_k1 == k->k1)
		return 0;
	return km_a2s_hash(k->prev_k0, k->prev_k1, m0, m1) == ch ||
	       km_a2s_hash(k->prev_k0, k->prev_k1, m0, m1p) == ch;
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
					struct km_a2s_req *q)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct udphdr *u = data + sizeof(struct ethhdr) + sizeof(struct iphdr);
	__u8 *pay = (__u8 *)(u + 1);
	__u32 n;

	if ((void *)pay > end ||
	    *(__u8 *)(data + sizeof(struct ethhdr)) != 0x45)
		return 0;
	n = q->a->ip_len - sizeof(struct iphdr) - sizeof(*u);
	if (bpf_ntohs(u->len) != n + sizeof(*u))
		return 0;
	if (q->a->a2s_type != KM_A2S_T_INFO) {
		if (n != KM_A2S_CHALLENGE_LEN ||
		    (void *)(pay + KM_A2S_CHALLENGE_LEN) > end)
			return 0;
		q->ch = *(__u32 *)(pay + 5);
		q->has_ch = 1;
		return 1;
	}
	if (n == KM_A2S_INFO_LEN)
		return 1;
	if (n != KM_A2S_INFO_CH_LEN || (void *)(pay + KM_A2S_INFO_CH_LEN) > end)
		return 0;
	q->ch = *(__u32 *)(pay + KM_A2S_INFO_LEN);
	q->has_ch = 1;
	return 1;
}

static __always_inline int km_a2s_has_worker(struct km_a2s_req *q)
{
	if (!q->worker)
		q->worker = bpf_map_lookup_elem(&km_xsks, &q->queue) ? 2 : 1;
	return q->worker == 2;
}

/* The cached A2S_INFO answer of service `id`, when it may be served: a
 * stable seqlock sequence (returned in *seq), VALID and not DOWN, this
 * very service (an id reused by another service misses) and not older
 * than max_age (coarse clock: at most one tick younger than it is). */
static __always_inline struct km_a2s_entry *km_a2s_entry(struct km_a2s_req *q,
							 __u32 *seq)
{
	struct km_a2s_args *a = q->a;
	struct km_a2s_entry *e = bpf_map_lookup_elem(&km_a2s_info, &a->id);
	struct km_config *kc;
	__u32 len, zero = 0;

	if (!e)
		return NULL;
	*seq = KM_READ_ONCE32(e->seq);
	km_barrier();
	len = e->len;
	if ((*seq & 1) ||
	    (e->flags & (KM_A2S_E_VALID | KM_A2S_E_DOWN)) != KM_A2S_E_VALID ||
	    e->svc.proto != IPPROTO_UDP || e->svc.port != a->dport ||
	    e->svc.addr != a->daddr || !len || len > KM_A2S_INFO_MAX)
		return NULL;
	if (!a->now) {
		kc = bpf_map_lookup_elem(&km_config, &zero);
		if (!kc)
			return NULL;
		a->now = km_now_coarse(kc);
	}
	if (km_older_than(a->now, e->updated_ns, q->cfg->max_age_ns))
		return NULL;
	return e;
}

/* The decision table of docs/design.md "A2S". The edge challenges only
 * what it can then serve; without a key, or with nothing to serve it
 * with, the request goes on to the game server. */
static __always_inline int km_a2s_decide(struct km_a2s_req *q,
					 const struct km_a2s_key *k,
					 const struct km_a2s_entry *e)
{
	int info = q->a->a2s_type == KM_A2S_T_INFO;

	if (info && e && (q->cfg->flags & KM_A2S_F_NO_CHALLENGE))
		return KM_A2S_DO_SERVE;
	if (!(info && e) && !km_a2s_has_worker(q))
		return KM_A2S_DO_FORWARD;
	if (q->cfg->flags & KM_A2S_F_NO_CHALLENGE)
		return KM_A2S_DO_WORKER;
	if (!k || !q->keyed)
		return KM_A2S_DO_FORWARD;
	/* PLAYER/RULES ask for a challenge with FFFFFFFF or 0. */
	if (q->has_ch && (info || (q->ch != 0 && q->ch != 0xffffffffU))) {
		if (km_a2s_valid(q->a, k, q->ch))
			return e ? KM_A2S_DO_SERVE : KM_A2S_DO_WORKER;
		q->st->bad_challenges += 1;
	}
	return KM_A2S_DO_CHALLENGE;
}

/* A torn cache copy overwrote the request's payload: put the A2S_INFO
 * request back (its headers were not touched) at its received length
 * (Ethernet padding comes back as zeros). `cur`: the frame's length now
 * (the verifier allows no arithmetic on data_end). */
static __always_inline int km_a2s_restore(struct xdp_md *ctx,
					  const struct km_a2s_req *q, int cur)
{
	void *data, *end;
	__u8 *pay;

	if (bpf_xdp_adjust_tail(ctx, (int)q->a->frame_len - cur))
		return -1;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	pay = data + KM_A2S_HDRS;
	if ((void *)(pay + KM_A2S_INFO_CH_LEN) > end)
		return -1;
	*(__u32 *)pay = 0xffffffffU;
	pay[4] = KM_A2S_T_INFO;
	*(__u64 *)(pay + 5) = KM_A2S_INFO_W0;
	*(__u64 *)(pay + 13) = KM_A2S_INFO_W1;
	*(__u32 *)(pay + 21) = KM_A2S_INFO_W2;
	if (q->has_ch)
		*(__u32 *)(pay + KM_A2S_INFO_LEN) = q->ch;
	return 0;
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
static __always_inline int km_a2s_challenge(struct xdp_md *ctx,
					    struct km_a2s_req *q,
					    const struct km_a2s_key *k)
{
	struct km_a2s_args *a = q->a;
	void *data, *end;
	__u32 ch, sum;
	__u8 *pay;
	int delta;

	ch = km_a2s_hash(k->k0, k->k1, km_a2s_m0(a), km_a2s_m1(a, k->epoch));
	delta = (int)(KM_A2S_HDRS + KM_A2S_CHALLENGE_LEN) - (int)a->frame_len;
	if (delta && bpf_xdp_adjust_tail(ctx, delta))
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
	q->st->challenges += 1;
	a->action = XDP_TX;
	return KM_R_TX_A2S_CHALLENGE;
}

/* Answer from the cache: the frame becomes headers + the entry's data,
 * copied under the entry's seqlock. The UDP checksum is the entry's data
 * sum (big-endian words, unfolded) plus the pseudo and UDP headers. A torn
 * copy is never sent: the request is put back, and KM_CONTINUE says so. */
static __always_inline int km_a2s_serve(struct xdp_md *ctx,
					struct km_a2s_req *q,
					struct km_a2s_entry *e, __u32 seq)
{
	__u32 len = e->len, dsum = e->csum, sum;
	__u64 updated = e->updated_ns;
	void *data, *end;
	int delta;

	if (!len || len > KM_A2S_INFO_MAX)
		return KM_CONTINUE;
	delta = (int)(KM_A2S_HDRS + len) - (int)q->a->frame_len;
	if (delta && bpf_xdp_adjust_tail(ctx, delta))
		return KM_CONTINUE;
	if (bpf_xdp_store_bytes(ctx, KM_A2S_HDRS, e->data, len))
		goto torn;
	km_barrier();
	if (KM_READ_ONCE32(e->seq) != seq)
		goto torn;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	if (data + KM_A2S_HDRS > end)
		return KM_R_DROP_INTERNAL;
	sum = km_a2s_headers(q->a, data, sizeof(struct udphdr) + len);
	/* The entry's sum is of big-endian words: fold, then to memory
	 * order, like every other word of this sum. */
	sum += bpf_htons((__u16)~km_csum_fold(dsum));
	((struct udphdr *)(data + KM_A2S_HDRS - sizeof(struct udphdr)))->check =
	    km_udp_check(sum);
	q->st->cached += 1;
	if (km_older_than(q->a->now, updated, q->cfg->refresh_ns))
		q->st->stale += 1;
	q->a->action = XDP_TX;
	return KM_R_TX_A2S_CACHED;
torn:
	return km_a2s_restore(ctx, q, KM_A2S_HDRS + len) ? KM_R_DROP_INTERNAL
							 : KM_CONTINUE;
}

/*
 * An A2S request (KM_PF_A2S) to service a->id that passed the lists and the
 * limits. Returns a verdict, or KM_CONTINUE to forward it to the game
 * server. Every request of an A2S service is counted in `requests` and in
 * exactly one of challenges, cached, to_worker, forwarded.
 *
 * A global function, so the verifier checks it once rather than once per
 * state the limits leave behind (inlined, it more than doubled the
 * program's verification: 300k -> 716k instructions of the 1M limit).
 * It may change the packet's length: the caller re-derives its packet
 * pointers.
 */
__noinline int km_a2s_request(struct xdp_md *ctx, struct km_a2s_args *a)
{
	const struct km_a2s_key *k;
	struct km_a2s_entry *e = NULL;
	struct km_a2s_req q = {};
	__u32 zero = 0, seq = 0;
	int r, what = KM_A2S_DO_FORWARD;

	if (!a)
		return KM_CONTINUE;
	q.a = a;
	q.cfg = bpf_map_lookup_elem(&km_a2s_cfg, &a->id);
	if (!q.cfg || !(q.cfg->flags & KM_A2S_F_ENABLED))
		return KM_CONTINUE;
	q.st = bpf_map_lookup_elem(&km_a2s_stats, &a->id);
	if (!q.st)
		return KM_CONTINUE;
	q.st->requests += 1;
	q.queue = ctx->rx_queue_index;
	/* Not "k = NULL" for a key without KM_A2S_KEY_F_VALID: clang turns
	 * that into a mask on the pointer, which the verifier refuses. */
	k = bpf_map_lookup_elem(&km_a2s_key, &zero);
	q.keyed = k && (k->flags & KM_A2S_KEY_F_VALID);
	if (km_a2s_shape(ctx, &q)) {
		if (a->a2s_type == KM_A2S_T_INFO)
			e = km_a2s_entry(&q, &seq);
		what = km_a2s_decide(&q, k, e);
	}
	if (what == KM_A2S_DO_CHALLENGE && k)
		return km_a2s_challenge(ctx, &q, k);
	if (what == KM_A2S_DO_SERVE && e) {
		r = km_a2s_serve(ctx, &q, e, seq);
		if (r != KM_CONTINUE)
			return r;
		what = km_a2s_has_worker(&q) ? KM_A2S_DO_WORKER
					     : KM_A2S_DO_FORWARD;
	}
	/* The slot was seen occupied; a worker that closed its socket since
	 * makes bpf_redirect_map() fail, and the request is forwarded
	 * instead (never XDP_ABORTED). */
	if (what == KM_A2S_DO_WORKER &&
	    bpf_redirect_map(&km_xsks, q.queue, 0) == XDP_REDIRECT) {
		q.st->to_worker += 1;
		a->action = XDP_REDIRECT;
		return KM_R_REDIR_A2S_WORKER;
	}
	q.st->forwarded += 1;
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
	int r = km_a2s_request(ctx, &a);

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
