/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Parse stage: cursor-based, every read bounds-checked against data_end.
 * km_parse_ipv4() runs for every packet; km_parse_l4() only for packets to a
 * service address, where malformed packets are dropped (docs/design.md
 * "Verdicts for odd packets").
 */
#ifndef KM_PARSE_BPF_H
#define KM_PARSE_BPF_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "kilimanjaro_abi.h"
#include "maps.bpf.h"
#include "pkt.bpf.h"
#include "stats.bpf.h"

/* <linux/icmp.h> drags in libc socket headers, which -target bpf cannot
 * build: the 8 bytes of an echo header are all this program needs. */
struct km_icmphdr {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be16 id;
	__be16 sequence;
};

#define KM_ICMP_ECHOREPLY 0
#define KM_ICMP_ECHO 8

#define KM_IP_MF 0x2000
#define KM_IP_DF 0x4000
#define KM_IP_OFFSET 0x1fff

/* Ethernet + IPv4 header consistency. On KM_CONTINUE p->eth, p->ip, the
 * addresses, protocol and lengths are set, and the IPv4 header (with its
 * options) and tot_len bytes are inside the frame. */
static __always_inline int km_parse_ipv4(struct xdp_md *ctx, struct km_pkt *p)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	__u32 hlen, len;
	__u8 vihl;

	p->frame_len = end - data;
	p->data_end = end;
	if ((void *)(eth + 1) > end)
		return KM_R_DROP_TRUNCATED;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return KM_R_PASS_NOT_IPV4;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end)
		return KM_R_DROP_TRUNCATED;
	/* Version and IHL share a byte; read it whole rather than through
	 * the iphdr bitfields. */
	vihl = *(__u8 *)ip;
	hlen = (vihl & 0xf) * 4;
	len = bpf_ntohs(ip->tot_len);
	if ((vihl >> 4) != 4 || hlen < sizeof(*ip) || len < hlen ||
	    len > p->frame_len - sizeof(*eth))
		return KM_R_DROP_BAD_IP;
	p->eth = eth;
	p->ip = ip;
	p->ip_len = len;
	p->ip_hlen = hlen;
	p->proto = ip->protocol;
	p->saddr = ip->saddr;
	p->daddr = ip->daddr;
	if (hlen > sizeof(*ip))
		p->flags |= KM_PF_OPTIONS;
	if (ip->frag_off & bpf_htons(KM_IP_MF | KM_IP_OFFSET))
		p->flags |= KM_PF_FRAGMENT;
	return KM_CONTINUE;
}

/* "Source Engine Query\0" after FF FF FF FF 54, as three loads. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define KM_A2S_INFO_W0 0x4520656372756f53ULL /* "Source E" */
#define KM_A2S_INFO_W1 0x755120656e69676eULL /* "ngine Qu" */
#define KM_A2S_INFO_W2 0x00797265U           /* "ery\0" */
#else
#define KM_A2S_INFO_W0 0x536f757263652045ULL
#define KM_A2S_INFO_W1 0x6e67696e65205175ULL
#define KM_A2S_INFO_W2 0x65727900U
#endif
#define KM_A2S_INFO_LEN 25
#define KM_A2S_CHALLENGE_LEN 9 /* FF FF FF FF 55|56 + 4-byte challenge */

/* Recognise A2S requests to a service for the A2S cache; counting is the
 * only effect here. Needs km_parse_l4() to have accepted the packet. */
static __always_inline void km_a2s_detect(struct km_pkt *p)
{
	__u8 *pay = p->l4 + sizeof(struct udphdr);
	__u32 n = p->ip_len - sizeof(struct iphdr) - sizeof(struct udphdr);
	__u64 w0, w1;
	__u32 w2;

	if (p->proto != IPPROTO_UDP || n < KM_A2S_CHALLENGE_LEN ||
	    (void *)(pay + 5) > p->data_end)
		return;
	if (*(__u32 *)pay != 0xffffffffU)
		return;
	switch (pay[4]) {
	case 0x54:
		if (n < KM_A2S_INFO_LEN ||
		    (void *)(pay + KM_A2S_INFO_LEN) > p->data_end)
			return;
		__builtin_memcpy(&w0, pay + 5, 8);
		__builtin_memcpy(&w1, pay + 13, 8);
		__builtin_memcpy(&w2, pay + 21, 4);
		if (w0 != KM_A2S_INFO_W0 || w1 != KM_A2S_INFO_W1 ||
		    w2 != KM_A2S_INFO_W2)
			return;
		break;
	case 0x55:
	case 0x56:
		break;
	default:
		return;
	}
	p->flags |= KM_PF_A2S;
	p->a2s_type = pay[4];
	km_count(KM_C_A2S_SEEN);
}

/* L4 as a service address requires it: no options, no fragments, a whole
 * UDP (8), TCP (20) or ICMP (8) header inside tot_len; other protocols
 * serve nothing there. Runs before the destination is known (the service
 * lookup needs the ports); its verdict only counts for service addresses. */
static __always_inline int km_parse_l4(struct km_pkt *p)
{
	void *l4 = (void *)(p->ip + 1);
	__u32 avail = p->ip_len - sizeof(struct iphdr);
	__u32 need;

	if (p->flags & KM_PF_OPTIONS)
		return KM_R_DROP_IP_OPTIONS;
	if (p->flags & KM_PF_FRAGMENT)
		return KM_R_DROP_FRAGMENT;
	switch (p->proto) {
	case IPPROTO_UDP:
		need = sizeof(struct udphdr);
		break;
	case IPPROTO_TCP:
		need = sizeof(struct tcphdr);
		break;
	case IPPROTO_ICMP:
		need = sizeof(struct km_icmphdr);
		break;
	default:
		return KM_R_DROP_NO_SERVICE;
	}
	if (avail < need || l4 + need > p->data_end)
		return KM_R_DROP_TRUNCATED;
	p->l4 = l4;
	if (p->proto == IPPROTO_ICMP)
		return KM_CONTINUE;
	/* UDP and TCP both start with the two ports. */
	p->sport = ((__be16 *)l4)[0];
	p->dport = ((__be16 *)l4)[1];
	return KM_CONTINUE;
}

#endif /* KM_PARSE_BPF_H */
