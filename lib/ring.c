// SPDX-License-Identifier: GPL-2.0-only
/* The stats ring (ring.h has the format and the protocol). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "ring.h"

_Static_assert(sizeof(struct km_ring_hdr) <= KM_RING_HDR_SIZE, "ring hdr");
_Static_assert(sizeof(struct km_ring_slot) == 32, "ring slot");

/* A reader gives up after this many torn copies in a row (the writer
 * rewrote the slot under it each time): returning -EAGAIN beats spinning
 * against a writer that publishes faster than a copy takes. */
#define RING_READ_TRIES 64

struct km_ring_writer {
	void *map;
	size_t len;
	struct km_ring_hdr *hdr;
	uint64_t seq;
};

struct km_ring_reader {
	char *path;
	void *map;
	size_t len;
	dev_t dev;
	ino_t ino;
	uint32_t nslots; /* geometry as checked at map time: a header
			    changed later cannot move reads out of the
			    mapping */
	uint32_t slot_size;
	uint64_t epoch;	   /* epoch of the mapping */
	uint64_t last_seq; /* last number returned in this epoch, 0: none */
	bool resynced;	   /* reported with the next read */
};

#define A_LOAD(p, mo) atomic_load_explicit((_Atomic uint64_t *)(p), mo)
#define A_STORE(p, v, mo) atomic_store_explicit((_Atomic uint64_t *)(p), v, mo)

static struct km_ring_slot *slot_at(void *map, uint32_t nslots,
				    uint32_t slot_size, uint64_t seq)
{
	size_t i = (seq - 1) % nslots;

	return (struct km_ring_slot *)((char *)map + KM_RING_HDR_SIZE +
				       i * slot_size);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

int km_ring_path(char *buf, size_t len, const char *run_dir, const char *ifname)
{
	int n;

	if (run_dir)
		n = snprintf(buf, len, "%s/stats.ring", run_dir);
	else if (ifname)
		n = snprintf(buf, len, "/run/kilimanjaro/%s/stats.ring",
			     ifname);
	else
		return km_log_errno(-EINVAL, "stats ring: no run dir and no "
					     "interface given");
	if (n < 0 || (size_t)n >= len)
		return km_log_errno(-ENAMETOOLONG, "stats ring: path too long");
	return 0;
}

static int ring_geometry(const struct km_ring_params *p, uint32_t *nslots,
			 uint32_t *slot_size, size_t *len)
{
	uint64_t ss, total;

	*nslots = p->nslots ? p->nslots : KM_RING_SLOTS_DEFAULT;
	if (*nslots < 2 || *nslots > KM_RING_SLOTS_MAX)
		return km_log_errno(-EINVAL, "stats ring: %u slots (2..%u)",
				    *nslots, KM_RING_SLOTS_MAX);
	if (!p->payload_max || p->payload_max > KM_RING_PAYLOAD_MAX)
		return km_log_errno(-EINVAL, "stats ring: payload of %u bytes",
				    p->payload_max);
	if (!p->payload_kind || strlen(p->payload_kind) >= 16)
		return km_log_errno(-EINVAL, "stats ring: bad payload kind");
	/* Cache-line multiple: a slot's lock never shares a line with the
	 * previous slot's payload. */
	ss = (sizeof(struct km_ring_slot) + p->payload_max + 63) & ~63ull;
	total = KM_RING_HDR_SIZE + ss * *nslots;
	*slot_size = (uint32_t)ss;
	*len = total;
	return 0;
}

static int ring_init_file(int fd, const char *tmp, size_t len,
			  const struct km_ring_params *p, uint32_t nslots,
			  uint32_t slot_size, struct km_ring_writer *w)
{
	struct km_ring_hdr *h;
	uint64_t epoch = 0;

	/* Sparse: tmpfs only allocates the pages of slots written. */
	if (ftruncate(fd, (off_t)len))
		return km_log_errno(-errno, "%s: cannot size to %zu bytes: %s",
				    tmp, len, strerror(errno));
	w->map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (w->map == MAP_FAILED) {
		w->map = NULL;
		return km_log_errno(-errno, "%s: mmap: %s", tmp,
				    strerror(errno));
	}
	w->len = len;
	while (!epoch)
		if (getrandom(&epoch, sizeof(epoch), 0) != sizeof(epoch))
			return km_log_errno(-errno, "stats ring: getrandom: %s",
					    strerror(errno));
	h = w->hdr = w->map;
	h->version = KM_RING_VERSION;
	h->hdr_size = KM_RING_HDR_SIZE;
	h->nslots = nslots;
	h->slot_size = slot_size;
	h->epoch = epoch;
	h->interval_ns = p->interval_ns;
	h->created_mono_ns = mono_ns();
	h->writer_pid = (uint32_t)getpid();
	snprintf(h->payload_kind, sizeof(h->payload_kind), "%s",
		 p->payload_kind);
	h->payload_version = p->payload_version;
	/* The magic last: a file with a magic is a complete header (the
	 * rename publishes it anyway, this also covers a crash before it). */
	atomic_thread_fence(memory_order_release);
	A_STORE(&h->magic, KM_RING_MAGIC, memory_order_release);
	return 0;
}

int km_ring_writer_create(struct km_ring_writer **out, const char *path,
			  const struct km_ring_params *p)
{
	struct km_ring_writer *w;
	uint32_t nslots = 0, slot_size = 0;
	char tmp[PATH_MAX];
	size_t len = 0;
	int fd = -1, r;

	*out = NULL;
	r = ring_geometry(p, &nslots, &slot_size, &len);
	if (r)
		return r;
	if (snprintf(tmp, sizeof(tmp), "%s.new.%d", path, (int)getpid()) >=
	    (int)sizeof(tmp))
		return km_log_errno(-ENAMETOOLONG, "%s: path too long", path);
	w = calloc(1, sizeof(*w));
	if (!w)
		return km_log_errno(-ENOMEM, "stats ring: out of memory");
	unlink(tmp);
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		r = km_log_errno(-errno, "%s: cannot create: %s", tmp,
				 strerror(errno));
		goto fail;
	}
	r = ring_init_file(fd, tmp, len, p, nslots, slot_size, w);
	if (r)
		goto fail;
	if (rename(tmp, path)) {
		r = km_log_errno(-errno, "%s: cannot rename to %s: %s", tmp,
				 path, strerror(errno));
		goto fail;
	}
	close(fd);
	*out = w;
	return 0;
fail:
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	if (w->map)
		munmap(w->map, w->len);
	free(w);
	return r;
}

