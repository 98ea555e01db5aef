// SPDX-License-Identifier: GPL-2.0-only
/* Controller config -> maps (apply.h). */
#include "apply.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "pbcheck.h"

#define ORIGIN KM_ORIGIN_CONTROLLER
#define NS_PER_MS 1000000ull

static int __attribute__((format(printf, 4, 5)))
fail(int r, char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return r;
}

/* A map write failed after the checks: lib/maps logged the details. */
static int write_failed(int r, char *why, size_t len, const char *what)
{
	return fail(r, why, len,
		    "%s: writing the maps failed (%s); see the edge's log",
		    what, strerror(-r));
}

uint64_t ka_block_until(uint64_t now_ns, uint64_t duration_ms)
{
	if (!duration_ms || duration_ms > (UINT64_MAX - now_ns) / NS_PER_MS)
		return UINT64_MAX;
	return now_ns + duration_ms * NS_PER_MS;
}

static const char *svc_str(char *buf, size_t len,
			   const struct km_service_spec *s)
{
	uint32_t a = ntohl(s->addr);

	snprintf(buf, len, "%s %u.%u.%u.%u:%u", s->proto == 6 ? "tcp" : "udp",
		 a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255,
		 ntohs(s->port));
	return buf;
}

/* Services the controller sends must not collide with another origin's:
 * which of the two would the operator want? Refused before any write. */
static int svc_precheck(const struct km_maps *m,
			const struct km_service_spec *specs, size_t n,
			const char *field, char *why, size_t len)
{
	struct km_service cur;
	char b[48];
	int r;

	for (size_t i = 0; i < n; i++) {
		r = km_service_get(m, specs[i].proto, specs[i].addr,
				   specs[i].port, &cur);
		if (r == -ENOENT)
			continue;
		if (r)
			return write_failed(r, why, len, field);
		if (cur.origin != ORIGIN)
			return fail(-EEXIST, why, len,
				    "%s[%zu]: service %s is already "
				    "installed by %s on this edge",
				    field, i, svc_str(b, sizeof(b), &specs[i]),
				    km_origin_name(cur.origin));
	}
	return 0;
}

static struct km_service_spec *svc_specs(Kilimanjaro__V1__Service *const *s,
					 size_t n)
{
	struct km_service_spec *v = calloc(n ? n : 1, sizeof(*v));

	for (size_t i = 0; v && i < n; i++)
		km_pb_service_spec(s[i], &v[i]);
	return v;
}

static struct km_prefix_key *prefix_keys(Kilimanjaro__V1__Prefix *const *p,
					 size_t n)
{
	struct km_prefix_key *v = calloc(n ? n : 1, sizeof(*v));

	for (size_t i = 0; v && i < n; i++)
		km_pb_prefix_key(p[i], &v[i]);
	return v;
}

static int punch_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct km_punch_key));
}

/* Add one controller punch unless another origin (the edge learned it
 * itself, the CLI) holds the key: that entry forwards already. */
static int punch_add(const struct km_maps *m,
		     const Kilimanjaro__V1__PortPunch *p)
{
	struct km_punch_key k;
	struct km_punch cur;
	int r;

	km_pb_punch_key(p, &k);
	r = km_punch_get(m, &k, &cur);
	if (!r && cur.origin != ORIGIN)
		return 0;
	if (r && r != -ENOENT)
		return r;
	return km_punch_put(m, &k, htonl(p->backend), ORIGIN);
}

/* Controller punches become exactly p[]; learned and CLI ones stay. */
static int punches_sync(const struct km_maps *m,
			Kilimanjaro__V1__PortPunch *const *p, size_t n)
{
	struct km_punch_key *want = calloc(n ? n : 1, sizeof(*want));
	struct km_punch_entry *cur = NULL;
	size_t ncur = 0;
	int r = 0;

	if (!want)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		km_pb_punch_key(p[i], &want[i]);
	qsort(want, n, sizeof(*want), punch_cmp);
	for (size_t i = 0; i < n && !r; i++)
		r = punch_add(m, p[i]);
	if (!r)
		r = km_punches_list(m, &cur, &ncur);
	for (size_t i = 0; i < ncur && !r; i++) {
		if (cur[i].val.origin != ORIGIN ||
		    bsearch(&cur[i].key, want, n, sizeof(*want), punch_cmp))
			continue;
		r = km_punch_del(m, &cur[i].key);
		if (r == -ENOENT)
			r = 0;
	}
	free(cur);
	free(want);
	return r;
}

static void key_bytes(uint64_t k0, uint64_t k1, uint8_t out[16])
{
	for (int i = 0; i < 8; i++) {
		out[i] = (uint8_t)(k0 >> (8 * i));
		out[8 + i] = (uint8_t)(k1 >> (8 * i));
	}
}

/*
 * The shared A2S key: current = key, previous = prev_key (when given), so
 * a challenge another edge issued under either is accepted here. Keys
 * already in place are kept: a resync does not rotate anything.
 */
