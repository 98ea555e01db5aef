// SPDX-License-Identifier: GPL-2.0-only
/* Packet builder. Its checksum code is deliberately not shared with
 * verify.c: the verifier must catch a builder mistake too. */
#include "kmtest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <linux/if_ether.h>

const uint8_t KMT_MAC_EDGE[6] = {0x02, 0x6b, 0x6d, 0x00, 0x00, 0x01};
const uint8_t KMT_MAC_NEIGH[6] = {0x02, 0x6b, 0x6d, 0x00, 0x00, 0x02};
const uint8_t KMT_MAC_EDGE2[6] = {0x02, 0x6b, 0x6d, 0x00, 0x01, 0x01};
const uint8_t KMT_MAC_NEIGH2[6] = {0x02, 0x6b, 0x6d, 0x00, 0x01, 0x02};

const char *kmt_ip_str(uint32_t addr_be)
{
	static char bufs[4][16];
	static unsigned int slot;
	char *b = bufs[slot++ % 4];

	inet_ntop(AF_INET, &addr_be, b, 16);
	return b;
}

void kmt_pkt_init(struct kmt_pkt *p)
{
	memset(p, 0, sizeof(*p));
	memcpy(p->eth_dst, KMT_MAC_EDGE, 6);
	memcpy(p->eth_src, KMT_MAC_NEIGH, 6);
	p->eth_type = ETH_P_IP;
	p->ip.ttl = 64;
	p->ip.id = 1;
	p->outer.ttl = 64;
	p->outer.id = 1;
	p->l4 = IPPROTO_UDP;
	p->sport = 40000;
	p->dport = 27015;
	p->tcp_win = 65535;
}

int kmt_pkt_payload(struct kmt_pkt *p, const void *data, size_t len)
{
	if (p->payload_len + len > KMT_PAYLOAD_MAX)
		return -ENOSPC;
	memcpy(p->payload + p->payload_len, data, len);
	p->payload_len += len;
	return 0;
}

int kmt_pkt_payload_fill(struct kmt_pkt *p, size_t len)
{
	if (len > KMT_PAYLOAD_MAX)
		return -ENOSPC;
	for (size_t i = 0; i < len; i++)
		p->payload[i] = (uint8_t)i;
	p->payload_len = len;
	return 0;
}

/* Ones' complement sum of a byte range in memory order, folded later. */
static uint32_t sum_mem(uint32_t acc, const void *data, size_t len)
{
	const uint8_t *b = data;
	uint16_t w;

	while (len >= 2) {
		memcpy(&w, b, 2);
		acc += w;
		b += 2;
		len -= 2;
	}
	if (len) {
		w = 0;
		memcpy(&w, b, 1);
		acc += w;
	}
	return acc;
}

static uint16_t fold(uint32_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)~acc;
}

static void put16(uint8_t *p, uint16_t host)
{
	uint16_t v = htons(host);

	memcpy(p, &v, 2);
}

static void put32(uint8_t *p, uint32_t host)
{
	uint32_t v = htonl(host);

	memcpy(p, &v, 4);
}

static size_t l4_hdr_len(uint8_t l4)
{
	switch (l4) {
	case IPPROTO_UDP:
		return 8;
	case IPPROTO_TCP:
		return 20;
	case IPPROTO_ICMP:
		return 8;
	default:
		return 0;
	}
}

/* Writes the L4 header + payload at b (room checked by the caller) and
 * returns its length. Checksum over a pseudo header laid out in memory. */