int64_t km_ring_publish(struct km_ring_writer *w, const void *payload,
			size_t len)
{
	struct km_ring_hdr *h = w->hdr;
	uint64_t n = w->seq + 1, lock;
	struct km_ring_slot *s;

	if (len > h->slot_size - sizeof(*s))
		return km_log_errno(-EMSGSIZE,
				    "stats ring: snapshot of %zu bytes, slots "
				    "hold %zu",
				    len, h->slot_size - sizeof(*s));
	s = slot_at(w->map, h->nslots, h->slot_size, n);
	lock = A_LOAD(&s->lock, memory_order_relaxed);
	A_STORE(&s->lock, lock + 1, memory_order_relaxed);
	/* The odd lock must be visible before any payload byte changes. */
	atomic_thread_fence(memory_order_release);
	s->seq = n;
	s->len = len;
	memcpy(s + 1, payload, len);
	A_STORE(&s->lock, lock + 2, memory_order_release);
	A_STORE(&h->seq, n, memory_order_release);
	w->seq = n;
	return (int64_t)n;
}

uint64_t km_ring_writer_epoch(const struct km_ring_writer *w)
{
	return w->hdr->epoch;
}

void km_ring_writer_close(struct km_ring_writer *w)
{
	if (!w)
		return;
	atomic_fetch_or_explicit((_Atomic uint32_t *)&w->hdr->flags,
				 KM_RING_F_CLOSED, memory_order_release);
	munmap(w->map, w->len);
	free(w);
}

/* ---- reader ---- */

