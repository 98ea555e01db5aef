// SPDX-License-Identifier: GPL-2.0-only
/*
 * bpf/mapper.bpf.c under BPF_PROG_TEST_RUN: the XDP decap/learn path and
 * the TC egress encap path. Input frames come from the tests/lib builder;
 * every output frame is compared byte for byte with the frame the program
 * should produce and checked by the independent verifier.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <netinet/in.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "kmtest.h"
#include "mapper.skel.h"
#include "mapper_abi.h"

#define HOST KMT_IP4(198, 18, 20, 2)
#define EDGE_A KMT_IP4(198, 18, 20, 1)
#define EDGE_B KMT_IP4(198, 18, 20, 3)
#define STRANGER KMT_IP4(198, 18, 20, 4)
#define SVC KMT_IP4(198, 18, 30, 1)
#define SVC_NET KMT_IP4(198, 18, 31, 0) /* a /24 of services */
#define PLAYER KMT_IP4(198, 19, 40, 7)
#define T0 1000000000000ULL
#define SEC 1000000000ULL
#define IDLE (300 * SEC)

static struct mapper *skel;

static void setup(void)
{
	struct kmm_config cfg = {
	    .abi_version = KMM_ABI_VERSION,
	    .host_addr = HOST,
	    .default_edge = EDGE_B,
	    .idle_ns = IDLE,
	    .test_now_ns = T0,
	};
	struct kmm_prefix_key pk;
	struct kmm_service sv = {};
	struct kmm_edge e = {};
	__u32 zero = 0, a;

	skel = mapper__open();
	cr_assert_not_null(skel, "mapper__open");
	skel->rodata->kmm_settable_clock = 1;
	cr_assert_eq(mapper__load(skel), 0, "mapper__load");
	cr_assert_eq(bpf_map_update_elem(bpf_map__fd(skel->maps.km_m_config),
					 &zero, &cfg, BPF_ANY),
		     0);
	a = EDGE_A;
	cr_assert_eq(bpf_map_update_elem(bpf_map__fd(skel->maps.km_m_edges), &a,
					 &e, BPF_ANY),
		     0);
	a = EDGE_B;
	cr_assert_eq(bpf_map_update_elem(bpf_map__fd(skel->maps.km_m_edges), &a,
					 &e, BPF_ANY),
		     0);
	pk = (struct kmm_prefix_key){.prefixlen = 32, .addr = SVC};
	cr_assert_eq(bpf_map_update_elem(bpf_map__fd(skel->maps.km_m_services),
					 &pk, &sv, BPF_ANY),
		     0);
	pk = (struct kmm_prefix_key){.prefixlen = 24, .addr = SVC_NET};
	cr_assert_eq(bpf_map_update_elem(bpf_map__fd(skel->maps.km_m_services),
					 &pk, &sv, BPF_ANY),
		     0);
}

static void teardown(void)
{
	mapper__destroy(skel);
	skel = NULL;
}

static void config_update(void (*edit)(struct kmm_config *c, uint64_t arg),
			  uint64_t arg)
{
	int fd = bpf_map__fd(skel->maps.km_m_config);
	struct kmm_config c;
	__u32 zero = 0;

	cr_assert_eq(bpf_map_lookup_elem(fd, &zero, &c), 0);
	edit(&c, arg);
	cr_assert_eq(bpf_map_update_elem(fd, &zero, &c, BPF_ANY), 0);
}

static void set_clock(struct kmm_config *c, uint64_t now)
{
	c->test_now_ns = now;
}

static void set_default_edge(struct kmm_config *c, uint64_t edge)
{
	c->default_edge = (__be32)edge;
}

static void set_flags(struct kmm_config *c, uint64_t flags)
{
	c->flags = (__u32)flags;
}

static uint64_t stat_pkts(unsigned int reason)
{
	__u64 v[2] = {};

	cr_assert_eq(
	    kmt_percpu_sum(bpf_map__fd(skel->maps.km_m_stats), reason, v, 2),
	    0);
	return v[0];
}

