// SPDX-License-Identifier: GPL-2.0-only
/* kilimanjaro-agent's pure modules: reconnect backoff, command line,
 * events and snapshots as controller messages. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "backoff.h"
#include "log.h"
#include "options.h"
#include "pbcheck.h"
#include "report.h"

static void quiet(void)
{
	km_log_init("test-agent", LOG_EMERG);
}

TestSuite(agent, .init = quiet);

Test(agent, backoff_grows_with_full_jitter_and_caps)
{
	struct ka_backoff b;
	uint32_t d, max_seen = 0, min_seen = UINT32_MAX;

	ka_backoff_init(&b, 100, 30000, 12345);
	d = ka_backoff_next(&b);
	cr_assert_eq(d, 100, "the first retry waits exactly min (cap = min)");
	for (int i = 0; i < 5; i++) {
		d = ka_backoff_next(&b);
		cr_assert_geq(d, 100);
		cr_assert_leq(d, 100u << (i + 1), "attempt %d: %u", i + 1, d);
	}
	for (int i = 0; i < 2000; i++) {
		d = ka_backoff_next(&b);
		cr_assert_geq(d, 100);
		cr_assert_leq(d, 30000);
		max_seen = d > max_seen ? d : max_seen;
		min_seen = d < min_seen ? d : min_seen;
	}
	cr_assert_gt(max_seen, 25000, "jitter reaches near the cap");
	cr_assert_lt(min_seen, 5000, "full jitter: short delays too");
	ka_backoff_reset(&b);
	cr_assert_eq(ka_backoff_next(&b), 100, "reset starts over");
}

Test(agent, backoff_differs_between_edges)
{
	struct ka_backoff a, b;
	int same = 0;

	ka_backoff_init(&a, 100, 30000, 1);
	ka_backoff_init(&b, 100, 30000, 2);
	for (int i = 0; i < 20; i++)
		same += ka_backoff_next(&a) == ka_backoff_next(&b);
	cr_assert_lt(same, 5, "two seeds retry in lockstep");
}

static int parse(struct ka_opts *o, const char **args)
{
	const char *argv[32] = {"kilimanjaro-agent"};
	int n = 1;

	for (; args[n - 1]; n++)
		argv[n] = args[n - 1];
	return ka_options_parse(n, (char **)argv, o);
}

Test(agent, options)
{
	struct ka_opts o;
	const char *good[] = {
	    "-i",	 "ed0",	   "--controller", "198.18.1.1:7443",
	    "--edge-id", "edge-a", "--ca",	   "ca.pem",
	    "--cert",	 "e.pem",  "--key",	   "e.key",
	    NULL};
	const char *v6[] = {"-i", "ed0", "-c",		"[::1]:9",
			    "-e", "x",	 "--plain-tcp", NULL};
	const char *plain_far[] = {"-i", "ed0", "-c",	       "198.18.1.1:9",
				   "-e", "x",	"--plain-tcp", NULL};
	const char *no_tls[] = {"-i", "ed0", "-c", "198.18.1.1:9",
				"-e", "x",   NULL};
	const char *bad_port[] = {"-i", "ed0", "-c",	      "h:70000",
				  "-e", "x",   "--plain-tcp", NULL};
	const char *bad_id[] = {"-i", "ed0", "-c",	    "127.0.0.1:9",
				"-e", "a b", "--plain-tcp", NULL};
	const char *bad_stats[] = {
	    "-i", "ed0", "-c",		"127.0.0.1:9",
	    "-e", "x",	 "--plain-tcp", "--stats-interval-ms",
	    "50", NULL};

	cr_assert_eq(parse(&o, good), 0);
	cr_assert_str_eq(o.host, "198.18.1.1");
	cr_assert_eq(o.port, 7443);
	cr_assert_eq(o.stats_interval_ms, 1000);
	cr_assert_eq(o.dead_after_ms, 15000);
	cr_assert_eq(parse(&o, v6), 0);
	cr_assert_str_eq(o.host, "::1");
	cr_assert_eq(parse(&o, plain_far), -EINVAL,
		     "plain TCP off loopback must be refused");
	cr_assert_eq(parse(&o, no_tls), -EINVAL);
	cr_assert_eq(parse(&o, bad_port), -EINVAL);
	cr_assert_eq(parse(&o, bad_id), -EINVAL);
	cr_assert_eq(parse(&o, bad_stats), -EINVAL);
}

Test(agent, punch_event_to_message)
{
	struct km_event ev = {.type = KM_EV_PUNCH_LEARNED, .service_id = 3};
	struct ka_event_msg st;
	KmEnvelope env;
	char why[KM_PB_WHY_LEN];

	ev.punch.proto = IPPROTO_UDP;
	ev.punch.svc_addr = htonl(0xC6120A01);
	ev.punch.svc_port = htons(40000);
	ev.punch.remote = htonl(0xC6120702);
	ev.punch.remote_port = htons(6000);
	ev.backend = htonl(0xC6120202);
	cr_assert_eq(ka_event_to_envelope(&ev, 0, &env, &st), 0);
	cr_assert_eq(env.body_case,
		     KILIMANJARO__V1__ENVELOPE__BODY_PUNCH_LEARNED);
	cr_assert_eq(env.punch_learned->punch->service_addr, 0xC6120A01);
	cr_assert_eq(env.punch_learned->punch->service_port, 40000);
	cr_assert_eq(env.punch_learned->punch->remote_addr, 0xC6120702);
	cr_assert_eq(env.punch_learned->punch->remote_port, 6000);
	cr_assert_eq(env.punch_learned->punch->backend, 0xC6120202);
	cr_assert_null(km_pb_check(&env, why, sizeof(why)), "%s", why);
	ev.punch.proto = 1; /* ICMP: never a punch */
	cr_assert_eq(ka_event_to_envelope(&ev, 0, &env, &st), -EINVAL);
	ev.type = 99;
	cr_assert_eq(ka_event_to_envelope(&ev, 0, &env, &st), -EINVAL);
}

