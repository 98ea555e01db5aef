// SPDX-License-Identifier: GPL-2.0-only
/*
 * The A2S stage (bpf/a2s.bpf.h, docs/design.md "A2S") under
 * BPF_PROG_TEST_RUN: every row of the decision table, the cache's seqlock
 * and age rules, odd requests, the decap ingest branch, and the
 * amplification invariant over every case and a fuzzed stream.
 *
 * Each case asserts the XDP action, the one reason counted, the output
 * bytes against a frame built from scratch (checksums recomputed by
 * tests/lib's independent verifier) and the exact change of every
 * km_a2s_stats counter. Challenges are recomputed with a byte-oriented
 * SipHash-2-4 written here from the paper, itself checked against the
 * reference test vectors.
 *
 * Loading the object costs seconds on this machine, so cases are grouped
 * in tables: one criterion test (one load) per group.
 */
#include "edge_common.h"

#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <bpf/bpf.h>
#include <xdp/xsk.h>

#include "siphash.bpf.h"

/* ---- reference SipHash-2-4 (byte-oriented, any length) ---- */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static void ref_round(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = ROTL(v[1], 13) ^ v[0];
	v[0] = ROTL(v[0], 32);
	v[2] += v[3];
	v[3] = ROTL(v[3], 16) ^ v[2];
	v[0] += v[3];
	v[3] = ROTL(v[3], 21) ^ v[0];
	v[2] += v[1];
	v[1] = ROTL(v[1], 17) ^ v[2];
	v[2] = ROTL(v[2], 32);
}

static uint64_t le64(const uint8_t *b, size_t n)
{
	uint64_t x = 0;

	for (size_t i = 0; i < n; i++)
		x |= (uint64_t)b[i] << (8 * i);
	return x;
}

