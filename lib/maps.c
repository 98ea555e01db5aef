// SPDX-License-Identifier: GPL-2.0-only
/*
 * Map access shared by the loader, the CLI and the agent. The rules it
 * implements (origins, id allocation, derived service maps, double-buffered
 * prefix lists) are described in docs/design.md; lib/maps.h states the
 * contract of each function.
 */
#include "maps.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "log.h"

const char *const km_map_names[KM_M_MAX] = {
    [KM_M_CONFIG] = KM_MAP_CONFIG,
    [KM_M_EDGE_ADDRS] = KM_MAP_EDGE_ADDRS,
    [KM_M_SERVICES] = KM_MAP_SERVICES,
    [KM_M_SVC_CFG] = KM_MAP_SVC_CFG,
    [KM_M_SVC_ADDRS] = KM_MAP_SVC_ADDRS,
    [KM_M_BACKENDS] = KM_MAP_BACKENDS,
    [KM_M_BACKEND_SVC] = KM_MAP_BACKEND_SVC,
    [KM_M_ALLOW_A] = KM_MAP_ALLOW_A,
    [KM_M_ALLOW_B] = KM_MAP_ALLOW_B,
    [KM_M_DENY_A] = KM_MAP_DENY_A,
    [KM_M_DENY_B] = KM_MAP_DENY_B,
    [KM_M_BLOCKS] = KM_MAP_BLOCKS,
    [KM_M_RL_SRC] = KM_MAP_RL_SRC,
    [KM_M_RL_TOTAL] = KM_MAP_RL_TOTAL,
    [KM_M_VALIDATED] = KM_MAP_VALIDATED,
    [KM_M_PUNCHES] = KM_MAP_PUNCHES,
    [KM_M_STATS] = KM_MAP_STATS,
    [KM_M_COUNTERS] = KM_MAP_COUNTERS,
    [KM_M_SVC_STATS] = KM_MAP_SVC_STATS,
    [KM_M_EVENTS] = KM_MAP_EVENTS,
    [KM_M_SVC_REV] = KM_MAP_SVC_REV,
    [KM_M_ALLOW_BM_A] = KM_MAP_ALLOW_BM_A,
    [KM_M_ALLOW_BM_B] = KM_MAP_ALLOW_BM_B,
    [KM_M_DENY_BM_A] = KM_MAP_DENY_BM_A,
    [KM_M_DENY_BM_B] = KM_MAP_DENY_BM_B,
    [KM_M_FIB_CACHE] = KM_MAP_FIB_CACHE,
    [KM_M_VAL_SEEN] = KM_MAP_VAL_SEEN,
    [KM_M_UNVAL_SEEN] = KM_MAP_UNVAL_SEEN,
    [KM_M_SVC_CACHE] = KM_MAP_SVC_CACHE,
    [KM_M_REV_CACHE] = KM_MAP_REV_CACHE,
    [KM_M_VAL_FILTER] = KM_MAP_VAL_FILTER,
    [KM_M_A2S_CFG] = KM_MAP_A2S_CFG,
    [KM_M_A2S_KEY] = KM_MAP_A2S_KEY,
    [KM_M_A2S_INFO] = KM_MAP_A2S_INFO,
    [KM_M_A2S_STATS] = KM_MAP_A2S_STATS,
    [KM_M_A2S_WSTATS] = KM_MAP_A2S_WSTATS,
    [KM_M_XSKS] = KM_MAP_XSKS,
};

/*
 * Key and value sizes the ABI promises, checked whenever maps are opened so
 * that a program built against another ABI is reported by map name instead
 * of being read with the wrong layout. percpu matters for the buffer size
 * of every read, so it is checked too.
 */
static const struct {
	uint32_t key_size;
	uint32_t value_size;
	bool percpu;
} km_map_layout[KM_M_MAX] = {
    [KM_M_CONFIG] = {4, sizeof(struct km_config), false},
    [KM_M_EDGE_ADDRS] = {4, sizeof(struct km_edge_addr), false},
    [KM_M_SERVICES] = {sizeof(struct km_service_key), sizeof(struct km_service),
		       false},
    [KM_M_SVC_CFG] = {4, sizeof(struct km_svc_cfg), false},
    [KM_M_SVC_ADDRS] = {4, sizeof(struct km_svc_addr), false},
    [KM_M_BACKENDS] = {4, 4, false},
    [KM_M_BACKEND_SVC] = {sizeof(struct km_backend_svc_key), 4, false},
    [KM_M_ALLOW_A] = {sizeof(struct km_prefix_key),
		      sizeof(struct km_prefix_val), false},
    [KM_M_ALLOW_B] = {sizeof(struct km_prefix_key),
		      sizeof(struct km_prefix_val), false},
    [KM_M_DENY_A] = {sizeof(struct km_prefix_key), sizeof(struct km_prefix_val),
		     false},
    [KM_M_DENY_B] = {sizeof(struct km_prefix_key), sizeof(struct km_prefix_val),
		     false},
    [KM_M_BLOCKS] = {4, sizeof(struct km_block), false},
    [KM_M_RL_SRC] = {sizeof(struct km_rl_key), sizeof(struct km_bucket), false},
    [KM_M_RL_TOTAL] = {4, sizeof(struct km_bucket), true},
    [KM_M_VALIDATED] = {sizeof(struct km_validated_key),
			sizeof(struct km_validated), false},
    [KM_M_PUNCHES] = {sizeof(struct km_punch_key), sizeof(struct km_punch),
		      false},
    [KM_M_STATS] = {4, sizeof(struct km_stat), true},
    [KM_M_COUNTERS] = {4, sizeof(uint64_t), true},
    [KM_M_SVC_STATS] = {4, sizeof(struct km_svc_stat), true},
    [KM_M_EVENTS] = {0, 0, false},
    [KM_M_SVC_REV] = {sizeof(struct km_svc_rev_key), sizeof(struct km_svc_rev),
		      false},
    [KM_M_ALLOW_BM_A] = {4, 8, false},
    [KM_M_ALLOW_BM_B] = {4, 8, false},
    [KM_M_DENY_BM_A] = {4, 8, false},
    [KM_M_DENY_BM_B] = {4, 8, false},
    [KM_M_FIB_CACHE] = {4, sizeof(struct km_fib_entry), true},
    [KM_M_VAL_SEEN] = {4, sizeof(struct km_seen), true},
    [KM_M_UNVAL_SEEN] = {4, sizeof(struct km_seen), true},
    [KM_M_SVC_CACHE] = {4, sizeof(struct km_svc_cached), true},
    [KM_M_REV_CACHE] = {4, sizeof(struct km_rev_cached), true},
    [KM_M_VAL_FILTER] = {4, 8, false},
    [KM_M_A2S_CFG] = {4, sizeof(struct km_a2s_cfg), false},
    [KM_M_A2S_KEY] = {4, sizeof(struct km_a2s_key), false},
    [KM_M_A2S_INFO] = {4, sizeof(struct km_a2s_entry), false},
    [KM_M_A2S_STATS] = {4, sizeof(struct km_a2s_stat), true},
    [KM_M_A2S_WSTATS] = {4, sizeof(struct km_a2s_wstat), false},
    [KM_M_XSKS] = {4, 4, false},
};

/* ---- formatting entries for log messages ---- */

struct km_strbuf {
	char s[96];
};

struct km_abuf {
	char s[INET_ADDRSTRLEN];
};

static const char *abuf_addr(struct km_abuf *b, uint32_t addr_be)
{
	struct in_addr a = {.s_addr = addr_be};

	if (!inet_ntop(AF_INET, &a, b->s, sizeof(b->s)))
		snprintf(b->s, sizeof(b->s), "?");
	return b->s;
}

static const char *fmt_addr(struct km_strbuf *b, uint32_t addr_be)
{
	struct km_abuf a;

	snprintf(b->s, sizeof(b->s), "%s", abuf_addr(&a, addr_be));
	return b->s;
}

static const char *proto_name(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_ICMP:
		return "icmp";
	default:
		return "proto?";
	}
}

static const char *fmt_svc(struct km_strbuf *b, uint8_t proto, uint32_t addr,
			   uint16_t port)
{
	struct km_abuf a;

	snprintf(b->s, sizeof(b->s), "%s %s:%u", proto_name(proto),
		 abuf_addr(&a, addr), ntohs(port));
	return b->s;
}

static const char *fmt_prefix(struct km_strbuf *b,
			      const struct km_prefix_key *k)
{
	struct km_abuf a;

	snprintf(b->s, sizeof(b->s), "%s/%u", abuf_addr(&a, k->addr),
		 k->prefixlen);
	return b->s;
}

static const char *fmt_punch(struct km_strbuf *b, const struct km_punch_key *k)
{
	struct km_abuf a, r;

	snprintf(b->s, sizeof(b->s), "%s %s:%u <- %s:%u", proto_name(k->proto),
		 abuf_addr(&a, k->svc_addr), ntohs(k->svc_port),
		 abuf_addr(&r, k->remote), ntohs(k->remote_port));
	return b->s;
}

/* ---- opening ---- */

static int check_layout(int fd, enum km_map_id id)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);
	bool percpu;

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return km_log_errno(-errno, "%s: cannot read map info: %s",
				    km_map_names[id], strerror(errno));
	if (id == KM_M_EVENTS) {
		if (info.type != BPF_MAP_TYPE_RINGBUF)
			return km_log_errno(
			    -EPROTO, "%s: map type %u, expected ring buffer",
			    km_map_names[id], info.type);
		return 0;
	}
	percpu = info.type == BPF_MAP_TYPE_PERCPU_ARRAY ||
		 info.type == BPF_MAP_TYPE_PERCPU_HASH ||
		 info.type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
	if (info.key_size != km_map_layout[id].key_size ||
	    info.value_size != km_map_layout[id].value_size ||
	    percpu != km_map_layout[id].percpu)
		return km_log_errno(-EPROTO,
				    "%s: key %u value %u bytes%s, ABI %d "
				    "expects key %u value %u bytes%s",
				    km_map_names[id], info.key_size,
				    info.value_size, percpu ? " per CPU" : "",
				    KM_ABI_VERSION, km_map_layout[id].key_size,
				    km_map_layout[id].value_size,
				    km_map_layout[id].percpu ? " per CPU" : "");
	return 0;
}

static void maps_reset(struct km_maps *m)
{
	for (int i = 0; i < KM_M_MAX; i++)
		m->fd[i] = -1;
	m->ncpus = 0;
}

static int maps_init_cpus(struct km_maps *m)
{
	int n = libbpf_num_possible_cpus();

	if (n <= 0)
		return km_log_errno(n ? n : -EINVAL,
				    "cannot read the number of possible CPUs");
	m->ncpus = n;
	return 0;
}

/*
 * Both ways of opening the maps (pins, a loaded object) differ only in how
 * map i's fd is had: open_one returns it, or -errno having said why. Each
 * is checked against the layout; on any failure everything is closed.
 */
static int maps_open(struct km_maps *m, int (*open_one)(const void *src, int i),
		     const void *src)
{
	int r;

	maps_reset(m);
	r = maps_init_cpus(m);
	if (r)
		return r;
	for (int i = 0; i < KM_M_MAX; i++) {
		r = open_one(src, i);
		if (r < 0)
			goto fail;
		m->fd[i] = r;
		r = check_layout(m->fd[i], i);
		if (r)
			goto fail;
	}
	return 0;
fail:
	km_maps_close(m);
	return r;
}

static int open_pinned_one(const void *src, int i)
{
	const char *pin_root = src;
	char path[PATH_MAX];
	int fd, r;

	if (snprintf(path, sizeof(path), "%s/%s", pin_root, km_map_names[i]) >=
	    (int)sizeof(path))
		return km_log_errno(-ENAMETOOLONG, "pin path too long: %s/%s",
				    pin_root, km_map_names[i]);
	fd = bpf_obj_get(path);
	if (fd >= 0)
		return fd;
	r = -errno;
	if (r == -ENOENT)
		km_err("%s: no such pin (nothing loaded at %s?)", path,
		       pin_root);
	else
		km_err("%s: cannot open pin: %s", path, strerror(-r));
	return r;
}

int km_maps_open_pinned(struct km_maps *m, const char *pin_root)
{
	return maps_open(m, open_pinned_one, pin_root);
}

static int object_one(const void *src, int i)
{
	const struct bpf_object *obj = src;
	struct bpf_map *map;
	int fd;

	map = bpf_object__find_map_by_name(obj, km_map_names[i]);
	if (!map)
		return km_log_errno(-ENOENT, "%s: map not in BPF object %s",
				    km_map_names[i], bpf_object__name(obj));
	fd = bpf_map__fd(map);
	if (fd < 0)
		return km_log_errno(-EBADF, "%s: map not loaded",
				    km_map_names[i]);
	fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return km_log_errno(-errno, "%s: dup: %s", km_map_names[i],
				    strerror(errno));
	return fd;
}

