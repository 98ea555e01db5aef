// SPDX-License-Identifier: GPL-2.0-only
/*
 * Cases that take several packets and the settable clock: token buckets,
 * block time, the total budget, validated players, port punches with idle
 * expiry, ICMP limits, ring buffer events, A2S recognition, and the
 * spoofed-source flood.
 */
#include "edge_common.h"

#include <netinet/in.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>

#include "lib/maps.h"

TestSuite(flows, .init = world_setup, .fini = world_teardown, .timeout = 30);

static struct km_limit lim(uint32_t pps, uint32_t burst, uint64_t bps,
			   uint64_t burst_bytes, uint32_t block_ms)
{
	struct km_limit l = {.pps = pps,
			     .burst_pkts = burst,
			     .bps = bps,
			     .burst_bytes = burst_bytes,
			     .block_ms = block_ms};

	return l;
}

static void from(struct kmt_pkt *p, uint32_t src)
{
	player_pkt(p);
	p->ip.saddr = src;
}

/* n packets from src to SVC1:27015, each with the given verdict. */
static void send_n(uint32_t src, int n, uint32_t action, unsigned int reason)
{
	struct kmt_pkt p;

	from(&p, src);
	for (int i = 0; i < n; i++) {
		cr_log_info("packet %d of %d from %s", i + 1, n,
			    kmt_ip_str(src));
		send_expect(&p, if0, action, reason, NULL);
	}
}

static void send_fwd(uint32_t src, int n)
{
	send_n(src, n, XDP_TX, KM_R_FWD_SERVICE);
}

/* The backend answers `player` from SVC1:27015: the player is validated. */
static void validate(uint32_t player)
{
	struct kmt_pkt p;

	backend_pkt(&p);
	p.ip.daddr = player;
	send_expect(&p, if0, XDP_TX, KM_R_FWD_DECAP, NULL);
}

static size_t drain_events(struct km_event *ev, size_t max)
{
	int n = kmt_events(&env, ev, max);

	cr_assert_geq(n, 0, "reading km_events failed");
	return (size_t)n;
}

static void per_source_cfg(struct km_config *c)
{
	c->rl_prefix_len = 32;
}

/* ---- token buckets ---- */

Test(flows, ratelimit_pps,
     .description = "pps bucket: burst passes, excess dropped, refills with "
		    "time, per /24 prefix")
{
	struct km_svc_cfg cfg = {.unvalidated = lim(10, 5, 0, 0, 0)};
	struct km_svc_stat s;

	set_limits(ID_SVC1_UDP, &cfg);
	send_fwd(PLAYER, 5);
	send_n(PLAYER, 1, XDP_DROP, KM_R_DROP_RATELIMIT);
	/* same /24 (rl_prefix_len 24): same bucket */
	send_n(PLAYER2, 1, XDP_DROP, KM_R_DROP_RATELIMIT);
	send_fwd(PLAYER_FAR, 1);
	cr_assert_eq(map_count(KM_MAP_RL_SRC), 2);
	cr_assert_eq(counter(KM_C_RL_NEW), 2);
	cr_assert_eq(map_count(KM_MAP_BLOCKS), 0);
	cr_assert_eq(kmt_svc_stat(&env, ID_SVC1_UDP, &s), 0);
	cr_assert_eq(s.fwd_packets, 6);
	cr_assert_eq(s.drop_packets, 2);
	/* 100 ms = one packet at 10 pps */
	clock_add(100 * MS_NS);
	send_fwd(PLAYER, 1);
	send_n(PLAYER, 1, XDP_DROP, KM_R_DROP_RATELIMIT);
	/* a full second refills the whole burst, no more */
	clock_add(SEC_NS);
	send_fwd(PLAYER, 5);
	send_n(PLAYER, 1, XDP_DROP, KM_R_DROP_RATELIMIT);
	/* the other services at the address have their own (unlimited) state */
	{
		struct kmt_pkt p;

		player_pkt(&p);
		p.dport = 27016;
		send_expect(&p, if0, XDP_TX, KM_R_FWD_SERVICE, NULL);
	}
}

Test(flows, ratelimit_decided_at_the_precise_time,
     .description = "a packet the lagging coarse clock would refuse is "
		    "decided at the precise time, both ways")
{
	/* 3 pps: a packet every 333,333,333 ns, not on a 4 ms tick */
	struct km_svc_cfg cfg = {.unvalidated = lim(3, 1, 0, 0, 0)};
	const uint64_t t = SEC_NS / 3;

	set_limits(ID_SVC1_UDP, &cfg);
	send_fwd(PLAYER, 1); /* at KMT_T0: the next one conforms from T0 + t */
	/* coarse T0 + 332 ms refuses; precise T0 + 333 ms too: dropped */
	clock_set(KMT_T0 + 333 * MS_NS);
	send_n(PLAYER, 1, XDP_DROP, KM_R_DROP_RATELIMIT);
	/* coarse still T0 + 332 ms, precise just past T0 + t: forwarded */
	clock_set(KMT_T0 + t + 1);
	cr_assert_lt(KMT_T0 + t + 1 - (KMT_T0 + t + 1) % (4 * MS_NS), KMT_T0 + t,
		     "the coarse time must lie before the conforming time");
	send_fwd(PLAYER, 1);
	send_n(PLAYER, 1, XDP_DROP, KM_R_DROP_RATELIMIT);
}

Test(flows, ratelimit_bps,
     .description = "bps bucket counts IP length: 10 x 100 bytes fit a "
		    "1050-byte burst, the 11th not")
{
	struct km_svc_cfg cfg = {.unvalidated = lim(0, 0, 1000, 1050, 0)};
	struct kmt_pkt p;

	set_limits(ID_SVC1_UDP, &cfg);
	player_pkt(&p);
	kmt_pkt_payload_fill(&p, 100 - 28);
	for (int i = 0; i < 10; i++)
		send_expect(&p, if0, XDP_TX, KM_R_FWD_SERVICE, NULL);
	send_expect(&p, if0, XDP_DROP, KM_R_DROP_RATELIMIT, NULL);
	/* 100 bytes at 1000 B/s take 100 ms */
	clock_add(100 * MS_NS);
	send_expect(&p, if0, XDP_TX, KM_R_FWD_SERVICE, NULL);
	send_expect(&p, if0, XDP_DROP, KM_R_DROP_RATELIMIT, NULL);
	/* a small packet fits where a big one did not */
	clock_add(30 * MS_NS);
	send_expect(&p, if0, XDP_DROP, KM_R_DROP_RATELIMIT, NULL);
	kmt_pkt_payload_fill(&p, 0);
	send_expect(&p, if0, XDP_TX, KM_R_FWD_SERVICE, NULL);
}

