// SPDX-License-Identifier: GPL-2.0-only
/* The stats ring (lib/ring.h): torn reads under a writer running flat out,
 * overruns reported with their exact count, writer replacement. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "lib/log.h"
#include "lib/ring.h"

static char dir[64], path[128];

static void setup(void)
{
	km_log_init("test-ring", LOG_ERR);
	strcpy(dir, "/tmp/km-ring-test-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/stats.ring", dir);
}

static void teardown(void)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(ring, .init = setup, .fini = teardown);

/* Payload of snapshot n: its length and every word derive from n, so any
 * mix of two snapshots (a torn copy) is detected. */
#define PAY_MAX 65536
static size_t pay_len(uint64_t n)
{
	return 8 * (1 + (n * 7919) % (PAY_MAX / 8 - 1));
}

static void pay_fill(uint64_t *p, uint64_t n)
{
	size_t w = pay_len(n) / 8;

	for (size_t i = 0; i < w; i++)
		p[i] = n * 0x9e3779b97f4a7c15ull + i;
}

static bool pay_ok(const uint64_t *p, size_t len, uint64_t n)
{
	if (len != pay_len(n))
		return false;
	for (size_t i = 0; i < len / 8; i++)
		if (p[i] != n * 0x9e3779b97f4a7c15ull + i)
			return false;
	return true;
}

static struct km_ring_writer *mkwriter(uint32_t nslots)
{
	struct km_ring_params p = {.nslots = nslots,
				   .payload_max = PAY_MAX,
				   .interval_ns = 1000000,
				   .payload_kind = "test",
				   .payload_version = 3};
	struct km_ring_writer *w;

	cr_assert_eq(km_ring_writer_create(&w, path, &p), 0);
	return w;
}

Test(ring, empty_then_one)
{
	struct km_ring_writer *w = mkwriter(8);
	struct km_ring_reader *r;
	struct km_ring_info info;
	static uint64_t buf[PAY_MAX / 8];
	size_t len;

	cr_assert_eq(km_ring_reader_open(&r, path, false), 0);
	cr_assert_eq(km_ring_read_latest(r, buf, sizeof(buf), &len, &info),
		     -EAGAIN);
	pay_fill(buf, 1);
	cr_assert_eq(km_ring_publish(w, buf, pay_len(1)), 1);
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(km_ring_read_next(r, buf, sizeof(buf), &len, &info), 0);
	cr_assert(pay_ok(buf, len, 1));
	cr_assert_eq(info.seq, 1);
	cr_assert_eq(info.lost, 0);
	cr_assert_eq(info.epoch, km_ring_writer_epoch(w));
	cr_assert_str_eq(info.payload_kind, "test");
	cr_assert_eq(info.payload_version, 3);
	cr_assert_not(info.closed);
	cr_assert_eq(km_ring_read_next(r, buf, sizeof(buf), &len, &info),
		     -EAGAIN);
	cr_assert_eq(km_ring_read_latest(r, buf, 8, &len, &info), -EMSGSIZE);
	km_ring_writer_close(w);
	cr_assert_eq(km_ring_read_latest(r, buf, sizeof(buf), &len, &info), 0);
	cr_assert(info.closed);
	km_ring_reader_close(r);
}

Test(ring, overrun_counted_exactly)
{
	struct km_ring_writer *w = mkwriter(8);
	struct km_ring_reader *r;
	struct km_ring_info info;
	static uint64_t buf[PAY_MAX / 8];
	size_t len;
	uint64_t n;

	cr_assert_eq(km_ring_reader_open(&r, path, false), 0);
	for (n = 1; n <= 10; n++) {
		pay_fill(buf, n);
		km_ring_publish(w, buf, pay_len(n));
	}
	cr_assert_eq(km_ring_read_next(r, buf, sizeof(buf), &len, &info), 0);
	cr_assert_eq(info.seq, 10);
	/* In order while the reader keeps up. */
	pay_fill(buf, 11);
	km_ring_publish(w, buf, pay_len(11));
	cr_assert_eq(km_ring_read_next(r, buf, sizeof(buf), &len, &info), 0);
	cr_assert_eq(info.seq, 11);
	cr_assert_eq(info.lost, 0);
	for (n = 12; n <= 111; n++) {
		pay_fill(buf, n);
		km_ring_publish(w, buf, pay_len(n));
	}
	/* 8 slots, one kept free for the writer's next write: 105..111. */
	cr_assert_eq(km_ring_read_next(r, buf, sizeof(buf), &len, &info), 0);
	cr_assert_eq(info.seq, 105);
	cr_assert_eq(info.lost, 93, "lost %lu", (unsigned long)info.lost);
	cr_assert(pay_ok(buf, len, 105));
	for (n = 106; n <= 111; n++) {
		cr_assert_eq(
		    km_ring_read_next(r, buf, sizeof(buf), &len, &info), 0);
		cr_assert_eq(info.seq, n);
		cr_assert_eq(info.lost, 0);
		cr_assert(pay_ok(buf, len, n));
	}
	km_ring_reader_close(r);
	km_ring_writer_close(w);
}

