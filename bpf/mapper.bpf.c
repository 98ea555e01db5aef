// SPDX-License-Identifier: GPL-2.0-only
/*
 * kilimanjaro-mapper: the game-server host's end of the IPIP tunnel, for
 * hosts without a kernel tunnel module.
 *
 *  - XDP (ingress): IPIP from a configured edge to the host address whose
 *    inner destination is a service address is decapsulated and passed to
 *    the stack; the flow (proto, player, player port, service, service port)
 *    is learned -> that edge.
 *  - TC egress: IPv4 from a service address is encapsulated to the edge the
 *    flow was learned from, else to the default edge.
 *
 * Maps and verdicts: bpf/mapper_abi.h. Decisions: docs/design.md ("Mapper").
 */
#include <linux/bpf.h>
#include <linux/errno.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "mapper_abi.h"

#define NSEC_PER_SEC 1000000000ULL
#define IP_MF 0x2000
#define IP_DF 0x4000
#define IP_OFFMASK 0x1fff
#define OUTER_LEN 20

/* <linux/icmp.h> pulls in libc socket headers that do not build for BPF. */
#define ICMP_ECHOREPLY 0
#define ICMP_DEST_UNREACH 3
#define ICMP_SOURCE_QUENCH 4
#define ICMP_ECHO 8
#define ICMP_TIME_EXCEEDED 11
#define ICMP_PARAMETERPROB 12

struct icmphdr {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be16 id; /* echo request / reply */
	__be16 seq;
};

/* Tests load the object with 1: kmm_now() then reads
 * km_m_config.test_now_ns. The mapper never sets it and the verifier drops
 * the branch. */
const volatile __u8 kmm_settable_clock = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kmm_config);
} km_m_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KMM_MAX_EDGES);
	__type(key, __be32);
	__type(value, struct kmm_edge);
} km_m_edges SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, KMM_MAX_SERVICES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct kmm_prefix_key);
	__type(value, struct kmm_service);
} km_m_services SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KMM_DEF_FLOWS);
	__type(key, struct kmm_flow_key);
	__type(value, struct kmm_flow);
} km_m_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KMM_R_MAX);
	__type(key, __u32);
	__type(value, struct kmm_stat);
} km_m_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KMM_C_MAX);
	__type(key, __u32);
	__type(value, __u64);
} km_m_counters SEC(".maps");

static __always_inline struct kmm_config *kmm_cfg(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&km_m_config, &zero);
}

static __always_inline __u64 kmm_now(const struct kmm_config *cfg)
{
	if (kmm_settable_clock)
		return cfg->test_now_ns;
	return bpf_ktime_get_ns();
}

static __always_inline void kmm_count(__u32 reason, __u64 bytes)
{
	struct kmm_stat *s = bpf_map_lookup_elem(&km_m_stats, &reason);

	if (s) {
		s->packets++;
		s->bytes += bytes;
	}
}

static __always_inline void kmm_event(__u32 counter)
{
	__u64 *c = bpf_map_lookup_elem(&km_m_counters, &counter);

	if (c)
		(*c)++;
}

static __always_inline int kmm_is_service(__be32 addr)
{
	struct kmm_prefix_key k = {.prefixlen = 32, .addr = addr};

	return bpf_map_lookup_elem(&km_m_services, &k) != NULL;
}

/* ---- XDP: decapsulation and learning ---- */

static __always_inline void kmm_learn(const struct kmm_flow_key *k, __be32 edge,
				      __u64 now)
{
	struct kmm_flow *f = bpf_map_lookup_elem(&km_m_flows, k);
	struct kmm_flow nf = {.edge = edge, .last_seen_ns = now};
	long err;

	if (f) {
		/* Anycast moved the player to another edge: replies must
		 * follow at once, not after the idle time. */
		if (f->edge != edge) {
			f->edge = edge;
			f->last_seen_ns = now;
			kmm_event(KMM_C_FLOW_MOVED);
		} else if (now - f->last_seen_ns >= NSEC_PER_SEC) {
			f->last_seen_ns = now;
			kmm_event(KMM_C_FLOW_REFRESHED);
		}
		return;
	}
	err = bpf_map_update_elem(&km_m_flows, k, &nf, BPF_NOEXIST);
	if (!err)
		kmm_event(KMM_C_FLOW_LEARNED);
	else if (err != -EEXIST) /* not just another CPU first */
		kmm_event(KMM_C_INSERT_FAILED);
}

/*
 * Flow key of an inner packet (player -> service). Returns 1 with *k set,
 * 0 when the packet has no flow key (fragment, ICMP other than an echo
 * request, other protocols), -1 when its L4 header is truncated.
 */
