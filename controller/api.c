// SPDX-License-Identifier: GPL-2.0-only
#include "api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#define KV1(x) Kilimanjaro__V1__##x
#define LIMIT_MAX_48 (1ull << 48)
#define A2S_MS_MIN 100
#define A2S_MS_MAX 3600000
#define BLOCK_MS_MAX (10ull * 366 * 24 * 3600 * 1000)

static const char *const limit_class[4] = {"unvalidated", "validated", "total",
					   "icmp"};

static int fail(char *why, size_t wl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *why, size_t wl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, wl, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int parse_quad(const char *s, uint32_t *out)
{
	struct in_addr a;

	if (!s || inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*out = ntohl(a.s_addr);
	return 0;
}

static void fmt_addr(uint32_t host, char *b, size_t n)
{
	struct in_addr a = {.s_addr = htonl(host)};

	inet_ntop(AF_INET, &a, b, (socklen_t)n);
}

int api_parse_host(const char *s, uint32_t *out, char *why, size_t wl)
{
	uint32_t a;

	if (parse_quad(s, &a))
		return fail(why, wl, "\"%s\" is not an IPv4 address (a.b.c.d)",
			    s ? s : "");
	if ((a >> 24) == 0 || (a >> 24) == 127 || (a >> 28) >= 14)
		return fail(why, wl,
			    "%s is not a unicast host address (0/8, 127/8, "
			    "224/4 and 240/4 are refused)",
			    s);
	*out = a;
	return 0;
}

int api_parse_prefix(const char *s, uint32_t *addr, uint8_t *len, char *why,
		     size_t wl)
{
	char buf[32], *slash, *end;
	unsigned long l = 32;
	uint32_t a, mask;

	if (!s || strlen(s) >= sizeof(buf))
		return fail(why, wl, "\"%s\" is not a prefix (a.b.c.d/len)",
			    s ? s : "");
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash) {
		*slash = '\0';
		errno = 0;
		l = strtoul(slash + 1, &end, 10);
		if (errno || end == slash + 1 || *end || l > 32)
			return fail(why, wl, "\"%s\": the length must be 0..32",
				    s);
	}
	if (parse_quad(buf, &a))
		return fail(why, wl, "\"%s\" is not a prefix (a.b.c.d/len)", s);
	mask = l ? ~0u << (32 - l) : 0;
	if (a & ~mask) {
		char ok[INET_ADDRSTRLEN];

		fmt_addr(a & mask, ok, sizeof(ok));
		return fail(why, wl,
			    "%s has host bits set (did you mean %s/%lu?)", s,
			    ok, l);
	}
	*addr = a;
	*len = (uint8_t)l;
	return 0;
}

/* ---- services ---- */

static int check_keys(json_object *o, const char *where,
		      const char *const *known, char *why, size_t wl)
{
	json_object_object_foreach(o, k, v)
	{
		size_t i;

		(void)v;
		for (i = 0; known[i]; i++)
			if (!strcmp(k, known[i]))
				break;
		if (!known[i])
			return fail(why, wl, "%s%s: unknown key", where, k);
	}
	return 0;
}

static int get_uint(json_object *o, const char *field, uint64_t lo, uint64_t hi,
		    uint64_t *out, char *why, size_t wl)
{
	int64_t v;

	if (!json_object_is_type(o, json_type_int))
		return fail(why, wl, "%s: must be an integer %llu..%llu", field,
			    (unsigned long long)lo, (unsigned long long)hi);
	errno = 0;
	v = json_object_get_int64(o);
	if (errno || v < 0 || (uint64_t)v < lo || (uint64_t)v > hi)
		return fail(why, wl, "%s: %s is out of range %llu..%llu", field,
			    json_object_to_json_string(o),
			    (unsigned long long)lo, (unsigned long long)hi);
	*out = (uint64_t)v;
	return 0;
}

static int parse_limit(json_object *o, const char *cls, KV1(Limit) * l,
		       char *why, size_t wl)
{
	static const char *const known[] = {"pps",	   "burst_pkts", "bps",
					    "burst_bytes", "block_ms",	 NULL};
	char where[48], f[64];
	json_object *v;
	uint64_t x;
	int r;

	snprintf(where, sizeof(where), "limits.%s.", cls);
	if (!json_object_is_type(o, json_type_object))
		return fail(why, wl,
			    "limits.%s: must be an object {pps, "
			    "burst_pkts, bps, burst_bytes, block_ms}",
			    cls);
	r = check_keys(o, where, known, why, wl);
	if (r)
		return r;
	kilimanjaro__v1__limit__init(l);
#define LIMIT_FIELD(name, hi)                                                  \
	if (json_object_object_get_ex(o, #name, &v)) {                         \
		snprintf(f, sizeof(f), "%s" #name, where);                     \
		r = get_uint(v, f, 0, hi, &x, why, wl);                        \
		if (r)                                                         \
			return r;                                              \
		l->has_##name = true;                                          \
		l->name = x;                                                   \
	}
	LIMIT_FIELD(pps, UINT32_MAX)
	LIMIT_FIELD(burst_pkts, UINT32_MAX)
	LIMIT_FIELD(bps, LIMIT_MAX_48)
	LIMIT_FIELD(burst_bytes, LIMIT_MAX_48)
	LIMIT_FIELD(block_ms, 86400000)
#undef LIMIT_FIELD
	return 0;
}

static int parse_limits(json_object *o, struct api_service *s, char *why,
			size_t wl)
{
	static const char *const known[] = {"unvalidated", "validated", "total",
					    "icmp", NULL};
	KV1(Limit) * *slot[4] = {&s->svc.unvalidated, &s->svc.validated,
				 &s->svc.total, &s->svc.icmp};
	json_object *v;
	int r;

	if (!json_object_is_type(o, json_type_object))
		return fail(why, wl,
			    "limits: must be an object of limit "
			    "classes (unvalidated, validated, total, "
			    "icmp)");
	r = check_keys(o, "limits.", known, why, wl);
	for (int i = 0; !r && i < 4; i++) {
		if (!json_object_object_get_ex(o, limit_class[i], &v))
			continue;
		r = parse_limit(v, limit_class[i], &s->lim[i], why, wl);
		*slot[i] = &s->lim[i];
	}
	return r;
}

static int parse_a2s(json_object *o, struct api_service *s, char *why,
		     size_t wl)
{
	static const char *const known[] = {"refresh_ms", "max_age_ms",
					    "timeout_ms", "challenge", NULL};
	KV1(A2sConfig) *a = &s->a2s;
	uint64_t refresh = 1000, max_age = 10000, timeout = 5000;
	json_object *v;
	int r;

	if (json_object_is_type(o, json_type_boolean)) {
		if (!json_object_get_boolean(o))
			return 0;
	} else if (!json_object_is_type(o, json_type_object)) {
		return fail(why, wl,
			    "a2s: must be true, false or an object "
			    "{refresh_ms, max_age_ms, timeout_ms, "
			    "challenge}");
	} else {
		r = check_keys(o, "a2s.", known, why, wl);
		if (!r && json_object_object_get_ex(o, "refresh_ms", &v))
			r = get_uint(v, "a2s.refresh_ms", A2S_MS_MIN,
				     A2S_MS_MAX, &refresh, why, wl);
		if (!r && json_object_object_get_ex(o, "max_age_ms", &v))
			r = get_uint(v, "a2s.max_age_ms", A2S_MS_MIN,
				     A2S_MS_MAX, &max_age, why, wl);
		if (!r && json_object_object_get_ex(o, "timeout_ms", &v))
			r = get_uint(v, "a2s.timeout_ms", A2S_MS_MIN,
				     A2S_MS_MAX, &timeout, why, wl);
		if (r)
			return r;
		kilimanjaro__v1__a2s_config__init(a);
		if (json_object_object_get_ex(o, "challenge", &v)) {
			const char *c = json_object_get_string(v);

			if (!json_object_is_type(v, json_type_string) ||
			    (strcmp(c, "required") && strcmp(c, "off")))
				return fail(why, wl,
					    "a2s.challenge: must be "
					    "\"required\" or \"off\"");
			a->has_challenge = true;
			a->challenge =
			    strcmp(c, "off")
				? KILIMANJARO__V1__CHALLENGE_POLICY__CHALLENGE_REQUIRED
				: KILIMANJARO__V1__CHALLENGE_POLICY__CHALLENGE_OFF;
		}
	}
	if (max_age < refresh)
		return fail(why, wl,
			    "a2s.max_age_ms: %llu is shorter than "
			    "refresh_ms %llu",
			    (unsigned long long)max_age,
			    (unsigned long long)refresh);
	if (timeout < 2 * refresh)
		return fail(why, wl,
			    "a2s.timeout_ms: %llu is shorter than "
			    "twice refresh_ms (%llu)",
			    (unsigned long long)timeout,
			    (unsigned long long)refresh);
	if (s->key.proto != KILIMANJARO__V1__PROTO__PROTO_UDP)
		return fail(why, wl,
			    "a2s: only a \"udp\" service can have "
			    "A2S");
	if (!a->base.descriptor)
		kilimanjaro__v1__a2s_config__init(a);
	a->has_refresh_ms = a->has_max_age_ms = a->has_timeout_ms = true;
	a->refresh_ms = (uint32_t)refresh;
	a->max_age_ms = (uint32_t)max_age;
	a->timeout_ms = (uint32_t)timeout;
	s->svc.a2s = a;
	return 0;
}

static int parse_name(json_object *v, struct api_service *s, char *why,
		      size_t wl)
{
	const char *n = json_object_get_string(v);
	size_t len = n ? strlen(n) : 0;

	if (!json_object_is_type(v, json_type_string) || len < 1 || len > 64)
		return fail(why, wl,
			    "name: must be a string of 1..64 "
			    "characters");
	for (size_t i = 0; i < len; i++)
		if (n[i] < 0x20 || n[i] > 0x7e)
			return fail(why, wl, "name: only printable ASCII");
	memcpy(s->name, n, len + 1);
	s->svc.name = s->name;
	return 0;
}

static int parse_host_field(json_object *o, const char *field, bool required,
			    uint32_t *out, bool *present, char *why, size_t wl)
{
	char sub[API_WHY_LEN];
	json_object *v;

	if (!json_object_object_get_ex(o, field, &v)) {
		if (required)
			return fail(why, wl, "%s: required", field);
		return 0;
	}
	if (!json_object_is_type(v, json_type_string) ||
	    api_parse_host(json_object_get_string(v), out, sub, sizeof(sub)))
		return fail(why, wl, "%s: %s", field,
			    json_object_is_type(v, json_type_string)
				? sub
				: "must be a string \"a.b.c.d\"");
	if (present)
		*present = true;
	return 0;
}

static int service_fields(json_object *o, struct api_service *s, char *why,
			  size_t wl)
{
	json_object *v;
	const char *p;
	uint64_t x;
	int r;

	if (!json_object_object_get_ex(o, "proto", &v))
		return fail(why, wl, "proto: required (\"udp\" or \"tcp\")");
	p = json_object_get_string(v);
	if (!json_object_is_type(v, json_type_string) ||
	    (strcmp(p, "udp") && strcmp(p, "tcp")))
		return fail(why, wl, "proto: must be \"udp\" or \"tcp\"");
	s->key.proto = strcmp(p, "udp") ? KILIMANJARO__V1__PROTO__PROTO_TCP
					: KILIMANJARO__V1__PROTO__PROTO_UDP;
	r = parse_host_field(o, "addr", true, &s->key.addr, NULL, why, wl);
	if (r)
		return r;
	if (!json_object_object_get_ex(o, "port", &v))
		return fail(why, wl, "port: required (1..65535)");
	r = get_uint(v, "port", 1, 65535, &x, why, wl);
	if (r)
		return r;
	s->key.port = (uint32_t)x;
	r = parse_host_field(o, "backend", true, &s->svc.backend, NULL, why,
			     wl);
	if (r)
		return r;
	if (json_object_object_get_ex(o, "backend_port", &v)) {
		r = get_uint(v, "backend_port", 1, 65535, &x, why, wl);
		if (r)
			return r;
		s->svc.has_backend_port = true;
		s->svc.backend_port = (uint32_t)x;
	}
	if (json_object_object_get_ex(o, "name", &v)) {
		r = parse_name(v, s, why, wl);
		if (r)
			return r;
	}
	if (json_object_object_get_ex(o, "limits", &v)) {
		r = parse_limits(v, s, why, wl);
		if (r)
			return r;
	}
	if (json_object_object_get_ex(o, "a2s", &v))
		return parse_a2s(v, s, why, wl);
	return 0;
}

static json_object *parse_body(const char *body, size_t len, char *why,
			       size_t wl)
{
	struct json_tokener *tok = json_tokener_new();
	json_object *o = NULL;

	if (!tok) {
		fail(why, wl, "out of memory");
		return NULL;
	}
	if (len && memchr(body, '\0', len)) {
		fail(why, wl, "body: contains a NUL byte");
		goto out;
	}
	o = json_tokener_parse_ex(tok, body, (int)len);
	if (!o || (size_t)tok->char_offset < len) {
		fail(why, wl, "body: invalid JSON at offset %d: %s",
		     tok->char_offset,
		     o ? "trailing characters"
		       : json_tokener_error_desc(json_tokener_get_error(tok)));
		json_object_put(o);
		o = NULL;
		goto out;
	}
	if (!json_object_is_type(o, json_type_object)) {
		fail(why, wl, "body: must be a JSON object");
		json_object_put(o);
		o = NULL;
	}
out:
	json_tokener_free(tok);
	return o;
}

int api_service_parse(const char *body, size_t len, struct api_service *s,
		      char *why, size_t wl)
{
	static const char *const known[] = {"proto",   "addr",	       "port",
					    "backend", "backend_port", "a2s",
					    "limits",  "name",	       NULL};
	json_object *o;
	int r;

	memset(s, 0, sizeof(*s));
	kilimanjaro__v1__service__init(&s->svc);
	kilimanjaro__v1__service_key__init(&s->key);
	s->svc.key = &s->key;
	o = parse_body(body, len, why, wl);
	if (!o)
		return -EINVAL;
	r = check_keys(o, "", known, why, wl);
	if (!r)
		r = service_fields(o, s, why, wl);
	json_object_put(o);
	return r;
}

/* ---- JSON out ---- */

static json_object *jaddr(uint32_t host)
{
	char b[INET_ADDRSTRLEN];

	fmt_addr(host, b, sizeof(b));
	return json_object_new_string(b);
}

static json_object *jprefix(uint32_t addr, uint8_t len)
{
	char b[INET_ADDRSTRLEN], p[24];

	fmt_addr(addr, b, sizeof(b));
	snprintf(p, sizeof(p), "%s/%u", b, len);
	return json_object_new_string(p);
}

static json_object *limit_json(const KV1(Limit) * l)
{
	json_object *o = json_object_new_object();

	if (l->has_pps)
		json_object_object_add(o, "pps",
				       json_object_new_uint64(l->pps));
	if (l->has_burst_pkts)
		json_object_object_add(o, "burst_pkts",
				       json_object_new_uint64(l->burst_pkts));
	if (l->has_bps)
		json_object_object_add(o, "bps",
				       json_object_new_uint64(l->bps));
	if (l->has_burst_bytes)
		json_object_object_add(o, "burst_bytes",
				       json_object_new_uint64(l->burst_bytes));
	if (l->has_block_ms)
		json_object_object_add(o, "block_ms",
				       json_object_new_uint64(l->block_ms));
	return o;
}

static json_object *service_json(const KV1(Service) * s)
{
	const KV1(Limit) *
	    lims[4] = {s->unvalidated, s->validated, s->total, s->icmp};
	json_object *o = json_object_new_object(), *l = NULL;

	json_object_object_add(
	    o, "proto",
	    json_object_new_string(
		s->key->proto == KILIMANJARO__V1__PROTO__PROTO_UDP ? "udp"
								   : "tcp"));
	json_object_object_add(o, "addr", jaddr(s->key->addr));
	json_object_object_add(o, "port",
			       json_object_new_int((int)s->key->port));
	json_object_object_add(o, "backend", jaddr(s->backend));
	if (s->has_backend_port)
		json_object_object_add(
		    o, "backend_port",
		    json_object_new_int((int)s->backend_port));
	if (s->name)
		json_object_object_add(o, "name",
				       json_object_new_string(s->name));
	for (int i = 0; i < 4; i++) {
		if (!lims[i])
			continue;
		if (!l)
			l = json_object_new_object();
		json_object_object_add(l, limit_class[i], limit_json(lims[i]));
	}
	if (l)
		json_object_object_add(o, "limits", l);
	if (s->a2s) {
		json_object *a = json_object_new_object();

		json_object_object_add(
		    a, "refresh_ms",
		    json_object_new_uint64(s->a2s->refresh_ms));
		json_object_object_add(
		    a, "max_age_ms",
		    json_object_new_uint64(s->a2s->max_age_ms));
		json_object_object_add(
		    a, "timeout_ms",
		    json_object_new_uint64(s->a2s->timeout_ms));
		json_object_object_add(
		    a, "challenge",
		    json_object_new_string(
			s->a2s->has_challenge &&
				s->a2s->challenge ==
				    KILIMANJARO__V1__CHALLENGE_POLICY__CHALLENGE_OFF
			    ? "off"
			    : "required"));
		json_object_object_add(o, "a2s", a);
	}
	return o;
}

static json_object *state_json(struct state *st)
{
	json_object *o = json_object_new_object(), *a;
	uint64_t now;

	pthread_mutex_lock(&st->lock);
	now = st->now_ms();
	json_object_object_add(o, "version",
			       json_object_new_uint64(st->version));
	a = json_object_new_array();
	for (size_t i = 0; i < st->n_services; i++)
		json_object_array_add(a, service_json(st->services[i]));
	json_object_object_add(o, "services", a);
	for (int l = 0; l < 2; l++) {
		a = json_object_new_array();
		for (size_t i = 0; i < st->n_list[l]; i++)
			json_object_array_add(a, jprefix(st->lists[l][i].addr,
							 st->lists[l][i].len));
		json_object_object_add(o, l == ST_ALLOW ? "allow" : "deny", a);
	}
	a = json_object_new_array();
	for (size_t i = 0; i < st->n_blocks; i++) {
		const struct st_block *b = &st->blocks[i];
		json_object *j;

		if (b->expires_ms && b->expires_ms <= now)
			continue;
		j = json_object_new_object();
		json_object_object_add(j, "addr", jaddr(b->addr));
		json_object_object_add(
		    j, "remaining_ms",
		    b->expires_ms ? json_object_new_uint64(b->expires_ms - now)
				  : NULL);
		json_object_array_add(a, j);
	}
	json_object_object_add(o, "blocks", a);
	json_object_object_add(o, "punches",
			       json_object_new_uint64(st->n_punches));
	pthread_mutex_unlock(&st->lock);
	return o;
}

static json_object *a2s_json(struct state *st)
{
	json_object *o = json_object_new_object();
	uint64_t now;

	pthread_mutex_lock(&st->lock);
	now = st->now_ms();
	json_object_object_add(o, "key_id",
			       json_object_new_uint64(st->a2s.key_id));
	json_object_object_add(o, "epoch_s",
			       json_object_new_uint64(st->epoch_s));
	json_object_object_add(
	    o, "rotated_ms_ago",
	    json_object_new_uint64(
		now > st->a2s.rotated_ms ? now - st->a2s.rotated_ms : 0));
	json_object_object_add(o, "has_previous",
			       json_object_new_boolean(st->a2s.has_prev));
	pthread_mutex_unlock(&st->lock);
	return o;
}

/* ---- dispatch ---- */

static void reply_json(struct api_reply *rep, unsigned int status,
		       json_object *o)
{
	rep->status = status;
	rep->body = strdup(json_object_to_json_string_ext(
	    o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

void api_error(struct api_reply *rep, unsigned int status, const char *why)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "error", json_object_new_string(why));
	reply_json(rep, status, o);
}

/* The answer to a change: its new version, or the refusal. */
static void reply_change(struct api *a, struct api_reply *rep, int r,
			 const char *what)
{
	char why[API_WHY_LEN];
	json_object *o;

	switch (r) {
	case 0:
		o = json_object_new_object();
		json_object_object_add(o, "ok", json_object_new_boolean(1));
		json_object_object_add(
		    o, "version", json_object_new_uint64(state_version(a->st)));
		reply_json(rep, 200, o);
		return;
	case -ENOENT:
		snprintf(why, sizeof(why), "%s: not found", what);
		api_error(rep, 404, why);
		return;
	case -EEXIST:
		snprintf(why, sizeof(why),
			 "%s: already present (a prefix is "
			 "in allow or in deny, not both)",
			 what);
		api_error(rep, 409, why);
		return;
	case -ENOSPC:
		snprintf(why, sizeof(why), "%s: the list is full", what);
		api_error(rep, 409, why);
		return;
	default:
		snprintf(why, sizeof(why),
			 "%s: the database refused the "
			 "change (see the controller's log)",
			 what);
		api_error(rep, 500, why);
	}
}

/* Split "/a/b/c" into at most n segments (in buf). Returns the count, -1
 * when there are more, or an empty segment. */
static int split_path(const char *path, char *buf, size_t bl, char **seg, int n)
{
	int c = 0;
	char *p;

	if (strlen(path) >= bl)
		return -1;
	strcpy(buf, path);
	p = buf;
	if (*p == '/')
		p++;
	if (!*p)
		return 0;
	while (p) {
		char *s = strchr(p, '/');

		if (c == n)
			return -1;
		if (s)
			*s++ = '\0';
		if (!*p)
			return -1;
		seg[c++] = p;
		p = s;
	}
	return c;
}

static void do_services(struct api *a, const char *method, char **seg, int n,
			const char *body, size_t len, struct api_reply *rep)
{
	char why[API_WHY_LEN], sub[API_WHY_LEN - 64];
	struct api_service s;
	uint32_t addr;
	char *end;
	unsigned long port;

	if (!strcmp(method, "POST") && n == 1) {
		if (api_service_parse(body, len, &s, why, sizeof(why)))
			return api_error(rep, 400, why);
		return reply_change(a, rep, state_service_put(a->st, &s.svc),
				    "service");
	}
	if (strcmp(method, "DELETE") || n != 4)
		return api_error(rep, 405,
				 "use POST /api/services or DELETE "
				 "/api/services/<proto>/<addr>/<port>");
	if (strcmp(seg[1], "udp") && strcmp(seg[1], "tcp"))
		return api_error(rep, 400, "proto: must be udp or tcp");
	if (api_parse_host(seg[2], &addr, sub, sizeof(sub))) {
		snprintf(why, sizeof(why), "addr: %s", sub);
		return api_error(rep, 400, why);
	}
	errno = 0;
	port = strtoul(seg[3], &end, 10);
	if (errno || *end || end == seg[3] || port < 1 || port > 65535)
		return api_error(rep, 400, "port: must be 1..65535");
	reply_change(a, rep,
		     state_service_del(a->st, strcmp(seg[1], "udp") ? 6 : 17,
				       addr, (uint16_t)port),
		     "service");
}

static void do_list(struct api *a, enum st_list l, const char *method,
		    char **seg, int n, const char *body, size_t len,
		    struct api_reply *rep)
{
	const char *name = l == ST_ALLOW ? "allow" : "deny";
	char why[API_WHY_LEN], sub[API_WHY_LEN - 64], p[40];
	json_object *o = NULL, *v;
	uint32_t addr;
	uint8_t plen;

	if (!strcmp(method, "POST") && n == 1) {
		static const char *const known[] = {"prefix", NULL};

		o = parse_body(body, len, why, sizeof(why));
		if (!o)
			return api_error(rep, 400, why);
		if (check_keys(o, "", known, why, sizeof(why))) {
			json_object_put(o);
			return api_error(rep, 400, why);
		}
		if (!json_object_object_get_ex(o, "prefix", &v) ||
		    !json_object_is_type(v, json_type_string)) {
			json_object_put(o);
			return api_error(rep, 400,
					 "prefix: required, a string "
					 "\"a.b.c.d/len\"");
		}
		snprintf(p, sizeof(p), "%s", json_object_get_string(v));
		json_object_put(o);
	} else if (!strcmp(method, "DELETE") && n == 3) {
		snprintf(p, sizeof(p), "%s/%s", seg[1], seg[2]);
	} else {
		snprintf(why, sizeof(why),
			 "use POST /api/%s or DELETE "
			 "/api/%s/<a.b.c.d>/<len>",
			 name, name);
		return api_error(rep, 405, why);
	}
	if (api_parse_prefix(p, &addr, &plen, sub, sizeof(sub))) {
		snprintf(why, sizeof(why), "prefix: %s", sub);
		return api_error(rep, 400, why);
	}
	reply_change(a, rep,
		     strcmp(method, "POST")
			 ? state_prefix_del(a->st, l, addr, plen)
			 : state_prefix_add(a->st, l, addr, plen),
		     name);
}

static void do_blocks(struct api *a, const char *method, char **seg, int n,
		      const char *body, size_t len, struct api_reply *rep)
{
	static const char *const known[] = {"addr", "duration_ms", NULL};
	char why[API_WHY_LEN], sub[API_WHY_LEN - 64];
	uint64_t dur = 0;
	json_object *o, *v;
	uint32_t addr;
	int r;

	if (!strcmp(method, "DELETE") && n == 2) {
		if (api_parse_host(seg[1], &addr, sub, sizeof(sub))) {
			snprintf(why, sizeof(why), "addr: %s", sub);
			return api_error(rep, 400, why);
		}
		return reply_change(a, rep, state_block_del(a->st, addr),
				    "block");
	}
	if (strcmp(method, "POST") || n != 1)
		return api_error(rep, 405,
				 "use POST /api/blocks or DELETE "
				 "/api/blocks/<addr>");
	o = parse_body(body, len, why, sizeof(why));
	if (!o)
		return api_error(rep, 400, why);
	r = check_keys(o, "", known, why, sizeof(why));
	if (!r)
		r = parse_host_field(o, "addr", true, &addr, NULL, why,
				     sizeof(why));
	if (!r && json_object_object_get_ex(o, "duration_ms", &v))
		r = get_uint(v, "duration_ms", 1, BLOCK_MS_MAX, &dur, why,
			     sizeof(why));
	json_object_put(o);
	if (r)
		return api_error(rep, 400, why);
	reply_change(a, rep, state_block_add(a->st, addr, dur), "block");
}

static void do_a2s(struct api *a, const char *method, char **seg, int n,
		   struct api_reply *rep)
{
	char why[API_WHY_LEN];
	uint32_t wait_s = 0;
	int r;

	if (n == 2 && !strcmp(seg[1], "key") && !strcmp(method, "GET"))
		return reply_json(rep, 200, a2s_json(a->st));
	if (n != 2 || strcmp(seg[1], "rotate") || strcmp(method, "POST"))
		return api_error(rep, 405,
				 "use GET /api/a2s/key or POST "
				 "/api/a2s/rotate");
	r = state_a2s_rotate(a->st, false, &wait_s);
	if (r == -EAGAIN) {
		snprintf(why, sizeof(why),
			 "a2s: the key was rotated less than two epochs ago; "
			 "challenges signed with the previous key are still "
			 "in flight (retry in %u s)",
			 wait_s);
		return api_error(rep, 409, why);
	}
	if (r)
		return reply_change(a, rep, r, "a2s");
	reply_json(rep, 200, a2s_json(a->st));
}

static void do_edges(struct api *a, const char *method, char **seg, int n,
		     const char *points, struct api_reply *rep)
{
	unsigned long pts = API_POINTS_DEFAULT;
	json_object *o;
	char *end;

	if (strcmp(method, "GET"))
		return api_error(rep, 405, "edges: read only (GET)");
	if (n == 1)
		return reply_json(rep, 200,
				  edges_json(a->edges, state_wall_ms()));
	if (n != 3 || strcmp(seg[2], "stats"))
		return api_error(rep, 404,
				 "no such resource (GET /api/edges "
				 "or /api/edges/<id>/stats)");
	if (points) {
		errno = 0;
		pts = strtoul(points, &end, 10);
		if (errno || *end || end == points || pts < 1 ||
		    pts > EDGE_SAMPLES)
			return api_error(rep, 400, "points: must be 1..300");
	}
	o = edges_stats_json(a->edges, seg[1], (unsigned int)pts);
	if (!o)
		return api_error(rep, 404,
				 "edge: no edge with this id has "
				 "connected");
	reply_json(rep, 200, o);
}

void api_dispatch(struct api *a, const char *method, const char *path,
		  const char *points, const char *body, size_t body_len,
		  struct api_reply *rep)
{
	char buf[512], *seg[5];
	int n = split_path(path, buf, sizeof(buf), seg, 5);

	rep->status = 0;
	rep->body = NULL;
	if (n < 1)
		return api_error(rep, 404, "no such resource");
	if (!strcmp(seg[0], "edges"))
		return do_edges(a, method, seg, n, points, rep);
	if (!strcmp(seg[0], "state") && n == 1) {
		if (strcmp(method, "GET"))
			return api_error(rep, 405, "state: read only (GET)");
		return reply_json(rep, 200, state_json(a->st));
	}
	if (!strcmp(seg[0], "services"))
		return do_services(a, method, seg, n, body, body_len, rep);
	if (!strcmp(seg[0], "allow"))
		return do_list(a, ST_ALLOW, method, seg, n, body, body_len,
			       rep);
	if (!strcmp(seg[0], "deny"))
		return do_list(a, ST_DENY, method, seg, n, body, body_len, rep);
	if (!strcmp(seg[0], "blocks"))
		return do_blocks(a, method, seg, n, body, body_len, rep);
	if (!strcmp(seg[0], "a2s"))
		return do_a2s(a, method, seg, n, rep);
	api_error(rep, 404, "no such resource");
}