static uint64_t counter(unsigned int c)
{
	__u64 v = 0;

	cr_assert_eq(
	    kmt_percpu_sum(bpf_map__fd(skel->maps.km_m_counters), c, &v, 1), 0);
	return v;
}

/* Only `reason` was counted, once, since the map was created. */
static void assert_only_reason(unsigned int reason)
{
	unsigned int r;

	for (r = 0; r < KMM_R_MAX; r++)
		cr_assert_eq(stat_pkts(r), r == reason ? 1 : 0,
			     "reason %u counted %llu times (expected %u only)",
			     r, (unsigned long long)stat_pkts(r), reason);
}

static size_t build(const struct kmt_pkt *p, uint8_t *buf)
{
	int n = kmt_pkt_build(p, buf, KMT_FRAME_MAX);

	cr_assert_gt(n, 0, "kmt_pkt_build: %d", n);
	return (size_t)n;
}

static void assert_frame(const uint8_t *got, size_t glen, const uint8_t *want,
			 size_t wlen)
{
	struct kmt_view v;
	char why[256];

	if (glen != wlen || memcmp(got, want, wlen))
		kmt_hexdiff("output vs expected", got, glen, want, wlen);
	cr_assert_eq(glen, wlen, "output %zu bytes, expected %zu", glen, wlen);
	cr_assert_eq(memcmp(got, want, wlen), 0, "output bytes differ");
	cr_assert_eq(kmt_verify_frame(got, glen, &v, why, sizeof(why)), 0,
		     "verifier: %s", why);
}

/* ---- XDP ---- */

/* Player -> service UDP with a payload; ipip wraps it from `edge`. */
static void player_pkt(struct kmt_pkt *p, uint32_t edge)
{
	kmt_pkt_init(p);
	p->ip.saddr = PLAYER;
	p->ip.daddr = SVC;
	p->ip.frag = KMT_IP_DF;
	p->l4 = IPPROTO_UDP;
	p->sport = 40000;
	p->dport = 27015;
	cr_assert_eq(kmt_pkt_payload_fill(p, 37), 0);
	if (edge) {
		p->ipip = 1;
		p->outer.saddr = edge;
		p->outer.daddr = HOST;
	}
}

static uint32_t xdp(const uint8_t *in, size_t len, uint8_t *out,
		    size_t *out_len)
{
	struct kmt_xdp_run r = {
	    .in = in, .in_len = len, .out = out, .out_cap = KMT_FRAME_MAX};

	cr_assert_eq(kmt_xdp_run(bpf_program__fd(skel->progs.kmm_xdp), &r), 0);
	*out_len = r.out_len;
	return r.retval;
}

static int flow_get(uint8_t proto, uint32_t player, uint16_t pport,
		    uint32_t svc, uint16_t sport, struct kmm_flow *f)
{
	struct kmm_flow_key k = {
	    .proto = proto,
	    .player = player,
	    .svc_addr = svc,
	    .player_port = htons(pport),
	    .svc_port = htons(sport),
	};

	return bpf_map_lookup_elem(bpf_map__fd(skel->maps.km_m_flows), &k, f);
}

static void flow_put(uint8_t proto, uint32_t player, uint16_t pport,
		     uint32_t svc, uint16_t sport, uint32_t edge,
		     uint64_t last_seen)
{
	struct kmm_flow_key k = {
	    .proto = proto,
	    .player = player,
	    .svc_addr = svc,
	    .player_port = htons(pport),
	    .svc_port = htons(sport),
	};
	struct kmm_flow f = {.edge = edge, .last_seen_ns = last_seen};

	cr_assert_eq(bpf_map_update_elem(bpf_map__fd(skel->maps.km_m_flows), &k,
					 &f, BPF_ANY),
		     0);
}

/* p (IPIP) passes XDP as exactly its inner packet behind its Ethernet
 * header. */