static __always_inline int kmm_inner_key(struct iphdr *in, __u32 ihl,
					 __u32 in_len, void *end,
					 struct kmm_flow_key *k)
{
	__u8 *l4 = (__u8 *)in + ihl;
	__u32 need;

	if (in->frag_off & bpf_htons(IP_MF | IP_OFFMASK))
		return 0;
	if (in->protocol == IPPROTO_UDP)
		need = 8;
	else if (in->protocol == IPPROTO_TCP)
		need = 20;
	else if (in->protocol == IPPROTO_ICMP)
		need = 8;
	else
		return 0;
	/* in_len lies within the frame: this bounds the whole header; the
	 * verifier only needs the 8 bytes read below. */
	if (ihl + need > in_len || (void *)(l4 + 8) > end)
		return -1;
	k->proto = in->protocol;
	k->player = in->saddr;
	k->svc_addr = in->daddr;
	if (in->protocol == IPPROTO_ICMP) {
		struct icmphdr *ic = (struct icmphdr *)l4;

		if (ic->type != ICMP_ECHO)
			return 0;
		k->player_port = ic->id;
		k->svc_port = 0;
		return 1;
	}
	k->player_port = *(__be16 *)l4;
	k->svc_port = *(__be16 *)(l4 + 2);
	return 1;
}

static __always_inline int kmm_strip(struct xdp_md *ctx, __u32 outer_len)
{
	struct ethhdr eth, *e;
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;

	if (data + sizeof(eth) > end)
		return -1;
	__builtin_memcpy(&eth, data, sizeof(eth));
	if (bpf_xdp_adjust_head(ctx, (int)outer_len))
		return -1;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	e = data;
	if ((void *)(e + 1) > end)
		return -1;
	__builtin_memcpy(e, &eth, sizeof(eth));
	return 0;
}

static __always_inline int kmm_xdp_verdict(__u32 reason, __u64 bytes)
{
	kmm_count(reason, bytes);
	switch (reason) {
	case KMM_R_XDP_PASS_NOT_IPV4:
	case KMM_R_XDP_PASS_NOT_IPIP:
	case KMM_R_XDP_PASS_NOT_HOST:
	case KMM_R_XDP_DECAP:
		return XDP_PASS;
	default:
		return XDP_DROP;
	}
}

/* Checks of the IPIP packet (outer then inner) and the decapsulation. */
static __always_inline __u32 kmm_decap(struct xdp_md *ctx, struct iphdr *ip,
				       void *end, const struct kmm_config *cfg)
{
	struct kmm_flow_key k = {};
	struct iphdr *in;
	__u32 ohl, tot, ihl, in_len;
	__be32 edge = ip->saddr;
	int r;

	if (!bpf_map_lookup_elem(&km_m_edges, &edge))
		return KMM_R_XDP_DROP_NOT_EDGE;
	ohl = ip->ihl * 4;
	tot = bpf_ntohs(ip->tot_len);
	if (ip->version != 4 || ohl < 20 || tot < ohl ||
	    (void *)ip + tot > end ||
	    (ip->frag_off & bpf_htons(IP_MF | IP_OFFMASK)))
		return KMM_R_XDP_DROP_BAD_OUTER;
	in = (void *)ip + ohl;
	if ((void *)(in + 1) > end || tot - ohl < sizeof(*in))
		return KMM_R_XDP_DROP_BAD_INNER;
	ihl = in->ihl * 4;
	in_len = bpf_ntohs(in->tot_len);
	if (in->version != 4 || ihl < 20 || in_len < ihl || in_len > tot - ohl)
		return KMM_R_XDP_DROP_BAD_INNER;
	if (!kmm_is_service(in->daddr))
		return KMM_R_XDP_DROP_NOT_SERVICE;
	r = kmm_inner_key(in, ihl, in_len, end, &k);
	if (r < 0)
		return KMM_R_XDP_DROP_BAD_INNER;
	if (r > 0)
		kmm_learn(&k, edge, kmm_now(cfg));
	else
		kmm_event(KMM_C_DECAP_NO_LEARN);
	if (kmm_strip(ctx, ohl))
		return KMM_R_XDP_DROP_INTERNAL;
	return KMM_R_XDP_DECAP;
}

SEC("xdp")
int kmm_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u64 bytes = end - data;
	struct ethhdr *eth = data;
	struct kmm_config *cfg;
	struct iphdr *ip;

	if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return kmm_xdp_verdict(KMM_R_XDP_PASS_NOT_IPV4, bytes);
	ip = (void *)(eth + 1);
	/* A truncated IPv4 header is the kernel's to reject. */
	if ((void *)(ip + 1) > end || ip->protocol != IPPROTO_IPIP)
		return kmm_xdp_verdict(KMM_R_XDP_PASS_NOT_IPIP, bytes);
	cfg = kmm_cfg();
	if (!cfg || !cfg->host_addr || ip->daddr != cfg->host_addr)
		return kmm_xdp_verdict(KMM_R_XDP_PASS_NOT_HOST, bytes);
	return kmm_xdp_verdict(kmm_decap(ctx, ip, end, cfg), bytes);
}

