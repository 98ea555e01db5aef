// SPDX-License-Identifier: GPL-2.0-only
/*
 * kilimanjaro-afxdp shared cache: leases (one query in flight, expiry,
 * drop by kind, one winner among processes), slot claims, the answers'
 * seqlock under a concurrent writer, km_a2s_info entries, and the file
 * (created sparse, reopened with its contents, recreated on another
 * version).
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "a2s_store.h"

#define MS 1000000ull
#define S 1000000000ull
#define T0 (1000 * S)

static uint64_t fake_now = T0;
static uint64_t clock_fake(void)
{
	return fake_now;
}

static struct kw_store st;
static void *mem;

static void setup(void)
{
	mem = malloc(kw_store_size(4));
	cr_assert_not_null(mem);
	kw_store_init_mem(&st, mem, 4);
}

static void teardown(void)
{
	free(mem);
}

TestSuite(afxdp_store, .init = setup, .fini = teardown);

Test(afxdp_store, slots)
{
	cr_expect_not_null(kw_store_slot(&st, 3));
	cr_expect_null(kw_store_slot(&st, 4));
	cr_expect_eq((uint8_t *)kw_store_slot(&st, 1) -
			 (uint8_t *)kw_store_slot(&st, 0),
		     (long)sizeof(struct kw_slot));
}

Test(afxdp_store, lease)
{
	struct kw_slot *s = kw_store_slot(&st, 0);
	enum a2s_kind k;
	uint32_t pid;

	cr_assert_eq(kw_lease_take(s, 100, A2S_K_PLAYER, T0, 500 * MS), 1);
	cr_expect_eq(kw_lease_live(s->lease, T0, &pid, &k), 1);
	cr_expect_eq(pid, 100);
	cr_expect_eq(k, A2S_K_PLAYER);
	/* Held: nobody else, not even the same process, queries again. */
	cr_expect_eq(kw_lease_take(s, 200, A2S_K_INFO, T0 + 10 * MS, S), 0);
	cr_expect_eq(kw_lease_take(s, 100, A2S_K_INFO, T0 + 499 * MS, S), 0);
	/* An answer of another kind does not end it; its own does. */
	kw_lease_drop(s, A2S_K_INFO);
	cr_expect_eq(kw_lease_live(s->lease, T0 + MS, NULL, NULL), 1);
	kw_lease_drop(s, A2S_K_PLAYER);
	cr_expect_eq(kw_lease_live(s->lease, T0 + MS, NULL, NULL), 0);
	/* Expiry: a crashed owner's lease ends by itself. */
	cr_assert_eq(kw_lease_take(s, 300, A2S_K_RULES, T0, 500 * MS), 1);
	cr_expect_eq(kw_lease_take(s, 400, A2S_K_INFO, T0 + 502 * MS, S), 1);
	cr_expect_eq(kw_lease_live(s->lease, T0 + 502 * MS, &pid, &k), 1);
	cr_expect_eq(pid, 400);
	cr_expect_eq(k, A2S_K_INFO);
	/* The largest pid fits. */
	cr_expect_eq(
	    kw_lease_take(s, (1u << 22) - 1, A2S_K_RULES, T0 + 10 * S, S), 1);
	cr_expect_eq(kw_lease_live(s->lease, T0 + 10 * S, &pid, &k), 1);
	cr_expect_eq(pid, (1u << 22) - 1);
	cr_expect_eq(k, A2S_K_RULES);
}

/* Eight processes race for one lease on a shared mapping: one wins. */
Test(afxdp_store, lease_one_winner)
{
	size_t size = kw_store_size(1);
	struct kw_store shared;
	void *m = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int i, wins = 0, st_;
	pid_t pids[8];

	cr_assert_neq(m, MAP_FAILED);
	kw_store_init_mem(&shared, m, 1);
	for (i = 0; i < 8; i++) {
		pids[i] = fork();
		cr_assert_geq(pids[i], 0);
		if (!pids[i])
			_exit(kw_lease_take(kw_store_slot(&shared, 0),
					    (uint32_t)getpid(), A2S_K_INFO, T0,
					    S));
	}
	for (i = 0; i < 8; i++) {
		cr_assert_eq(waitpid(pids[i], &st_, 0), pids[i]);
		wins += WEXITSTATUS(st_);
	}
	cr_expect_eq(wins, 1, "%d processes took the lease", wins);
	munmap(m, size);
}

Test(afxdp_store, wlock_expires)
{
	struct kw_slot *s = kw_store_slot(&st, 1);

	fake_now = T0;
	kw_slot_lock(s, 10, clock_fake);
	/* The holder died: after a second the next writer takes it. */
	fake_now = T0 + 1001 * MS;
	kw_slot_lock(s, 11, clock_fake);
	cr_expect_eq(s->wlock & ((1u << 22) - 1), 11);
	kw_slot_unlock(s);
	cr_expect_eq(s->wlock, 0);
}

