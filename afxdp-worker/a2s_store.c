// SPDX-License-Identifier: GPL-2.0-only
#include "a2s_store.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

_Static_assert(sizeof(struct kw_slot) % 8 == 0, "kw_slot alignment");
_Static_assert(sizeof(struct kw_store_hdr) == 4096, "kw_store_hdr");

/* Lease word: bits 0-21 pid (PID_MAX_LIMIT is 2^22), 22-23 kind, 24-63
 * expiry in CLOCK_MONOTONIC milliseconds (2^40 ms: 34 years of uptime). */
#define LEASE_PID_BITS 22
#define LEASE_KIND_SHIFT 22
#define LEASE_EXP_SHIFT 24
#define WLOCK_NS 1000000000ull

uint64_t kw_lease_word(uint32_t pid, enum a2s_kind k, uint64_t expiry_ns)
{
	uint64_t ms = expiry_ns / 1000000 + 1; /* never 0: 0 means free */

	return ms << LEASE_EXP_SHIFT | (uint64_t)(k & 3) << LEASE_KIND_SHIFT |
	       (pid & ((1u << LEASE_PID_BITS) - 1));
}

int kw_lease_live(uint64_t word, uint64_t now_ns, uint32_t *pid,
		  enum a2s_kind *k)
{
	uint64_t exp_ms = word >> LEASE_EXP_SHIFT;

	if (!word || exp_ms <= now_ns / 1000000)
		return 0;
	if (pid)
		*pid = (uint32_t)(word & ((1u << LEASE_PID_BITS) - 1));
	if (k)
		*k = (enum a2s_kind)((word >> LEASE_KIND_SHIFT) & 3);
	return 1;
}