/* ---- TC egress: encapsulation ---- */

struct kmm_l4ports {
	__be16 a;
	__be16 b;
};

/*
 * Key of the flow an ICMP error from a service is about: the quoted
 * header is the packet the service received (player -> service).
 * Returns 1 with *k set, 0 when there is none.
 */
static __always_inline int kmm_icmp_err_key(struct __sk_buff *skb, __u32 off,
					    struct kmm_flow_key *k)
{
	struct iphdr q;
	struct kmm_l4ports p;
	struct icmphdr qi;
	__u32 qhl;

	if (bpf_skb_load_bytes(skb, off, &q, sizeof(q)))
		return 0;
	qhl = q.ihl * 4;
	if (q.version != 4 || qhl < 20 || (q.frag_off & bpf_htons(IP_OFFMASK)))
		return 0;
	k->proto = q.protocol;
	k->player = q.saddr;
	k->svc_addr = q.daddr;
	if (q.protocol == IPPROTO_UDP || q.protocol == IPPROTO_TCP) {
		if (bpf_skb_load_bytes(skb, off + qhl, &p, sizeof(p)))
			return 0;
		k->player_port = p.a;
		k->svc_port = p.b;
		return 1;
	}
	if (q.protocol == IPPROTO_ICMP) {
		if (bpf_skb_load_bytes(skb, off + qhl, &qi, sizeof(qi)) ||
		    qi.type != ICMP_ECHO)
			return 0;
		k->player_port = qi.id;
		k->svc_port = 0;
		return 1;
	}
	return 0;
}

/* Key of a packet from a service (service -> player). Returns 1 with *k
 * set, 0 when it has none: the default edge then carries it. */
static __always_inline int kmm_reply_key(struct __sk_buff *skb,
					 const struct iphdr *ip, __u32 ihl,
					 struct kmm_flow_key *k)
{
	__u32 l4 = ETH_HLEN + ihl;
	struct kmm_l4ports p;
	struct icmphdr ic;

	if (ip->frag_off & bpf_htons(IP_OFFMASK))
		return 0;
	k->proto = ip->protocol;
	k->player = ip->daddr;
	k->svc_addr = ip->saddr;
	switch (ip->protocol) {
	case IPPROTO_UDP:
	case IPPROTO_TCP:
		if (bpf_skb_load_bytes(skb, l4, &p, sizeof(p)))
			return 0;
		k->svc_port = p.a;
		k->player_port = p.b;
		return 1;
	case IPPROTO_ICMP:
		if (bpf_skb_load_bytes(skb, l4, &ic, sizeof(ic)))
			return 0;
		if (ic.type == ICMP_ECHOREPLY) {
			k->player_port = ic.id;
			k->svc_port = 0;
			return 1;
		}
		if (ic.type == ICMP_DEST_UNREACH ||
		    ic.type == ICMP_TIME_EXCEEDED ||
		    ic.type == ICMP_PARAMETERPROB ||
		    ic.type == ICMP_SOURCE_QUENCH)
			return kmm_icmp_err_key(skb, l4 + sizeof(ic), k);
		return 0;
	default:
		return 0;
	}
}

/* The edge of a learned live flow, else 0. An idle flow is deleted. */
static __always_inline __be32 kmm_flow_edge(const struct kmm_flow_key *k,
					    const struct kmm_config *cfg)
{
	struct kmm_flow *f = bpf_map_lookup_elem(&km_m_flows, k);
	__u64 now;

	if (!f)
		return 0;
	now = kmm_now(cfg);
	if (now > f->last_seen_ns && now - f->last_seen_ns > cfg->idle_ns) {
		bpf_map_delete_elem(&km_m_flows, k);
		kmm_event(KMM_C_FLOW_EXPIRED);
		return 0;
	}
	return f->edge;
}

static __always_inline __u16 kmm_csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