Test(flows, ratelimit_block_time,
     .description = "exceeding a limit with block_ms blocks the prefix bucket, "
		    "reports it, and recovers")
{
	struct km_svc_cfg cfg = {.unvalidated = lim(10, 2, 0, 0, 1000)};
	struct km_event ev[4];
	size_t n;

	set_limits(ID_SVC1_UDP, &cfg);
	send_fwd(PLAYER, 2);
	send_n(PLAYER, 1, XDP_DROP, KM_R_DROP_RATELIMIT);
	cr_assert_eq(counter(KM_C_BLOCK_ADDED), 1);
	n = drain_events(ev, 4);
	cr_assert_eq(n, 1, "one KM_EV_BLOCK_ADDED event expected, got %zu", n);
	cr_assert_eq(ev[0].type, KM_EV_BLOCK_ADDED);
	cr_assert_eq(ev[0].service_id, ID_SVC1_UDP);
	cr_assert_eq(ev[0].block_addr, KMT_IP4(198, 19, 0, 0), "block_addr %s",
		     kmt_ip_str(ev[0].block_addr));
	cr_assert_eq(ev[0].block_prefix_len, 24);
	cr_assert_eq(ev[0].block_reason, KM_BLOCK_RATELIMIT);
	cr_assert_eq(ev[0].block_until_ns, KMT_T0 + SEC_NS);
	cr_assert_eq(ev[0].ts_ns, KMT_T0);
	/* the data plane never adds a source address to km_blocks */
	cr_assert_eq(map_count(KM_MAP_BLOCKS), 0);
	/* inside the block time the refilled bucket still refuses */
	clock_add(500 * MS_NS);
	send_n(PLAYER, 1, XDP_DROP, KM_R_DROP_RL_BLOCKED);
	send_n(PLAYER2, 1, XDP_DROP, KM_R_DROP_RL_BLOCKED);
	send_fwd(PLAYER_FAR, 1);
	cr_assert_eq(drain_events(ev, 4), 0,
		     "a blocked packet is no new block");
	/* after it, traffic flows again */
	clock_set(KMT_T0 + SEC_NS + 1);
	send_fwd(PLAYER, 2);
	cr_assert_eq(counter(KM_C_BLOCK_ADDED), 1);
}

Test(flows, total_budget,
     .description = "the service-wide unvalidated budget caps many prefixes; "
		    "validated players are outside it")
{
	struct km_svc_cfg cfg = {.total = lim(10, 3, 0, 0, 0)};

	set_limits(ID_SVC1_UDP, &cfg);
	send_fwd(KMT_IP4(198, 19, 1, 7), 1);
	send_fwd(KMT_IP4(198, 19, 2, 7), 1);
	send_fwd(KMT_IP4(198, 19, 3, 7), 1);
	send_n(KMT_IP4(198, 19, 4, 7), 1, XDP_DROP, KM_R_DROP_SVC_LIMIT);
	validate(PLAYER);
	send_fwd(PLAYER, 5);
	send_n(KMT_IP4(198, 19, 5, 7), 1, XDP_DROP, KM_R_DROP_SVC_LIMIT);
	clock_add(100 * MS_NS);
	send_fwd(KMT_IP4(198, 19, 6, 7), 1);
	send_n(KMT_IP4(198, 19, 7, 7), 1, XDP_DROP, KM_R_DROP_SVC_LIMIT);
}

Test(flows, allow_skips_limits,
     .description = "an allowed prefix skips every limit and creates no bucket")
{
	struct km_svc_cfg cfg = {.unvalidated = lim(1, 1, 0, 0, 1000),
				 .total = lim(1, 1, 0, 0, 0)};

	set_limits(ID_SVC1_UDP, &cfg);
	cr_assert_eq(
	    kmt_prefix_add(&env, KM_MAP_ALLOW_A, KMT_IP4(198, 19, 0, 0), 24),
	    0);
	send_fwd(PLAYER, 5);
	send_fwd(PLAYER2, 5);
	cr_assert_eq(map_count(KM_MAP_RL_SRC), 0);
	/* outside the allowed prefix the limits hold (the spent budget is
	 * checked first, then the source's own bucket) */
	send_fwd(PLAYER_FAR, 1);
	send_n(PLAYER_FAR, 1, XDP_DROP, KM_R_DROP_SVC_LIMIT);
	clock_add(SEC_NS);
	send_fwd(PLAYER_FAR, 1);
	cr_assert_eq(map_count(KM_MAP_RL_SRC), 1);
	cfg.total = lim(0, 0, 0, 0, 0);
	set_limits(ID_SVC1_UDP, &cfg);
	send_n(PLAYER_FAR, 1, XDP_DROP, KM_R_DROP_RATELIMIT);
}

static void flip(struct km_config *c)
{
	c->active_lists = 1;
}

Test(flows, allow_in_flipped_list,
     .description =
	 "the allow list of the active pair (b after a flip) is the one read")
{
	struct km_svc_cfg cfg = {.unvalidated = lim(1, 1, 0, 0, 0)};

	set_limits(ID_SVC1_UDP, &cfg);
	cr_assert_eq(kmt_prefix_add(&env, KM_MAP_ALLOW_B, PLAYER, 32), 0);
	send_fwd(PLAYER, 1);
	send_n(PLAYER, 1, XDP_DROP, KM_R_DROP_RATELIMIT);
	set_cfg(flip);
	send_fwd(PLAYER, 3);
}

/* ---- validated players ---- */

Test(flows, validated_limit,
     .description = "a validated player uses the validated limit, never "
		    "km_rl_src; its neighbours do not")
{
	struct km_svc_cfg cfg = {.unvalidated = lim(1, 1, 0, 0, 0),
				 .validated = lim(100, 10, 0, 0, 0)};
	struct km_svc_cfg rw = {.unvalidated = lim(1, 1, 0, 0, 0)};
	struct kmt_pkt p;

	set_limits(ID_SVC1_UDP, &cfg);
	set_limits(ID_SVC1_UDP_RW, &rw);
	validate(PLAYER);
	cr_assert_eq(counter(KM_C_VALIDATED_NEW), 1);
	send_fwd(PLAYER, 10);
	send_n(PLAYER, 1, XDP_DROP, KM_R_DROP_RATELIMIT);
	cr_assert_eq(map_count(KM_MAP_RL_SRC), 0,
		     "validated traffic must not create prefix buckets");
	send_fwd(PLAYER2, 1);
	send_n(PLAYER2, 1, XDP_DROP, KM_R_DROP_RATELIMIT);
	cr_assert_eq(map_count(KM_MAP_RL_SRC), 1);
	/* validation is per service: 27016 still sees an unvalidated player */
	player_pkt(&p);
	p.dport = 27016;
	send_expect(&p, if0, XDP_TX, KM_R_FWD_SERVICE, NULL);
	send_expect(&p, if0, XDP_DROP, KM_R_DROP_RATELIMIT, NULL);
	/* a second backend packet is no second validation */
	validate(PLAYER);
	cr_assert_eq(counter(KM_C_VALIDATED_NEW), 1);
	cr_assert_eq(map_count(KM_MAP_VALIDATED), 1);
}

