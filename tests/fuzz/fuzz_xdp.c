// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: the real XDP program (kilimanjaro.bpf.o, km_xdp) under
 * BPF_PROG_TEST_RUN, loaded once with a settable clock in the namespace of
 * tests/bpf/run-in-netns.sh (bpf_fib_lookup needs its routes).
 *
 * Each input becomes one frame, in one of three ways (first byte):
 *  - structured: fields chosen from the world below (service and edge
 *    addresses, backends, denied/blocked/allowed sources, ports, IPIP,
 *    options, fragments, malformed lengths) and built by tests/lib's
 *    builder with correct checksums unless the input asks otherwise, so
 *    the deep paths (limits, punches, decap, echo) are reached;
 *  - raw with an IPv4 ethertype and a chosen source and destination;
 *  - raw bytes as they are.
 * The clock advances by an input-chosen step, so expiry paths run too;
 * state (buckets, punches, validated players) carries over between inputs
 * as it does on a real edge.
 *
 * Invariants checked on every input (a violation aborts: libFuzzer saves
 * the input and prints it):
 *  - the action is PASS, DROP, TX or REDIRECT, never ABORTED or another;
 *  - exactly one km_stats reason advanced, by one packet and by the frame's
 *    length in bytes, and the action matches the reason's group (pass,
 *    forward/reply, drop);
 *  - PASS hands the kernel the frame unchanged, but for a reply from a
 *    backend without a next hop (PASS_FIB on IPIP to the edge): that is
 *    the input's Ethernet header and exactly the inner packet, only its
 *    source port (and the L4 checksum) rewritten, and well-formed when
 *    the input was;
 *  - a TX/REDIRECT output is at most 20 bytes larger than the input, and
 *    when the input passes tests/lib's independent verifier (every header
 *    and checksum right) so does the output;
 *  - every event in km_events has a known type;
 *  - A2S (SVC1 UDP 27015 with challenges required, SVC1 UDP 27016 with
 *    the policy off, a key and a cached answer for both): an
 *    S2C_CHALLENGE is never larger than its request, and a cached answer
 *    goes only to a request with a valid challenge (recomputed here) or
 *    to the policy-off service; a game server's answer to the edge
 *    address is handed to the kernel decapsulated (no worker here).
 *
 * To steer the fuzzer without coverage from inside the BPF program, each
 * (reason, action), each counter that advanced and each verified/unverified
 * outcome is reported to libFuzzer as a feature (extra counters).
 */
#include <errno.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FZ_NAME "fuzz_xdp"
#define FZ_ON_FAIL() dump_frames()
#include <bpf/bpf.h>

#include "fuzz_common.h"
#include "kmtest.h"
#include "siphash.bpf.h"

/* The namespace of tests/bpf/run-in-netns.sh, as tests/bpf uses it. */
#define EDGE KMT_IP4(198, 18, 0, 1)
#define EDGE2 KMT_IP4(198, 18, 0, 9)
/* SVC1: UDP 27015, UDP 27016 -> 28016, TCP 27015 -> 28015, all to BE_TX */
#define SVC1 KMT_IP4(198, 18, 50, 10)
#define SVC2 KMT_IP4(198, 18, 50, 20) /* UDP 27015: BE_RD, tight limits */
#define SVC3 KMT_IP4(198, 18, 50, 30) /* UDP 27015: BE_NR (no route) */
#define SVC4 KMT_IP4(198, 18, 50, 40) /* UDP 27015: BE_OTHER */
#define BE_TX KMT_IP4(198, 18, 100, 2)
#define BE_OTHER KMT_IP4(198, 18, 100, 3)
#define BE_RD KMT_IP4(198, 18, 101, 2)
#define BE_NR KMT_IP4(198, 18, 200, 2)
#define NOT_BACKEND KMT_IP4(198, 18, 100, 9)
#define PLAYER KMT_IP4(198, 19, 0, 7)
#define PLAYER2 KMT_IP4(198, 19, 0, 8)
#define PLAYER_FAR KMT_IP4(198, 19, 1, 7)
#define PLAYER_E1 KMT_IP4(198, 18, 101, 50)
#define NOWHERE KMT_IP4(198, 18, 200, 7)
#define NOT_OURS KMT_IP4(198, 19, 200, 1)
#define DENIED KMT_IP4(198, 19, 66, 5)	/* in deny 198.19.66.0/24 */
#define ALLOWED KMT_IP4(198, 19, 77, 5) /* in allow 198.19.77.0/24 */
#define BLOCKED KMT_IP4(198, 19, 88, 1) /* on the block list for ever */