static __always_inline int
kmm_encap(struct __sk_buff *skb, const struct iphdr *in, __be32 src, __be32 dst)
{
	struct iphdr o = {};
	__u16 *w = (__u16 *)&o;
	__u32 sum = 0;
	int i;

	o.version = 4;
	o.ihl = 5;
	o.tos = in->tos;
	o.tot_len = bpf_htons(bpf_ntohs(in->tot_len) + OUTER_LEN);
	/* Outer fragments need distinct ids; with DF the id is unused. */
	o.id = (in->frag_off & bpf_htons(IP_DF)) ? 0
						 : (__u16)bpf_get_prandom_u32();
	o.frag_off = in->frag_off & bpf_htons(IP_DF);
	o.ttl = 64;
	o.protocol = IPPROTO_IPIP;
	o.saddr = src;
	o.daddr = dst;
#pragma unroll
	for (i = 0; i < (int)sizeof(o) / 2; i++)
		sum += w[i];
	o.check = kmm_csum_fold(sum);
	/* ENCAP_L3_IPV4 marks the skb as encapsulated: GSO and a pending
	 * CHECKSUM_PARTIAL of the inner L4 header stay correct. */
	if (bpf_skb_adjust_room(skb, OUTER_LEN, BPF_ADJ_ROOM_MAC,
				BPF_F_ADJ_ROOM_ENCAP_L3_IPV4))
		return -1;
	if (bpf_skb_store_bytes(skb, ETH_HLEN, &o, sizeof(o),
				BPF_F_RECOMPUTE_CSUM))
		return -1;
	return 0;
}

static __always_inline int kmm_tc_verdict(__u32 reason, __u64 bytes)
{
	kmm_count(reason, bytes);
	switch (reason) {
	case KMM_R_TC_PASS_NOT_IPV4:
	case KMM_R_TC_PASS_NOT_SERVICE:
	case KMM_R_TC_PASS_IPIP:
		return TC_ACT_OK;
	default:
		return TC_ACT_SHOT;
	}
}

/* Reason for a packet from a service address; encapsulates it on success
 * and leaves the outer destination in *edge. */
static __always_inline __u32 kmm_egress(struct __sk_buff *skb,
					const struct iphdr *ip,
					const struct kmm_config *cfg,
					__be32 *edge)
{
	struct kmm_flow_key k = {};
	__u32 reason = KMM_R_TC_ENCAP_LEARNED;
	__u32 ihl = ip->ihl * 4, mtu_len = 0;

	if (ip->version != 4 || ihl < 20 || bpf_ntohs(ip->tot_len) < ihl)
		return KMM_R_TC_DROP_BAD_IP;
	*edge = 0;
	if (kmm_reply_key(skb, ip, ihl, &k))
		*edge = kmm_flow_edge(&k, cfg);
	if (!*edge) {
		*edge = cfg->default_edge;
		reason = KMM_R_TC_ENCAP_DEFAULT;
		if (!*edge)
			return KMM_R_TC_DROP_NO_EDGE;
	}
	/* GSO packets pass: their segments shrink with the encapsulation. */
	if (bpf_check_mtu(skb, 0, &mtu_len, OUTER_LEN, 0) ==
	    BPF_MTU_CHK_RET_FRAG_NEEDED)
		return KMM_R_TC_DROP_TOO_BIG;
	if (kmm_encap(skb, ip, cfg->host_addr, *edge))
		return KMM_R_TC_DROP_INTERNAL;
	return reason;
}

SEC("tc")
int kmm_tc_egress(struct __sk_buff *skb)
{
	__u64 bytes = skb->len;
	struct kmm_config *cfg;
	struct iphdr ip;
	__be32 edge = 0;
	__u32 reason;

	if (skb->protocol != bpf_htons(ETH_P_IP) ||
	    bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)))
		return kmm_tc_verdict(KMM_R_TC_PASS_NOT_IPV4, bytes);
	/* Never a service's reply. bpf_redirect_neigh sends our own output
	 * through this hook again: it must not be encapsulated twice. */
	if (ip.protocol == IPPROTO_IPIP)
		return kmm_tc_verdict(KMM_R_TC_PASS_IPIP, bytes);
	cfg = kmm_cfg();
	if (!cfg || !cfg->host_addr || !kmm_is_service(ip.saddr))
		return kmm_tc_verdict(KMM_R_TC_PASS_NOT_SERVICE, bytes);
	reason = kmm_egress(skb, &ip, cfg, &edge);
	if (reason != KMM_R_TC_ENCAP_LEARNED &&
	    reason != KMM_R_TC_ENCAP_DEFAULT)
		return kmm_tc_verdict(reason, bytes);
	kmm_count(reason, bytes);
	if (cfg->flags & KMM_CFG_F_KEEP_L2)
		return TC_ACT_OK;
	/* Route the outer header: the edge may sit behind another next hop
	 * than the player; the neighbour layer fills the Ethernet header. */
	return bpf_redirect_neigh(skb->ifindex, NULL, 0, 0);
}

char LICENSE[] SEC("license") = "GPL";