Test(afxdp_store, claim)
{
	struct kw_slot *s = kw_store_slot(&st, 2);
	struct km_service_key a = {
	    .proto = 17, .port = htons(27015), .addr = htonl(0xc6120a01)};
	struct km_service_key b = a;
	uint8_t out[64];
	uint64_t upd;
	size_t len;

	cr_expect(kw_slot_claim(s, &a));
	cr_expect_not(kw_slot_claim(s, &a));
	kw_blob_write(&s->blob[A2S_K_RULES],
		      (const uint8_t *)"\xff\xff\xff\xff\x45\0\0", 7, T0);
	s->last_query_ns[A2S_K_RULES] = T0;
	s->flags = KW_SLOT_F_DOWN;
	s->challenge_set = 1;
	cr_assert_eq(
	    kw_blob_read(&s->blob[A2S_K_RULES], out, sizeof(out), &len, &upd),
	    0);
	/* The id now names another service: nothing of the old one stays. */
	b.port = htons(27016);
	cr_expect(kw_slot_claim(s, &b));
	cr_expect_eq(
	    kw_blob_read(&s->blob[A2S_K_RULES], out, sizeof(out), &len, &upd),
	    -ENOENT);
	cr_expect_eq(s->last_query_ns[A2S_K_RULES], 0);
	cr_expect_eq(s->flags, 0);
	cr_expect_eq(s->challenge_set, 0);
	cr_expect_eq(memcmp(&s->svc, &b, sizeof(b)), 0);
	cr_expect_eq(s->blob[A2S_K_RULES].seq % 2, 0);
}

Test(afxdp_store, blob)
{
	struct kw_blob *b = &kw_store_slot(&st, 0)->blob[A2S_K_PLAYER];
	static uint8_t big[A2S_ANSWER_MAX], out[A2S_ANSWER_MAX];
	uint64_t upd;
	size_t len, i;

	cr_expect_eq(kw_blob_read(b, out, sizeof(out), &len, &upd), -ENOENT);
	for (i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)i;
	kw_blob_write(b, big, sizeof(big), T0 + 5);
	cr_assert_eq(kw_blob_read(b, out, sizeof(out), &len, &upd), 0);
	cr_expect_eq(len, sizeof(big));
	cr_expect_eq(upd, T0 + 5);
	cr_expect_eq(memcmp(out, big, len), 0);
	cr_expect_eq(b->seq, 2);
	/* A reader with too small a buffer gets nothing, not a cut copy. */
	cr_expect_neq(kw_blob_read(b, out, 100, &len, &upd), 0);
	/* A writer that died mid-write (seq odd): readers wait, then give
	 * up; the next write makes it readable again. */
	b->seq = 3;
	cr_expect_eq(kw_blob_read(b, out, sizeof(out), &len, &upd), -EAGAIN);
	kw_blob_write(b, big, 10, T0 + 6);
	cr_expect_eq(b->seq % 2, 0);
	cr_expect_eq(kw_blob_read(b, out, sizeof(out), &len, &upd), 0);
	cr_expect_eq(len, 10);
}

/* A writer alternates two answers whose every byte says which one it is;
 * the reader must only ever see one of them whole. */
struct race {
	struct kw_blob *b;
	volatile int stop;
};

static void *writer(void *arg)
{
	struct race *r = arg;
	static uint8_t a[4000], b[3000];
	unsigned int i = 0;

	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	while (!r->stop) {
		if (i++ & 1)
			kw_blob_write(r->b, a, sizeof(a), T0 + i);
		else
			kw_blob_write(r->b, b, sizeof(b), T0 + i);
	}
	return NULL;
}

Test(afxdp_store, seqlock_race)
{
	struct race r = {.b = &kw_store_slot(&st, 3)->blob[A2S_K_RULES]};
	static uint8_t out[A2S_ANSWER_MAX];
	unsigned int reads = 0, i;
	pthread_t t;
	uint64_t upd;
	size_t len, j;

	kw_blob_write(r.b, (const uint8_t *)"bbb", 3, T0);
	cr_assert_eq(pthread_create(&t, NULL, writer, &r), 0);
	for (i = 0; i < 20000; i++) {
		if (kw_blob_read(r.b, out, sizeof(out), &len, &upd))
			continue;
		reads++;
		cr_assert(len == 4000 || len == 3000 || len == 3);
		for (j = 0; j < len; j++)
			cr_assert_eq(out[j], len == 4000 ? 'a' : 'b',
				     "torn read: byte %zu of %zu", j, len);
	}
	r.stop = 1;
	pthread_join(t, NULL);
	cr_expect_gt(reads, 0);
}