int km_maps_from_object(struct km_maps *m, struct bpf_object *obj)
{
	return maps_open(m, object_one, obj);
}

void km_maps_close(struct km_maps *m)
{
	if (!m)
		return;
	for (int i = 0; i < KM_M_MAX; i++) {
		/* A zeroed struct has fd 0 everywhere: never ours to close. */
		if (m->fd[i] > 0)
			close(m->fd[i]);
		m->fd[i] = -1;
	}
}

/* ---- generic helpers ---- */

static int mfd(const struct km_maps *m, enum km_map_id id)
{
	return m->fd[id];
}

/* Size of one per-CPU value buffer as the kernel copies it. */
static size_t percpu_size(const struct km_maps *m, size_t value_size)
{
	return (size_t)m->ncpus * ((value_size + 7) & ~(size_t)7);
}

/*
 * Collect every key (and value, when vsize) of a hash/LRU/LPM map into one
 * malloc'd array of records {key, value}. When the data plane deletes the
 * current key meanwhile (LRU eviction, expiry), get_next_key restarts from
 * the first key: the walk may then see keys twice, and is bounded by
 * max_entries + 1 steps so that it always ends.
 */
struct km_dump {
	void *rec; /* n records of ksize + vsize bytes */
	size_t n;
	size_t ksize, vsize;
};

static int map_dump(const struct km_maps *m, enum km_map_id id,
		    struct km_dump *d, bool values)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);
	size_t cap = 0, rsize;
	uint8_t key[64], next[64];
	void *cur = NULL;
	int fd = mfd(m, id), r;

	memset(d, 0, sizeof(*d));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return km_log_errno(-errno, "%s: cannot read map info: %s",
				    km_map_names[id], strerror(errno));
	if (info.key_size > sizeof(key))
		return km_log_errno(-EPROTO, "%s: key of %u bytes unexpected",
				    km_map_names[id], info.key_size);
	d->ksize = info.key_size;
	d->vsize = values && !km_map_layout[id].percpu ? info.value_size : 0;
	rsize = d->ksize + d->vsize;
	for (uint32_t i = 0; i <= info.max_entries; i++) {
		if (bpf_map_get_next_key(fd, cur, next)) {
			if (errno == ENOENT)
				break;
			r = km_log_errno(-errno, "%s: cannot iterate: %s",
					 km_map_names[id], strerror(errno));
			goto fail;
		}
		memcpy(key, next, d->ksize);
		cur = key;
		if (d->n == cap) {
			void *p;

			cap = cap ? cap * 2 : 64;
			p = realloc(d->rec, cap * (rsize ? rsize : 1));
			if (!p) {
				r = km_log_errno(-ENOMEM, "%s: out of memory",
						 km_map_names[id]);
				goto fail;
			}
			d->rec = p;
		}
		uint8_t *rec = (uint8_t *)d->rec + d->n * rsize;

		memcpy(rec, key, d->ksize);
		if (d->vsize && bpf_map_lookup_elem(fd, key, rec + d->ksize))
			continue; /* deleted meanwhile: skip it */
		d->n++;
	}
	return 0;
fail:
	free(d->rec);
	memset(d, 0, sizeof(*d));
	return r;
}

static void *dump_rec(const struct km_dump *d, size_t i)
{
	return (uint8_t *)d->rec + i * (d->ksize + d->vsize);
}

/* Records are packed, so copy them out into aligned structs. */
static void dump_get(const struct km_dump *d, size_t i, void *key, void *val)
{
	const uint8_t *rec = dump_rec(d, i);

	if (key)
		memcpy(key, rec, d->ksize);
	if (val)
		memcpy(val, rec + d->ksize, d->vsize);
}

/*
 * Every *_list function hands out the same thing: one array of {key, value}
 * entries, aligned, from one dump of a map. esize is the entry's size, koff
 * and voff where its key and value start; *out is never NULL on success so
 * that callers may free it without a check.
 */
static int map_list(const struct km_maps *m, enum km_map_id id, void **out,
		    size_t *n, size_t esize, size_t koff, size_t voff)
{
	struct km_dump d;
	uint8_t *e;
	int r;

	*out = NULL;
	*n = 0;
	r = map_dump(m, id, &d, true);
	if (r)
		return r;
	e = calloc(d.n ? d.n : 1, esize);
	if (!e) {
		free(d.rec);
		return km_log_errno(-ENOMEM, "%s: out of memory",
				    km_map_names[id]);
	}
	for (size_t i = 0; i < d.n; i++)
		dump_get(&d, i, e + i * esize + koff, e + i * esize + voff);
	*out = e;
	*n = d.n;
	free(d.rec);
	return 0;
}

static int map_clear(const struct km_maps *m, enum km_map_id id)
{
	struct km_dump d;
	int r;

	r = map_dump(m, id, &d, false);
	if (r)
		return r;
	for (size_t i = 0; i < d.n; i++) {
		if (bpf_map_delete_elem(mfd(m, id), dump_rec(&d, i)) &&
		    errno != ENOENT) {
			r = km_log_errno(-errno, "%s: cannot delete entry: %s",
					 km_map_names[id], strerror(errno));
			break;
		}
	}
	free(d.rec);
	return r;
}

long km_map_count(const struct km_maps *m, enum km_map_id id)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);
	uint8_t key[64], next[64];
	void *cur = NULL;
	long n = 0;
	int fd;

	if (id < 0 || id >= KM_M_MAX)
		return km_log_errno(-EINVAL, "map id %d out of range", id);
	fd = mfd(m, id);
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return km_log_errno(-errno, "%s: cannot read map info: %s",
				    km_map_names[id], strerror(errno));
	if (info.type == BPF_MAP_TYPE_ARRAY ||
	    info.type == BPF_MAP_TYPE_PERCPU_ARRAY)
		return info.max_entries;
	if (info.key_size > sizeof(key) || !info.key_size)
		return km_log_errno(-EOPNOTSUPP, "%s: cannot count entries",
				    km_map_names[id]);
	for (uint32_t i = 0; i <= info.max_entries; i++) {
		if (bpf_map_get_next_key(fd, cur, next)) {
			if (errno == ENOENT)
				return n;
			return km_log_errno(-errno, "%s: cannot iterate: %s",
					    km_map_names[id], strerror(errno));
		}
		memcpy(key, next, info.key_size);
		cur = key;
		n++;
	}
	/* A restarted walk (see map_dump) counts some keys twice. */
	return n > (long)info.max_entries ? (long)info.max_entries : n;
}

long km_map_capacity(const struct km_maps *m, enum km_map_id id)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);

	if (id < 0 || id >= KM_M_MAX)
		return km_log_errno(-EINVAL, "map id %d out of range", id);
	if (bpf_obj_get_info_by_fd(mfd(m, id), &info, &len))
		return km_log_errno(-errno, "%s: cannot read map info: %s",
				    km_map_names[id], strerror(errno));
	return info.max_entries;
}

/* ---- config ---- */

int km_config_read(const struct km_maps *m, struct km_config *cfg)
{
	uint32_t k = 0;

	if (bpf_map_lookup_elem(mfd(m, KM_M_CONFIG), &k, cfg))
		return km_log_errno(-errno, "%s: cannot read entry 0: %s",
				    KM_MAP_CONFIG, strerror(errno));
	return 0;
}

static int config_write_raw(const struct km_maps *m,
			    const struct km_config *cfg)
{
	uint32_t k = 0;

	if (bpf_map_update_elem(mfd(m, KM_M_CONFIG), &k, cfg, BPF_ANY))
		return km_log_errno(-errno, "%s: cannot write entry 0: %s",
				    KM_MAP_CONFIG, strerror(errno));
	return 0;
}

/* km_services changed: the data plane's service caches start over. The
 * caller holds the lock; the map is written before this is called. */
static int config_svc_epoch_bump(const struct km_maps *m)
{
	struct km_config cfg;
	int r;

	r = km_config_read(m, &cfg);
	if (r)
		return r;
	cfg.svc_epoch++;
	return config_write_raw(m, &cfg);
}

/* Set or clear lib_flags bits; the caller holds the lock. */
static int config_lib_flags(const struct km_maps *m, uint8_t set,
			    uint8_t clear)
{
	struct km_config cfg;
	int r;

	r = km_config_read(m, &cfg);
	if (r)
		return r;
	if ((cfg.lib_flags | set) == cfg.lib_flags && !(cfg.lib_flags & clear))
		return 0;
	cfg.lib_flags = (cfg.lib_flags | set) & ~clear;
	return config_write_raw(m, &cfg);
}

/* ---- edge addresses ---- */

static bool addr_in(const uint32_t *a, size_t n, uint32_t x)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] == x)
			return true;
	return false;
}

/* Deletes first, then puts: the map never holds more than the final set,
 * so the loader's pre-flight (final set <= max_entries) is all it takes. */
static int km_edge_addrs_sync_nolock(const struct km_maps *m,
				     const uint32_t *addrs_be, size_t n,
				     uint8_t origin)
{
	int fd = mfd(m, KM_M_EDGE_ADDRS), r;
	struct km_edge_addr v = {.origin = origin}, cur;
	struct km_strbuf b;
	struct km_dump d;

	r = map_dump(m, KM_M_EDGE_ADDRS, &d, true);
	if (r)
		return r;
	for (size_t i = 0; i < d.n; i++) {
		uint32_t k;

		dump_get(&d, i, &k, &cur);
		if (cur.origin != origin || addr_in(addrs_be, n, k))
			continue;
		if (bpf_map_delete_elem(fd, &k) && errno != ENOENT) {
			r = km_log_errno(-errno, "%s: cannot delete %s: %s",
					 KM_MAP_EDGE_ADDRS, fmt_addr(&b, k),
					 strerror(errno));
			break;
		}
	}
	free(d.rec);
	for (size_t i = 0; i < n && !r; i++) {
		if (!bpf_map_lookup_elem(fd, &addrs_be[i], &cur) &&
		    cur.origin != origin) {
			km_warn("%s: %s kept, already installed by %s",
				KM_MAP_EDGE_ADDRS, fmt_addr(&b, addrs_be[i]),
				km_origin_name(cur.origin));
			continue;
		}
		if (bpf_map_update_elem(fd, &addrs_be[i], &v, BPF_ANY))
			r = km_log_errno(
			    -errno, "%s: cannot add %s: %s", KM_MAP_EDGE_ADDRS,
			    fmt_addr(&b, addrs_be[i]), strerror(errno));
	}
	return r;
}

int km_edge_addrs_list(const struct km_maps *m, struct km_edge_entry **out,
		       size_t *n)
{
	void *e;
	int r = map_list(m, KM_M_EDGE_ADDRS, &e, n,
			 sizeof(struct km_edge_entry),
			 offsetof(struct km_edge_entry, addr),
			 offsetof(struct km_edge_entry, val));

	*out = e;
	return r;
}

/* ---- services ---- */

int km_service_get(const struct km_maps *m, uint8_t proto, uint32_t addr,
		   uint16_t port, struct km_service *out)
{
	struct km_service_key k = {.proto = proto, .port = port, .addr = addr};
	struct km_strbuf b;

	if (!bpf_map_lookup_elem(mfd(m, KM_M_SERVICES), &k, out))
		return 0;
	if (errno == ENOENT)
		return -ENOENT;
	return km_log_errno(-errno, "%s: cannot read %s: %s", KM_MAP_SERVICES,
			    fmt_svc(&b, proto, addr, port), strerror(errno));
}

int km_svc_cfg_read(const struct km_maps *m, uint32_t id,
		    struct km_svc_cfg *out)
{
	if (bpf_map_lookup_elem(mfd(m, KM_M_SVC_CFG), &id, out))
		return km_log_errno(-errno, "%s: cannot read id %u: %s",
				    KM_MAP_SVC_CFG, id, strerror(errno));
	return 0;
}

int km_services_list(const struct km_maps *m, struct km_service_entry **out,
		     size_t *n)
{
	void *e;
	int r = map_list(m, KM_M_SERVICES, &e, n, sizeof(struct km_service_entry),
			 offsetof(struct km_service_entry, key),
			 offsetof(struct km_service_entry, val));

	*out = e;
	return r;
}

/* Derived entries wanted for a list of services, sorted for bsearch. */
struct km_derived {
	struct addr_agg {
		uint32_t addr;
		struct km_svc_addr v;
	} * addrs;
	struct be_agg {
		uint32_t backend;
		uint32_t count;
	} * backends;
	struct bs_agg {
		struct km_backend_svc_key k;
		uint32_t count;
	} * bsvc;
	struct rev_agg {
		struct km_svc_rev_key k;
		struct km_svc_rev v;
		size_t order; /* position in the input: first one wins */
	} * rev;
	size_t n_addrs, n_backends, n_bsvc, n_rev;
};

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_bskey(const void *a, const void *b)
{
	const struct km_backend_svc_key *x = a, *y = b;

	if (x->backend != y->backend)
		return x->backend < y->backend ? -1 : 1;
	return x->svc_addr < y->svc_addr ? -1 : x->svc_addr > y->svc_addr;
}

