// SPDX-License-Identifier: GPL-2.0-only
/*
 * kilimanjaro-afxdp split answers: the worker's own splitting reassembles
 * to the original; tables of fragment sequences, good (any order,
 * duplicates, a newer id) and bad (inconsistent, overlong, not A2S).
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "a2s_pkt.h"
#include "a2s_split.h"

static struct a2s_split *new_split(void)
{
	struct a2s_split *s = calloc(1, sizeof(*s));

	cr_assert_not_null(s);
	a2s_split_reset(s);
	return s;
}

/* A fragment as a server sends it. */
static size_t frag(uint8_t *out, uint32_t id, uint8_t total, uint8_t num,
		   const void *data, size_t len)
{
	out[0] = 0xfe;
	out[1] = out[2] = out[3] = 0xff;
	out[4] = (uint8_t)id;
	out[5] = (uint8_t)(id >> 8);
	out[6] = (uint8_t)(id >> 16);
	out[7] = (uint8_t)(id >> 24);
	out[8] = total;
	out[9] = num;
	out[10] = 0xe0;
	out[11] = 0x04;
	memcpy(out + 12, data, len);
	return 12 + len;
}

static int add(struct a2s_split *s, const uint8_t *pkt, size_t len,
	       uint8_t *out, size_t cap, const char **why)
{
	struct a2s_answer a;

	cr_assert_eq(a2s_answer_parse(pkt, len, &a, why), 0, "parse: %s", *why);
	return a2s_split_add(s, &a, 1, out, cap, why);
}

/* The worker's own split of a RULES answer comes back whole, in any
 * order of its fragments. */
Test(afxdp_split, roundtrip)
{
	static const size_t sizes[] = {1401, 2496, 2497, 5000, A2S_ANSWER_MAX};
	static uint8_t msg[A2S_ANSWER_MAX], out[A2S_ANSWER_MAX],
	    pkt[A2S_SPLIT_HDR + A2S_SPLIT_DATA];
	struct a2s_split *s = new_split();
	const char *why;
	size_t i, j, len;
	unsigned int n;
	int r = 0;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		len = sizes[i];
		memset(msg, 0, sizeof(msg));
		memcpy(msg, "\xff\xff\xff\xff\x45", 5);
		for (j = 5; j < len; j++)
			msg[j] = (uint8_t)(j * 13);
		n = a2s_split_count(len);
		cr_assert_leq(n, A2S_SPLIT_MAX_FRAGS);
		for (j = 0; j < n; j++) {
			/* Backwards: the last fragment first. */
			size_t fl = a2s_split_fragment(pkt, msg, len, 77,
						       n - 1 - (unsigned)j);

			cr_assert_leq(fl, A2S_SPLIT_HDR + A2S_SPLIT_DATA);
			r = add(s, pkt, fl, out, sizeof(out), &why);
			cr_assert_geq(r, 0, "size %zu: %s", len, why);
			if (j + 1 < n)
				cr_assert_eq(r, 0, "complete too early");
		}
		cr_assert_eq(r, (int)len, "size %zu: got %d", len, r);
		cr_expect_eq(memcmp(out, msg, len), 0);
	}
	free(s);
}

struct step {
	uint32_t id;
	uint8_t total, num;
	const char *data;
};

struct seq_case {
	const char *what;
	struct step steps[6];
	int nsteps;
	int last;	    /* expected result of the last step */
	const char *result; /* assembled bytes when last > 0 */
	const char *why;    /* reason when last < 0 */
};

#define H "\xff\xff\xff\xff\x45"

