// SPDX-License-Identifier: GPL-2.0-only
/*
 * FOR MEASUREMENT ONLY. Nothing but kmbench loads these programs; they are
 * not Kilimanjaro and must never be used as a data plane.
 *
 * The floors of the bench's targets (bench/README.md "Floors"): for a path
 * of km_xdp, the least work that path must do on this machine whatever the
 * design, so that `bench/run` can say, in the same run and against the
 * same baseline, whether a target is below it. Each program parses only
 * what its verdict depends on, reads its configuration from one-entry
 * arrays, does the path's unavoidable helper calls and packet rewrite,
 * counts the packet in a per-CPU array and returns XDP_TX. There are no
 * lists, no rate limits (floor_forward_src does the one lookup a per-source
 * bucket needs, nothing of GCRA), no per-service stats, no state machines,
 * no fallbacks, no FIB: a packet that is not exactly the scenario's gets
 * XDP_PASS (or XDP_DROP for a wrong challenge), uncounted, and the run's
 * counter check fails.
 *
 *  - floor_decap: IPIP from the backend to the edge address -> inner packet
 *    to the cached next hop;
 *  - floor_forward: UDP to a service -> IPIP to its backend;
 *    floor_forward_src: the same plus the per-source bucket's lookup;
 *  - floor_a2s_challenge: A2S_INFO without challenge -> S2C_CHALLENGE;
 *  - floor_a2s_hit: A2S_INFO with a valid challenge -> the cached answer.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "bench_abi.h"
#include "csum.bpf.h"
#include "kilimanjaro_abi.h"
#include "siphash.bpf.h"

/* The A2S_INFO request: FF FF FF FF 54 "Source Engine Query\0" (25 bytes),
 * the payload after the 4 bytes of FF as three words in memory order. */
#define FL_INFO_W0 0x4520656372756f53ULL /* "Source E" */
#define FL_INFO_W1 0x755120656e69676eULL /* "ngine Qu" */
#define FL_INFO_W2 0x00797265U		 /* "ery\0" */
#define FL_INFO_LEN 25
#define FL_CH_LEN 9 /* S2C_CHALLENGE: FF FF FF FF 41 + 4 bytes */
#define FL_HDRS                                                                \
	(sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct udphdr))
#define FL_TTL 64
#define FL_DF 0x4000

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "floors.bpf.c: the A2S words assume a little-endian BPF target"
#endif

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kmb_floor_cfg);
} floor_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kmb_floor_hop);
} floor_hop SEC(".maps");