/* Key order only: bsearch in derived_prune compares keys. */
static int cmp_revkey(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct km_svc_rev_key));
}

static int cmp_rev_order(const void *a, const void *b)
{
	const struct rev_agg *x = a, *y = b;
	int c = cmp_revkey(&x->k, &y->k);

	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

static struct km_svc_rev_key rev_key(const struct km_service_entry *s)
{
	return (struct km_svc_rev_key){
	    .proto = s->key.proto,
	    .port = s->val.backend_port ? s->val.backend_port : s->key.port,
	    .svc_addr = s->key.addr,
	    .backend = s->val.backend,
	};
}

static void derived_free(struct km_derived *dv)
{
	free(dv->addrs);
	free(dv->backends);
	free(dv->bsvc);
	free(dv->rev);
	memset(dv, 0, sizeof(*dv));
}

/* One record per service, sorted, equal neighbours merged: O(n log n) for
 * the few thousand services a map holds. */
static int derived_build(const struct km_service_entry *s, size_t n,
			 struct km_derived *dv)
{
	size_t j;

	memset(dv, 0, sizeof(*dv));
	dv->addrs = calloc(n + 1, sizeof(*dv->addrs));
	dv->backends = calloc(n + 1, sizeof(*dv->backends));
	dv->bsvc = calloc(n + 1, sizeof(*dv->bsvc));
	dv->rev = calloc(n + 1, sizeof(*dv->rev));
	if (!dv->addrs || !dv->backends || !dv->bsvc || !dv->rev) {
		derived_free(dv);
		return km_log_errno(-ENOMEM,
				    "derived service maps: out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		dv->addrs[i] =
		    (struct addr_agg){s[i].key.addr, {s[i].val.id, 1}};
		dv->backends[i] = (struct be_agg){s[i].val.backend, 1};
		dv->bsvc[i] =
		    (struct bs_agg){{s[i].val.backend, s[i].key.addr}, 1};
		dv->rev[i] = (struct rev_agg){
		    rev_key(&s[i]), {.id = s[i].val.id, .svc_port = s[i].key.port},
		    i};
	}
	qsort(dv->addrs, n, sizeof(*dv->addrs), cmp_u32);
	qsort(dv->backends, n, sizeof(*dv->backends), cmp_u32);
	qsort(dv->bsvc, n, sizeof(*dv->bsvc), cmp_bskey);
	qsort(dv->rev, n, sizeof(*dv->rev), cmp_rev_order);
	for (size_t i = j = 0; i < n; i++) {
		if (j && dv->addrs[j - 1].addr == dv->addrs[i].addr) {
			struct km_svc_addr *v = &dv->addrs[j - 1].v;

			v->services++;
			if (dv->addrs[i].v.icmp_service_id < v->icmp_service_id)
				v->icmp_service_id =
				    dv->addrs[i].v.icmp_service_id;
		} else {
			dv->addrs[j++] = dv->addrs[i];
		}
	}
	dv->n_addrs = j;
	for (size_t i = j = 0; i < n; i++) {
		if (j && dv->backends[j - 1].backend == dv->backends[i].backend)
			dv->backends[j - 1].count++;
		else
			dv->backends[j++] = dv->backends[i];
	}
	dv->n_backends = j;
	for (size_t i = j = 0; i < n; i++) {
		if (j && !cmp_bskey(&dv->bsvc[j - 1].k, &dv->bsvc[i].k))
			dv->bsvc[j - 1].count++;
		else
			dv->bsvc[j++] = dv->bsvc[i];
	}
	dv->n_bsvc = j;
	/* While a reload applies, the old and the new services are both
	 * listed; on a clash the one listed first (what km_services holds
	 * now) keeps the key until the final derive. svc_apply refuses
	 * clashes in the final set. */
	for (size_t i = j = 0; i < n; i++)
		if (!j || cmp_revkey(&dv->rev[j - 1].k, &dv->rev[i].k))
			dv->rev[j++] = dv->rev[i];
	dv->n_rev = j;
	return 0;
}

static int derived_write(const struct km_maps *m, const struct km_derived *dv)
{
	struct km_strbuf a, b;

	for (size_t i = 0; i < dv->n_addrs; i++)
		if (bpf_map_update_elem(mfd(m, KM_M_SVC_ADDRS),
					&dv->addrs[i].addr, &dv->addrs[i].v,
					BPF_ANY))
			return km_log_errno(
			    -errno, "%s: cannot write %s: %s", KM_MAP_SVC_ADDRS,
			    fmt_addr(&a, dv->addrs[i].addr), strerror(errno));
	for (size_t i = 0; i < dv->n_backends; i++)
		if (bpf_map_update_elem(mfd(m, KM_M_BACKENDS),
					&dv->backends[i].backend,
					&dv->backends[i].count, BPF_ANY))
			return km_log_errno(
			    -errno, "%s: cannot write %s: %s", KM_MAP_BACKENDS,
			    fmt_addr(&a, dv->backends[i].backend),
			    strerror(errno));
	for (size_t i = 0; i < dv->n_bsvc; i++)
		if (bpf_map_update_elem(mfd(m, KM_M_BACKEND_SVC),
					&dv->bsvc[i].k, &dv->bsvc[i].count,
					BPF_ANY))
			return km_log_errno(
			    -errno,
			    "%s: cannot write backend %s service %s: %s",
			    KM_MAP_BACKEND_SVC,
			    fmt_addr(&a, dv->bsvc[i].k.backend),
			    fmt_addr(&b, dv->bsvc[i].k.svc_addr),
			    strerror(errno));
	for (size_t i = 0; i < dv->n_rev; i++)
		if (bpf_map_update_elem(mfd(m, KM_M_SVC_REV), &dv->rev[i].k,
					&dv->rev[i].v, BPF_ANY))
			return km_log_errno(
			    -errno, "%s: cannot write service id %u: %s",
			    KM_MAP_SVC_REV, dv->rev[i].v.id, strerror(errno));
	return 0;
}

/* Delete the keys of a derived map that the wanted set (sorted array of
 * records starting with the key) does not contain. */
static int derived_prune(const struct km_maps *m, enum km_map_id id,
			 const void *want, size_t n, size_t size,
			 int (*cmp)(const void *, const void *))
{
	struct km_strbuf a, b;
	struct km_dump d;
	uint8_t key[16];
	int r;

	r = map_dump(m, id, &d, false);
	if (r)
		return r;
	for (size_t i = 0; i < d.n; i++) {
		dump_get(&d, i, key, NULL);
		if (bsearch(key, want, n, size, cmp))
			continue;
		if (bpf_map_delete_elem(mfd(m, id), key) && errno != ENOENT) {
			size_t o = id == KM_M_SVC_REV ? 4 : 0;
			uint32_t k0, k1;

			memcpy(&k0, key + o, 4);
			memcpy(&k1, key + o + 4, 4);
			r = km_log_errno(-errno, "%s: cannot delete %s%s%s: %s",
					 km_map_names[id], fmt_addr(&a, k0),
					 d.ksize > 4 ? " service " : "",
					 d.ksize > 4 ? fmt_addr(&b, k1) : "",
					 strerror(errno));
			break;
		}
	}
	free(d.rec);
	return r;
}

static int derive_from(const struct km_maps *m,
		       const struct km_service_entry *s, size_t n, bool prune)
{
	struct km_derived dv;
	int r;

	r = derived_build(s, n, &dv);
	if (r)
		return r;
	r = derived_write(m, &dv);
	if (!r && prune)
		r = derived_prune(m, KM_M_SVC_ADDRS, dv.addrs, dv.n_addrs,
				  sizeof(*dv.addrs), cmp_u32);
	if (!r && prune)
		r = derived_prune(m, KM_M_BACKENDS, dv.backends, dv.n_backends,
				  sizeof(*dv.backends), cmp_u32);
	if (!r && prune)
		r = derived_prune(m, KM_M_BACKEND_SVC, dv.bsvc, dv.n_bsvc,
				  sizeof(*dv.bsvc), cmp_bskey);
	if (!r && prune)
		r = derived_prune(m, KM_M_SVC_REV, dv.rev, dv.n_rev,
				  sizeof(*dv.rev), cmp_revkey);
	derived_free(&dv);
	return r;
}

/* Every change of km_services ends here: derived maps, then the epoch
 * that empties the data plane's service caches. */
static int km_services_derive_nolock(const struct km_maps *m)
{
	struct km_service_entry *s;
	size_t n;
	int r, r2;

	r = km_services_list(m, &s, &n);
	if (r)
		return r;
	r = derive_from(m, s, n, true);
	free(s);
	r2 = config_svc_epoch_bump(m);
	return r ?: r2;
}

static uint64_t div_up(uint64_t x, uint64_t n)
{
	return x / n + !!(x % n);
}

/* The service-wide budget becomes a per-CPU share: each CPU refills its own
 * bucket (km_rl_total is per CPU), so the sum over CPUs is the budget. */
static struct km_limit limit_per_cpu(const struct km_limit *l, int ncpus)
{
	struct km_limit r = *l;

	r.pps = div_up(l->pps, ncpus);
	r.burst_pkts = div_up(l->burst_pkts, ncpus);
	r.bps = div_up(l->bps, ncpus);
	r.burst_bytes = div_up(l->burst_bytes, ncpus);
	if (r.pps && !r.burst_pkts)
		r.burst_pkts = 1;
	return r;
}

/* ---- A2S per service (docs/design.md "A2S") ---- */

static bool a2s_on(const struct km_service_spec *s)
{
	return s->a2s.flags & KM_A2S_F_ENABLED;
}

/* KM_SVC_F_A2S mirrors the A2S config, whatever the caller put in flags. */
static uint32_t svc_flags(const struct km_service_spec *s)
{
	return a2s_on(s) ? s->flags | KM_SVC_F_A2S : s->flags & ~KM_SVC_F_A2S;
}

const char *km_a2s_cfg_problem(const struct km_a2s_cfg *a, uint8_t proto)
{
	const uint64_t ms = 1000000ull;

	if (a->flags & ~(uint32_t)(KM_A2S_F_ENABLED | KM_A2S_F_NO_CHALLENGE))
		return "unknown A2S flags";
	if (!(a->flags & KM_A2S_F_ENABLED))
		return a->flags ? "A2S options without A2S enabled" : NULL;
	if (proto != IPPROTO_UDP)
		return "A2S is UDP only";
	if (a->refresh_ns < KM_A2S_MIN_MS * ms ||
	    a->max_age_ns < KM_A2S_MIN_MS * ms ||
	    a->timeout_ns < KM_A2S_MIN_MS * ms ||
	    a->refresh_ns > KM_A2S_MAX_MS * ms ||
	    a->max_age_ns > KM_A2S_MAX_MS * ms ||
	    a->timeout_ns > KM_A2S_MAX_MS * ms)
		return "A2S times must be 100..3600000 ms";
	if (a->max_age_ns < a->refresh_ns)
		return "A2S max_age is less than refresh";
	if (a->timeout_ns < 2 * a->refresh_ns)
		return "A2S timeout is less than twice refresh";
	return NULL;
}

static int a2s_spec_check(const struct km_service_spec *s)
{
	const char *why = km_a2s_cfg_problem(&s->a2s, s->proto);
	struct km_strbuf b;

	if (!why)
		return 0;
	return km_log_errno(-EINVAL, "service %s: %s",
			    fmt_svc(&b, s->proto, s->addr, s->port), why);
}

/* A new id starts with zero A2S counters (the workers' included). */
static int a2s_zero_counters(const struct km_maps *m, uint32_t id)
{
	size_t sz = percpu_size(m, sizeof(struct km_a2s_stat));
	struct km_a2s_wstat wz = {0};
	void *zero = calloc(1, sz);
	int r = 0;

	if (!zero)
		return km_log_errno(-ENOMEM, "%s: out of memory",
				    KM_MAP_A2S_STATS);
	if (bpf_map_update_elem(mfd(m, KM_M_A2S_STATS), &id, zero, BPF_ANY))
		r = km_log_errno(-errno, "%s: cannot zero id %u: %s",
				 KM_MAP_A2S_STATS, id, strerror(errno));
	else if (bpf_map_update_elem(mfd(m, KM_M_A2S_WSTATS), &id, &wz,
				     BPF_ANY))
		r = km_log_errno(-errno, "%s: cannot zero id %u: %s",
				 KM_MAP_A2S_WSTATS, id, strerror(errno));
	free(zero);
	return r;
}

/* Before the km_services entry is written: a packet that finds the service
 * (or KM_SVC_F_A2S) already finds its A2S config complete. */
static int a2s_cfg_write(const struct km_maps *m,
			 const struct km_service_spec *s, uint32_t id,
			 bool fresh)
{
	struct km_a2s_cfg a = {0};
	struct km_strbuf b;
	int r;

	if (a2s_on(s))
		a = s->a2s;
	if (fresh) {
		r = a2s_zero_counters(m, id);
		if (r)
			return r;
	}
	if (bpf_map_update_elem(mfd(m, KM_M_A2S_CFG), &id, &a, BPF_ANY))
		return km_log_errno(-errno, "%s: cannot write id %u for %s: %s",
				    KM_MAP_A2S_CFG, id,
				    fmt_svc(&b, s->proto, s->addr, s->port),
				    strerror(errno));
	return 0;
}

/* After the service is gone and svc_epoch moved: a free id reads A2S off. */
static int a2s_cfg_clear(const struct km_maps *m, uint32_t id)
{
	struct km_a2s_cfg a = {0};

	if (id >= KM_MAX_SERVICES)
		return 0;
	if (bpf_map_update_elem(mfd(m, KM_M_A2S_CFG), &id, &a, BPF_ANY))
		return km_log_errno(-errno, "%s: cannot clear id %u: %s",
				    KM_MAP_A2S_CFG, id, strerror(errno));
	return 0;
}

static int a2s_cfg_clear_ids(const struct km_maps *m, const uint8_t *gone)
{
	int r = 0;

	for (uint32_t id = 0; id < KM_MAX_SERVICES; id++)
		if (gone[id / 8] & (1u << (id % 8)))
			r = a2s_cfg_clear(m, id) ?: r;
	return r;
}

static int spec_check(const struct km_service_spec *s)
{
	struct km_strbuf b, c;

	if (s->proto != IPPROTO_UDP && s->proto != IPPROTO_TCP)
		return km_log_errno(
		    -EINVAL, "service %s: protocol %u is not udp or tcp",
		    fmt_svc(&b, s->proto, s->addr, s->port), s->proto);
	if (!s->addr || !s->port)
		return km_log_errno(
		    -EINVAL, "service %s: address and port must not be 0",
		    fmt_svc(&b, s->proto, s->addr, s->port));
	if (!s->backend)
		return km_log_errno(-EINVAL,
				    "service %s: backend %s is not an address",
				    fmt_svc(&b, s->proto, s->addr, s->port),
				    fmt_addr(&c, s->backend));
	return a2s_spec_check(s);
}

static struct km_service_key spec_key(const struct km_service_spec *s)
{
	return (struct km_service_key){
	    .proto = s->proto, .port = s->port, .addr = s->addr};
}

static ssize_t svc_find(const struct km_service_entry *s, size_t n,
			const struct km_service_key *k)
{
	for (size_t i = 0; i < n; i++)
		if (!memcmp(&s[i].key, k, sizeof(*k)))
			return i;
	return -1;
}

/* State the data plane keeps per service id (validated players, source
 * buckets) must not carry over to a new service that reuses a freed id. */
static int purge_ids(const struct km_maps *m, const uint8_t *fresh)
{
	static const enum km_map_id ids[] = {KM_M_VALIDATED, KM_M_RL_SRC};
	struct km_dump d;
	int r = 0;

	for (size_t j = 0; j < sizeof(ids) / sizeof(ids[0]) && !r; j++) {
		r = map_dump(m, ids[j], &d, false);
		if (r)
			return r;
		for (size_t i = 0; i < d.n; i++) {
			uint8_t key[16];
			uint32_t id;

			dump_get(&d, i, key, NULL);
			memcpy(&id, key, sizeof(id)); /* service_id first */
			if (id >= KM_MAX_SERVICES ||
			    !(fresh[id / 8] & (1u << (id % 8))))
				continue;
			if (bpf_map_delete_elem(mfd(m, ids[j]), key) &&
			    errno != ENOENT) {
				r = km_log_errno(-errno,
						 "%s: cannot delete an entry "
						 "of service id %u: %s",
						 km_map_names[ids[j]], id,
						 strerror(errno));
				break;
			}
		}
		free(d.rec);
	}
	return r;
}

static int svc_zero_counters(const struct km_maps *m, uint32_t id)
{
	size_t sz = percpu_size(m, sizeof(struct km_svc_stat));
	void *zero = calloc(1, sz);
	int r = 0;

	if (!zero)
		return km_log_errno(-ENOMEM, "%s: out of memory",
				    KM_MAP_SVC_STATS);
	if (bpf_map_update_elem(mfd(m, KM_M_SVC_STATS), &id, zero, BPF_ANY))
		r = km_log_errno(-errno, "%s: cannot zero id %u: %s",
				 KM_MAP_SVC_STATS, id, strerror(errno));
	/* km_bucket per CPU is smaller than km_svc_stat: same zero buffer. */
	else if (bpf_map_update_elem(mfd(m, KM_M_RL_TOTAL), &id, zero, BPF_ANY))
		r = km_log_errno(-errno, "%s: cannot zero id %u: %s",
				 KM_MAP_RL_TOTAL, id, strerror(errno));
	free(zero);
	return r;
}

/* What a packet would otherwise divide for every bucket it meets
 * (km_limit.ns_per_pkt, kilimanjaro_abi.h). */
static struct km_limit limit_derive(struct km_limit l)
{
	l.ns_per_pkt = l.pps ? (uint32_t)(1000000000ULL / l.pps) : 0;
	return l;
}

static int svc_write(const struct km_maps *m, const struct km_service_spec *s,
		     const struct km_service *v, bool fresh)
{
	struct km_service_key k = spec_key(s);
	struct km_svc_cfg cfg = {
	    .unvalidated = limit_derive(s->unvalidated),
	    .validated = limit_derive(s->validated),
	    .total = limit_derive(limit_per_cpu(&s->total, m->ncpus)),
	    .icmp = limit_derive(s->icmp),
	    .flags = s->flags,
	};
	struct km_strbuf b;
	int r;

	cfg.flags = svc_flags(s);
	if (bpf_map_update_elem(mfd(m, KM_M_SVC_CFG), &v->id, &cfg, BPF_ANY))
		return km_log_errno(-errno, "%s: cannot write id %u for %s: %s",
				    KM_MAP_SVC_CFG, v->id,
				    fmt_svc(&b, s->proto, s->addr, s->port),
				    strerror(errno));
	if (fresh) {
		r = svc_zero_counters(m, v->id);
		if (r)
			return r;
	}
	r = a2s_cfg_write(m, s, v->id, fresh);
	if (r)
		return r;
	if (bpf_map_update_elem(mfd(m, KM_M_SERVICES), &k, v, BPF_ANY))
		return km_log_errno(
		    -errno, "%s: cannot write %s: %s", KM_MAP_SERVICES,
		    fmt_svc(&b, s->proto, s->addr, s->port), strerror(errno));
	return 0;
}

/* Two services answered from the same (proto, backend port, address,
 * backend): the return path could not tell which one a reply belongs to.
 * Sorted, so a reload of thousands of services stays O(n log n). */
static int rev_clash(const struct km_service_entry *s, size_t n)
{
	struct rev_agg *k = calloc(n + 1, sizeof(*k));
	struct km_strbuf a, b, c;
	int r = 0;

	if (!k)
		return km_log_errno(-ENOMEM, "%s: out of memory",
				    KM_MAP_SVC_REV);
	for (size_t i = 0; i < n; i++)
		k[i] = (struct rev_agg){.k = rev_key(&s[i]), .order = i};
	qsort(k, n, sizeof(*k), cmp_rev_order);
	for (size_t i = 1; i < n && !r; i++) {
		const struct km_service_entry *x = &s[k[i - 1].order],
					      *y = &s[k[i].order];

		if (cmp_revkey(&k[i - 1].k, &k[i].k))
			continue;
		r = km_log_errno(
		    -EEXIST,
		    "services %s and %s both reach backend %s on port %u: "
		    "their replies could not be told apart",
		    fmt_svc(&a, x->key.proto, x->key.addr, x->key.port),
		    fmt_svc(&b, y->key.proto, y->key.addr, y->key.port),
		    fmt_addr(&c, k[i].k.backend), ntohs(k[i].k.port));
	}
	free(k);
	return r;
}

/* The services km_services will hold once specs[] are applied. */
static int svc_final_clash(const struct km_service_entry *cur, size_t ncur,
			   const struct km_service_spec *specs,
			   const struct km_service *vals, size_t n,
			   uint8_t origin, bool sync)
{
	struct km_service_entry *fin = calloc(ncur + n + 1, sizeof(*fin));
	size_t nfin = 0;
	int r;

	if (!fin)
		return km_log_errno(-ENOMEM, "%s: out of memory",
				    KM_MAP_SERVICES);
	for (size_t i = 0; i < ncur; i++) {
		bool gone = sync && cur[i].val.origin == origin;

		for (size_t j = 0; j < n && !gone; j++) {
			struct km_service_key k = spec_key(&specs[j]);

			gone = !memcmp(&k, &cur[i].key, sizeof(k));
		}
		if (!gone)
			fin[nfin++] = cur[i];
	}
	for (size_t i = 0; i < n; i++)
		fin[nfin++] =
		    (struct km_service_entry){spec_key(&specs[i]), vals[i]};
	r = rev_clash(fin, nfin);
	free(fin);
	return r;
}

/*
 * Put specs[] as `origin` and, when sync, delete the other entries of
 * `origin`. Derived maps are first written for the union of old and new
 * services (so a new service has its derived entries before it exists and a
 * removed one keeps them until it is gone), then pruned to the final set.
 */
static int svc_apply(const struct km_maps *m,
		     const struct km_service_spec *specs, size_t n,
		     uint8_t origin, bool sync, bool dry)
{
	struct km_service_entry *cur = NULL, *all = NULL;
	struct km_service *vals = NULL;
	uint8_t used[KM_MAX_SERVICES / 8] = {}, fresh[KM_MAX_SERVICES / 8] = {};
	uint8_t gone[KM_MAX_SERVICES / 8] = {};
	bool *is_new = NULL, any_new = false, wrote = false;
	size_t ncur, nall = 0, next_id = 0;
	struct km_strbuf b;
	int r;

	for (size_t i = 0; i < n; i++) {
		struct km_service_key k = spec_key(&specs[i]);

		r = spec_check(&specs[i]);
		if (r)
			return r;
		for (size_t j = 0; j < i; j++) {
			struct km_service_key kj = spec_key(&specs[j]);

			if (!memcmp(&k, &kj, sizeof(k)))
				return km_log_errno(
				    -EINVAL, "service %s listed twice",
				    fmt_svc(&b, k.proto, k.addr, k.port));
		}
	}
	r = km_services_list(m, &cur, &ncur);
	if (r)
		return r;
	vals = calloc(n + 1, sizeof(*vals));
	is_new = calloc(n + 1, sizeof(*is_new));
	all = calloc(ncur + n + 1, sizeof(*all));
	if (!vals || !is_new || !all) {
		r = km_log_errno(-ENOMEM, "%s: out of memory", KM_MAP_SERVICES);
		goto out;
	}
	for (size_t i = 0; i < ncur; i++) {
		if (cur[i].val.id < KM_MAX_SERVICES)
			used[cur[i].val.id / 8] |= 1u << (cur[i].val.id % 8);
		all[nall++] = cur[i];
	}
	/* Everything is checked and every id chosen before the first write. */
	for (size_t i = 0; i < n; i++) {
		struct km_service_key k = spec_key(&specs[i]);
		ssize_t c = svc_find(cur, ncur, &k);

		if (c >= 0 && cur[c].val.origin != origin) {
			r = km_log_errno(-EEXIST,
					 "%s: %s already installed by %s",
					 KM_MAP_SERVICES,
					 fmt_svc(&b, k.proto, k.addr, k.port),
					 km_origin_name(cur[c].val.origin));
			goto out;
		}
		vals[i] = (struct km_service){
		    .backend = specs[i].backend,
		    .backend_port = specs[i].backend_port,
		    .origin = origin,
		    .flags = svc_flags(&specs[i]),
		};
		if (c >= 0) {
			vals[i].id = cur[c].val.id;
			continue;
		}
		while (next_id < KM_MAX_SERVICES &&
		       (used[next_id / 8] & (1u << (next_id % 8))))
			next_id++;
		if (next_id == KM_MAX_SERVICES) {
			r = km_log_errno(-ENOSPC,
					 "%s: no free service id for %s (%d "
					 "services at most)",
					 KM_MAP_SERVICES,
					 fmt_svc(&b, k.proto, k.addr, k.port),
					 KM_MAX_SERVICES);
			goto out;
		}
		vals[i].id = next_id;
		used[next_id / 8] |= 1u << (next_id % 8);
		fresh[next_id / 8] |= 1u << (next_id % 8);
		is_new[i] = any_new = true;
	}
	r = svc_final_clash(cur, ncur, specs, vals, n, origin, sync);
	if (r || dry)
		goto out;
	for (size_t i = 0; i < n; i++)
		all[nall++] =
		    (struct km_service_entry){spec_key(&specs[i]), vals[i]};
	r = derive_from(m, all, nall, false);
	wrote = true;
	if (!r && any_new)
		r = purge_ids(m, fresh);
	for (size_t i = 0; i < n && !r; i++)
		r = svc_write(m, &specs[i], &vals[i], is_new[i]);
	for (size_t i = 0; i < ncur && !r && sync; i++) {
		bool keep = cur[i].val.origin != origin;

		for (size_t j = 0; j < n && !keep; j++) {
			struct km_service_key k = spec_key(&specs[j]);

			keep = !memcmp(&k, &cur[i].key, sizeof(k));
		}
		if (keep)
			continue;
		if (bpf_map_delete_elem(mfd(m, KM_M_SERVICES), &cur[i].key) &&
		    errno != ENOENT)
			r = km_log_errno(
			    -errno, "%s: cannot delete %s: %s", KM_MAP_SERVICES,
			    fmt_svc(&b, cur[i].key.proto, cur[i].key.addr,
				    cur[i].key.port),
			    strerror(errno));
		else if (cur[i].val.id < KM_MAX_SERVICES)
			gone[cur[i].val.id / 8] |= 1u << (cur[i].val.id % 8);
	}
	/* Derive from what the map holds now, also after a failed write, so
	 * the derived maps never keep entries of services that are gone
	 * (which also bumps svc_epoch). */
	if (wrote) {
		int r2 = km_services_derive_nolock(m);

		if (!r)
			r = r2;
		r2 = a2s_cfg_clear_ids(m, gone);
		if (!r)
			r = r2;
	}
out:
	free(cur);
	free(all);
	free(vals);
	free(is_new);
	return r;
}

static int km_service_put_nolock(const struct km_maps *m,
				 const struct km_service_spec *s,
				 uint8_t origin)
{
	return svc_apply(m, s, 1, origin, false, false);
}

static int km_services_sync_nolock(const struct km_maps *m,
				   const struct km_service_spec *specs,
				   size_t n, uint8_t origin)
{
	return svc_apply(m, specs, n, origin, true, false);
}

static int km_service_del_nolock(const struct km_maps *m, uint8_t proto,
				 uint32_t addr, uint16_t port, uint8_t origin)
{
	struct km_service_key k = {.proto = proto, .port = port, .addr = addr};
	struct km_service v;
	struct km_strbuf b;
	int r;

	r = km_service_get(m, proto, addr, port, &v);
	if (r == -ENOENT)
		return km_log_errno(r, "%s: no service %s", KM_MAP_SERVICES,
				    fmt_svc(&b, proto, addr, port));
	if (r)
		return r;
	if (v.origin != origin)
		return km_log_errno(
		    -EPERM, "%s: %s belongs to %s, not %s", KM_MAP_SERVICES,
		    fmt_svc(&b, proto, addr, port), km_origin_name(v.origin),
		    km_origin_name(origin));
	if (bpf_map_delete_elem(mfd(m, KM_M_SERVICES), &k))
		return km_log_errno(
		    -errno, "%s: cannot delete %s: %s", KM_MAP_SERVICES,
		    fmt_svc(&b, proto, addr, port), strerror(errno));
	r = km_services_derive_nolock(m);
	return a2s_cfg_clear(m, v.id) ?: r;
}

/* ---- allow / deny prefix lists ---- */

#define KM_FLIP_GRACE_US 10000

static const char *list_name(enum km_list l)
{
	return l == KM_LIST_ALLOW ? "allow" : "deny";
}

int km_prefix_check(const struct km_prefix_key *k)
{
	uint32_t mask;

	if (k->prefixlen > 32)
		return -EINVAL;
	mask = k->prefixlen ? htonl(~0u << (32 - k->prefixlen)) : 0;
	return k->addr & ~mask ? -EINVAL : 0;
}

static enum km_map_id list_map(enum km_list l, uint32_t pair)
{
	if (l == KM_LIST_ALLOW)
		return pair ? KM_M_ALLOW_B : KM_M_ALLOW_A;
	return pair ? KM_M_DENY_B : KM_M_DENY_A;
}

int km_prefix_active_map(const struct km_maps *m, enum km_list l,
			 enum km_map_id *out)
{
	struct km_config cfg;
	int r;

	r = km_config_read(m, &cfg);
	if (r)
		return r;
	*out = list_map(l, cfg.active_lists & 1);
	return 0;
}

static int prefix_checked(enum km_list l, const struct km_prefix_key *k)
{
	struct km_strbuf b;

	if (km_prefix_check(k))
		return km_log_errno(
		    -EINVAL, "%s %s: %s", list_name(l), fmt_prefix(&b, k),
		    k->prefixlen > 32
			? "prefix length above 32"
			: "host bits set after the prefix length");
	return 0;
}

/*
 * An LPM lookup returns the longest prefix covering the key, which is the
 * exact entry when it exists. Whether it does is learnt by rewriting the
 * value found with BPF_EXIST, which fails with -ENOENT unless that exact
 * prefix is present (and changes nothing when it is).
 */
static int lpm_get_exact(const struct km_maps *m, enum km_map_id id,
			 const struct km_prefix_key *k,
			 struct km_prefix_val *out)
{
	struct km_strbuf b;
	int fd = mfd(m, id);

	if (bpf_map_lookup_elem(fd, k, out)) {
		if (errno == ENOENT)
			return -ENOENT;
		return km_log_errno(-errno, "%s: cannot read %s: %s",
				    km_map_names[id], fmt_prefix(&b, k),
				    strerror(errno));
	}
	if (bpf_map_update_elem(fd, k, out, BPF_EXIST)) {
		if (errno == ENOENT)
			return -ENOENT;
		return km_log_errno(-errno, "%s: cannot read %s: %s",
				    km_map_names[id], fmt_prefix(&b, k),
				    strerror(errno));
	}
	return 0;
}

int km_prefix_get(const struct km_maps *m, enum km_list l,
		  const struct km_prefix_key *k, struct km_prefix_val *out)
{
	enum km_map_id id;
	int r;

	r = prefix_checked(l, k);
	if (!r)
		r = km_prefix_active_map(m, l, &id);
	if (!r)
		r = lpm_get_exact(m, id, k, out);
	return r;
}

/* Any origin: copy everything. */
#define KM_ORIGIN_ALL 0xff

/* Copy the entries of `src` whose origin is not `origin` into `dst`,
 * leaving entries `dst` already has; *added (may be NULL) counts the new
 * ones. */
static int lpm_copy_others(const struct km_maps *m, enum km_map_id src,
			   enum km_map_id dst, uint8_t origin, size_t *added)
{
	struct km_strbuf b;
	struct km_dump d;
	int r;

	r = map_dump(m, src, &d, true);
	if (r)
		return r;
	for (size_t i = 0; i < d.n; i++) {
		struct km_prefix_key k;
		struct km_prefix_val v;

		dump_get(&d, i, &k, &v);
		if (v.origin == origin)
			continue;
		if (!bpf_map_update_elem(mfd(m, dst), &k, &v, BPF_NOEXIST)) {
			if (added)
				(*added)++;
		} else if (errno != EEXIST) {
			r = km_log_errno(-errno, "%s: cannot add %s: %s",
					 km_map_names[dst], fmt_prefix(&b, &k),
					 strerror(errno));
			break;
		}
	}
	free(d.rec);
	return r;
}

/* ---- bitmaps next to the tries (DIR-24-8 first level) ---- */

#define KM_BM_BYTES ((size_t)KM_BM_WORDS * sizeof(uint64_t))
#define BM_WORD_NONE 0x5555555555555555ULL /* KM_BM_NONE in every /24 */
#define BM_WORD_ALL 0xaaaaaaaaaaaaaaaaULL  /* KM_BM_ALL in every /24 */

static enum km_map_id bm_map(enum km_list l, uint32_t pair)
{
	if (l == KM_LIST_ALLOW)
		return pair ? KM_M_ALLOW_BM_B : KM_M_ALLOW_BM_A;
	return pair ? KM_M_DENY_BM_B : KM_M_DENY_BM_A;
}

static unsigned int bm_get(const uint64_t *w, uint32_t n)
{
	return (w[n >> 5] >> ((n & 31) * 2)) & KM_BM_MASK;
}

static void bm_set(uint64_t *w, uint32_t n, unsigned int st)
{
	unsigned int sh = (n & 31) * 2;

	w[n >> 5] = (w[n >> 5] & ~((uint64_t)KM_BM_MASK << sh)) |
		    ((uint64_t)st << sh);
}

/* A prefix of length <= 24 makes its /24s KM_BM_ALL (whole words at a
 * time from /19 up); a longer one sends its /24 to the trie unless a
 * shorter prefix already covers it all. Order of the prefixes is free. */
static void bm_compute(uint64_t *w, const struct km_prefix_key *k, size_t n)
{
	for (size_t i = 0; i < KM_BM_WORDS; i++)
		w[i] = BM_WORD_NONE;
	for (size_t i = 0; i < n; i++) {
		uint32_t a = ntohl(k[i].addr), first = a >> 8, end;

		if (k[i].prefixlen > 24) {
			if (bm_get(w, first) != KM_BM_ALL)
				bm_set(w, first, KM_BM_TRIE);
			continue;
		}
		end = first + (1u << (24 - k[i].prefixlen));
		for (uint32_t j = first; j < end;) {
			if (!(j & 31) && end - j >= 32) {
				w[j >> 5] = BM_WORD_ALL;
				j += 32;
			} else {
				bm_set(w, j++, KM_BM_ALL);
			}
		}
	}
}

/* The bitmap map, mapped shared (4 MiB), after checking its size. */
static int bm_mmap(const struct km_maps *m, enum km_map_id id, uint64_t **out)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);
	void *p;

	if (bpf_obj_get_info_by_fd(mfd(m, id), &info, &len))
		return km_log_errno(-errno, "%s: cannot read map info: %s",
				    km_map_names[id], strerror(errno));
	if (info.max_entries != KM_BM_WORDS || !(info.map_flags & BPF_F_MMAPABLE))
		return km_log_errno(-EPROTO,
				    "%s: %u entries (flags %#x), expected %u "
				    "mmapable",
				    km_map_names[id], info.max_entries,
				    info.map_flags, KM_BM_WORDS);
	p = mmap(NULL, KM_BM_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED,
		 mfd(m, id), 0);
	if (p == MAP_FAILED)
		return km_log_errno(-errno, "%s: cannot mmap: %s",
				    km_map_names[id], strerror(errno));
	*out = p;
	return 0;
}

