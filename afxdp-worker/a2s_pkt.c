// SPDX-License-Identifier: GPL-2.0-only
#include "a2s_pkt.h"

#include <errno.h>
#include <string.h>

static const uint8_t a2s_hdr[4] = {0xff, 0xff, 0xff, 0xff};
static const uint8_t split_hdr[4] = {0xfe, 0xff, 0xff, 0xff};
static const char info_req[A2S_INFO_REQ_LEN] =
    "\xff\xff\xff\xff\x54Source Engine Query";

const char *a2s_kind_name(enum a2s_kind k)
{
	static const char *const names[A2S_K_MAX] = {"info", "player", "rules"};

	return (unsigned int)k < A2S_K_MAX ? names[k] : "?";
}

int a2s_request_kind(const uint8_t *p, size_t len, enum a2s_kind *kind)
{
	if (len < 5 || memcmp(p, a2s_hdr, 4))
		return -EBADMSG;
	switch (p[4]) {
	case A2S_T_INFO_REQ:
		*kind = A2S_K_INFO;
		return len >= A2S_INFO_REQ_LEN ? 0 : -EBADMSG;
	case A2S_T_PLAYER_REQ:
		*kind = A2S_K_PLAYER;
		return len >= 9 ? 0 : -EBADMSG;
	case A2S_T_RULES_REQ:
		*kind = A2S_K_RULES;
		return len >= 9 ? 0 : -EBADMSG;
	}
	return -EBADMSG;
}

int a2s_message_kind(const uint8_t *p, size_t len, enum a2s_kind *kind)
{
	if (len < 6 || memcmp(p, a2s_hdr, 4))
		return -EBADMSG;
	switch (p[4]) {
	case A2S_T_INFO:
	case A2S_T_INFO_GOLDSRC:
		*kind = A2S_K_INFO;
		return 0;
	case A2S_T_PLAYER:
		*kind = A2S_K_PLAYER;
		return 0;
	case A2S_T_RULES:
		*kind = A2S_K_RULES;
		return 0;
	}
	return -EBADMSG;
}

static int parse_split(const uint8_t *p, size_t len, struct a2s_answer *a,
		       const char **why)
{
	if (len < A2S_SPLIT_HDR + 1) {
		*why = "split fragment shorter than its header";
		return -EBADMSG;
	}
	a->type = A2S_A_SPLIT;
	a->split_id = (uint32_t)p[4] | (uint32_t)p[5] << 8 |
		      (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
	a->split_total = p[8];
	a->split_num = p[9];
	a->split_size = (uint16_t)(p[10] | p[11] << 8);
	a->data = p + A2S_SPLIT_HDR;
	a->data_len = len - A2S_SPLIT_HDR;
	/* The high bit of the id marks a bzip2-compressed answer (old
	 * engines): never produced by current servers, not decompressed. */
	if (a->split_id & 0x80000000u) {
		*why = "compressed split answer";
		return -EBADMSG;
	}
	if (a->split_total == 0 || a->split_num >= a->split_total) {
		*why = "split fragment number out of range";
		return -EBADMSG;
	}
	if (a->split_total > A2S_SPLIT_MAX_FRAGS) {
		*why = "too many split fragments";
		return -EBADMSG;
	}
	return 0;
}

int a2s_answer_parse(const uint8_t *p, size_t len, struct a2s_answer *a,
		     const char **why)
{
	memset(a, 0, sizeof(*a));
	*why = NULL;
	if (len >= 4 && !memcmp(p, split_hdr, 4))
		return parse_split(p, len, a, why);
	if (len < 5 || memcmp(p, a2s_hdr, 4)) {
		*why = "not an A2S message";
		return -EBADMSG;
	}
	if (p[4] == A2S_T_CHALLENGE) {
		if (len != 9) {
			*why = "challenge answer not 9 bytes";
			return -EBADMSG;
		}
		a->type = A2S_A_CHALLENGE;
		memcpy(a->challenge, p + 5, 4);
		return 0;
	}
	if (a2s_message_kind(p, len, &a->kind)) {
		*why = len < 6 ? "truncated answer" : "unexpected answer type";
		return -EBADMSG;
	}
	if (len > A2S_ANSWER_MAX) {
		*why = "answer too large";
		return -EBADMSG;
	}
	a->type = A2S_A_ANSWER;
	a->data = p;
	a->data_len = len;
	return 0;
}

size_t a2s_query_build(uint8_t *buf, enum a2s_kind k, const uint8_t *challenge)
{
	static const uint8_t ask[4] = {0xff, 0xff, 0xff, 0xff};

	if (k == A2S_K_INFO) {
		memcpy(buf, info_req, A2S_INFO_REQ_LEN);
		if (!challenge)
			return A2S_INFO_REQ_LEN;
		memcpy(buf + A2S_INFO_REQ_LEN, challenge, 4);
		return A2S_INFO_REQ_LEN + 4;
	}
	memcpy(buf, a2s_hdr, 4);
	buf[4] = k == A2S_K_PLAYER ? A2S_T_PLAYER_REQ : A2S_T_RULES_REQ;
	memcpy(buf + 5, challenge ? challenge : ask, 4);
	return 9;
}

unsigned int a2s_split_count(size_t len)
{
	return (unsigned int)((len + A2S_SPLIT_DATA - 1) / A2S_SPLIT_DATA);
}

size_t a2s_split_fragment(uint8_t *out, const uint8_t *data, size_t len,
			  uint32_t id, unsigned int num)
{
	size_t off = (size_t)num * A2S_SPLIT_DATA;
	size_t n = len - off < A2S_SPLIT_DATA ? len - off : A2S_SPLIT_DATA;

	memcpy(out, split_hdr, 4);
	out[4] = (uint8_t)id;
	out[5] = (uint8_t)(id >> 8);
	out[6] = (uint8_t)(id >> 16);
	out[7] = (uint8_t)((id >> 24) & 0x7f);
	out[8] = (uint8_t)a2s_split_count(len);
	out[9] = (uint8_t)num;
	out[10] = (uint8_t)(A2S_SPLIT_DATA & 0xff);
	out[11] = (uint8_t)(A2S_SPLIT_DATA >> 8);
	memcpy(out + A2S_SPLIT_HDR, data + off, n);
	return A2S_SPLIT_HDR + n;
}

/* ---- checksums ---- */

uint32_t pkt_sum16(const uint8_t *d, size_t len, uint32_t sum)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)d[i] << 8 | d[i + 1];
	if (len & 1)
		sum += (uint32_t)d[len - 1] << 8;
	return sum;
}

