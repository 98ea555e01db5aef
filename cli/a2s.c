// SPDX-License-Identifier: GPL-2.0-only
/* `kilimanjaro a2s [list|key]`: the A2S cache and the challenge key. */
#include "cli.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"

static const char usage[] =
    "usage: kilimanjaro a2s [list]\n"
    "       kilimanjaro a2s key\n"
    "       kilimanjaro a2s rotate\n"
    "\n"
    "list: every service with A2S caching: its backend, policy (refresh /\n"
    "max age / timeout, challenge required or off), the cached A2S_INFO\n"
    "answer (state empty | fresh | stale | expired | down, age, size) and\n"
    "the counters of the XDP program and of the AF_XDP workers.\n"
    "  fresh    younger than refresh: served\n"
    "  stale    older than refresh: served while a worker refreshes it\n"
    "  expired  older than max age: not served (forwarded or to a worker)\n"
    "  down     the game server missed its timeout: not served\n"
    "  empty    nothing cached for this service yet\n"
    "key: the challenge key's id and epoch (never the key itself).\n"
    "rotate: a new random key; the current one stays accepted as the\n"
    "previous key, so challenges in flight stay valid. A config with\n"
    "a2s.key_file puts the file's key back at its next reload or start.\n";

#define MS 1000000ull

struct a2s_row {
	struct km_service_entry svc;
	struct km_a2s_cfg cfg;
	struct km_a2s_head head;
	bool head_ok; /* false: a worker kept writing during the read */
	enum km_a2s_state state;
	double age_s;
	struct km_a2s_stat x;
	struct km_a2s_wstat w;
};

static int by_id(const void *a, const void *b)
{
	const struct km_service_entry *x = a, *y = b;

	return x->val.id < y->val.id ? -1 : x->val.id > y->val.id;
}

static int row_read(const struct km_maps *m, uint64_t now, struct a2s_row *row)
{
	uint32_t id = row->svc.val.id;
	int r;

	r = km_a2s_stat_read(m, id, &row->x);
	r = r ?: km_a2s_wstat_read(m, id, &row->w);
	if (r)
		return r;
	r = km_a2s_info_head(m, id, &row->head);
	if (r && r != -EAGAIN)
		return r;
	row->head_ok = !r;
	row->state = row->head_ok ? km_a2s_state_of(&row->cfg, &row->head,
						    &row->svc.key, now)
				  : KM_A2S_ST_EMPTY;
	row->age_s = row->state != KM_A2S_ST_EMPTY && now > row->head.updated_ns
			 ? (now - row->head.updated_ns) / 1e9
			 : 0;
	return 0;
}

/* The services with A2S on, by id, with everything the listing shows. */
static int rows_read(const struct km_maps *m, struct a2s_row **out, size_t *n)
{
	struct km_service_entry *s = NULL;
	struct a2s_row *rows = NULL;
	uint64_t now = km_mono_ns();
	size_t ns = 0;
	int r;

	*n = 0;
	r = km_services_list(m, &s, &ns);
	if (r)
		return r;
	qsort(s, ns, sizeof(*s), by_id);
	rows = calloc(ns + 1, sizeof(*rows));
	if (!rows) {
		r = km_log_errno(-ENOMEM, "a2s: out of memory");
		goto out;
	}
	for (size_t i = 0; i < ns && !r; i++) {
		struct a2s_row *row = &rows[*n];

		row->svc = s[i];
		r = km_a2s_cfg_read(m, s[i].val.id, &row->cfg);
		if (r || !(row->cfg.flags & KM_A2S_F_ENABLED))
			continue;
		r = row_read(m, now, row);
		(*n)++;
	}
out:
	free(s);
	if (r) {
		free(rows);
		rows = NULL;
		*n = 0;
	}
	*out = rows;
	return r;
}

static const char *challenge_name(const struct km_a2s_cfg *c)
{
	return c->flags & KM_A2S_F_NO_CHALLENGE ? "off" : "required";
}

/* ---- JSON ---- */

static void add_u64(struct json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, cli_json_u64(v));
}

static struct json_object *row_json(const struct a2s_row *r)
{
	struct json_object *o = json_object_new_object(), *c, *x, *w;
	const struct km_service_entry *e = &r->svc;
	char a[16];