/* A slot whose lock is odd (a writer in the middle of it) is never
 * returned, and neither is one whose lock moved during the copy. */
Test(ring, odd_lock_is_not_read)
{
	struct km_ring_writer *w = mkwriter(4);
	struct km_ring_reader *r;
	struct km_ring_info info;
	static uint64_t buf[PAY_MAX / 8];
	struct km_ring_hdr *h;
	struct km_ring_slot *s;
	size_t len;
	int fd;

	pay_fill(buf, 1);
	km_ring_publish(w, buf, pay_len(1));
	fd = open(path, O_RDWR);
	cr_assert_geq(fd, 0);
	h = mmap(NULL, KM_RING_HDR_SIZE + 4 * 65600, PROT_READ | PROT_WRITE,
		 MAP_SHARED, fd, 0);
	cr_assert_neq(h, MAP_FAILED);
	s = (struct km_ring_slot *)((char *)h + KM_RING_HDR_SIZE);
	s->lock++;
	cr_assert_eq(km_ring_reader_open(&r, path, false), 0);
	cr_assert_eq(km_ring_read_latest(r, buf, sizeof(buf), &len, &info),
		     -EAGAIN);
	s->lock++;
	cr_assert_eq(km_ring_read_latest(r, buf, sizeof(buf), &len, &info), 0);
	cr_assert(pay_ok(buf, len, 1));
	munmap(h, KM_RING_HDR_SIZE + 4 * 65600);
	close(fd);
	km_ring_reader_close(r);
	km_ring_writer_close(w);
}

struct flat_out {
	struct km_ring_writer *w;
	atomic_bool stop;
	uint64_t published;
};

static void *writer_thread(void *arg)
{
	struct flat_out *f = arg;
	uint64_t *buf = malloc(PAY_MAX);
	uint64_t n = 0;

	while (!atomic_load(&f->stop)) {
		n++;
		pay_fill(buf, n);
		if (km_ring_publish(f->w, buf, pay_len(n)) != (int64_t)n)
			break;
	}
	f->published = n;
	free(buf);
	return NULL;
}

/* A reader under a writer publishing as fast as it can: every snapshot
 * returned is whole, numbers only go up, and every skipped number is
 * accounted for in `lost`. */
Test(ring, no_torn_read_under_flat_out_writer, .timeout = 60)
{
	struct flat_out f = {.w = mkwriter(4)};
	struct km_ring_reader *r;
	struct km_ring_info info;
	uint64_t *buf = malloc(PAY_MAX), prev = 0, first = 0, accounted = 0;
	uint64_t reads = 0, retries = 0, eagain = 0, lost = 0;
	pthread_t t;
	size_t len;

	cr_assert_eq(km_ring_reader_open(&r, path, false), 0);
	cr_assert_eq(pthread_create(&t, NULL, writer_thread, &f), 0);
	while (reads < 20000 && eagain < 2000000) {
		int e = (reads & 1)
			    ? km_ring_read_next(r, buf, PAY_MAX, &len, &info)
			    : km_ring_read_latest(r, buf, PAY_MAX, &len, &info);

		if (e == -EAGAIN) {
			eagain++;
			continue;
		}
		cr_assert_eq(e, 0);
		cr_assert(pay_ok(buf, len, info.seq),
			  "torn snapshot %lu returned (len %zu)",
			  (unsigned long)info.seq, len);
		/* read_latest may return the same one again. */
		cr_assert_geq(info.seq, prev);
		if (info.seq == prev && !(reads & 1)) {
			eagain++;
			continue;
		}
		cr_assert_gt(info.seq, prev);
		if (!first)
			first = info.seq;
		else
			cr_assert_eq(info.lost, info.seq - prev - 1);
		accounted += 1 + (prev ? info.lost : 0);
		lost += info.lost;
		retries += info.retries;
		prev = info.seq;
		reads++;
	}
	atomic_store(&f.stop, true);
	pthread_join(t, NULL);
	cr_assert_geq(reads, 1000, "only %lu reads", (unsigned long)reads);
	cr_assert_eq(accounted, prev - first + 1);
	cr_log_info("%lu reads, %lu torn copies discarded, %lu lost, %lu "
		    "published",
		    (unsigned long)reads, (unsigned long)retries,
		    (unsigned long)lost, (unsigned long)f.published);
	km_ring_reader_close(r);
	km_ring_writer_close(f.w);
	free(buf);
}