uint16_t pkt_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* ---- frames ---- */

#define ETH_HLEN 14
#define IP_HLEN 20
#define UDP_HLEN 8

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

int pkt_udp_parse(const uint8_t *f, size_t len, struct pkt_udp *u,
		  const char **why)
{
	size_t ihl, tot, ulen;
	const uint8_t *ip, *udp;

	*why = NULL;
	if (len < ETH_HLEN + IP_HLEN + UDP_HLEN || rd16(f + 12) != 0x0800) {
		*why = "not an IPv4 frame";
		return -EBADMSG;
	}
	ip = f + ETH_HLEN;
	ihl = (size_t)(ip[0] & 0xf) * 4;
	tot = rd16(ip + 2);
	if ((ip[0] >> 4) != 4 || ihl < IP_HLEN || tot < ihl + UDP_HLEN ||
	    ETH_HLEN + tot > len) {
		*why = "bad IPv4 header";
		return -EBADMSG;
	}
	if (ip[9] != 17) {
		*why = "not UDP";
		return -EBADMSG;
	}
	if (rd16(ip + 6) & 0x3fff) {
		*why = "IPv4 fragment";
		return -EBADMSG;
	}
	udp = ip + ihl;
	ulen = rd16(udp + 4);
	if (ulen < UDP_HLEN || ihl + ulen > tot) {
		*why = "bad UDP length";
		return -EBADMSG;
	}
	memcpy(u->eth_dst, f, 6);
	memcpy(u->eth_src, f + 6, 6);
	memcpy(&u->saddr, ip + 12, 4);
	memcpy(&u->daddr, ip + 16, 4);
	memcpy(&u->sport, udp, 2);
	memcpy(&u->dport, udp + 2, 2);
	u->payload_off = ETH_HLEN + ihl + UDP_HLEN;
	u->payload_len = ulen - UDP_HLEN;
	return 0;
}

/* IPv4 header (20 bytes, DF, TTL 64) and UDP header with checksums over
 * the payload already at ip + 28. */
static void ip_udp_headers(uint8_t *ip, uint32_t saddr, uint16_t sport,
			   uint32_t daddr, uint16_t dport, size_t plen)
{
	uint8_t *udp = ip + IP_HLEN;
	uint16_t ulen = (uint16_t)(UDP_HLEN + plen), c;
	uint32_t sum;

	memset(ip, 0, IP_HLEN);
	ip[0] = 0x45;
	wr16(ip + 2, (uint16_t)(IP_HLEN + ulen));
	wr16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, &saddr, 4);
	memcpy(ip + 16, &daddr, 4);
	wr16(ip + 10, (uint16_t)~pkt_fold(pkt_sum16(ip, IP_HLEN, 0)));

	memcpy(udp, &sport, 2);
	memcpy(udp + 2, &dport, 2);
	wr16(udp + 4, ulen);
	wr16(udp + 6, 0);
	/* Pseudo header: addresses, protocol, UDP length. */
	sum = pkt_sum16(ip + 12, 8, 17u + ulen);
	sum = pkt_sum16(udp, ulen, sum);
	c = (uint16_t)~pkt_fold(sum);
	wr16(udp + 6, c ? c : 0xffff);
}

int pkt_reply_build(uint8_t *out, size_t cap, const struct pkt_udp *req,
		    const uint8_t *payload, size_t plen)
{
	size_t len = ETH_HLEN + IP_HLEN + UDP_HLEN + plen;

	if (len > cap || plen > 0xffff - IP_HLEN - UDP_HLEN)
		return -ENOSPC;
	memcpy(out, req->eth_src, 6);
	memcpy(out + 6, req->eth_dst, 6);
	wr16(out + 12, 0x0800);
	memmove(out + ETH_HLEN + IP_HLEN + UDP_HLEN, payload, plen);
	ip_udp_headers(out + ETH_HLEN, req->daddr, req->dport, req->saddr,
		       req->sport, plen);
	return (int)len;
}

int pkt_ip_udp_build(uint8_t *out, size_t cap, uint32_t saddr, uint16_t sport,
		     uint32_t daddr, uint16_t dport, const uint8_t *payload,
		     size_t plen)
{
	size_t len = IP_HLEN + UDP_HLEN + plen;

	if (len > cap || len > 0xffff)
		return -ENOSPC;
	memmove(out + IP_HLEN + UDP_HLEN, payload, plen);
	ip_udp_headers(out, saddr, sport, daddr, dport, plen);
	return (int)len;
}
