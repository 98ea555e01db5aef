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
#define KM_A2S_HDRS (sizeof(struct ethhdr) + sizeof(struct iphdr) +       \
		     sizeof(struct udphdr))

#define KM_READ_ONCE32(x) (*(volatile __u32 *)&(x))
#define km_barrier() asm volatile("" ::: "memory")

/* What the request carried, read before the packet is rewritten. */
struct km_a2s_req {
	const struct km_a2s_cfg *cfg;
	struct km_a2s_stat *st;
	__u32 n;      /* UDP payload bytes */
	__u32 ch;     /* the challenge as it sits in the packet */
	__u32 queue;  /* RX queue: the km_xsks slot */
	__u8 has_ch;  /* INFO: 29 bytes; PLAYER/RULES: always */
	__u8 worker;  /* 0 unknown, 1 no worker, 2 worker */
	__u8 pad[2];
};

/*
 * SipHash input, 16 bytes: player address, player port, service address,
 * service port (network order, as in the packet), epoch (little endian).
 * The challenge is the low 32 bits of the hash, sent as their little-endian
 * bytes; 0 and FFFFFFFF (which ask PLAYER/RULES for a challenge) become 1.
 */
static __always_inline __u64 km_a2s_m0(const struct km_pkt *p)
{
	return (__u64)p->saddr | (__u64)p->sport << 32 |
	       (__u64)(p->daddr & 0xffff) << 48;
}

static __always_inline __u64 km_a2s_m1(const struct km_pkt *p, __u32 epoch)
{
	return (__u64)(p->daddr >> 16) | (__u64)p->dport << 16 |
	       (__u64)epoch << 32;
}

static __always_inline __u32 km_a2s_chal(__u64 h)
{
	__u32 c = (__u32)h;

	return c + 1 <= 1 ? 1 : c;
}

/* Current epoch under the current key first (what a client echoes within
 * an epoch), then the previous epoch; the previous key only when the key
 * was rotated. The first message word is compressed once per key. */
static __always_inline int km_a2s_valid(const struct km_pkt *p,
					const struct km_a2s_key *k, __u32 ch)
{
	__u64 m0 = km_a2s_m0(p), m1 = km_a2s_m1(p, k->epoch),
	      m1p = km_a2s_m1(p, k->epoch - 1);
	struct km_sip s;

	km_sip_m0(&s, k->k0, k->k1, m0);
	if (km_a2s_chal(km_sip_m1(&s, m1)) == ch ||
	    km_a2s_chal(km_sip_m1(&s, m1p)) == ch)
		return 1;
	if (k->prev_k0 == k->k0 && k->prev_k1 == k->k1)
		return 0;
	km_sip_m0(&s, k->prev_k0, k->prev_k1, m0);
	return km_a2s_chal(km_sip_m1(&s, m1)) == ch ||
	       km_a2s_chal(km_sip_m1(&s, m1p)) == ch;
}

static __always_inline __u32 km_csum_add32(__u32 sum, __be32 a)
{
	return sum + (a & 0xffff) + (a >> 16);
}

/* Only well-formed requests: UDP length = IP payload, A2S_INFO exactly 25
 * or 29 bytes, PLAYER/RULES exactly 9. Anything else (extra or missing
 * bytes) is ordinary traffic for the game server. */
static __always_inline int km_a2s_shape(const struct km_pkt *p,
					struct km_a2s_req *q)
{
	struct udphdr *u = p->l4;
	__u8 *pay = p->l4 + sizeof(*u);

	if ((void *)(u + 1) > p->data_end)
		return 0;
	q->n = p->ip_len - sizeof(struct iphdr) - sizeof(*u);
	if (bpf_ntohs(u->len) != q->n + sizeof(*u))
		return 0;
	if (p->a2s_type != KM_A2S_T_INFO) {
		if (q->n != KM_A2S_CHALLENGE_LEN ||
		    (void *)(pay + KM_A2S_CHALLENGE_LEN) > p->data_end)
			return 0;
		__builtin_memcpy(&q->ch, pay + 5, 4);
		q->has_ch = 1;
		return 1;
	}
	if (q->n == KM_A2S_INFO_LEN)
		return 1;
	if (q->n != KM_A2S_INFO_CH_LEN ||
	    (void *)(pay + KM_A2S_INFO_CH_LEN) > p->data_end)
		return 0;
	__builtin_memcpy(&q->ch, pay + KM_A2S_INFO_LEN, 4);
	q->has_ch = 1;
	return 1;
}