#define PUNCH_PORT 27999 /* SVC1 UDP port punched for PLAYER:40000 */

#define SEC_NS 1000000000ULL

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct kmt_env env;
/* The frame being checked, for the report of a broken invariant. */
static const uint8_t *cur_in, *cur_out;
static size_t cur_in_len, cur_out_len;
static uint32_t ifindex[2];
static uint64_t now_ns;
static unsigned long runs;
/* Frames per (reason, action) in this run, printed at exit. */
static unsigned long seen[KM_R_MAX][5];

/* Features for libFuzzer, cleared before each input by libFuzzer itself. */
enum {
	FEAT_VERDICT = 0,			    /* reason * 8 + action */
	FEAT_COUNTER = FEAT_VERDICT + KM_R_MAX * 8, /* counter advanced */
	FEAT_VERIFIED = FEAT_COUNTER + KM_C_MAX,    /* reason * 2 + verified */
	FEAT_MAX = FEAT_VERIFIED + KM_R_MAX * 2,
};
__attribute__((section("__libfuzzer_extra_counters"),
	       used)) static uint8_t features[FEAT_MAX];

static void dump_frames(void)
{
	if (cur_in)
		kmt_hexdiff("input frame vs output frame", cur_in, cur_in_len,
			    cur_out, cur_out_len);
}

static uint32_t env_ifindex(const char *name)
{
	const char *v = getenv(name);

	if (!v || !*v) {
		fprintf(stderr,
			"fuzz_xdp: %s not set: run through "
			"tests/bpf/run-in-netns.sh (bpf_fib_lookup needs its "
			"namespace)\n",
			name);
		exit(1);
	}
	return (uint32_t)strtoul(v, NULL, 10);
}

static void world_services(void)
{
	/* SVC2: tight limits with block times, so buckets fill and block. */
	struct km_svc_cfg tight = {
	    .unvalidated = {.pps = 5,
			    .burst_pkts = 3,
			    .bps = 2000,
			    .burst_bytes = 3000,
			    .block_ms = 2000},
	    .validated = {.pps = 20, .burst_pkts = 5, .block_ms = 500},
	    .total = {.pps = 50, .burst_pkts = 10},
	    .icmp = {.pps = 1, .burst_pkts = 2, .block_ms = 1000},
	};
	/* SVC1 UDP 27015: only the echo limit and a service-wide budget. */
	struct km_svc_cfg svc1 = {
	    .total = {.pps = 100, .burst_pkts = 20},
	    .icmp = {.pps = 2, .burst_pkts = 4},
	};
	int err = 0;

	err |=
	    kmt_service_add(&env, IPPROTO_UDP, SVC1, 27015, BE_TX, 0, 0, &svc1);
	err |= kmt_service_add(&env, IPPROTO_UDP, SVC1, 27016, BE_TX, 28016, 1,
			       NULL);
	err |= kmt_service_add(&env, IPPROTO_TCP, SVC1, 27015, BE_TX, 28015, 2,
			       NULL);
	err |= kmt_service_add(&env, IPPROTO_UDP, SVC2, 27015, BE_RD, 0, 3,
			       &tight);
	err |=
	    kmt_service_add(&env, IPPROTO_UDP, SVC3, 27015, BE_NR, 0, 4, NULL);
	err |= kmt_service_add(&env, IPPROTO_UDP, SVC4, 27015, BE_OTHER, 0, 5,
			       NULL);
	if (err)
		fz_die("service setup", err);
}

