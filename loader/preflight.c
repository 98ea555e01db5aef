// SPDX-License-Identifier: GPL-2.0-only
#include "preflight.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

/* How full one map will be once cfg is applied. Keys are 4 or 8 bytes. */
struct fill {
	const char *what; /* "deny list" */
	const char *unit; /* "prefixes" */
	const char *size; /* "map_sizes.prefixes", or why it is fixed */
	size_t n_cfg;	  /* the config's entries */
	size_t n_shared;  /* of those, held by another origin already */
	size_t n_others;  /* entries of other origins, kept */
	size_t by[KM_ORIGIN_MAX];
	long cap;
};

struct ctx {
	const struct km_maps *m;
	const struct km_cfg *cfg;
	const char *path, *lead, *tail;
	int r;	   /* first problem */
	bool told; /* a problem was logged with lead and tail */
};

/* A map could not be read (lib/maps.c logged why): no verdict, refuse. */
static void failed(struct ctx *c, int r)
{
	if (!c->r)
		c->r = r;
}

static void problem(struct ctx *c, int r, const char *msg)
{
	km_err("%s: %s: %s; %s", c->lead, c->path, msg, c->tail);
	c->told = true;
	failed(c, r);
}

static void no_memory(struct ctx *c)
{
	failed(c, km_log_errno(-ENOMEM, "pre-flight: out of memory"));
}

static int cmp4(const void *a, const void *b)
{
	return memcmp(a, b, 4);
}

static int cmp8(const void *a, const void *b)
{
	return memcmp(a, b, 8);
}

/* How many of the n_cfg keys of cfg_keys are among the sorted others. */
static size_t shared(const void *others, size_t n_others, const void *cfg_keys,
		     size_t n_cfg, size_t ksize)
{
	int (*cmp)(const void *, const void *) = ksize == 4 ? cmp4 : cmp8;
	size_t n = 0;

	for (size_t i = 0; i < n_cfg; i++)
		if (bsearch((const char *)cfg_keys + i * ksize, others,
			    n_others, ksize, cmp))
			n++;
	return n;
}

/* "cli 15, controller 5" */
static void origins(const struct fill *f, char *buf, size_t sz)
{
	size_t o = 0;

	buf[0] = 0;
	for (unsigned int i = 0; i < KM_ORIGIN_MAX && o < sz; i++)
		if (f->by[i])
			o += (size_t)snprintf(buf + o, sz - o, "%s%s %zu",
					      o ? ", " : "", km_origin_name(i),
					      f->by[i]);
}

static void fill_judge(struct ctx *c, const struct fill *f)
{
	size_t need = f->n_cfg - f->n_shared + f->n_others;
	char msg[512], by[128], both[64] = "";

	if (f->cap < 0) {
		failed(c, (int)f->cap);
		return;
	}
	if (need <= (size_t)f->cap)
		return;
	origins(f, by, sizeof(by));
	if (f->n_shared)
		snprintf(both, sizeof(both), ", %zu of them in both,",
			 f->n_shared);
	snprintf(msg, sizeof(msg),
		 "%s: %zu %s from the config + %zu added outside it (%s)%s "
		 "exceed its capacity %ld (%s)",
		 f->what, f->n_cfg, f->unit, f->n_others, by[0] ? by : "none",
		 both, f->cap, f->size);
	problem(c, -ENOSPC, msg);
}

/* The keys of entries of other origins, sorted; their count by origin. */
static void *others_keys(struct fill *f, const void *entries, size_t n,
			 size_t esize, size_t koff, size_t ksize, size_t ooff)
{
	char *k = calloc(n + 1, ksize);

	if (!k)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const char *e = (const char *)entries + i * esize;
		uint8_t o = (uint8_t)e[ooff];

		if (o == KM_ORIGIN_CONFIG)
			continue;
		memcpy(k + f->n_others++ * ksize, e + koff, ksize);
		f->by[o < KM_ORIGIN_MAX ? o : KM_ORIGIN_NONE]++;
	}
	qsort(k, f->n_others, ksize, ksize == 4 ? cmp4 : cmp8);
	return k;
}