static void assert_xdp_decap(const struct kmt_pkt *p)
{
	uint8_t in[KMT_FRAME_MAX], out[KMT_FRAME_MAX], want[KMT_FRAME_MAX];
	struct kmt_pkt inner = *p;
	size_t ilen = build(p, in), olen, wlen;

	inner.ipip = 0;
	wlen = build(&inner, want);
	cr_assert_eq(xdp(in, ilen, out, &olen), XDP_PASS);
	assert_frame(out, olen, want, wlen);
}

TestSuite(mapper_xdp, .init = setup, .fini = teardown);

Test(mapper_xdp, decap_from_edge_passes_inner_and_learns)
{
	struct kmt_pkt p;
	struct kmm_flow f;

	player_pkt(&p, EDGE_A);
	assert_xdp_decap(&p);
	assert_only_reason(KMM_R_XDP_DECAP);
	cr_assert_eq(flow_get(IPPROTO_UDP, PLAYER, 40000, SVC, 27015, &f), 0,
		     "flow not learned");
	cr_assert_eq(f.edge, EDGE_A);
	cr_assert_eq(f.last_seen_ns, T0);
	cr_assert_eq(counter(KMM_C_FLOW_LEARNED), 1);
	cr_assert_eq(kmt_map_count(bpf_map__fd(skel->maps.km_m_flows)), 1);
}

Test(mapper_xdp, outer_options_are_stripped_too)
{
	struct kmt_pkt p;

	player_pkt(&p, EDGE_A);
	p.outer.opts_len = 8;
	p.outer.opts[0] = 1; /* NOPs */
	memset(p.outer.opts, 1, 8);
	assert_xdp_decap(&p);
	assert_only_reason(KMM_R_XDP_DECAP);
}

Test(mapper_xdp, other_edge_moves_the_flow_and_refresh_is_rate_limited)
{
	uint8_t in[KMT_FRAME_MAX], out[KMT_FRAME_MAX];
	struct kmt_pkt p;
	struct kmm_flow f;
	size_t ilen, olen;

	player_pkt(&p, EDGE_A);
	ilen = build(&p, in);
	cr_assert_eq(xdp(in, ilen, out, &olen), XDP_PASS);
	/* Same edge within a second: no write. */
	config_update(set_clock, T0 + SEC / 2);
	cr_assert_eq(xdp(in, ilen, out, &olen), XDP_PASS);
	cr_assert_eq(flow_get(IPPROTO_UDP, PLAYER, 40000, SVC, 27015, &f), 0);
	cr_assert_eq(f.last_seen_ns, T0);
	cr_assert_eq(counter(KMM_C_FLOW_REFRESHED), 0);
	/* After a second: refreshed. */
	config_update(set_clock, T0 + 2 * SEC);
	cr_assert_eq(xdp(in, ilen, out, &olen), XDP_PASS);
	cr_assert_eq(flow_get(IPPROTO_UDP, PLAYER, 40000, SVC, 27015, &f), 0);
	cr_assert_eq(f.last_seen_ns, T0 + 2 * SEC);
	cr_assert_eq(counter(KMM_C_FLOW_REFRESHED), 1);
	/* Anycast moved the player to edge B: replies follow at once. */
	config_update(set_clock, T0 + 2 * SEC + 1);
	player_pkt(&p, EDGE_B);
	ilen = build(&p, in);
	cr_assert_eq(xdp(in, ilen, out, &olen), XDP_PASS);
	cr_assert_eq(flow_get(IPPROTO_UDP, PLAYER, 40000, SVC, 27015, &f), 0);
	cr_assert_eq(f.edge, EDGE_B);
	cr_assert_eq(f.last_seen_ns, T0 + 2 * SEC + 1);
	cr_assert_eq(counter(KMM_C_FLOW_MOVED), 1);
	cr_assert_eq(counter(KMM_C_FLOW_LEARNED), 1);
	cr_assert_eq(stat_pkts(KMM_R_XDP_DECAP), 4);
}