	add_u64(o, "id", e->val.id);
	json_object_object_add(
	    o, "proto", json_object_new_string(cli_proto_name(e->key.proto)));
	json_object_object_add(
	    o, "address", json_object_new_string(cli_addr(a, e->key.addr)));
	add_u64(o, "port", ntohs(e->key.port));
	json_object_object_add(
	    o, "backend", json_object_new_string(cli_addr(a, e->val.backend)));
	json_object_object_add(o, "backend_port",
			       e->val.backend_port
				   ? cli_json_u64(ntohs(e->val.backend_port))
				   : NULL);
	json_object_object_add(
	    o, "origin", json_object_new_string(km_origin_name(e->val.origin)));
	add_u64(o, "refresh_ms", r->cfg.refresh_ns / MS);
	add_u64(o, "max_age_ms", r->cfg.max_age_ns / MS);
	add_u64(o, "timeout_ms", r->cfg.timeout_ns / MS);
	json_object_object_add(o, "challenge",
			       json_object_new_string(challenge_name(&r->cfg)));

	c = json_object_new_object();
	json_object_object_add(
	    c, "state", json_object_new_string(km_a2s_state_name(r->state)));
	json_object_object_add(c, "age_ms",
			       r->state == KM_A2S_ST_EMPTY
				   ? NULL
				   : cli_json_u64((uint64_t)(r->age_s * 1000)));
	add_u64(c, "size", r->state == KM_A2S_ST_EMPTY ? 0 : r->head.len);
	json_object_object_add(o, "cache", c);

	x = json_object_new_object();
	add_u64(x, "requests", r->x.requests);
	add_u64(x, "challenges", r->x.challenges);
	add_u64(x, "bad_challenges", r->x.bad_challenges);
	add_u64(x, "cached", r->x.cached);
	add_u64(x, "stale", r->x.stale);
	add_u64(x, "to_worker", r->x.to_worker);
	add_u64(x, "forwarded", r->x.forwarded);
	add_u64(x, "ingested", r->x.ingested);
	json_object_object_add(o, "xdp", x);

	w = json_object_new_object();
	add_u64(w, "refreshes", r->w.refreshes);
	add_u64(w, "ingested", r->w.ingested);
	add_u64(w, "served", r->w.served);
	add_u64(w, "served_frames", r->w.served_frames);
	add_u64(w, "pending_dropped", r->w.pending_dropped);
	add_u64(w, "server_down", r->w.server_down);
	add_u64(w, "bad_answers", r->w.bad_answers);
	json_object_object_add(o, "worker", w);
	return o;
}

/* ---- table ---- */

static char *ms_str(char *buf, size_t len, uint64_t ns)
{
	return cli_duration(buf, len, ns / 1e9);
}

static void row_print(const struct a2s_row *r)
{
	char sv[48], be[32], a[16], pol[64], t1[16], t2[16], t3[16], age[16];
	const struct km_service_entry *e = &r->svc;

	snprintf(sv, sizeof(sv), "%s %s:%u", cli_proto_name(e->key.proto),
		 cli_addr(a, e->key.addr), ntohs(e->key.port));
	if (e->val.backend_port)
		snprintf(be, sizeof(be), "%s:%u", cli_addr(a, e->val.backend),
			 ntohs(e->val.backend_port));
	else
		snprintf(be, sizeof(be), "%s", cli_addr(a, e->val.backend));
	snprintf(pol, sizeof(pol), "%s/%s/%s %s",
		 ms_str(t1, sizeof(t1), r->cfg.refresh_ns),
		 ms_str(t2, sizeof(t2), r->cfg.max_age_ns),
		 ms_str(t3, sizeof(t3), r->cfg.timeout_ns),
		 r->cfg.flags & KM_A2S_F_NO_CHALLENGE ? "NO-CHALLENGE"
						      : "challenge");
	if (r->state == KM_A2S_ST_EMPTY)
		snprintf(age, sizeof(age), "-");
	else
		cli_duration(age, sizeof(age), r->age_s);
	printf("%-4u %-22s %-20s %-28s %-8s %-7s %uB\n", e->val.id, sv, be, pol,
	       km_a2s_state_name(r->state), age,
	       r->state == KM_A2S_ST_EMPTY ? 0 : r->head.len);
	printf("     xdp:    challenges %llu  cached %llu  stale %llu  "
	       "forwarded %llu  to_worker %llu  bad_challenges %llu  "
	       "ingested %llu\n",
	       (unsigned long long)r->x.challenges,
	       (unsigned long long)r->x.cached, (unsigned long long)r->x.stale,
	       (unsigned long long)r->x.forwarded,
	       (unsigned long long)r->x.to_worker,
	       (unsigned long long)r->x.bad_challenges,
	       (unsigned long long)r->x.ingested);
	printf("     worker: refreshes %llu  ingested %llu  served %llu  "
	       "pending_dropped %llu  server_down %llu\n",
	       (unsigned long long)r->w.refreshes,
	       (unsigned long long)r->w.ingested,
	       (unsigned long long)r->w.served,
	       (unsigned long long)r->w.pending_dropped,
	       (unsigned long long)r->w.server_down);
}