/* The service, found the cheapest way km_xdp finds one: a direct-mapped
 * slot of km_svc_cache (same slot function), its key compared as one word.
 * A hash map here would cost the floor a lookup (~22 ns) that the real
 * path's cache hit does not pay. kmbench fills the forward service's
 * slot. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KM_SVC_CACHE_SLOTS);
	__type(key, __u32);
	__type(value, struct km_svc_cached);
} floor_services SEC(".maps");

/* Keyed and flagged like km_rl_src, as large as kmbench makes it; holds
 * the forward player's bucket, so every lookup hits. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__type(key, struct km_rl_key);
	__type(value, struct km_bucket);
} floor_rl_src SEC(".maps");

/* A copy of the a2s_hit scenario's km_a2s_info entry: the same bytes. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct km_a2s_entry);
} floor_a2s SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KMB_F_MAX);
	__type(key, __u32);
	__type(value, __u64);
} floor_cnt SEC(".maps");

static const __u32 key0 = 0;

static __always_inline int count(__u32 floor)
{
	__u64 *c = bpf_map_lookup_elem(&floor_cnt, &floor);

	if (!c)
		return XDP_ABORTED;
	*c += 1;
	return XDP_TX;
}

static __always_inline void set_eth(struct ethhdr *eth,
				    const struct kmb_floor_hop *hop)
{
	__builtin_memcpy(eth->h_dest, hop->dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, hop->smac, ETH_ALEN);
	eth->h_proto = bpf_htons(ETH_P_IP);
}

SEC("xdp")
int floor_decap(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *outer = (void *)(eth + 1);
	struct iphdr *inner = outer + 1;
	const struct kmb_floor_cfg *cfg;
	const struct kmb_floor_hop *hop;

	if ((void *)(inner + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) ||
	    *(__u8 *)outer != 0x45 || outer->protocol != IPPROTO_IPIP ||
	    (*(__u8 *)inner & 0xf0) != 0x40 ||
	    bpf_ntohs(inner->tot_len) + sizeof(*outer) !=
		bpf_ntohs(outer->tot_len))
		return XDP_PASS;
	cfg = bpf_map_lookup_elem(&floor_cfg, &key0);
	hop = bpf_map_lookup_elem(&floor_hop, &key0);
	if (!cfg || !hop || outer->daddr != cfg->edge)
		return XDP_PASS;
	if (bpf_xdp_adjust_head(ctx, (int)sizeof(struct iphdr)))
		return XDP_ABORTED;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) > end)
		return XDP_ABORTED;
	set_eth(eth, hop);
	return count(KMB_F_DECAP);
}

static __always_inline int forward(struct xdp_md *ctx, int with_src)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *u = (void *)(ip + 1);
	const struct kmb_floor_cfg *cfg;
	const struct kmb_floor_hop *hop;
	struct km_service_key sk = {.proto = IPPROTO_UDP};
	struct km_rl_key rk = {};
	const struct km_svc_cached *sc;
	const struct km_service *svc;
	struct iphdr o = {};
	__u32 slot;
	__u16 len;

	if ((void *)(u + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) ||
	    *(__u8 *)ip != 0x45 || ip->protocol != IPPROTO_UDP)
		return XDP_PASS;
	sk.port = u->dest;
	sk.addr = ip->daddr;
	slot = kmb_svc_slot(&sk);
	sc = bpf_map_lookup_elem(&floor_services, &slot);
	if (!sc || *(const __u64 *)&sc->key != *(const __u64 *)&sk)
		return XDP_PASS;
	svc = &sc->svc;
	if (with_src) {
		rk.service_id = svc->id;
		rk.prefix = ip->saddr;
		if (!bpf_map_lookup_elem(&floor_rl_src, &rk))
			return XDP_PASS;
	}
	cfg = bpf_map_lookup_elem(&floor_cfg, &key0);
	hop = bpf_map_lookup_elem(&floor_hop, &key0);
	if (!cfg || !hop)
		return XDP_PASS;
	len = bpf_ntohs(ip->tot_len);
	*(__u8 *)&o = 0x45;
	o.tot_len = bpf_htons(len + sizeof(o));
	o.frag_off = bpf_htons(FL_DF);
	o.ttl = FL_TTL;
	o.protocol = IPPROTO_IPIP;
	o.saddr = cfg->edge;
	o.daddr = svc->backend;
	o.check = km_ip_csum(&o);
	if (bpf_xdp_adjust_head(ctx, -(int)sizeof(struct iphdr)))
		return XDP_ABORTED;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	eth = data;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end)
		return XDP_ABORTED;
	set_eth(eth, hop);
	__builtin_memcpy(ip, &o, sizeof(o));
	return count(with_src ? KMB_F_FORWARD_SRC : KMB_F_FORWARD);
}

SEC("xdp")
int floor_forward(struct xdp_md *ctx)
{
	return forward(ctx, 0);
}

SEC("xdp")
int floor_forward_src(struct xdp_md *ctx)
{
	return forward(ctx, 1);
}

/* An A2S request's fields, kept across the resize. */
struct req {
	__u32 dmac0, smac0;
	__u16 dmac1, smac1;
	__be32 saddr, daddr;
	__be16 sport, dport;
	__u32 ch; /* carried challenge (floor_a2s_hit) */
};