Test(mapper_xdp, icmp_echo_request_learns_the_echo_id)
{
	struct kmt_pkt p;
	struct kmm_flow f;

	player_pkt(&p, EDGE_A);
	p.l4 = IPPROTO_ICMP;
	p.icmp_type = 8;
	p.icmp_id = 0x1234;
	p.icmp_seq = 7;
	assert_xdp_decap(&p);
	cr_assert_eq(flow_get(IPPROTO_ICMP, PLAYER, 0x1234, SVC, 0, &f), 0,
		     "echo flow not learned");
	cr_assert_eq(f.edge, EDGE_A);
}

Test(mapper_xdp, inner_fragment_is_decapsulated_without_learning)
{
	struct kmt_pkt p;

	player_pkt(&p, EDGE_A);
	p.ip.frag = KMT_IP_MF;
	assert_xdp_decap(&p);
	assert_only_reason(KMM_R_XDP_DECAP);
	cr_assert_eq(counter(KMM_C_DECAP_NO_LEARN), 1);
	cr_assert_eq(kmt_map_count(bpf_map__fd(skel->maps.km_m_flows)), 0);
}

/* Frames that come out exactly as they went in (pass) or are dropped,
 * with one reason counted and nothing learned. */
struct xdp_case {
	const char *what;
	void (*make)(struct kmt_pkt *p);
	uint32_t verdict;
	unsigned int reason;
};

static void mk_not_edge(struct kmt_pkt *p)
{
	player_pkt(p, STRANGER);
}

static void mk_not_host(struct kmt_pkt *p)
{
	player_pkt(p, EDGE_A);
	p->outer.daddr = KMT_IP4(198, 18, 20, 9);
}

static void mk_plain_udp(struct kmt_pkt *p)
{
	player_pkt(p, 0);
	p->ip.daddr = HOST;
}

static void mk_arp(struct kmt_pkt *p)
{
	kmt_pkt_init(p);
	p->eth_type = 0x0806;
	kmt_pkt_payload_fill(p, 28);
}

static void mk_inner_len_too_long(struct kmt_pkt *p)
{
	player_pkt(p, EDGE_A);
	p->ip.tot_len = 20 + 8 + 37 + 1;
}

static void mk_inner_udp_truncated(struct kmt_pkt *p)
{
	player_pkt(p, EDGE_A);
	p->ip.tot_len = 20 + 4; /* within the outer payload, no UDP header */
}

static void mk_inner_not_ipv4(struct kmt_pkt *p)
{
	player_pkt(p, EDGE_A);
	p->ip.version = 6;
}

static void mk_inner_only_10_bytes(struct kmt_pkt *p)
{
	player_pkt(p, EDGE_A);
	p->l4 = 0;
	p->ip.proto = IPPROTO_UDP;
	p->payload_len = 0;
	/* outer 20 bytes + 10 bytes of inner header */
	p->outer.tot_len = 30;
	p->truncate = 14 + 30;
}

static void mk_frame_shorter_than_outer(struct kmt_pkt *p)
{
	player_pkt(p, EDGE_A);
	p->truncate = 14 + 20 + 20 + 4;
}

static void mk_outer_fragment(struct kmt_pkt *p)
{
	player_pkt(p, EDGE_A);
	p->outer.frag = KMT_IP_MF;
}

static void mk_not_service(struct kmt_pkt *p)
{
	player_pkt(p, EDGE_A);
	p->ip.daddr = KMT_IP4(198, 18, 32, 1);
}

