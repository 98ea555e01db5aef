/* SPDX-License-Identifier: GPL-2.0-only */
/* Valve A2S wire format for the lab's game-server fixture and load client:
 * request parsing, answer encoders, Source split packets. Independent of the
 * data plane's own A2S code on purpose: the lab checks the edge against a
 * second implementation. Multi-byte integers in A2S bodies are little endian.
 */
#ifndef KM_A2S_WIRE_H
#define KM_A2S_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define A2S_HDR_SIMPLE 0xFFFFFFFFu /* a whole message */
#define A2S_HDR_SPLIT 0xFFFFFFFEu  /* one fragment of a split message */

#define A2S_REQ_INFO 0x54
#define A2S_REQ_PLAYER 0x55
#define A2S_REQ_RULES 0x56
#define A2S_REQ_GETCHALLENGE 0x57 /* legacy; some clients still send it */
#define A2S_ANS_CHALLENGE 0x41
#define A2S_ANS_INFO 0x49
#define A2S_ANS_PLAYER 0x44
#define A2S_ANS_RULES 0x45

#define A2S_INFO_PAYLOAD "Source Engine Query" /* sent with its NUL */
#define A2S_INFO_REQ_LEN 25
#define A2S_CHALLENGE_LEN 9
#define A2S_SPLIT_HDR_LEN 12 /* FE FF FF FF, id, total, number, size */
#define A2S_MAX_MSG 65536
#define A2S_MAX_FRAGMENTS 255 /* "total" is one byte */
#define A2S_MIN_SPLIT 64

enum a2s_kind {
	A2S_KIND_BAD = 0,
	A2S_KIND_INFO,
	A2S_KIND_PLAYER,
	A2S_KIND_RULES,
	A2S_KIND_GETCHALLENGE,
};

struct a2s_request {
	enum a2s_kind kind;
	/* 1 when the request carries a challenge other than the "give me one"
	 * values FFFFFFFF and 00000000. */
	int has_challenge;
	uint32_t challenge; /* as the 4 bytes read little endian */
};

/* What the fixture tells the world about itself. The player and rule lists are
 * generated from counts (see a2s_player_name / a2s_rule_*), so a test can
 * compute what a client must print. serial >= 0 is woven into the name, the
 * first player's score and the rule "km_serial" (--mutate); -1 leaves them
 * out. */
struct a2s_server {
	const char *name, *map, *folder, *game, *version, *keywords;
	uint16_t app_id;
	uint16_t game_port; /* host order; goes into the EDF */
	uint8_t players, max_players, bots;
	unsigned int rules;
	long long serial;
};

/* Parse one datagram's payload. Returns 0 and fills req, or -EINVAL for
 * anything that is not an A2S request (req->kind = A2S_KIND_BAD). */
int a2s_parse_request(const uint8_t *p, size_t len, struct a2s_request *req);

/* Encoders return the message length, or -ENOSPC when cap is too small. */
int a2s_build_challenge(uint32_t challenge, uint8_t *buf, size_t cap);
int a2s_build_info(const struct a2s_server *s, uint8_t *buf, size_t cap);
int a2s_build_players(const struct a2s_server *s, uint8_t *buf, size_t cap);
int a2s_build_rules(const struct a2s_server *s, uint8_t *buf, size_t cap);
/* A request as a client sends it; challenge < 0 = ask for one. */
int a2s_build_request(enum a2s_kind kind, long long challenge, uint8_t *buf,
		      size_t cap);

/* Generated content (also what the tests expect). */
void a2s_player_name(unsigned int i, char *buf, size_t cap);
int32_t a2s_player_score(const struct a2s_server *s, unsigned int i);
float a2s_player_duration(unsigned int i);
void a2s_rule_name(unsigned int i, char *buf, size_t cap);
void a2s_rule_value(unsigned int i, char *buf, size_t cap);

/* Number of datagrams a message of len bytes takes with split_size bytes per
 * datagram (1 = unsplit); -EMSGSIZE when it needs more than 255. */
int a2s_split_count(size_t len, size_t split_size);
/* Fragment number idx (0-based) of a message that needs splitting, in the
 * Source layout: FE FF FF FF, id (LE), total, number, split size (LE), data.
 * Returns the datagram length. */
int a2s_build_fragment(const uint8_t *msg, size_t len, uint32_t id,
		       size_t split_size, unsigned int idx, uint8_t *buf,
		       size_t cap);

#endif