/* A2S: the edge key, and a 150-byte cached A2S_INFO answer for SVC1
 * UDP 27015 (challenges required) and 27016 (policy off). */
#define A2S_K0 0x0123456789abcdefULL
#define A2S_K1 0x0fedcba987654321ULL
#define A2S_EPOCH 5u

static void world_a2s(void)
{
	struct km_a2s_key k = {.k0 = A2S_K0,
			       .k1 = A2S_K1,
			       .prev_k0 = A2S_K0,
			       .prev_k1 = A2S_K1,
			       .epoch = A2S_EPOCH,
			       .flags = KM_A2S_KEY_F_VALID};
	struct km_a2s_cfg on = {.flags = KM_A2S_F_ENABLED,
				.refresh_ns = 5 * SEC_NS,
				/* never too old: the clock runs ahead */
				.max_age_ns = UINT64_MAX};
	static struct km_a2s_entry e;
	__u32 zero = 0, id;
	int err = 0;

	err |= bpf_map_update_elem(kmt_fd(&env, KM_MAP_A2S_KEY), &zero, &k, 0);
	e.seq = 2;
	e.flags = KM_A2S_E_VALID;
	e.updated_ns = KMT_T0;
	e.svc.proto = IPPROTO_UDP;
	e.svc.addr = SVC1;
	e.len = 150;
	memset(e.data, 0xff, 4);
	e.data[4] = 0x49;
	for (int i = 5; i < 150; i++)
		e.data[i] = (uint8_t)i;
	for (int i = 0; i < 150; i += 2)
		e.csum += (uint32_t)e.data[i] << 8 | e.data[i + 1];
	for (id = 0; id < 2; id++) {
		e.svc.port = KMT_BE16(id ? 27016 : 27015);
		if (id)
			on.flags |= KM_A2S_F_NO_CHALLENGE;
		err |= bpf_map_update_elem(kmt_fd(&env, KM_MAP_A2S_CFG), &id,
					   &on, 0);
		err |= bpf_map_update_elem(kmt_fd(&env, KM_MAP_A2S_INFO), &id,
					   &e, 0);
	}
	/* The return path's view of SVC1 UDP 27015 (lib/maps.c derives it in
	 * production): a game server's answer to the edge address is then
	 * recognised as an A2S answer for ingest. */
	{
		struct km_svc_rev_key rk = {.proto = IPPROTO_UDP,
					    .port = KMT_BE16(27015),
					    .svc_addr = SVC1,
					    .backend = BE_TX};
		struct km_svc_rev rv = {.id = 0, .svc_port = KMT_BE16(27015)};

		err |= bpf_map_update_elem(kmt_fd(&env, KM_MAP_SVC_REV), &rk,
					   &rv, 0);
	}
	if (err)
		fz_die("A2S setup", -EINVAL);
}

/* Whether the A2S_INFO request in `in` (IPv4 without options) carries the
 * challenge the edge would accept (docs/design.md "A2S"). */
static int a2s_valid_challenge(const uint8_t *in, size_t len)
{
	uint64_t m0, m1;
	uint32_t got, want;

	if (len < 14 + 20 + 8 + 29)
		return 0;
	/* Player address and port, the first half of the service address;
	 * then its second half, the service port, the epoch. */
	m0 = (uint64_t)in[26] | (uint64_t)in[27] << 8 |
	     (uint64_t)in[28] << 16 | (uint64_t)in[29] << 24 |
	     (uint64_t)in[34] << 32 | (uint64_t)in[35] << 40 |
	     (uint64_t)in[30] << 48 | (uint64_t)in[31] << 56;
	for (uint32_t ep = A2S_EPOCH - 1; ep <= A2S_EPOCH; ep++) {
		m1 = (uint64_t)in[32] | (uint64_t)in[33] << 8 |
		     (uint64_t)in[36] << 16 | (uint64_t)in[37] << 24 |
		     (uint64_t)ep << 32;
		want = (uint32_t)km_siphash16(A2S_K0, A2S_K1, m0, m1);
		want = want == 0 || want == 0xffffffffu ? 1 : want;
		memcpy(&got, in + 14 + 20 + 8 + 25, 4);
		if (got == want)
			return 1;
	}
	return 0;
}

