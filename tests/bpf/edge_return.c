// SPDX-License-Identifier: GPL-2.0-only
/*
 * The return path of services that rewrite the port: the player sends to
 * the service port, the backend answers from its own port, and the player
 * must see the answer come from the service port (km_svc_rev). Every output
 * is compared with a frame built from scratch and its checksums recomputed
 * independently (send_expect).
 */
#include "edge_common.h"

#include <netinet/in.h>
#include <string.h>

#include <bpf/bpf.h>

TestSuite(ret, .init = world_setup, .fini = world_teardown, .timeout = 30);

/* The backend's answer to PLAYER:40000 from SVC1:<from>. */
static void reply_pkt(struct kmt_pkt *p, uint8_t proto, uint16_t from)
{
	backend_pkt(p);
	p->l4 = proto;
	p->sport = from;
}

/* Forward p to the backend (port rewritten to be_port), then send the
 * backend's reply from be_port: the player gets it from p's service port.
 * `reply_edit` adjusts the reply (flags, payload) before it is sent. */
static void round_trip(struct kmt_pkt *p, uint16_t be_port, uint32_t id,
		       void (*reply_edit)(struct kmt_pkt *))
{
	struct kmt_pkt q, want;
	struct km_validated v;
	struct res r;

	send_expect(p, if0, XDP_TX, KM_R_FWD_SERVICE, &r);
	expect_encap(&r, p, BE_TX, be_port, 0);

	reply_pkt(&q, p->l4, be_port);
	q.dport = p->sport;
	if (reply_edit)
		reply_edit(&q);
	send_expect(&q, if0, XDP_TX, KM_R_FWD_DECAP, &r);
	want = q;
	want.sport = p->dport;
	expect_decap(&r, &want, 0);
	cr_assert_eq(validated_get(id, PLAYER, &v), 0,
		     "the player of service id %u is not validated", id);
	cr_assert_eq(map_count(KM_MAP_PUNCHES), 0,
		     "a reply to a player was learned as a punch");
	cr_assert_eq(counter(KM_C_PUNCH_LEARNED), 0);
}

Test(ret, udp_round_trip_rewrite,
     .description = "UDP 27016 -> backend 28016; the reply from 28016 reaches "
		    "the player from 27016")
{
	struct kmt_pkt p;
	struct km_svc_stat s;

	player_pkt(&p);
	p.dport = 27016;
	round_trip(&p, 28016, ID_SVC1_UDP_RW, NULL);
	cr_assert_eq(kmt_svc_stat(&env, ID_SVC1_UDP_RW, &s), 0);
	cr_assert_eq(s.fwd_packets, 1);
	cr_assert_eq(s.ret_packets, 1, "the reply counts for its service");
}

Test(ret, tcp_round_trip_rewrite,
     .description = "TCP 27015 -> backend 28015; the reply from 28015 reaches "
		    "the player from 27015, checksum patched")
{
	struct kmt_pkt p;

	player_pkt(&p);
	p.l4 = IPPROTO_TCP;
	p.tcp_flags = 0x18;
	round_trip(&p, 28015, ID_SVC1_TCP, NULL);
}

static void no_udp_csum(struct kmt_pkt *q)
{
	q->flags |= KMT_F_UDP_CSUM_ZERO;
}

Test(ret, udp_csum_zero_stays_zero,
     .description = "a reply without UDP checksum keeps checksum 0 through "
		    "the source port rewrite")
{
	struct kmt_pkt p;

	player_pkt(&p);
	p.dport = 27016;
	round_trip(&p, 28016, ID_SVC1_UDP_RW, no_udp_csum);
}

/* A payload word that makes the reply's checksum 0xffff after the rewrite
 * to 27016: an incremental update that yields 0 would switch it off. */
static void csum_ffff(struct kmt_pkt *q)
{
	struct kmt_pkt e;
	uint8_t f[KMT_FRAME_MAX];
	size_t off = 14 + 20 + 20; /* outer, inner IPv4 */

	q->payload[0] = q->payload[1] = 0;
	e = *q;
	e.ipip = 1;
	e.sport = 27016;
	cr_assert_gt(kmt_pkt_build(&e, f, sizeof(f)), 0);
	q->payload[0] = f[off + 6];
	q->payload[1] = f[off + 7];
	e = *q;
	e.sport = 27016;
	cr_assert_gt(kmt_pkt_build(&e, f, sizeof(f)), 0);
	cr_assert(f[off + 6] == 0xff && f[off + 7] == 0xff,
		  "reply does not hit the 0xffff corner");
}

Test(ret, udp_csum_ffff_corner,
     .description = "a rewritten reply whose checksum sums to 0 is sent as "
		    "0xffff")
{
	struct kmt_pkt p;

	player_pkt(&p);
	p.dport = 27016;
	round_trip(&p, 28016, ID_SVC1_UDP_RW, csum_ffff);
}