static int reader_map(struct km_ring_reader *r, bool quiet)
{
	const struct km_ring_hdr *h;
	uint32_t ns, ss;
	struct stat st;
	uint64_t need;
	void *map;
	int fd, e;

	fd = open(r->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e = -errno;
		if (quiet && e == -ENOENT)
			return e;
		return km_log_errno(e, "%s: %s%s", r->path, strerror(-e),
				    e == -ENOENT ? " (is kilimanjaro-statsd "
						   "running?)"
						 : "");
	}
	if (fstat(fd, &st)) {
		e = km_log_errno(-errno, "%s: %s", r->path, strerror(errno));
		goto out;
	}
	e = -EPROTO;
	if ((uint64_t)st.st_size < KM_RING_HDR_SIZE) {
		km_err("%s: not a stats ring (%lld bytes)", r->path,
		       (long long)st.st_size);
		goto out;
	}
	map = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		e = km_log_errno(-errno, "%s: mmap: %s", r->path,
				 strerror(errno));
		goto out;
	}
	h = map;
	/* Read once: what is checked is what is used. */
	ns = *(volatile uint32_t *)&h->nslots;
	ss = *(volatile uint32_t *)&h->slot_size;
	need = KM_RING_HDR_SIZE + (uint64_t)ns * ss;
	if (A_LOAD(&h->magic, memory_order_acquire) != KM_RING_MAGIC ||
	    h->version != KM_RING_VERSION || h->hdr_size != KM_RING_HDR_SIZE ||
	    ns < 2 || ns > KM_RING_SLOTS_MAX ||
	    ss <= sizeof(struct km_ring_slot) || ss % 64 ||
	    ss > KM_RING_PAYLOAD_MAX + 64 + sizeof(struct km_ring_slot) ||
	    need > (uint64_t)st.st_size) {
		km_err("%s: not a stats ring of version %u (magic, version or "
		       "geometry differ)",
		       r->path, KM_RING_VERSION);
		munmap(map, st.st_size);
		goto out;
	}
	if (r->map)
		munmap(r->map, r->len);
	r->map = map;
	r->len = st.st_size;
	r->dev = st.st_dev;
	r->ino = st.st_ino;
	r->nslots = ns;
	r->slot_size = ss;
	if (r->epoch && r->epoch != h->epoch)
		r->resynced = true;
	if (r->epoch != h->epoch)
		r->last_seq = 0;
	r->epoch = h->epoch;
	e = 0;
out:
	close(fd);
	return e;
}

int km_ring_reader_open(struct km_ring_reader **out, const char *path,
			bool quiet)
{
	struct km_ring_reader *r = calloc(1, sizeof(*r));
	int e;

	*out = NULL;
	if (!r || !(r->path = strdup(path))) {
		free(r);
		return km_log_errno(-ENOMEM, "stats ring: out of memory");
	}
	e = reader_map(r, quiet);
	if (e) {
		km_ring_reader_close(r);
		return e;
	}
	*out = r;
	return 0;
}

void km_ring_reader_close(struct km_ring_reader *r)
{
	if (!r)
		return;
	if (r->map)
		munmap(r->map, r->len);
	free(r->path);
	free(r);
}

size_t km_ring_reader_payload_max(const struct km_ring_reader *r)
{
	return r->slot_size - sizeof(struct km_ring_slot);
}

/* Re-map when another file (a new writer) is at the path now. A missing
 * file keeps the old mapping: its last snapshots are still the latest. */
static int reader_refresh(struct km_ring_reader *r)
{
	struct stat st;
	int e;

	if (stat(r->path, &st))
		return 0;
	if (st.st_dev == r->dev && st.st_ino == r->ino)
		return 0;
	e = reader_map(r, true);
	return e == -ENOENT ? 0 : e;
}

/* Copy snapshot n if the ring still holds it untorn: 0, -EAGAIN (torn,
 * try again), -ESTALE (overwritten by a later one), -EMSGSIZE. */
