// SPDX-License-Identifier: GPL-2.0-only
/*
 * kilimanjaro-afxdp packets: A2S requests and answers classified from
 * tables of good and bad payloads, queries byte for byte, reply frames and
 * query packets checked by kmtest's independent verifier.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "a2s_pkt.h"
#include "kmtest.h"

#define PLAYER KMT_IP4(198, 19, 0, 7)
#define SVC KMT_IP4(198, 18, 10, 1)
#define EDGE KMT_IP4(198, 18, 1, 2)

struct req_case {
	const char *what;
	const char *bytes;
	size_t len;
	int ret;
	enum a2s_kind kind;
};

#define B(s) s, sizeof(s) - 1

static const struct req_case req_cases[] = {
    {"info", B("\xff\xff\xff\xff\x54Source Engine Query\0"), 0, A2S_K_INFO},
    {"info with challenge",
     B("\xff\xff\xff\xff\x54Source Engine Query\0\x01\x02\x03\x04"), 0,
     A2S_K_INFO},
    {"player", B("\xff\xff\xff\xff\x55\x01\x02\x03\x04"), 0, A2S_K_PLAYER},
    {"rules", B("\xff\xff\xff\xff\x56\xff\xff\xff\xff"), 0, A2S_K_RULES},
    {"info truncated", B("\xff\xff\xff\xff\x54Source"), -EBADMSG, 0},
    {"player without challenge", B("\xff\xff\xff\xff\x55\x01"), -EBADMSG, 0},
    {"wrong header", B("\xff\xff\xff\xfe\x54Source Engine Query\0"), -EBADMSG,
     0},
    {"unknown type", B("\xff\xff\xff\xff\x57\x00\x00\x00\x00"), -EBADMSG, 0},
    {"empty", "", 0, -EBADMSG, 0},
};

Test(afxdp_pkt, request_kinds)
{
	size_t i;

	for (i = 0; i < sizeof(req_cases) / sizeof(req_cases[0]); i++) {
		const struct req_case *c = &req_cases[i];
		enum a2s_kind k = A2S_K_MAX;
		int r = a2s_request_kind((const uint8_t *)c->bytes, c->len, &k);

		cr_expect_eq(r, c->ret, "%s: %d, expected %d", c->what, r,
			     c->ret);
		if (!c->ret)
			cr_expect_eq(k, c->kind, "%s: kind %d", c->what, k);
	}
}

struct ans_case {
	const char *what;
	const char *bytes;
	size_t len;
	int ret;
	enum a2s_answer_type type;
	enum a2s_kind kind;
	const char *why; /* substring of the reason for bad ones */
};

static const struct ans_case ans_cases[] = {
    {"challenge", B("\xff\xff\xff\xff\x41\x11\x22\x33\x44"), 0, A2S_A_CHALLENGE,
     0, NULL},
    {"info", B("\xff\xff\xff\xff\x49\x11name\0map\0"), 0, A2S_A_ANSWER,
     A2S_K_INFO, NULL},
    {"goldsrc info", B("\xff\xff\xff\xff\x6d\x31\x32\x37"), 0, A2S_A_ANSWER,
     A2S_K_INFO, NULL},
    {"player", B("\xff\xff\xff\xff\x44\x00"), 0, A2S_A_ANSWER, A2S_K_PLAYER,
     NULL},
    {"rules", B("\xff\xff\xff\xff\x45\x00\x00"), 0, A2S_A_ANSWER, A2S_K_RULES,
     NULL},
    {"split", B("\xfe\xff\xff\xff\x01\x00\x00\x00\x02\x01\xe0\x04xyz"), 0,
     A2S_A_SPLIT, 0, NULL},
    {"truncated challenge", B("\xff\xff\xff\xff\x41\x11\x22"), -EBADMSG, 0, 0,
     "challenge"},
    {"truncated answer", B("\xff\xff\xff\xff\x49"), -EBADMSG, 0, 0,
     "truncated"},
    {"wrong type (a request)", B("\xff\xff\xff\xff\x55\xff\xff\xff\xff"),
     -EBADMSG, 0, 0, "unexpected"},
    {"garbage", B("hello world"), -EBADMSG, 0, 0, "not an A2S"},
    {"split header truncated", B("\xfe\xff\xff\xff\x01\x00\x00\x00\x02"),
     -EBADMSG, 0, 0, "shorter"},
    {"split number >= total",
     B("\xfe\xff\xff\xff\x01\x00\x00\x00\x02\x02\xe0\x04x"), -EBADMSG, 0, 0,
     "out of range"},
    {"split total 0", B("\xfe\xff\xff\xff\x01\x00\x00\x00\x00\x00\xe0\x04x"),
     -EBADMSG, 0, 0, "out of range"},
    {"too many fragments",
     B("\xfe\xff\xff\xff\x01\x00\x00\x00\x11\x00\xe0\x04x"), -EBADMSG, 0, 0,
     "too many"},
    {"compressed", B("\xfe\xff\xff\xff\x01\x00\x00\x80\x02\x00\xe0\x04x"),
     -EBADMSG, 0, 0, "compressed"},
};