static const struct km_punch_key punch_key = {
    .proto = IPPROTO_UDP,
    .svc_addr = SVC1,
    .remote = PLAYER,
    .svc_port = KMT_BE16(PUNCH_PORT),
    .remote_port = KMT_BE16(40000),
};

static void world_setup(void)
{
	struct km_config c;
	int err;

	err = kmt_env_open(&env, NULL, 0);
	if (err)
		fz_die("cannot load the XDP object", err);
	err = kmt_config_read(&env, &c);
	if (err)
		fz_die("km_config read", err);
	c.edge_addr = EDGE;
	c.flags = KM_CFG_F_ICMP_ECHO;
	c.punch_idle_ns = 30 * SEC_NS;
	c.validated_idle_ns = 60 * SEC_NS;
	c.rl_prefix_len = 24;
	c.active_lists = 0;
	err = kmt_config_write(&env, &c);
	err = err ?: kmt_edge_add(&env, EDGE);
	err = err ?: kmt_edge_add(&env, EDGE2);
	err = err
		  ?: kmt_prefix_add(&env, KM_MAP_DENY_A,
				    DENIED & KMT_IP4(255, 255, 255, 0), 24);
	err = err
		  ?: kmt_prefix_add(&env, KM_MAP_ALLOW_A,
				    ALLOWED & KMT_IP4(255, 255, 255, 0), 24);
	err = err ?: kmt_block_add(&env, BLOCKED, UINT64_MAX, KM_ORIGIN_CLI);
	err = err
		  ?: kmt_punch_add(&env, &punch_key, BE_TX, KM_ORIGIN_CLI,
				   KMT_T0);
	if (err)
		fz_die("world setup", err);
	world_services();
	world_a2s();
	now_ns = KMT_T0;
}

/* What this run reached, for the test log: a reason never seen means the
 * inputs no longer get there. */
static void print_seen(void)
{
	fprintf(stderr,
		"fuzz_xdp: %lu frames; per enum km_reason: frames "
		"(PASS/DROP/TX/REDIRECT)\n",
		runs);
	for (int r = 0; r < KM_R_MAX; r++)
		fprintf(stderr, "fuzz_xdp:   reason %2d: %lu/%lu/%lu/%lu\n", r,
			seen[r][XDP_PASS], seen[r][XDP_DROP], seen[r][XDP_TX],
			seen[r][XDP_REDIRECT]);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	atexit(print_seen);
	ifindex[0] = env_ifindex("KMT_IFINDEX0");
	ifindex[1] = env_ifindex("KMT_IFINDEX1");
	world_setup();
	return 0;
}

/* Addresses by role; pick_addr() adds a random one now and then. */
struct addrs {
	const uint32_t *a;
	size_t n;
};
#define ADDRS(...)                                                             \
	((struct addrs){(const uint32_t[]){__VA_ARGS__},                       \
			sizeof((const uint32_t[]){__VA_ARGS__}) /              \
			    sizeof(uint32_t)})
/* A plain packet: player-ish sources to services, edge and elsewhere. */
#define PLAIN_SRC                                                              \
	ADDRS(PLAYER, PLAYER2, PLAYER_FAR, PLAYER_E1, NOWHERE, DENIED,         \
	      ALLOWED, BLOCKED, BE_TX, SVC1)