static int key_apply(const struct km_maps *m, const Kilimanjaro__V1__A2sKey *k)
{
	enum km_a2s_key_action act;
	struct km_a2s_key cur;
	uint8_t cur_key[16];
	uint32_t epoch_s;
	int r;

	if (!k)
		return 0;
	r = km_a2s_key_read(m, &cur);
	if (r)
		return r;
	epoch_s = k->has_epoch_s ? k->epoch_s
		  : cur.epoch_s	 ? cur.epoch_s
				 : KM_CFG_DEF_A2S_EPOCH_S;
	key_bytes(cur.k0, cur.k1, cur_key);
	if ((cur.flags & KM_A2S_KEY_F_VALID) &&
	    !memcmp(cur_key, k->key.data, 16) && cur.epoch_s == epoch_s)
		goto out;
	if (k->has_prev_key && memcmp(k->prev_key.data, k->key.data, 16) &&
	    (!(cur.flags & KM_A2S_KEY_F_VALID) ||
	     (memcmp(cur_key, k->prev_key.data, 16) &&
	      memcmp(cur_key, k->key.data, 16)))) {
		r = km_a2s_key_install(m, k->prev_key.data, epoch_s, &act);
		if (r)
			goto out;
	}
	r = km_a2s_key_install(m, k->key.data, epoch_s, &act);
out:
	explicit_bzero(cur_key, sizeof(cur_key));
	explicit_bzero(&cur, sizeof(cur));
	return r;
}

int ka_apply_snapshot(const struct km_maps *m,
		      const Kilimanjaro__V1__ConfigSnapshot *s, char *why,
		      size_t len)
{
	struct km_service_spec *specs = svc_specs(s->services, s->n_services);
	struct km_prefix_key *allow = prefix_keys(s->allow, s->n_allow);
	struct km_prefix_key *deny = prefix_keys(s->deny, s->n_deny);
	struct km_block_spec *blocks = calloc(s->n_blocks + 1, sizeof(*blocks));
	uint64_t now = km_mono_ns();
	int r;

	if (!specs || !allow || !deny || !blocks) {
		r = fail(-ENOMEM, why, len, "snapshot: out of memory");
		goto out;
	}
	r = svc_precheck(m, specs, s->n_services, "snapshot.services", why,
			 len);
	if (r)
		goto out;
	for (size_t i = 0; i < s->n_blocks; i++) {
		blocks[i].addr = htonl(s->blocks[i]->addr);
		blocks[i].until_ns =
		    ka_block_until(now, s->blocks[i]->has_duration_ms
					    ? s->blocks[i]->duration_ms
					    : 0);
	}
	r = km_services_sync(m, specs, s->n_services, ORIGIN);
	if (r) {
		write_failed(r, why, len, "snapshot.services");
		goto out;
	}
	r = km_prefixes_sync(m, allow, s->n_allow, deny, s->n_deny, ORIGIN);
	if (r) {
		write_failed(r, why, len, "snapshot.allow/deny");
		goto out;
	}
	r = km_blocks_sync(m, blocks, s->n_blocks, ORIGIN);
	if (r) {
		write_failed(r, why, len, "snapshot.blocks");
		goto out;
	}
	r = punches_sync(m, s->punches, s->n_punches);
	if (r) {
		write_failed(r, why, len, "snapshot.punches");
		goto out;
	}
	r = key_apply(m, s->a2s_key);
	if (r)
		write_failed(r, why, len, "snapshot.a2s_key");
out:
	free(specs);
	free(allow);
	free(deny);
	free(blocks);
	return r;
}

/* ---- deltas ---- */

static bool prefix_in(const struct km_prefix_key *k,
		      Kilimanjaro__V1__Prefix *const *p, size_t n)
{
	struct km_prefix_key x;

	for (size_t i = 0; i < n; i++) {
		km_pb_prefix_key(p[i], &x);
		if (x.prefixlen == k->prefixlen && x.addr == k->addr)
			return true;
	}
	return false;
}

/* The controller's entries of list l after the delta: ours now, minus
 * del[], plus add[]. */
static int list_after(const struct km_maps *m, enum km_list l,
		      Kilimanjaro__V1__Prefix *const *add, size_t n_add,
		      Kilimanjaro__V1__Prefix *const *del, size_t n_del,
		      struct km_prefix_key **out, size_t *n_out)
{
	struct km_prefix_entry *cur = NULL;
	struct km_prefix_key *v;
	size_t ncur = 0, n = 0;
	int r;

	r = km_prefixes_list(m, l, &cur, &ncur);
	if (r)
		return r;
	v = calloc(ncur + n_add + 1, sizeof(*v));
	if (!v) {
		free(cur);
		return -ENOMEM;
	}
	for (size_t i = 0; i < ncur; i++)
		if (cur[i].val.origin == ORIGIN &&
		    !prefix_in(&cur[i].key, del, n_del) &&
		    !prefix_in(&cur[i].key, add, n_add))
			v[n++] = cur[i].key;
	for (size_t i = 0; i < n_add; i++)
		km_pb_prefix_key(add[i], &v[n++]);
	free(cur);
	*out = v;
	*n_out = n;
	return 0;
}