static size_t build_l4(const struct kmt_pkt *p, uint8_t *b)
{
	size_t hl = l4_hdr_len(p->l4), len = hl + p->payload_len;
	struct {
		uint32_t s, d;
		uint8_t zero, proto;
		uint16_t len;
	} __attribute__((packed)) ph;
	uint16_t c;
	size_t coff;

	memset(b, 0, hl);
	memcpy(b + hl, p->payload, p->payload_len);
	switch (p->l4) {
	case IPPROTO_UDP:
		put16(b, p->sport);
		put16(b + 2, p->dport);
		put16(b + 4, (uint16_t)len);
		coff = 6;
		break;
	case IPPROTO_TCP:
		put16(b, p->sport);
		put16(b + 2, p->dport);
		put32(b + 4, p->tcp_seq);
		put32(b + 8, p->tcp_ack);
		b[12] = 5 << 4;
		b[13] = p->tcp_flags;
		put16(b + 14, p->tcp_win);
		coff = 16;
		break;
	case IPPROTO_ICMP:
		b[0] = p->icmp_type;
		b[1] = p->icmp_code;
		put16(b + 4, p->icmp_id);
		put16(b + 6, p->icmp_seq);
		c = fold(sum_mem(0, b, len));
		if (p->flags & KMT_F_BAD_L4_CSUM)
			c ^= 1;
		memcpy(b + 2, &c, 2);
		return len;
	default:
		return len;
	}
	ph.s = p->ip.saddr;
	ph.d = p->ip.daddr;
	ph.zero = 0;
	ph.proto = p->l4;
	ph.len = htons((uint16_t)len);
	c = fold(sum_mem(sum_mem(0, &ph, sizeof(ph)), b, len));
	if (p->l4 == IPPROTO_UDP && c == 0)
		c = 0xffff;
	if (p->l4 == IPPROTO_UDP && (p->flags & KMT_F_UDP_CSUM_ZERO))
		c = 0;
	else if (p->flags & KMT_F_BAD_L4_CSUM)
		c ^= 1;
	memcpy(b + coff, &c, 2);
	return len;
}

/* IPv4 header for `payload_len` bytes of payload; returns header length. */
static size_t build_ip(const struct kmt_ip *ip, uint8_t proto,
		       size_t payload_len, uint8_t *b)
{
	size_t hl = 20 + ip->opts_len;
	uint8_t ihl = ip->ihl ? ip->ihl : (uint8_t)(hl / 4);
	uint16_t c;

	memset(b, 0, 20);
	b[0] = (uint8_t)((ip->version ? ip->version : 4) << 4 | (ihl & 0xf));
	b[1] = ip->tos;
	put16(b + 2, ip->tot_len ? ip->tot_len : (uint16_t)(hl + payload_len));
	put16(b + 4, ip->id);
	put16(b + 6, ip->frag);
	b[8] = ip->ttl;
	b[9] = ip->proto ? ip->proto : proto;
	memcpy(b + 12, &ip->saddr, 4);
	memcpy(b + 16, &ip->daddr, 4);
	memcpy(b + 20, ip->opts, ip->opts_len);
	c = fold(sum_mem(0, b, hl));
	if (ip->flags & KMT_IPF_BAD_CSUM)
		c ^= 1;
	memcpy(b + 10, &c, 2);
	return hl;
}

int kmt_pkt_build(const struct kmt_pkt *p, uint8_t *buf, size_t cap)
{
	size_t off = 14, ohl = 0, ihl, l4len, need;

	if (p->ip.opts_len % 4 || p->ip.opts_len > 40 ||
	    p->outer.opts_len % 4 || p->outer.opts_len > 40 ||
	    p->payload_len > KMT_PAYLOAD_MAX)
		return -EINVAL;
	need = 14 + p->payload_len + p->pad;
	if (p->eth_type == ETH_P_IP)
		need += (p->ipip ? 20 + p->outer.opts_len : 0) + 20 +
			p->ip.opts_len + l4_hdr_len(p->l4);
	if (need > cap)
		return -ENOSPC;

	memcpy(buf, p->eth_dst, 6);
	memcpy(buf + 6, p->eth_src, 6);
	put16(buf + 12, p->eth_type);
	if (p->eth_type != ETH_P_IP) {
		memcpy(buf + off, p->payload, p->payload_len);
		off += p->payload_len;
		goto pad;
	}
	if (p->ipip)
		ohl = 20 + p->outer.opts_len;
	ihl = 20 + p->ip.opts_len;
	/* L4 first: the IP headers need its length. */
	l4len = build_l4(p, buf + off + ohl + ihl);
	build_ip(&p->ip, p->l4, l4len, buf + off + ohl);
	if (p->ipip)
		build_ip(&p->outer, IPPROTO_IPIP, ihl + l4len, buf + off);
	off += ohl + ihl + l4len;
pad:
	memset(buf + off, 0, p->pad);
	off += p->pad;
	if (p->truncate && p->truncate < off)
		off = p->truncate;
	return (int)off;
}