static const struct xdp_case xdp_cases[] = {
    {"IPIP from a non-edge", mk_not_edge, XDP_DROP, KMM_R_XDP_DROP_NOT_EDGE},
    {"IPIP to another address", mk_not_host, XDP_PASS, KMM_R_XDP_PASS_NOT_HOST},
    {"plain UDP to the host", mk_plain_udp, XDP_PASS, KMM_R_XDP_PASS_NOT_IPIP},
    {"ARP", mk_arp, XDP_PASS, KMM_R_XDP_PASS_NOT_IPV4},
    {"inner tot_len past the outer payload", mk_inner_len_too_long, XDP_DROP,
     KMM_R_XDP_DROP_BAD_INNER},
    {"inner UDP header truncated", mk_inner_udp_truncated, XDP_DROP,
     KMM_R_XDP_DROP_BAD_INNER},
    {"inner version 6", mk_inner_not_ipv4, XDP_DROP, KMM_R_XDP_DROP_BAD_INNER},
    {"inner header cut at 10 bytes", mk_inner_only_10_bytes, XDP_DROP,
     KMM_R_XDP_DROP_BAD_INNER},
    {"frame shorter than outer tot_len", mk_frame_shorter_than_outer, XDP_DROP,
     KMM_R_XDP_DROP_BAD_OUTER},
    {"outer fragment", mk_outer_fragment, XDP_DROP, KMM_R_XDP_DROP_BAD_OUTER},
    {"inner destination not a service", mk_not_service, XDP_DROP,
     KMM_R_XDP_DROP_NOT_SERVICE},
};

Test(mapper_xdp, table_of_pass_and_drop_verdicts)
{
	uint8_t in[KMT_FRAME_MAX], out[KMT_FRAME_MAX];
	struct kmt_pkt p;
	size_t i, ilen, olen;

	for (i = 0; i < sizeof(xdp_cases) / sizeof(xdp_cases[0]); i++) {
		const struct xdp_case *c = &xdp_cases[i];
		uint64_t before = stat_pkts(c->reason);

		c->make(&p);
		ilen = build(&p, in);
		cr_assert_eq(xdp(in, ilen, out, &olen), c->verdict,
			     "%s: verdict", c->what);
		cr_assert_eq(stat_pkts(c->reason), before + 1, "%s: reason %u",
			     c->what, c->reason);
		if (c->verdict == XDP_PASS)
			cr_assert(olen == ilen && !memcmp(in, out, ilen),
				  "%s: passed frame was changed", c->what);
	}
	cr_assert_eq(kmt_map_count(bpf_map__fd(skel->maps.km_m_flows)), 0,
		     "a rejected packet created a flow");
	cr_assert_eq(stat_pkts(KMM_R_XDP_DECAP), 0);
}

/* ---- TC egress ---- */

/* Service -> player UDP, as the game server's stack sends it. */
static void reply_pkt(struct kmt_pkt *p, uint32_t src)
{
	kmt_pkt_init(p);
	p->ip.saddr = src;
	p->ip.daddr = PLAYER;
	p->ip.frag = KMT_IP_DF;
	p->ip.tos = 0x88;
	p->ip.ttl = 63;
	p->l4 = IPPROTO_UDP;
	p->sport = 27015;
	p->dport = 40000;
	cr_assert_eq(kmt_pkt_payload_fill(p, 51), 0);
}

/* The same packet inside the mapper's outer header to `edge`. */
static size_t expected_encap(struct kmt_pkt *p, uint32_t edge, uint8_t *buf)
{
	p->ipip = 1;
	memset(&p->outer, 0, sizeof(p->outer));
	p->outer.saddr = HOST;
	p->outer.daddr = edge;
	p->outer.ttl = 64;
	p->outer.id = 0;
	p->outer.frag = p->ip.frag & KMT_IP_DF;
	p->outer.tos = p->ip.tos;
	return build(p, buf);
}

static uint32_t tc(const uint8_t *in, size_t len, uint8_t *out, size_t *out_len)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in,
		    .data_size_in = (__u32)len, .data_out = out,
		    .data_size_out = KMT_FRAME_MAX, .repeat = 1);

	cr_assert_eq(bpf_prog_test_run_opts(
			 bpf_program__fd(skel->progs.kmm_tc_egress), &o),
		     0, "BPF_PROG_TEST_RUN (tc): %s", strerror(errno));
	*out_len = o.data_size_out;
	return o.retval;
}