Test(afxdp_pkt, answers)
{
	size_t i;

	for (i = 0; i < sizeof(ans_cases) / sizeof(ans_cases[0]); i++) {
		const struct ans_case *c = &ans_cases[i];
		struct a2s_answer a;
		const char *why = NULL;
		int r = a2s_answer_parse((const uint8_t *)c->bytes, c->len, &a,
					 &why);

		cr_expect_eq(r, c->ret, "%s: %d, expected %d (%s)", c->what, r,
			     c->ret, why ? why : "");
		if (c->ret) {
			cr_expect(why && strstr(why, c->why),
				  "%s: reason \"%s\", expected \"%s\"", c->what,
				  why ? why : "(none)", c->why);
			continue;
		}
		cr_expect_eq(a.type, c->type, "%s: type %d", c->what, a.type);
		if (a.type == A2S_A_ANSWER)
			cr_expect_eq(a.kind, c->kind, "%s: kind", c->what);
	}
}

Test(afxdp_pkt, answer_fields)
{
	static const uint8_t ch[] = "\xff\xff\xff\xff\x41\x11\x22\x33\x44";
	static const uint8_t sp[] =
	    "\xfe\xff\xff\xff\x78\x56\x34\x12\x03\x02\xe0\x04xyz";
	struct a2s_answer a;
	const char *why;

	cr_assert_eq(a2s_answer_parse(ch, 9, &a, &why), 0);
	cr_expect_eq(memcmp(a.challenge, "\x11\x22\x33\x44", 4), 0);
	cr_assert_eq(a2s_answer_parse(sp, sizeof(sp) - 1, &a, &why), 0);
	cr_expect_eq(a.split_id, 0x12345678u);
	cr_expect_eq(a.split_total, 3);
	cr_expect_eq(a.split_num, 2);
	cr_expect_eq(a.split_size, 1248);
	cr_expect_eq(a.data_len, 3);
	cr_expect_eq(memcmp(a.data, "xyz", 3), 0);
}

Test(afxdp_pkt, queries)
{
	uint8_t q[32];
	const uint8_t c[4] = {1, 2, 3, 4};

	cr_assert_eq(a2s_query_build(q, A2S_K_INFO, NULL), 25);
	cr_expect_eq(memcmp(q, "\xff\xff\xff\xff\x54Source Engine Query\0", 25),
		     0);
	cr_assert_eq(a2s_query_build(q, A2S_K_INFO, c), 29);
	cr_expect_eq(memcmp(q + 25, c, 4), 0);
	cr_assert_eq(a2s_query_build(q, A2S_K_PLAYER, NULL), 9);
	cr_expect_eq(memcmp(q, "\xff\xff\xff\xff\x55\xff\xff\xff\xff", 9), 0);
	cr_assert_eq(a2s_query_build(q, A2S_K_RULES, c), 9);
	cr_expect_eq(memcmp(q, "\xff\xff\xff\xff\x56\x01\x02\x03\x04", 9), 0);
}

/* The sum km_a2s_entry.csum holds, computed a second way: 16-bit words
 * read through ntohs. */
Test(afxdp_pkt, sum16)
{
	uint8_t d[1401];
	uint32_t want = 0;
	size_t i;

	for (i = 0; i < sizeof(d); i++)
		d[i] = (uint8_t)(i * 7 + 3);
	for (i = 0; i + 1 < sizeof(d); i += 2) {
		uint16_t w;

		memcpy(&w, d + i, 2);
		want += ntohs(w);
	}
	want += (uint32_t)d[1400] << 8;
	cr_expect_eq(pkt_sum16(d, sizeof(d), 0), want);
	cr_expect_eq(pkt_sum16(d, 0, 0), 0);
	cr_expect_eq(pkt_fold(0x2fffeu), 0x0001u);
}

static int request_frame(uint8_t *f, size_t cap, const char *payload,
			 size_t plen)
{
	struct kmt_pkt p;

	kmt_pkt_init(&p);
	p.ip.saddr = PLAYER;
	p.ip.daddr = SVC;
	p.l4 = IPPROTO_UDP;
	p.sport = 40000;
	p.dport = 27015;
	kmt_pkt_payload(&p, payload, plen);
	return kmt_pkt_build(&p, f, cap);
}