Test(flows, validated_block,
     .description = "a validated player over its limit with block_ms is "
		    "blocked alone, as a /32")
{
	struct km_svc_cfg cfg = {.validated = lim(100, 3, 0, 0, 500),
				 .unvalidated = lim(100, 3, 0, 0, 0)};
	struct km_event ev[4];

	set_limits(ID_SVC1_UDP, &cfg);
	validate(PLAYER);
	send_fwd(PLAYER, 3);
	send_n(PLAYER, 1, XDP_DROP, KM_R_DROP_RATELIMIT);
	cr_assert_eq(drain_events(ev, 4), 1);
	cr_assert_eq(ev[0].type, KM_EV_BLOCK_ADDED);
	cr_assert_eq(ev[0].block_addr, PLAYER);
	cr_assert_eq(ev[0].block_prefix_len, 32);
	cr_assert_eq(ev[0].block_until_ns, KMT_T0 + 500 * MS_NS);
	clock_add(100 * MS_NS);
	send_n(PLAYER, 1, XDP_DROP, KM_R_DROP_RL_BLOCKED);
	send_fwd(PLAYER2, 1);
	clock_set(KMT_T0 + 500 * MS_NS + 1);
	send_fwd(PLAYER, 3);
	cr_assert_eq(map_count(KM_MAP_BLOCKS), 0);
}

Test(flows, validated_expires,
     .description = "a validated player idle past validated_idle_ns is removed "
		    "and limited as unvalidated")
{
	struct km_svc_cfg cfg = {.unvalidated = lim(1, 1, 0, 0, 0),
				 .validated = lim(100, 10, 0, 0, 0)};
	struct km_validated v;

	set_limits(ID_SVC1_UDP, &cfg);
	validate(PLAYER);
	/* the player's own packets do not keep it validated */
	clock_set(KMT_T0 + VALIDATED_IDLE_NS - SEC_NS);
	send_fwd(PLAYER, 3);
	cr_assert_eq(map_count(KM_MAP_RL_SRC), 0);
	clock_set(KMT_T0 + VALIDATED_IDLE_NS + SEC_NS);
	send_fwd(PLAYER, 1);
	cr_assert_eq(counter(KM_C_VALIDATED_EXPIRED), 1);
	cr_assert_neq(validated_get(ID_SVC1_UDP, PLAYER, &v), 0,
		      "expired entry still in km_validated");
	send_n(PLAYER, 1, XDP_DROP, KM_R_DROP_RATELIMIT);
	/* the backend talks again: validated again */
	validate(PLAYER);
	cr_assert_eq(counter(KM_C_VALIDATED_NEW), 2);
	send_fwd(PLAYER, 5);
}

Test(flows, validated_refreshed_by_backend,
     .description = "backend traffic keeps a player validated")
{
	struct km_svc_cfg cfg = {.unvalidated = lim(1, 1, 0, 0, 0),
				 .validated = lim(100, 10, 0, 0, 0)};
	struct km_validated v;

	set_limits(ID_SVC1_UDP, &cfg);
	validate(PLAYER);
	clock_set(KMT_T0 + 50 * SEC_NS);
	validate(PLAYER);
	cr_assert_eq(validated_get(ID_SVC1_UDP, PLAYER, &v), 0);
	cr_assert_eq(v.last_seen_ns, KMT_T0 + 50 * SEC_NS);
	clock_set(KMT_T0 + 100 * SEC_NS);
	send_fwd(PLAYER, 5);
	cr_assert_eq(counter(KM_C_VALIDATED_EXPIRED), 0);
	cr_assert_eq(map_count(KM_MAP_RL_SRC), 0);
}

/* ---- port punches ---- */

#define PUNCH_PORT 40001
#define REMOTE_PORT 5000

static void punch_backend_pkt(struct kmt_pkt *p)
{
	backend_pkt(p);
	p->sport = PUNCH_PORT;
	p->dport = REMOTE_PORT;
}

static void remote_pkt(struct kmt_pkt *p)
{
	player_pkt(p);
	p->sport = REMOTE_PORT;
	p->dport = PUNCH_PORT;
}

static const struct km_punch_key punch_key = {
    .proto = IPPROTO_UDP,
    .svc_addr = SVC1,
    .remote = PLAYER,
    .svc_port = KMT_BE16(PUNCH_PORT),
    .remote_port = KMT_BE16(REMOTE_PORT),
};

static void learn_punch(void)
{
	struct kmt_pkt p;
	struct res r;

	punch_backend_pkt(&p);
	send_expect(&p, if0, XDP_TX, KM_R_FWD_DECAP, &r);
	expect_decap(&r, &p, 0);
}

Test(flows, punch_learned_and_used,
     .description = "a backend flow from a non-service port opens that port to "
		    "the remote only")
{
	struct km_event ev[4];
	struct km_punch v;
	struct kmt_pkt p;
	struct res r;

	learn_punch();
	cr_assert_eq(punch_get(&punch_key, &v), 0, "punch not learned");
	cr_assert_eq(v.backend, BE_TX);
	cr_assert_eq(v.origin, KM_ORIGIN_LEARNED);
	cr_assert_eq(v.last_seen_ns, KMT_T0);
	cr_assert_eq(counter(KM_C_PUNCH_LEARNED), 1);
	cr_assert_eq(map_count(KM_MAP_VALIDATED), 0,
		     "a punch is not a validated player");
	cr_assert_eq(drain_events(ev, 4), 1);
	cr_assert_eq(ev[0].type, KM_EV_PUNCH_LEARNED);
	cr_assert(!memcmp(&ev[0].punch, &punch_key, sizeof(punch_key)),
		  "event punch key differs");
	cr_assert_eq(ev[0].backend, BE_TX);
	cr_assert_eq(ev[0].ts_ns, KMT_T0);

	remote_pkt(&p);
	send_expect(&p, if0, XDP_TX, KM_R_FWD_PUNCH, &r);
	expect_encap(&r, &p, BE_TX, PUNCH_PORT, 0);
	/* only that remote and port */
	p.sport = REMOTE_PORT + 1;
	send_expect(&p, if0, XDP_DROP, KM_R_DROP_NO_SERVICE, NULL);
	remote_pkt(&p);
	p.ip.saddr = PLAYER2;
	send_expect(&p, if0, XDP_DROP, KM_R_DROP_NO_SERVICE, NULL);
	remote_pkt(&p);
	p.l4 = IPPROTO_TCP;
	send_expect(&p, if0, XDP_DROP, KM_R_DROP_NO_SERVICE, NULL);
	/* the same flow again refreshes, it is not learned twice */
	clock_add(2 * SEC_NS);
	learn_punch();
	cr_assert_eq(counter(KM_C_PUNCH_LEARNED), 1);
	cr_assert_eq(drain_events(ev, 4), 0);
	cr_assert_eq(punch_get(&punch_key, &v), 0);
	cr_assert_eq(v.last_seen_ns, KMT_T0 + 2 * SEC_NS);
}