/* The bitmap of list l in `pair` from the trie of that pair. In place and
 * word by word: each /24 goes from its old state to the new one at once. */
static int bm_rebuild(const struct km_maps *m, enum km_list l, uint32_t pair)
{
	enum km_map_id tid = list_map(l, pair), bid = bm_map(l, pair);
	struct km_prefix_key *keys = NULL;
	uint64_t *w = NULL, *mw = NULL;
	struct km_dump d;
	int r;

	r = map_dump(m, tid, &d, false);
	if (r)
		return r;
	keys = calloc(d.n + 1, sizeof(*keys));
	w = malloc(KM_BM_BYTES);
	if (!keys || !w) {
		r = km_log_errno(-ENOMEM, "%s: out of memory",
				 km_map_names[bid]);
		goto out;
	}
	for (size_t i = 0; i < d.n; i++)
		dump_get(&d, i, &keys[i], NULL);
	bm_compute(w, keys, d.n);
	r = bm_mmap(m, bid, &mw);
	if (r)
		goto out;
	for (size_t i = 0; i < KM_BM_WORDS; i++)
		if (mw[i] != w[i])
			__atomic_store_n(&mw[i], w[i], __ATOMIC_RELAXED);
	munmap(mw, KM_BM_BYTES);
out:
	free(d.rec);
	free(keys);
	free(w);
	return r;
}