/* Judge one map from its entries (freed here): the other origins' keys
 * (key at koff, origin byte at ooff of each esize-byte entry) against the
 * config's f->n_cfg keys. */
static void judge_entries(struct ctx *c, struct fill *f, void *entries,
			  size_t n, size_t esize, size_t koff, size_t ksize,
			  size_t ooff, const void *cfg_keys)
{
	void *k = others_keys(f, entries, n, esize, koff, ksize, ooff);

	free(entries);
	if (!k) {
		no_memory(c);
		return;
	}
	f->n_shared = shared(k, f->n_others, cfg_keys, f->n_cfg, ksize);
	free(k);
	fill_judge(c, f);
}

static void check_lists(struct ctx *c)
{
	static const char *const what[2] = {"allow list", "deny list"};
	const struct km_prefix_key *keys[2] = {c->cfg->allow, c->cfg->deny};
	size_t nkeys[2] = {c->cfg->n_allow, c->cfg->n_deny};
	enum km_map_id maps[2][2] = {{KM_M_ALLOW_A, KM_M_ALLOW_B},
				     {KM_M_DENY_A, KM_M_DENY_B}};

	for (int l = 0; l < 2; l++) {
		struct fill f = {.what = what[l],
				 .unit = "prefixes",
				 .size = "map_sizes.prefixes",
				 .n_cfg = nkeys[l]};
		struct km_prefix_entry *e;
		long a, b;
		size_t n;
		int r;

		/* The sync fills the inactive pair; a later one the other:
		 * the smaller of the two is the limit. */
		a = km_map_capacity(c->m, maps[l][0]);
		b = km_map_capacity(c->m, maps[l][1]);
		f.cap = a < b ? a : b;
		r = km_prefixes_list(c->m, (enum km_list)l, &e, &n);
		if (r) {
			failed(c, r);
			continue;
		}
		judge_entries(c, &f, e, n, sizeof(*e),
			      offsetof(struct km_prefix_entry, key),
			      sizeof(struct km_prefix_key),
			      offsetof(struct km_prefix_entry, val.origin),
			      keys[l]);
	}
}

static void check_edge_addrs(struct ctx *c)
{
	struct fill f = {.what = "edge addresses",
			 .unit = "addresses",
			 .size = "fixed by the program, KM_MAX_EDGE_ADDRS",
			 .n_cfg = c->cfg->n_edge_addrs};
	struct km_edge_entry *e;
	size_t n;
	int r;

	f.cap = km_map_capacity(c->m, KM_M_EDGE_ADDRS);
	r = km_edge_addrs_list(c->m, &e, &n);
	if (r) {
		failed(c, r);
		return;
	}
	judge_entries(c, &f, e, n, sizeof(*e),
		      offsetof(struct km_edge_entry, addr), sizeof(uint32_t),
		      offsetof(struct km_edge_entry, val.origin),
		      c->cfg->edge_addrs);
}

/* km_blocks is an LRU map: too many entries would not fail but evict. */
static void check_blocks(struct ctx *c)
{
	struct fill f = {
	    .what = "blocks", .unit = "blocks", .size = "map_sizes.blocks"};
	struct km_block_spec *b;
	struct km_block_entry *e;
	uint32_t *addrs;
	size_t n;
	int r;

	b = calloc(c->cfg->n_blocks + 1, sizeof(*b));
	addrs = calloc(c->cfg->n_blocks + 1, sizeof(*addrs));
	if (!b || !addrs) {
		no_memory(c);
		goto out;
	}
	/* As apply_config resolves them: ended blocks are not installed. */
	f.n_cfg =
	    km_cfg_blocks_resolve(c->cfg, km_mono_ns(), (int64_t)time(NULL), b);
	for (size_t i = 0; i < f.n_cfg; i++)
		addrs[i] = b[i].addr;
	f.cap = km_map_capacity(c->m, KM_M_BLOCKS);
	r = km_blocks_list(c->m, &e, &n);
	if (r) {
		failed(c, r);
		goto out;
	}
	judge_entries(c, &f, e, n, sizeof(*e),
		      offsetof(struct km_block_entry, addr), sizeof(uint32_t),
		      offsetof(struct km_block_entry, val.origin), addrs);
out:
	free(b);
	free(addrs);
}

