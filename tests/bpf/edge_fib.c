// SPDX-License-Identifier: GPL-2.0-only
/*
 * The next-hop cache (km_fib_cache): what it keeps, that it answers the MTU
 * like the helper, that a route change is seen once an entry expires
 * (KM_FIB_TTL_NS on the settable clock) and never before the bound, and
 * that failed lookups are not cached. Route changes use /32 routes of
 * addresses no other test uses (tests run in parallel in one namespace).
 */
#include "edge_common.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define BE_MOVE KMT_IP4(198, 18, 100, 77)  /* via e0, then a /32 via e1 */
#define BE_LATER KMT_IP4(198, 18, 200, 78) /* no route, then a /32 via e0 */
#define ID_MOVE 20
#define ID_LATER 21

static void ip_cmd(const char *args)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "ip %s 2>/dev/null", args);
	cr_assert_eq(system(cmd), 0, "ip %s failed", args);
}

static void routes_cleanup(void)
{
	/* Also after a failed assertion; absent routes are fine. */
	if (system("ip route del 198.18.100.77/32 2>/dev/null; "
		   "ip route del 198.18.200.78/32 2>/dev/null; true"))
		cr_log_warn("route cleanup failed");
	world_teardown();
}

static void fib_setup(void)
{
	world_setup();
	cr_assert_eq(kmt_service_add(&env, IPPROTO_UDP, SVC4, 27030, BE_MOVE,
				     0, ID_MOVE, NULL),
		     0);
	cr_assert_eq(kmt_service_add(&env, IPPROTO_UDP, SVC4, 27031, BE_LATER,
				     0, ID_LATER, NULL),
		     0);
	services_derive();
}

TestSuite(fib, .init = fib_setup, .fini = routes_cleanup, .timeout = 30);

static void to_port(struct kmt_pkt *p, uint16_t port)
{
	player_pkt(p);
	p->ip.daddr = SVC4;
	p->dport = port;
}

/* The entry holding dst on any CPU (the test thread is pinned to one). */
static int cache_find(uint32_t dst, struct km_fib_entry *out)
{
	int ncpu = libbpf_num_possible_cpus(), fd = kmt_fd(&env, KM_MAP_FIB_CACHE);
	struct km_fib_entry *v;
	int found = -1;

	cr_assert_gt(ncpu, 0);
	cr_assert_geq(fd, 0, "no %s map", KM_MAP_FIB_CACHE);
	v = calloc((size_t)ncpu, sizeof(*v));
	cr_assert_not_null(v);
	for (uint32_t k = 0; k < KM_FIB_SLOTS && found < 0; k++) {
		cr_assert_eq(bpf_map_lookup_elem(fd, &k, v), 0);
		for (int c = 0; c < ncpu; c++)
			if (v[c].expires_ns && v[c].dst == dst) {
				*out = v[c];
				found = 0;
			}
	}
	free(v);
	return found;
}

Test(fib, keeps_the_answer_and_the_mtu,
     .description = "a forward caches next hop and MTU; an oversized packet "
		    "to the cached route is still DROP_TOO_BIG")
{
	struct km_fib_entry e;
	struct kmt_pkt p;
	struct res r;

	player_pkt(&p);
	send_expect(&p, if0, XDP_TX, KM_R_FWD_SERVICE, &r);
	cr_assert_eq(cache_find(BE_TX, &e), 0, "nothing cached for BE_TX");
	cr_assert_eq(e.src, EDGE);
	cr_assert_eq(e.ifindex_in, if0);
	cr_assert_eq(e.ifindex_out, if0);
	cr_assert_eq(e.mtu, 1500);
	cr_assert_eq(e.expires_ns, KMT_T0 + KM_FIB_TTL_NS);
	cr_assert(!memcmp(e.dmac, KMT_MAC_NEIGH, 6), "cached next-hop MAC");

	kmt_pkt_payload_fill(&p, 1500 - 28);
	send_expect(&p, if0, XDP_DROP, KM_R_DROP_TOO_BIG, NULL);
	kmt_pkt_payload_fill(&p, 1480 - 28);
	send_expect(&p, if0, XDP_TX, KM_R_FWD_SERVICE, &r);
	expect_encap(&r, &p, BE_TX, 27015, 0);
}