Test(flows, punch_tcp,
     .description = "a TCP flow the backend opened is learned and the remote's "
		    "segments tunnelled back")
{
	struct kmt_pkt p;
	struct km_event ev[2];
	struct res r;

	backend_pkt(&p);
	p.l4 = IPPROTO_TCP;
	p.sport = 45000;
	p.dport = 443;
	p.tcp_flags = 0x02;
	send_expect(&p, if0, XDP_TX, KM_R_FWD_DECAP, &r);
	expect_decap(&r, &p, 0);
	cr_assert_eq(drain_events(ev, 2), 1);
	cr_assert_eq(ev[0].punch.proto, IPPROTO_TCP);
	cr_assert_eq(ev[0].punch.svc_port, KMT_BE16(45000));
	cr_assert_eq(ev[0].punch.remote_port, KMT_BE16(443));
	player_pkt(&p);
	p.l4 = IPPROTO_TCP;
	p.sport = 443;
	p.dport = 45000;
	p.tcp_flags = 0x12;
	kmt_pkt_payload_fill(&p, 0);
	send_expect(&p, if0, XDP_TX, KM_R_FWD_PUNCH, &r);
	expect_encap(&r, &p, BE_TX, 45000, 0);
	/* the same ports over UDP are another flow */
	p.l4 = IPPROTO_UDP;
	send_expect(&p, if0, XDP_DROP, KM_R_DROP_NO_SERVICE, NULL);
}

Test(flows, punch_idle_expiry,
     .description =
	 "a punch idle past punch_idle_ns is removed and the port closes")
{
	struct km_punch v;
	struct kmt_pkt p;

	learn_punch();
	remote_pkt(&p);
	clock_set(KMT_T0 + PUNCH_IDLE_NS - SEC_NS);
	send_expect(&p, if0, XDP_TX, KM_R_FWD_PUNCH, NULL);
	/* refreshed above (more than 1 s after learning): alive 29 s later */
	clock_set(KMT_T0 + 2 * PUNCH_IDLE_NS - 2 * SEC_NS);
	send_expect(&p, if0, XDP_TX, KM_R_FWD_PUNCH, NULL);
	clock_add(PUNCH_IDLE_NS + SEC_NS);
	send_expect(&p, if0, XDP_DROP, KM_R_DROP_NO_SERVICE, NULL);
	cr_assert_eq(counter(KM_C_PUNCH_EXPIRED), 1);
	cr_assert_neq(punch_get(&punch_key, &v), 0, "expired punch kept");
}

Test(flows, punch_userspace,
     .description = "punches installed by userspace forward, to any backend, "
		    "after block and deny")
{
	struct km_punch_key k2 = punch_key;
	struct kmt_pkt p;
	struct res r;

	cr_assert_eq(
	    kmt_punch_add(&env, &punch_key, BE_TX, KM_ORIGIN_CLI, KMT_T0), 0);
	remote_pkt(&p);
	send_expect(&p, if0, XDP_TX, KM_R_FWD_PUNCH, &r);
	expect_encap(&r, &p, BE_TX, PUNCH_PORT, 0);
	/* synced from another edge, for a backend behind e1 */
	k2.remote_port = KMT_BE16(REMOTE_PORT + 1);
	cr_assert_eq(
	    kmt_punch_add(&env, &k2, BE_RD, KM_ORIGIN_CONTROLLER, KMT_T0), 0);
	p.sport = REMOTE_PORT + 1;
	send_expect(&p, if0, XDP_REDIRECT, KM_R_FWD_PUNCH, &r);
	expect_encap(&r, &p, BE_RD, PUNCH_PORT, 1);
	/* deny, then block, come first */
	cr_assert_eq(kmt_prefix_add(&env, KM_MAP_DENY_A, PLAYER, 32), 0);
	send_expect(&p, if0, XDP_DROP, KM_R_DROP_DENIED, NULL);
	cr_assert_eq(
	    kmt_block_add(&env, PLAYER, KMT_T0 + SEC_NS, KM_ORIGIN_CLI), 0);
	send_expect(&p, if0, XDP_DROP, KM_R_DROP_BLOCKED, NULL);
}

Test(flows, punch_not_rate_limited,
     .description = "punched flows are not rate limited")
{
	struct km_svc_cfg cfg = {.unvalidated = lim(1, 1, 0, 0, 1000),
				 .total = lim(1, 1, 0, 0, 0)};
	struct kmt_pkt p;

	set_limits(ID_SVC1_UDP, &cfg);
	learn_punch();
	remote_pkt(&p);
	for (int i = 0; i < 5; i++)
		send_expect(&p, if0, XDP_TX, KM_R_FWD_PUNCH, NULL);
	cr_assert_eq(map_count(KM_MAP_RL_SRC), 0);
}

Test(flows, events_full_ring_counted,
     .description = "events that do not fit the ring buffer are counted as "
		    "lost, never block forwarding")
{
	struct km_svc_cfg cfg = {.unvalidated = lim(1, 1, 0, 0, 1000)};
	/* each event takes 56 bytes + an 8-byte header: 4096 fill the ring */
	const int sources = KM_EVENTS_BYTES / 64 + 500;
	static struct km_event ev[KM_EVENTS_BYTES / 64 + 600];
	uint8_t in[KMT_FRAME_MAX], out[KMT_FRAME_MAX];
	__u64 lost, added;
	struct kmt_pkt p;
	int n, len;

	/* one bucket per address, so each source is a new block */
	set_cfg(per_source_cfg);
	set_limits(ID_SVC1_UDP, &cfg);
	player_pkt(&p);
	for (int i = 0; i < sources; i++) {
		p.ip.saddr =
		    KMT_IP4(198, 18 + (i >> 16 & 1), i >> 8 & 255, i & 255);
		len = kmt_pkt_build(&p, in, sizeof(in));
		cr_assert_gt(len, 0);
		for (int k = 0; k < 2; k++) {
			struct kmt_xdp_run run = {.in = in,
						  .in_len = (size_t)len,
						  .out = out,
						  .out_cap = sizeof(out),
						  .ifindex = if0};

			cr_assert_eq(kmt_env_run(&env, &run), 0);
			cr_assert_eq(run.retval, k ? XDP_DROP : XDP_TX,
				     "source %d packet %d: %s", i, k,
				     xdp_action_name(run.retval));
		}
	}
	added = counter(KM_C_BLOCK_ADDED);
	lost = counter(KM_C_EVENT_LOST);
	cr_assert_eq(added, (__u64)sources, "%llu blocks for %d sources",
		     (unsigned long long)added, sources);
	n = kmt_events(&env, ev, sizeof(ev) / sizeof(ev[0]));
	cr_assert_gt(n, 0);
	cr_assert_gt(lost, 0, "a full ring must count lost events");
	cr_assert_eq((__u64)n + lost, added, "%d read + %llu lost != %llu", n,
		     (unsigned long long)lost, (unsigned long long)added);
	/* once drained, events flow again */
	send_fwd(PLAYER, 1);
	send_n(PLAYER, 1, XDP_DROP, KM_R_DROP_RATELIMIT);
	cr_assert_eq(kmt_events(&env, ev, 4), 1);
	cr_assert_eq(counter(KM_C_EVENT_LOST), lost);
}