static __always_inline int km_a2s_has_worker(struct km_a2s_req *q)
{
	if (!q->worker)
		q->worker = bpf_map_lookup_elem(&km_xsks, &q->queue) ? 2 : 1;
	return q->worker == 2;
}

/* To this queue's worker. The slot was seen occupied; a worker that
 * closed its socket since makes bpf_redirect_map() fail, and the request
 * is forwarded instead (never XDP_ABORTED). */
static __always_inline int km_a2s_to_worker(struct km_pkt *p,
					    struct km_a2s_req *q)
{
	if (bpf_redirect_map(&km_xsks, q->queue, 0) != XDP_REDIRECT)
		return KM_CONTINUE;
	q->st->to_worker += 1;
	p->action = XDP_REDIRECT;
	return KM_R_REDIR_A2S_WORKER;
}

/* The cached A2S_INFO answer of service `id`, when it may be served: a
 * stable seqlock sequence (returned in *seq), VALID and not DOWN, this
 * very service (an id reused by another service misses) and not older
 * than max_age. */
static __always_inline struct km_a2s_entry *
km_a2s_entry(struct km_pkt *p, const struct km_a2s_req *q, __u32 id,
	     __u32 *seq)
{
	struct km_a2s_entry *e = bpf_map_lookup_elem(&km_a2s_info, &id);
	__u32 len;

	if (!e)
		return NULL;
	*seq = KM_READ_ONCE32(e->seq);
	km_barrier();
	len = e->len;
	if ((*seq & 1) ||
	    (e->flags & (KM_A2S_E_VALID | KM_A2S_E_DOWN)) != KM_A2S_E_VALID ||
	    e->svc.proto != IPPROTO_UDP || e->svc.port != p->dport ||
	    e->svc.addr != p->daddr || !len || len > KM_A2S_INFO_MAX)
		return NULL;
	if (km_older_than(km_pkt_now_coarse(p), e->updated_ns,
			  q->cfg->max_age_ns))
		return NULL;
	return e;
}

/* Packet pointers again after bpf_xdp_adjust_tail(): the forward path
 * reads p->eth, p->ip and p->l4. */
static __always_inline int km_a2s_repoint(struct xdp_md *ctx,
					  struct km_pkt *p)
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

/* A torn cache copy overwrote the request's payload: put the A2S_INFO
 * request back (its headers were not touched) at its received length
 * (Ethernet padding comes back as zeros). */
static __always_inline int km_a2s_restore(struct xdp_md *ctx,
					  struct km_pkt *p,
					  const struct km_a2s_req *q)
{
	__u64 w0 = KM_A2S_INFO_W0, w1 = KM_A2S_INFO_W1;
	__u32 w2 = KM_A2S_INFO_W2;
	int cur = ctx->data_end - ctx->data;
	__u8 *pay;

	if (bpf_xdp_adjust_tail(ctx, (int)p->frame_len - cur) ||
	    km_a2s_repoint(ctx, p))
		return -1;
	pay = p->l4 + sizeof(struct udphdr);
	if ((void *)(pay + KM_A2S_INFO_CH_LEN) > p->data_end)
		return -1;
	*(__u32 *)pay = 0xffffffffU;
	pay[4] = KM_A2S_T_INFO;
	__builtin_memcpy(pay + 5, &w0, 8);
	__builtin_memcpy(pay + 13, &w1, 8);
	__builtin_memcpy(pay + 21, &w2, 4);
	if (q->has_ch)
		__builtin_memcpy(pay + KM_A2S_INFO_LEN, &q->ch, 4);
	return 0;
}

/* Turn the request's headers into the reply's: MACs, addresses and ports
 * swapped, a fresh IPv4 header of `ulen` UDP bytes. Returns the partial
 * UDP checksum (pseudo header + UDP header, checksum field 0) in memory
 * byte order, unfolded. The caller has checked KM_A2S_HDRS bytes. */