Test(agent, block_event_to_message)
{
	struct km_event ev = {.type = KM_EV_BLOCK_ADDED, .service_id = ~0u};
	struct ka_event_msg st;
	KmEnvelope env;

	ev.block_addr = htonl(0xC6120602);
	ev.block_until_ns = 5000000000ull;
	cr_assert_eq(ka_event_to_envelope(&ev, 2000000000ull, &env, &st), 0);
	cr_assert_eq(env.block_added->addr, 0xC6120602);
	cr_assert_eq(env.block_added->prefix_len, 32);
	cr_assert_eq(env.block_added->duration_ms, 3000);
	cr_assert(!env.block_added->has_service_id);
}

Test(agent, snapshot_to_stats)
{
	struct km_snapshot *s = calloc(1, km_snapshot_size(2));
	Kilimanjaro__V1__StatsSnapshot *st;
	KmEnvelope env = KILIMANJARO__V1__ENVELOPE__INIT;
	char why[KM_PB_WHY_LEN];

	s->version = KM_SNAP_VERSION;
	s->n_reasons = KM_R_MAX;
	s->mono_ns = 5000000000ull;
	s->started_mono_ns = 1000000000ull;
	s->interval_ns = 1000000000ull;
	s->reasons[KM_R_FWD_SERVICE].packets = 77;
	s->n_maps = 1;
	memcpy(s->maps[0].name, "km_services", 12);
	s->maps[0].entries = 2;
	s->maps[0].max_entries = 4096;
	s->n_services = 2;
	for (int i = 0; i < 2; i++) {
		s->services[i].key.proto = IPPROTO_UDP;
		s->services[i].key.addr = htonl(0xC6120A01);
		s->services[i].key.port = htons(27015 + i);
		s->services[i].st.fwd_packets = 10 + i;
	}
	s->services[1].flags = KM_SVC_F_A2S;
	s->services[1].a2s.cached = 9;
	st = ka_stats_from_snapshot(s);
	cr_assert_not_null(st);
	cr_assert_eq(st->uptime_ms, 5000, "the edge's monotonic clock");
	cr_assert_eq(st->n_reasons, KM_R_MAX);
	cr_assert_str_eq(st->reasons[KM_R_FWD_SERVICE]->reason, "fwd_service");
	cr_assert_eq(st->reasons[KM_R_FWD_SERVICE]->packets, 77);
	cr_assert_eq(st->n_services, 2);
	cr_assert_eq(st->services[1]->key->port, 27016);
	cr_assert_eq(st->services[1]->fwd_packets, 11);
	cr_assert(!st->services[0]->has_a2s_cached);
	cr_assert_eq(st->services[1]->a2s_cached, 9);
	cr_assert_str_eq(st->maps[0]->map, "km_services");
	env.schema = 1;
	env.body_case = KILIMANJARO__V1__ENVELOPE__BODY_STATS;
	env.stats = st;
	cr_assert_null(km_pb_check(&env, why, sizeof(why)), "%s", why);
	ka_stats_free(st);
	free(s);
}

Test(agent, block_until)
{
	cr_assert_eq(ka_block_until(100, 0), UINT64_MAX, "0: until removed");
	cr_assert_eq(ka_block_until(100, 2), 100 + 2000000);
	cr_assert_eq(ka_block_until(UINT64_MAX - 5, 1000), UINT64_MAX,
		     "no wrap-around");
}
