// SPDX-License-Identifier: GPL-2.0-only
/*
 * Single-packet cases: one row per path and verdict of docs/design.md.
 * A row is {what, extra setup, packet in (edits of the default player
 * packet), ingress, expected action and reason, expected output, expected
 * map change}. Each row is its own criterion test on a freshly loaded
 * object. Rows whose output the spec defines compare it byte for byte.
 *
 * Readings chosen where docs/design.md is silent (an operator's):
 *  - outer IPIP header: TOS copied, DF set when the inner has DF, never a
 *    fragment, TTL >= 2 (RFC 2003); the inner packet is not touched except
 *    for the port rewrite and the trimmed Ethernet padding;
 *  - echo to a service with KM_CFG_F_ICMP_ECHO off is DROP_ICMP;
 *  - IPIP aimed at a service address (not the edge) is DROP_NO_SERVICE;
 *  - a frame shorter than Ethernet cannot be tested: BPF_PROG_TEST_RUN
 *    refuses input below 14 bytes.
 */
#include "edge_common.h"

#include <netinet/in.h>
#include <string.h>

#include <linux/if_ether.h>

enum out_kind {
	OUT_NONE = 0, /* drop: bytes not looked at */
	OUT_SAME,     /* pass: unchanged (send_expect checks it) */
	OUT_ENCAP,    /* IPIP to .backend with inner dport .dport */
	OUT_DECAP,    /* the inner packet */
	OUT_ECHO,     /* echo reply */
};

struct edge_case {
	const char *what;
	void (*setup)(void);
	void (*packet)(struct kmt_pkt *p);
	int ingress; /* 0: e0, 1: e1 */
	uint32_t action;
	unsigned int reason;
	enum out_kind out;
	uint32_t backend; /* OUT_ENCAP */
	uint16_t dport;	  /* OUT_ENCAP: inner destination port after rewrite */
	int egress;	  /* OUT_ENCAP/OUT_DECAP: 0 e0, 1 e1 */
	void (*check)(const struct kmt_pkt *in, const struct res *r);
};

static void run_case(const struct edge_case *c)
{
	struct kmt_pkt p;
	struct res r;

	if (c->setup)
		c->setup();
	player_pkt(&p);
	if (c->packet)
		c->packet(&p);
	send_expect(&p, c->ingress ? if1 : if0, c->action, c->reason, &r);
	switch (c->out) {
	case OUT_ENCAP:
		expect_encap(&r, &p, c->backend, c->dport, c->egress);
		break;
	case OUT_DECAP:
		expect_decap(&r, &p, c->egress);
		break;
	case OUT_ECHO:
		expect_echo_reply(&r, &p);
		break;
	default:
		break;
	}
	if (c->check)
		c->check(&p, &r);
}

TestSuite(edge, .init = world_setup, .fini = world_teardown, .timeout = 30);

