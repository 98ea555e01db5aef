// SPDX-License-Identifier: GPL-2.0-only
#include "backoff.h"

void ka_backoff_init(struct ka_backoff *b, uint32_t min_ms, uint32_t max_ms,
		     uint64_t seed)
{
	b->min_ms = min_ms ? min_ms : 1;
	b->max_ms = max_ms < b->min_ms ? b->min_ms : max_ms;
	b->attempt = 0;
	b->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
}

static uint64_t rnd(struct ka_backoff *b)
{
	b->rng ^= b->rng >> 12;
	b->rng ^= b->rng << 25;
	b->rng ^= b->rng >> 27;
	return b->rng * 0x2545f4914f6cdd1dull;
}

uint32_t ka_backoff_next(struct ka_backoff *b)
{
	uint64_t cap = b->min_ms;

	for (uint32_t i = 0; i < b->attempt && cap < b->max_ms; i++)
		cap *= 2;
	if (cap > b->max_ms)
		cap = b->max_ms;
	if (b->attempt < 64)
		b->attempt++;
	return b->min_ms + (uint32_t)(rnd(b) % (cap - b->min_ms + 1));
}

void ka_backoff_reset(struct ka_backoff *b)
{
	b->attempt = 0;
}
