/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A2S messages and the frames that carry them: pure functions, no I/O
 * (unit-tested). Addresses and ports are in network order wherever they
 * come from or go into a packet; lengths in host order.
 *
 * Wire facts (Valve "Server queries"): every A2S message starts with
 * FF FF FF FF and a type byte; split answers start with FE FF FF FF, a
 * 4-byte id, a 1-byte total, a 1-byte number and (Source) a 2-byte maximum
 * size, all little-endian, then the fragment's data; the data of all
 * fragments joined in number order is one FF FF FF FF message.
 */
#ifndef KW_A2S_PKT_H
#define KW_A2S_PKT_H

#include <stddef.h>
#include <stdint.h>

enum a2s_kind { A2S_K_INFO = 0, A2S_K_PLAYER, A2S_K_RULES, A2S_K_MAX };

#define A2S_T_INFO_REQ 0x54
#define A2S_T_PLAYER_REQ 0x55
#define A2S_T_RULES_REQ 0x56
#define A2S_T_CHALLENGE 0x41
#define A2S_T_INFO 0x49
#define A2S_T_INFO_GOLDSRC 0x6d
#define A2S_T_PLAYER 0x44
#define A2S_T_RULES 0x45

#define A2S_INFO_REQ_LEN 25 /* FF FF FF FF 54 "Source Engine Query\0" */
#define A2S_SPLIT_HDR 12    /* FE FF FF FF id(4) total number size(2) */
#define A2S_SPLIT_MAX_FRAGS 16
/* Fragment data size the worker splits its own answers at (Source's). */
#define A2S_SPLIT_DATA 1248
/* Largest assembled answer the worker keeps (PLAYER and RULES of big
 * servers are a few KiB). */
#define A2S_ANSWER_MAX 16384
/* An answer of at most this many bytes goes out as one datagram. */
#define A2S_UNSPLIT_MAX 1400

const char *a2s_kind_name(enum a2s_kind k);

/* The kind of a player's request payload (FF FF FF FF 54|55|56 ...):
 * 0, or -EBADMSG when it is not an A2S request. */
int a2s_request_kind(const uint8_t *p, size_t len, enum a2s_kind *kind);

/* What a game server sent to a worker. */
enum a2s_answer_type {
	A2S_A_CHALLENGE = 1, /* FF FF FF FF 41 + 4 bytes */
	A2S_A_ANSWER,	     /* FF FF FF FF 49|6D|44|45 ...: kind set */
	A2S_A_SPLIT,	     /* FE FF FF FF ...: split fields set */
};

struct a2s_answer {
	enum a2s_answer_type type;
	enum a2s_kind kind;   /* A2S_A_ANSWER */
	uint8_t challenge[4]; /* A2S_A_CHALLENGE, as on the wire */
	uint32_t split_id;    /* A2S_A_SPLIT: host order (sent little-endian) */
	uint8_t split_total;
	uint8_t split_num;
	uint16_t split_size;
	const uint8_t *data; /* ANSWER: the whole message; SPLIT: after the
				header */
	size_t data_len;
};

/* Classify a server payload. -EBADMSG with a short reason in *why (a
 * static string) for anything else: truncated, unknown type, a split
 * header out of range, a compressed split answer. */
int a2s_answer_parse(const uint8_t *p, size_t len, struct a2s_answer *a,
		     const char **why);

/* The kind an answer message (FF FF FF FF type ...) carries, or -EBADMSG. */
int a2s_message_kind(const uint8_t *p, size_t len, enum a2s_kind *kind);

/* A query payload for kind k into buf (>= 29 bytes): INFO is the 25-byte
 * request, followed by the challenge when one is given; PLAYER and RULES
 * carry the challenge, or FF FF FF FF to ask for one. Returns the length. */
size_t a2s_query_build(uint8_t *buf, enum a2s_kind k, const uint8_t *challenge);

/* Split fragment `num` of `data` (len bytes) into out: header (id, total,
 * num, A2S_SPLIT_DATA) and data. Returns the fragment length. The number
 * of fragments is a2s_split_count(len). */
unsigned int a2s_split_count(size_t len);
size_t a2s_split_fragment(uint8_t *out, const uint8_t *data, size_t len,
			  uint32_t id, unsigned int num);

/* ---- checksums ---- */

/* 32-bit one's complement sum of data as big-endian 16-bit words (an odd
 * last byte padded with 0), unfolded: km_a2s_entry.csum. */
uint32_t pkt_sum16(const uint8_t *d, size_t len, uint32_t sum);
uint16_t pkt_fold(uint32_t sum);

/* ---- frames ---- */

/* An Ethernet/IPv4/UDP frame, parsed. */
struct pkt_udp {
	uint8_t eth_dst[6], eth_src[6];
	uint32_t saddr, daddr; /* network order */
	uint16_t sport, dport; /* network order */
	size_t payload_off;
	size_t payload_len; /* UDP length - 8 (bytes past it are padding) */
};

/* Parse eth/IPv4/UDP; -EBADMSG (reason in *why) when it is not a complete,
 * unfragmented IPv4 UDP datagram. Checksums are not checked: the XDP
 * program and the NIC did. */
int pkt_udp_parse(const uint8_t *f, size_t len, struct pkt_udp *u,
		  const char **why);

/* A reply to the frame parsed as req: MACs, addresses and ports swapped, a
 * fresh 20-byte IPv4 header (TTL 64, DF), then payload, checksums
 * correct. Returns the frame length, or -ENOSPC. */
int pkt_reply_build(uint8_t *out, size_t cap, const struct pkt_udp *req,
		    const uint8_t *payload, size_t plen);

/* An IPv4/UDP packet (no Ethernet) from saddr:sport to daddr:dport, for
 * the raw IPIP socket: the kernel adds the outer header. Returns the
 * length, or -ENOSPC. */
int pkt_ip_udp_build(uint8_t *out, size_t cap, uint32_t saddr, uint16_t sport,
		     uint32_t daddr, uint16_t dport, const uint8_t *payload,
		     size_t plen);

#endif