/* ---- ICMP ---- */

static void echo_pkt(struct kmt_pkt *p, uint16_t seq)
{
	player_pkt(p);
	p->l4 = IPPROTO_ICMP;
	p->icmp_type = 8;
	p->icmp_id = 0x0abc;
	p->icmp_seq = seq;
	kmt_pkt_payload_fill(p, 24);
}

Test(flows, icmp_echo_ratelimit,
     .description = "echo replies follow the icmp limit of the lowest service "
		    "id at the address")
{
	struct km_svc_cfg cfg = {.icmp = lim(1, 2, 0, 0, 0)};
	struct km_svc_cfg strict = {.icmp = lim(1, 1, 0, 0, 0)};
	struct km_rl_key k = {.service_id = ID_SVC1_UDP,
			      .prefix = KMT_IP4(198, 19, 0, 0),
			      .kind = 1};
	struct km_bucket b[64];
	struct kmt_pkt p;
	struct res r;

	set_limits(ID_SVC1_UDP, &cfg);
	/* a higher id at the same address must not be the one applied */
	set_limits(ID_SVC1_TCP, &strict);
	for (uint16_t i = 0; i < 2; i++) {
		echo_pkt(&p, i);
		send_expect(&p, if0, XDP_TX, KM_R_TX_ICMP_ECHO, &r);
		expect_echo_reply(&r, &p);
	}
	echo_pkt(&p, 2);
	send_expect(&p, if0, XDP_DROP, KM_R_DROP_RATELIMIT, NULL);
	cr_assert_eq(bpf_map_lookup_elem(kmt_fd(&env, KM_MAP_RL_SRC), &k, b), 0,
		     "no ICMP bucket (kind 1) for the player's /24");
	clock_add(SEC_NS);
	echo_pkt(&p, 3);
	send_expect(&p, if0, XDP_TX, KM_R_TX_ICMP_ECHO, &r);
	expect_echo_reply(&r, &p);
	/* game traffic of the prefix is not charged for echoes */
	send_fwd(PLAYER, 3);
}

/* ---- A2S ---- */

Test(flows, a2s_recognised,
     .description = "A2S requests to a service are counted by the parse stage "
		    "and forwarded")
{
	static const uint8_t info[] = "\xff\xff\xff\xff\x54Source Engine Query";
	static const uint8_t player_req[] = {0xff, 0xff, 0xff, 0xff, 0x55,
					     0xff, 0xff, 0xff, 0xff};
	struct kmt_pkt p;
	struct res r;

	player_pkt(&p);
	p.payload_len = 0;
	kmt_pkt_payload(&p, info, sizeof(info)); /* with its NUL: 25 bytes */
	cr_assert_eq(p.payload_len, 25);
	send_expect(&p, if0, XDP_TX, KM_R_FWD_SERVICE, &r);
	expect_encap(&r, &p, BE_TX, 27015, 0);
	cr_assert_eq(r.ctr[KM_C_A2S_SEEN], 1);
	player_pkt(&p);
	p.payload_len = 0;
	kmt_pkt_payload(&p, player_req, sizeof(player_req));
	send_expect(&p, if0, XDP_TX, KM_R_FWD_SERVICE, &r);
	cr_assert_eq(r.ctr[KM_C_A2S_SEEN], 1);
	/* the same bytes over TCP are no A2S */
	p.l4 = IPPROTO_TCP;
	send_expect(&p, if0, XDP_TX, KM_R_FWD_SERVICE, &r);
	cr_assert_eq(r.ctr[KM_C_A2S_SEEN], 0);
}

/* ---- the flood ---- */

#define FLOOD_PACKETS 200000
#define FLOOD_RL_SRC 4096
#define FLOOD_PLAYER_EVERY 4000

static void flood_setup(void)
{
	static const struct kmt_map_size sizes[] = {
	    {KM_MAP_RL_SRC, FLOOD_RL_SRC},
	};

	world_setup_sized(sizes, 1);
}

static void per_source(struct km_config *c)
{
	/* one bucket per address: the most state a flood can ask for */
	c->rl_prefix_len = 32;
}

static uint32_t xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static uint64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SEC_NS + (uint64_t)ts.tv_nsec;
}

/* Sends n packets from random sources in 198.18.0.0/15 (never PLAYER) to
 * SVC1:27015, 5 us of test clock apart; every FLOOD_PLAYER_EVERY-th packet
 * is PLAYER's own and must be forwarded. Returns the flood packets
 * forwarded (FWD_SERVICE minus the player's). */
static uint64_t flood(int n, uint32_t *seed)
{
	struct km_stat before[KM_R_MAX], after[KM_R_MAX];
	uint8_t in[KMT_FRAME_MAX], out[KMT_FRAME_MAX];
	uint64_t t = kmt_clock_get(&env), start, limited;
	struct kmt_pkt p, pl;
	int len, player_sent = 0;

	player_pkt(&p);
	player_pkt(&pl);
	cr_assert_eq(kmt_stats(&env, before), 0);
	start = wall_ns();
	for (int i = 1; i <= n; i++) {
		struct kmt_xdp_run run = {.in = in,
					  .out = out,
					  .out_cap = sizeof(out),
					  .ifindex = if0};
		const struct kmt_pkt *send = &p;

		if (i % 100 == 0) {
			t += 500 * 1000; /* 5 us a packet: 200k pps */
			clock_set(t);
		}
		if (i % FLOOD_PLAYER_EVERY == 0) {
			send = &pl;
			player_sent++;
		} else {
			do
				p.ip.saddr =
				    KMT_IP4(198, 18, 0, 0) |
				    (xorshift(seed) & KMT_IP4(0, 1, 255, 255));
			while (p.ip.saddr == PLAYER);
			p.sport = (uint16_t)(1024 + (*seed >> 17));
		}
		len = kmt_pkt_build(send, in, sizeof(in));
		cr_assert_gt(len, 0);
		run.in_len = (size_t)len;
		cr_assert_eq(kmt_env_run(&env, &run), 0);
		if (send == &pl)
			cr_assert_eq(
			    run.retval, XDP_TX,
			    "validated player dropped (%s) at packet %d",
			    xdp_action_name(run.retval), i);
		else
			cr_assert(run.retval == XDP_TX ||
				      run.retval == XDP_DROP,
				  "flood packet %d: %s", i,
				  xdp_action_name(run.retval));
	}
	cr_log_info("flood: %d packets in %.2f s", n,
		    (double)(wall_ns() - start) / 1e9);
	cr_assert_eq(kmt_stats(&env, after), 0);
#define D(r) (after[r].packets - before[r].packets)
	limited = D(KM_R_DROP_RATELIMIT) + D(KM_R_DROP_SVC_LIMIT);
	cr_assert_eq(D(KM_R_FWD_SERVICE) + limited, (uint64_t)n,
		     "every flood packet forwarded or limited");
	cr_assert_geq(D(KM_R_FWD_SERVICE), (uint64_t)player_sent);
	return D(KM_R_FWD_SERVICE) - (uint64_t)player_sent;
#undef D
}

