// SPDX-License-Identifier: GPL-2.0-only
/* Valve A2S wire format for the lab (see a2s_wire.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "a2s_wire.h"

/* A bounded writer: every put checks room, so an encoder cannot overrun and
 * reports -ENOSPC once at the end. */
struct wbuf {
	uint8_t *p;
	size_t cap, len;
	int overflow;
};

static void put(struct wbuf *w, const void *src, size_t n)
{
	if (w->overflow || n > w->cap - w->len) {
		w->overflow = 1;
		return;
	}
	memcpy(w->p + w->len, src, n);
	w->len += n;
}

static void put_u8(struct wbuf *w, uint8_t v)
{
	put(w, &v, 1);
}

static void put_le16(struct wbuf *w, uint16_t v)
{
	uint8_t b[2] = {v & 0xff, v >> 8};

	put(w, b, 2);
}

static void put_le32(struct wbuf *w, uint32_t v)
{
	uint8_t b[4] = {v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24};

	put(w, b, 4);
}

static void put_le64(struct wbuf *w, uint64_t v)
{
	put_le32(w, (uint32_t)v);
	put_le32(w, (uint32_t)(v >> 32));
}

static void put_str(struct wbuf *w, const char *s)
{
	put(w, s, strlen(s) + 1);
}

static int wbuf_done(const struct wbuf *w)
{
	return w->overflow ? -ENOSPC : (int)w->len;
}