Test(ret, service_port_of_rewriting_service_is_a_punch,
     .description = "the backend of a rewriting service sending from the "
		    "service port opened a flow of its own: a punch")
{
	struct kmt_pkt q;
	struct km_punch_key k = {
	    .proto = IPPROTO_UDP,
	    .svc_addr = SVC1,
	    .remote = PLAYER,
	    .svc_port = KMT_BE16(27016),
	    .remote_port = KMT_BE16(40000),
	};
	struct km_punch v;
	struct res r;

	reply_pkt(&q, IPPROTO_UDP, 27016);
	send_expect(&q, if0, XDP_TX, KM_R_FWD_DECAP, &r);
	expect_decap(&r, &q, 0);
	cr_assert_eq(punch_get(&k, &v), 0, "punch not learned");
	cr_assert_eq(map_count(KM_MAP_VALIDATED), 0);
}

Test(ret, same_backend_port_on_two_backends,
     .description = "two services of one address, each rewriting to port "
		    "29000 on its own backend: replies are told apart by "
		    "backend")
{
	enum { ID_A = 10, ID_B = 11 };
	struct km_validated v;
	struct kmt_pkt q, want;
	struct km_svc_stat s;
	struct res r;

	cr_assert_eq(kmt_service_add(&env, IPPROTO_UDP, SVC2, 27020, BE_RD,
				     29000, ID_A, NULL),
		     0);
	cr_assert_eq(kmt_service_add(&env, IPPROTO_UDP, SVC2, 27021, BE_OTHER,
				     29000, ID_B, NULL),
		     0);
	services_derive();

	reply_pkt(&q, IPPROTO_UDP, 29000);
	q.ip.saddr = SVC2;
	q.outer.saddr = BE_RD;
	send_expect(&q, if0, XDP_TX, KM_R_FWD_DECAP, &r);
	want = q;
	want.sport = 27020;
	expect_decap(&r, &want, 0);
	cr_assert_eq(validated_get(ID_A, PLAYER, &v), 0);
	cr_assert_neq(validated_get(ID_B, PLAYER, &v), 0);

	q.outer.saddr = BE_OTHER;
	send_expect(&q, if0, XDP_TX, KM_R_FWD_DECAP, &r);
	want = q;
	want.sport = 27021;
	expect_decap(&r, &want, 0);
	cr_assert_eq(validated_get(ID_B, PLAYER, &v), 0);
	cr_assert_eq(map_count(KM_MAP_PUNCHES), 0);
	cr_assert_eq(kmt_svc_stat(&env, ID_A, &s), 0);
	cr_assert_eq(s.ret_packets, 1);
	cr_assert_eq(kmt_svc_stat(&env, ID_B, &s), 0);
	cr_assert_eq(s.ret_packets, 1);

	/* a backend that serves another address of the edge, not SVC2 */
	q.outer.saddr = BE_TX;
	send_expect(&q, if0, XDP_DROP, KM_R_DROP_IPIP_BAD_INNER, NULL);
}

Test(ret, svc_rev_follows_service_changes,
     .description = "replies follow a service whose backend port changes, and "
		    "a deleted service's port becomes a punch")
{
	struct km_service_key k = {
	    .proto = IPPROTO_UDP, .port = KMT_BE16(27016), .addr = SVC1};
	struct kmt_pkt q, want;
	struct res r;

	/* a reply from the old backend port first: cached per CPU */
	reply_pkt(&q, IPPROTO_UDP, 28016);
	send_expect(&q, if0, XDP_TX, KM_R_FWD_DECAP, &r);
	want = q;
	want.sport = 27016;
	expect_decap(&r, &want, 0);

	cr_assert_eq(kmt_service_add(&env, IPPROTO_UDP, SVC1, 27016, BE_TX,
				     28500, ID_SVC1_UDP_RW, NULL),
		     0);
	services_derive(); /* lib/maps.c: derived maps and svc_epoch */
	reply_pkt(&q, IPPROTO_UDP, 28500);
	send_expect(&q, if0, XDP_TX, KM_R_FWD_DECAP, &r);
	want = q;
	want.sport = 27016;
	expect_decap(&r, &want, 0);
	cr_assert_eq(map_count(KM_MAP_PUNCHES), 0);

	/* the old backend port serves nobody now (the cached answer went
	 * with the epoch) */
	reply_pkt(&q, IPPROTO_UDP, 28016);
	send_expect(&q, if0, XDP_TX, KM_R_FWD_DECAP, &r);
	expect_decap(&r, &q, 0);
	cr_assert_eq(map_count(KM_MAP_PUNCHES), 1);

	cr_assert_eq(bpf_map_delete_elem(kmt_fd(&env, KM_MAP_SERVICES), &k), 0);
	services_derive();
	reply_pkt(&q, IPPROTO_UDP, 28500);
	send_expect(&q, if0, XDP_TX, KM_R_FWD_DECAP, &r);
	expect_decap(&r, &q, 0);
	cr_assert_eq(map_count(KM_MAP_PUNCHES), 2);
}

/* The coarse clock's tick under the settable clock (TEST_TICK_NS of
 * bpf/time.bpf.h, which userspace cannot include). */
#define TEST_TICK_NS 4000000ULL

/* The rewriting service's UDP reply flow, sent three times: the first
 * through the pipeline (which fills decap_cache), the others from the
 * fast path; each decapsulated with the service port put back. */