static int copy_slot(struct km_ring_reader *r, uint64_t n, void *buf,
		     size_t cap, size_t *len)
{
	struct km_ring_slot *s = slot_at(r->map, r->nslots, r->slot_size, n);
	uint64_t l1, l2, seq, sz;

	l1 = A_LOAD(&s->lock, memory_order_acquire);
	if (l1 & 1)
		return -EAGAIN;
	seq = s->seq;
	sz = s->len;
	if (seq != n) {
		atomic_thread_fence(memory_order_acquire);
		if (A_LOAD(&s->lock, memory_order_relaxed) != l1)
			return -EAGAIN;
		return seq > n ? -ESTALE : -EAGAIN;
	}
	if (sz > r->slot_size - sizeof(*s) || sz > cap) {
		/* Only a torn read can show a length beyond the slot; one
		 * beyond cap is real when the lock held still. */
		atomic_thread_fence(memory_order_acquire);
		if (A_LOAD(&s->lock, memory_order_relaxed) != l1 ||
		    sz > r->slot_size - sizeof(*s))
			return -EAGAIN;
		return -EMSGSIZE;
	}
	memcpy(buf, s + 1, sz);
	atomic_thread_fence(memory_order_acquire);
	l2 = A_LOAD(&s->lock, memory_order_relaxed);
	if (l1 != l2)
		return -EAGAIN;
	*len = sz;
	return 0;
}

static void fill_info(const struct km_ring_reader *r, struct km_ring_info *i,
		      uint64_t n, uint64_t latest, uint64_t lost,
		      uint32_t tries)
{
	const struct km_ring_hdr *h = r->map;

	memset(i, 0, sizeof(*i));
	i->seq = n;
	i->epoch = r->epoch;
	i->latest = latest;
	i->lost = lost;
	i->retries = tries;
	i->resynced = r->resynced;
	i->closed = atomic_load_explicit((_Atomic uint32_t *)&h->flags,
					 memory_order_acquire) &
		    KM_RING_F_CLOSED;
	i->interval_ns = h->interval_ns;
	memcpy(i->payload_kind, h->payload_kind, sizeof(i->payload_kind));
	i->payload_kind[sizeof(i->payload_kind) - 1] = 0;
	i->payload_version = h->payload_version;
}

/* Read number `want` or, when `latest_only`, whatever is latest; when
 * `want` was overwritten, the oldest still held. */
static int ring_read(struct km_ring_reader *r, bool latest_only, void *buf,
		     size_t cap, size_t *len, struct km_ring_info *info)
{
	const struct km_ring_hdr *h;
	uint64_t latest, n;
	uint32_t tries;
	int e;

	e = reader_refresh(r);
	if (e)
		return e;
	h = r->map;
	for (tries = 0; tries < RING_READ_TRIES; tries++) {
		latest = A_LOAD(&h->seq, memory_order_acquire);
		if (!latest)
			return -EAGAIN;
		if (latest_only || !r->last_seq)
			n = latest;
		else if (latest <= r->last_seq)
			return -EAGAIN;
		else
			n = r->last_seq + 1;
		/* Oldest the writer cannot be touching: it may be writing
		 * latest + 1, which reuses the slot of latest + 1 - nslots. */
		if (latest - n >= r->nslots - 1)
			n = latest - (r->nslots - 2);
		e = copy_slot(r, n, buf, cap, len);
		if (e == -EMSGSIZE)
			return e;
		if (!e)
			break;
	}
	if (e)
		return -EAGAIN;
	fill_info(r, info, n, latest,
		  r->last_seq && n > r->last_seq ? n - r->last_seq - 1 : 0,
		  tries);
	r->last_seq = n;
	r->resynced = false;
	return 0;
}

int km_ring_read_latest(struct km_ring_reader *r, void *buf, size_t cap,
			size_t *len, struct km_ring_info *info)
{
	return ring_read(r, true, buf, cap, len, info);
}

int km_ring_read_next(struct km_ring_reader *r, void *buf, size_t cap,
		      size_t *len, struct km_ring_info *info)
{
	return ring_read(r, false, buf, cap, len, info);
}

int km_ring_read_at(struct km_ring_reader *r, uint64_t seq, void *buf,
		    size_t cap, size_t *len, struct km_ring_info *info)
{
	const struct km_ring_hdr *h = r->map;
	uint64_t latest;
	int e = -EAGAIN;
	uint32_t tries;

	for (tries = 0; tries < RING_READ_TRIES; tries++) {
		latest = A_LOAD(&h->seq, memory_order_acquire);
		if (!seq || seq > latest)
			return -EAGAIN;
		if (latest - seq >= r->nslots - 1)
			return -ESTALE;
		e = copy_slot(r, seq, buf, cap, len);
		if (e != -EAGAIN)
			break;
	}
	if (e)
		return e;
	fill_info(r, info, seq, latest, 0, tries);
	return 0;
}