#define EDGE_CASE(name, ...)                                                   \
	static const struct edge_case case_##name = {__VA_ARGS__};             \
	Test(edge, name)                                                       \
	{                                                                      \
		cr_log_info("%s: %s", #name, case_##name.what);                \
		run_case(&case_##name);                                        \
	}

/* ---- packet edits ---- */

static void p_arp(struct kmt_pkt *p)
{
	p->eth_type = ETH_P_ARP;
	kmt_pkt_payload_fill(p, 28);
}

static void p_ipv6(struct kmt_pkt *p)
{
	p->eth_type = ETH_P_IPV6;
	kmt_pkt_payload_fill(p, 48);
	p->payload[0] = 0x60;
}

static void p_vlan(struct kmt_pkt *p)
{
	/* 802.1Q tag, then an IPv4 header the program must not parse */
	static const uint8_t tag_and_ip[] = {0x00, 0x05, 0x08, 0x00, 0x45};

	p->eth_type = ETH_P_8021Q;
	p->payload_len = 0;
	kmt_pkt_payload(p, tag_and_ip, sizeof(tag_and_ip));
	memset(p->payload + p->payload_len, 0, 40);
	p->payload_len += 40;
}

static void p_eth_only(struct kmt_pkt *p)
{
	p->truncate = 14;
}

static void p_ip_cut(struct kmt_pkt *p)
{
	p->truncate = 14 + 19;
}

static void p_version6(struct kmt_pkt *p)
{
	p->ip.version = 6;
}

static void p_ihl4(struct kmt_pkt *p)
{
	p->ip.ihl = 4;
}

static void p_ihl4_edge(struct kmt_pkt *p)
{
	p->ip.ihl = 4;
	p->ip.daddr = EDGE;
}

static void p_totlen_small(struct kmt_pkt *p)
{
	p->ip.tot_len = 19;
}

static void p_totlen_big(struct kmt_pkt *p)
{
	p->ip.tot_len = 20 + 8 + 32 + 1;
}

static void p_options(struct kmt_pkt *p)
{
	p->ip.opts_len = 4;
	memset(p->ip.opts, 1, 4); /* NOPs */
}

static void p_options_edge(struct kmt_pkt *p)
{
	p_options(p);
	p->ip.daddr = EDGE;
}

static void p_options_not_ours(struct kmt_pkt *p)
{
	p_options(p);
	p->ip.daddr = NOT_OURS;
}

static void p_frag_mf(struct kmt_pkt *p)
{
	p->ip.frag = KMT_IP_MF;
}

static void p_frag_offset(struct kmt_pkt *p)
{
	p->ip.frag = 185;
}

static void p_frag_edge(struct kmt_pkt *p)
{
	p->ip.frag = KMT_IP_MF;
	p->ip.daddr = EDGE;
}

static void p_df(struct kmt_pkt *p)
{
	p->ip.frag = KMT_IP_DF;
}

/* tot_len covers only part of the L4 header: the raw payload is given the
 * protocol number of the header it cannot hold. */
static void p_l4_cut(struct kmt_pkt *p, uint8_t proto, size_t have)
{
	p->l4 = 253; /* raw */
	p->ip.proto = proto;
	kmt_pkt_payload_fill(p, have);
}

static void p_udp_cut(struct kmt_pkt *p)
{
	p_l4_cut(p, IPPROTO_UDP, 4);
}

static void p_tcp_cut(struct kmt_pkt *p)
{
	p_l4_cut(p, IPPROTO_TCP, 12);
}

static void p_icmp_cut(struct kmt_pkt *p)
{
	p_l4_cut(p, IPPROTO_ICMP, 4);
}

static void p_rw(struct kmt_pkt *p)
{
	p->dport = 27016;
}

static void p_rw_csum0(struct kmt_pkt *p)
{
	p->dport = 27016;
	p->flags = KMT_F_UDP_CSUM_ZERO;
}

/* A payload word chosen so that the UDP checksum after the rewrite to
 * 28016 computes to 0, which UDP must send as 0xffff (RFC 768): an
 * incremental update that yields 0x0000 would turn the checksum off. */
static void p_rw_csum_ffff(struct kmt_pkt *p)
{
	struct kmt_pkt e;
	uint8_t f[KMT_FRAME_MAX];

	p->dport = 27016;
	p->payload[0] = p->payload[1] = 0;
	e = *p;
	e.dport = 28016;
	cr_assert_gt(kmt_pkt_build(&e, f, sizeof(f)), 0);
	/* with the word 0 the checksum is ~S; a word of ~S makes S' = 0xffff */
	p->payload[0] = f[14 + 20 + 6];
	p->payload[1] = f[14 + 20 + 7];
	e = *p;
	e.dport = 28016;
	cr_assert_gt(kmt_pkt_build(&e, f, sizeof(f)), 0);
	cr_assert(f[14 + 20 + 6] == 0xff && f[14 + 20 + 7] == 0xff,
		  "test packet does not hit the 0xffff corner");
}

static void p_tcp(struct kmt_pkt *p)
{
	p->l4 = IPPROTO_TCP;
	p->tcp_seq = 0x01020304;
	p->tcp_ack = 0x0a0b0c0d;
	p->tcp_flags = 0x18;
	kmt_pkt_payload_fill(p, 21);
}

static void p_tos_df(struct kmt_pkt *p)
{
	p->ip.tos = 0xb8;
	p->ip.frag = KMT_IP_DF;
	p->ip.ttl = 17;
}

static void p_padded(struct kmt_pkt *p)
{
	kmt_pkt_payload_fill(p, 2);
	p->pad = 60 - (14 + 20 + 8 + 2);
}

static void p_svc2(struct kmt_pkt *p)
{
	p->ip.daddr = SVC2;
}

static void p_svc3(struct kmt_pkt *p)
{
	p->ip.daddr = SVC3;
}

static void p_too_big(struct kmt_pkt *p)
{
	/* IP length 1500 = the MTU: with 20 bytes of IPIP it cannot leave */
	kmt_pkt_payload_fill(p, 1500 - 28);
}

static void p_fits(struct kmt_pkt *p)
{
	kmt_pkt_payload_fill(p, 1480 - 28);
}

static void p_wrong_port(struct kmt_pkt *p)
{
	p->dport = 9999;
}

static void p_wrong_proto(struct kmt_pkt *p)
{
	p_tcp(p);
	p->dport = 27016;
}

static void p_gre(struct kmt_pkt *p)
{
	p->l4 = 47;
}

static void p_not_ours(struct kmt_pkt *p)
{
	p->ip.daddr = NOT_OURS;
}

static void p_edge(struct kmt_pkt *p)
{
	p->ip.daddr = EDGE;
}

static void p_edge2_ssh(struct kmt_pkt *p)
{
	p_tcp(p);
	p->ip.daddr = EDGE2;
	p->dport = 22;
	p->tcp_flags = 0x02;
}

static void p_echo(struct kmt_pkt *p)
{
	p->l4 = IPPROTO_ICMP;
	p->icmp_type = 8;
	p->icmp_id = 0x1d1d;
	p->icmp_seq = 7;
	kmt_pkt_payload_fill(p, 56);
}

static void p_echo_edge(struct kmt_pkt *p)
{
	p_echo(p);
	p->ip.daddr = EDGE;
}

static void p_echo_padded(struct kmt_pkt *p)
{
	p_echo(p);
	kmt_pkt_payload_fill(p, 4);
	p->pad = 60 - (14 + 20 + 8 + 4);
}

static void p_icmp_timestamp(struct kmt_pkt *p)
{
	p->l4 = IPPROTO_ICMP;
	p->icmp_type = 13;
	kmt_pkt_payload_fill(p, 12);
}

static void p_icmp_unreach(struct kmt_pkt *p)
{
	p->l4 = IPPROTO_ICMP;
	p->icmp_type = 3;
	p->icmp_code = 3;
	kmt_pkt_payload_fill(p, 28);
}

static void p_echo_reply_in(struct kmt_pkt *p)
{
	p_echo(p);
	p->icmp_type = 0;
}

/* ---- backend (IPIP) packets ---- */

static void p_decap(struct kmt_pkt *p)
{
	backend_pkt(p);
}

static void p_decap_tos(struct kmt_pkt *p)
{
	backend_pkt(p);
	p->ip.tos = 0x28;
	p->ip.ttl = 63;
	p->ip.frag = KMT_IP_DF;
}

static void p_decap_padded(struct kmt_pkt *p)
{
	backend_pkt(p);
	kmt_pkt_payload_fill(p, 2);
	p->pad = 8;
}

static void p_decap_not_backend(struct kmt_pkt *p)
{
	backend_pkt(p);
	p->outer.saddr = NOT_BACKEND;
}

static void p_decap_player_src(struct kmt_pkt *p)
{
	/* a player tunnelling to the edge: not a backend either */
	backend_pkt(p);
	p->outer.saddr = PLAYER;
}

static void p_decap_not_edge(struct kmt_pkt *p)
{
	backend_pkt(p);
	p->outer.daddr = NOT_OURS;
}

static void p_decap_to_svc(struct kmt_pkt *p)
{
	backend_pkt(p);
	p->outer.daddr = SVC1;
}

static void p_decap_inner_unknown(struct kmt_pkt *p)
{
	backend_pkt(p);
	p->ip.saddr = KMT_IP4(198, 18, 50, 99);
}

static void p_decap_inner_other_be(struct kmt_pkt *p)
{
	backend_pkt(p);
	p->ip.saddr = SVC4; /* served by BE_OTHER, not BE_TX */
}

static void p_decap_inner_player(struct kmt_pkt *p)
{
	backend_pkt(p);
	p->ip.saddr = PLAYER2;
}

static void p_decap_inner_cut(struct kmt_pkt *p)
{
	backend_pkt(p);
	p->l4 = 253;
	p->payload_len = 0;
	p->ip.opts_len = 0;
	/* outer payload: 12 bytes of an IPv4 header */
	p->ip.tot_len = 12;
	p->truncate = 14 + 20 + 12;
	p->outer.tot_len = 20 + 12;
}

static void p_decap_inner_v6(struct kmt_pkt *p)
{
	backend_pkt(p);
	p->ip.version = 6;
}

static void p_decap_inner_totlen(struct kmt_pkt *p)
{
	backend_pkt(p);
	p->ip.tot_len = 20 + 8 + 40 + 9;
}

static void p_decap_e1(struct kmt_pkt *p)
{
	backend_pkt(p);
	p->ip.daddr = PLAYER_E1;
}

static void p_decap_outer_frag(struct kmt_pkt *p)
{
	backend_pkt(p);
	p->outer.frag = KMT_IP_MF;
}

static void p_decap_tcp(struct kmt_pkt *p)
{
	backend_pkt(p);
	p->l4 = IPPROTO_TCP;
	p->sport = 45000; /* a port the game server opened: no service */
	p->tcp_flags = 0x12;
}

/* ---- setups ---- */

static void s_block_player(void)
{
	cr_assert_eq(
	    kmt_block_add(&env, PLAYER, KMT_T0 + 10 * SEC_NS, KM_ORIGIN_CLI),
	    0);
}

static void s_block_player_expired(void)
{
	cr_assert_eq(kmt_block_add(&env, PLAYER, KMT_T0 - 1, KM_ORIGIN_CLI), 0);
}

static void s_block_player2(void)
{
	cr_assert_eq(
	    kmt_block_add(&env, PLAYER2, KMT_T0 + 10 * SEC_NS, KM_ORIGIN_CLI),
	    0);
}

static void s_deny_player32(void)
{
	cr_assert_eq(kmt_prefix_add(&env, KM_MAP_DENY_A, PLAYER, 32), 0);
}

static void s_deny_0(void)
{
	cr_assert_eq(kmt_prefix_add(&env, KM_MAP_DENY_A, 0, 0), 0);
}

static void s_deny_198_8(void)
{
	cr_assert_eq(
	    kmt_prefix_add(&env, KM_MAP_DENY_A, KMT_IP4(198, 0, 0, 0), 8), 0);
}

static void s_deny_197_8(void)
{
	cr_assert_eq(
	    kmt_prefix_add(&env, KM_MAP_DENY_A, KMT_IP4(197, 0, 0, 0), 8), 0);
}

static void s_deny_24(void)
{
	cr_assert_eq(
	    kmt_prefix_add(&env, KM_MAP_DENY_A, KMT_IP4(198, 19, 0, 0), 24), 0);
}

static void p_from_far(struct kmt_pkt *p)
{
	p->ip.saddr = PLAYER_FAR;
}

static void p_from_below(struct kmt_pkt *p)
{
	p->ip.saddr = KMT_IP4(198, 18, 255, 7);
}

static void p_from_bcast(struct kmt_pkt *p)
{
	p->ip.saddr = KMT_IP4(198, 19, 0, 255);
}

static void p_from_player2(struct kmt_pkt *p)
{
	p->ip.saddr = PLAYER2;
}

static void s_deny_24_swapped(void)
{
	/* PLAYER's /24 written in the wrong byte order must match nothing */
	cr_assert_eq(
	    kmt_prefix_add(&env, KM_MAP_DENY_A, KMT_IP4(0, 0, 19, 198), 24), 0);
	cr_assert_eq(
	    kmt_prefix_add(&env, KM_MAP_DENY_A, KMT_IP4(7, 0, 19, 198), 32), 0);
}

static void s_deny_and_allow(void)
{
	s_deny_24();
	cr_assert_eq(
	    kmt_prefix_add(&env, KM_MAP_ALLOW_A, KMT_IP4(198, 19, 0, 0), 24),
	    0);
}

static void s_block_and_allow(void)
{
	s_block_player();
	cr_assert_eq(
	    kmt_prefix_add(&env, KM_MAP_ALLOW_A, KMT_IP4(198, 19, 0, 0), 24),
	    0);
}

static void s_deny_b_only(void)
{
	cr_assert_eq(kmt_prefix_add(&env, KM_MAP_DENY_B, PLAYER, 32), 0);
}

static void flip_lists(struct km_config *c)
{
	c->active_lists = 1;
}

static void s_deny_b_flipped(void)
{
	s_deny_b_only();
	set_cfg(flip_lists);
}

static void s_deny_a_flipped(void)
{
	s_deny_player32();
	set_cfg(flip_lists);
}

static void echo_off(struct km_config *c)
{
	c->flags &= ~(__u32)KM_CFG_F_ICMP_ECHO;
}

static void s_echo_off(void)
{
	set_cfg(echo_off);
}

/* ---- checks of map changes ---- */

static void c_svc_fwd(const struct kmt_pkt *in, const struct res *r)
{
	struct km_svc_stat s;

	(void)in;
	cr_assert_eq(kmt_svc_stat(&env, ID_SVC1_UDP, &s), 0);
	cr_assert_eq(s.rx_packets, 1);
	cr_assert_eq(s.fwd_packets, 1);
	cr_assert_eq(s.drop_packets, 0);
	cr_assert_eq(s.rx_bytes, s.fwd_bytes);
	cr_assert_geq(s.rx_bytes, 20u + 8 + 32, "rx_bytes %llu",
		      (unsigned long long)s.rx_bytes);
	cr_assert_eq(map_count(KM_MAP_VALIDATED), 0,
		     "a player packet must never validate");
	cr_assert_eq(r->ctr[KM_C_A2S_SEEN], 0);
}

static void c_svc_drop(const struct kmt_pkt *in, const struct res *r)
{
	struct km_svc_stat s;

	(void)in;
	(void)r;
	cr_assert_eq(kmt_svc_stat(&env, ID_SVC1_UDP, &s), 0);
	cr_assert_eq(s.drop_packets, 1);
	cr_assert_eq(s.fwd_packets, 0);
}

static void c_nothing_learned(const struct kmt_pkt *in, const struct res *r)
{
	(void)in;
	(void)r;
	cr_assert_eq(map_count(KM_MAP_VALIDATED), 0);
	cr_assert_eq(map_count(KM_MAP_PUNCHES), 0);
	cr_assert_eq(map_count(KM_MAP_RL_SRC), 0);
}

static void c_validated(const struct kmt_pkt *in, const struct res *r)
{
	struct km_validated v;
	struct km_svc_stat s;

	(void)in;
	cr_assert_eq(validated_get(ID_SVC1_UDP, PLAYER, &v), 0,
		     "decap must validate (service id, player)");
	cr_assert_eq(v.last_seen_ns, KMT_T0);
	cr_assert_eq(r->ctr[KM_C_VALIDATED_NEW], 1);
	cr_assert_eq(map_count(KM_MAP_PUNCHES), 0,
		     "a reply from a service port is not a punch");
	cr_assert_eq(kmt_svc_stat(&env, ID_SVC1_UDP, &s), 0);
	cr_assert_eq(s.ret_packets, 1);
}

static void c_punch_tcp(const struct kmt_pkt *in, const struct res *r)
{
	struct km_punch_key k = {.proto = IPPROTO_TCP,
				 .svc_addr = SVC1,
				 .remote = PLAYER,
				 .svc_port = KMT_BE16(45000),
				 .remote_port = KMT_BE16(40000)};
	struct km_punch v;

	(void)in;
	cr_assert_eq(punch_get(&k, &v), 0, "TCP punch not learned");
	cr_assert_eq(v.backend, BE_TX);
	cr_assert_eq(r->ctr[KM_C_PUNCH_LEARNED], 1);
	cr_assert_eq(map_count(KM_MAP_VALIDATED), 0);
}

static void c_block_expired(const struct kmt_pkt *in, const struct res *r)
{
	(void)in;
	cr_assert_eq(r->ctr[KM_C_BLOCK_EXPIRED], 1);
	cr_assert_eq(map_count(KM_MAP_BLOCKS), 0,
		     "an expired block found by a lookup is removed");
}

static void c_echo(const struct kmt_pkt *in, const struct res *r)
{
	(void)in;
	(void)r;
	cr_assert_eq(map_count(KM_MAP_VALIDATED), 0);
}

static void c_a2s_none(const struct kmt_pkt *in, const struct res *r)
{
	(void)in;
	cr_assert_eq(r->ctr[KM_C_A2S_SEEN], 0);
}

/* ---- the table ---- */

/* Not IPv4 */
EDGE_CASE(arp_passes, "ARP goes to the kernel untouched", .packet = p_arp,
	  .action = XDP_PASS, .reason = KM_R_PASS_NOT_IPV4, .out = OUT_SAME)
EDGE_CASE(ipv6_passes, "IPv6 goes to the kernel untouched", .packet = p_ipv6,
	  .action = XDP_PASS, .reason = KM_R_PASS_NOT_IPV4, .out = OUT_SAME)
EDGE_CASE(vlan_passes, "an 802.1Q frame is not parsed as IPv4",
	  .packet = p_vlan, .action = XDP_PASS, .reason = KM_R_PASS_NOT_IPV4,
	  .out = OUT_SAME)

/* Malformed IPv4 (Ethernet itself cannot be shorter than 14 bytes in
 * BPF_PROG_TEST_RUN: the kernel refuses such input) */
EDGE_CASE(ip_header_missing, "IPv4 ethertype with no IPv4 header is truncated",
	  .packet = p_eth_only, .action = XDP_DROP,
	  .reason = KM_R_DROP_TRUNCATED)
EDGE_CASE(ip_header_cut, "19 bytes of IPv4 header is truncated",
	  .packet = p_ip_cut, .action = XDP_DROP, .reason = KM_R_DROP_TRUNCATED)
EDGE_CASE(bad_version, "version 6 inside an IPv4 ethertype is bad IP",
	  .packet = p_version6, .action = XDP_DROP, .reason = KM_R_DROP_BAD_IP)
EDGE_CASE(bad_ihl, "IHL 4 is bad IP", .packet = p_ihl4, .action = XDP_DROP,
	  .reason = KM_R_DROP_BAD_IP)
EDGE_CASE(bad_ihl_to_edge, "IHL 4 is bad IP whatever the destination",
	  .packet = p_ihl4_edge, .action = XDP_DROP, .reason = KM_R_DROP_BAD_IP)
EDGE_CASE(tot_len_below_header, "tot_len smaller than the header is bad IP",
	  .packet = p_totlen_small, .action = XDP_DROP,
	  .reason = KM_R_DROP_BAD_IP)
EDGE_CASE(tot_len_beyond_frame, "tot_len one byte past the frame is bad IP",
	  .packet = p_totlen_big, .action = XDP_DROP,
	  .reason = KM_R_DROP_BAD_IP)
EDGE_CASE(options_to_service, "IP options towards a service are dropped",
	  .packet = p_options, .action = XDP_DROP,
	  .reason = KM_R_DROP_IP_OPTIONS, .check = c_nothing_learned)
EDGE_CASE(options_to_edge, "IP options to the edge go to the kernel",
	  .packet = p_options_edge, .action = XDP_PASS,
	  .reason = KM_R_PASS_EDGE, .out = OUT_SAME)
EDGE_CASE(options_not_ours, "IP options elsewhere go to the kernel",
	  .packet = p_options_not_ours, .action = XDP_PASS,
	  .reason = KM_R_PASS_NOT_OURS, .out = OUT_SAME)
EDGE_CASE(fragment_mf_to_service,
	  "a first fragment (MF) to a service is dropped", .packet = p_frag_mf,
	  .action = XDP_DROP, .reason = KM_R_DROP_FRAGMENT)
EDGE_CASE(fragment_offset_to_service,
	  "a later fragment to a service is dropped", .packet = p_frag_offset,
	  .action = XDP_DROP, .reason = KM_R_DROP_FRAGMENT)
EDGE_CASE(fragment_to_edge, "a fragment to the edge goes to the kernel",
	  .packet = p_frag_edge, .action = XDP_PASS, .reason = KM_R_PASS_EDGE,
	  .out = OUT_SAME)
EDGE_CASE(fragment_to_edge_blocked,
	  "a fragment to the edge from a blocked source is dropped",
	  .setup = s_block_player, .packet = p_frag_edge, .action = XDP_DROP,
	  .reason = KM_R_DROP_BLOCKED)
EDGE_CASE(fragment_to_edge_denied,
	  "a fragment to the edge from a denied source is dropped",
	  .setup = s_deny_player32, .packet = p_frag_edge, .action = XDP_DROP,
	  .reason = KM_R_DROP_DENIED)
EDGE_CASE(df_is_not_a_fragment, "DF alone is forwarded", .packet = p_df,
	  .action = XDP_TX, .reason = KM_R_FWD_SERVICE, .out = OUT_ENCAP,
	  .backend = BE_TX, .dport = 27015)
EDGE_CASE(udp_truncated, "4 bytes of UDP header to a service is truncated",
	  .packet = p_udp_cut, .action = XDP_DROP,
	  .reason = KM_R_DROP_TRUNCATED)
EDGE_CASE(tcp_truncated, "12 bytes of TCP header to a service is truncated",
	  .packet = p_tcp_cut, .action = XDP_DROP,
	  .reason = KM_R_DROP_TRUNCATED)
EDGE_CASE(icmp_truncated, "4 bytes of ICMP header to a service is truncated",
	  .packet = p_icmp_cut, .action = XDP_DROP,
	  .reason = KM_R_DROP_TRUNCATED)

/* Player -> service */
EDGE_CASE(
    udp_forward_tx,
    "UDP to a service: IPIP to its backend, XDP_TX on the ingress interface",
    .action = XDP_TX, .reason = KM_R_FWD_SERVICE, .out = OUT_ENCAP,
    .backend = BE_TX, .dport = 27015, .check = c_svc_fwd)
EDGE_CASE(udp_port_rewrite,
	  "UDP with port rewrite: inner port and checksum rewritten",
	  .packet = p_rw, .action = XDP_TX, .reason = KM_R_FWD_SERVICE,
	  .out = OUT_ENCAP, .backend = BE_TX, .dport = 28016)
EDGE_CASE(udp_csum_zero_stays_zero,
	  "UDP without checksum keeps checksum 0 through a port rewrite",
	  .packet = p_rw_csum0, .action = XDP_TX, .reason = KM_R_FWD_SERVICE,
	  .out = OUT_ENCAP, .backend = BE_TX, .dport = 28016)
EDGE_CASE(udp_rewrite_csum_ffff,
	  "a rewritten UDP checksum that computes to 0 is sent as 0xffff",
	  .packet = p_rw_csum_ffff, .action = XDP_TX,
	  .reason = KM_R_FWD_SERVICE, .out = OUT_ENCAP, .backend = BE_TX,
	  .dport = 28016)
EDGE_CASE(tcp_port_rewrite,
	  "TCP with port rewrite: inner port and checksum rewritten",
	  .packet = p_tcp, .action = XDP_TX, .reason = KM_R_FWD_SERVICE,
	  .out = OUT_ENCAP, .backend = BE_TX, .dport = 28015)
EDGE_CASE(forward_keeps_tos_df_ttl,
	  "TOS and DF reach the outer header; inner TTL untouched",
	  .packet = p_tos_df, .action = XDP_TX, .reason = KM_R_FWD_SERVICE,
	  .out = OUT_ENCAP, .backend = BE_TX, .dport = 27015)
EDGE_CASE(ethernet_padding_trimmed,
	  "Ethernet padding after tot_len is not tunnelled", .packet = p_padded,
	  .action = XDP_TX, .reason = KM_R_FWD_SERVICE, .out = OUT_ENCAP,
	  .backend = BE_TX, .dport = 27015)
EDGE_CASE(forward_redirect,
	  "backend behind another interface: XDP_REDIRECT with its MACs",
	  .packet = p_svc2, .action = XDP_REDIRECT, .reason = KM_R_FWD_SERVICE,
	  .out = OUT_ENCAP, .backend = BE_RD, .dport = 27015, .egress = 1)
EDGE_CASE(forward_redirect_from_e1, "ingress e1, backend via e0: XDP_REDIRECT",
	  .ingress = 1, .action = XDP_REDIRECT, .reason = KM_R_FWD_SERVICE,
	  .out = OUT_ENCAP, .backend = BE_TX, .dport = 27015)
EDGE_CASE(forward_no_route,
	  "no route to the backend: the kernel gets the untouched packet",
	  .packet = p_svc3, .action = XDP_PASS, .reason = KM_R_PASS_FIB,
	  .out = OUT_SAME)
EDGE_CASE(forward_too_big,
	  "IPIP would exceed the egress MTU: dropped as too big",
	  .packet = p_too_big, .action = XDP_DROP, .reason = KM_R_DROP_TOO_BIG)
EDGE_CASE(forward_fits_mtu, "IPIP exactly at the egress MTU is forwarded",
	  .packet = p_fits, .action = XDP_TX, .reason = KM_R_FWD_SERVICE,
	  .out = OUT_ENCAP, .backend = BE_TX, .dport = 27015)
EDGE_CASE(wrong_port, "a service address, a port without service: dropped",
	  .packet = p_wrong_port, .action = XDP_DROP,
	  .reason = KM_R_DROP_NO_SERVICE, .check = c_nothing_learned)
EDGE_CASE(wrong_proto, "TCP to a UDP-only service port: dropped",
	  .packet = p_wrong_proto, .action = XDP_DROP,
	  .reason = KM_R_DROP_NO_SERVICE)
EDGE_CASE(other_proto_to_service, "GRE to a service address: dropped",
	  .packet = p_gre, .action = XDP_DROP, .reason = KM_R_DROP_NO_SERVICE)
EDGE_CASE(a2s_not_seen_for_game_traffic, "game traffic is not counted as A2S",
	  .action = XDP_TX, .reason = KM_R_FWD_SERVICE, .check = c_a2s_none)

/* Not ours, the edge itself */
EDGE_CASE(not_ours, "IPv4 to neither a service nor the edge goes to the kernel",
	  .packet = p_not_ours, .action = XDP_PASS,
	  .reason = KM_R_PASS_NOT_OURS, .out = OUT_SAME)
EDGE_CASE(edge_udp, "UDP to the edge address goes to the kernel",
	  .packet = p_edge, .action = XDP_PASS, .reason = KM_R_PASS_EDGE,
	  .out = OUT_SAME)
EDGE_CASE(edge2_ssh, "SSH to a second edge address goes to the kernel",
	  .packet = p_edge2_ssh, .action = XDP_PASS, .reason = KM_R_PASS_EDGE,
	  .out = OUT_SAME)
EDGE_CASE(edge_echo_to_kernel, "echo to the edge is the kernel's to answer",
	  .packet = p_echo_edge, .action = XDP_PASS, .reason = KM_R_PASS_EDGE,
	  .out = OUT_SAME)
EDGE_CASE(edge_blocked, "a blocked source cannot reach the edge",
	  .setup = s_block_player, .packet = p_edge, .action = XDP_DROP,
	  .reason = KM_R_DROP_BLOCKED)
EDGE_CASE(edge_denied, "a denied source cannot reach the edge",
	  .setup = s_deny_player32, .packet = p_edge, .action = XDP_DROP,
	  .reason = KM_R_DROP_DENIED)
EDGE_CASE(edge_block_expired, "an expired block no longer applies to the edge",
	  .setup = s_block_player_expired, .packet = p_edge, .action = XDP_PASS,
	  .reason = KM_R_PASS_EDGE, .out = OUT_SAME, .check = c_block_expired)

/* ICMP to a service */
EDGE_CASE(icmp_echo_answered,
	  "echo request to a service address is answered by the edge",
	  .packet = p_echo, .action = XDP_TX, .reason = KM_R_TX_ICMP_ECHO,
	  .out = OUT_ECHO, .check = c_echo)
EDGE_CASE(icmp_echo_padded,
	  "echo request with Ethernet padding: reply without it",
	  .packet = p_echo_padded, .action = XDP_TX,
	  .reason = KM_R_TX_ICMP_ECHO, .out = OUT_ECHO)
EDGE_CASE(
    icmp_echo_off,
    "with echo answering off, echo to a service is dropped (operator reading)",
    .setup = s_echo_off, .packet = p_echo, .action = XDP_DROP,
    .reason = KM_R_DROP_ICMP)
EDGE_CASE(icmp_timestamp_dropped, "ICMP timestamp to a service is dropped",
	  .packet = p_icmp_timestamp, .action = XDP_DROP,
	  .reason = KM_R_DROP_ICMP)
EDGE_CASE(icmp_unreach_dropped, "ICMP unreachable to a service is dropped",
	  .packet = p_icmp_unreach, .action = XDP_DROP,
	  .reason = KM_R_DROP_ICMP)
EDGE_CASE(icmp_echo_reply_dropped, "an echo reply to a service is dropped",
	  .packet = p_echo_reply_in, .action = XDP_DROP,
	  .reason = KM_R_DROP_ICMP)
EDGE_CASE(icmp_echo_blocked, "a blocked source gets no echo reply",
	  .setup = s_block_player, .packet = p_echo, .action = XDP_DROP,
	  .reason = KM_R_DROP_BLOCKED)

/* Backend -> edge (IPIP) */
EDGE_CASE(decap_to_player,
	  "backend reply: decapsulated, sent to the player, player validated",
	  .packet = p_decap, .action = XDP_TX, .reason = KM_R_FWD_DECAP,
	  .out = OUT_DECAP, .check = c_validated)
EDGE_CASE(decap_keeps_inner_header,
	  "decap leaves the inner TOS, TTL and DF as the backend sent them",
	  .packet = p_decap_tos, .action = XDP_TX, .reason = KM_R_FWD_DECAP,
	  .out = OUT_DECAP)
EDGE_CASE(decap_padding_trimmed,
	  "trailing bytes after the outer tot_len are not sent to the player",
	  .packet = p_decap_padded, .action = XDP_TX, .reason = KM_R_FWD_DECAP,
	  .out = OUT_DECAP)
EDGE_CASE(decap_redirect, "player behind the other interface: XDP_REDIRECT",
	  .packet = p_decap_e1, .action = XDP_REDIRECT,
	  .reason = KM_R_FWD_DECAP, .out = OUT_DECAP, .egress = 1)
EDGE_CASE(decap_not_backend,
	  "IPIP from an address that is no backend is dropped",
	  .packet = p_decap_not_backend, .action = XDP_DROP,
	  .reason = KM_R_DROP_IPIP_NOT_BACKEND, .check = c_nothing_learned)
EDGE_CASE(decap_from_player, "IPIP from a player address is dropped",
	  .packet = p_decap_player_src, .action = XDP_DROP,
	  .reason = KM_R_DROP_IPIP_NOT_BACKEND, .check = c_nothing_learned)
EDGE_CASE(decap_not_to_edge,
	  "IPIP to an address that is not the edge is not ours",
	  .packet = p_decap_not_edge, .action = XDP_PASS,
	  .reason = KM_R_PASS_NOT_OURS, .out = OUT_SAME,
	  .check = c_nothing_learned)
EDGE_CASE(decap_to_service_addr,
	  "IPIP aimed at a service address is dropped as no service",
	  .packet = p_decap_to_svc, .action = XDP_DROP,
	  .reason = KM_R_DROP_NO_SERVICE, .check = c_nothing_learned)
EDGE_CASE(decap_inner_not_service, "inner source no service address: dropped",
	  .packet = p_decap_inner_unknown, .action = XDP_DROP,
	  .reason = KM_R_DROP_IPIP_BAD_INNER, .check = c_nothing_learned)
EDGE_CASE(decap_inner_other_backend,
	  "inner source a service of another backend: dropped",
	  .packet = p_decap_inner_other_be, .action = XDP_DROP,
	  .reason = KM_R_DROP_IPIP_BAD_INNER, .check = c_nothing_learned)
EDGE_CASE(decap_inner_is_player, "inner source a player address: dropped",
	  .packet = p_decap_inner_player, .action = XDP_DROP,
	  .reason = KM_R_DROP_IPIP_BAD_INNER, .check = c_nothing_learned)
EDGE_CASE(decap_inner_truncated, "inner IPv4 header cut short: dropped",
	  .packet = p_decap_inner_cut, .action = XDP_DROP,
	  .reason = KM_R_DROP_IPIP_BAD_INNER, .check = c_nothing_learned)
EDGE_CASE(decap_inner_bad_version, "inner version 6: dropped",
	  .packet = p_decap_inner_v6, .action = XDP_DROP,
	  .reason = KM_R_DROP_IPIP_BAD_INNER, .check = c_nothing_learned)
EDGE_CASE(decap_inner_bad_len, "inner tot_len past the outer payload: dropped",
	  .packet = p_decap_inner_totlen, .action = XDP_DROP,
	  .reason = KM_R_DROP_IPIP_BAD_INNER, .check = c_nothing_learned)
EDGE_CASE(decap_outer_fragment,
	  "an IPIP fragment to the edge goes to the kernel",
	  .packet = p_decap_outer_frag, .action = XDP_PASS,
	  .reason = KM_R_PASS_EDGE, .out = OUT_SAME, .check = c_nothing_learned)
EDGE_CASE(
    decap_tcp_punch,
    "TCP from a backend port that is no service: forwarded, punch learned",
    .packet = p_decap_tcp, .action = XDP_TX, .reason = KM_R_FWD_DECAP,
    .out = OUT_DECAP, .check = c_punch_tcp)
/* Block and deny lists (player -> service) */
EDGE_CASE(blocked, "a blocked source is dropped", .setup = s_block_player,
	  .action = XDP_DROP, .reason = KM_R_DROP_BLOCKED, .check = c_svc_drop)
EDGE_CASE(block_expired, "an expired block is removed and the packet forwarded",
	  .setup = s_block_player_expired, .action = XDP_TX,
	  .reason = KM_R_FWD_SERVICE, .out = OUT_ENCAP, .backend = BE_TX,
	  .dport = 27015, .check = c_block_expired)
EDGE_CASE(block_other_addr, "a block on a neighbour address does not apply",
	  .setup = s_block_player2, .action = XDP_TX,
	  .reason = KM_R_FWD_SERVICE)
EDGE_CASE(deny_0, "deny 0.0.0.0/0 denies everyone", .setup = s_deny_0,
	  .action = XDP_DROP, .reason = KM_R_DROP_DENIED, .check = c_svc_drop)
EDGE_CASE(deny_8, "deny 198.0.0.0/8 denies 198.19.0.7", .setup = s_deny_198_8,
	  .action = XDP_DROP, .reason = KM_R_DROP_DENIED)
EDGE_CASE(deny_8_other, "deny 197.0.0.0/8 does not deny 198.19.0.7",
	  .setup = s_deny_197_8, .action = XDP_TX, .reason = KM_R_FWD_SERVICE)
EDGE_CASE(deny_24, "deny 198.19.0.0/24 denies 198.19.0.7", .setup = s_deny_24,
	  .action = XDP_DROP, .reason = KM_R_DROP_DENIED)
EDGE_CASE(deny_24_last_addr, "deny 198.19.0.0/24 denies 198.19.0.255",
	  .setup = s_deny_24, .packet = p_from_bcast, .action = XDP_DROP,
	  .reason = KM_R_DROP_DENIED)
EDGE_CASE(deny_24_next, "deny 198.19.0.0/24 does not deny 198.19.1.7",
	  .setup = s_deny_24, .packet = p_from_far, .action = XDP_TX,
	  .reason = KM_R_FWD_SERVICE)
EDGE_CASE(deny_24_below, "deny 198.19.0.0/24 does not deny 198.18.255.7",
	  .setup = s_deny_24, .packet = p_from_below, .action = XDP_TX,
	  .reason = KM_R_FWD_SERVICE)
EDGE_CASE(deny_24_byte_order,
	  "the byte-swapped /24 and /32 of the player deny nothing",
	  .setup = s_deny_24_swapped, .action = XDP_TX,
	  .reason = KM_R_FWD_SERVICE)
EDGE_CASE(deny_32, "deny the player's /32", .setup = s_deny_player32,
	  .action = XDP_DROP, .reason = KM_R_DROP_DENIED, .check = c_svc_drop)
EDGE_CASE(deny_32_neighbour,
	  "deny of the player's /32 does not deny the next address",
	  .setup = s_deny_player32, .packet = p_from_player2, .action = XDP_TX,
	  .reason = KM_R_FWD_SERVICE)
EDGE_CASE(deny_beats_allow, "deny is checked before allow",
	  .setup = s_deny_and_allow, .action = XDP_DROP,
	  .reason = KM_R_DROP_DENIED)
EDGE_CASE(block_beats_allow, "the block list is checked before allow",
	  .setup = s_block_and_allow, .action = XDP_DROP,
	  .reason = KM_R_DROP_BLOCKED)
EDGE_CASE(inactive_list_ignored,
	  "a deny in the inactive list (b) does not apply",
	  .setup = s_deny_b_only, .action = XDP_TX, .reason = KM_R_FWD_SERVICE)
EDGE_CASE(flipped_list_applies, "after active_lists = 1 the b list applies",
	  .setup = s_deny_b_flipped, .action = XDP_DROP,
	  .reason = KM_R_DROP_DENIED)
EDGE_CASE(flipped_old_list_ignored,
	  "after active_lists = 1 the a list no longer applies",
	  .setup = s_deny_a_flipped, .action = XDP_TX,
	  .reason = KM_R_FWD_SERVICE)