Test(ring, new_writer_resyncs_readers)
{
	struct km_ring_writer *w = mkwriter(8), *w2;
	struct km_ring_reader *r;
	struct km_ring_info info;
	static uint64_t buf[PAY_MAX / 8];
	uint64_t e1;
	size_t len;

	for (uint64_t n = 1; n <= 5; n++) {
		pay_fill(buf, n);
		km_ring_publish(w, buf, pay_len(n));
	}
	cr_assert_eq(km_ring_reader_open(&r, path, false), 0);
	cr_assert_eq(km_ring_read_next(r, buf, sizeof(buf), &len, &info), 0);
	e1 = info.epoch;
	cr_assert_not(info.resynced);
	km_ring_writer_close(w);
	w2 = mkwriter(8);
	cr_assert_neq(km_ring_writer_epoch(w2), e1);
	pay_fill(buf, 1);
	km_ring_publish(w2, buf, pay_len(1));
	cr_assert_eq(km_ring_read_next(r, buf, sizeof(buf), &len, &info), 0);
	cr_assert(info.resynced);
	cr_assert_eq(info.seq, 1);
	cr_assert_eq(info.lost, 0);
	cr_assert_eq(info.epoch, km_ring_writer_epoch(w2));
	cr_assert_not(info.closed);
	cr_assert(pay_ok(buf, len, 1));
	cr_assert_eq(km_ring_read_next(r, buf, sizeof(buf), &len, &info),
		     -EAGAIN);
	km_ring_reader_close(r);
	km_ring_writer_close(w2);
}

Test(ring, not_a_ring_is_refused)
{
	struct km_ring_reader *r;
	char junk[8192];
	int fd;

	cr_assert_eq(km_ring_reader_open(&r, path, true), -ENOENT);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "short", 5), 5);
	cr_assert_eq(km_ring_reader_open(&r, path, true), -EPROTO);
	memset(junk, 0x5a, sizeof(junk));
	cr_assert_eq(pwrite(fd, junk, sizeof(junk), 0), (ssize_t)sizeof(junk));
	close(fd);
	cr_assert_eq(km_ring_reader_open(&r, path, true), -EPROTO);
}

Test(ring, read_at)
{
	struct km_ring_writer *w = mkwriter(4);
	struct km_ring_reader *r;
	struct km_ring_info info;
	static uint64_t buf[PAY_MAX / 8];
	size_t len;

	for (uint64_t n = 1; n <= 6; n++) {
		pay_fill(buf, n);
		km_ring_publish(w, buf, pay_len(n));
	}
	cr_assert_eq(km_ring_reader_open(&r, path, false), 0);
	cr_assert_eq(km_ring_read_at(r, 5, buf, sizeof(buf), &len, &info), 0);
	cr_assert(pay_ok(buf, len, 5));
	cr_assert_eq(info.seq, 5);
	cr_assert_eq(km_ring_read_at(r, 4, buf, sizeof(buf), &len, &info), 0);
	cr_assert(pay_ok(buf, len, 4));
	/* 4 slots, one the writer may be rewriting: 4..6 readable. */
	cr_assert_eq(km_ring_read_at(r, 3, buf, sizeof(buf), &len, &info),
		     -ESTALE);
	cr_assert_eq(km_ring_read_at(r, 7, buf, sizeof(buf), &len, &info),
		     -EAGAIN);
	/* read_next starts at the latest, untouched by read_at. */
	cr_assert_eq(km_ring_read_next(r, buf, sizeof(buf), &len, &info), 0);
	cr_assert_eq(info.seq, 6);
	km_ring_reader_close(r);
	km_ring_writer_close(w);
}