static int a2s_list(struct cli_ctx *c, int argc, char **argv)
{
	struct json_object *arr = NULL;
	struct a2s_row *rows = NULL;
	struct km_maps m;
	size_t n = 0;
	int r;

	r = cli_list_open(c, "a2s list", usage, argc, argv, &m);
	if (r)
		return r;
	r = rows_read(&m, &rows, &n);
	if (r)
		goto out;
	if (c->json) {
		arr = json_object_new_array();
		for (size_t i = 0; i < n; i++)
			json_object_array_add(arr, row_json(&rows[i]));
		cli_json_print_list("a2s", &arr);
		goto out;
	}
	if (!n) {
		printf("no service has A2S caching (\"a2s\" in the config, or "
		       "services add ... --a2s)\n");
		goto out;
	}
	printf("%-4s %-22s %-20s %-28s %-8s %-7s %s\n", "ID", "SERVICE",
	       "BACKEND", "REFRESH/MAX-AGE/TIMEOUT", "CACHE", "AGE", "SIZE");
	for (size_t i = 0; i < n; i++)
		row_print(&rows[i]);
out:
	json_object_put(arr);
	free(rows);
	km_maps_close(&m);
	return r;
}

static int a2s_key(struct cli_ctx *c, int argc, char **argv)
{
	struct km_a2s_key k;
	struct km_maps m;
	bool valid;
	time_t now = time(NULL);
	long next = 0;
	int r;

	r = cli_list_open(c, "a2s key", usage, argc, argv, &m);
	if (r)
		return r;
	r = km_a2s_key_read(&m, &k);
	km_maps_close(&m);
	if (r)
		return r;
	valid = k.flags & KM_A2S_KEY_F_VALID;
	if (valid && k.epoch_s)
		next = (long)(((uint64_t)k.epoch + 1) * k.epoch_s - now);
	if (c->json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "valid",
				       json_object_new_boolean(valid));
		add_u64(o, "key_id", k.key_id);
		add_u64(o, "epoch", k.epoch);
		add_u64(o, "epoch_s", k.epoch_s);
		json_object_object_add(
		    o, "previous_key_accepted",
		    json_object_new_boolean(
			valid && (k.prev_k0 != k.k0 || k.prev_k1 != k.k1)));
		explicit_bzero(&k, sizeof(k));
		cli_json_print(o);
		return 0;
	}
	if (!valid) {
		printf("no key installed: A2S requests are forwarded to the "
		       "game servers (kilimanjaro-loader installs it)\n");
		return 0;
	}
	printf("key id    %u%s\n", k.key_id,
	       k.prev_k0 != k.k0 || k.prev_k1 != k.k1
		   ? " (the previous key is still accepted)"
		   : "");
	printf("epoch     %u (%u s each; the next in %lds%s)\n", k.epoch,
	       k.epoch_s, next,
	       next < 0 ? ", overdue: is kilimanjaro-loader running?" : "");
	explicit_bzero(&k, sizeof(k));
	return 0;
}

static int a2s_rotate(struct cli_ctx *c, int argc, char **argv)
{
	struct km_a2s_key k;
	struct km_maps m;
	int r;

	r = cli_list_open(c, "a2s rotate", usage, argc, argv, &m);
	if (r)
		return r;
	r = km_a2s_key_rotate(&m, NULL);
	r = r ?: km_a2s_key_read(&m, &k);
	km_maps_close(&m);
	if (r)
		return r;
	if (c->json) {
		struct json_object *o = json_object_new_object();

		add_u64(o, "key_id", k.key_id);
		add_u64(o, "previous_key_id", k.key_id - 1);
		cli_json_print(o);
	} else {
		printf("rotated to key %u (key %u still accepted until the "
		       "next rotation)\n",
		       k.key_id, k.key_id - 1);
	}
	explicit_bzero(&k, sizeof(k));
	return 0;
}

int cmd_a2s(struct cli_ctx *c, int argc, char **argv)
{
	static const struct cli_sub subs[] = {
	    {"list", a2s_list},
	    {"key", a2s_key},
	    {"rotate", a2s_rotate},
	    {.name = NULL},
	};

	return cli_dispatch(c, "a2s", usage, subs, argc, argv);
}
