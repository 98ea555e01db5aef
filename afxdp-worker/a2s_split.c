// SPDX-License-Identifier: GPL-2.0-only
#include "a2s_split.h"

#include <errno.h>
#include <string.h>

void a2s_split_reset(struct a2s_split *s)
{
	s->total = 0;
	s->have = 0;
	memset(s->len, 0, sizeof(s->len));
}

static int bad(struct a2s_split *s, const char **why, const char *reason)
{
	a2s_split_reset(s);
	*why = reason;
	return -EBADMSG;
}

static int assemble(struct a2s_split *s, uint8_t *out, size_t cap,
		    const char **why)
{
	size_t n = 0;
	enum a2s_kind k;
	unsigned int i;

	for (i = 0; i < s->total; i++) {
		if (n + s->len[i] > cap)
			return bad(s, why, "split answer too large");
		memcpy(out + n, s->data[i], s->len[i]);
		n += s->len[i];
	}
	a2s_split_reset(s);
	if (a2s_message_kind(out, n, &k))
		return bad(s, why, "split answer is not an A2S answer");
	return (int)n;
}

int a2s_split_add(struct a2s_split *s, const struct a2s_answer *a,
		  uint64_t now_ns, uint8_t *out, size_t cap, const char **why)
{
	unsigned int n = a->split_num;

	*why = NULL;
	if (a->data_len == 0 || a->data_len > A2S_UNSPLIT_MAX)
		return bad(s, why, "split fragment size out of range");
	if (s->total && s->id != a->split_id)
		a2s_split_reset(s);
	if (!s->total) {
		s->id = a->split_id;
		s->total = a->split_total;
		s->started_ns = now_ns;
	} else if (s->total != a->split_total) {
		return bad(s, why, "split fragments disagree on the total");
	}
	if (s->len[n]) {
		/* A duplicate (the network repeated it) is harmless when it
		 * carries the same bytes. */
		if (s->len[n] != a->data_len ||
		    memcmp(s->data[n], a->data, a->data_len))
			return bad(s, why,
				   "split fragment repeated with "
				   "other data");
		return 0;
	}
	memcpy(s->data[n], a->data, a->data_len);
	s->len[n] = (uint16_t)a->data_len;
	if (++s->have < s->total)
		return 0;
	return assemble(s, out, cap, why);
}