static uint32_t get_le32(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void parse_challenge(const uint8_t *p, struct a2s_request *req)
{
	req->challenge = get_le32(p);
	req->has_challenge =
	    req->challenge != 0xFFFFFFFFu && req->challenge != 0;
}

int a2s_parse_request(const uint8_t *p, size_t len, struct a2s_request *req)
{
	memset(req, 0, sizeof(*req));
	if (len < 5 || get_le32(p) != A2S_HDR_SIMPLE)
		return -EINVAL;
	switch (p[4]) {
	case A2S_REQ_INFO:
		if (len < A2S_INFO_REQ_LEN ||
		    memcmp(p + 5, A2S_INFO_PAYLOAD, sizeof(A2S_INFO_PAYLOAD)))
			return -EINVAL;
		/* Clients may pad the request; a challenge is the 4 bytes
		 * right after the payload's NUL. */
		if (len >= A2S_INFO_REQ_LEN + 4)
			parse_challenge(p + A2S_INFO_REQ_LEN, req);
		req->kind = A2S_KIND_INFO;
		return 0;
	case A2S_REQ_PLAYER:
	case A2S_REQ_RULES:
		if (len < 9)
			return -EINVAL;
		parse_challenge(p + 5, req);
		req->kind =
		    p[4] == A2S_REQ_PLAYER ? A2S_KIND_PLAYER : A2S_KIND_RULES;
		return 0;
	case A2S_REQ_GETCHALLENGE:
		req->kind = A2S_KIND_GETCHALLENGE;
		return 0;
	}
	return -EINVAL;
}

int a2s_build_challenge(uint32_t challenge, uint8_t *buf, size_t cap)
{
	struct wbuf w = {.p = buf, .cap = cap};

	put_le32(&w, A2S_HDR_SIMPLE);
	put_u8(&w, A2S_ANS_CHALLENGE);
	put_le32(&w, challenge);
	return wbuf_done(&w);
}

/* Extra data flag bits of the A2S_INFO answer. */
#define EDF_PORT 0x80
#define EDF_KEYWORDS 0x20
#define EDF_GAMEID 0x01

int a2s_build_info(const struct a2s_server *s, uint8_t *buf, size_t cap)
{
	struct wbuf w = {.p = buf, .cap = cap};
	char name[256];

	if (s->serial >= 0)
		snprintf(name, sizeof(name), "%s #%lld", s->name, s->serial);
	else
		snprintf(name, sizeof(name), "%s", s->name);
	put_le32(&w, A2S_HDR_SIMPLE);
	put_u8(&w, A2S_ANS_INFO);
	put_u8(&w, 17); /* protocol version of current Source games */
	put_str(&w, name);
	put_str(&w, s->map);
	put_str(&w, s->folder);
	put_str(&w, s->game);
	put_le16(&w, s->app_id);
	put_u8(&w, s->players);
	put_u8(&w, s->max_players);
	put_u8(&w, s->bots);
	put_u8(&w, 'd'); /* dedicated */
	put_u8(&w, 'l'); /* Linux */
	put_u8(&w, 0);	 /* public */
	put_u8(&w, 1);	 /* VAC secured */
	put_str(&w, s->version);
	put_u8(&w, EDF_PORT | EDF_KEYWORDS | EDF_GAMEID);
	put_le16(&w, s->game_port);
	put_str(&w, s->keywords);
	put_le64(&w, s->app_id); /* the 64-bit game id's low 24 bits */
	return wbuf_done(&w);
}

void a2s_player_name(unsigned int i, char *buf, size_t cap)
{
	snprintf(buf, cap, "player_%02u", i);
}

int32_t a2s_player_score(const struct a2s_server *s, unsigned int i)
{
	int32_t score = (int32_t)i * 10;

	if (i == 0 && s->serial >= 0)
		score += (int32_t)(s->serial & 0x7fffffff);
	return score;
}

float a2s_player_duration(unsigned int i)
{
	return 60.5f * (float)(i + 1);
}

int a2s_build_players(const struct a2s_server *s, uint8_t *buf, size_t cap)
{
	struct wbuf w = {.p = buf, .cap = cap};
	char name[32];
	unsigned int i;

	put_le32(&w, A2S_HDR_SIMPLE);
	put_u8(&w, A2S_ANS_PLAYER);
	put_u8(&w, s->players);
	for (i = 0; i < s->players; i++) {
		float d = a2s_player_duration(i);
		uint32_t bits;

		a2s_player_name(i, name, sizeof(name));
		memcpy(&bits, &d, sizeof(bits));
		put_u8(&w, (uint8_t)i);
		put_str(&w, name);
		put_le32(&w, (uint32_t)a2s_player_score(s, i));
		put_le32(&w, bits);
	}
	return wbuf_done(&w);
}

void a2s_rule_name(unsigned int i, char *buf, size_t cap)
{
	snprintf(buf, cap, "km_rule_%03u", i);
}

void a2s_rule_value(unsigned int i, char *buf, size_t cap)
{
	snprintf(buf, cap, "value-%03u-abcdefghijklmnop", i);
}

int a2s_build_rules(const struct a2s_server *s, uint8_t *buf, size_t cap)
{
	struct wbuf w = {.p = buf, .cap = cap};
	char name[32], value[64];
	unsigned int i;

	if (s->rules > 65534)
		return -ENOSPC;
	put_le32(&w, A2S_HDR_SIMPLE);
	put_u8(&w, A2S_ANS_RULES);
	put_le16(&w, (uint16_t)(s->rules + (s->serial >= 0)));
	for (i = 0; i < s->rules; i++) {
		a2s_rule_name(i, name, sizeof(name));
		a2s_rule_value(i, value, sizeof(value));
		put_str(&w, name);
		put_str(&w, value);
	}
	if (s->serial >= 0) {
		snprintf(value, sizeof(value), "%lld", s->serial);
		put_str(&w, "km_serial");
		put_str(&w, value);
	}
	return wbuf_done(&w);
}

int a2s_build_request(enum a2s_kind kind, long long challenge, uint8_t *buf,
		      size_t cap)
{
	struct wbuf w = {.p = buf, .cap = cap};

	put_le32(&w, A2S_HDR_SIMPLE);
	switch (kind) {
	case A2S_KIND_INFO:
		put_u8(&w, A2S_REQ_INFO);
		put(&w, A2S_INFO_PAYLOAD, sizeof(A2S_INFO_PAYLOAD));
		if (challenge >= 0)
			put_le32(&w, (uint32_t)challenge);
		break;
	case A2S_KIND_PLAYER:
	case A2S_KIND_RULES:
		put_u8(&w, kind == A2S_KIND_PLAYER ? A2S_REQ_PLAYER
						   : A2S_REQ_RULES);
		put_le32(&w,
			 challenge >= 0 ? (uint32_t)challenge : A2S_HDR_SIMPLE);
		break;
	case A2S_KIND_GETCHALLENGE:
		put_u8(&w, A2S_REQ_GETCHALLENGE);
		break;
	default:
		return -EINVAL;
	}
	return wbuf_done(&w);
}

int a2s_split_count(size_t len, size_t split_size)
{
	size_t room, n;

	if (split_size < A2S_MIN_SPLIT)
		return -EINVAL;
	if (len <= split_size)
		return 1;
	room = split_size - A2S_SPLIT_HDR_LEN;
	n = (len + room - 1) / room;
	return n > A2S_MAX_FRAGMENTS ? -EMSGSIZE : (int)n;
}

int a2s_build_fragment(const uint8_t *msg, size_t len, uint32_t id,
		       size_t split_size, unsigned int idx, uint8_t *buf,
		       size_t cap)
{
	struct wbuf w = {.p = buf, .cap = cap};
	size_t room = split_size - A2S_SPLIT_HDR_LEN, off, n;
	int total = a2s_split_count(len, split_size);

	if (total < 0)
		return total;
	if (idx >= (unsigned int)total)
		return -EINVAL;
	off = (size_t)idx * room;
	n = len - off < room ? len - off : room;
	put_le32(&w, A2S_HDR_SPLIT);
	/* Bit 31 of the id would announce bzip2 compression (GoldSrc-era);
	 * never set it. */
	put_le32(&w, id & 0x7fffffffu);
	put_u8(&w, (uint8_t)total);
	put_u8(&w, (uint8_t)idx);
	put_le16(&w, (uint16_t)split_size);
	put(&w, msg + off, n);
	return wbuf_done(&w);
}