#define PLAIN_DST ADDRS(SVC1, SVC2, SVC3, SVC4, EDGE, EDGE2, NOT_OURS)
/* IPIP: backends (or not) to the edge, carrying service -> player. */
#define OUTER_SRC                                                              \
	ADDRS(BE_TX, BE_RD, BE_NR, BE_OTHER, NOT_BACKEND, DENIED, BLOCKED)
#define INNER_SRC ADDRS(SVC1, SVC2, SVC3, SVC4, EDGE)
#define INNER_DST ADDRS(PLAYER, PLAYER2, PLAYER_FAR, PLAYER_E1, NOWHERE)

static const uint16_t ports[] = {27015, 27016, 40000, PUNCH_PORT,
				 28015, 28016, 0,     53};

#define PICK(arr, b) ((arr)[(b) % (sizeof(arr) / sizeof((arr)[0]))])

/* An address from a table, or (one time in 16) four raw bytes. */
static uint32_t pick_addr(struct src *s, struct addrs t)
{
	uint8_t b = take8(s);

	if ((b & 0xf) == 0xf)
		return take32(s);
	return t.a[b % t.n];
}

static uint16_t pick_port(struct src *s)
{
	uint8_t b = take8(s);

	return (b & 0xf) == 0xf ? take16(s) : PICK(ports, b);
}

/* Header fields with rare malformations: most inputs are well formed. */
static void pick_ip(struct src *s, struct kmt_ip *ip, struct addrs srcs,
		    struct addrs dsts)
{
	uint8_t f = take8(s);

	ip->saddr = pick_addr(s, srcs);
	ip->daddr = pick_addr(s, dsts);
	ip->ttl = (f & 0x40) ? take8(s) : 64;
	ip->tos = (f & 0x20) ? take8(s) : 0;
	if (f & 0x10)
		ip->frag = take16(s);
	if (f & 0x08)
		fz_ip_options(s, ip);
	if ((f & 0x07) == 0x07)
		fz_ip_malform(s, ip, 5);
}

static const uint8_t l4s[] = {
    IPPROTO_UDP,  IPPROTO_UDP,	IPPROTO_UDP, IPPROTO_TCP,
    IPPROTO_ICMP, IPPROTO_ICMP, 47,	     0};

/* Returns the frame length, or 0 when the builder refuses the spec. */
static size_t build_structured(struct src *s, uint8_t *frame, size_t cap)
{
	static struct kmt_pkt p;
	uint8_t f;
	int len;

	kmt_pkt_init(&p);
	f = take8(s);
	p.ipip = (f & 0x03) == 0x03;
	if (p.ipip) {
		uint8_t o = take8(s);

		pick_ip(s, &p.outer, OUTER_SRC, PLAIN_DST);
		/* Mostly to the edge, where decapsulation happens. */
		if (o & 0x7)
			p.outer.daddr = o & 0x8 ? EDGE2 : EDGE;
		pick_ip(s, &p.ip, INNER_SRC, INNER_DST);
	} else {
		pick_ip(s, &p.ip, PLAIN_SRC, PLAIN_DST);
	}
	p.l4 = PICK(l4s, take8(s));
	p.sport = pick_port(s);
	p.dport = pick_port(s);
	if (p.l4 == IPPROTO_TCP) {
		p.tcp_flags = take8(s);
		p.tcp_seq = take32(s);
	} else if (p.l4 == IPPROTO_ICMP) {
		uint8_t t = take8(s);

		/* Mostly echo requests (type 8, code 0). */
		p.icmp_type = t & 0x80 ? take8(s) : 8;
		p.icmp_code = t & 0x40 ? take8(s) : 0;
		p.icmp_id = take16(s);
	}
	if (f & 0x04)
		p.flags |= KMT_F_BAD_L4_CSUM;
	if (f & 0x08)
		p.flags |= KMT_F_UDP_CSUM_ZERO;
	if (f & 0x10)
		p.pad = take8(s) % 64;
	if (f & 0x20)
		p.truncate = take8(s);
	if (f & 0x40)
		p.eth_type = take16(s);
	p.payload_len = s->n < KMT_PAYLOAD_MAX ? s->n : KMT_PAYLOAD_MAX;
	memcpy(p.payload, s->p, p.payload_len);
	len = kmt_pkt_build(&p, frame, cap);
	return len > 0 ? (size_t)len : 0;
}

