// SPDX-License-Identifier: GPL-2.0-only
/*
 * kilimanjaro-afxdp refresh schedule: a table of situations with the kind
 * to query (or none); a simulated flood of requests against a stale entry
 * sends at most one query per refresh interval and kind; down after the
 * timeout; what may be served.
 */
#include <criterion/criterion.h>

#include <stdint.h>

#include "a2s_sched.h"

#define MS 1000000ull
#define S 1000000000ull
#define T0 (1000 * S)

struct due_case {
	const char *what;
	uint64_t now;
	uint64_t last[A2S_K_MAX];
	uint64_t wanted[A2S_K_MAX];
	int lease;
	int kind; /* -1: nothing */
};

/* refresh 5 s, max_age 30 s, timeout 10 s */
static const struct due_case due_cases[] = {
    {"never queried: info now", T0, {0}, {0}, 0, A2S_K_INFO},
    {"lease held: nothing", T0, {0}, {0}, 1, -1},
    {"info answered 1 s ago", T0, {T0 - S}, {0}, 0, -1},
    {"info due at exactly refresh", T0, {T0 - 5 * S}, {0}, 0, A2S_K_INFO},
    {"player unwanted: never queried", T0, {T0 - S, 0, 0}, {0}, 0, -1},
    {"player wanted now, never queried",
     T0,
     {T0 - S, 0, 0},
     {0, T0, 0},
     0,
     A2S_K_PLAYER},
    {"player wanted 29 s ago",
     T0,
     {T0 - S, 0, 0},
     {0, T0 - 29 * S, 0},
     0,
     A2S_K_PLAYER},
    {"player wanted 31 s ago: not any more",
     T0,
     {T0 - S, 0, 0},
     {0, T0 - 31 * S, 0},
     0,
     -1},
    {"the most overdue first",
     T0,
     {T0 - 6 * S, T0 - 9 * S, T0 - 7 * S},
     {0, T0, T0},
     0,
     A2S_K_PLAYER},
    {"rules queried 4.9 s ago (unanswered): wait",
     T0,
     {T0 - S, T0 - S, T0 - 4900 * MS},
     {0, T0, T0},
     0,
     -1},
    {"wanted in the future (another clock read): ignored",
     T0,
     {T0 - S, 0, 0},
     {0, T0 + MS, 0},
     0,
     -1},
};

Test(afxdp_sched, due)
{
	size_t i;

	for (i = 0; i < sizeof(due_cases) / sizeof(due_cases[0]); i++) {
		const struct due_case *c = &due_cases[i];
		struct a2s_sched_in in = {
		    .refresh_ns = 5 * S,
		    .max_age_ns = 30 * S,
		    .timeout_ns = 10 * S,
		    .lease_live = c->lease,
		};
		unsigned int k;
		int got;

		for (k = 0; k < A2S_K_MAX; k++) {
			in.last_query_ns[k] = c->last[k];
			in.wanted_ns[k] = c->wanted[k];
		}
		got = a2s_sched_due(&in, c->now, NULL);
		cr_expect_eq(got, c->kind, "%s: %d, expected %d", c->what, got,
			     c->kind);
	}
}

/* The worker's loop in miniature: a request every millisecond for 60 s
 * (each one a miss that asks the scheduler), a server answering after
 * 20 ms, or never. Queries per kind per refresh interval: at most one. */
static void flood(bool answers)
{
	struct a2s_sched_in in = {
	    .refresh_ns = 2 * S, .max_age_ns = 10 * S, .timeout_ns = 5 * S};
	uint64_t now, lease_until = 0, answer_at = 0, sent[A2S_K_MAX][64];
	unsigned int nsent[A2S_K_MAX] = {0}, k, i;

	for (now = T0; now < T0 + 60 * S; now += MS) {
		int due;

		in.wanted_ns[A2S_K_PLAYER] = now;
		in.wanted_ns[A2S_K_RULES] = now;
		if (answer_at && now >= answer_at) {
			lease_until = 0;
			answer_at = 0;
		}
		in.lease_live = now < lease_until;
		due = a2s_sched_due(&in, now, NULL);
		if (due < 0)
			continue;
		cr_assert_lt(nsent[due], 64);
		sent[due][nsent[due]++] = now;
		in.last_query_ns[due] = now;
		lease_until =
		    now + a2s_sched_lease_ns(in.refresh_ns, in.timeout_ns);
		if (answers)
			answer_at = now + 20 * MS;
	}
	for (k = 0; k < A2S_K_MAX; k++) {
		/* 60 s at one per 2 s: 30 per kind. */
		cr_expect_leq(nsent[k], 30, "kind %u: %u queries", k, nsent[k]);
		cr_expect_geq(nsent[k], 29, "kind %u: only %u queries", k,
			      nsent[k]);
		for (i = 1; i < nsent[k]; i++)
			cr_expect_geq(
			    sent[k][i] - sent[k][i - 1], 2 * S,
			    "kind %u: queries %u ms apart", k,
			    (unsigned)((sent[k][i] - sent[k][i - 1]) / MS));
	}
}

Test(afxdp_sched, flood_server_answers)
{
	flood(true);
}
Test(afxdp_sched, flood_server_silent)
{
	flood(false);
}

Test(afxdp_sched, down)
{
	struct a2s_sched_in in = {.refresh_ns = 5 * S, .timeout_ns = 10 * S};

	cr_expect_not(a2s_sched_down(&in, T0));
	in.silent_since_ns = T0;
	cr_expect_not(a2s_sched_down(&in, T0 + 9999 * MS));
	cr_expect(a2s_sched_down(&in, T0 + 10 * S));
	in.silent_since_ns = T0 + S; /* written after this clock read */
	cr_expect_not(a2s_sched_down(&in, T0));
}

Test(afxdp_sched, lease_duration)
{
	cr_expect_eq(a2s_sched_lease_ns(5 * S, 10 * S), S);
	cr_expect_eq(a2s_sched_lease_ns(S, 10 * S), 250 * MS);
	cr_expect_eq(a2s_sched_lease_ns(5 * S, 300 * MS), 150 * MS);
	cr_expect_eq(a2s_sched_lease_ns(10 * MS, 10 * MS), 50 * MS);
}

Test(afxdp_sched, fresh)
{
	cr_expect_eq(a2s_sched_fresh(0, T0, 5 * S, 30 * S, false), A2S_NONE);
	cr_expect_eq(a2s_sched_fresh(T0, T0 + S, 5 * S, 30 * S, false),
		     A2S_FRESH);
	cr_expect_eq(a2s_sched_fresh(T0, T0 + 6 * S, 5 * S, 30 * S, false),
		     A2S_STALE);
	cr_expect_eq(a2s_sched_fresh(T0, T0 + 31 * S, 5 * S, 30 * S, false),
		     A2S_NONE);
	cr_expect_eq(a2s_sched_fresh(T0, T0 + S, 5 * S, 30 * S, true),
		     A2S_NONE);
	cr_expect_eq(a2s_sched_fresh(T0 + MS, T0, 5 * S, 30 * S, false),
		     A2S_FRESH);
}