static int delta_lists(const struct km_maps *m,
		       const Kilimanjaro__V1__ConfigDelta *d)
{
	struct km_prefix_key *allow = NULL, *deny = NULL;
	size_t na = 0, nd = 0;
	int r;

	if (!d->n_add_allow && !d->n_del_allow && !d->n_add_deny &&
	    !d->n_del_deny)
		return 0;
	r = list_after(m, KM_LIST_ALLOW, d->add_allow, d->n_add_allow,
		       d->del_allow, d->n_del_allow, &allow, &na);
	if (!r)
		r = list_after(m, KM_LIST_DENY, d->add_deny, d->n_add_deny,
			       d->del_deny, d->n_del_deny, &deny, &nd);
	/* Both lists in one flip: packets see the whole delta or none. */
	if (!r)
		r = km_prefixes_sync(m, allow, na, deny, nd, ORIGIN);
	free(allow);
	free(deny);
	return r;
}

static int delta_services(const struct km_maps *m,
			  const Kilimanjaro__V1__ConfigDelta *d,
			  const struct km_service_spec *specs)
{
	struct km_service cur;
	int r = 0;

	for (size_t i = 0; i < d->n_del_services && !r; i++) {
		const Kilimanjaro__V1__ServiceKey *k = d->del_services[i];
		uint8_t proto = km_pb_ipproto(k->proto);
		uint32_t addr = htonl(k->addr);
		uint16_t port = htons((uint16_t)k->port);

		/* Deleting what is not ours (or not there) is a no-op: the
		 * controller's view may be older than the CLI's edit. */
		if (km_service_get(m, proto, addr, port, &cur) ||
		    cur.origin != ORIGIN)
			continue;
		r = km_service_del(m, proto, addr, port, ORIGIN);
	}
	for (size_t i = 0; i < d->n_add_services && !r; i++)
		r = km_service_put(m, &specs[i], ORIGIN);
	return r;
}

static int delta_blocks(const struct km_maps *m,
			const Kilimanjaro__V1__ConfigDelta *d)
{
	uint64_t now = km_mono_ns();
	struct km_block cur;
	int r = 0;

	for (size_t i = 0; i < d->n_del_blocks && !r; i++) {
		uint32_t a = htonl(d->del_blocks[i]);

		if (!km_block_get(m, a, &cur) && cur.origin == ORIGIN)
			r = km_block_del(m, a, ORIGIN);
	}
	for (size_t i = 0; i < d->n_add_blocks && !r; i++) {
		const Kilimanjaro__V1__Block *b = d->add_blocks[i];
		uint32_t a = htonl(b->addr);

		/* A live block of another origin already drops the source. */
		if (!km_block_get(m, a, &cur) && cur.origin != ORIGIN &&
		    now < cur.until_ns)
			continue;
		r = km_block_put(m, a,
				 ka_block_until(now, b->has_duration_ms
							 ? b->duration_ms
							 : 0),
				 ORIGIN);
	}
	return r;
}

static int delta_punches(const struct km_maps *m,
			 const Kilimanjaro__V1__ConfigDelta *d)
{
	struct km_punch_key k;
	struct km_punch cur;
	int r = 0;

	for (size_t i = 0; i < d->n_del_punches && !r; i++) {
		km_pb_punch_key(d->del_punches[i], &k);
		if (!km_punch_get(m, &k, &cur) && cur.origin == ORIGIN) {
			r = km_punch_del(m, &k);
			if (r == -ENOENT)
				r = 0;
		}
	}
	for (size_t i = 0; i < d->n_add_punches && !r; i++)
		r = punch_add(m, d->add_punches[i]);
	return r;
}

int ka_apply_delta(const struct km_maps *m,
		   const Kilimanjaro__V1__ConfigDelta *d, char *why, size_t len)
{
	struct km_service_spec *specs =
	    svc_specs(d->add_services, d->n_add_services);
	int r;

	if (!specs)
		return fail(-ENOMEM, why, len, "delta: out of memory");
	r = svc_precheck(m, specs, d->n_add_services, "delta.add_services", why,
			 len);
	if (r)
		goto out;
	r = delta_services(m, d, specs);
	if (r) {
		write_failed(r, why, len, "delta services");
		goto out;
	}
	r = delta_lists(m, d);
	if (r) {
		write_failed(r, why, len, "delta allow/deny");
		goto out;
	}
	r = delta_blocks(m, d);
	if (r) {
		write_failed(r, why, len, "delta blocks");
		goto out;
	}
	r = delta_punches(m, d);
	if (r) {
		write_failed(r, why, len, "delta punches");
		goto out;
	}
	r = key_apply(m, d->a2s_key);
	if (r)
		write_failed(r, why, len, "delta.a2s_key");
out:
	free(specs);
	return r;
}