/* Raw bytes; with `steer`, an IPv4 ethertype and chosen addresses. */
static size_t build_raw(struct src *s, uint8_t *frame, size_t cap, int steer)
{
	uint32_t sa = 0, da = 0;
	size_t len;

	if (steer) {
		sa = pick_addr(s, PLAIN_SRC);
		da = pick_addr(s, PLAIN_DST);
	}
	len = s->n < cap ? s->n : cap;
	memcpy(frame, s->p, len);
	if (steer && len >= 14) {
		frame[12] = 0x08;
		frame[13] = 0x00;
	}
	if (steer && len >= 14 + 20) {
		memcpy(frame + 14 + 12, &sa, 4);
		memcpy(frame + 14 + 16, &da, 4);
	}
	return len;
}

static void advance_clock(uint8_t b)
{
	int err;

	/* Three inputs in four keep the time, so buckets fill up; the
	 * others step 1 ns .. ~9 min: within a bucket, past block times and
	 * idle timeouts. */
	if (b < 0xc0)
		return;
	now_ns += 1ULL << (b % 40);
	err = kmt_clock_set(&env, now_ns);
	if (err)
		fz_die("clock", err);
}

/* The installed punch idles out as the clock runs: renew it so the punched
 * path stays reachable (learned ones come and go with the decap path). */
static void punch_refresh(void)
{
	int err = kmt_punch_add(&env, &punch_key, BE_TX, KM_ORIGIN_CLI, now_ns);

	if (err)
		fz_die("punch", err);
}

static void drain_events(void)
{
	struct km_event ev[64];
	int n, i;

	/* The ring holds thousands; read it now and then so producing keeps
	 * working (a full ring is a counted loss, also fine). */
	while ((n = kmt_events(&env, ev, 64)) > 0) {
		for (i = 0; i < n && i < 64; i++)
			CHECK(ev[i].type == KM_EV_PUNCH_LEARNED ||
				  ev[i].type == KM_EV_BLOCK_ADDED,
			      "event type %u", ev[i].type);
		if (n < 64)
			break;
	}
	if (n < 0)
		fz_die("events", n);
}

static const char *action_name(uint32_t a)
{
	static const char *const names[] = {"ABORTED", "DROP", "PASS", "TX",
					    "REDIRECT"};

	return a < 5 ? names[a] : "unknown";
}

/* The action the reason's group implies (bpf/stats.bpf.h km_finish). */
static int action_fits(int reason, uint32_t action)
{
	if (reason <= KM_R_PASS_FIB)
		return action == XDP_PASS;
	if (reason == KM_R_TX_ICMP_ECHO || reason == KM_R_TX_A2S_CHALLENGE ||
	    reason == KM_R_TX_A2S_CACHED)
		return action == XDP_TX;
	if (reason == KM_R_REDIR_A2S_WORKER || reason == KM_R_REDIR_A2S_INGEST)
		return action == XDP_REDIRECT;
	if (reason == KM_R_PASS_A2S_INGEST)
		return action == XDP_PASS;
	if (reason < KM_R_DROP_TRUNCATED)
		return action == XDP_TX || action == XDP_REDIRECT;
	return action == XDP_DROP;
}

/*
 * Whether the input passes the verifier at the depth the output will be
 * checked. The verifier reads two IPv4 levels; decapsulation moves the
 * inner packet up one level, so there the inner packet is checked as a
 * frame of its own (an IPIP packet inside IPIP has a third level the
 * verifier never read in the input).
 */