static void warm_reply_flow(struct kmt_pkt *q, struct kmt_pkt *want,
			    struct res *r)
{
	reply_pkt(q, IPPROTO_UDP, 28016);
	*want = *q;
	want->sport = 27016;
	for (int i = 0; i < 3; i++) {
		send_expect(q, if0, XDP_TX, KM_R_FWD_DECAP, r);
		expect_decap(r, want, 0);
	}
}

Test(ret, steady_replies_as_the_first,
     .description = "replies after the first (the per-CPU decap fast path) "
		    "are sent, counted and rewritten alike, refresh the "
		    "validated player once a second, and still refuse a "
		    "packet over the MTU")
{
	struct km_validated v0, v1;
	struct km_svc_stat s;
	struct kmt_pkt q, want;
	struct res r;

	warm_reply_flow(&q, &want, &r);
	cr_assert_eq(kmt_svc_stat(&env, ID_SVC1_UDP_RW, &s), 0);
	cr_assert_eq(s.ret_packets, 3);
	cr_assert_eq(counter(KM_C_VALIDATED_NEW), 1);
	cr_assert_eq(validated_get(ID_SVC1_UDP_RW, PLAYER, &v0), 0);

	/* Within the second nothing is written; once it has passed, the
	 * next reply refreshes the entry as the first packet did. */
	clock_add(KM_SEEN_NS - TEST_TICK_NS);
	send_expect(&q, if0, XDP_TX, KM_R_FWD_DECAP, &r);
	cr_assert_eq(validated_get(ID_SVC1_UDP_RW, PLAYER, &v1), 0);
	cr_assert_eq(v1.last_seen_ns, v0.last_seen_ns);
	clock_add(TEST_TICK_NS);
	send_expect(&q, if0, XDP_TX, KM_R_FWD_DECAP, &r);
	expect_decap(&r, &want, 0);
	cr_assert_eq(validated_get(ID_SVC1_UDP_RW, PLAYER, &v1), 0);
	cr_assert_gt(v1.last_seen_ns, v0.last_seen_ns,
		     "a steady stream must keep its player validated");

	/* The same flow, one byte over the MTU of the way to the player. */
	kmt_pkt_payload_fill(&q, 1501 - 28);
	send_expect(&q, if0, XDP_DROP, KM_R_DROP_TOO_BIG, NULL);
	cr_assert_eq(kmt_svc_stat(&env, ID_SVC1_UDP_RW, &s), 0);
	cr_assert_eq(s.ret_packets, 5);
	cr_assert_eq(s.drop_packets, 1);
}

/* Four NOP options (type 1), as an IP header may carry them. */
static void nop_options(struct kmt_ip *ip)
{
	ip->opts_len = 4;
	memset(ip->opts, 1, 4);
}

Test(ret, fast_path_shapes_get_the_slow_verdicts,
     .description = "a flow km_xdp's first stage answers from decap_cache: "
		    "its packets of another shape (second edge address, IP "
		    "options outside or inside, padding, an outer or a "
		    "non-first inner fragment) get the pipeline's verdicts, "
		    "counted once each")
{
	struct kmt_pkt q, v, want;
	struct km_svc_stat s;
	struct res r;

	warm_reply_flow(&q, &want, &r);

	/* Decapsulated and rewritten alike by the pipeline. */
	v = q;
	v.outer.daddr = EDGE2;
	send_expect(&v, if0, XDP_TX, KM_R_FWD_DECAP, &r);
	expect_decap(&r, &want, 0);
	v = q;
	nop_options(&v.outer);
	send_expect(&v, if0, XDP_TX, KM_R_FWD_DECAP, &r);
	expect_decap(&r, &want, 0);
	v = q;
	nop_options(&v.ip);
	send_expect(&v, if0, XDP_TX, KM_R_FWD_DECAP, &r);
	v.sport = 27016;
	expect_decap(&r, &v, 0);
	v = q;
	v.pad = 8;
	send_expect(&v, if0, XDP_TX, KM_R_FWD_DECAP, &r);
	expect_decap(&r, &want, 0);

	/* An outer fragment is the edge's own; a non-first inner fragment
	 * has no ports (its first bytes, equal to the flow's ports here,
	 * are data): decapsulated untouched, for no service. */
	v = q;
	v.outer.frag = KMT_IP_MF;
	send_expect(&v, if0, XDP_PASS, KM_R_PASS_EDGE, NULL);
	v = q;
	v.ip.frag = 1;
	send_expect(&v, if0, XDP_TX, KM_R_FWD_DECAP, &r);
	expect_decap(&r, &v, 0);

	/* The steady flow again, after all of them. */
	send_expect(&q, if0, XDP_TX, KM_R_FWD_DECAP, &r);
	expect_decap(&r, &want, 0);
	cr_assert_eq(kmt_svc_stat(&env, ID_SVC1_UDP_RW, &s), 0);
	cr_assert_eq(s.ret_packets, 3 + 4 + 1);
	cr_assert_eq(counter(KM_C_VALIDATED_NEW), 1);
	cr_assert_eq(map_count(KM_MAP_PUNCHES), 0);
}
