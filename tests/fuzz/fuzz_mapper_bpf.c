// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: kilimanjaro-mapper's BPF programs (mapper.bpf.o) under
 * BPF_PROG_TEST_RUN, loaded once with a settable clock: kmm_xdp, which
 * parses IPIP arriving from anywhere, and kmm_tc_egress, which parses what
 * the game servers send. Each input is one frame for one of the two,
 * structured (IPIP from edges or strangers to the host, replies from
 * service addresses, ICMP errors) or raw with an IPv4 ethertype. The clock
 * advances by an input-chosen step; flows learned by XDP carry over to TC.
 *
 * Invariants (a violation aborts, libFuzzer saves the input):
 *  - XDP: PASS or DROP only; TC: OK, SHOT or REDIRECT only;
 *  - exactly one km_m_stats reason of that program's group advanced, by one
 *    packet and the frame's length, and the action fits the reason;
 *  - what passes untouched is unchanged;
 *  - XDP_DECAP hands the kernel exactly the inner packet behind the
 *    original Ethernet header;
 *  - TC encapsulation adds exactly one 20-byte IPv4 header (version 4, no
 *    options, IPIP, from the host to a configured edge) in front of the
 *    unchanged packet, and a well-formed input gives a well-formed output
 *    (tests/lib's independent verifier).
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define FZ_NAME "fuzz_mapper_bpf"
#include "fuzz_common.h"
#include "kmtest.h"
#include "mapper.skel.h"
#include "mapper_abi.h"

#define HOST KMT_IP4(198, 18, 20, 2)
#define EDGE_A KMT_IP4(198, 18, 20, 1)
#define EDGE_B KMT_IP4(198, 18, 20, 3) /* also the default edge */
#define STRANGER KMT_IP4(198, 18, 20, 4)
#define SVC KMT_IP4(198, 18, 30, 1)	/* a /32 service */
#define SVC_NET KMT_IP4(198, 18, 31, 0) /* a /24 of services */
#define SVC_IN_NET KMT_IP4(198, 18, 31, 77)
#define PLAYER KMT_IP4(198, 19, 40, 7)
#define PLAYER2 KMT_IP4(198, 19, 41, 9)

#define SEC_NS 1000000000ULL
#define IDLE_NS (300 * SEC_NS)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct mapper *skel;
static struct kmm_config cfg;
static unsigned long seen[KMM_R_MAX];

/* (reason, verified input) as features for libFuzzer. */
__attribute__((section("__libfuzzer_extra_counters"),
	       used)) static uint8_t features[KMM_R_MAX * 2 + KMM_C_MAX];

static void config_write(void)
{
	__u32 zero = 0;

	if (bpf_map_update_elem(bpf_map__fd(skel->maps.km_m_config), &zero,
				&cfg, BPF_ANY))
		fz_die("km_m_config", -1);
}

static void print_seen(void)
{
	fprintf(stderr, "fuzz_mapper_bpf: frames per enum kmm_reason:");
	for (int r = 0; r < KMM_R_MAX; r++)
		fprintf(stderr, " %d:%lu", r, seen[r]);
	fputc('\n', stderr);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct kmm_prefix_key svc32 = {.prefixlen = 32, .addr = SVC};
	struct kmm_prefix_key svc24 = {.prefixlen = 24, .addr = SVC_NET};
	struct kmm_service sv = {0};
	struct kmm_edge e = {0};
	__u32 a = EDGE_A, b = EDGE_B;
	int err;

	(void)argc;
	(void)argv;
	skel = mapper__open();
	if (!skel)
		fz_die("mapper__open", -1);
	skel->rodata->kmm_settable_clock = 1;
	err = mapper__load(skel);
	if (err)
		fz_die("mapper__load", err);
	cfg = (struct kmm_config){
	    .abi_version = KMM_ABI_VERSION,
	    .host_addr = HOST,
	    .default_edge = EDGE_B,
	    .idle_ns = IDLE_NS,
	    .test_now_ns = KMT_T0,
	};
	config_write();
	err = bpf_map_update_elem(bpf_map__fd(skel->maps.km_m_edges), &a, &e,
				  BPF_ANY);
	err = err
		  ?: bpf_map_update_elem(bpf_map__fd(skel->maps.km_m_edges), &b,
					 &e, BPF_ANY);
	err = err
		  ?: bpf_map_update_elem(bpf_map__fd(skel->maps.km_m_services),
					 &svc32, &sv, BPF_ANY);
	err = err
		  ?: bpf_map_update_elem(bpf_map__fd(skel->maps.km_m_services),
					 &svc24, &sv, BPF_ANY);
	if (err)
		fz_die("map setup", err);
	atexit(print_seen);
	return 0;
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
/* One of tab, or (one time in 16) four raw bytes. */
#define PICK_ADDR(s, tab)                                                      \
	({                                                                     \
		uint8_t b_ = take8(s);                                         \
		(b_ & 0xf) == 0xf ? take32(s) : (tab)[b_ % NELEM(tab)];        \
	})

static const uint32_t outer_src[] = {EDGE_A, EDGE_B, STRANGER, PLAYER};
static const uint32_t outer_dst[] = {HOST, HOST, HOST, SVC};
static const uint32_t players[] = {PLAYER, PLAYER2};
static const uint32_t services[] = {SVC, SVC_IN_NET, SVC_NET, HOST};
static const uint16_t ports[] = {27015, 40000, 40001, 0};
static const uint8_t l4s[] = {
    IPPROTO_UDP,  IPPROTO_UDP,	IPPROTO_TCP, IPPROTO_ICMP,
    IPPROTO_ICMP, IPPROTO_IPIP, 47};
static const uint8_t icmp_types[] = {8, 0, 3, 11, 12, 4, 5};

static void pick_ip_oddities(struct src *s, struct kmt_ip *ip)
{
	uint8_t f = take8(s);

	if (f & 0x01)
		ip->frag = take16(s);
	if (f & 0x02)
		fz_ip_options(s, ip);
	if (f & 0x04)
		ip->tos = take8(s);
	if ((f & 0x18) == 0x18)
		fz_ip_malform(s, ip, 4);
}

/* A frame for XDP (player -> service inside IPIP from an edge) or for TC
 * (service -> player); 0 when the builder refuses the spec. */
static size_t build_structured(struct src *s, int for_tc, uint8_t *frame)
{
	static struct kmt_pkt p;
	uint8_t f = take8(s);
	int len;

	kmt_pkt_init(&p);
	p.ipip = !for_tc && !(f & 0x01);
	if (p.ipip) {
		p.outer.saddr = PICK_ADDR(s, outer_src);
		p.outer.daddr = PICK_ADDR(s, outer_dst);
		pick_ip_oddities(s, &p.outer);
		p.ip.saddr = PICK_ADDR(s, players);
		p.ip.daddr = PICK_ADDR(s, services);
	} else {
		p.ip.saddr = PICK_ADDR(s, services);
		p.ip.daddr = PICK_ADDR(s, players);
	}
	pick_ip_oddities(s, &p.ip);
	p.l4 = l4s[take8(s) % NELEM(l4s)];
	p.sport = ports[take8(s) % NELEM(ports)];
	p.dport = ports[take8(s) % NELEM(ports)];
	if (p.l4 == IPPROTO_ICMP) {
		p.icmp_type = icmp_types[take8(s) % NELEM(icmp_types)];
		p.icmp_id = take16(s);
	}
	if (f & 0x02)
		p.flags |= KMT_F_BAD_L4_CSUM;
	if (f & 0x04)
		p.pad = take8(s) % 32;
	if (f & 0x08)
		p.truncate = take8(s);
	p.payload_len = s->n < KMT_PAYLOAD_MAX ? s->n : KMT_PAYLOAD_MAX;
	memcpy(p.payload, s->p, p.payload_len);
	len = kmt_pkt_build(&p, frame, KMT_FRAME_MAX);
	return len > 0 ? (size_t)len : 0;
}

/* Raw bytes, mostly with the IPv4 ethertype forced. */
static size_t build_raw(struct src *s, uint8_t *frame, int keep_type)
{
	size_t len = s->n < KMT_PAYLOAD_MAX ? s->n : KMT_PAYLOAD_MAX;

	memcpy(frame, s->p, len);
	if (len >= 14 && !keep_type) {
		frame[12] = 0x08;
		frame[13] = 0x00;
	}
	return len;
}

static void read_stats(struct kmm_stat out[KMM_R_MAX], __u64 c[KMM_C_MAX])
{
	int fd = bpf_map__fd(skel->maps.km_m_stats), err = 0;

	for (__u32 r = 0; r < KMM_R_MAX && !err; r++)
		err = kmt_percpu_sum(fd, r, &out[r].packets, 2);
	fd = bpf_map__fd(skel->maps.km_m_counters);
	for (__u32 i = 0; i < KMM_C_MAX && !err; i++)
		err = kmt_percpu_sum(fd, i, &c[i], 1);
	if (err)
		fz_die("stats", err);
}

/* The one reason counted; checks the counts. */
static int one_reason(const struct kmm_stat *b, const struct kmm_stat *a,
		      size_t len, int first, int last)
{
	int reason = -1, n = 0;

	for (int r = 0; r < KMM_R_MAX; r++) {
		__u64 dp = a[r].packets - b[r].packets;
		__u64 db = a[r].bytes - b[r].bytes;

		if (!dp && !db)
			continue;
		n++;
		reason = r;
		CHECK(dp == 1 && db == len,
		      "reason %d: +%llu packets, +%llu bytes, frame %zu", r,
		      (unsigned long long)dp, (unsigned long long)db, len);
	}
	CHECK(n == 1, "%d reasons counted", n);
	CHECK(reason >= first && reason <= last,
	      "reason %d outside the program's group %d..%d", reason, first,
	      last);
	seen[reason]++;
	return reason;
}

static void check_xdp(const uint8_t *in, size_t len, const uint8_t *out,
		      size_t out_len, uint32_t action, int reason)
{
	size_t ohl;

	CHECK(action == XDP_PASS || action == XDP_DROP, "XDP action %u",
	      action);
	CHECK(action == (reason <= KMM_R_XDP_DECAP ? XDP_PASS : XDP_DROP),
	      "reason %d with XDP action %u", reason, action);
	if (action != XDP_PASS)
		return;
	if (reason != KMM_R_XDP_DECAP) {
		CHECK(out_len == len && !memcmp(in, out, len),
		      "reason %d changed the frame", reason);
		return;
	}
	ohl = (size_t)(in[14] & 0xf) * 4;
	CHECK(len >= 14 + ohl &&
		  fz_is_inner(in, len, out, out_len, len - 14 - ohl, 0, 0),
	      "decap of %zu bytes (outer header %zu) gave %zu bytes, not the "
	      "inner packet",
	      len, ohl, out_len);
}

static void check_tc(const uint8_t *in, size_t len, const uint8_t *out,
		     size_t out_len, uint32_t action, int reason)
{
	int encap = reason == KMM_R_TC_ENCAP_LEARNED ||
		    reason == KMM_R_TC_ENCAP_DEFAULT;
	uint32_t saddr, daddr;
	char why[160];
	int verified;

	CHECK(action == TC_ACT_OK || action == TC_ACT_SHOT ||
		  action == TC_ACT_REDIRECT,
	      "TC action %u", action);
	if (reason <= KMM_R_TC_PASS_IPIP) {
		CHECK(action == TC_ACT_OK, "reason %d with TC action %u",
		      reason, action);
		CHECK(out_len == len && !memcmp(in, out, len),
		      "reason %d changed the frame", reason);
		return;
	}
	if (!encap) {
		CHECK(action == TC_ACT_SHOT, "reason %d with TC action %u",
		      reason, action);
		return;
	}
	CHECK(action == ((cfg.flags & KMM_CFG_F_KEEP_L2) ? TC_ACT_OK
							 : TC_ACT_REDIRECT),
	      "reason %d with TC action %u", reason, action);
	CHECK(out_len == len + 20 && !memcmp(out, in, 14) &&
		  !memcmp(out + 34, in + 14, len - 14),
	      "encap of %zu bytes gave %zu bytes, not the packet behind one "
	      "header",
	      len, out_len);
	memcpy(&saddr, out + 14 + 12, 4);
	memcpy(&daddr, out + 14 + 16, 4);
	CHECK(out[14] == 0x45 && out[14 + 9] == IPPROTO_IPIP && saddr == HOST &&
		  (daddr == EDGE_A || daddr == EDGE_B),
	      "outer header %02x proto %u %s -> %s", out[14], out[14 + 9],
	      kmt_ip_str(saddr), kmt_ip_str(daddr));
	verified = kmt_verify_frame(in, len, NULL, why, sizeof(why)) == 0;
	features[reason * 2 + verified] = 1;
	if (verified)
		CHECK(kmt_verify_frame(out, out_len, NULL, why, sizeof(why)) ==
			  0,
		      "well-formed input, output fails verification: %s", why);
}

static void set_config(uint8_t mode, uint8_t step)
{
	struct kmm_config want = cfg;

	/* Most inputs keep the time (flows stay live); the others step
	 * 1 ns .. ~9 min, past the idle time. */
	if (step >= 0xc0)
		want.test_now_ns += 1ULL << (step % 40);
	want.default_edge = (mode & 0x10) ? 0 : EDGE_B;
	want.flags = (mode & 0x20) ? KMM_CFG_F_KEEP_L2 : 0;
	if (memcmp(&want, &cfg, sizeof(cfg))) {
		cfg = want;
		config_write();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t in[KMT_FRAME_MAX], out[KMT_FRAME_MAX];
	struct kmm_stat before[KMM_R_MAX], after[KMM_R_MAX];
	__u64 cb[KMM_C_MAX], ca[KMM_C_MAX];
	struct src s = {data, size};
	uint8_t mode = take8(&s);
	int for_tc = mode & 0x01, reason, err;
	uint32_t retval;
	size_t len;

	set_config(mode, take8(&s));
	len = (mode & 0x06) == 0x06 ? build_raw(&s, in, (mode & 0xc0) == 0xc0)
				    : build_structured(&s, for_tc, in);
	/* BPF_PROG_TEST_RUN refuses frames shorter than Ethernet, and for
	 * an skb with the IPv4 ethertype shorter than Ethernet + IPv4 (the
	 * stack never hands TC such a frame either). */
	if (len < 14 || (for_tc && len < 14 + 20))
		return 0;
	read_stats(before, cb);
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in,
		    .data_size_in = (__u32)len, .data_out = out,
		    .data_size_out = sizeof(out), .repeat = 1);
	err = bpf_prog_test_run_opts(
	    for_tc ? bpf_program__fd(skel->progs.kmm_tc_egress)
		   : bpf_program__fd(skel->progs.kmm_xdp),
	    &o);
	if (err)
		fz_die("BPF_PROG_TEST_RUN", err);
	retval = o.retval;
	read_stats(after, ca);
	if (for_tc) {
		reason = one_reason(before, after, len, KMM_R_TC_PASS_NOT_IPV4,
				    KMM_R_TC_DROP_INTERNAL);
		check_tc(in, len, out, o.data_size_out, retval, reason);
	} else {
		reason = one_reason(before, after, len, KMM_R_XDP_PASS_NOT_IPV4,
				    KMM_R_XDP_DROP_INTERNAL);
		check_xdp(in, len, out, o.data_size_out, retval, reason);
	}
	features[reason * 2] = 1;
	for (int i = 0; i < KMM_C_MAX; i++)
		if (ca[i] != cb[i])
			features[KMM_R_MAX * 2 + i] = 1;
	return 0;
}
