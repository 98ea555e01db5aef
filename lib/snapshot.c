// SPDX-License-Identifier: GPL-2.0-only
/* Reading the counters of the maps into one snapshot (snapshot.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include "mapfill.skel.h"

#include "log.h"
#include "snapshot.h"

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

void km_snap_ctx_free(struct km_snap_ctx *c)
{
	if (!c)
		return;
	free(c->buf);
	free(c->keys);
	free(c->recs);
	km_mapfill__destroy(c->fill);
	memset(c, 0, sizeof(*c));
}

static int ctx_reserve(void **p, size_t *have, size_t want)
{
	void *n;

	if (*have >= want)
		return 0;
	n = realloc(*p, want);
	if (!n)
		return km_log_errno(-ENOMEM, "snapshot: out of memory");
	*p = n;
	*have = want;
	return 0;
}

/* Per-key fallback of array_values() for kernels without batch ops. */
static int array_values_slow(int fd, const char *name, uint32_t n, size_t vsz,
			     void *out)
{
	for (uint32_t k = 0; k < n; k++)
		if (bpf_map_lookup_elem(fd, &k, (char *)out + k * vsz))
			return km_log_errno(-errno,
					    "%s: cannot read index %u: %s",
					    name, k, strerror(errno));
	return 0;
}

/*
 * Values of indexes [0, n) of an ARRAY or PERCPU_ARRAY into c->buf, vsz
 * bytes per index (all CPUs' copies of a per-CPU array): one
 * bpf_map_lookup_batch for the whole range instead of n lookups.
 */
static int array_values(struct km_snap_ctx *c, int fd, const char *name,
			uint32_t n, size_t vsz)
{
	uint32_t done = 0, token = 0, count;
	bool first = true;
	int r;

	r = ctx_reserve(&c->buf, &c->buf_len, (size_t)n * vsz + 1);
	if (!r)
		r = ctx_reserve(&c->keys, &c->keys_len, (size_t)n * 4 + 4);
	if (r || !n)
		return r;
	if (c->no_batch)
		return array_values_slow(fd, name, n, vsz, c->buf);
	while (done < n) {
		count = n - done;
		r = bpf_map_lookup_batch(fd, first ? NULL : &token, &token,
					 (char *)c->keys + done * 4,
					 (char *)c->buf + done * vsz, &count,
					 NULL);
		first = false;
		if (r && errno == EINVAL && !done) {
			/* A kernel without batch ops for this map type. */
			c->no_batch = 1;
			return array_values_slow(fd, name, n, vsz, c->buf);
		}
		done += count;
		if (r && errno == ENOENT)
			break;
		if (r)
			return km_log_errno(-errno, "%s: batch lookup: %s",
					    name, strerror(errno));
	}
	if (done < n)
		return km_log_errno(-ERANGE, "%s: %u entries, %u wanted", name,
				    done, n);
	return 0;
}

/* Sum n_u64 words of every CPU's copy of index k (c->buf from
 * array_values with vsz = ncpus * n_u64 * 8) into out. */
static void sum_cpus(const struct km_snap_ctx *c, uint32_t k, int ncpus,
		     size_t n_u64, uint64_t *out)
{
	const uint64_t *v =
	    (const uint64_t *)c->buf + (size_t)k * ncpus * n_u64;

	memset(out, 0, n_u64 * 8);
	for (int cpu = 0; cpu < ncpus; cpu++, v += n_u64)
		for (size_t i = 0; i < n_u64; i++)
			out[i] += v[i];
}

static int read_globals(const struct km_maps *m, struct km_snap_ctx *c,
			struct km_snapshot *s)
{
	int r;

