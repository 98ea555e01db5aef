// SPDX-License-Identifier: GPL-2.0-only
#include "a2s_sched.h"

#define MIN_LEASE_NS 50000000ull
#define MAX_LEASE_NS 1000000000ull

bool a2s_sched_wanted(const struct a2s_sched_in *in, enum a2s_kind k,
		      uint64_t now_ns)
{
	uint64_t keep = in->max_age_ns > 2 * in->refresh_ns
			    ? in->max_age_ns
			    : 2 * in->refresh_ns;
	uint64_t w = in->wanted_ns[k];

	if (k == A2S_K_INFO)
		return true;
	return w && w <= now_ns && now_ns - w <= keep;
}

int a2s_sched_due(const struct a2s_sched_in *in, uint64_t now_ns,
		  uint64_t *next_ns)
{
	uint64_t best = UINT64_MAX;
	int kind = -1;
	unsigned int k;

	for (k = 0; k < A2S_K_MAX; k++) {
		uint64_t last = in->last_query_ns[k], at;

		if (!a2s_sched_wanted(in, (enum a2s_kind)k, now_ns))
			continue;
		at = last ? last + in->refresh_ns : 0;
		if (at < best) {
			best = at;
			kind = (int)k;
		}
	}
	if (next_ns)
		*next_ns = best;
	if (in->lease_live || kind < 0 || best > now_ns)
		return -1;
	return kind;
}

bool a2s_sched_down(const struct a2s_sched_in *in, uint64_t now_ns)
{
	uint64_t s = in->silent_since_ns;

	return s && now_ns >= s && now_ns - s >= in->timeout_ns;
}

uint64_t a2s_sched_lease_ns(uint64_t refresh_ns, uint64_t timeout_ns)
{
	uint64_t d = MAX_LEASE_NS;

	/* Short enough that a silent server still gets a query of each kind
	 * every refresh interval. */
	if (timeout_ns && timeout_ns / 2 < d)
		d = timeout_ns / 2;
	if (refresh_ns && refresh_ns / 4 < d)
		d = refresh_ns / 4;
	return d < MIN_LEASE_NS ? MIN_LEASE_NS : d;
}

enum a2s_fresh a2s_sched_fresh(uint64_t updated_ns, uint64_t now_ns,
			       uint64_t refresh_ns, uint64_t max_age_ns,
			       bool down)
{
	uint64_t age;

	if (!updated_ns || down)
		return A2S_NONE;
	/* Another worker may store a time a little after this one read
	 * the clock. */
	age = now_ns > updated_ns ? now_ns - updated_ns : 0;
	if (age > max_age_ns)
		return A2S_NONE;
	return age > refresh_ns ? A2S_STALE : A2S_FRESH;
}
