/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Refresh scheduling and serving rules (pure, unit-tested;
 * docs/design.md "A2S", "Refresh schedule"):
 *  - a kind is wanted: INFO always (XDP serves it without telling the
 *    workers), PLAYER and RULES while someone asked for them within
 *    max_age (or 2 refresh intervals when that is longer);
 *  - a wanted kind is due refresh_ns after its last query (answered or
 *    not), at once when it was never queried: a server is asked at most
 *    once per refresh interval and kind, whatever the requests; a down
 *    server is polled at that rate too;
 *  - nothing is due while a query lease is live (one query in flight per
 *    game server);
 *  - a server is down once a query stayed unanswered for timeout_ns.
 */
#ifndef KW_A2S_SCHED_H
#define KW_A2S_SCHED_H

#include <stdbool.h>
#include <stdint.h>

#include "a2s_pkt.h"

struct a2s_sched_in {
	uint64_t refresh_ns, max_age_ns, timeout_ns;
	uint64_t last_query_ns[A2S_K_MAX]; /* 0: never */
	uint64_t wanted_ns[A2S_K_MAX];	   /* last request; INFO ignored */
	uint64_t silent_since_ns;	   /* 0: nothing unanswered */
	bool lease_live;
};

/* The kind to query now, or -1; *next_ns (when not NULL) is the earliest
 * time something becomes due (UINT64_MAX: nothing wanted). */
int a2s_sched_due(const struct a2s_sched_in *in, uint64_t now_ns,
		  uint64_t *next_ns);
bool a2s_sched_wanted(const struct a2s_sched_in *in, enum a2s_kind k,
		      uint64_t now_ns);
bool a2s_sched_down(const struct a2s_sched_in *in, uint64_t now_ns);
/* How long one query may stay unanswered before the next may go out:
 * min(timeout / 2, refresh / 4, 1 s), at least 50 ms. */
uint64_t a2s_sched_lease_ns(uint64_t refresh_ns, uint64_t timeout_ns);

enum a2s_fresh {
	A2S_NONE = 0, /* nothing servable */
	A2S_FRESH,    /* younger than refresh */
	A2S_STALE,    /* older than refresh, younger than max_age */
};
/* Whether an answer stored at updated_ns (0: none) may be served. */
enum a2s_fresh a2s_sched_fresh(uint64_t updated_ns, uint64_t now_ns,
			       uint64_t refresh_ns, uint64_t max_age_ns,
			       bool down);

#endif