Test(fib, route_change_seen_after_expiry,
     .description = "a route change applies once the entry expires, not before "
		    "(staleness bound KM_FIB_TTL_NS)")
{
	struct kmt_pkt p;
	struct res r;

	to_port(&p, 27030);
	send_expect(&p, if0, XDP_TX, KM_R_FWD_SERVICE, &r);
	expect_encap(&r, &p, BE_MOVE, 27030, 0);

	ip_cmd("route add 198.18.100.77/32 via 198.18.1.2 dev e1");
	clock_add(KM_FIB_TTL_NS - 1);
	send_expect(&p, if0, XDP_TX, KM_R_FWD_SERVICE, &r);
	expect_encap(&r, &p, BE_MOVE, 27030, 0);

	clock_add(1);
	send_expect(&p, if0, XDP_REDIRECT, KM_R_FWD_SERVICE, &r);
	expect_encap(&r, &p, BE_MOVE, 27030, 1);

	ip_cmd("route del 198.18.100.77/32");
	clock_add(KM_FIB_TTL_NS);
	send_expect(&p, if0, XDP_TX, KM_R_FWD_SERVICE, &r);
	expect_encap(&r, &p, BE_MOVE, 27030, 0);
}

Test(fib, failures_are_not_cached,
     .description = "a failed lookup goes to the kernel and is retried by the "
		    "next packet: a new route applies at once")
{
	struct kmt_pkt p;
	struct res r;

	to_port(&p, 27031);
	send_expect(&p, if0, XDP_PASS, KM_R_PASS_FIB, NULL);
	ip_cmd("route add 198.18.200.78/32 via 198.18.0.2 dev e0");
	send_expect(&p, if0, XDP_TX, KM_R_FWD_SERVICE, &r);
	expect_encap(&r, &p, BE_LATER, 27031, 0);
}

Test(fib, decap_uses_the_cache_per_player,
     .description = "replies to two players are cached under each player; a "
		    "reply still goes out after its entry expired")
{
	struct km_fib_entry e;
	struct kmt_pkt q;
	struct res r;

	backend_pkt(&q);
	send_expect(&q, if0, XDP_TX, KM_R_FWD_DECAP, &r);
	expect_decap(&r, &q, 0);
	q.ip.daddr = PLAYER_E1;
	send_expect(&q, if0, XDP_REDIRECT, KM_R_FWD_DECAP, &r);
	expect_decap(&r, &q, 1);
	cr_assert_eq(cache_find(PLAYER, &e), 0);
	cr_assert_eq(e.src, SVC1);
	cr_assert_eq(e.ifindex_out, if0);
	cr_assert_eq(cache_find(PLAYER_E1, &e), 0);
	cr_assert_eq(e.ifindex_out, if1);

	clock_add(2 * KM_FIB_TTL_NS);
	send_expect(&q, if0, XDP_REDIRECT, KM_R_FWD_DECAP, &r);
	expect_decap(&r, &q, 1);
	cr_assert_eq(cache_find(PLAYER_E1, &e), 0);
	cr_assert_eq(e.expires_ns, KMT_T0 + 3 * KM_FIB_TTL_NS);
}

/* PASS with the decapsulated packet: the input's MACs, no outer header. */
static void expect_inner_passed(const struct kmt_pkt *q, uint16_t sport)
{
	uint8_t exp[KMT_FRAME_MAX];
	struct kmt_pkt e = *q;
	struct res r;
	int len;

	send_pkt(q, if0, &r);
	cr_assert_eq(r.action, XDP_PASS, "action %s",
		     xdp_action_name(r.action));
	cr_assert_eq(r.reason, KM_R_PASS_FIB, "reason %s",
		     reason_name(r.reason));
	e.ipip = 0;
	e.pad = 0;
	e.sport = sport;
	len = kmt_pkt_build(&e, exp, sizeof(exp));
	cr_assert_gt(len, 0);
	expect_frame(&r, exp, (size_t)len);
}

Test(fib, decap_without_next_hop_gives_the_kernel_the_inner_packet,
     .description = "no route to the player: the kernel gets the inner packet "
		    "(it can route it; the tunnelled one it would drop), the "
		    "player is validated and a rewrite is already undone")
{
	struct km_validated v;
	struct kmt_pkt q;

	backend_pkt(&q);
	q.ip.daddr = NOWHERE;
	expect_inner_passed(&q, 27015);
	cr_assert_eq(validated_get(ID_SVC1_UDP, NOWHERE, &v), 0);
	q.sport = 28016; /* the rewriting service's backend port */
	expect_inner_passed(&q, 27016);
	/* a backend's own flow: punch learned, inner packet passed */
	q.sport = 45000;
	expect_inner_passed(&q, 45000);
	cr_assert_eq(counter(KM_C_PUNCH_LEARNED), 1);
}