/* A2S_INFO of exactly `plen` bytes (25, or 29 with a challenge) to UDP,
 * IPv4 without options, the lengths consistent. */
static __always_inline int a2s_request(struct xdp_md *ctx, struct req *r,
				       __u32 plen)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *u = (void *)(ip + 1);
	__u8 *pay = (__u8 *)(u + 1);
	__u64 w0, w1;
	__u32 w2;

	if ((void *)(pay + FL_INFO_LEN + 4) > end ||
	    eth->h_proto != bpf_htons(ETH_P_IP) || *(__u8 *)ip != 0x45 ||
	    ip->protocol != IPPROTO_UDP ||
	    bpf_ntohs(ip->tot_len) != sizeof(*ip) + sizeof(*u) + plen ||
	    bpf_ntohs(u->len) != sizeof(*u) + plen ||
	    *(__u32 *)pay != 0xffffffffU || pay[4] != 0x54)
		return 0;
	__builtin_memcpy(&w0, pay + 5, 8);
	__builtin_memcpy(&w1, pay + 13, 8);
	__builtin_memcpy(&w2, pay + 21, 4);
	if (w0 != FL_INFO_W0 || w1 != FL_INFO_W1 || w2 != FL_INFO_W2)
		return 0;
	r->dmac0 = *(__u32 *)eth->h_dest;
	r->dmac1 = *(__u16 *)(eth->h_dest + 4);
	r->smac0 = *(__u32 *)eth->h_source;
	r->smac1 = *(__u16 *)(eth->h_source + 4);
	r->saddr = ip->saddr;
	r->daddr = ip->daddr;
	r->sport = u->source;
	r->dport = u->dest;
	r->ch = *(__u32 *)(pay + FL_INFO_LEN);
	return 1;
}

/* The challenge as bpf/a2s.bpf.h computes it (one SipHash-2-4 of the 16
 * bytes player address, port, service address, port, epoch). */
static __always_inline __u32 a2s_challenge(const struct req *r,
					   const struct kmb_floor_cfg *cfg)
{
	__u64 m0 = (__u64)r->saddr | (__u64)r->sport << 32 |
		   (__u64)(r->daddr & 0xffff) << 48;
	__u64 m1 = (__u64)(r->daddr >> 16) | (__u64)r->dport << 16 |
		   (__u64)cfg->a2s_epoch << 32;
	__u32 c = (__u32)km_siphash16(cfg->a2s_k0, cfg->a2s_k1, m0, m1);

	return c + 1 <= 1 ? 1 : c;
}

static __always_inline __u32 add32(__u32 sum, __be32 a)
{
	return sum + (a & 0xffff) + (a >> 16);
}

/* The reply's headers over the first FL_HDRS bytes at `data` (checked by
 * the caller): MACs, addresses, ports swapped, a fresh IPv4 header. Returns
 * the UDP checksum's sum of the pseudo header and UDP header (check 0), in
 * memory byte order, unfolded. */
static __always_inline __u32 a2s_headers(void *data, const struct req *r,
					 __u16 ulen)
{
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *u = (void *)(ip + 1);

	*(__u32 *)eth->h_dest = r->smac0;
	*(__u16 *)(eth->h_dest + 4) = r->smac1;
	*(__u32 *)eth->h_source = r->dmac0;
	*(__u16 *)(eth->h_source + 4) = r->dmac1;
	eth->h_proto = bpf_htons(ETH_P_IP);
	*(__u8 *)ip = 0x45;
	ip->tos = 0;
	ip->tot_len = bpf_htons(ulen + sizeof(*ip));
	ip->id = 0;
	ip->frag_off = bpf_htons(FL_DF);
	ip->ttl = FL_TTL;
	ip->protocol = IPPROTO_UDP;
	ip->saddr = r->daddr;
	ip->daddr = r->saddr;
	ip->check = km_ip_csum(ip);
	u->source = r->dport;
	u->dest = r->sport;
	u->len = bpf_htons(ulen);
	u->check = 0;
	return add32(add32(0, r->saddr), r->daddr) + bpf_htons(IPPROTO_UDP) +
	       2 * (__u32)bpf_htons(ulen) + r->sport + r->dport;
}