/* The validated player survives whatever the flood did. */
static void player_intact(void)
{
	struct km_validated v;

	cr_assert_eq(map_count(KM_MAP_VALIDATED), 1);
	cr_assert_eq(validated_get(ID_SVC1_UDP, PLAYER, &v), 0,
		     "the flood evicted the validated player");
	cr_assert_eq(v.last_seen_ns, KMT_T0);
	send_fwd(PLAYER, 1);
}

Test(flood, spoofed_sources_cannot_hurt_validated_player, .init = flood_setup,
     .fini = world_teardown, .timeout = 60,
     .description =
	 "200k spoofed sources: km_rl_src churns within max_entries, the "
	 "budget holds, the validated player keeps its entry and is forwarded")
{
	/* Phase 1, no total budget: every new source gets a bucket, the
	 * most state a flood can demand. */
	struct km_svc_cfg cfg = {.unvalidated = lim(10, 5, 0, 0, 0),
				 .validated = lim(100, 20, 0, 0, 0)};
	uint32_t seed = 0x9e3779b9;
	uint64_t fwd;

	set_cfg(per_source);
	set_limits(ID_SVC1_UDP, &cfg);
	validate(PLAYER);
	flood(FLOOD_PACKETS * 3 / 4, &seed);
	cr_assert_gt(counter(KM_C_RL_NEW), 10 * FLOOD_RL_SRC,
		     "only %llu buckets created: the flood did not churn",
		     (unsigned long long)counter(KM_C_RL_NEW));
	cr_assert_leq(map_count(KM_MAP_RL_SRC), FLOOD_RL_SRC);
	player_intact();

	/* Phase 2, a budget of 1000 pps (+100 burst, per CPU: the test is
	 * pinned to one) over 0.25 s of test clock. */
	cfg.total = lim(1000, 100, 0, 0, 0);
	set_limits(ID_SVC1_UDP, &cfg);
	fwd = flood(FLOOD_PACKETS / 4, &seed);
	/* + 4: the budget went idle in phase 1, and its first packet
	 * anchors at the coarse clock, up to one 4 ms tick early (1000 pps:
	 * 4 packets; docs/design.md "Rate limits") */
	cr_assert_leq(fwd, 250 + 100 + 1 + 4, "%llu flood packets forwarded",
		      (unsigned long long)fwd);
	cr_assert_geq(fwd, 250, "budget not used: %llu forwarded",
		      (unsigned long long)fwd);
	cr_assert_leq(map_count(KM_MAP_RL_SRC), FLOOD_RL_SRC);
	player_intact();
}

/* ---- operator blocks kept by lib/maps.c ---- */

Test(flows, blocks_flag_kept_by_lib,
     .description = "without operator blocks the lookup is skipped; a block "
		    "added through lib/maps.c applies at once, and its removal "
		    "skips the lookup again")
{
	const struct km_maps *m = lib_maps();

	cr_assert_eq(km_blocks_sync(m, NULL, 0, KM_ORIGIN_CONFIG), 0);
	send_fwd(PLAYER, 1);
	cr_assert_eq(km_block_put(m, PLAYER, KMT_T0 + SEC_NS, KM_ORIGIN_CLI),
		     0);
	send_n(PLAYER, 1, XDP_DROP, KM_R_DROP_BLOCKED);
	send_fwd(PLAYER2, 1);
	cr_assert_eq(km_block_del(m, PLAYER, KM_ORIGIN_CLI), 0);
	send_fwd(PLAYER, 1);
	/* what the flag saves: an entry written behind lib's back while it
	 * says "no blocks" is not even looked up */
	cr_assert_eq(
	    kmt_block_add(&env, PLAYER, KMT_T0 + SEC_NS, KM_ORIGIN_CLI), 0);
	send_fwd(PLAYER, 1);
	/* a sync that installs blocks clears the flag before writing them */
	{
		struct km_block_spec b = {PLAYER2, KMT_T0 + SEC_NS};

		cr_assert_eq(km_blocks_sync(m, &b, 1, KM_ORIGIN_CONFIG), 0);
	}
	send_n(PLAYER, 1, XDP_DROP, KM_R_DROP_BLOCKED);
	send_n(PLAYER2, 1, XDP_DROP, KM_R_DROP_BLOCKED);
}

/* ---- allow / deny through lib/maps.c: bitmaps in front of the tries ---- */

Test(flows, lists_answered_by_bitmaps,
     .description = "lists edited through lib/maps.c: a /24 wholly listed, "
		    "a /32 inside a /24, and unlisted /24s, for deny and allow")
{
	const struct km_maps *m = lib_maps();
	struct km_prefix_key k32 = {.prefixlen = 32, .addr = PLAYER},
			     k24 = {.prefixlen = 24,
				    .addr = KMT_IP4(198, 19, 1, 0)},
			     k16 = {.prefixlen = 16,
				    .addr = KMT_IP4(198, 19, 0, 0)},
			     late = {.prefixlen = 24,
				     .addr = KMT_IP4(198, 19, 5, 0)};
	struct km_svc_cfg cfg = {.unvalidated = lim(1, 1, 0, 0, 0)};
	enum km_map_id id;

	cr_assert_eq(km_prefix_add(m, KM_LIST_DENY, &k32, KM_ORIGIN_CLI), 0);
	send_n(PLAYER, 1, XDP_DROP, KM_R_DROP_DENIED);
	send_fwd(PLAYER2, 1);	 /* same /24: the trie answers */
	send_fwd(PLAYER_FAR, 1); /* a /24 the bitmap knows is clear */
	cr_assert_eq(km_prefix_add(m, KM_LIST_DENY, &k24, KM_ORIGIN_CLI), 0);
	send_n(PLAYER_FAR, 1, XDP_DROP, KM_R_DROP_DENIED);
	send_n(PLAYER, 1, XDP_DROP, KM_R_DROP_DENIED);
	send_fwd(PLAYER2, 1);

	/* The bitmap decides for its /24: an entry written into the trie
	 * behind lib's back is not seen until the bitmap is rebuilt. */
	cr_assert_eq(km_prefix_active_map(m, KM_LIST_DENY, &id), 0);
	cr_assert_eq(kmt_prefix_add(&env, km_map_names[id], late.addr, 24), 0);
	send_fwd(KMT_IP4(198, 19, 5, 1), 1);
	cr_assert_eq(km_prefix_bitmaps_rebuild(m), 0);
	send_n(KMT_IP4(198, 19, 5, 1), 1, XDP_DROP, KM_R_DROP_DENIED);

	/* allow: a whole /16 skips the limits */
	set_limits(ID_SVC1_UDP, &cfg);
	send_fwd(PLAYER2, 1);
	send_n(PLAYER2, 1, XDP_DROP, KM_R_DROP_RATELIMIT);
	cr_assert_eq(km_prefix_add(m, KM_LIST_ALLOW, &k16, KM_ORIGIN_CLI), 0);
	send_fwd(PLAYER2, 3);
	cr_assert_eq(km_prefix_del(m, KM_LIST_ALLOW, &k16, KM_ORIGIN_CLI), 0);
	send_n(PLAYER2, 1, XDP_DROP, KM_R_DROP_RATELIMIT);
	cfg.unvalidated = lim(0, 0, 0, 0, 0);
	set_limits(ID_SVC1_UDP, &cfg);
	cr_assert_eq(km_prefix_del(m, KM_LIST_DENY, &k32, KM_ORIGIN_CLI), 0);
	send_fwd(PLAYER, 1);
	send_n(PLAYER_FAR, 1, XDP_DROP, KM_R_DROP_DENIED);
}