int kw_lease_take(struct kw_slot *s, uint32_t pid, enum a2s_kind k,
		  uint64_t now_ns, uint64_t dur_ns)
{
	uint64_t cur = __atomic_load_n(&s->lease, __ATOMIC_ACQUIRE);
	uint64_t want = kw_lease_word(pid, k, now_ns + dur_ns);

	if (kw_lease_live(cur, now_ns, NULL, NULL))
		return 0;
	if (!__atomic_compare_exchange_n(&s->lease, &cur, want, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return 0;
	__atomic_store_n(&s->resends, 0, __ATOMIC_RELAXED);
	return 1;
}

void kw_lease_drop(struct kw_slot *s, enum a2s_kind k)
{
	uint64_t cur = __atomic_load_n(&s->lease, __ATOMIC_ACQUIRE);

	if (!cur || ((cur >> LEASE_KIND_SHIFT) & 3) != (uint64_t)k)
		return;
	/* Fails only when the lease changed meanwhile: then it is not the
	 * lease of this answer's query any more. */
	__atomic_compare_exchange_n(&s->lease, &cur, 0, false, __ATOMIC_ACQ_REL,
				    __ATOMIC_RELAXED);
}

void kw_slot_lock(struct kw_slot *s, uint32_t pid, uint64_t (*now)(void))
{
	for (;;) {
		uint64_t t = now();
		uint64_t cur = __atomic_load_n(&s->wlock, __ATOMIC_RELAXED);

		if (!kw_lease_live(cur, t, NULL, NULL) &&
		    __atomic_compare_exchange_n(
			&s->wlock, &cur, kw_lease_word(pid, 0, t + WLOCK_NS),
			false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			return;
		sched_yield();
	}
}

void kw_slot_unlock(struct kw_slot *s)
{
	__atomic_store_n(&s->wlock, 0, __ATOMIC_RELEASE);
}

static void blob_empty(struct kw_blob *b)
{
	uint32_t seq = __atomic_load_n(&b->seq, __ATOMIC_RELAXED);

	/* A writer that died mid-write left seq odd: keep it odd here. */
	__atomic_store_n(&b->seq, seq | 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	b->len = 0;
	b->updated_ns = 0;
	__atomic_store_n(&b->seq, (seq | 1) + 1, __ATOMIC_RELEASE);
}

bool kw_slot_claim(struct kw_slot *s, const struct km_service_key *svc)
{
	unsigned int k;

	if (!memcmp(&s->svc, svc, sizeof(*svc)))
		return false;
	for (k = 0; k < A2S_K_MAX; k++) {
		blob_empty(&s->blob[k]);
		__atomic_store_n(&s->last_query_ns[k], 0, __ATOMIC_RELAXED);
		__atomic_store_n(&s->wanted_ns[k], 0, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&s->flags, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&s->last_ok_ns, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&s->silent_since_ns, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&s->challenge_set, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&s->lease, 0, __ATOMIC_RELAXED);
	s->svc = *svc;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	return true;
}

void kw_blob_write(struct kw_blob *b, const uint8_t *d, size_t len,
		   uint64_t now_ns)
{
	uint32_t seq = __atomic_load_n(&b->seq, __ATOMIC_RELAXED) | 1;

	__atomic_store_n(&b->seq, seq, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	memcpy(b->data, d, len);
	b->len = (uint32_t)len;
	b->updated_ns = now_ns;
	__atomic_store_n(&b->seq, seq + 1, __ATOMIC_RELEASE);
}

int kw_blob_read(const struct kw_blob *b, uint8_t *out, size_t cap, size_t *len,
		 uint64_t *updated_ns)
{
	int tries;

	for (tries = 0; tries < 64; tries++) {
		uint32_t s1 = __atomic_load_n(&b->seq, __ATOMIC_ACQUIRE);
		uint32_t n = b->len;
		uint64_t t = b->updated_ns;

		if (s1 & 1) {
			sched_yield();
			continue;
		}
		if (n > cap || n > A2S_ANSWER_MAX)
			n = 0; /* torn: re-checked below */
		memcpy(out, b->data, n);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&b->seq, __ATOMIC_RELAXED) != s1)
			continue;
		if (!n)
			return -ENOENT;
		*len = n;
		*updated_ns = t;
		return 0;
	}
	return -EAGAIN;
}

/* ---- km_a2s_info ---- */

static uint32_t info_begin(struct km_a2s_entry *e)
{
	uint32_t seq = __atomic_load_n(&e->seq, __ATOMIC_RELAXED) | 1;

	__atomic_store_n(&e->seq, seq, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	return seq;
}

static void info_end(struct km_a2s_entry *e, uint32_t seq)
{
	__atomic_store_n(&e->seq, seq + 1, __ATOMIC_RELEASE);
}

void kw_info_write(struct km_a2s_entry *e, const struct km_service_key *svc,
		   const uint8_t *d, size_t len, uint64_t now_ns)
{
	uint32_t seq = info_begin(e);

	e->svc = *svc;
	e->updated_ns = now_ns;
	if (len <= KM_A2S_INFO_MAX) {
		memcpy(e->data, d, len);
		e->len = (uint16_t)len;
		e->csum = len ? pkt_sum16(d, len, 0) : 0;
		e->flags = KM_A2S_E_VALID;
	} else {
		e->len = 0;
		e->csum = 0;
		e->flags = 0;
	}
	info_end(e, seq);
}

void kw_info_flags(struct km_a2s_entry *e, uint32_t set, uint32_t clear)
{
	uint32_t seq = info_begin(e);

	e->flags = (e->flags & ~clear) | set;
	info_end(e, seq);
}

void kw_info_clear(struct km_a2s_entry *e)
{
	uint32_t seq = info_begin(e);

	e->flags = 0;
	e->len = 0;
	e->csum = 0;
	e->updated_ns = 0;
	memset(&e->svc, 0, sizeof(e->svc));
	info_end(e, seq);
}

/* ---- the store ---- */

size_t kw_store_size(uint32_t nslots)
{
	return sizeof(struct kw_store_hdr) +
	       (size_t)nslots * sizeof(struct kw_slot);
}

struct kw_slot *kw_store_slot(const struct kw_store *st, uint32_t id)
{
	if (id >= st->hdr->nslots)
		return NULL;
	return (struct kw_slot *)((uint8_t *)st->hdr +
				  sizeof(struct kw_store_hdr) +
				  (size_t)id * sizeof(struct kw_slot));
}

static void hdr_init(struct kw_store_hdr *h, uint32_t nslots)
{
	h->nslots = nslots;
	h->slot_size = sizeof(struct kw_slot);
	h->version = KW_STORE_VERSION;
	__atomic_store_n(&h->magic, KW_STORE_MAGIC, __ATOMIC_RELEASE);
}

void kw_store_init_mem(struct kw_store *st, void *mem, uint32_t nslots)
{
	memset(mem, 0, kw_store_size(nslots));
	st->hdr = mem;
	st->size = kw_store_size(nslots);
	st->fd = -1;
	hdr_init(st->hdr, nslots);
}

static bool hdr_ok(const struct kw_store_hdr *h)
{
	return h->magic == KW_STORE_MAGIC && h->version == KW_STORE_VERSION &&
	       h->nslots == KM_MAX_SERVICES &&
	       h->slot_size == sizeof(struct kw_slot);
}

/* Put a fresh, empty store at path by rename: workers that still map the
 * old file keep their inode (no SIGBUS from a truncation under them). */
static int store_replace(const char *path, size_t size)
{
	struct kw_store_hdr h;
	char tmp[4096];
	int fd, r = 0;

	snprintf(tmp, sizeof(tmp), "%s.new.%d", path, (int)getpid());
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return km_log_errno(-errno, "%s: %s", tmp, strerror(errno));
	memset(&h, 0, sizeof(h));
	hdr_init(&h, KM_MAX_SERVICES);
	if (ftruncate(fd, (off_t)size) ||
	    pwrite(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    rename(tmp, path))
		r = km_log_errno(errno ? -errno : -EIO, "%s: cannot create: %s",
				 path, strerror(errno ? errno : EIO));
	if (r)
		unlink(tmp);
	close(fd);
	return r;
}

/* Open path when it holds a store of this layout: 0 (fd and mapping set),
 * 1 when it must be replaced, -errno. */
static int store_try(struct kw_store *st, const char *path, size_t size)
{
	struct kw_store_hdr h;
	struct stat sb;
	void *mem;
	int fd, r = 1;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return km_log_errno(-errno, "%s: %s", path, strerror(errno));
	/* Workers start together: one checks or creates at a time. */
	if (flock(fd, LOCK_EX) || fstat(fd, &sb)) {
		r = km_log_errno(-errno, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!sb.st_size) {
		/* Created just now (by this open or another's): nobody maps
		 * it yet, initialise in place. */
		memset(&h, 0, sizeof(h));
		hdr_init(&h, KM_MAX_SERVICES);
		if (ftruncate(fd, (off_t)size) ||
		    pwrite(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h)) {
			r = km_log_errno(-EIO, "%s: cannot initialise", path);
			goto out;
		}
	} else if ((size_t)sb.st_size != size ||
		   pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
		   !hdr_ok(&h)) {
		km_warn("%s: another layout or version: replaced", path);
		r = store_replace(path, size);
		r = r ? r : 1;
		goto out;
	}
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED) {
		r = km_log_errno(-errno, "%s: mmap: %s", path, strerror(errno));
		goto out;
	}
	flock(fd, LOCK_UN);
	st->hdr = mem;
	st->size = size;
	st->fd = fd;
	return 0;
out:
	close(fd);
	return r;
}

int kw_store_open(struct kw_store *st, const char *path)
{
	size_t size = kw_store_size(KM_MAX_SERVICES);
	int tries, r = 1;

	st->hdr = NULL;
	st->fd = -1;
	for (tries = 0; tries < 3 && r == 1; tries++)
		r = store_try(st, path, size);
	if (r == 1)
		return km_log_errno(-EAGAIN, "%s: keeps changing under us",
				    path);
	return r;
}

void kw_store_close(struct kw_store *st)
{
	if (st->hdr && st->fd >= 0) {
		munmap(st->hdr, st->size);
		close(st->fd);
	}
	st->hdr = NULL;
	st->fd = -1;
}