	r = array_values(c, m->fd[KM_M_STATS], KM_MAP_STATS, KM_STATS_SLOTS,
			 (size_t)m->ncpus * sizeof(struct km_stat));
	if (r)
		return r;
	for (uint32_t i = 0; i < KM_STATS_SLOTS; i++)
		sum_cpus(c, i, m->ncpus, 2, (uint64_t *)&s->reasons[i]);
	r = array_values(c, m->fd[KM_M_COUNTERS], KM_MAP_COUNTERS,
			 KM_STATS_SLOTS, (size_t)m->ncpus * 8);
	if (r)
		return r;
	for (uint32_t i = 0; i < KM_STATS_SLOTS; i++)
		sum_cpus(c, i, m->ncpus, 1, &s->counters[i]);
	return 0;
}

static int cmp_id(const void *a, const void *b)
{
	const struct km_snap_service *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* Every entry of km_services, batched (a hash map: tokens are opaque). */
static int read_services(const struct km_maps *m, struct km_snap_ctx *c,
			 struct km_service_entry **out, size_t *n)
{
	struct km_service_key *keys = NULL;
	struct km_service *vals = NULL;
	uint64_t in = 0, outb = 0;
	uint32_t cap = 1024, done = 0, count;
	bool first = true;
	int r = 0, fd = m->fd[KM_M_SERVICES];

	if (c->no_batch)
		return km_services_list(m, out, n);
	for (;;) {
		void *nk = realloc(keys, cap * sizeof(*keys));
		void *nv = realloc(vals, cap * sizeof(*vals));

		if (nk)
			keys = nk;
		if (nv)
			vals = nv;
		if (!nk || !nv) {
			r = km_log_errno(-ENOMEM, "snapshot: out of memory");
			goto out;
		}
		count = cap - done;
		r = bpf_map_lookup_batch(fd, first ? NULL : &in, &outb,
					 keys + done, vals + done, &count,
					 NULL);
		first = false;
		in = outb;
		if (r && errno == EINVAL && !done) {
			c->no_batch = 1;
			r = km_services_list(m, out, n);
			goto out;
		}
		done += count;
		if (r && errno == ENOENT) {
			r = 0;
			break;
		}
		if (r && errno != ENOSPC) {
			r = km_log_errno(-errno, "%s: batch lookup: %s",
					 KM_MAP_SERVICES, strerror(errno));
			goto out;
		}
		if (done == cap)
			cap *= 2;
		else if (r) /* ENOSPC: a bucket larger than the room left */
			cap = cap * 2 + 64;
	}
	*out = calloc(done ? done : 1, sizeof(**out));
	if (!*out) {
		r = km_log_errno(-ENOMEM, "snapshot: out of memory");
		goto out;
	}
	for (uint32_t i = 0; i < done; i++) {
		(*out)[i].key = keys[i];
		(*out)[i].val = vals[i];
	}
	*n = done;
out:
	free(keys);
	free(vals);
	return r;
}

/* The per-service counters of s->services[] (ids set, sorted). */
static int read_svc_counters(const struct km_maps *m, struct km_snap_ctx *c,
			     struct km_snapshot *s)
{
	uint32_t n = s->n_services ? s->services[s->n_services - 1].id + 1 : 0;
	int r;

	r = array_values(c, m->fd[KM_M_SVC_STATS], KM_MAP_SVC_STATS, n,
			 (size_t)m->ncpus * sizeof(struct km_svc_stat));
	if (r)
		return r;
	for (uint32_t i = 0; i < s->n_services; i++)
		sum_cpus(c, s->services[i].id, m->ncpus, 8,
			 (uint64_t *)&s->services[i].st);
	if (m->fd[KM_M_A2S_STATS] < 0 || m->fd[KM_M_A2S_WSTATS] < 0) {
		s->flags |= KM_SNAP_F_NO_A2S;
		return 0;
	}
	r = array_values(c, m->fd[KM_M_A2S_STATS], KM_MAP_A2S_STATS, n,
			 (size_t)m->ncpus * sizeof(struct km_a2s_stat));
	if (r)
		return r;
	for (uint32_t i = 0; i < s->n_services; i++)
		sum_cpus(c, s->services[i].id, m->ncpus, 8,
			 (uint64_t *)&s->services[i].a2s);
	r = array_values(c, m->fd[KM_M_A2S_WSTATS], KM_MAP_A2S_WSTATS, n,
			 sizeof(struct km_a2s_wstat));
	if (r)
		return r;
	for (uint32_t i = 0; i < s->n_services; i++)
		memcpy(&s->services[i].w,
		       (char *)c->buf +
			   s->services[i].id * sizeof(struct km_a2s_wstat),
		       sizeof(struct km_a2s_wstat));
	return 0;
}

static int read_services_into(const struct km_maps *m, struct km_snap_ctx *c,
			      struct km_snapshot *s, uint32_t max_services)
{
	struct km_service_entry *e = NULL;
	struct km_snap_service *all;
	size_t n = 0;
	int r;

	r = read_services(m, c, &e, &n);
	if (r)
		return r;
	all = calloc(n ? n : 1, sizeof(*all));
	if (!all) {
		free(e);
		return km_log_errno(-ENOMEM, "snapshot: out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		all[i].key = e[i].key;
		all[i].id = e[i].val.id;
		all[i].flags = e[i].val.flags;
		all[i].backend = e[i].val.backend;
	}
	free(e);
	qsort(all, n, sizeof(*all), cmp_id);
	s->services_total = (uint32_t)n;
	s->n_services = n > max_services ? max_services : (uint32_t)n;
	if (n > max_services)
		s->flags |= KM_SNAP_F_TRUNCATED;
	/* Ids come from the map: one beyond the arrays would be a bug of
	 * the writer, never a reason to read out of bounds. */
	while (s->n_services && all[s->n_services - 1].id >= KM_MAX_SERVICES)
		s->n_services--;
	memcpy(s->services, all, s->n_services * sizeof(*all));
	free(all);
	return read_svc_counters(m, c, s);
}

/* The maps whose fill level an operator watches. The prefix lists are the
 * active pair's (km_config.active_lists). */
static const enum km_map_id fill_maps[] = {
    KM_M_SERVICES,  KM_M_EDGE_ADDRS, KM_M_BLOCKS,  KM_M_RL_SRC,
    KM_M_VALIDATED, KM_M_PUNCHES,    KM_M_ALLOW_A, KM_M_DENY_A,
};

/* Entries of a hash map, counted with batch lookups of keys and values
 * into c->buf (a get_next_key walk costs one syscall per entry). */
static long count_hash(struct km_snap_ctx *c, int fd,
		       const struct bpf_map_info *info)
{
	uint64_t in = 0, outb = 0;
	uint32_t chunk = 4096, count;
	bool first = true;
	long n = 0;
	int r;

	r = ctx_reserve(&c->buf, &c->buf_len,
			(size_t)chunk * ((info->value_size + 7) & ~7u) *
			    (info->type == BPF_MAP_TYPE_PERCPU_HASH ? 256 : 1));
	if (!r)
		r = ctx_reserve(&c->keys, &c->keys_len,
				(size_t)chunk * info->key_size);
	if (r)
		return r;
	for (;;) {
		count = chunk;
		r = bpf_map_lookup_batch(fd, first ? NULL : &in, &outb, c->keys,
					 c->buf, &count, NULL);
		first = false;
		in = outb;
		n += count;
		if (r && errno == ENOENT)
			return n;
		if (r)
			return -errno;
	}
}

/* Must match lib/mapfill.bpf.c. */
struct km_fill_rec {
	uint32_t id;
	uint32_t pad;
	int64_t count;
};

static int fill_iter_load(struct km_snap_ctx *c)
{
	int r, prio;

	if (c->fill_state)
		return c->fill_state > 0 ? 0 : -EOPNOTSUPP;
	c->fill_state = -1;
	/* A kernel without the kfunc or without the privileges is not an
	 * error: the batch count is the fallback. */
	prio = km_log_max_prio();
	km_log_init(NULL, LOG_CRIT);
	c->fill = km_mapfill__open_and_load();
	if (c->fill && km_mapfill__attach(c->fill)) {
		km_mapfill__destroy(c->fill);
		c->fill = NULL;
	}
	km_log_init(NULL, prio);
	if (!c->fill) {
		km_debug("map-fill iterator unavailable: hash maps counted by "
			 "batch lookups");
		return -EOPNOTSUPP;
	}
	r = ctx_reserve(&c->recs, &c->recs_len,
			4096 * sizeof(struct km_fill_rec));
	if (r)
		return r;
	c->fill_state = 1;
	return 0;
}

/* Every map's (id, count) of the host into c->recs; returns how many. */
static long fill_iter_read(struct km_snap_ctx *c)
{
	size_t got = 0;
	ssize_t n;
	int fd;

	if (fill_iter_load(c))
		return -EOPNOTSUPP;
	fd = bpf_iter_create(bpf_link__fd(c->fill->links.km_map_fill));
	if (fd < 0)
		return -errno;
	for (;;) {
		if (got + 256 * sizeof(struct km_fill_rec) > c->recs_len &&
		    ctx_reserve(&c->recs, &c->recs_len, c->recs_len * 2)) {
			close(fd);
			return -ENOMEM;
		}
		n = read(fd, (char *)c->recs + got, c->recs_len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += n;
	}
	close(fd);
	if (n < 0)
		return -errno;
	return (long)(got / sizeof(struct km_fill_rec));
}

static long fill_lookup(const struct km_snap_ctx *c, long nrec, uint32_t id)
{
	const struct km_fill_rec *r = c->recs;

	for (long i = 0; i < nrec; i++)
		if (r[i].id == id)
			return r[i].count < 0 ? 0 : (long)r[i].count;
	return -ENOENT;
}

static bool is_hash(uint32_t type)
{
	return type == BPF_MAP_TYPE_HASH || type == BPF_MAP_TYPE_LRU_HASH ||
	       type == BPF_MAP_TYPE_PERCPU_HASH ||
	       type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

static void read_fill(const struct km_maps *m, struct km_snap_ctx *c,
		      struct km_snapshot *s)
{
	enum km_map_id allow = KM_M_ALLOW_A, deny = KM_M_DENY_A;
	long nrec = fill_iter_read(c);

	km_prefix_active_map(m, KM_LIST_ALLOW, &allow);
	km_prefix_active_map(m, KM_LIST_DENY, &deny);
	s->n_maps = 0;
	for (size_t i = 0; i < sizeof(fill_maps) / sizeof(fill_maps[0]); i++) {
		enum km_map_id id = fill_maps[i];
		struct bpf_map_info info = {};
		uint32_t ilen = sizeof(info);
		struct km_snap_map *f = &s->maps[s->n_maps];
		long cnt = -1;

		if (id == KM_M_ALLOW_A)
			id = allow;
		else if (id == KM_M_DENY_A)
			id = deny;
		if (m->fd[id] < 0 ||
		    bpf_obj_get_info_by_fd(m->fd[id], &info, &ilen))
			continue;
		if (nrec > 0 && is_hash(info.type))
			cnt = fill_lookup(c, nrec, info.id);
		if (cnt < 0 && !c->no_batch && is_hash(info.type))
			cnt = count_hash(c, m->fd[id], &info);
		if (cnt < 0)
			cnt = km_map_count(m, id);
		if (cnt < 0)
			continue;
		/* The pair's names differ; report the list, not the half. */
		snprintf(f->name, sizeof(f->name), "%s",
			 id == allow  ? "km_allow"
			 : id == deny ? "km_deny"
				      : km_map_names[id]);
		f->entries = (uint64_t)cnt;
		f->max_entries = info.max_entries;
		s->n_maps++;
	}
}

int km_snapshot_read(const struct km_maps *m, struct km_snap_ctx *c,
		     struct km_snapshot *s, uint32_t max_services)
{
	uint64_t t0 = clock_ns(CLOCK_MONOTONIC);
	int r;

	s->version = KM_SNAP_VERSION;
	s->flags = 0;
	s->ncpus = (uint32_t)m->ncpus;
	s->n_reasons = KM_R_MAX;
	s->n_counters = KM_C_MAX;
	r = read_globals(m, c, s);
	if (!r)
		r = read_services_into(m, c, s, max_services);
	if (r)
		return r;
	read_fill(m, c, s);
	s->mono_ns = clock_ns(CLOCK_MONOTONIC);
	s->real_ns = clock_ns(CLOCK_REALTIME);
	s->read_ns = s->mono_ns - t0;
	return 0;
}

int km_snapshot_check(const struct km_snapshot *s, size_t len)
{
	if (len < sizeof(*s) || s->version != KM_SNAP_VERSION ||
	    s->n_reasons > KM_STATS_SLOTS || s->n_counters > KM_STATS_SLOTS ||
	    s->n_maps > KM_SNAP_MAPS_MAX || s->n_services > KM_MAX_SERVICES ||
	    s->n_services > s->services_total ||
	    len != km_snapshot_size(s->n_services))
		return -EPROTO;
	return 0;
}

const struct km_snap_service *km_snapshot_find(const struct km_snapshot *s,
					       const struct km_service_key *k)
{
	for (uint32_t i = 0; i < s->n_services; i++)
		if (s->services[i].key.proto == k->proto &&
		    s->services[i].key.addr == k->addr &&
		    s->services[i].key.port == k->port)
			return &s->services[i];
	return NULL;
}

char *km_snap_service_name(char *buf, size_t len,
			   const struct km_service_key *k)
{
	char a[INET_ADDRSTRLEN];
	const char *p = k->proto == 17 ? "udp" : k->proto == 6 ? "tcp" : "ip";

	inet_ntop(AF_INET, &k->addr, a, sizeof(a));
	snprintf(buf, len, "%s:%s:%u", p, a, ntohs(k->port));
	return buf;
}

enum km_verdict_class km_reason_class(unsigned int r)
{
	switch (r) {
	case KM_R_PASS_NOT_IPV4:
	case KM_R_PASS_NOT_OURS:
	case KM_R_PASS_EDGE:
	case KM_R_PASS_FIB:
	case KM_R_PASS_A2S_INGEST:
		return KM_VC_PASS;
	case KM_R_FWD_SERVICE:
	case KM_R_FWD_PUNCH:
	case KM_R_FWD_DECAP:
		return KM_VC_FWD;
	case KM_R_TX_ICMP_ECHO:
	case KM_R_TX_A2S_CHALLENGE:
	case KM_R_TX_A2S_CACHED:
		return KM_VC_TX;
	case KM_R_REDIR_A2S_WORKER:
	case KM_R_REDIR_A2S_INGEST:
		return KM_VC_REDIR;
	default:
		return KM_VC_DROP;
	}
}

const char *km_verdict_class_name(enum km_verdict_class c)
{
	static const char *const n[KM_VC_MAX] = {"pass", "fwd", "tx", "redir",
						 "drop"};

	return c < KM_VC_MAX ? n[c] : "?";
}

double km_snap_rate(uint64_t older, uint64_t newer, uint64_t dt_ns)
{
	if (!dt_ns || newer < older)
		return 0;
	return (double)(newer - older) * 1e9 / (double)dt_ns;
}

void km_a2s_hits(const struct km_a2s_stat *o, const struct km_a2s_stat *n,
		 uint64_t *hits, uint64_t *total)
{
	*hits = *total = 0;
	if (n->cached < o->cached || n->to_worker < o->to_worker ||
	    n->forwarded < o->forwarded)
		return;
	*hits = (n->cached - o->cached) + (n->to_worker - o->to_worker);
	*total = *hits + (n->forwarded - o->forwarded);
}