Test(flows, spent_budget_touches_no_source_state,
     .description = "while the service budget is spent, unvalidated packets "
		    "are DROP_SVC_LIMIT without any per-source bucket, and the "
		    "budget is charged only for packets that pass")
{
	struct km_svc_cfg cfg = {.unvalidated = lim(10, 1, 0, 0, 0),
				 .total = lim(10, 3, 0, 0, 0)};

	set_cfg(per_source_cfg);
	set_limits(ID_SVC1_UDP, &cfg);
	send_fwd(PLAYER, 1);
	/* refused by its own bucket: the budget keeps its two packets */
	send_n(PLAYER, 3, XDP_DROP, KM_R_DROP_RATELIMIT);
	send_fwd(PLAYER2, 1);
	send_fwd(PLAYER_FAR, 1);
	cr_assert_eq(counter(KM_C_RL_NEW), 3);
	/* spent: a new source gets no bucket, a known one is not evaluated */
	send_n(KMT_IP4(198, 19, 9, 9), 2, XDP_DROP, KM_R_DROP_SVC_LIMIT);
	send_n(PLAYER, 1, XDP_DROP, KM_R_DROP_SVC_LIMIT);
	cr_assert_eq(counter(KM_C_RL_NEW), 3);
	cr_assert_eq(map_count(KM_MAP_RL_SRC), 3);
}

Test(flows, replies_skip_a_fresh_validated_lookup,
     .description = "a reply stream looks its player up at most once a second "
		    "per CPU: an entry removed meanwhile comes back after a "
		    "second, and last_seen still advances")
{
	struct km_validated_key k = {.service_id = ID_SVC1_UDP,
				     .player = PLAYER};
	struct km_validated v;

	validate(PLAYER);
	cr_assert_eq(validated_get(ID_SVC1_UDP, PLAYER, &v), 0);
	cr_assert_eq(v.last_seen_ns, KMT_T0);
	cr_assert_eq(bpf_map_delete_elem(kmt_fd(&env, KM_MAP_VALIDATED), &k),
		     0);
	clock_add(SEC_NS - 4 * MS_NS);
	validate(PLAYER);
	cr_assert_neq(validated_get(ID_SVC1_UDP, PLAYER, &v), 0,
		      "looked up again within the second");
	clock_add(4 * MS_NS);
	validate(PLAYER);
	cr_assert_eq(validated_get(ID_SVC1_UDP, PLAYER, &v), 0,
		     "not validated again after the second");
	cr_assert_eq(v.last_seen_ns, KMT_T0 + SEC_NS);
	cr_assert_eq(counter(KM_C_VALIDATED_NEW), 2);
	/* another player of the same service is its own slot */
	validate(PLAYER2);
	cr_assert_eq(validated_get(ID_SVC1_UDP, PLAYER2, &v), 0);
	clock_add(2 * SEC_NS);
	validate(PLAYER);
	cr_assert_eq(validated_get(ID_SVC1_UDP, PLAYER, &v), 0);
	cr_assert_eq(v.last_seen_ns, KMT_T0 + 3 * SEC_NS, "not refreshed");
}

Test(flows, validation_ends_a_remembered_miss_at_once,
     .description = "a source remembered as unvalidated is validated by the "
		    "backend's reply: its next packet already uses the "
		    "validated limit")
{
	struct km_svc_cfg cfg = {.unvalidated = lim(1, 1, 0, 0, 0)};

	set_limits(ID_SVC1_UDP, &cfg);
	send_fwd(PLAYER, 1);
	send_n(PLAYER, 2, XDP_DROP, KM_R_DROP_RATELIMIT);
	validate(PLAYER);
	send_fwd(PLAYER, 3);
	/* the other direction: an expired validation is noticed at once */
	clock_add(VALIDATED_IDLE_NS + SEC_NS);
	send_fwd(PLAYER, 1); /* its prefix bucket refilled */
	send_n(PLAYER, 1, XDP_DROP, KM_R_DROP_RATELIMIT);
	cr_assert_eq(counter(KM_C_VALIDATED_EXPIRED), 1);
}

/* ---- the per-CPU service cache and km_config.svc_epoch ---- */

Test(flows, service_changes_reach_the_service_cache,
     .description = "a service edited through lib/maps.c applies to the next "
		    "packet; a write that does not bump svc_epoch is not seen "
		    "(what the cache saves), a deleted service stops at once")
{
	struct km_service_spec s = {.proto = IPPROTO_UDP,
				    .addr = SVC1,
				    .port = KMT_BE16(27016),
				    .backend = BE_TX,
				    .backend_port = KMT_BE16(28500)};
	const struct km_maps *m = lib_maps();
	struct kmt_pkt p;
	struct res r;

	player_pkt(&p);
	p.dport = 27016;
	send_expect(&p, if0, XDP_TX, KM_R_FWD_SERVICE, &r);
	expect_encap(&r, &p, BE_TX, 28016, 0);
	/* behind lib's back: the cached service still answers */
	cr_assert_eq(kmt_service_add(&env, IPPROTO_UDP, SVC1, 27016, BE_TX,
				     28600, ID_SVC1_UDP_RW, NULL),
		     0);
	send_expect(&p, if0, XDP_TX, KM_R_FWD_SERVICE, &r);
	expect_encap(&r, &p, BE_TX, 28016, 0);
	/* through lib: the epoch moves, the next packet sees the change */
	cr_assert_eq(km_service_put(m, &s, KM_ORIGIN_CONFIG), 0);
	send_expect(&p, if0, XDP_TX, KM_R_FWD_SERVICE, &r);
	expect_encap(&r, &p, BE_TX, 28500, 0);
	cr_assert_eq(km_service_del(m, IPPROTO_UDP, SVC1, KMT_BE16(27016),
				    KM_ORIGIN_CONFIG),
		     0);
	send_expect(&p, if0, XDP_DROP, KM_R_DROP_NO_SERVICE, NULL);
}