static __always_inline __u16 udp_check(__u32 sum)
{
	__u16 c = km_csum_fold(sum);

	return c ? c : 0xffff;
}

SEC("xdp")
int floor_a2s_challenge(struct xdp_md *ctx)
{
	long len = (long)ctx->data_end - (long)ctx->data;
	const struct kmb_floor_cfg *cfg;
	void *data, *end;
	struct req r;
	__u32 ch, sum;
	__u8 *pay;
	int delta;

	/* The 25-byte request sits in a padded frame: a2s_request() reads
	 * the 4 bytes after it, which the bounds check covers. */
	if (!a2s_request(ctx, &r, FL_INFO_LEN))
		return XDP_PASS;
	cfg = bpf_map_lookup_elem(&floor_cfg, &key0);
	if (!cfg)
		return XDP_PASS;
	ch = a2s_challenge(&r, cfg);
	delta = (int)(FL_HDRS + FL_CH_LEN) - (int)len;
	if (delta && bpf_xdp_adjust_tail(ctx, delta))
		return XDP_ABORTED;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	pay = data + FL_HDRS;
	if ((void *)(pay + FL_CH_LEN) > end)
		return XDP_ABORTED;
	sum = a2s_headers(data, &r, sizeof(struct udphdr) + FL_CH_LEN);
	*(__u32 *)pay = 0xffffffffU;
	pay[4] = 0x41;
	*(__u32 *)(pay + 5) = ch;
	/* The payload as 16-bit words in memory order: FFFF FFFF, 41c0,
	 * c1c2, c3 00. */
	sum += 0x1fffe + *(__u16 *)(pay + 4) + *(__u16 *)(pay + 6) + pay[8];
	((struct udphdr *)(pay - sizeof(struct udphdr)))->check =
	    udp_check(sum);
	return count(KMB_F_A2S_CHALLENGE);
}

SEC("xdp")
int floor_a2s_hit(struct xdp_md *ctx)
{
	long flen = (long)ctx->data_end - (long)ctx->data;
	const struct kmb_floor_cfg *cfg;
	const struct km_a2s_entry *e;
	void *data, *end;
	struct req r;
	__u32 len, sum;
	int delta;

	if (!a2s_request(ctx, &r, FL_INFO_LEN + 4))
		return XDP_PASS;
	cfg = bpf_map_lookup_elem(&floor_cfg, &key0);
	e = bpf_map_lookup_elem(&floor_a2s, &key0);
	if (!cfg || !e)
		return XDP_PASS;
	/* Verified, or not answered (and not counted). */
	if (a2s_challenge(&r, cfg) != r.ch)
		return XDP_DROP;
	len = e->len;
	if (!len || len > KM_A2S_INFO_MAX)
		return XDP_PASS;
	delta = (int)(FL_HDRS + len) - (int)flen;
	if (delta > 0) {
		if (bpf_xdp_adjust_head(ctx, -delta))
			return XDP_ABORTED;
	} else if (delta && bpf_xdp_adjust_tail(ctx, delta)) {
		return XDP_ABORTED;
	}
	if (bpf_xdp_store_bytes(ctx, FL_HDRS, (void *)e->data, len))
		return XDP_ABORTED;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	if (data + FL_HDRS > end)
		return XDP_ABORTED;
	/* The entry's sum is of big-endian words: folded, then in memory
	 * order like the rest. */
	sum = bpf_htons((__u16)~km_csum_fold(e->csum)) +
	      a2s_headers(data, &r, sizeof(struct udphdr) + len);
	((struct udphdr *)(data + FL_HDRS - sizeof(struct udphdr)))->check =
	    udp_check(sum);
	return count(KMB_F_A2S_HIT);
}

char LICENSE[] SEC("license") = "GPL";