int km_prefix_bitmap_state(const struct km_maps *m, enum km_list l,
			   uint32_t pair, uint32_t addr, unsigned int *state)
{
	uint32_t n = ntohl(addr) >> 8, word = n >> 5;
	enum km_map_id id = bm_map(l, pair & 1);
	uint64_t v;

	if (bpf_map_lookup_elem(mfd(m, id), &word, &v))
		return km_log_errno(-errno, "%s: cannot read word %u: %s",
				    km_map_names[id], word, strerror(errno));
	*state = bm_get(&v, n & 31);
	if (*state == KM_BM_MASK)
		*state = KM_BM_TRIE;
	return 0;
}

/* Make `new` (tries already filled) the pair packets read: its bitmaps
 * first, then one write of active_lists, then a grace period after which
 * no packet still reads the old pair. */
static int pair_commit(const struct km_maps *m, uint32_t new)
{
	struct km_config cfg;
	int r = 0;

	for (int l = 0; l < 2 && !r; l++)
		r = bm_rebuild(m, l, new);
	/* Re-read so the flip changes nothing but active_lists. */
	if (!r)
		r = km_config_read(m, &cfg);
	if (r)
		return r;
	cfg.active_lists = new;
	r = config_write_raw(m, &cfg);
	if (r)
		return r;
	/* A packet that read the old index just before the flip is still
	 * looking up the old pair; XDP runs last microseconds, so after a
	 * pause no packet can see the old pair half cleared. */
	usleep(KM_FLIP_GRACE_US);
	return 0;
}