/* ---- km_val_filter, the negative filter in front of km_validated ---- */

/* The filter's bit of (id, player), written out independently of
 * maps.bpf.h: Fibonacci hash of player ^ id << 20, top KM_VAL_FILTER_BITS bits. */
static uint32_t filter_bit(uint32_t id, uint32_t player)
{
	return (uint32_t)((player ^ (id << 20)) * 0x9e3779b1U) >>
	       (32 - KM_VAL_FILTER_BITS);
}

static int filter_has(uint32_t id, uint32_t player)
{
	uint32_t bit = filter_bit(id, player), word = bit >> 6;
	uint64_t w = 0;

	cr_assert_eq(bpf_map_lookup_elem(kmt_fd(&env, KM_MAP_VAL_FILTER), &word,
					 &w),
		     0);
	return !!(w & (1ULL << (bit & 63)));
}

Test(flows, val_filter_never_hides_a_validated_player,
     .description = "every player the backend answered has its filter bit "
		    "and gets the validated limit; a source never answered "
		    "has no bit and is limited as unvalidated")
{
	struct km_svc_cfg cfg = {.unvalidated = lim(1, 1, 0, 0, 0),
				 .validated = lim(100, 10, 0, 0, 0)};
	uint32_t players[256];

	set_cfg(per_source_cfg);
	set_limits(ID_SVC1_UDP, &cfg);
	cr_assert_eq(filter_has(ID_SVC1_UDP, PLAYER), 0);
	for (int i = 0; i < 256; i++) {
		players[i] = KMT_IP4(198, 19, 2 + i / 100, 1 + i % 100);
		validate(players[i]);
	}
	for (int i = 0; i < 256; i++) {
		cr_assert(filter_has(ID_SVC1_UDP, players[i]),
			  "no filter bit for validated %s",
			  kmt_ip_str(players[i]));
		/* 3 > the unvalidated burst of 1 */
		send_fwd(players[i], 3);
	}
	cr_assert_eq(map_count(KM_MAP_RL_SRC), 0,
		     "a validated player was limited as unvalidated");
	/* never answered: no bit (the filter alone decides), own bucket */
	cr_assert_eq(filter_has(ID_SVC1_UDP, PLAYER), 0);
	send_fwd(PLAYER, 1);
	send_n(PLAYER, 1, XDP_DROP, KM_R_DROP_RATELIMIT);
	/* validation is per service: the same player of another service */
	cr_assert_eq(filter_has(ID_SVC1_UDP_RW, players[0]),
		     filter_bit(ID_SVC1_UDP_RW, players[0]) ==
			     filter_bit(ID_SVC1_UDP, players[0]));
}

Test(flows, val_filter_set_bit_still_needs_the_entry,
     .description = "a set bit is only a hint: a source whose bit is set "
		    "but has no km_validated entry is unvalidated, and an "
		    "entry written without its bit (maps from an older "
		    "program) gets it from the backend's next reply")
{
	struct km_svc_cfg cfg = {.unvalidated = lim(1, 1, 0, 0, 0),
				 .validated = lim(100, 10, 0, 0, 0)};
	struct km_validated_key k = {.service_id = ID_SVC1_UDP,
				     .player = PLAYER};
	struct km_validated v = {.last_seen_ns = KMT_T0};
	uint32_t bit = filter_bit(ID_SVC1_UDP, PLAYER2), word = bit >> 6;
	uint64_t w = 1ULL << (bit & 63);
	int fd = kmt_fd(&env, KM_MAP_VAL_FILTER);

	set_cfg(per_source_cfg);
	set_limits(ID_SVC1_UDP, &cfg);
	/* a false positive: PLAYER2's bit set, no entry */
	cr_assert_eq(bpf_map_update_elem(fd, &word, &w, BPF_ANY), 0);
	send_fwd(PLAYER2, 1);
	send_n(PLAYER2, 1, XDP_DROP, KM_R_DROP_RATELIMIT);
	/* an entry without its bit: hidden until the backend answers */
	cr_assert_eq(filter_has(ID_SVC1_UDP, PLAYER), 0);
	cr_assert_eq(bpf_map_update_elem(kmt_fd(&env, KM_MAP_VALIDATED), &k,
					 &v, BPF_NOEXIST),
		     0);
	send_fwd(PLAYER, 1);
	send_n(PLAYER, 1, XDP_DROP, KM_R_DROP_RATELIMIT);
	validate(PLAYER);
	cr_assert(filter_has(ID_SVC1_UDP, PLAYER));
	cr_assert_eq(counter(KM_C_VALIDATED_NEW), 0, "the entry existed");
	send_fwd(PLAYER, 5);
}

/* ---- byte horizons compared without a division ---- */

Test(flows, bps_horizon_matches_the_division,
     .description = "the byte bucket admits exactly floor(horizon / cost) "
		    "packets at one instant, horizon = burst * 1e9 / bps "
		    "rounded down as the division gave it, on each path of "
		    "the multiplying comparison (32x32 bits, 24x40 bits, "
		    "and the division kept for larger operands)")
{
	static const struct {
		uint64_t bps, burst;
	} c[] = {
	    {1000000, 50 * 100},	   /* both operands < 2^32 */
	    {1000003, 50 * 100 + 37},	   /* horizon not a multiple of cost */
	    {5000000007ULL, 50 * 100},	   /* rate > 2^32, horizon < 2^24 */
	    {5000000007ULL, 50 * 100 + 1}, /* the same, one byte more */
	    {500, 50 * 100},		   /* horizon > 2^32 ns: division */
	    {4100000000ULL, 2 * 100 + 99}, /* rate just under 2^32 */
	};

	set_cfg(per_source_cfg);
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct km_svc_cfg cfg = {
		    .unvalidated = lim(0, 0, c[i].bps, c[i].burst, 0)};
		uint64_t cost = 100 * SEC_NS / c[i].bps;
		uint64_t horizon = c[i].burst * SEC_NS / c[i].bps;
		uint64_t n = horizon / cost;
		uint32_t src = KMT_IP4(198, 19, 20, 1 + i);
		struct kmt_pkt p;

		cr_log_info("bps %llu burst %llu: %llu packets",
			    (unsigned long long)c[i].bps,
			    (unsigned long long)c[i].burst,
			    (unsigned long long)n);
		cr_assert(n >= 1 && n <= 60);
		set_limits(ID_SVC1_UDP, &cfg);
		from(&p, src);
		kmt_pkt_payload_fill(&p, 100 - 28);
		for (uint64_t k = 0; k < n; k++)
			send_expect(&p, if0, XDP_TX, KM_R_FWD_SERVICE, NULL);
		send_expect(&p, if0, XDP_DROP, KM_R_DROP_RATELIMIT, NULL);
	}
}