static __always_inline __u32 km_a2s_headers(const struct km_pkt *p,
					    struct ethhdr *eth,
					    struct iphdr *ip,
					    struct udphdr *u, __u16 ulen)
{
	__u8 mac[ETH_ALEN];
	struct iphdr h;

	__builtin_memcpy(mac, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, mac, ETH_ALEN);
	*(__u8 *)&h = 0x45;
	h.tos = ip->tos;
	h.tot_len = bpf_htons(ulen + sizeof(struct iphdr));
	h.id = 0;
	h.frag_off = bpf_htons(KM_IP_DF);
	h.ttl = KM_A2S_REPLY_TTL;
	h.protocol = IPPROTO_UDP;
	h.check = 0;
	h.saddr = p->daddr;
	h.daddr = p->saddr;
	h.check = km_ip_csum(&h);
	*ip = h;
	u->source = p->dport;
	u->dest = p->sport;
	u->len = bpf_htons(ulen);
	u->check = 0;
	return km_csum_add32(km_csum_add32(0, p->saddr), p->daddr) +
	       bpf_htons(IPPROTO_UDP) + 2 * (__u32)bpf_htons(ulen) +
	       p->sport + p->dport;
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
					    struct km_pkt *p,
					    const struct km_a2s_key *k,
					    struct km_a2s_req *q)
{
	struct km_sip s;
	__u32 ch, sum;
	__u8 *pay;
	int delta;

	km_sip_m0(&s, k->k0, k->k1, km_a2s_m0(p));
	ch = km_a2s_chal(km_sip_m1(&s, km_a2s_m1(p, k->epoch)));
	delta = (int)(KM_A2S_HDRS + KM_A2S_CHALLENGE_LEN) - (int)p->frame_len;
	if (delta && bpf_xdp_adjust_tail(ctx, delta))
		return KM_R_DROP_INTERNAL;
	if (km_a2s_repoint(ctx, p))
		return KM_R_DROP_INTERNAL;
	pay = p->l4 + sizeof(struct udphdr);
	if ((void *)(pay + KM_A2S_CHALLENGE_LEN) > p->data_end)
		return KM_R_DROP_INTERNAL;
	sum = km_a2s_headers(p, p->eth, p->ip, p->l4,
			     sizeof(struct udphdr) + KM_A2S_CHALLENGE_LEN);
	*(__u32 *)pay = 0xffffffffU;
	pay[4] = KM_A2S_S2C_CHALLENGE;
	__builtin_memcpy(pay + 5, &ch, 4);
	/* The payload's 16-bit words as they sit in memory: FFFF FFFF, 41c0,
	 * c1c2, c3 00. */
	sum += 0x1fffe + *(__u16 *)(pay + 4) + *(__u16 *)(pay + 6) + pay[8];
	((struct udphdr *)p->l4)->check = km_udp_check(sum);
	q->st->challenges += 1;
	p->action = XDP_TX;
	return KM_R_TX_A2S_CHALLENGE;
}

/* Answer from the cache: the frame becomes headers + the entry's data,
 * copied under the entry's seqlock. The UDP checksum is the entry's data
 * sum (big-endian words, unfolded) plus the pseudo and UDP headers. A torn
 * copy is never sent: the request is put back and goes to the worker, or
 * on to the game server. */
static __always_inline int km_a2s_serve(struct xdp_md *ctx, struct km_pkt *p,
					struct km_a2s_req *q,
					struct km_a2s_entry *e, __u32 seq)
{
	__u32 len = e->len, dsum = e->csum, sum;
	__u64 updated = e->updated_ns;
	int delta;