/* p leaves through TC redirected, as exactly itself behind the mapper's
 * outer header to `edge`. */
static void assert_tc_encap(const struct kmt_pkt *p, uint32_t edge)
{
	uint8_t in[KMT_FRAME_MAX], out[KMT_FRAME_MAX], want[KMT_FRAME_MAX];
	struct kmt_pkt e = *p;
	size_t ilen = build(p, in), olen, wlen;

	wlen = expected_encap(&e, edge, want);
	cr_assert_eq(tc(in, ilen, out, &olen), TC_ACT_REDIRECT,
		     "routed to the edge through bpf_redirect_neigh");
	assert_frame(out, olen, want, wlen);
}

/* p passes TC unchanged, counted under `reason` only. */
static void assert_tc_untouched(const struct kmt_pkt *p, unsigned int reason)
{
	uint8_t in[KMT_FRAME_MAX], out[KMT_FRAME_MAX];
	size_t ilen = build(p, in), olen;

	cr_assert_eq(tc(in, ilen, out, &olen), TC_ACT_OK);
	cr_assert(olen == ilen && !memcmp(in, out, ilen), "frame changed");
	assert_only_reason(reason);
}

TestSuite(mapper_tc, .init = setup, .fini = teardown);

Test(mapper_tc, learned_flow_goes_to_its_edge)
{
	struct kmt_pkt p;

	flow_put(IPPROTO_UDP, PLAYER, 40000, SVC, 27015, EDGE_A, T0);
	reply_pkt(&p, SVC);
	assert_tc_encap(&p, EDGE_A);
	assert_only_reason(KMM_R_TC_ENCAP_LEARNED);
}

Test(mapper_tc, unknown_remote_goes_to_the_default_edge)
{
	struct kmt_pkt p;

	/* Another flow of the same player is not this one. */
	flow_put(IPPROTO_UDP, PLAYER, 40001, SVC, 27015, EDGE_A, T0);
	reply_pkt(&p, SVC);
	assert_tc_encap(&p, EDGE_B);
	assert_only_reason(KMM_R_TC_ENCAP_DEFAULT);
}

Test(mapper_tc, idle_flow_expires_to_the_default_edge)
{
	struct kmt_pkt p;
	struct kmm_flow f;

	flow_put(IPPROTO_UDP, PLAYER, 40000, SVC, 27015, EDGE_A, T0);
	reply_pkt(&p, SVC);
	/* At exactly the idle time the flow still holds. */
	config_update(set_clock, T0 + IDLE);
	assert_tc_encap(&p, EDGE_A);
	cr_assert_eq(stat_pkts(KMM_R_TC_ENCAP_LEARNED), 1);
	config_update(set_clock, T0 + IDLE + 1);
	assert_tc_encap(&p, EDGE_B);
	cr_assert_eq(stat_pkts(KMM_R_TC_ENCAP_DEFAULT), 1);
	cr_assert_eq(counter(KMM_C_FLOW_EXPIRED), 1);
	cr_assert_neq(flow_get(IPPROTO_UDP, PLAYER, 40000, SVC, 27015, &f), 0,
		      "expired flow not deleted");
}

Test(mapper_tc, no_flow_and_no_default_edge_drops)
{
	uint8_t in[KMT_FRAME_MAX], out[KMT_FRAME_MAX];
	struct kmt_pkt p;
	size_t ilen, olen;

	config_update(set_default_edge, 0);
	reply_pkt(&p, SVC);
	ilen = build(&p, in);
	cr_assert_eq(tc(in, ilen, out, &olen), TC_ACT_SHOT);
	assert_only_reason(KMM_R_TC_DROP_NO_EDGE);
}