static int input_well_formed(const uint8_t *in, size_t len, int reason)
{
	static uint8_t inner[KMT_FRAME_MAX];
	char why[160];
	size_t ohl;

	if (kmt_verify_frame(in, len, NULL, why, sizeof(why)))
		return 0;
	if (reason != KM_R_FWD_DECAP)
		return 1;
	ohl = (size_t)(in[14] & 0xf) * 4;
	if (len < 14 + ohl)
		return 0;
	memcpy(inner, in, 14);
	memcpy(inner + 14, in + 14 + ohl, len - 14 - ohl);
	return !kmt_verify_frame(inner, len - ohl, NULL, why, sizeof(why));
}

/* A reply from a backend whose player has no next hop yet: the data plane
 * decapsulates it for the kernel (bpf/decap.bpf.h). Only IPIP to an edge
 * address takes the decap path; PASS_FIB elsewhere is the forward path. */
static int decap_to_kernel(const uint8_t *in, size_t len, int reason)
{
	uint32_t daddr;

	if (reason == KM_R_PASS_A2S_INGEST)
		return 1;
	if (reason != KM_R_PASS_FIB || len < 14 + 20 ||
	    in[14 + 9] != IPPROTO_IPIP)
		return 0;
	memcpy(&daddr, in + 14 + 16, 4);
	return daddr == EDGE || daddr == EDGE2;
}

static void check_decap_pass(const uint8_t *in, size_t len,
			     const uint8_t *out, size_t out_len)
{
	size_t ohl = (size_t)(in[14] & 0xf) * 4, tot, ihl;
	uint32_t mask = 0;
	char why[160];

	tot = (size_t)in[14 + 2] << 8 | in[14 + 3];
	CHECK(tot >= ohl + 20 && len >= 14 + tot,
	      "decapsulated for the kernel, but outer tot_len %zu, header "
	      "%zu, frame %zu",
	      tot, ohl, len);
	ihl = (size_t)(in[14 + ohl] & 0xf) * 4;
	/* The source port and its checksum, where a service rewrites it. */
	if (in[14 + ohl + 9] == IPPROTO_UDP)
		mask = 0x3 | 0x3 << 6;
	else if (in[14 + ohl + 9] == IPPROTO_TCP)
		mask = 0x3 | 0x3 << 16;
	CHECK(fz_is_inner(in, len, out, out_len, tot - ohl, ihl, mask),
	      "PASS_FIB decap of %zu bytes (outer header %zu, tot_len %zu) "
	      "gave %zu bytes, not the inner packet",
	      len, ohl, tot, out_len);
	if (input_well_formed(in, len, KM_R_FWD_DECAP))
		CHECK(kmt_verify_frame(out, out_len, NULL, why, sizeof(why)) ==
			  0,
		      "PASS_FIB decap of a well-formed input fails "
		      "verification: %s",
		      why);
}