/* The inactive pair as a copy of the active one, for a single edit. */
static int pair_copy(const struct km_maps *m, uint32_t old, uint32_t new)
{
	int r = 0;

	for (int l = 0; l < 2 && !r; l++) {
		r = map_clear(m, list_map(l, new));
		if (!r)
			r = lpm_copy_others(m, list_map(l, old),
					    list_map(l, new), KM_ORIGIN_ALL,
					    NULL);
	}
	return r;
}

static int pair_clear(const struct km_maps *m, uint32_t pair)
{
	int r = 0;

	for (int l = 0; l < 2 && !r; l++)
		r = map_clear(m, list_map(l, pair));
	return r;
}

static int active_pair(const struct km_maps *m, uint32_t *pair)
{
	struct km_config cfg;
	int r = km_config_read(m, &cfg);

	if (!r)
		*pair = cfg.active_lists & 1;
	return r;
}

/* Single edit: copy, edit the copy (add when `add`, else delete), flip. */
static int pair_edit(const struct km_maps *m, enum km_list l,
		     const struct km_prefix_key *k, uint8_t origin, bool add)
{
	struct km_prefix_val v = {.origin = origin};
	uint32_t old, new;
	struct km_strbuf b;
	enum km_map_id id;
	int r;

	r = active_pair(m, &old);
	if (r)
		return r;
	new = !old;
	id = list_map(l, new);
	r = pair_copy(m, old, new);
	if (!r && add && bpf_map_update_elem(mfd(m, id), k, &v, BPF_ANY))
		r = km_log_errno(-errno, "%s: cannot add %s: %s",
				 km_map_names[id], fmt_prefix(&b, k),
				 strerror(errno));
	if (!r && !add && bpf_map_delete_elem(mfd(m, id), k) &&
	    errno != ENOENT)
		r = km_log_errno(-errno, "%s: cannot delete %s: %s",
				 km_map_names[id], fmt_prefix(&b, k),
				 strerror(errno));
	if (!r)
		r = pair_commit(m, new);
	if (!r)
		r = pair_clear(m, old);
	return r;
}

static int km_prefix_add_nolock(const struct km_maps *m, enum km_list l,
				const struct km_prefix_key *k, uint8_t origin)
{
	struct km_prefix_val v = {.origin = origin}, cur;
	struct km_strbuf b;
	enum km_map_id id = list_map(l, 0);
	int r;

	r = prefix_checked(l, k);
	if (!r)
		r = km_prefix_active_map(m, l, &id);
	if (r)
		return r;
	r = lpm_get_exact(m, id, k, &cur);
	if (r == -ENOENT)
		return pair_edit(m, l, k, v.origin, true);
	if (r)
		return r;
	if (cur.origin != origin)
		return km_log_errno(
		    -EEXIST, "%s: %s %s already installed by %s",
		    km_map_names[id], list_name(l), fmt_prefix(&b, k),
		    km_origin_name(cur.origin));
	return 0;
}

static int km_prefix_del_nolock(const struct km_maps *m, enum km_list l,
				const struct km_prefix_key *k, uint8_t origin)
{
	struct km_prefix_val cur;
	struct km_strbuf b;
	enum km_map_id id = list_map(l, 0);
	int r;

	r = prefix_checked(l, k);
	if (!r)
		r = km_prefix_active_map(m, l, &id);
	if (!r)
		r = lpm_get_exact(m, id, k, &cur);
	if (r == -ENOENT)
		return km_log_errno(r, "%s: no %s entry %s", km_map_names[id],
				    list_name(l), fmt_prefix(&b, k));
	if (r)
		return r;
	if (cur.origin != origin)
		return km_log_errno(
		    -EPERM, "%s: %s %s belongs to %s, not %s", km_map_names[id],
		    list_name(l), fmt_prefix(&b, k), km_origin_name(cur.origin),
		    km_origin_name(origin));
	return pair_edit(m, l, k, origin, false);
}

int km_prefixes_list(const struct km_maps *m, enum km_list l,
		     struct km_prefix_entry **out, size_t *n)
{
	enum km_map_id id;
	void *e;
	int r;

	*out = NULL;
	*n = 0;
	r = km_prefix_active_map(m, l, &id);
	if (r)
		return r;
	r = map_list(m, id, &e, n, sizeof(struct km_prefix_entry),
		     offsetof(struct km_prefix_entry, key),
		     offsetof(struct km_prefix_entry, val));
	*out = e;
	return r;
}


static int lpm_fill(const struct km_maps *m, enum km_list l, enum km_map_id dst,
		    const struct km_prefix_key *k, size_t n, uint8_t origin)
{
	struct km_prefix_val v = {.origin = origin}, cur;
	struct km_strbuf b;

	for (size_t i = 0; i < n; i++) {
		if (!bpf_map_update_elem(mfd(m, dst), &k[i], &v, BPF_NOEXIST))
			continue;
		if (errno != EEXIST)
			return km_log_errno(-errno, "%s: cannot add %s %s: %s",
					    km_map_names[dst], list_name(l),
					    fmt_prefix(&b, &k[i]),
					    strerror(errno));
		/* Another origin holds that prefix: keep its entry, the
		 * verdict is the same. */
		if (!lpm_get_exact(m, dst, &k[i], &cur) && cur.origin != origin)
			km_warn("%s %s: kept the entry installed by %s",
				list_name(l), fmt_prefix(&b, &k[i]),
				km_origin_name(cur.origin));
	}
	return 0;
}

static int km_prefixes_sync_nolock(const struct km_maps *m,
				   const struct km_prefix_key *allow,
				   size_t n_allow,
				   const struct km_prefix_key *deny,
				   size_t n_deny, uint8_t origin)
{
	const struct km_prefix_key *keys[2] = {allow, deny};
	size_t nkeys[2] = {n_allow, n_deny};
	struct km_config cfg;
	uint32_t old, new;
	int r;

	for (int l = 0; l < 2; l++)
		for (size_t i = 0; i < nkeys[l]; i++) {
			r = prefix_checked(l, &keys[l][i]);
			if (r)
				return r;
		}
	r = km_config_read(m, &cfg);
	if (r)
		return r;
	old = cfg.active_lists & 1;
	new = !old;
	for (int l = 0; l < 2 && !r; l++) {
		/* Left over by a sync that died half-way. */
		r = map_clear(m, list_map(l, new));
		if (!r)
			r = lpm_copy_others(m, list_map(l, old),
					    list_map(l, new), origin, NULL);
		if (!r)
			r = lpm_fill(m, l, list_map(l, new), keys[l], nkeys[l],
				     origin);
	}
	if (!r)
		r = pair_commit(m, new);
	/* Edits of an editor without the lock file that landed on the old
	 * pair while it was copied; the bitmap learns them in place. */
	for (int l = 0; l < 2 && !r; l++) {
		size_t added = 0;

		r = lpm_copy_others(m, list_map(l, old), list_map(l, new),
				    origin, &added);
		if (!r && added)
			r = bm_rebuild(m, l, new);
	}
	if (!r)
		r = pair_clear(m, old);
	return r;
}

/* ---- blocks ---- */

int km_block_get(const struct km_maps *m, uint32_t addr, struct km_block *out)
{
	struct km_strbuf b;

	if (!bpf_map_lookup_elem(mfd(m, KM_M_BLOCKS), &addr, out))
		return 0;
	if (errno == ENOENT)
		return -ENOENT;
	return km_log_errno(-errno, "%s: cannot read %s: %s", KM_MAP_BLOCKS,
			    fmt_addr(&b, addr), strerror(errno));
}

/* An expired entry is only waiting for the data plane to remove it. */
static bool block_live(const struct km_block *b, uint64_t now)
{
	return now < b->until_ns;
}

/* Only lib/maps.c adds blocks and it holds the lock, so an empty map seen
 * here stays empty until the next put, which clears the flag first. */
static int blocks_note_empty(const struct km_maps *m)
{
	long n = km_map_count(m, KM_M_BLOCKS);

	if (n < 0)
		return (int)n;
	return n ? 0 : config_lib_flags(m, KM_LIB_F_NO_BLOCKS, 0);
}

static int km_block_put_nolock(const struct km_maps *m, uint32_t addr,
			       uint64_t until_ns, uint8_t origin)
{
	struct km_block v = {.until_ns = until_ns,
			     .origin = origin,
			     .reason = KM_BLOCK_MANUAL},
			cur;
	struct km_strbuf b;
	int r;

	if (!addr)
		return km_log_errno(-EINVAL, "%s: 0.0.0.0 cannot be blocked",
				    KM_MAP_BLOCKS);
	r = km_block_get(m, addr, &cur);
	if (r && r != -ENOENT)
		return r;
	if (!r && cur.origin != origin && block_live(&cur, km_mono_ns()))
		return km_log_errno(-EEXIST, "%s: %s already blocked by %s",
				    KM_MAP_BLOCKS, fmt_addr(&b, addr),
				    km_origin_name(cur.origin));
	/* Packets must look before the entry exists. */
	r = config_lib_flags(m, 0, KM_LIB_F_NO_BLOCKS);
	if (r)
		return r;
	if (bpf_map_update_elem(mfd(m, KM_M_BLOCKS), &addr, &v, BPF_ANY))
		return km_log_errno(-errno, "%s: cannot add %s: %s",
				    KM_MAP_BLOCKS, fmt_addr(&b, addr),
				    strerror(errno));
	return 0;
}

static int km_block_del_nolock(const struct km_maps *m, uint32_t addr,
			       uint8_t origin)
{
	struct km_block cur;
	struct km_strbuf b;
	int r;

	r = km_block_get(m, addr, &cur);
	if (r == -ENOENT)
		return km_log_errno(r, "%s: %s is not blocked", KM_MAP_BLOCKS,
				    fmt_addr(&b, addr));
	if (r)
		return r;
	if (cur.origin != origin)
		return km_log_errno(
		    -EPERM, "%s: block of %s belongs to %s, not %s",
		    KM_MAP_BLOCKS, fmt_addr(&b, addr),
		    km_origin_name(cur.origin), km_origin_name(origin));
	if (bpf_map_delete_elem(mfd(m, KM_M_BLOCKS), &addr) && errno != ENOENT)
		return km_log_errno(-errno, "%s: cannot delete %s: %s",
				    KM_MAP_BLOCKS, fmt_addr(&b, addr),
				    strerror(errno));
	return blocks_note_empty(m);
}

int km_blocks_list(const struct km_maps *m, struct km_block_entry **out,
		   size_t *n)
{
	void *e;
	int r = map_list(m, KM_M_BLOCKS, &e, n, sizeof(struct km_block_entry),
			 offsetof(struct km_block_entry, addr),
			 offsetof(struct km_block_entry, val));

	*out = e;
	return r;
}

/* Deletes first, then puts: km_blocks is an LRU map, so a transient
 * union of old and new entries beyond max_entries would evict entries
 * (other origins' too) instead of failing. */
static int km_blocks_sync_nolock(const struct km_maps *m,
				 const struct km_block_spec *b, size_t n,
				 uint8_t origin)
{
	struct km_block_entry *cur;
	uint64_t now = km_mono_ns();
	struct km_strbuf s;
	size_t ncur;
	int r;

	for (size_t i = 0; i < n; i++)
		if (!b[i].addr)
			return km_log_errno(-EINVAL,
					    "%s: 0.0.0.0 cannot be blocked",
					    KM_MAP_BLOCKS);
	r = km_blocks_list(m, &cur, &ncur);
	if (r)
		return r;
	for (size_t i = 0; i < ncur; i++) {
		bool keep = cur[i].val.origin != origin;

		for (size_t j = 0; j < n && !keep; j++)
			keep = b[j].addr == cur[i].addr;
		if (keep)
			continue;
		if (bpf_map_delete_elem(mfd(m, KM_M_BLOCKS), &cur[i].addr) &&
		    errno != ENOENT) {
			r = km_log_errno(
			    -errno, "%s: cannot delete %s: %s", KM_MAP_BLOCKS,
			    fmt_addr(&s, cur[i].addr), strerror(errno));
			break;
		}
	}
	free(cur);
	if (!r && n)
		r = config_lib_flags(m, 0, KM_LIB_F_NO_BLOCKS);
	for (size_t i = 0; i < n && !r; i++) {
		struct km_block v = {.until_ns = b[i].until_ns,
				     .origin = origin,
				     .reason = KM_BLOCK_MANUAL},
				old;

		r = km_block_get(m, b[i].addr, &old);
		if (r == -ENOENT)
			r = 0;
		else if (r)
			break;
		else if (old.origin != origin && block_live(&old, now)) {
			km_warn("block %s: kept the entry installed by %s",
				fmt_addr(&s, b[i].addr),
				km_origin_name(old.origin));
			continue;
		}
		if (bpf_map_update_elem(mfd(m, KM_M_BLOCKS), &b[i].addr, &v,
					BPF_ANY))
			r = km_log_errno(
			    -errno, "%s: cannot add %s: %s", KM_MAP_BLOCKS,
			    fmt_addr(&s, b[i].addr), strerror(errno));
	}
	/* After a failure the flag may stay clear: 0 is always safe. */
	return r ?: blocks_note_empty(m);
}