Test(mapper_tc, service_prefix_and_no_df_and_keep_l2)
{
	uint8_t in[KMT_FRAME_MAX], out[KMT_FRAME_MAX], want[KMT_FRAME_MAX];
	struct kmt_pkt p;
	size_t ilen, olen, wlen;

	config_update(set_flags, KMM_CFG_F_KEEP_L2);
	reply_pkt(&p, KMT_IP4(198, 18, 31, 77));
	p.ip.frag = 0;
	ilen = build(&p, in);
	cr_assert_eq(tc(in, ilen, out, &olen), TC_ACT_OK,
		     "keep-L2 hands the packet on unrouted");
	/* Without DF the outer id is random: take it from the output,
	 * then the rest must match exactly. */
	cr_assert_geq(olen, 14 + 20);
	expected_encap(&p, EDGE_B, want);
	p.outer.id = (uint16_t)(out[18] << 8 | out[19]);
	wlen = build(&p, want);
	assert_frame(out, olen, want, wlen);
	assert_only_reason(KMM_R_TC_ENCAP_DEFAULT);
}

Test(mapper_tc, icmp_echo_reply_follows_the_echo_flow)
{
	struct kmt_pkt p;

	flow_put(IPPROTO_ICMP, PLAYER, 0x1234, SVC, 0, EDGE_A, T0);
	reply_pkt(&p, SVC);
	p.l4 = IPPROTO_ICMP;
	p.icmp_type = 0;
	p.icmp_id = 0x1234;
	p.icmp_seq = 7;
	assert_tc_encap(&p, EDGE_A);
	assert_only_reason(KMM_R_TC_ENCAP_LEARNED);
}

Test(mapper_tc, icmp_error_follows_the_flow_it_quotes)
{
	uint8_t quoted[KMT_FRAME_MAX];
	struct kmt_pkt p, q;

	flow_put(IPPROTO_UDP, PLAYER, 40000, SVC, 27016, EDGE_A, T0);
	/* The datagram the service could not deliver (player -> service). */
	player_pkt(&q, 0);
	q.dport = 27016;
	build(&q, quoted);
	reply_pkt(&p, SVC);
	p.l4 = IPPROTO_ICMP;
	p.icmp_type = 3; /* destination unreachable */
	p.icmp_code = 3; /* port */
	p.icmp_id = 0;
	p.icmp_seq = 0;
	p.payload_len = 0;
	cr_assert_eq(kmt_pkt_payload(&p, quoted + 14, 28), 0);
	assert_tc_encap(&p, EDGE_A);
	assert_only_reason(KMM_R_TC_ENCAP_LEARNED);
}

Test(mapper_tc, not_from_a_service_is_untouched)
{
	struct kmt_pkt p;

	reply_pkt(&p, HOST); /* the host's own traffic (SSH, ...) */
	assert_tc_untouched(&p, KMM_R_TC_PASS_NOT_SERVICE);
}

Test(mapper_tc, ipip_is_never_encapsulated_twice)
{
	struct kmt_pkt p;

	/* Our own output seen again (redirect to the same device). */
	reply_pkt(&p, SVC);
	p.ipip = 1;
	p.outer.saddr = SVC;
	p.outer.daddr = EDGE_A;
	assert_tc_untouched(&p, KMM_R_TC_PASS_IPIP);
}

Test(mapper_tc, not_ipv4_is_untouched)
{
	struct kmt_pkt p;

	mk_arp(&p);
	assert_tc_untouched(&p, KMM_R_TC_PASS_NOT_IPV4);
}

/* ---- both ways: what XDP learns, TC uses ---- */

Test(mapper_xdp, decap_then_reply_uses_the_learned_edge)
{
	uint8_t in[KMT_FRAME_MAX], out[KMT_FRAME_MAX];
	struct kmt_pkt p;
	size_t ilen, olen;

	player_pkt(&p, EDGE_A);
	ilen = build(&p, in);
	cr_assert_eq(xdp(in, ilen, out, &olen), XDP_PASS);
	config_update(set_clock, T0 + 10 * SEC);
	reply_pkt(&p, SVC);
	assert_tc_encap(&p, EDGE_A);
	cr_assert_eq(stat_pkts(KMM_R_TC_ENCAP_LEARNED), 1);
}