static void check_run(const uint8_t *in, size_t in_len, const uint8_t *out,
		      const struct kmt_xdp_run *run,
		      const struct km_stat before[KM_R_MAX],
		      const struct km_stat after[KM_R_MAX])
{
	uint32_t a = run->retval;
	int reason = -1, counted = 0, verified;
	char why[160];

	CHECK(a == XDP_PASS || a == XDP_DROP || a == XDP_TX ||
		  a == XDP_REDIRECT,
	      "action %u (%s)", a, action_name(a));
	for (int i = 0; i < KM_R_MAX; i++) {
		__u64 dp = after[i].packets - before[i].packets;
		__u64 db = after[i].bytes - before[i].bytes;

		if (!dp && !db)
			continue;
		counted++;
		reason = i;
		CHECK(dp == 1 && db == in_len,
		      "reason %d advanced by %llu packets, %llu bytes (frame "
		      "%zu bytes)",
		      i, (unsigned long long)dp, (unsigned long long)db,
		      in_len);
	}
	CHECK(counted == 1, "%d reasons advanced (last %d), action %s", counted,
	      reason, action_name(a));
	CHECK(action_fits(reason, a), "reason %d with action %s", reason,
	      action_name(a));
	features[FEAT_VERDICT + reason * 8 + a] = 1;
	seen[reason][a]++;

	if (a == XDP_PASS && decap_to_kernel(in, in_len, reason))
		check_decap_pass(in, in_len, out, run->out_len);
	else if (a == XDP_PASS)
		CHECK(run->out_len == in_len && !memcmp(out, in, in_len),
		      "reason %d: PASS changed the frame (%zu -> %zu bytes)",
		      reason, in_len, run->out_len);
	if (a != XDP_TX && a != XDP_REDIRECT)
		return;
	/* The amplification invariant. */
	if (reason == KM_R_TX_A2S_CHALLENGE)
		CHECK(run->out_len <= in_len,
		      "S2C_CHALLENGE of %zu bytes to a %zu-byte request",
		      run->out_len, in_len);
	if (reason == KM_R_TX_A2S_CACHED) {
		CHECK(in_len >= 14 + 20 + 8 &&
			  (((size_t)in[36] << 8 | in[37]) == 27016 ||
			   a2s_valid_challenge(in, in_len)),
		      "cached A2S answer to a request without a valid "
		      "challenge");
		return;
	}
	CHECK(run->out_len <= in_len + 20,
	      "reason %d: output %zu bytes from %zu", reason, run->out_len,
	      in_len);
	verified = input_well_formed(in, in_len, reason);
	features[FEAT_VERIFIED + reason * 2 + verified] = 1;
	if (verified)
		CHECK(kmt_verify_frame(out, run->out_len, NULL, why,
				       sizeof(why)) == 0,
		      "reason %d, action %s: a well-formed input gave an "
		      "output that fails verification: %s",
		      reason, action_name(a), why);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t in[KMT_FRAME_MAX], out[KMT_FRAME_MAX];
	struct km_stat before[KM_R_MAX], after[KM_R_MAX];
	__u64 cb[KM_C_MAX], ca[KM_C_MAX];
	struct kmt_xdp_run run = {0};
	struct src s = {data, size};
	uint8_t mode = take8(&s);
	size_t len;
	int err;

	advance_clock(take8(&s));
	switch (mode % 4) {
	case 0:
	case 1:
		len = build_structured(&s, in, sizeof(in));
		break;
	case 2:
		len = build_raw(&s, in, KMT_PAYLOAD_MAX, 1);
		break;
	default:
		len = build_raw(&s, in, KMT_PAYLOAD_MAX, 0);
		break;
	}
	/* BPF_PROG_TEST_RUN refuses frames shorter than Ethernet. */
	if (len < 14)
		return 0;

	err = kmt_stats(&env, before);
	err = err ?: kmt_counters(&env, cb);
	if (err)
		fz_die("stats", err);
	run.in = in;
	run.in_len = len;
	run.out = out;
	run.out_cap = sizeof(out);
	run.ifindex = ifindex[(mode >> 2) & 1];
	err = kmt_env_run(&env, &run);
	if (err)
		fz_die("BPF_PROG_TEST_RUN", err);
	err = kmt_stats(&env, after);
	err = err ?: kmt_counters(&env, ca);
	if (err)
		fz_die("stats", err);
	cur_in = in;
	cur_in_len = len;
	cur_out = out;
	cur_out_len = run.out_len;
	check_run(in, len, out, &run, before, after);
	for (int i = 0; i < KM_C_MAX; i++)
		if (ca[i] != cb[i])
			features[FEAT_COUNTER + i] = 1;
	if (++runs % 256 == 0) {
		drain_events();
		punch_refresh();
	}
	return 0;
}
