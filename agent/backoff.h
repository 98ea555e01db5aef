/* SPDX-License-Identifier: GPL-2.0-only */
/* Reconnect delays: exponential backoff with full jitter, so that many
 * edges that lost the same controller do not come back in lockstep. */
#ifndef KA_BACKOFF_H
#define KA_BACKOFF_H

#include <stdint.h>

struct ka_backoff {
	uint32_t min_ms, max_ms;
	uint32_t attempt; /* failures since the last good session */
	uint64_t rng;	  /* xorshift64* state, never 0 */
};

void ka_backoff_init(struct ka_backoff *b, uint32_t min_ms, uint32_t max_ms,
		     uint64_t seed);
/* The delay before the next attempt: uniform in [min, min(max, min*2^n)]
 * after n failures; counts one more failure. */
uint32_t ka_backoff_next(struct ka_backoff *b);
/* A session worked: start from min again. */
void ka_backoff_reset(struct ka_backoff *b);

#endif