Test(afxdp_pkt, reply_frames)
{
	static const char req[] = "\xff\xff\xff\xff\x55\x01\x02\x03\x04";
	uint8_t f[KMT_FRAME_MAX], out[KMT_FRAME_MAX], payload[1400];
	size_t lens[] = {0, 1, 9, 1247, 1400};
	struct kmt_view v;
	struct pkt_udp u;
	const char *why;
	char vwhy[128];
	size_t i, j;
	int fl, n;

	fl = request_frame(f, sizeof(f), req, sizeof(req) - 1);
	cr_assert_gt(fl, 0);
	cr_assert_eq(pkt_udp_parse(f, (size_t)fl, &u, &why), 0, "%s", why);
	cr_expect_eq(u.saddr, PLAYER);
	cr_expect_eq(u.daddr, SVC);
	cr_expect_eq(ntohs(u.sport), 40000);
	cr_expect_eq(ntohs(u.dport), 27015);
	cr_expect_eq(u.payload_len, 9);
	for (i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i ^ 0x5a);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		n = pkt_reply_build(out, sizeof(out), &u, payload, lens[i]);
		cr_assert_eq(n, (int)(42 + lens[i]));
		cr_assert_eq(
		    kmt_verify_frame(out, (size_t)n, &v, vwhy, sizeof(vwhy)), 0,
		    "len %zu: %s", lens[i], vwhy);
		cr_expect_eq(memcmp(out, f + 6, 6), 0, "dst MAC = request src");
		cr_expect_eq(memcmp(out + 6, f, 6), 0, "src MAC = request dst");
		cr_assert_eq(pkt_udp_parse(out, (size_t)n, &u, &why), 0);
		cr_expect_eq(u.saddr, SVC);
		cr_expect_eq(u.daddr, PLAYER);
		cr_expect_eq(ntohs(u.sport), 27015);
		cr_expect_eq(ntohs(u.dport), 40000);
		cr_expect_eq(u.payload_len, lens[i]);
		cr_expect_eq(memcmp(out + 42, payload, lens[i]), 0);
		/* Parse the request again for the next round. */
		cr_assert_eq(pkt_udp_parse(f, (size_t)fl, &u, &why), 0);
	}
	for (j = 0; j < 2; j++)
		cr_expect_eq(pkt_reply_build(out, 100, &u, payload, 100),
			     -ENOSPC);
}

/* The raw socket's packet, framed in Ethernet, passes the verifier. */
Test(afxdp_pkt, query_packets)
{
	uint8_t f[KMT_FRAME_MAX] = {0}, q[32];
	struct kmt_view v;
	struct pkt_udp u;
	const char *why;
	char vwhy[128];
	size_t ql = a2s_query_build(q, A2S_K_INFO, (const uint8_t *)"abcd");
	int n;

	f[12] = 0x08;
	n = pkt_ip_udp_build(f + 14, sizeof(f) - 14, EDGE, htons(33333), SVC,
			     htons(27015), q, ql);
	cr_assert_eq(n, (int)(28 + ql));
	cr_assert_eq(
	    kmt_verify_frame(f, (size_t)n + 14, &v, vwhy, sizeof(vwhy)), 0,
	    "%s", vwhy);
	cr_assert_eq(pkt_udp_parse(f, (size_t)n + 14, &u, &why), 0);
	cr_expect_eq(u.saddr, EDGE);
	cr_expect_eq(u.daddr, SVC);
	cr_expect_eq(ntohs(u.sport), 33333);
	cr_expect_eq(u.payload_len, ql);
	cr_expect_eq(memcmp(f + 14 + 28, q, ql), 0);
}

struct frame_case {
	const char *what;
	size_t off; /* byte to change, SIZE_MAX: truncate to `val` */
	uint8_t val;
	const char *why;
};

Test(afxdp_pkt, bad_frames)
{
	static const struct frame_case cases[] = {
	    {"ARP", 12, 0x08, NULL}, /* patched to 0x0806 below */
	    {"IPv6 version", 14, 0x65, "bad IPv4"},
	    {"IHL 4", 14, 0x44, "bad IPv4"},
	    {"TCP", 23, 6, "not UDP"},
	    {"fragment", 20, 0x20, "fragment"},
	    {"tot_len past the frame", 16, 0x09, "bad IPv4"},
	    {"UDP length 7", 39, 7, "bad UDP length"},
	    {"truncated", SIZE_MAX, 30, "not an IPv4"},
	};
	static const char req[] = "\xff\xff\xff\xff\x56\xff\xff\xff\xff";
	uint8_t f[KMT_FRAME_MAX];
	struct pkt_udp u;
	const char *why;
	size_t i;
	int fl;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len;

		fl = request_frame(f, sizeof(f), req, sizeof(req) - 1);
		len = (size_t)fl;
		if (cases[i].off == SIZE_MAX)
			len = cases[i].val;
		else if (i == 0)
			f[13] = 0x06;
		else
			f[cases[i].off] = cases[i].val;
		cr_expect_eq(pkt_udp_parse(f, len, &u, &why), -EBADMSG,
			     "%s accepted", cases[i].what);
		if (cases[i].why)
			cr_expect(why && strstr(why, cases[i].why),
				  "%s: reason %s", cases[i].what, why);
	}
}