/* ---- punches ---- */

static int punch_checked(const struct km_punch_key *k)
{
	struct km_strbuf b;

	if ((k->proto != IPPROTO_UDP && k->proto != IPPROTO_TCP) ||
	    !k->svc_addr || !k->svc_port || !k->remote || !k->remote_port)
		return km_log_errno(-EINVAL,
				    "punch %s: protocol must be udp or tcp, "
				    "addresses and ports not 0",
				    fmt_punch(&b, k));
	return 0;
}

int km_punch_get(const struct km_maps *m, const struct km_punch_key *k,
		 struct km_punch *out)
{
	struct km_strbuf b;

	if (!bpf_map_lookup_elem(mfd(m, KM_M_PUNCHES), k, out))
		return 0;
	if (errno == ENOENT)
		return -ENOENT;
	return km_log_errno(-errno, "%s: cannot read %s: %s", KM_MAP_PUNCHES,
			    fmt_punch(&b, k), strerror(errno));
}

static int km_punch_put_nolock(const struct km_maps *m,
			       const struct km_punch_key *k, uint32_t backend,
			       uint8_t origin)
{
	struct km_punch v = {.backend = backend,
			     .origin = origin,
			     .last_seen_ns = km_mono_ns()},
			cur;
	struct km_strbuf b, c;
	int r;

	r = punch_checked(k);
	if (r)
		return r;
	if (!backend)
		return km_log_errno(-EINVAL,
				    "punch %s: backend must not be 0.0.0.0",
				    fmt_punch(&b, k));
	r = km_punch_get(m, k, &cur);
	if (r && r != -ENOENT)
		return r;
	if (!r && cur.origin != origin)
		return km_log_errno(
		    -EEXIST, "%s: %s already installed by %s (backend %s)",
		    KM_MAP_PUNCHES, fmt_punch(&b, k),
		    km_origin_name(cur.origin), fmt_addr(&c, cur.backend));
	if (bpf_map_update_elem(mfd(m, KM_M_PUNCHES), k, &v, BPF_ANY))
		return km_log_errno(-errno, "%s: cannot add %s: %s",
				    KM_MAP_PUNCHES, fmt_punch(&b, k),
				    strerror(errno));
	return 0;
}

static int km_punch_del_nolock(const struct km_maps *m,
			       const struct km_punch_key *k)
{
	struct km_strbuf b;

	if (!bpf_map_delete_elem(mfd(m, KM_M_PUNCHES), k))
		return 0;
	if (errno == ENOENT)
		return km_log_errno(-ENOENT, "%s: no punch %s", KM_MAP_PUNCHES,
				    fmt_punch(&b, k));
	return km_log_errno(-errno, "%s: cannot delete %s: %s", KM_MAP_PUNCHES,
			    fmt_punch(&b, k), strerror(errno));
}

int km_punches_list(const struct km_maps *m, struct km_punch_entry **out,
		    size_t *n)
{
	void *e;
	int r = map_list(m, KM_M_PUNCHES, &e, n, sizeof(struct km_punch_entry),
			 offsetof(struct km_punch_entry, key),
			 offsetof(struct km_punch_entry, val));

	*out = e;
	return r;
}

/* ---- reading counters ---- */

/* Sum n_u64 consecutive u64 fields of a per-CPU value over every CPU. */
static int percpu_sum(const struct km_maps *m, enum km_map_id id, uint32_t key,
		      uint64_t *out, size_t n_u64)
{
	size_t stride = (n_u64 * 8 + 7) & ~(size_t)7;
	uint64_t *buf = calloc(1, percpu_size(m, n_u64 * 8));

	if (!buf)
		return km_log_errno(-ENOMEM, "%s: out of memory",
				    km_map_names[id]);
	if (bpf_map_lookup_elem(mfd(m, id), &key, buf)) {
		int r = -errno;

		free(buf);
		return km_log_errno(r, "%s: cannot read index %u: %s",
				    km_map_names[id], key, strerror(-r));
	}
	memset(out, 0, n_u64 * 8);
	for (int c = 0; c < m->ncpus; c++)
		for (size_t i = 0; i < n_u64; i++)
			out[i] += buf[c * stride / 8 + i];
	free(buf);
	return 0;
}

int km_stats_read(const struct km_maps *m, struct km_stat out[KM_R_MAX])
{
	for (uint32_t r = 0; r < KM_R_MAX; r++) {
		uint64_t v[2];
		int e = percpu_sum(m, KM_M_STATS, r, v, 2);

		if (e)
			return e;
		out[r].packets = v[0];
		out[r].bytes = v[1];
	}
	return 0;
}

int km_counters_read(const struct km_maps *m, uint64_t out[KM_C_MAX])
{
	for (uint32_t c = 0; c < KM_C_MAX; c++) {
		int e = percpu_sum(m, KM_M_COUNTERS, c, &out[c], 1);

		if (e)
			return e;
	}
	return 0;
}

int km_svc_stat_read(const struct km_maps *m, uint32_t id,
		     struct km_svc_stat *out)
{
	uint64_t v[8];
	int r;

	_Static_assert(sizeof(v) == sizeof(*out), "km_svc_stat is 8 u64");
	if (id >= KM_MAX_SERVICES)
		return km_log_errno(-EINVAL, "%s: service id %u out of range",
				    KM_MAP_SVC_STATS, id);
	r = percpu_sum(m, KM_M_SVC_STATS, id, v, 8);
	if (!r)
		memcpy(out, v, sizeof(*out));
	return r;
}

/* ---- names ---- */

static const char *const reason_names[KM_R_MAX] = {
    [KM_R_PASS_NOT_IPV4] = "pass_not_ipv4",
    [KM_R_PASS_NOT_OURS] = "pass_not_ours",
    [KM_R_PASS_EDGE] = "pass_edge",
    [KM_R_PASS_FIB] = "pass_fib",
    [KM_R_FWD_SERVICE] = "fwd_service",
    [KM_R_FWD_PUNCH] = "fwd_punch",
    [KM_R_FWD_DECAP] = "fwd_decap",
    [KM_R_TX_ICMP_ECHO] = "tx_icmp_echo",
    [KM_R_DROP_TRUNCATED] = "drop_truncated",
    [KM_R_DROP_BAD_IP] = "drop_bad_ip",
    [KM_R_DROP_IP_OPTIONS] = "drop_ip_options",
    [KM_R_DROP_FRAGMENT] = "drop_fragment",
    [KM_R_DROP_BLOCKED] = "drop_blocked",
    [KM_R_DROP_DENIED] = "drop_denied",
    [KM_R_DROP_RATELIMIT] = "drop_ratelimit",
    [KM_R_DROP_RL_BLOCKED] = "drop_rl_blocked",
    [KM_R_DROP_SVC_LIMIT] = "drop_svc_limit",
    [KM_R_DROP_NO_SERVICE] = "drop_no_service",
    [KM_R_DROP_ICMP] = "drop_icmp",
    [KM_R_DROP_IPIP_NOT_BACKEND] = "drop_ipip_not_backend",
    [KM_R_DROP_IPIP_BAD_INNER] = "drop_ipip_bad_inner",
    [KM_R_DROP_TOO_BIG] = "drop_too_big",
    [KM_R_DROP_INTERNAL] = "drop_internal",
    [KM_R_TX_A2S_CHALLENGE] = "tx_a2s_challenge",
    [KM_R_TX_A2S_CACHED] = "tx_a2s_cached",
    [KM_R_REDIR_A2S_WORKER] = "redir_a2s_worker",
    [KM_R_REDIR_A2S_INGEST] = "redir_a2s_ingest",
    [KM_R_PASS_A2S_INGEST] = "pass_a2s_ingest",
};

static const char *const counter_names[KM_C_MAX] = {
    [KM_C_RL_NEW] = "rl_new",
    [KM_C_VALIDATED_NEW] = "validated_new",
    [KM_C_VALIDATED_EXPIRED] = "validated_expired",
    [KM_C_PUNCH_LEARNED] = "punch_learned",
    [KM_C_PUNCH_EXPIRED] = "punch_expired",
    [KM_C_BLOCK_ADDED] = "block_added",
    [KM_C_BLOCK_EXPIRED] = "block_expired",
    [KM_C_EVENT_LOST] = "event_lost",
    [KM_C_INSERT_FAILED] = "insert_failed",
    [KM_C_A2S_SEEN] = "a2s_seen",
};

static const char *const origin_names[KM_ORIGIN_MAX] = {
    [KM_ORIGIN_NONE] = "none",	     [KM_ORIGIN_CONFIG] = "config",
    [KM_ORIGIN_CLI] = "cli",	     [KM_ORIGIN_CONTROLLER] = "controller",
    [KM_ORIGIN_LEARNED] = "learned",
};

const char *km_reason_name(unsigned int r)
{
	return r < KM_R_MAX && reason_names[r] ? reason_names[r] : "unknown";
}

const char *km_counter_name(unsigned int c)
{
	return c < KM_C_MAX && counter_names[c] ? counter_names[c] : "unknown";
}

const char *km_origin_name(unsigned int o)
{
	return o < KM_ORIGIN_MAX && origin_names[o] ? origin_names[o]
						    : "unknown";
}

int km_origin_parse(const char *s, uint8_t *out)
{
	for (unsigned int o = KM_ORIGIN_CONFIG; o < KM_ORIGIN_MAX; o++)
		if (s && !strcmp(s, origin_names[o])) {
			*out = o;
			return 0;
		}
	return -EINVAL;
}

uint64_t km_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* ---- serialising editors ---- */

/*
 * The loader (reload), the CLI and the agent edit the same maps from
 * different processes. Service ids are chosen from a read of km_services,
 * so two concurrent adds could pick the same id; every edit therefore holds
 * one host-wide advisory lock. Edits are short and rare. Without the lock
 * file (read-only /run) editing goes on unlocked, as before.
 */
#define KM_LOCK_PATH "/run/lock/kilimanjaro-maps.lock"

static int km_lock(void)
{
	int fd = open(KM_LOCK_PATH, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0) {
		km_debug("%s: %s; editing maps without the lock", KM_LOCK_PATH,
			 strerror(errno));
		return -1;
	}
	while (flock(fd, LOCK_EX) && errno == EINTR)
		;
	return fd;
}

static int km_unlock(int fd, int r)
{
	if (fd >= 0)
		close(fd);
	return r;
}

/* active_lists, lib_flags and svc_epoch belong to this file's edits: a writer of the
 * rest (the loader's reload) must not put back values it read before a
 * concurrent edit changed them. */
int km_config_write(const struct km_maps *m, const struct km_config *cfg)
{
	struct km_config cur, w = *cfg;
	int fd = km_lock(), r;

	r = km_config_read(m, &cur);
	if (!r) {
		w.active_lists = cur.active_lists;
		w.lib_flags = cur.lib_flags;
		w.svc_epoch = cur.svc_epoch;
		r = config_write_raw(m, &w);
	}
	return km_unlock(fd, r);
}

int km_edge_addrs_sync(const struct km_maps *m, const uint32_t *addrs_be,
		       size_t n, uint8_t origin)
{
	int l = km_lock();

	return km_unlock(l, km_edge_addrs_sync_nolock(m, addrs_be, n, origin));
}

int km_services_derive(const struct km_maps *m)
{
	int l = km_lock();

	return km_unlock(l, km_services_derive_nolock(m));
}

int km_service_put(const struct km_maps *m, const struct km_service_spec *s,
		   uint8_t origin)
{
	int l = km_lock();

	return km_unlock(l, km_service_put_nolock(m, s, origin));
}

int km_services_sync(const struct km_maps *m,
		     const struct km_service_spec *specs, size_t n,
		     uint8_t origin)
{
	int l = km_lock();

	return km_unlock(l, km_services_sync_nolock(m, specs, n, origin));
}

int km_services_check(const struct km_maps *m,
		      const struct km_service_spec *specs, size_t n,
		      uint8_t origin)
{
	int l = km_lock();

	return km_unlock(l, svc_apply(m, specs, n, origin, true, true));
}