	if (!len || len > KM_A2S_INFO_MAX)
		return KM_CONTINUE;
	delta = (int)(KM_A2S_HDRS + len) - (int)p->frame_len;
	if (delta && bpf_xdp_adjust_tail(ctx, delta))
		goto fallback;
	if (bpf_xdp_store_bytes(ctx, KM_A2S_HDRS, e->data, len))
		goto torn;
	km_barrier();
	if (KM_READ_ONCE32(e->seq) != seq)
		goto torn;
	if (km_a2s_repoint(ctx, p))
		return KM_R_DROP_INTERNAL;
	sum = km_a2s_headers(p, p->eth, p->ip, p->l4,
			     sizeof(struct udphdr) + len);
	/* The entry's sum is of big-endian words: fold, then to memory
	 * order, like every other word of this sum. */
	sum += bpf_htons((__u16)~km_csum_fold(dsum));
	((struct udphdr *)p->l4)->check = km_udp_check(sum);
	q->st->cached += 1;
	if (km_older_than(p->now, updated, q->cfg->refresh_ns))
		q->st->stale += 1;
	p->action = XDP_TX;
	return KM_R_TX_A2S_CACHED;
torn:
	if (km_a2s_restore(ctx, p, q))
		return KM_R_DROP_INTERNAL;
fallback:
	if (km_a2s_repoint(ctx, p))
		return KM_R_DROP_INTERNAL;
	return km_a2s_has_worker(q) ? km_a2s_to_worker(p, q) : KM_CONTINUE;
}

static __always_inline int km_a2s_info_req(struct xdp_md *ctx,
					   struct km_pkt *p,
					   struct km_a2s_req *q,
					   const struct km_a2s_key *k, __u32 id)
{
	struct km_a2s_entry *e;
	__u32 seq = 0;

	e = km_a2s_entry(p, q, id, &seq);
	if (q->cfg->flags & KM_A2S_F_NO_CHALLENGE) {
		if (e)
			return km_a2s_serve(ctx, p, q, e, seq);
		return km_a2s_has_worker(q) ? km_a2s_to_worker(p, q)
					    : KM_CONTINUE;
	}
	if (!k || (!e && !km_a2s_has_worker(q)))
		return KM_CONTINUE;
	if (q->has_ch) {
		if (km_a2s_valid(p, k, q->ch)) {
			if (e)
				return km_a2s_serve(ctx, p, q, e, seq);
			return km_a2s_to_worker(p, q);
		}
		q->st->bad_challenges += 1;
	}
	return km_a2s_challenge(ctx, p, k, q);
}

/* A2S_PLAYER, A2S_RULES: only a worker answers them. FFFFFFFF and 0 ask
 * for a challenge. */
static __always_inline int km_a2s_other_req(struct xdp_md *ctx,
					    struct km_pkt *p,
					    struct km_a2s_req *q,
					    const struct km_a2s_key *k)
{
	if (!km_a2s_has_worker(q))
		return KM_CONTINUE;
	if (q->cfg->flags & KM_A2S_F_NO_CHALLENGE)
		return km_a2s_to_worker(p, q);
	if (!k)
		return KM_CONTINUE;
	if (q->ch != 0 && q->ch != 0xffffffffU) {
		if (km_a2s_valid(p, k, q->ch))
			return km_a2s_to_worker(p, q);
		q->st->bad_challenges += 1;
	}
	return km_a2s_challenge(ctx, p, k, q);
}

/*
 * An A2S request (KM_PF_A2S) to service `id` that passed the lists and the
 * limits. Returns a verdict, or KM_CONTINUE to forward it to the game
 * server. Every request of an A2S service is counted in `requests` and in
 * exactly one of challenges, cached, to_worker, forwarded.
 */
static __always_inline int km_a2s(struct xdp_md *ctx, struct km_pkt *p,
				  __u32 id)
{
	const struct km_a2s_key *k;
	struct km_a2s_req q = {};
	__u32 zero = 0;
	int r = KM_CONTINUE;

	q.cfg = bpf_map_lookup_elem(&km_a2s_cfg, &id);
	if (!q.cfg || !(q.cfg->flags & KM_A2S_F_ENABLED))
		return KM_CONTINUE;
	q.st = bpf_map_lookup_elem(&km_a2s_stats, &id);
	if (!q.st)
		return KM_CONTINUE;
	q.st->requests += 1;
	q.queue = ctx->rx_queue_index;
	k = bpf_map_lookup_elem(&km_a2s_key, &zero);
	if (k && !(k->flags & KM_A2S_KEY_F_VALID))
		k = NULL;
	if (km_a2s_shape(p, &q)) {
		if (p->a2s_type == KM_A2S_T_INFO)
			r = km_a2s_info_req(ctx, p, &q, k, id);
		else
			r = km_a2s_other_req(ctx, p, &q, k);
	}
	if (r == KM_CONTINUE)
		q.st->forwarded += 1;
	return r;
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