static uint64_t ref_siphash(const uint8_t key[16], const uint8_t *m, size_t n)
{
	uint64_t k0 = le64(key, 8), k1 = le64(key + 8, 8), b;
	uint64_t v[4] = {k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL,
			 k0 ^ 0x6c7967656e657261ULL,
			 k1 ^ 0x7465646279746573ULL};
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		uint64_t w = le64(m + i, 8);

		v[3] ^= w;
		ref_round(v);
		ref_round(v);
		v[0] ^= w;
	}
	b = (uint64_t)n << 56 | le64(m + i, n - i);
	v[3] ^= b;
	ref_round(v);
	ref_round(v);
	v[0] ^= b;
	v[2] ^= 0xff;
	for (int r = 0; r < 4; r++)
		ref_round(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* SipHash-2-4 with key 00..0f over 00..(n-1), n = 0..63: the reference
 * implementation's vectors, as little-endian u64 of the 8 output bytes. */
static const uint64_t sip_vectors[64] = {
    0x726fdb47dd0e0e31ULL, 0x74f839c593dc67fdULL, 0x0d6c8009d9a94f5aULL,
    0x85676696d7fb7e2dULL, 0xcf2794e0277187b7ULL, 0x18765564cd99a68dULL,
    0xcbc9466e58fee3ceULL, 0xab0200f58b01d137ULL, 0x93f5f5799a932462ULL,
    0x9e0082df0ba9e4b0ULL, 0x7a5dbbc594ddb9f3ULL, 0xf4b32f46226bada7ULL,
    0x751e8fbc860ee5fbULL, 0x14ea5627c0843d90ULL, 0xf723ca908e7af2eeULL,
    0xa129ca6149be45e5ULL, 0x3f2acc7f57c29bdbULL, 0x699ae9f52cbe4794ULL,
    0x4bc1b3f0968dd39cULL, 0xbb6dc91da77961bdULL, 0xbed65cf21aa2ee98ULL,
    0xd0f2cbb02e3b67c7ULL, 0x93536795e3a33e88ULL, 0xa80c038ccd5ccec8ULL,
    0xb8ad50c6f649af94ULL, 0xbce192de8a85b8eaULL, 0x17d835b85bbb15f3ULL,
    0x2f2e6163076bcfadULL, 0xde4daaaca71dc9a5ULL, 0xa6a2506687956571ULL,
    0xad87a3535c49ef28ULL, 0x32d892fad841c342ULL, 0x7127512f72f27cceULL,
    0xa7f32346f95978e3ULL, 0x12e0b01abb051238ULL, 0x15e034d40fa197aeULL,
    0x314dffbe0815a3b4ULL, 0x027990f029623981ULL, 0xcadcd4e59ef40c4dULL,
    0x9abfd8766a33735cULL, 0x0e3ea96b5304a7d0ULL, 0xad0c42d6fc585992ULL,
    0x187306c89bc215a9ULL, 0xd4a60abcf3792b95ULL, 0xf935451de4f21df2ULL,
    0xa9538f0419755787ULL, 0xdb9acddff56ca510ULL, 0xd06c98cd5c0975ebULL,
    0xe612a3cb9ecba951ULL, 0xc766e62cfcadaf96ULL, 0xee64435a9752fe72ULL,
    0xa192d576b245165aULL, 0x0a8787bf8ecb74b2ULL, 0x81b3e73d20b49b6fULL,
    0x7fa8220ba3b2eceaULL, 0x245731c13ca42499ULL, 0xb78dbfaf3a8d83bdULL,
    0xea1ad565322a1a0bULL, 0x60e61c23a3795013ULL, 0x6606d7e446282b93ULL,
    0x6ca4ecb15c5f91e1ULL, 0x9f626da15c9625f3ULL, 0xe51b38608ef25f57ULL,
    0x958a324ceb064572ULL,
};

Test(a2s_siphash, vectors,
     .description = "reference SipHash-2-4 matches the published vectors; "
		    "bpf/siphash.bpf.h matches both")
{
	uint8_t key[16], msg[64];
	uint64_t k0, k1;

	for (int i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (size_t n = 0; n < 64; n++)
		cr_assert_eq(ref_siphash(key, msg, n), sip_vectors[n],
			     "reference SipHash of %zu bytes", n);
	k0 = le64(key, 8);
	k1 = le64(key + 8, 8);
	cr_assert_eq(km_siphash16(k0, k1, le64(msg, 8), le64(msg + 8, 8)),
		     sip_vectors[16],
		     "bpf/siphash.bpf.h on the 16-byte vector");
	srandom(7);
	for (int t = 0; t < 2000; t++) {
		for (int i = 0; i < 16; i++) {
			key[i] = (uint8_t)random();
			msg[i] = (uint8_t)random();
		}
		cr_assert_eq(km_siphash16(le64(key, 8), le64(key + 8, 8),
					  le64(msg, 8), le64(msg + 8, 8)),
			     ref_siphash(key, msg, 16),
			     "bpf/siphash.bpf.h differs from the reference "
			     "(trial %d)",
			     t);
	}
}

/* ---- the world ---- */

#define A2S_ID ID_SVC1_UDP /* SVC1:27015, backend BE_TX via e0 */
#define REFRESH_NS (5 * SEC_NS)
#define MAX_AGE_NS (30 * SEC_NS)
#define EPOCH 1000u
#define PPORT 40000

static const uint8_t INFO_REQ[25] = {
    0xff, 0xff, 0xff, 0xff, 0x54, 'S', 'o', 'u', 'r', 'c', 'e', ' ', 'E',
    'n',  'g',	'i',  'n',  'e',  ' ', 'Q', 'u', 'e', 'r', 'y', 0};

struct keyset {
	uint64_t k0, k1, prev_k0, prev_k1;
	uint32_t epoch;
};

static struct keyset keys = {
    .k0 = 0x0123456789abcdefULL,
    .k1 = 0xfedcba9876543210ULL,
    .prev_k0 = 0x0123456789abcdefULL,
    .prev_k1 = 0xfedcba9876543210ULL,
    .epoch = EPOCH,
};

static void key_write(uint32_t flags)
{
	struct km_a2s_key k = {
	    .k0 = keys.k0,
	    .k1 = keys.k1,
	    .prev_k0 = keys.prev_k0,
	    .prev_k1 = keys.prev_k1,
	    .epoch = keys.epoch,
	    .key_id = 1,
	    .flags = flags,
	    .epoch_s = 30,
	};
	uint32_t zero = 0;

	cr_assert_eq(
	    bpf_map_update_elem(kmt_fd(&env, KM_MAP_A2S_KEY), &zero, &k, 0), 0);
}

static void a2s_cfg_write(uint32_t id, uint32_t flags)
{
	struct km_a2s_cfg c = {
	    .flags = flags,
	    .refresh_ns = REFRESH_NS,
	    .max_age_ns = MAX_AGE_NS,
	    .timeout_ns = 15 * SEC_NS,
	};

	cr_assert_eq(
	    bpf_map_update_elem(kmt_fd(&env, KM_MAP_A2S_CFG), &id, &c, 0), 0);
}

/* The challenge the edge must issue, from the reference SipHash over the
 * ABI's byte string. */
static uint32_t ref_challenge(uint64_t k0, uint64_t k1, uint32_t player,
			      uint16_t pport, uint32_t svc, uint16_t sport,
			      uint32_t epoch)
{
	uint8_t key[16], m[16];
	uint16_t pp = htons(pport), sp = htons(sport);
	uint32_t c;

	for (int i = 0; i < 8; i++) {
		key[i] = (uint8_t)(k0 >> (8 * i));
		key[8 + i] = (uint8_t)(k1 >> (8 * i));
	}
	memcpy(m, &player, 4);
	memcpy(m + 4, &pp, 2);
	memcpy(m + 6, &svc, 4);
	memcpy(m + 10, &sp, 2);
	for (int i = 0; i < 4; i++)
		m[12 + i] = (uint8_t)(epoch >> (8 * i));
	c = (uint32_t)ref_siphash(key, m, 16);
	return c == 0 || c == 0xffffffffu ? 1 : c;
}

static uint32_t chal_of(uint32_t player, uint16_t pport, uint32_t epoch)
{
	return ref_challenge(keys.k0, keys.k1, player, pport, SVC1, 27015,
			     epoch);
}

static void ch_bytes(uint32_t c, uint8_t out[4])
{
	for (int i = 0; i < 4; i++)
		out[i] = (uint8_t)(c >> (8 * i));
}

/* A2S_INFO from PLAYER:PPORT to SVC1:27015; with_ch appends c. */
static void info_pkt(struct kmt_pkt *p, int with_ch, uint32_t c)
{
	uint8_t b[4];

	player_pkt(p);
	p->payload_len = 0;
	kmt_pkt_payload(p, INFO_REQ, sizeof(INFO_REQ));
	if (with_ch) {
		ch_bytes(c, b);
		kmt_pkt_payload(p, b, 4);
	}
}

/* A2S_PLAYER (0x55) or A2S_RULES (0x56) with challenge c. */
static void other_pkt(struct kmt_pkt *p, uint8_t type, uint32_t c)
{
	uint8_t b[9] = {0xff, 0xff, 0xff, 0xff, type};

	player_pkt(p);
	p->payload_len = 0;
	ch_bytes(c, b + 5);
	kmt_pkt_payload(p, b, 9);
}

/* A cached A2S_INFO answer of `len` bytes: FF FF FF FF 49 then a counter
 * starting at `seed`. */
static uint8_t answer[KM_A2S_INFO_MAX];
static size_t answer_len;

static uint32_t be_sum(const uint8_t *d, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i < n; i += 2)
		s += (uint32_t)d[i] << 8 | (i + 1 < n ? d[i + 1] : 0);
	return s;
}

static void answer_make(size_t len, uint8_t seed)
{
	memset(answer, 0xff, 4);
	answer[4] = 0x49;
	for (size_t i = 5; i < len; i++)
		answer[i] = (uint8_t)(seed + i);
	answer_len = len;
}

struct entry_spec {
	uint32_t seq;
	uint32_t flags;
	uint64_t updated_ns;
	uint32_t svc_addr;
	uint16_t svc_port;
};

static void entry_write(uint32_t id, const struct entry_spec *s)
{
	struct km_a2s_entry *e = calloc(1, sizeof(*e));

	cr_assert(e);
	e->seq = s->seq;
	e->flags = s->flags;
	e->updated_ns = s->updated_ns;
	e->svc.proto = IPPROTO_UDP;
	e->svc.addr = s->svc_addr ? s->svc_addr : SVC1;
	e->svc.port = htons(s->svc_port ? s->svc_port : 27015);
	e->len = (uint16_t)answer_len;
	memcpy(e->data, answer, answer_len);
	e->csum = be_sum(answer, answer_len);
	cr_assert_eq(
	    bpf_map_update_elem(kmt_fd(&env, KM_MAP_A2S_INFO), &id, e, 0), 0);
	free(e);
}

/* A fresh, valid entry of 150 bytes (a realistic A2S_INFO answer). */
static void entry_fresh(void)
{
	struct entry_spec s = {.seq = 2,
			       .flags = KM_A2S_E_VALID,
			       .updated_ns = kmt_clock_get(&env)};

	answer_make(150, 1);
	entry_write(A2S_ID, &s);
}

static void a2s_world(void)
{
	world_setup();
	keys.k0 = keys.prev_k0 = 0x0123456789abcdefULL;
	keys.k1 = keys.prev_k1 = 0xfedcba9876543210ULL;
	keys.epoch = EPOCH;
	key_write(KM_A2S_KEY_F_VALID);
	a2s_cfg_write(A2S_ID, KM_A2S_F_ENABLED);
}

/* ---- the worker's AF_XDP socket ---- */

#define UMEM_FRAMES 64
#define UMEM_FRAME 2048

static struct xsk_socket *xsk;
static struct xsk_umem *umem;
static void *umem_area;
static struct xsk_ring_cons xrx, xcq;
static struct xsk_ring_prod xtx, xfq;

/* A real AF_XDP socket on e0 queue 0 (copy mode: veth), registered in
 * km_xsks slot 0 as the worker registers itself. The program stays the
 * test's: nothing is attached to e0. */
static void worker_open(void)
{
	struct xsk_socket_config cfg = {
	    .rx_size = XSK_RING_CONS__DEFAULT_NUM_DESCS,
	    .tx_size = XSK_RING_PROD__DEFAULT_NUM_DESCS,
	    .libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
	    .bind_flags = XDP_COPY,
	};
	int err;

	umem_area = mmap(NULL, UMEM_FRAMES * UMEM_FRAME, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert(umem_area != MAP_FAILED);
	err = xsk_umem__create(&umem, umem_area, UMEM_FRAMES * UMEM_FRAME, &xfq,
			       &xcq, NULL);
	cr_assert_eq(err, 0, "xsk_umem__create: %s", strerror(-err));
	err = xsk_socket__create(&xsk, "e0", 0, umem, &xrx, &xtx, &cfg);
	cr_assert_eq(err, 0, "xsk_socket__create(e0, queue 0): %s",
		     strerror(-err));
	err = xsk_socket__update_xskmap(xsk, kmt_fd(&env, KM_MAP_XSKS));
	cr_assert_eq(err, 0, "xsk_socket__update_xskmap: %s", strerror(-err));
}

/* Close the socket: the kernel empties its km_xsks slot. */
static void worker_close(void)
{
	if (xsk)
		xsk_socket__delete(xsk);
	xsk = NULL;
	if (umem)
		xsk_umem__delete(umem);
	umem = NULL;
	if (umem_area && umem_area != MAP_FAILED)
		munmap(umem_area, UMEM_FRAMES * UMEM_FRAME);
	umem_area = NULL;
}

static void a2s_teardown(void)
{
	worker_close();
	world_teardown();
}

TestSuite(a2s, .init = a2s_world, .fini = a2s_teardown, .timeout = 120);

/* ---- running one request ---- */

static struct km_a2s_stat a2s_stat(uint32_t id)
{
	struct km_a2s_stat s;

	cr_assert_eq(kmt_percpu_sum(kmt_fd(&env, KM_MAP_A2S_STATS), id,
				    (__u64 *)&s, sizeof(s) / 8),
		     0);
	return s;
}

/* Expected change of km_a2s_stats[A2S_ID] for one request. */
struct dstat {
	int req, chal, bad, cached, stale, worker, fwd, ingested;
};

static void expect_dstat(const char *what, const struct km_a2s_stat *b,
			 const struct km_a2s_stat *a, const struct dstat *d)
{
	cr_assert(a->requests - b->requests == (__u64)d->req &&
		      a->challenges - b->challenges == (__u64)d->chal &&
		      a->bad_challenges - b->bad_challenges == (__u64)d->bad &&
		      a->cached - b->cached == (__u64)d->cached &&
		      a->stale - b->stale == (__u64)d->stale &&
		      a->to_worker - b->to_worker == (__u64)d->worker &&
		      a->forwarded - b->forwarded == (__u64)d->fwd &&
		      a->ingested - b->ingested == (__u64)d->ingested,
		  "%s: km_a2s_stats moved by requests %llu challenges %llu "
		  "bad %llu cached %llu stale %llu to_worker %llu forwarded "
		  "%llu ingested %llu; expected %d %d %d %d %d %d %d %d",
		  what, (unsigned long long)(a->requests - b->requests),
		  (unsigned long long)(a->challenges - b->challenges),
		  (unsigned long long)(a->bad_challenges - b->bad_challenges),
		  (unsigned long long)(a->cached - b->cached),
		  (unsigned long long)(a->stale - b->stale),
		  (unsigned long long)(a->to_worker - b->to_worker),
		  (unsigned long long)(a->forwarded - b->forwarded),
		  (unsigned long long)(a->ingested - b->ingested), d->req,
		  d->chal, d->bad, d->cached, d->stale, d->worker, d->fwd,
		  d->ingested);
}

/* The reply to the source may only be larger than its request when the
 * request proved the source's address (a valid challenge) or the service
 * runs the unsafe "off" policy. Replies to the source: XDP_TX whose IPv4
 * destination is the request's source. */
static void check_amplification(const struct res *r, int proven)
{
	uint32_t dst, src;

	if (r->action != XDP_TX || r->out_len < 34)
		return;
	memcpy(&dst, r->out + 14 + 16, 4);
	memcpy(&src, r->in + 14 + 12, 4);
	if (dst != src)
		return;
	if (!proven)
		cr_assert_leq(r->out_len, r->in_len,
			      "amplification: a %zu-byte reply to an unproven "
			      "source's %zu-byte request",
			      r->out_len, r->in_len);
}

/* Expected reply to p: MACs, addresses and ports swapped, TTL 64, id 0,
 * DF, TOS kept, the given UDP payload. */
static void expect_reply(const struct res *r, const struct kmt_pkt *p,
			 const uint8_t *pay, size_t n)
{
	struct kmt_pkt e = *p;
	uint8_t exp[KMT_FRAME_MAX];
	int len;

	memcpy(e.eth_src, p->eth_dst, 6);
	memcpy(e.eth_dst, p->eth_src, 6);
	e.ip.saddr = p->ip.daddr;
	e.ip.daddr = p->ip.saddr;
	e.ip.id = 0;
	e.ip.frag = KMT_IP_DF;
	e.ip.ttl = 64;
	e.sport = p->dport;
	e.dport = p->sport;
	e.pad = 0;
	e.flags = 0;
	e.payload_len = 0;
	cr_assert_eq(kmt_pkt_payload(&e, pay, n), 0);
	len = kmt_pkt_build(&e, exp, sizeof(exp));
	cr_assert_gt(len, 0);
	expect_frame(r, exp, (size_t)len);
}

static void expect_challenge_reply(const struct res *r, const struct kmt_pkt *p,
				   uint32_t c)
{
	uint8_t pay[9] = {0xff, 0xff, 0xff, 0xff, 0x41};

	ch_bytes(c, pay + 5);
	expect_reply(r, p, pay, sizeof(pay));
}

/* What a case expects. */
enum outcome {
	O_CHALLENGE, /* XDP_TX S2C_CHALLENGE with the reference challenge */
	O_CACHED,    /* XDP_TX the cached answer */
	O_WORKER,    /* XDP_REDIRECT to the worker, frame untouched */
	O_FORWARD,   /* IPIP to BE_TX (XDP_TX), frame otherwise untouched */
};

/* Run p, check outcome, stats delta and the amplification invariant. */
static void run_case(const char *what, const struct kmt_pkt *p, enum outcome o,
		     const struct dstat *d, int proven)
{
	struct km_a2s_stat b = a2s_stat(A2S_ID), a;
	static const unsigned int reasons[] = {
	    [O_CHALLENGE] = KM_R_TX_A2S_CHALLENGE,
	    [O_CACHED] = KM_R_TX_A2S_CACHED,
	    [O_WORKER] = KM_R_REDIR_A2S_WORKER,
	    [O_FORWARD] = KM_R_FWD_SERVICE,
	};
	static const uint32_t actions[] = {
	    [O_CHALLENGE] = XDP_TX,
	    [O_CACHED] = XDP_TX,
	    [O_WORKER] = XDP_REDIRECT,
	    [O_FORWARD] = XDP_TX,
	};
	struct res r;

	cr_log_info("case: %s", what);
	send_expect(p, if0, actions[o], reasons[o], &r);
	a = a2s_stat(A2S_ID);
	expect_dstat(what, &b, &a, d);
	check_amplification(&r, proven);
	switch (o) {
	case O_CHALLENGE:
		expect_challenge_reply(
		    &r, p, chal_of(p->ip.saddr, p->sport, keys.epoch));
		break;
	case O_CACHED:
		expect_reply(&r, p, answer, answer_len);
		break;
	case O_WORKER:
		expect_frame(&r, r.in, r.in_len);
		break;
	case O_FORWARD:
		expect_encap(&r, p, BE_TX, p->dport, 0);
		break;
	}
}

static const struct dstat D_CHAL = {.req = 1, .chal = 1};
static const struct dstat D_BAD_CHAL = {.req = 1, .chal = 1, .bad = 1};
static const struct dstat D_CACHED = {.req = 1, .cached = 1};
static const struct dstat D_STALE = {.req = 1, .cached = 1, .stale = 1};
static const struct dstat D_WORKER = {.req = 1, .worker = 1};
static const struct dstat D_FWD = {.req = 1, .fwd = 1};
static const struct dstat D_NONE = {0};

static uint32_t valid_ch(void)
{
	return chal_of(PLAYER, PPORT, keys.epoch);
}

/* ---- the decision table, A2S_INFO ---- */

Test(a2s, info_challenge_rows,
     .description = "A2S_INFO without or with a bad challenge: challenged "
		    "only when the edge can serve (entry or worker)")
{
	struct kmt_pkt p;

	info_pkt(&p, 0, 0);
	run_case("INFO, nothing cached, no worker", &p, O_FORWARD, &D_FWD, 0);
	info_pkt(&p, 1, valid_ch() ^ 1);
	run_case("INFO + bad challenge, nothing to serve: the server's own "
		 "exchange",
		 &p, O_FORWARD, &D_FWD, 0);

	entry_fresh();
	info_pkt(&p, 0, 0);
	run_case("INFO, entry cached", &p, O_CHALLENGE, &D_CHAL, 0);
	info_pkt(&p, 1, valid_ch() ^ 0x80000000u);
	run_case("INFO + invalid challenge, entry cached", &p, O_CHALLENGE,
		 &D_BAD_CHAL, 0);
	info_pkt(&p, 1, chal_of(PLAYER, PPORT, EPOCH - 2));
	run_case("INFO + challenge two epochs old", &p, O_CHALLENGE,
		 &D_BAD_CHAL, 0);
	info_pkt(&p, 1, chal_of(PLAYER2, PPORT, EPOCH));
	run_case("INFO + another player's challenge", &p, O_CHALLENGE,
		 &D_BAD_CHAL, 0);
	info_pkt(&p, 1, chal_of(PLAYER, PPORT + 1, EPOCH));
	run_case("INFO + another port's challenge", &p, O_CHALLENGE,
		 &D_BAD_CHAL, 0);
	info_pkt(&p, 1, 0xffffffffu);
	p.ip.tos = 0x28;
	run_case("INFO + FFFFFFFF, TOS kept in the reply", &p, O_CHALLENGE,
		 &D_BAD_CHAL, 0);
	info_pkt(&p, 0, 0);
	p.pad = 20;
	run_case("INFO with Ethernet padding", &p, O_CHALLENGE, &D_CHAL, 0);
	info_pkt(&p, 0, 0);
	p.flags = KMT_F_UDP_CSUM_ZERO;
	run_case("INFO without UDP checksum", &p, O_CHALLENGE, &D_CHAL, 0);
}

Test(a2s, info_worker_rows,
     .description = "A2S_INFO with a worker and nothing cached: challenge, "
		    "then redirect")
{
	struct kmt_pkt p;

	worker_open();
	info_pkt(&p, 0, 0);
	run_case("INFO, worker, nothing cached", &p, O_CHALLENGE, &D_CHAL, 0);
	info_pkt(&p, 1, valid_ch());
	run_case("INFO + valid challenge, worker, nothing cached", &p, O_WORKER,
		 &D_WORKER, 1);
	info_pkt(&p, 1, valid_ch() + 1);
	run_case("INFO + invalid challenge, worker", &p, O_CHALLENGE,
		 &D_BAD_CHAL, 0);
	worker_close();
	info_pkt(&p, 1, valid_ch());
	run_case("INFO + valid challenge after the worker closed its socket",
		 &p, O_FORWARD, &D_FWD, 1);
	info_pkt(&p, 0, 0);
	run_case("INFO, worker gone, nothing cached", &p, O_FORWARD, &D_FWD, 0);
}

Test(a2s, info_cache_rows,
     .description = "A2S_INFO with a valid challenge: hit, stale, too old, "
		    "down, torn, reused id, epochs and keys")
{
	struct entry_spec s = {.seq = 4, .flags = KM_A2S_E_VALID};
	uint64_t t0 = kmt_clock_get(&env);
	struct kmt_pkt p;

	entry_fresh();
	info_pkt(&p, 1, valid_ch());
	run_case("INFO + valid challenge, fresh entry", &p, O_CACHED, &D_CACHED,
		 1);
	info_pkt(&p, 1, chal_of(PLAYER, PPORT, EPOCH - 1));
	run_case("INFO + previous epoch's challenge", &p, O_CACHED, &D_CACHED,
		 1);

	/* Odd lengths exercise the checksum's padding byte. */
	answer_make(151, 9);
	s.updated_ns = t0;
	entry_write(A2S_ID, &s);
	info_pkt(&p, 1, valid_ch());
	run_case("INFO, 151-byte answer", &p, O_CACHED, &D_CACHED, 1);
	answer_make(KM_A2S_INFO_MAX, 3);
	entry_write(A2S_ID, &s);
	run_case("INFO, largest cacheable answer", &p, O_CACHED, &D_CACHED, 1);
	answer_make(5, 0);
	entry_write(A2S_ID, &s);
	run_case("INFO, 5-byte answer (shorter than the request)", &p, O_CACHED,
		 &D_CACHED, 1);

	answer_make(150, 1);
	s.updated_ns = t0 - REFRESH_NS - 8 * MS_NS;
	entry_write(A2S_ID, &s);
	run_case("INFO, answer older than refresh: stale", &p, O_CACHED,
		 &D_STALE, 1);
	s.updated_ns = t0 - MAX_AGE_NS + 8 * MS_NS;
	entry_write(A2S_ID, &s);
	run_case("INFO, answer just under max_age", &p, O_CACHED, &D_STALE, 1);
	s.updated_ns = t0 - MAX_AGE_NS - 8 * MS_NS;
	entry_write(A2S_ID, &s);
	run_case("INFO, answer older than max_age, no worker", &p, O_FORWARD,
		 &D_FWD, 1);
	info_pkt(&p, 0, 0);
	run_case("INFO without challenge, answer too old, no worker", &p,
		 O_FORWARD, &D_FWD, 0);

	s.updated_ns = t0;
	s.flags = KM_A2S_E_VALID | KM_A2S_E_DOWN;
	entry_write(A2S_ID, &s);
	info_pkt(&p, 1, valid_ch());
	run_case("INFO, server marked down", &p, O_FORWARD, &D_FWD, 1);
	s.flags = 0;
	entry_write(A2S_ID, &s);
	run_case("INFO, entry not VALID", &p, O_FORWARD, &D_FWD, 1);

	s.flags = KM_A2S_E_VALID;
	s.seq = 5;
	entry_write(A2S_ID, &s);
	run_case("INFO, entry being written (odd seqlock)", &p, O_FORWARD,
		 &D_FWD, 1);

	s.seq = 6;
	s.svc_addr = SVC2;
	entry_write(A2S_ID, &s);
	run_case("INFO, entry of another service (reused id)", &p, O_FORWARD,
		 &D_FWD, 1);
	s.svc_addr = 0;
	s.svc_port = 27016;
	entry_write(A2S_ID, &s);
	run_case("INFO, entry of another port (reused id)", &p, O_FORWARD,
		 &D_FWD, 1);

	worker_open();
	s.svc_port = 0;
	s.seq = 7;
	entry_write(A2S_ID, &s);
	run_case("INFO, entry being written, worker", &p, O_WORKER, &D_WORKER,
		 1);
	s.seq = 8;
	s.updated_ns = t0 - MAX_AGE_NS - 8 * MS_NS;
	entry_write(A2S_ID, &s);
	run_case("INFO, answer older than max_age, worker", &p, O_WORKER,
		 &D_WORKER, 1);
}

Test(a2s, key_rows,
     .description = "epochs and keys: current/previous epoch and key "
		    "accepted, older refused; no key forwards")
{
	struct kmt_pkt p;
	uint64_t old0 = keys.k0, old1 = keys.k1;
	uint32_t c_old = chal_of(PLAYER, PPORT, EPOCH);

	entry_fresh();
	/* The epoch advances: the last epoch's challenge still works. */
	keys.epoch = EPOCH + 1;
	key_write(KM_A2S_KEY_F_VALID);
	info_pkt(&p, 1, c_old);
	run_case("previous epoch after the epoch advanced", &p, O_CACHED,
		 &D_CACHED, 1);
	keys.epoch = EPOCH + 2;
	key_write(KM_A2S_KEY_F_VALID);
	run_case("two epochs old", &p, O_CHALLENGE, &D_BAD_CHAL, 0);

	/* Rotation: the previous key's challenges are accepted. */
	keys.epoch = EPOCH;
	keys.prev_k0 = old0;
	keys.prev_k1 = old1;
	keys.k0 = 0x1111111122222222ULL;
	keys.k1 = 0x3333333344444444ULL;
	key_write(KM_A2S_KEY_F_VALID);
	info_pkt(&p, 1, c_old);
	run_case("previous key, current epoch", &p, O_CACHED, &D_CACHED, 1);
	info_pkt(
	    &p, 1,
	    ref_challenge(old0, old1, PLAYER, PPORT, SVC1, 27015, EPOCH - 1));
	run_case("previous key, previous epoch", &p, O_CACHED, &D_CACHED, 1);
	info_pkt(&p, 0, 0);
	run_case("a new challenge uses the current key", &p, O_CHALLENGE,
		 &D_CHAL, 0);
	info_pkt(&p, 1, valid_ch());
	run_case("current key's challenge", &p, O_CACHED, &D_CACHED, 1);
	/* A second rotation drops the first key. */
	keys.prev_k0 = keys.k0;
	keys.prev_k1 = keys.k1;
	keys.k0 = 0x5555555566666666ULL;
	keys.k1 = 0x7777777788888888ULL;
	key_write(KM_A2S_KEY_F_VALID);
	info_pkt(&p, 1, c_old);
	run_case("a key two rotations old", &p, O_CHALLENGE, &D_BAD_CHAL, 0);

	key_write(0);
	info_pkt(&p, 0, 0);
	run_case("no key (flags 0), entry cached", &p, O_FORWARD, &D_FWD, 0);
	info_pkt(&p, 1, valid_ch());
	run_case("no key, request with a challenge", &p, O_FORWARD, &D_FWD, 0);
}

/* ---- A2S_PLAYER, A2S_RULES ---- */

Test(a2s, player_rules_rows,
     .description = "PLAYER/RULES: challenge or redirect with a worker, "
		    "forwarded without")
{
	static const uint8_t types[] = {0x55, 0x56};
	struct kmt_pkt p;

	entry_fresh();
	for (int i = 0; i < 2; i++) {
		other_pkt(&p, types[i], 0xffffffffu);
		run_case("PLAYER/RULES FFFFFFFF, no worker", &p, O_FORWARD,
			 &D_FWD, 0);
		other_pkt(&p, types[i], valid_ch());
		run_case("PLAYER/RULES valid challenge, no worker", &p,
			 O_FORWARD, &D_FWD, 1);
	}
	worker_open();
	for (int i = 0; i < 2; i++) {
		other_pkt(&p, types[i], 0xffffffffu);
		run_case("PLAYER/RULES FFFFFFFF, worker", &p, O_CHALLENGE,
			 &D_CHAL, 0);
		other_pkt(&p, types[i], 0);
		run_case("PLAYER/RULES 00000000, worker", &p, O_CHALLENGE,
			 &D_CHAL, 0);
		other_pkt(&p, types[i], valid_ch() ^ 0x10);
		run_case("PLAYER/RULES invalid challenge, worker", &p,
			 O_CHALLENGE, &D_BAD_CHAL, 0);
		other_pkt(&p, types[i], chal_of(PLAYER, PPORT, EPOCH - 2));
		run_case("PLAYER/RULES expired challenge, worker", &p,
			 O_CHALLENGE, &D_BAD_CHAL, 0);
		other_pkt(&p, types[i], valid_ch());
		run_case("PLAYER/RULES valid challenge, worker", &p, O_WORKER,
			 &D_WORKER, 1);
		other_pkt(&p, types[i], chal_of(PLAYER, PPORT, EPOCH - 1));
		run_case("PLAYER/RULES previous epoch, worker", &p, O_WORKER,
			 &D_WORKER, 1);
	}
	key_write(0);
	other_pkt(&p, 0x55, 0xffffffffu);
	run_case("PLAYER, worker, no key", &p, O_FORWARD, &D_FWD, 0);
}

Test(a2s, policy_off_rows,
     .description = "challenge policy off: INFO served without challenge, "
		    "PLAYER/RULES redirected (documented as unsafe)")
{
	struct kmt_pkt p;

	a2s_cfg_write(A2S_ID, KM_A2S_F_ENABLED | KM_A2S_F_NO_CHALLENGE);
	info_pkt(&p, 0, 0);
	run_case("policy off, nothing cached, no worker", &p, O_FORWARD, &D_FWD,
		 0);
	other_pkt(&p, 0x55, 0xffffffffu);
	run_case("policy off, PLAYER, no worker", &p, O_FORWARD, &D_FWD, 0);
	entry_fresh();
	info_pkt(&p, 0, 0);
	/* Larger than the request: the amplifier the policy accepts. */
	run_case("policy off, INFO served without challenge", &p, O_CACHED,
		 &D_CACHED, 1);
	info_pkt(&p, 1, 0x12345678);
	run_case("policy off, INFO with any challenge", &p, O_CACHED, &D_CACHED,
		 1);
	key_write(0);
	info_pkt(&p, 0, 0);
	run_case("policy off needs no key", &p, O_CACHED, &D_CACHED, 1);
	worker_open();
	other_pkt(&p, 0x56, 0xffffffffu);
	run_case("policy off, RULES redirected without challenge", &p, O_WORKER,
		 &D_WORKER, 1);
}

/* ---- odd requests and other traffic ---- */

Test(a2s, odd_rows,
     .description = "oversize, truncated, wrong UDP length, TCP, A2S off: "
		    "ordinary traffic for the game server")
{
	static const uint8_t junk[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	struct res r;
	struct kmt_pkt p;

	entry_fresh();
	worker_open();
	info_pkt(&p, 1, valid_ch());
	kmt_pkt_payload(&p, junk, 1);
	run_case("INFO + challenge + 1 byte (30 bytes)", &p, O_FORWARD, &D_FWD,
		 0);
	info_pkt(&p, 0, 0);
	kmt_pkt_payload(&p, junk, 2);
	run_case("INFO + 2 bytes (27)", &p, O_FORWARD, &D_FWD, 0);
	info_pkt(&p, 0, 0);
	kmt_pkt_payload(&p, junk, 8);
	kmt_pkt_payload(&p, junk, 8);
	run_case("INFO + 16 bytes", &p, O_FORWARD, &D_FWD, 0);
	other_pkt(&p, 0x55, 0xffffffffu);
	kmt_pkt_payload(&p, junk, 1);
	run_case("PLAYER of 10 bytes", &p, O_FORWARD, &D_FWD, 0);

	/* Not recognised as A2S at all: no A2S counter moves. */
	info_pkt(&p, 0, 0);
	p.payload_len = 24;
	run_case("INFO truncated to 24 bytes", &p, O_FORWARD, &D_NONE, 0);
	info_pkt(&p, 0, 0);
	p.payload[10] = 'x';
	run_case("INFO with another query string", &p, O_FORWARD, &D_NONE, 0);
	other_pkt(&p, 0x55, 0xffffffffu);
	p.payload_len = 8;
	run_case("PLAYER truncated to 8 bytes", &p, O_FORWARD, &D_NONE, 0);
	other_pkt(&p, 0x57, 0xffffffffu);
	run_case("FF FF FF FF 57 (not a request type here)", &p, O_FORWARD,
		 &D_NONE, 0);

	/* The UDP header's length disagrees with IP's: odd, forwarded. The
	 * UDP length is one shorter and the checksum recomputed over
	 * what it now covers is not needed: checksum 0 (none). */
	info_pkt(&p, 0, 0);
	p.flags = KMT_F_UDP_CSUM_ZERO;
	{
		struct km_a2s_stat b = a2s_stat(A2S_ID), a;
		int len = kmt_pkt_build(&p, r.in, sizeof(r.in));
		struct kmt_xdp_run run = {.in = r.in,
					  .out = r.out,
					  .out_cap = sizeof(r.out),
					  .ifindex = if0};

		cr_assert_gt(len, 0);
		r.in[14 + 20 + 5] -= 1; /* UDP length, low byte */
		run.in_len = (size_t)len;
		cr_assert_eq(kmt_env_run(&env, &run), 0);
		cr_assert_eq(run.retval, XDP_TX);
		cr_assert_eq(run.out_len, (size_t)len + 20,
			     "forwarded (IPIP), not answered");
		a = a2s_stat(A2S_ID);
		expect_dstat("UDP length one short", &b, &a, &D_FWD);
	}

	/* A2S over TCP: ordinary traffic, even with A2S enabled on it. */
	a2s_cfg_write(ID_SVC1_TCP, KM_A2S_F_ENABLED);
	info_pkt(&p, 0, 0);
	p.l4 = IPPROTO_TCP;
	p.tcp_flags = 0x18;
	{
		struct km_a2s_stat b = a2s_stat(ID_SVC1_TCP), a;

		send_expect(&p, if0, XDP_TX, KM_R_FWD_SERVICE, &r);
		expect_encap(&r, &p, BE_TX, 28015, 0);
		a = a2s_stat(ID_SVC1_TCP);
		expect_dstat("A2S over TCP", &b, &a, &D_NONE);
	}

	/* A service without A2S: the stage is not entered. */
	a2s_cfg_write(A2S_ID, 0);
	info_pkt(&p, 1, valid_ch());
	run_case("A2S off for the service", &p, O_FORWARD, &D_NONE, 0);
}

Test(a2s, limits_first,
     .description = "the limits apply before the cache: a refused request "
		    "is dropped and never counted by A2S")
{
	struct km_svc_cfg c = {0};
	struct kmt_pkt p;
	struct res r;

	entry_fresh();
	c.unvalidated.pps = 1;
	c.unvalidated.burst_pkts = 1;
	set_limits(A2S_ID, &c);
	info_pkt(&p, 0, 0);
	run_case("first request within the limit", &p, O_CHALLENGE, &D_CHAL, 0);
	{
		struct km_a2s_stat b = a2s_stat(A2S_ID), a;

		info_pkt(&p, 1, valid_ch());
		send_expect(&p, if0, XDP_DROP, KM_R_DROP_RATELIMIT, &r);
		a = a2s_stat(A2S_ID);
		expect_dstat("second request over the limit", &b, &a, &D_NONE);
	}
}

/* ---- ingest (decap path) ---- */

/* The game server's answer to a worker's query: IPIP BE_TX -> EDGE,
 * inner SVC1:27015 -> EDGE:45000 carrying an A2S_INFO answer. */
static void ingest_pkt(struct kmt_pkt *p)
{
	backend_pkt(p);
	p->ip.daddr = EDGE;
	p->dport = 45000;
	answer_make(120, 4);
	p->payload_len = 0;
	kmt_pkt_payload(p, answer, answer_len);
}

static void run_ingest(const char *what, uint32_t action, unsigned reason)
{
	struct km_a2s_stat b = a2s_stat(A2S_ID), a;
	struct dstat d = {.ingested = 1};
	uint8_t exp[KMT_FRAME_MAX];
	struct km_validated v;
	struct kmt_pkt p, e;
	struct res r;
	int len;

	ingest_pkt(&p);
	send_pkt(&p, if0, &r);
	cr_assert(r.action == action && r.reason == (int)reason,
		  "%s: expected %s/%s, got %s/%s", what,
		  xdp_action_name(action), reason_name((int)reason),
		  xdp_action_name(r.action), reason_name(r.reason));
	/* Decapsulated, Ethernet header as received. */
	e = p;
	e.ipip = 0;
	len = kmt_pkt_build(&e, exp, sizeof(exp));
	cr_assert_gt(len, 0);
	expect_frame(&r, exp, (size_t)len);
	a = a2s_stat(A2S_ID);
	expect_dstat(what, &b, &a, &d);
	cr_assert_neq(validated_get(A2S_ID, EDGE, &v), 0,
		      "%s: the edge address was validated as a player", what);
	cr_assert_eq(map_count(KM_MAP_PUNCHES), 0, "%s: punch learned", what);
}

Test(a2s, ingest_rows,
     .description = "a game server's answer to the edge address: to the "
		    "worker, or to the kernel without one; nothing learned")
{
	run_ingest("ingest without a worker", XDP_PASS, KM_R_PASS_A2S_INGEST);
	worker_open();
	run_ingest("ingest with a worker", XDP_REDIRECT, KM_R_REDIR_A2S_INGEST);
	worker_close();
	run_ingest("ingest after the worker left", XDP_PASS,
		   KM_R_PASS_A2S_INGEST);
}

/* ---- torn copies under a concurrent writer ---- */

struct writer {
	atomic_int stop;
	struct km_a2s_entry *e; /* mmap of km_a2s_info */
	unsigned long writes;
};

/* The worker's side of the seqlock through mmap: odd, write, even. The
 * two versions differ in every data byte and in length. */
static void *writer_run(void *arg)
{
	struct writer *w = arg;
	struct km_a2s_entry *e = &w->e[A2S_ID];

	while (!atomic_load(&w->stop)) {
		int v = (int)(w->writes & 1);
		size_t len = v ? 200 : 150;

		__atomic_store_n(&e->seq, e->seq + 1, __ATOMIC_RELEASE);
		for (size_t i = 5; i < len; i++)
			e->data[i] = (uint8_t)(v ? 0xa0 + i : 1 + i);
		e->len = (uint16_t)len;
		e->csum = be_sum(e->data, len);
		__atomic_store_n(&e->seq, e->seq + 1, __ATOMIC_RELEASE);
		w->writes++;
		/* Stable stretches too, so that both outcomes occur. */
		for (volatile int spin = 0; spin < 2000; spin++)
			;
	}
	return NULL;
}

Test(a2s, torn_copies,
     .description = "a writer rewrites the entry while requests are "
		    "answered: every reply is one whole version, every other "
		    "request is forwarded intact")
{
	size_t sz = sizeof(struct km_a2s_entry) * KM_MAX_SERVICES;
	struct writer w = {0};
	struct kmt_pkt p;
	pthread_t th;
	int served = 0, fwd = 0;

	entry_fresh();
	w.e = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED,
		   kmt_fd(&env, KM_MAP_A2S_INFO), 0);
	cr_assert(w.e != MAP_FAILED, "mmap km_a2s_info");
	cr_assert_eq(pthread_create(&th, NULL, writer_run, &w), 0);
	info_pkt(&p, 1, valid_ch());
	for (int i = 0; i < 3000; i++) {
		struct km_a2s_stat b = a2s_stat(A2S_ID), a;
		char why[160];
		struct res r;

		send_pkt(&p, if0, &r);
		a = a2s_stat(A2S_ID);
		cr_assert_eq(r.action, XDP_TX);
		if (r.reason == KM_R_TX_A2S_CACHED) {
			size_t n = r.out_len - 42;
			int v = n == 200;

			cr_assert(n == 150 || n == 200, "reply of %zu bytes",
				  n);
			for (size_t j = 5; j < n; j++)
				cr_assert_eq(r.out[42 + j],
					     (uint8_t)(v ? 0xa0 + j : 1 + j),
					     "torn copy sent (byte %zu of a "
					     "%zu-byte answer)",
					     j, n);
			cr_assert_eq(kmt_verify_frame(r.out, r.out_len, NULL,
						      why, sizeof(why)),
				     0, "%s", why);
			expect_dstat("served under writes", &b, &a, &D_CACHED);
			served++;
		} else {
			cr_assert_eq(r.reason, KM_R_FWD_SERVICE, "got %s",
				     reason_name(r.reason));
			expect_encap(&r, &p, BE_TX, 27015, 0);
			expect_dstat("torn, forwarded", &b, &a, &D_FWD);
			fwd++;
		}
	}
	atomic_store(&w.stop, 1);
	pthread_join(th, NULL);
	munmap(w.e, sz);
	cr_log_info("torn_copies: %d served, %d forwarded, %lu writes", served,
		    fwd, w.writes);
	cr_assert_gt(served, 0, "nothing was served");
	cr_assert_gt(fwd, 0, "the writer never overlapped a request");
}

/* ---- the amplification invariant over a fuzzed stream ---- */

static uint32_t rnd(void)
{
	return (uint32_t)random();
}

/* One random or mutated A2S request from a random unproven source in
 * 198.19.0.0/16. Returns whether it carries a valid challenge. */
static int fuzz_request(struct kmt_pkt *p)
{
	uint32_t src = KMT_IP4(198, 19, rnd() & 0xff, rnd() & 0xff);
	uint16_t sport = (uint16_t)(1024 + rnd() % 60000);
	uint32_t c = rnd(), kind = rnd() % 8;
	int valid = 0;

	if (kind == 0) {
		c = ref_challenge(keys.k0, keys.k1, src, sport, SVC1, 27015,
				  EPOCH - (rnd() & 1));
		valid = 1;
	} else if (kind == 1) {
		c = rnd() & 1 ? 0 : 0xffffffffu;
	}
	switch (rnd() % 4) {
	case 0:
	case 1:
		info_pkt(p, (rnd() & 3) != 0, c);
		break;
	case 2:
		other_pkt(p, 0x55, c);
		break;
	default:
		other_pkt(p, 0x56, c);
		break;
	}
	p->ip.saddr = src;
	p->sport = sport;
	/* Mutations: flipped bytes, extra or missing bytes, padding. */
	if (rnd() % 4 == 0) {
		p->payload[rnd() % p->payload_len] ^=
		    (uint8_t)(1 + rnd() % 255);
		valid = 0;
	}
	if (rnd() % 6 == 0) {
		size_t extra = rnd() % 40;

		for (size_t i = 0; i < extra; i++) {
			uint8_t b = (uint8_t)rnd();

			kmt_pkt_payload(p, &b, 1);
		}
	}
	if (rnd() % 6 == 0)
		p->payload_len = rnd() % (p->payload_len + 1);
	if (rnd() % 8 == 0)
		p->pad = rnd() % 30;
	return valid;
}

Test(a2s, amplification_fuzz,
     .description = "10,000 random and mutated A2S requests from unproven "
		    "sources: no reply to the source is larger than its "
		    "request unless the request carried a valid challenge")
{
	struct km_a2s_stat b, a;
	unsigned long tx = 0, valid_total = 0;
	struct kmt_pkt p;

	srandom(20261127);
	entry_fresh();
	b = a2s_stat(A2S_ID);
	for (int i = 0; i < 10000; i++) {
		int valid = fuzz_request(&p);
		char why[160];
		struct res r;

		/* The worker comes and goes; the entry ages. */
		if (i == 2500)
			worker_open();
		if (i == 7500)
			worker_close();
		if (i == 5000)
			clock_add(MAX_AGE_NS + SEC_NS);
		send_pkt(&p, if0, &r);
		cr_assert(r.action == XDP_TX || r.action == XDP_REDIRECT,
			  "request %d: %s/%s", i, xdp_action_name(r.action),
			  reason_name(r.reason));
		cr_assert_eq(
		    kmt_verify_frame(r.out, r.out_len, NULL, why, sizeof(why)),
		    0, "request %d: output frame: %s", i, why);
		check_amplification(&r, valid);
		if (r.reason == KM_R_TX_A2S_CACHED)
			cr_assert(valid,
				  "request %d: cached answer without "
				  "a valid challenge",
				  i);
		tx += r.reason == KM_R_TX_A2S_CHALLENGE ||
		      r.reason == KM_R_TX_A2S_CACHED;
		valid_total += (unsigned long)valid;
	}
	a = a2s_stat(A2S_ID);
	cr_assert_eq(a.requests - b.requests,
		     (a.challenges - b.challenges) + (a.cached - b.cached) +
			 (a.to_worker - b.to_worker) +
			 (a.forwarded - b.forwarded),
		     "every request counted under exactly one outcome");
	cr_log_info("fuzz: %lu replies to sources, %lu valid challenges, "
		    "%llu challenges, %llu cached",
		    tx, valid_total,
		    (unsigned long long)(a.challenges - b.challenges),
		    (unsigned long long)(a.cached - b.cached));
	cr_assert_gt(a.challenges - b.challenges, 1000);
	cr_assert_gt(a.cached - b.cached, 100);
}