static struct km_service_key spec_key(const struct km_service_spec *s)
{
	return (struct km_service_key){
	    .proto = s->proto, .port = s->port, .addr = s->addr};
}

/*
 * The sync puts before it deletes (a service that stays is never missing),
 * so for a moment km_services holds the running services and the new ones
 * together: each needs an id of its own (KM_MAX_SERVICES).
 */
static void check_services(struct ctx *c)
{
	struct fill f = {.what = "services",
			 .unit = "services",
			 .size = "fixed by the program, KM_MAX_SERVICES",
			 .n_cfg = c->cfg->n_services};
	struct km_service_key *keys = NULL;
	struct km_service_entry *e = NULL;
	size_t n = 0, fresh = 0;
	char msg[512];
	void *k = NULL;
	int r;

	f.cap = km_map_capacity(c->m, KM_M_SERVICES);
	if (f.cap > KM_MAX_SERVICES)
		f.cap = KM_MAX_SERVICES;
	r = km_services_list(c->m, &e, &n);
	if (r) {
		failed(c, r);
		return;
	}
	keys = calloc(n + c->cfg->n_services + 1, sizeof(*keys));
	if (keys)
		k = others_keys(&f, e, n, sizeof(*e),
				offsetof(struct km_service_entry, key),
				sizeof(struct km_service_key),
				offsetof(struct km_service_entry, val.origin));
	if (!k) {
		no_memory(c);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		keys[i] = e[i].key;
	qsort(keys, n, sizeof(*keys), cmp8);
	for (size_t i = 0; i < c->cfg->n_services; i++) {
		struct km_service_key sk = spec_key(&c->cfg->services[i]);

		if (bsearch(&sk, k, f.n_others, sizeof(sk), cmp8))
			f.n_shared++;
		if (!bsearch(&sk, keys, n, sizeof(sk), cmp8))
			fresh++;
	}
	fill_judge(c, &f);
	if (f.cap >= 0 && f.n_cfg - f.n_shared + f.n_others <= (size_t)f.cap &&
	    n + fresh > (size_t)f.cap) {
		snprintf(msg, sizeof(msg),
			 "services: the config's %zu new services need ids "
			 "while the %zu running ones still hold theirs: %zu "
			 "exceed the %ld there are (%s); remove services in "
			 "one reload, add the new ones in the next",
			 fresh, n, n + fresh, f.cap, f.size);
		problem(c, -ENOSPC, msg);
	}
out:
	free(k);
	free(keys);
	free(e);
}

int preflight_check(const struct km_maps *m, const struct km_cfg *cfg,
		    const char *path, const char *lead, const char *tail)
{
	struct ctx c = {
	    .m = m, .cfg = cfg, .path = path, .lead = lead, .tail = tail};
	int r;

	check_edge_addrs(&c);
	check_lists(&c);
	check_blocks(&c);
	check_services(&c);
	if (c.r && !c.told)
		km_err("%s: %s: cannot read the maps to check the file against "
		       "them; %s",
		       lead, path, tail);
	if (c.r)
		return c.r;
	/* Other origins' services in the way, replies that could not be told
	 * apart: logged by lib/maps.c, which names the services. */
	r = km_services_check(m, cfg->services, cfg->n_services,
			      KM_ORIGIN_CONFIG);
	if (r)
		problem(&c, r, "services: see the error above");
	return c.r;
}