static const struct seq_case seq_cases[] = {
    {"in order", {{1, 2, 0, H "ab"}, {1, 2, 1, "cd"}}, 2, 9, H "abcd", NULL},
    {"reversed", {{1, 2, 1, "cd"}, {1, 2, 0, H "ab"}}, 2, 9, H "abcd", NULL},
    {"duplicate with the same bytes",
     {{1, 3, 0, H "a"}, {1, 3, 0, H "a"}, {1, 3, 1, "b"}, {1, 3, 2, "c"}},
     4,
     8,
     H "abc",
     NULL},
    {"a newer id restarts",
     {{1, 2, 0, H "old"}, {2, 2, 0, H "n"}, {2, 2, 1, "ew"}},
     3,
     8,
     H "new",
     NULL},
    {"single fragment", {{9, 1, 0, H "x"}}, 1, 6, H "x", NULL},
    {"duplicate with other bytes",
     {{1, 2, 0, H "ab"}, {1, 2, 0, H "xy"}},
     2,
     -EBADMSG,
     NULL,
     "repeated"},
    {"totals disagree",
     {{1, 2, 0, H "ab"}, {1, 3, 1, "cd"}},
     2,
     -EBADMSG,
     NULL,
     "total"},
    {"not an A2S answer",
     {{1, 2, 0, "ab"}, {1, 2, 1, "cd"}},
     2,
     -EBADMSG,
     NULL,
     "not an A2S"},
    {"a request inside",
     {{1, 1, 0, "\xff\xff\xff\xff\x55\xff\xff\xff\xff"}},
     1,
     -EBADMSG,
     NULL,
     "not an A2S"},
};

Test(afxdp_split, sequences)
{
	uint8_t pkt[64], out[256];
	size_t i;
	int j, r = 0;

	for (i = 0; i < sizeof(seq_cases) / sizeof(seq_cases[0]); i++) {
		const struct seq_case *c = &seq_cases[i];
		struct a2s_split *s = new_split();
		const char *why = NULL;

		for (j = 0; j < c->nsteps; j++) {
			const struct step *st = &c->steps[j];
			size_t fl = frag(pkt, st->id, st->total, st->num,
					 st->data, strlen(st->data));

			r = add(s, pkt, fl, out, sizeof(out), &why);
			if (j + 1 < c->nsteps)
				cr_assert_eq(r, 0, "%s: step %d gave %d (%s)",
					     c->what, j, r, why ? why : "");
		}
		cr_expect_eq(r, c->last, "%s: %d, expected %d (%s)", c->what, r,
			     c->last, why ? why : "");
		if (c->last > 0)
			cr_expect_eq(memcmp(out, c->result, (size_t)c->last), 0,
				     "%s: bytes", c->what);
		else
			cr_expect(why && strstr(why, c->why), "%s: reason %s",
				  c->what, why ? why : "(none)");
		/* A bad or complete answer leaves the assembler empty. */
		cr_expect_eq(s->total, 0, "%s: not reset", c->what);
		free(s);
	}
}

/* 16 fragments of 1400 bytes are 22400 bytes: more than the worker keeps. */
Test(afxdp_split, overlong)
{
	static uint8_t pkt[1500], out[A2S_ANSWER_MAX], data[1400];
	struct a2s_split *s = new_split();
	const char *why = NULL;
	int r = 0, j;

	memset(data, 'r', sizeof(data));
	memcpy(data, H, 5);
	for (j = 0; j < 16; j++) {
		size_t fl = frag(pkt, 5, 16, (uint8_t)j, data, sizeof(data));

		r = add(s, pkt, fl, out, sizeof(out), &why);
		if (r)
			break;
	}
	cr_expect_eq(r, -EBADMSG);
	cr_expect(why && strstr(why, "too large"), "reason %s", why);
	free(s);
}

/* A fragment bigger than any datagram the worker accepts. */
Test(afxdp_split, fragment_too_big)
{
	static uint8_t pkt[1600], out[A2S_ANSWER_MAX], data[1401];
	struct a2s_split *s = new_split();
	const char *why = NULL;

	memset(data, 'x', sizeof(data));
	cr_expect_eq(add(s, pkt, frag(pkt, 5, 2, 0, data, sizeof(data)), out,
			 sizeof(out), &why),
		     -EBADMSG);
	cr_expect(why && strstr(why, "size"), "reason %s", why);
	free(s);
}