Test(afxdp_store, info_entry)
{
	struct km_a2s_entry *e = calloc(1, sizeof(*e));
	struct km_service_key k = {
	    .proto = 17, .port = htons(27015), .addr = htonl(0xc6120a01)};
	static uint8_t d[KM_A2S_INFO_MAX + 1];
	uint32_t sum = 0;
	size_t i;

	cr_assert_not_null(e);
	for (i = 0; i < sizeof(d); i++)
		d[i] = (uint8_t)(i * 31);
	/* 1399 bytes: an odd length, the last byte padded. */
	for (i = 0; i + 1 < 1399; i += 2)
		sum += (uint32_t)d[i] << 8 | d[i + 1];
	sum += (uint32_t)d[1398] << 8;
	kw_info_write(e, &k, d, 1399, T0);
	cr_expect_eq(e->seq, 2);
	cr_expect_eq(e->flags, KM_A2S_E_VALID);
	cr_expect_eq(e->len, 1399);
	cr_expect_eq(e->csum, sum);
	cr_expect_eq(e->updated_ns, T0);
	cr_expect_eq(memcmp(&e->svc, &k, sizeof(k)), 0);
	cr_expect_eq(memcmp(e->data, d, 1399), 0);
	kw_info_flags(e, KM_A2S_E_DOWN, 0);
	cr_expect_eq(e->flags, KM_A2S_E_VALID | KM_A2S_E_DOWN);
	cr_expect_eq(e->seq, 4);
	kw_info_flags(e, 0, KM_A2S_E_DOWN);
	cr_expect_eq(e->flags, KM_A2S_E_VALID);
	/* Too large for XDP: no data, so XDP hands it to the worker. */
	kw_info_write(e, &k, d, sizeof(d), T0 + 1);
	cr_expect_eq(e->flags, 0);
	cr_expect_eq(e->len, 0);
	cr_expect_eq(e->csum, 0);
	kw_info_clear(e);
	cr_expect_eq(e->flags, 0);
	cr_expect_eq(e->svc.port, 0);
	cr_expect_eq(e->seq % 2, 0);
	free(e);
}

Test(afxdp_store, file)
{
	char dir[] = "/tmp/kw-store-XXXXXX", path[64];
	struct kw_store f, g;
	struct kw_slot *s;
	struct stat sb;
	uint8_t out[16];
	uint64_t upd;
	size_t len;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/a2s.cache", dir);
	cr_assert_eq(kw_store_open(&f, path), 0);
	cr_assert_eq(stat(path, &sb), 0);
	cr_expect_eq((size_t)sb.st_size, kw_store_size(KM_MAX_SERVICES));
	cr_expect_lt((size_t)sb.st_blocks * 512, (size_t)1 << 20,
		     "not sparse: %lld blocks", (long long)sb.st_blocks);
	cr_expect_eq(sb.st_mode & 0777, 0600);
	s = kw_store_slot(&f, KM_MAX_SERVICES - 1);
	cr_assert_not_null(s);
	kw_blob_write(&s->blob[0], (const uint8_t *)"kept", 4, T0);
	kw_store_close(&f);
	/* A restarted worker finds the cache. */
	cr_assert_eq(kw_store_open(&f, path), 0);
	s = kw_store_slot(&f, KM_MAX_SERVICES - 1);
	cr_assert_eq(kw_blob_read(&s->blob[0], out, sizeof(out), &len, &upd),
		     0);
	cr_expect_eq(memcmp(out, "kept", 4), 0);
	/* Another version's file is replaced by an empty one; a worker that
	 * still maps the old one keeps reading it. */
	f.hdr->version = KW_STORE_VERSION + 1;
	cr_assert_eq(kw_store_open(&g, path), 0);
	cr_expect_eq(g.hdr->version, KW_STORE_VERSION);
	s = kw_store_slot(&g, KM_MAX_SERVICES - 1);
	cr_expect_eq(kw_blob_read(&s->blob[0], out, sizeof(out), &len, &upd),
		     -ENOENT);
	s = (struct kw_slot *)((uint8_t *)f.hdr + sizeof(*f.hdr) +
			       (size_t)(KM_MAX_SERVICES - 1) * sizeof(*s));
	cr_expect_eq(kw_blob_read(&s->blob[0], out, sizeof(out), &len, &upd),
		     0);
	kw_store_close(&f);
	kw_store_close(&g);
	/* A file cut short (size wrong) is replaced too. */
	cr_assert_eq(truncate(path, 100), 0);
	cr_assert_eq(kw_store_open(&f, path), 0);
	cr_assert_eq(stat(path, &sb), 0);
	cr_expect_eq((size_t)sb.st_size, kw_store_size(KM_MAX_SERVICES));
	kw_store_close(&f);
	unlink(path);
	rmdir(dir);
}