int km_service_del(const struct km_maps *m, uint8_t proto, uint32_t addr,
		   uint16_t port, uint8_t origin)
{
	int l = km_lock();

	return km_unlock(l,
			 km_service_del_nolock(m, proto, addr, port, origin));
}

int km_prefix_add(const struct km_maps *m, enum km_list list,
		  const struct km_prefix_key *k, uint8_t origin)
{
	int l = km_lock();

	return km_unlock(l, km_prefix_add_nolock(m, list, k, origin));
}

int km_prefix_del(const struct km_maps *m, enum km_list list,
		  const struct km_prefix_key *k, uint8_t origin)
{
	int l = km_lock();

	return km_unlock(l, km_prefix_del_nolock(m, list, k, origin));
}

int km_prefix_bitmaps_rebuild(const struct km_maps *m)
{
	int l = km_lock(), r;
	uint32_t pair;

	r = active_pair(m, &pair);
	for (int i = 0; i < 2 && !r; i++)
		r = bm_rebuild(m, i, pair);
	return km_unlock(l, r);
}

int km_prefixes_sync(const struct km_maps *m, const struct km_prefix_key *allow,
		     size_t n_allow, const struct km_prefix_key *deny,
		     size_t n_deny, uint8_t origin)
{
	int l = km_lock();

	return km_unlock(l, km_prefixes_sync_nolock(m, allow, n_allow, deny,
						    n_deny, origin));
}

int km_block_put(const struct km_maps *m, uint32_t addr, uint64_t until_ns,
		 uint8_t origin)
{
	int l = km_lock();

	return km_unlock(l, km_block_put_nolock(m, addr, until_ns, origin));
}

int km_block_del(const struct km_maps *m, uint32_t addr, uint8_t origin)
{
	int l = km_lock();

	return km_unlock(l, km_block_del_nolock(m, addr, origin));
}

int km_blocks_sync(const struct km_maps *m, const struct km_block_spec *b,
		   size_t n, uint8_t origin)
{
	int l = km_lock();

	return km_unlock(l, km_blocks_sync_nolock(m, b, n, origin));
}

int km_punch_put(const struct km_maps *m, const struct km_punch_key *k,
		 uint32_t backend, uint8_t origin)
{
	int l = km_lock();

	return km_unlock(l, km_punch_put_nolock(m, k, backend, origin));
}

int km_punch_del(const struct km_maps *m, const struct km_punch_key *k)
{
	int l = km_lock();

	return km_unlock(l, km_punch_del_nolock(m, k));
}

/* ---- A2S reads and the challenge key ---- */

static int array_read(const struct km_maps *m, enum km_map_id id, uint32_t key,
		      void *out)
{
	if (key >= KM_MAX_SERVICES)
		return km_log_errno(-EINVAL, "%s: service id %u out of range",
				    km_map_names[id], key);
	if (bpf_map_lookup_elem(mfd(m, id), &key, out))
		return km_log_errno(-errno, "%s: cannot read index %u: %s",
				    km_map_names[id], key, strerror(errno));
	return 0;
}

int km_a2s_cfg_read(const struct km_maps *m, uint32_t id,
		    struct km_a2s_cfg *out)
{
	return array_read(m, KM_M_A2S_CFG, id, out);
}

int km_a2s_wstat_read(const struct km_maps *m, uint32_t id,
		      struct km_a2s_wstat *out)
{
	return array_read(m, KM_M_A2S_WSTATS, id, out);
}

int km_a2s_stat_read(const struct km_maps *m, uint32_t id,
		     struct km_a2s_stat *out)
{
	uint64_t v[8];
	int r;

	_Static_assert(sizeof(v) == sizeof(*out), "km_a2s_stat is 8 u64");
	if (id >= KM_MAX_SERVICES)
		return km_log_errno(-EINVAL, "%s: service id %u out of range",
				    KM_MAP_A2S_STATS, id);
	r = percpu_sum(m, KM_M_A2S_STATS, id, v, 8);
	if (!r)
		memcpy(out, v, sizeof(*out));
	return r;
}

/* Workers write the entry through mmap as a seqlock; a syscall copy can
 * catch a write half done, so two copies with the same even seq count. */
int km_a2s_info_head(const struct km_maps *m, uint32_t id,
		     struct km_a2s_head *out)
{
	struct km_a2s_entry *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	int r = -EAGAIN;

	if (!a || !b) {
		r = km_log_errno(-ENOMEM, "%s: out of memory", KM_MAP_A2S_INFO);
		goto out;
	}
	for (int tries = 0; tries < 100 && r == -EAGAIN; tries++) {
		r = array_read(m, KM_M_A2S_INFO, id, a);
		if (!r)
			r = array_read(m, KM_M_A2S_INFO, id, b);
		if (r)
			break;
		if ((a->seq & 1) || a->seq != b->seq) {
			r = -EAGAIN;
			continue;
		}
		*out = (struct km_a2s_head){.flags = a->flags,
					    .updated_ns = a->updated_ns,
					    .svc = a->svc,
					    .len = a->len};
	}
out:
	free(a);
	free(b);
	return r;
}

enum km_a2s_state km_a2s_state_of(const struct km_a2s_cfg *cfg,
				  const struct km_a2s_head *h,
				  const struct km_service_key *svc,
				  uint64_t now_ns)
{
	uint64_t age;

	/* An entry of another service (a reused id) is not this one's. */
	if (!(h->flags & KM_A2S_E_VALID) || !h->len ||
	    memcmp(&h->svc, svc, sizeof(*svc)))
		return KM_A2S_ST_EMPTY;
	if (h->flags & KM_A2S_E_DOWN)
		return KM_A2S_ST_DOWN;
	age = now_ns > h->updated_ns ? now_ns - h->updated_ns : 0;
	if (age < cfg->refresh_ns)
		return KM_A2S_ST_FRESH;
	return age < cfg->max_age_ns ? KM_A2S_ST_STALE : KM_A2S_ST_EXPIRED;
}

const char *km_a2s_state_name(enum km_a2s_state st)
{
	static const char *const names[KM_A2S_ST_MAX] = {
	    [KM_A2S_ST_EMPTY] = "empty", [KM_A2S_ST_FRESH] = "fresh",
	    [KM_A2S_ST_STALE] = "stale", [KM_A2S_ST_EXPIRED] = "expired",
	    [KM_A2S_ST_DOWN] = "down",
	};

	return (unsigned int)st < KM_A2S_ST_MAX ? names[st] : "unknown";
}

uint32_t km_a2s_epoch_of(int64_t now_s, uint32_t epoch_s)
{
	return now_s > 0 && epoch_s ? (uint32_t)((uint64_t)now_s / epoch_s) : 0;
}

static uint32_t a2s_epoch_now(uint32_t epoch_s)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return km_a2s_epoch_of(ts.tv_sec, epoch_s);
}

int km_a2s_key_read(const struct km_maps *m, struct km_a2s_key *out)
{
	uint32_t k = 0;

	if (bpf_map_lookup_elem(mfd(m, KM_M_A2S_KEY), &k, out))
		return km_log_errno(-errno, "%s: cannot read: %s",
				    KM_MAP_A2S_KEY, strerror(errno));
	return 0;
}

static int a2s_key_write(const struct km_maps *m, const struct km_a2s_key *v)
{
	uint32_t k = 0;

	if (bpf_map_update_elem(mfd(m, KM_M_A2S_KEY), &k, v, BPF_ANY))
		return km_log_errno(-errno, "%s: cannot write: %s",
				    KM_MAP_A2S_KEY, strerror(errno));
	return 0;
}

static uint64_t le64(const uint8_t *b)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

/* 16 key bytes: the caller's, or fresh ones from the kernel's CSPRNG. */
static int a2s_key_bytes(const uint8_t *key, uint64_t *k0, uint64_t *k1)
{
	uint8_t b[16];
	ssize_t n;

	if (key) {
		memcpy(b, key, sizeof(b));
	} else {
		do
			n = getrandom(b, sizeof(b), 0);
		while (n < 0 && errno == EINTR);
		if (n != (ssize_t)sizeof(b))
			return km_log_errno(n < 0 ? -errno : -EIO,
					    "%s: getrandom: %s", KM_MAP_A2S_KEY,
					    n < 0 ? strerror(errno) : "short");
	}
	*k0 = le64(b);
	*k1 = le64(b + 8);
	explicit_bzero(b, sizeof(b));
	return 0;
}

static void a2s_key_to(struct km_a2s_key *v, uint64_t k0, uint64_t k1,
		       bool rotate)
{
	if (rotate && (v->flags & KM_A2S_KEY_F_VALID)) {
		v->prev_k0 = v->k0;
		v->prev_k1 = v->k1;
		v->key_id++;
	} else {
		v->prev_k0 = k0;
		v->prev_k1 = k1;
		v->key_id = 1;
	}
	v->k0 = k0;
	v->k1 = k1;
	v->flags |= KM_A2S_KEY_F_VALID;
}

static int km_a2s_key_install_nolock(const struct km_maps *m,
				     const uint8_t *key, uint32_t epoch_s,
				     enum km_a2s_key_action *action)
{
	struct km_a2s_key v;
	uint64_t k0, k1;
	bool valid;
	int r;

	if (!epoch_s)
		return km_log_errno(-EINVAL, "%s: epoch_s must not be 0",
				    KM_MAP_A2S_KEY);
	r = km_a2s_key_read(m, &v);
	if (r)
		return r;
	valid = v.flags & KM_A2S_KEY_F_VALID;
	*action = KM_A2S_KEY_KEPT;
	if (key || !valid) {
		r = a2s_key_bytes(key, &k0, &k1);
		if (r)
			return r;
		if (!valid)
			*action = KM_A2S_KEY_NEW;
		else if (k0 != v.k0 || k1 != v.k1)
			*action = KM_A2S_KEY_ROTATED;
		if (*action != KM_A2S_KEY_KEPT)
			a2s_key_to(&v, k0, k1, valid);
	}
	v.epoch_s = epoch_s;
	v.epoch = a2s_epoch_now(epoch_s);
	r = a2s_key_write(m, &v);
	explicit_bzero(&v, sizeof(v));
	return r;
}

int km_a2s_key_install(const struct km_maps *m, const uint8_t *key,
		       uint32_t epoch_s, enum km_a2s_key_action *action)
{
	int l = km_lock();

	return km_unlock(l, km_a2s_key_install_nolock(m, key, epoch_s, action));
}

static int km_a2s_key_rotate_nolock(const struct km_maps *m, const uint8_t *key)
{
	struct km_a2s_key v;
	uint64_t k0, k1;
	int r;

	r = km_a2s_key_read(m, &v);
	if (!r && !(v.flags & KM_A2S_KEY_F_VALID))
		r = km_log_errno(
		    -ENOENT,
		    "%s: no key installed yet (the loader installs "
		    "it at start)",
		    KM_MAP_A2S_KEY);
	if (!r)
		r = a2s_key_bytes(key, &k0, &k1);
	if (!r) {
		a2s_key_to(&v, k0, k1, true);
		v.epoch = a2s_epoch_now(v.epoch_s);
		r = a2s_key_write(m, &v);
	}
	explicit_bzero(&v, sizeof(v));
	return r;
}

int km_a2s_key_rotate(const struct km_maps *m, const uint8_t *key)
{
	int l = km_lock();

	return km_unlock(l, km_a2s_key_rotate_nolock(m, key));
}

static int km_a2s_key_restore_nolock(const struct km_maps *m,
				     const struct km_a2s_key *saved)
{
	struct km_a2s_key v = *saved;
	int r;

	if ((v.flags & KM_A2S_KEY_F_VALID) && v.epoch_s)
		v.epoch = a2s_epoch_now(v.epoch_s);
	r = a2s_key_write(m, &v);
	explicit_bzero(&v, sizeof(v));
	return r;
}

int km_a2s_key_restore(const struct km_maps *m, const struct km_a2s_key *saved)
{
	int l = km_lock();

	return km_unlock(l, km_a2s_key_restore_nolock(m, saved));
}

static int km_a2s_epoch_advance_nolock(const struct km_maps *m, bool *changed)
{
	struct km_a2s_key v;
	uint32_t e;
	int r;

	r = km_a2s_key_read(m, &v);
	if (r || !(v.flags & KM_A2S_KEY_F_VALID) || !v.epoch_s)
		goto out;
	e = a2s_epoch_now(v.epoch_s);
	if (e == v.epoch)
		goto out;
	v.epoch = e;
	r = a2s_key_write(m, &v);
	if (!r && changed)
		*changed = true;
out:
	explicit_bzero(&v, sizeof(v));
	return r;
}

int km_a2s_epoch_advance(const struct km_maps *m, bool *changed)
{
	int l = km_lock();

	if (changed)
		*changed = false;
	return km_unlock(l, km_a2s_epoch_advance_nolock(m, changed));
}
