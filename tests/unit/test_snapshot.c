// SPDX-License-Identifier: GPL-2.0-only
/* The pure parts of lib/snapshot.c: the checks a reader applies to a
 * snapshot from the ring, rates, the A2S hit rate, verdict classes. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "lib/snapshot.h"

static struct km_snapshot *mk(uint32_t n)
{
	struct km_snapshot *s = calloc(1, km_snapshot_size(n));

	cr_assert_not_null(s);
	s->version = KM_SNAP_VERSION;
	s->n_reasons = KM_R_MAX;
	s->n_counters = KM_C_MAX;
	s->n_services = n;
	s->services_total = n;
	return s;
}

Test(snapshot, check_accepts_what_statsd_writes)
{
	struct km_snapshot *s = mk(3);

	cr_assert_eq(km_snapshot_check(s, km_snapshot_size(3)), 0);
	free(s);
}

Test(snapshot, check_refuses_inconsistent)
{
	struct km_snapshot *s = mk(3);

	cr_assert_eq(km_snapshot_check(s, km_snapshot_size(2)), -EPROTO);
	cr_assert_eq(km_snapshot_check(s, 10), -EPROTO);
	s->version = 99;
	cr_assert_eq(km_snapshot_check(s, km_snapshot_size(3)), -EPROTO);
	s->version = KM_SNAP_VERSION;
	s->services_total = 2; /* fewer configured than listed */
	cr_assert_eq(km_snapshot_check(s, km_snapshot_size(3)), -EPROTO);
	s->services_total = 3;
	s->n_maps = KM_SNAP_MAPS_MAX + 1;
	cr_assert_eq(km_snapshot_check(s, km_snapshot_size(3)), -EPROTO);
	s->n_maps = 0;
	s->n_reasons = KM_STATS_SLOTS + 1;
	cr_assert_eq(km_snapshot_check(s, km_snapshot_size(3)), -EPROTO);
	free(s);
}

Test(snapshot, rates)
{
	cr_assert_float_eq(km_snap_rate(100, 300, 500000000), 400.0, 1e-9);
	cr_assert_float_eq(km_snap_rate(300, 100, 500000000), 0.0, 1e-9,
			   "a counter that went back (maps recreated) is 0");
	cr_assert_float_eq(km_snap_rate(1, 2, 0), 0.0, 1e-9);
}

Test(snapshot, a2s_hit_rate)
{
	struct km_a2s_stat o = {.requests = 10,
				.challenges = 5,
				.cached = 2,
				.to_worker = 1,
				.forwarded = 1};
	struct km_a2s_stat n = o;
	uint64_t hit, tot;

	/* 100 requests: 40 challenged, 45 from the cache, 5 to a worker,
	 * 10 forwarded to the game server. */
	n.requests += 100;
	n.challenges += 40;
	n.cached += 45;
	n.to_worker += 5;
	n.forwarded += 10;
	km_a2s_hits(&o, &n, &hit, &tot);
	cr_assert_eq(hit, 50);
	cr_assert_eq(tot, 60);
	/* Only challenges: nothing to answer yet, no rate. */
	n = o;
	n.requests += 7;
	n.challenges += 7;
	km_a2s_hits(&o, &n, &hit, &tot);
	cr_assert_eq(tot, 0);
	/* Counters that went back: no rate either. */
	km_a2s_hits(&n, &o, &hit, &tot);
	cr_assert_eq(tot, 0);
}

Test(snapshot, verdict_classes)
{
	cr_assert_eq(km_reason_class(KM_R_FWD_SERVICE), KM_VC_FWD);
	cr_assert_eq(km_reason_class(KM_R_FWD_DECAP), KM_VC_FWD);
	cr_assert_eq(km_reason_class(KM_R_PASS_EDGE), KM_VC_PASS);
	cr_assert_eq(km_reason_class(KM_R_TX_A2S_CACHED), KM_VC_TX);
	cr_assert_eq(km_reason_class(KM_R_REDIR_A2S_WORKER), KM_VC_REDIR);
	cr_assert_eq(km_reason_class(KM_R_DROP_DENIED), KM_VC_DROP);
	cr_assert_eq(km_reason_class(KM_R_DROP_INTERNAL), KM_VC_DROP);
	cr_assert_str_eq(km_verdict_class_name(KM_VC_DROP), "drop");
}

Test(snapshot, service_name)
{
	struct km_service_key k = {.proto = 17,
				   .port = htons(27015),
				   .addr = htonl(0xc612000a)};
	char b[48];

	cr_assert_str_eq(km_snap_service_name(b, sizeof(b), &k),
			 "udp:198.18.0.10:27015");
}
