// SPDX-License-Identifier: GPL-2.0-only
/*
 * Config file parse + validate (docs/config.md). The whole document is
 * checked and every problem recorded before the caller may touch a map, so
 * one run of --check-config shows the operator everything to fix.
 *
 * Input is untrusted (fuzzed): every value is type-checked before use,
 * strings are length-bounded and checked for embedded NULs, lists are
 * bounded, and duplicate detection is O(n log n).
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "log.h"

#define PATH_MAX_LEN 256
#define NAME_MAX_LEN 64
#define MAP_SIZE_MIN 64u
#define MAP_SIZE_MAX (1u << 24)
#define IDLE_MAX_S (7 * 24 * 3600)
#define BLOCK_MAX_S (10LL * 366 * 24 * 3600)
#define LIMIT_BLOCK_MAX_S (24 * 3600)
#define NS_PER_S 1000000000ull

const char *const km_cfg_size_names[KM_CFG_SZ_MAX] = {
    [KM_CFG_SZ_PREFIXES] = "prefixes",
    [KM_CFG_SZ_BLOCKS] = "blocks",
    [KM_CFG_SZ_RL_SRC] = "rate_limit_sources",
    [KM_CFG_SZ_VALIDATED] = "validated",
    [KM_CFG_SZ_PUNCHES] = "punches",
};

static const uint32_t km_cfg_size_defaults[KM_CFG_SZ_MAX] = {
    [KM_CFG_SZ_PREFIXES] = KM_DEF_PREFIXES,
    [KM_CFG_SZ_BLOCKS] = KM_DEF_BLOCKS,
    [KM_CFG_SZ_RL_SRC] = KM_DEF_RL_SRC,
    [KM_CFG_SZ_VALIDATED] = KM_DEF_VALIDATED,
    [KM_CFG_SZ_PUNCHES] = KM_DEF_PUNCHES,
};

static const char *const limit_class_names[] = {
    "unvalidated", "validated", "total", "icmp", NULL,
};

struct ctx {
	const char *name;
	struct km_cfg *cfg;
	struct km_cfg_errors *errs;
	size_t *allow_src, *deny_src; /* list index of each kept prefix */
};

/* ---------------------------------------------------------------- errors */

static void errs_push(struct km_cfg_errors *e, char *line)
{
	char **n;

	if (e->n >= KM_CFG_MAX_ERRORS) {
		e->dropped++;
		free(line);
		return;
	}
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 16;

		n = realloc(e->msg, cap * sizeof(*n));
		if (!n) {
			e->oom = 1;
			free(line);
			return;
		}
		e->msg = n;
		e->cap = cap;
	}
	e->msg[e->n++] = line;
}

/*
 * Keys, names and file names come from the file: a control character in them
 * (a newline above all) would split one error into several log lines, and the
 * extra line could pose as a message of its own. Every error is one line.
 */
static void one_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static void __attribute__((format(printf, 3, 4)))
cerr(struct ctx *c, const char *path, const char *fmt, ...)
{
	char reason[512];
	char *line;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if ((path ? asprintf(&line, "%s: %s: %s", c->name, path, reason)
		  : asprintf(&line, "%s: %s", c->name, reason)) < 0) {
		c->errs->oom = 1;
		return;
	}
	one_line(line);
	errs_push(c->errs, line);
}

void km_cfg_errors_free(struct km_cfg_errors *e)
{
	size_t i;

	if (!e)
		return;
	for (i = 0; i < e->n; i++)
		free(e->msg[i]);
	free(e->msg);
	memset(e, 0, sizeof(*e));
}

void km_cfg_errors_log(const struct km_cfg_errors *e)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		km_err("%s", e->msg[i]);
	if (e->dropped)
		km_err("... and %zu more errors", e->dropped);
	if (e->oom)
		km_err("out of memory while recording config errors");
}

/* ------------------------------------------------------------ json values */

static const char *type_name(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		return "null";
	case json_type_boolean:
		return "a boolean";
	case json_type_double:
		return "a decimal number";
	case json_type_int:
		return "an integer";
	case json_type_object:
		return "an object";
	case json_type_array:
		return "a list";
	case json_type_string:
		return "a string";
	}
	return "unknown";
}

/* A short, escaped rendering of a value for error lines. */
static const char *show(struct json_object *v, char *buf, size_t sz)
{
	const char *s = json_object_to_json_string_ext(
	    v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t n = s ? strlen(s) : 0;

	if (!s)
		return "?";
	if (n < sz) {
		memcpy(buf, s, n + 1);
	} else {
		memcpy(buf, s, sz - 4);
		strcpy(buf + sz - 4, "...");
	}
	return buf;
}

/* Paths are bounded; a truncated one still names the right area. */
static void path_key(char *out, const char *parent, const char *key)
{
	int r;

	if (parent[0])
		r = snprintf(out, PATH_MAX_LEN, "%s.%s", parent, key);
	else
		r = snprintf(out, PATH_MAX_LEN, "%s", key);
	if (r < 0)
		out[0] = '\0';
}

static void path_idx(char *out, const char *parent, size_t i)
{
	if (snprintf(out, PATH_MAX_LEN, "%s[%zu]", parent, i) < 0)
		out[0] = '\0';
}

static bool want_type(struct ctx *c, const char *path, struct json_object *v,
		      enum json_type t, const char *what)
{
	if (json_object_get_type(v) == t)
		return true;
	cerr(c, path, "must be %s, not %s", what, type_name(v));
	return false;
}

/* Optimal string alignment distance (a swap of two letters counts 1). */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t d[3][NAME_MAX_LEN + 1];

	if (la > NAME_MAX_LEN || lb > NAME_MAX_LEN)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++) {
		size_t *cur = d[i % 3], *prev = d[(i - 1) % 3];
		size_t *prev2 = d[(i + 1) % 3];

		cur[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t best = prev[j - 1] + (a[i - 1] != b[j - 1]);

			if (prev[j] + 1 < best)
				best = prev[j] + 1;
			if (cur[j - 1] + 1 < best)
				best = cur[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && prev2[j - 2] + 1 < best)
				best = prev2[j - 2] + 1;
			cur[j] = best;
		}
	}
	return d[la % 3][lb];
}

/* Unknown keys are errors (a typo must not silently become a default); the
 * closest known key is suggested. */
static void check_keys(struct ctx *c, const char *path, struct json_object *obj,
		       const char *const *known)
{
	struct json_object_iterator it = json_object_iter_begin(obj);
	struct json_object_iterator end = json_object_iter_end(obj);
	char p[PATH_MAX_LEN];

	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *key = json_object_iter_peek_name(&it);
		const char *best = NULL;
		size_t i, bd = SIZE_MAX;

		for (i = 0; known[i]; i++) {
			size_t d = edit_distance(key, known[i]);

			if (!strcmp(key, known[i]))
				break;
			if (d < bd) {
				bd = d;
				best = known[i];
			}
		}
		if (known[i])
			continue;
		path_key(p, path, key);
		if (best && bd <= 2 && bd * 2 < strlen(key))
			cerr(c, p, "unknown key (did you mean \"%s\"?)", best);
		else
			cerr(c, p, "unknown key");
	}
}

static bool get_string(struct ctx *c, const char *path, struct json_object *v,
		       size_t max_len, const char **out)
{
	const char *s;
	int len;

	if (!want_type(c, path, v, json_type_string, "a string"))
		return false;
	s = json_object_get_string(v);
	len = json_object_get_string_len(v);
	if (len < 0 || strlen(s) != (size_t)len) {
		cerr(c, path, "contains a NUL character");
		return false;
	}
	if ((size_t)len > max_len) {
		cerr(c, path, "is %d characters long, at most %zu allowed", len,
		     max_len);
		return false;
	}
	*out = s;
	return true;
}

static bool get_uint(struct ctx *c, const char *path, struct json_object *v,
		     uint64_t min, uint64_t max, uint64_t *out)
{
	char buf[64];
	int64_t i;

	if (!want_type(c, path, v, json_type_int, "an integer"))
		return false;
	i = json_object_get_int64(v);
	if (i < 0 || (uint64_t)i < min ||
	    (i == INT64_MAX ? json_object_get_uint64(v) : (uint64_t)i) > max) {
		cerr(c, path, "%s is out of range %" PRIu64 "..%" PRIu64,
		     show(v, buf, sizeof(buf)), min, max);
		return false;
	}
	*out = (uint64_t)i;
	return true;
}

static bool get_bool(struct ctx *c, const char *path, struct json_object *v,
		     bool *out)
{
	if (!want_type(c, path, v, json_type_boolean, "true or false"))
		return false;
	*out = json_object_get_boolean(v);
	return true;
}

/* ------------------------------------------------------------- addresses */

static bool parse_ipv4(const char *s, uint32_t *out)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return false;
	*out = a.s_addr;
	return true;
}

/* Edge, service and backend addresses are unicast hosts. */
static const char *unicast_problem(uint32_t be)
{
	uint32_t h = ntohl(be);

	if ((h >> 24) == 0)
		return "is in 0.0.0.0/8 (\"this network\"), not a host address";
	if ((h >> 24) == 127)
		return "is a loopback address";
	if ((h >> 28) == 0xe)
		return "is a multicast address";
	if ((h >> 28) == 0xf)
		return "is a reserved or broadcast address";
	return NULL;
}

static bool get_host_addr(struct ctx *c, const char *path,
			  struct json_object *v, uint32_t *out)
{
	char buf[80];
	const char *s, *why;

	if (!get_string(c, path, v, 64, &s))
		return false;
	if (!parse_ipv4(s, out)) {
		cerr(c, path, "%s is not an IPv4 address (a.b.c.d)",
		     show(v, buf, sizeof(buf)));
		return false;
	}
	why = unicast_problem(*out);
	if (why) {
		cerr(c, path, "%s %s", s, why);
		return false;
	}
	return true;
}

static bool get_prefix(struct ctx *c, const char *path, struct json_object *v,
		       struct km_prefix_key *k)
{
	char buf[80], addr[32];
	const char *s, *slash;
	unsigned long len = 32;
	uint32_t a, mask;
	char *end;

	if (!get_string(c, path, v, 64, &s))
		return false;
	slash = strchr(s, '/');
	if ((slash ? (size_t)(slash - s) : strlen(s)) >= sizeof(addr)) {
		cerr(c, path, "%s is not an IPv4 prefix (a.b.c.d/len)",
		     show(v, buf, sizeof(buf)));
		return false;
	}
	snprintf(addr, sizeof(addr), "%.*s",
		 (int)(slash ? (size_t)(slash - s) : strlen(s)), s);
	if (!parse_ipv4(addr, &a)) {
		cerr(c, path, "%s is not an IPv4 prefix (a.b.c.d/len)",
		     show(v, buf, sizeof(buf)));
		return false;
	}
	if (slash) {
		errno = 0;
		if (!isdigit((unsigned char)slash[1]) ||
		    (len = strtoul(slash + 1, &end, 10), *end) || errno ||
		    len > 32) {
			cerr(c, path, "%s: prefix length must be 0..32",
			     show(v, buf, sizeof(buf)));
			return false;
		}
	}
	mask = len ? htonl(~0u << (32 - len)) : 0;
	if (a & ~mask) {
		struct in_addr net = {.s_addr = a & mask};

		cerr(c, path, "%s has host bits set (did you mean %s/%lu?)", s,
		     inet_ntoa(net), len);
		return false;
	}
	k->prefixlen = (uint32_t)len;
	k->addr = a;
	return true;
}

static const char *addr_str(uint32_t be, char *buf)
{
	struct in_addr a = {.s_addr = be};

	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

/* ---------------------------------------------------------- simple keys */

static void parse_interface(struct ctx *c, struct json_object *v)
{
	const char *s;
	size_t i;

	if (!get_string(c, "interface", v, IF_NAMESIZE - 1, &s))
		return;
	if (!s[0] || !strcmp(s, ".") || !strcmp(s, "..")) {
		cerr(c, "interface", "\"%s\" is not an interface name", s);
		return;
	}
	for (i = 0; s[i]; i++) {
		if (s[i] == '/' || s[i] == ':' ||
		    isspace((unsigned char)s[i]) ||
		    !isprint((unsigned char)s[i])) {
			cerr(c, "interface",
			     "\"%s\": interface names cannot contain '/', ':', "
			     "spaces or control characters",
			     s);
			return;
		}
	}
	snprintf(c->cfg->ifname, sizeof(c->cfg->ifname), "%s", s);
}

static void parse_xdp_mode(struct ctx *c, struct json_object *v)
{
	char buf[80];
	const char *s;

	if (!get_string(c, "xdp_mode", v, 16, &s))
		return;
	if (!strcmp(s, "native"))
		c->cfg->xdp_mode = KM_XDP_MODE_NATIVE;
	else if (!strcmp(s, "skb"))
		c->cfg->xdp_mode = KM_XDP_MODE_SKB;
	else {
		cerr(c, "xdp_mode", "%s is not one of \"native\", \"skb\"",
		     show(v, buf, sizeof(buf)));
		return;
	}
	c->cfg->xdp_mode_set = true;
}

static void parse_edge_addresses(struct ctx *c, struct json_object *v)
{
	size_t i, j, n;
	char p[PATH_MAX_LEN];

	if (!want_type(c, "edge_addresses", v, json_type_array, "a list"))
		return;
	n = json_object_array_length(v);
	if (n == 0) {
		cerr(c, "edge_addresses",
		     "is empty; at least one address is needed (the first is "
		     "the IPIP outer source)");
		return;
	}
	if (n > KM_MAX_EDGE_ADDRS) {
		cerr(c, "edge_addresses",
		     "has %zu addresses, at most %d allowed", n,
		     KM_MAX_EDGE_ADDRS);
		return;
	}
	c->cfg->edge_addrs = calloc(n, sizeof(uint32_t));
	if (!c->cfg->edge_addrs) {
		c->errs->oom = 1;
		return;
	}
	for (i = 0; i < n; i++) {
		uint32_t a;

		path_idx(p, "edge_addresses", i);
		if (!get_host_addr(c, p, json_object_array_get_idx(v, i), &a))
			continue;
		for (j = 0; j < c->cfg->n_edge_addrs; j++) {
			if (c->cfg->edge_addrs[j] == a)
				break;
		}
		if (j < c->cfg->n_edge_addrs) {
			cerr(c, p, "%s is listed twice",
			     json_object_get_string(
				 json_object_array_get_idx(v, i)));
			continue;
		}
		c->cfg->edge_addrs[c->cfg->n_edge_addrs++] = a;
	}
}

static void parse_timeouts(struct ctx *c, struct json_object *v)
{
	static const char *const known[] = {"punch_idle_s", "validated_idle_s",
					    NULL};
	struct json_object *m;
	uint64_t s;

	if (!want_type(c, "timeouts", v, json_type_object, "an object"))
		return;
	check_keys(c, "timeouts", v, known);
	if (json_object_object_get_ex(v, "punch_idle_s", &m) &&
	    get_uint(c, "timeouts.punch_idle_s", m, 1, IDLE_MAX_S, &s))
		c->cfg->punch_idle_ns = s * NS_PER_S;
	if (json_object_object_get_ex(v, "validated_idle_s", &m) &&
	    get_uint(c, "timeouts.validated_idle_s", m, 1, IDLE_MAX_S, &s))
		c->cfg->validated_idle_ns = s * NS_PER_S;
}

static void parse_map_sizes(struct ctx *c, struct json_object *v)
{
	static const char *const known[KM_CFG_SZ_MAX + 1] = {
	    "prefixes",	 "blocks",  "rate_limit_sources",
	    "validated", "punches", NULL,
	};
	char p[PATH_MAX_LEN];
	struct json_object *m;
	uint64_t n;
	int i;

	if (!want_type(c, "map_sizes", v, json_type_object, "an object"))
		return;
	check_keys(c, "map_sizes", v, known);
	for (i = 0; i < KM_CFG_SZ_MAX; i++) {
		if (!json_object_object_get_ex(v, km_cfg_size_names[i], &m))
			continue;
		path_key(p, "map_sizes", km_cfg_size_names[i]);
		if (!get_uint(c, p, m, MAP_SIZE_MIN, MAP_SIZE_MAX, &n))
			continue;
		c->cfg->map_size[i] = (uint32_t)n;
		c->cfg->map_size_set[i] = true;
	}
}

/* --------------------------------------------------------------- limits */

/* Overrides the fields present in v; fields absent keep *lim. */
static void parse_limit(struct ctx *c, const char *path, struct json_object *v,
			struct km_limit *lim)
{
	static const char *const known[] = {"pps",	   "burst_packets",
					    "bytes_per_s", "burst_bytes",
					    "block_s",	   NULL};
	char p[PATH_MAX_LEN], buf[64];
	struct json_object *m;
	uint64_t n;

	if (!want_type(c, path, v, json_type_object, "an object"))
		return;
	check_keys(c, path, v, known);
	path_key(p, path, "pps");
	if (json_object_object_get_ex(v, "pps", &m) &&
	    get_uint(c, p, m, 0, UINT32_MAX, &n))
		lim->pps = (uint32_t)n;
	path_key(p, path, "burst_packets");
	if (json_object_object_get_ex(v, "burst_packets", &m) &&
	    get_uint(c, p, m, 0, UINT32_MAX, &n))
		lim->burst_pkts = (uint32_t)n;
	path_key(p, path, "bytes_per_s");
	if (json_object_object_get_ex(v, "bytes_per_s", &m) &&
	    get_uint(c, p, m, 0, 1ull << 48, &n))
		lim->bps = n;
	path_key(p, path, "burst_bytes");
	if (json_object_object_get_ex(v, "burst_bytes", &m) &&
	    get_uint(c, p, m, 0, 1ull << 48, &n))
		lim->burst_bytes = n;
	path_key(p, path, "block_s");
	if (json_object_object_get_ex(v, "block_s", &m)) {
		enum json_type t = json_object_get_type(m);
		double d = json_object_get_double(m);

		if (t != json_type_int && t != json_type_double)
			cerr(c, p, "must be a number of seconds, not %s",
			     type_name(m));
		else if (!isfinite(d) || d < 0 || d > LIMIT_BLOCK_MAX_S)
			cerr(c, p, "%s is out of range 0..%d",
			     show(m, buf, sizeof(buf)), LIMIT_BLOCK_MAX_S);
		else
			lim->block_ms = (uint32_t)llround(d * 1000.0);
	}
}

/* `origin` names where an inherited value came from, for the message. */
static void check_limit(struct ctx *c, const char *path,
			const struct km_limit *lim, const char *origin)
{
	char p[PATH_MAX_LEN];

	if (lim->pps && !lim->burst_pkts) {
		path_key(p, path, "burst_packets");
		cerr(c, p, "must be at least 1 when pps is set%s%s",
		     origin ? " (here or in " : "", origin ? origin : "");
	}
	if (lim->bps && !lim->burst_bytes) {
		path_key(p, path, "burst_bytes");
		cerr(c, p, "must be at least 1 when bytes_per_s is set%s%s",
		     origin ? " (here or in " : "", origin ? origin : "");
	}
}

static struct km_limit *limit_class(struct km_svc_cfg *sc, int i)
{
	struct km_limit *l[] = {&sc->unvalidated, &sc->validated, &sc->total,
				&sc->icmp};

	return l[i];
}

/* Parse an object of limit classes over *sc and check the classes it names. */
static void parse_limits(struct ctx *c, const char *path, struct json_object *v,
			 struct km_svc_cfg *sc, bool inherited)
{
	char p[PATH_MAX_LEN], origin[PATH_MAX_LEN + 8];
	struct json_object *m;
	int i;

	if (!want_type(c, path, v, json_type_object, "an object"))
		return;
	check_keys(c, path, v, limit_class_names);
	for (i = 0; limit_class_names[i]; i++) {
		if (!json_object_object_get_ex(v, limit_class_names[i], &m))
			continue;
		path_key(p, path, limit_class_names[i]);
		parse_limit(c, p, m, limit_class(sc, i));
		snprintf(origin, sizeof(origin), "defaults.%s)",
			 limit_class_names[i]);
		check_limit(c, p, limit_class(sc, i),
			    inherited ? origin : NULL);
	}
}

/* ------------------------------------------------------------------ a2s */

static const char *proto_str(uint8_t proto)
{
	return proto == IPPROTO_UDP   ? "udp"
	       : proto == IPPROTO_TCP ? "tcp"
				      : "?";
}

/* One of refresh_ms, max_age_ms, timeout_ms: absent keeps *ms. */
static bool a2s_ms(struct ctx *c, const char *path, struct json_object *v,
		   const char *key, uint64_t *ms, bool *given)
{
	char p[PATH_MAX_LEN];
	struct json_object *m;
	uint64_t n;

	*given = false;
	if (!json_object_object_get_ex(v, key, &m))
		return true;
	path_key(p, path, key);
	if (!get_uint(c, p, m, KM_CFG_A2S_MIN_MS, KM_CFG_A2S_MAX_MS, &n))
		return false;
	*ms = n;
	*given = true;
	return true;
}

/*
 * A service's "a2s": true (defaults), false (off) or an object of
 * overrides. The relations are checked on the result, defaults included,
 * and a default that breaks one is named as such.
 */
static void parse_service_a2s(struct ctx *c, const char *path,
			      struct json_object *v, uint8_t proto,
			      struct km_a2s_cfg *out)
{
	static const char *const known[] = {"refresh_ms", "max_age_ms",
					    "timeout_ms", "challenge", NULL};
	uint64_t refresh = KM_CFG_DEF_A2S_REFRESH_MS;
	uint64_t max_age = KM_CFG_DEF_A2S_MAX_AGE_MS;
	uint64_t timeout = KM_CFG_DEF_A2S_TIMEOUT_MS;
	bool ok = true, g_refresh = false, g_age = false, g_timeout = false;
	char p[PATH_MAX_LEN], buf[80];
	uint32_t flags = KM_A2S_F_ENABLED;
	struct json_object *m;
	const char *s;

	memset(out, 0, sizeof(*out));
	if (json_object_get_type(v) == json_type_boolean) {
		if (!json_object_get_boolean(v))
			return;
	} else if (json_object_get_type(v) == json_type_object) {
		check_keys(c, path, v, known);
		ok &= a2s_ms(c, path, v, "refresh_ms", &refresh, &g_refresh);
		ok &= a2s_ms(c, path, v, "max_age_ms", &max_age, &g_age);
		ok &= a2s_ms(c, path, v, "timeout_ms", &timeout, &g_timeout);
		path_key(p, path, "challenge");
		if (json_object_object_get_ex(v, "challenge", &m) &&
		    get_string(c, p, m, 16, &s)) {
			if (!strcmp(s, "off"))
				flags |= KM_A2S_F_NO_CHALLENGE;
			else if (strcmp(s, "required"))
				cerr(c, p,
				     "%s is not one of \"required\", \"off\"",
				     show(m, buf, sizeof(buf)));
		}
	} else {
		cerr(c, path, "must be true, false or an object, not %s",
		     type_name(v));
		return;
	}
	if (proto && proto != IPPROTO_UDP)
		cerr(c, path, "A2S is UDP only; this service is %s",
		     proto_str(proto));
	if (ok && max_age < refresh) {
		path_key(p, path, "max_age_ms");
		cerr(c, p,
		     "%" PRIu64 "%s is less than refresh_ms (%" PRIu64 "%s): "
		     "an answer must stay servable until it is refreshed",
		     max_age, g_age ? "" : " (the default)", refresh,
		     g_refresh ? "" : ", the default");
	}
	if (ok && timeout < 2 * refresh) {
		path_key(p, path, "timeout_ms");
		cerr(c, p,
		     "%" PRIu64 "%s is less than twice refresh_ms (%" PRIu64
		     "%s): a healthy server would be marked down between two "
		     "queries",
		     timeout, g_timeout ? "" : " (the default)", refresh,
		     g_refresh ? "" : ", the default");
	}
	out->flags = flags;
	out->refresh_ns = refresh * 1000000ull;
	out->max_age_ns = max_age * 1000000ull;
	out->timeout_ns = timeout * 1000000ull;
}

static void parse_a2s(struct ctx *c, struct json_object *v)
{
	static const char *const known[] = {"epoch_s", "key_file", NULL};
	struct json_object *m;
	const char *s;
	uint64_t n;

	if (!want_type(c, "a2s", v, json_type_object, "an object"))
		return;
	check_keys(c, "a2s", v, known);
	if (json_object_object_get_ex(v, "epoch_s", &m) &&
	    get_uint(c, "a2s.epoch_s", m, 1, KM_CFG_A2S_EPOCH_MAX_S, &n))
		c->cfg->a2s_epoch_s = (uint32_t)n;
	if (!json_object_object_get_ex(v, "key_file", &m) ||
	    !get_string(c, "a2s.key_file", m, PATH_MAX_LEN - 1, &s))
		return;
	if (s[0] != '/') {
		cerr(c, "a2s.key_file", "\"%s\" is not an absolute path", s);
		return;
	}
	c->cfg->a2s_key_file = strdup(s);
	if (!c->cfg->a2s_key_file)
		c->errs->oom = 1;
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = tolower(ch);
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* 32 hex digits between optional whitespace; the reason when not. */
static const char *key_text_parse(const char *t, size_t len, uint8_t key[16],
				  char *why, size_t why_sz)
{
	size_t i = 0, nd = 0;

	while (i < len && isspace((unsigned char)t[i]))
		i++;
	while (len > i && isspace((unsigned char)t[len - 1]))
		len--;
	for (; i < len; i++, nd++) {
		int h = hexval((unsigned char)t[i]);

		if (h < 0) {
			snprintf(why, why_sz,
				 "byte %zu is not a hex digit (the file must "
				 "hold 32 hex digits)",
				 i + 1);
			return why;
		}
		if (nd < 32)
			key[nd / 2] =
			    (uint8_t)(nd % 2 ? key[nd / 2] | h : h << 4);
	}
	if (nd != 32) {
		snprintf(why, why_sz,
			 "holds %zu hex digits, 32 are needed (a 128-bit key)",
			 nd);
		return why;
	}
	return NULL;
}

int km_cfg_a2s_key_read(const char *cfg_name, const char *path, uint8_t key[16],
			struct km_cfg_errors *errs)
{
	struct ctx c = {cfg_name, NULL, errs, NULL, NULL};
	struct km_file_err e;
	struct stat st;
	char why[128];
	const char *bad;
	char *text;
	size_t len;
	int r;

	/* Mode first: a key readable by others is refused even if valid. */
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077)) {
		cerr(&c, "a2s.key_file",
		     "%s: mode %04o is wider than 0600: the key is a secret "
		     "(chmod 600 %s)",
		     path, (unsigned int)(st.st_mode & 07777), path);
		return -EINVAL;
	}
	r = km_file_read(path, 256, KM_FILE_REGULAR_ONLY, &text, &len, &e);
	switch (e.fail) {
	case KM_FILE_OK:
		break;
	case KM_FILE_OPEN:
		cerr(&c, "a2s.key_file", "%s: cannot open: %s", path,
		     strerror(e.err));
		return r;
	case KM_FILE_NOT_REGULAR:
		cerr(&c, "a2s.key_file", "%s: not a regular file", path);
		return r;
	case KM_FILE_TOO_BIG:
		cerr(&c, "a2s.key_file",
		     "%s: %" PRIu64 " bytes, too long for a key (32 hex "
		     "digits)",
		     path, e.size);
		return r;
	case KM_FILE_READ:
		cerr(&c, "a2s.key_file", "%s: cannot read: %s", path,
		     strerror(e.err));
		return r;
	case KM_FILE_NOMEM:
		errs->oom = 1;
		return r;
	}
	bad = key_text_parse(text, len, key, why, sizeof(why));
	free(text);
	if (bad) {
		cerr(&c, "a2s.key_file", "%s: %s", path, bad);
		return -EINVAL;
	}
	return 0;
}

/* ------------------------------------------------------------- services */

static bool get_port(struct ctx *c, const char *path, struct json_object *v,
		     uint16_t *out_be)
{
	uint64_t n;

	if (!get_uint(c, path, v, 1, 65535, &n))
		return false;
	*out_be = htons((uint16_t)n);
	return true;
}

static bool get_protocol(struct ctx *c, const char *path, struct json_object *v,
			 uint8_t *out)
{
	char buf[80];
	const char *s;

	if (!get_string(c, path, v, 16, &s))
		return false;
	if (!strcmp(s, "udp"))
		*out = IPPROTO_UDP;
	else if (!strcmp(s, "tcp"))
		*out = IPPROTO_TCP;
	else {
		cerr(c, path, "%s is not one of \"udp\", \"tcp\"",
		     show(v, buf, sizeof(buf)));
		return false;
	}
	return true;
}

static bool is_edge(const struct km_cfg *cfg, uint32_t a)
{
	size_t i;

	for (i = 0; i < cfg->n_edge_addrs; i++) {
		if (cfg->edge_addrs[i] == a)
			return true;
	}
	return false;
}

static bool get_member(struct ctx *c, const char *path, struct json_object *v,
		       const char *key, struct json_object **out)
{
	char p[PATH_MAX_LEN];

	if (json_object_object_get_ex(v, key, out))
		return true;
	path_key(p, path, key);
	cerr(c, p, "missing (required)");
	return false;
}

/* One entry of "services"; true when it is complete and valid. */
static bool parse_service(struct ctx *c, const char *path,
			  struct json_object *v, struct km_service_spec *s,
			  char **name)
{
	static const char *const known[] = {
	    "name",	    "protocol", "address", "port", "backend",
	    "backend_port", "limits",	"a2s",	   NULL};
	char p[PATH_MAX_LEN], ab[INET_ADDRSTRLEN];
	struct json_object *m;
	struct km_svc_cfg sc = c->cfg->defaults;
	size_t errs0 = c->errs->n + c->errs->dropped;
	const char *str;

	if (!want_type(c, path, v, json_type_object, "an object"))
		return false;
	check_keys(c, path, v, known);
	memset(s, 0, sizeof(*s));
	path_key(p, path, "name");
	if (json_object_object_get_ex(v, "name", &m) &&
	    get_string(c, p, m, NAME_MAX_LEN, &str)) {
		if (!str[0])
			cerr(c, p, "must not be empty");
		else if (!(*name = strdup(str)))
			c->errs->oom = 1;
	}
	path_key(p, path, "protocol");
	if (get_member(c, path, v, "protocol", &m))
		get_protocol(c, p, m, &s->proto);
	path_key(p, path, "address");
	if (get_member(c, path, v, "address", &m) &&
	    get_host_addr(c, p, m, &s->addr) && is_edge(c->cfg, s->addr))
		cerr(c, p,
		     "%s is an edge address; services need addresses of their "
		     "own",
		     addr_str(s->addr, ab));
	path_key(p, path, "port");
	if (get_member(c, path, v, "port", &m))
		get_port(c, p, m, &s->port);
	path_key(p, path, "backend");
	if (get_member(c, path, v, "backend", &m) &&
	    get_host_addr(c, p, m, &s->backend) && is_edge(c->cfg, s->backend))
		cerr(c, p, "%s is an edge address, not a game-server host",
		     addr_str(s->backend, ab));
	path_key(p, path, "backend_port");
	if (json_object_object_get_ex(v, "backend_port", &m))
		get_port(c, p, m, &s->backend_port);
	path_key(p, path, "limits");
	if (json_object_object_get_ex(v, "limits", &m))
		parse_limits(c, p, m, &sc, true);
	path_key(p, path, "a2s");
	m = NULL;
	if (json_object_object_get_ex(v, "a2s", &m))
		parse_service_a2s(c, p, m, s->proto, &s->a2s);
	if (s->a2s.flags & KM_A2S_F_ENABLED)
		s->flags |= KM_SVC_F_A2S;
	s->unvalidated = sc.unvalidated;
	s->validated = sc.validated;
	s->total = sc.total;
	s->icmp = sc.icmp;
	return c->errs->n + c->errs->dropped == errs0;
}

static void parse_services(struct ctx *c, struct json_object *v)
{
	struct km_cfg *cfg = c->cfg;
	char p[PATH_MAX_LEN], q[PATH_MAX_LEN], ab[INET_ADDRSTRLEN];
	size_t i, j, n;
	size_t *src; /* config index of each kept entry, for messages */

	if (!want_type(c, "services", v, json_type_array, "a list"))
		return;
	n = json_object_array_length(v);
	if (n > KM_MAX_SERVICES) {
		cerr(c, "services", "has %zu entries, at most %d allowed", n,
		     KM_MAX_SERVICES);
		return;
	}
	cfg->services = calloc(n ? n : 1, sizeof(*cfg->services));
	cfg->service_names = calloc(n ? n : 1, sizeof(char *));
	src = calloc(n ? n : 1, sizeof(*src));
	if (!cfg->services || !cfg->service_names || !src) {
		c->errs->oom = 1;
		free(src);
		return;
	}
	for (i = 0; i < n; i++) {
		struct km_service_spec *s = &cfg->services[cfg->n_services];
		char **name = &cfg->service_names[cfg->n_services];

		path_idx(p, "services", i);
		if (!parse_service(c, p, json_object_array_get_idx(v, i), s,
				   name)) {
			free(*name);
			*name = NULL;
			continue;
		}
		for (j = 0; j < cfg->n_services; j++) {
			const struct km_service_spec *o = &cfg->services[j];

			path_idx(q, "services", src[j]);
			if (o->proto == s->proto && o->addr == s->addr &&
			    o->port == s->port) {
				cerr(c, p, "duplicate of %s (%s %s:%u)", q,
				     s->proto == IPPROTO_UDP ? "udp" : "tcp",
				     addr_str(s->addr, ab), ntohs(s->port));
				break;
			}
			if (*name && cfg->service_names[j] &&
			    !strcmp(*name, cfg->service_names[j])) {
				cerr(c, p, "name \"%s\" is already used by %s",
				     *name, q);
				break;
			}
		}
		if (j < cfg->n_services) {
			free(*name);
			*name = NULL;
			continue;
		}
		src[cfg->n_services++] = i;
	}
	free(src);
}

/* ---------------------------------------------------------- prefix lists */

struct pfx_ref {
	struct km_prefix_key k;
	size_t idx;
	int list;
};

static int pfx_ref_cmp(const void *a, const void *b)
{
	const struct pfx_ref *x = a, *y = b;

	if (x->k.prefixlen != y->k.prefixlen)
		return x->k.prefixlen < y->k.prefixlen ? -1 : 1;
	if (x->k.addr != y->k.addr)
		return ntohl(x->k.addr) < ntohl(y->k.addr) ? -1 : 1;
	if (x->list != y->list)
		return x->list - y->list;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static void parse_prefix_list(struct ctx *c, const char *key,
			      struct json_object *v, struct km_prefix_key **out,
			      size_t *n_out, size_t **src)
{
	char p[PATH_MAX_LEN];
	size_t i, n;

	if (!want_type(c, key, v, json_type_array, "a list"))
		return;
	n = json_object_array_length(v);
	if (n > c->cfg->map_size[KM_CFG_SZ_PREFIXES]) {
		cerr(c, key,
		     "has %zu prefixes, more than map_sizes.prefixes (%u)", n,
		     c->cfg->map_size[KM_CFG_SZ_PREFIXES]);
		return;
	}
	*out = calloc(n ? n : 1, sizeof(**out));
	*src = calloc(n ? n : 1, sizeof(**src));
	if (!*out || !*src) {
		c->errs->oom = 1;
		return;
	}
	for (i = 0; i < n; i++) {
		path_idx(p, key, i);
		if (get_prefix(c, p, json_object_array_get_idx(v, i),
			       &(*out)[*n_out]))
			(*src)[(*n_out)++] = i;
	}
}

/* A prefix twice in one list, or in both lists, is a mistake: say so. */
static void check_prefix_dups(struct ctx *c)
{
	static const char *const names[] = {"allow", "deny"};
	const struct km_prefix_key *keys[] = {c->cfg->allow, c->cfg->deny};
	const size_t *srcs[] = {c->allow_src, c->deny_src};
	size_t lens[] = {c->cfg->n_allow, c->cfg->n_deny};
	char p[PATH_MAX_LEN], q[PATH_MAX_LEN], ab[INET_ADDRSTRLEN];
	size_t n = 0, i;
	struct pfx_ref *r;
	int l;

	if (!lens[0] && !lens[1])
		return;
	r = calloc(lens[0] + lens[1], sizeof(*r));
	if (!r) {
		c->errs->oom = 1;
		return;
	}
	for (l = 0; l < 2; l++) {
		for (i = 0; i < lens[l]; i++, n++) {
			r[n].k = keys[l][i];
			r[n].idx = srcs[l][i];
			r[n].list = l;
		}
	}
	qsort(r, n, sizeof(*r), pfx_ref_cmp);
	for (i = 1; i < n; i++) {
		if (r[i].k.prefixlen != r[i - 1].k.prefixlen ||
		    r[i].k.addr != r[i - 1].k.addr)
			continue;
		path_idx(p, names[r[i].list], r[i].idx);
		path_idx(q, names[r[i - 1].list], r[i - 1].idx);
		cerr(c, p, "%s/%u is already listed at %s",
		     addr_str(r[i].k.addr, ab), r[i].k.prefixlen, q);
	}
	free(r);
}

/* ---------------------------------------------------------------- blocks */

static int days_in_month(int y, int m)
{
	static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : d[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static bool digits(const char **s, int n, int *out)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*s)[i]))
			return false;
		v = v * 10 + ((*s)[i] - '0');
	}
	*s += n;
	*out = v;
	return true;
}

static bool expect(const char **s, const char *set)
{
	if (!**s || !strchr(set, **s))
		return false;
	(*s)++;
	return true;
}

int km_cfg_parse_rfc3339(const char *s, int64_t *out)
{
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;

	if (!digits(&s, 4, &y) || !expect(&s, "-") || !digits(&s, 2, &mo) ||
	    !expect(&s, "-") || !digits(&s, 2, &d) || !expect(&s, "Tt ") ||
	    !digits(&s, 2, &h) || !expect(&s, ":") || !digits(&s, 2, &mi) ||
	    !expect(&s, ":") || !digits(&s, 2, &sec))
		return -EINVAL;
	if (*s == '.') {
		s++;
		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		while (isdigit((unsigned char)*s))
			s++;
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		sign = *s++ == '-' ? -1 : 1;
		if (!digits(&s, 2, &oh) || !expect(&s, ":") ||
		    !digits(&s, 2, &om) || oh > 23 || om > 59)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	if (*s || y < 1970 || mo < 1 || mo > 12 || d < 1 ||
	    d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60)
		return -EINVAL;
	if (sec == 60) /* leap second: the instant before the next minute */
		sec = 59;
	*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec -
	       sign * (oh * 3600 + om * 60);
	return 0;
}

static bool parse_block(struct ctx *c, const char *path, struct json_object *v,
			struct km_cfg_block *b)
{
	static const char *const known[] = {"address", "seconds", "until",
					    NULL};
	char p[PATH_MAX_LEN], buf[80];
	struct json_object *m, *sec = NULL, *until = NULL;
	bool has_sec, has_until;
	size_t errs0 = c->errs->n + c->errs->dropped;
	const char *s;
	uint64_t n;

	if (!want_type(c, path, v, json_type_object, "an object"))
		return false;
	check_keys(c, path, v, known);
	memset(b, 0, sizeof(*b));
	path_key(p, path, "address");
	if (get_member(c, path, v, "address", &m))
		get_host_addr(c, p, m, &b->addr);
	has_sec = json_object_object_get_ex(v, "seconds", &sec);
	has_until = json_object_object_get_ex(v, "until", &until);
	if (has_sec == has_until) {
		cerr(c, path,
		     "needs exactly one of \"seconds\" (a duration) or "
		     "\"until\" (an RFC 3339 time)");
		return false;
	}
	path_key(p, path, has_sec ? "seconds" : "until");
	if (has_sec && get_uint(c, p, sec, 1, BLOCK_MAX_S, &n))
		b->seconds = n;
	if (has_until && get_string(c, p, until, 64, &s) &&
	    km_cfg_parse_rfc3339(s, &b->until_unix))
		cerr(c, p,
		     "%s is not an RFC 3339 time (e.g. "
		     "\"2026-11-27T18:00:00Z\")",
		     show(until, buf, sizeof(buf)));
	return c->errs->n + c->errs->dropped == errs0;
}

static int block_ref_cmp(const void *a, const void *b)
{
	const struct km_cfg_block *x = *(struct km_cfg_block *const *)a;
	const struct km_cfg_block *y = *(struct km_cfg_block *const *)b;

	if (x->addr != y->addr)
		return ntohl(x->addr) < ntohl(y->addr) ? -1 : 1;
	return x < y ? -1 : x > y;
}

static void parse_blocks(struct ctx *c, struct json_object *v)
{
	struct km_cfg *cfg = c->cfg;
	char p[PATH_MAX_LEN], q[PATH_MAX_LEN], ab[INET_ADDRSTRLEN];
	struct km_cfg_block **sorted;
	size_t *src, i, n;

	if (!want_type(c, "blocks", v, json_type_array, "a list"))
		return;
	n = json_object_array_length(v);
	if (n > cfg->map_size[KM_CFG_SZ_BLOCKS]) {
		cerr(c, "blocks",
		     "has %zu entries, more than map_sizes.blocks (%u)", n,
		     cfg->map_size[KM_CFG_SZ_BLOCKS]);
		return;
	}
	cfg->blocks = calloc(n ? n : 1, sizeof(*cfg->blocks));
	src = calloc(n ? n : 1, sizeof(*src));
	sorted = calloc(n ? n : 1, sizeof(*sorted));
	if (!cfg->blocks || !src || !sorted) {
		c->errs->oom = 1;
		goto out;
	}
	for (i = 0; i < n; i++) {
		path_idx(p, "blocks", i);
		if (parse_block(c, p, json_object_array_get_idx(v, i),
				&cfg->blocks[cfg->n_blocks]))
			src[cfg->n_blocks++] = i;
	}
	for (i = 0; i < cfg->n_blocks; i++)
		sorted[i] = &cfg->blocks[i];
	qsort(sorted, cfg->n_blocks, sizeof(*sorted), block_ref_cmp);
	for (i = 1; i < cfg->n_blocks; i++) {
		if (sorted[i]->addr != sorted[i - 1]->addr)
			continue;
		path_idx(p, "blocks", src[sorted[i] - cfg->blocks]);
		path_idx(q, "blocks", src[sorted[i - 1] - cfg->blocks]);
		cerr(c, p, "%s is already blocked at %s",
		     addr_str(sorted[i]->addr, ab), q);
	}
out:
	free(sorted);
	free(src);
}

/* ------------------------------------------------------------- document */

static void cfg_defaults(struct km_cfg *cfg)
{
	int i;

	memset(cfg, 0, sizeof(*cfg));
	cfg->xdp_mode = KM_XDP_MODE_NATIVE;
	cfg->punch_idle_ns = KM_CFG_DEF_PUNCH_IDLE_S * NS_PER_S;
	cfg->validated_idle_ns = KM_CFG_DEF_VALIDATED_IDLE_S * NS_PER_S;
	cfg->rl_prefix_len = KM_CFG_DEF_RL_PREFIX_LEN;
	cfg->icmp_echo = true;
	cfg->a2s_epoch_s = KM_CFG_DEF_A2S_EPOCH_S;
	for (i = 0; i < KM_CFG_SZ_MAX; i++)
		cfg->map_size[i] = km_cfg_size_defaults[i];
}

/* True when the key is present, even with a null value (then *m is NULL,
 * which the type checks report as "null"). */
static bool member(struct json_object *o, const char *key,
		   struct json_object **m)
{
	*m = NULL;
	return json_object_object_get_ex(o, key, m);
}

static void parse_document(struct ctx *c, struct json_object *root)
{
	static const char *const known[] = {
	    "interface",
	    "xdp_mode",
	    "edge_addresses",
	    "timeouts",
	    "rate_limit_prefix_len",
	    "icmp_echo",
	    "map_sizes",
	    "defaults",
	    "services",
	    "allow",
	    "deny",
	    "blocks",
	    "a2s",
	    NULL,
	};
	struct km_cfg *cfg = c->cfg;
	struct json_object *m;
	uint64_t n;

	if (!json_object_is_type(root, json_type_object)) {
		cerr(c, NULL, "the top level must be an object { ... }, not %s",
		     type_name(root));
		return;
	}
	check_keys(c, "", root, known);
	if (member(root, "interface", &m))
		parse_interface(c, m);
	if (member(root, "xdp_mode", &m))
		parse_xdp_mode(c, m);
	if (member(root, "edge_addresses", &m))
		parse_edge_addresses(c, m);
	else
		cerr(c, "edge_addresses",
		     "missing (required: this edge's own addresses, the first "
		     "is the IPIP outer source)");
	if (member(root, "timeouts", &m))
		parse_timeouts(c, m);
	if (member(root, "rate_limit_prefix_len", &m) &&
	    get_uint(c, "rate_limit_prefix_len", m, 1, 32, &n))
		cfg->rl_prefix_len = (uint8_t)n;
	if (member(root, "icmp_echo", &m))
		get_bool(c, "icmp_echo", m, &cfg->icmp_echo);
	/* Sizes bound the lists below: parse them first. */
	if (member(root, "map_sizes", &m))
		parse_map_sizes(c, m);
	if (member(root, "defaults", &m))
		parse_limits(c, "defaults", m, &cfg->defaults, false);
	if (member(root, "services", &m))
		parse_services(c, m);
	if (member(root, "allow", &m))
		parse_prefix_list(c, "allow", m, &cfg->allow, &cfg->n_allow,
				  &c->allow_src);
	if (member(root, "deny", &m))
		parse_prefix_list(c, "deny", m, &cfg->deny, &cfg->n_deny,
				  &c->deny_src);
	check_prefix_dups(c);
	if (member(root, "blocks", &m))
		parse_blocks(c, m);
	if (member(root, "a2s", &m))
		parse_a2s(c, m);
}

static void pos_of(const char *text, size_t off, size_t *line, size_t *col)
{
	size_t i;

	*line = 1;
	*col = 1;
	for (i = 0; i < off; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

/* After the top-level value only whitespace and comments may follow. */
static size_t skip_trailer(const char *t, size_t off, size_t len)
{
	while (off < len) {
		if (isspace((unsigned char)t[off]) || t[off] == '\0') {
			off++;
		} else if (t[off] == '/' && off + 1 < len &&
			   t[off + 1] == '/') {
			while (off < len && t[off] != '\n')
				off++;
		} else if (t[off] == '/' && off + 1 < len &&
			   t[off + 1] == '*') {
			const char *e =
			    memmem(t + off + 2, len - off - 2, "*/", 2);

			if (!e)
				return off;
			off = (size_t)(e - t) + 2;
		} else {
			break;
		}
	}
	return off;
}

static void json_fail(struct km_json_err *e, enum km_json_fail fail,
		      const char *text, size_t off, const char *desc)
{
	e->fail = fail;
	e->off = off;
	e->desc = desc;
	pos_of(text, off, &e->line, &e->col);
}

struct json_object *km_json_parse(const char *text, size_t len,
				  struct km_json_err *e)
{
	struct json_tokener *tok;
	struct json_object *root = NULL;
	enum json_tokener_error je;
	size_t end;
	char *buf;
	const char *nul;

	memset(e, 0, sizeof(*e));
	nul = memchr(text, '\0', len);
	if (nul) {
		json_fail(e, KM_JSON_NUL, text, (size_t)(nul - text), NULL);
		return NULL;
	}
	/* A NUL-terminated copy passed with its terminator tells json-c the
	 * input is complete (otherwise a trailing comment means "more"). */
	buf = malloc(len + 1);
	tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH);
	if (!buf || !tok) {
		e->fail = KM_JSON_NOMEM;
		goto out;
	}
	memcpy(buf, text, len);
	buf[len] = '\0';
	root = json_tokener_parse_ex(tok, buf, (int)len + 1);
	je = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (end > len)
		end = len;
	if (!root || je != json_tokener_success) {
		json_object_put(root);
		root = NULL;
		if (je == json_tokener_continue ||
		    je == json_tokener_error_parse_eof)
			json_fail(e, KM_JSON_TRUNCATED, buf, end,
				  "unexpected end of data");
		else
			json_fail(e, KM_JSON_INVALID, buf, end,
				  je == json_tokener_success
				      ? "no value"
				      : json_tokener_error_desc(je));
		goto out;
	}
	end = skip_trailer(buf, end, len);
	if (end < len) {
		json_fail(e, KM_JSON_TRAILER, buf, end, NULL);
		json_object_put(root);
		root = NULL;
	}
out:
	json_tokener_free(tok);
	free(buf);
	return root;
}

static struct json_object *parse_json(struct ctx *c, const char *text,
				      size_t len)
{
	struct json_object *root;
	struct km_json_err e;

	if (len > KM_CFG_MAX_FILE_BYTES) {
		cerr(c, NULL,
		     "the file is %zu bytes, larger than the %u byte limit",
		     len, KM_CFG_MAX_FILE_BYTES);
		return NULL;
	}
	root = km_json_parse(text, len, &e);
	switch (e.fail) {
	case KM_JSON_OK:
		break;
	case KM_JSON_NOMEM:
		c->errs->oom = 1;
		break;
	case KM_JSON_NUL:
		cerr(c, NULL, "line %zu, column %zu: NUL byte in the file",
		     e.line, e.col);
		break;
	case KM_JSON_INVALID:
	case KM_JSON_TRUNCATED:
		cerr(c, NULL, "line %zu, column %zu: invalid JSON: %s", e.line,
		     e.col, e.desc);
		break;
	case KM_JSON_TRAILER:
		cerr(c, NULL,
		     "line %zu, column %zu: unexpected text after the end of "
		     "the top-level object",
		     e.line, e.col);
		break;
	}
	return root;
}

int km_cfg_parse_string(const char *name, const char *text, size_t len,
			struct km_cfg *cfg, struct km_cfg_errors *errs)
{
	struct ctx c = {name, cfg, errs, NULL, NULL};
	struct json_object *root;

	cfg_defaults(cfg);
	root = parse_json(&c, text, len);
	if (root)
		parse_document(&c, root);
	json_object_put(root);
	free(c.allow_src);
	free(c.deny_src);
	if (errs->oom)
		return -ENOMEM;
	return errs->n || errs->dropped ? -EINVAL : 0;
}

int km_file_read(const char *path, size_t max, unsigned int flags,
		 char **text, size_t *len, struct km_file_err *e)
{
	struct stat st;
	size_t got = 0;
	char *buf = NULL;
	ssize_t r;
	int fd, ret = -EINVAL;

	memset(e, 0, sizeof(*e));
	*text = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e->fail = KM_FILE_OPEN;
		e->err = errno;
		return -EINVAL;
	}
	if ((flags & KM_FILE_REGULAR_ONLY) &&
	    (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
		e->fail = KM_FILE_NOT_REGULAR;
		goto out;
	}
	if ((flags & KM_FILE_REGULAR_ONLY) && (uint64_t)st.st_size > max) {
		e->fail = KM_FILE_TOO_BIG;
		e->size = (uint64_t)st.st_size;
		goto out;
	}
	/* One byte more than the limit detects a file that grew meanwhile
	 * (or, not regular, one that has no size); one more for the NUL. */
	buf = malloc(max + 2);
	if (!buf) {
		e->fail = KM_FILE_NOMEM;
		ret = -ENOMEM;
		goto out;
	}
	while (got <= max) {
		r = read(fd, buf + got, max + 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			e->fail = KM_FILE_READ;
			e->err = errno;
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	if (got > max) {
		e->fail = KM_FILE_TOO_BIG;
		e->size = got;
		goto out;
	}
	buf[got] = '\0';
	*text = buf;
	*len = got;
	buf = NULL;
	ret = 0;
out:
	free(buf);
	close(fd);
	return ret;
}

int km_cfg_parse_file(const char *path, struct km_cfg *cfg,
		      struct km_cfg_errors *errs)
{
	struct ctx c = {path, cfg, errs, NULL, NULL};
	struct km_file_err e;
	char *text;
	size_t len;
	int ret;

	cfg_defaults(cfg);
	ret = km_file_read(path, KM_CFG_MAX_FILE_BYTES, KM_FILE_REGULAR_ONLY,
			   &text, &len, &e);
	switch (e.fail) {
	case KM_FILE_OK:
		ret = km_cfg_parse_string(path, text, len, cfg, errs);
		free(text);
		if (!ret && cfg->a2s_key_file) {
			ret = km_cfg_a2s_key_read(path, cfg->a2s_key_file,
						  cfg->a2s_key, errs);
			cfg->a2s_key_loaded = !ret;
		}
		break;
	case KM_FILE_OPEN:
		cerr(&c, NULL, "cannot open: %s", strerror(e.err));
		break;
	case KM_FILE_NOT_REGULAR:
		cerr(&c, NULL, "not a regular file");
		break;
	case KM_FILE_TOO_BIG:
		cerr(&c, NULL,
		     "the file is %" PRIu64 " bytes, larger than the %u byte "
		     "limit",
		     e.size, KM_CFG_MAX_FILE_BYTES);
		break;
	case KM_FILE_READ:
		cerr(&c, NULL, "cannot read: %s", strerror(e.err));
		break;
	case KM_FILE_NOMEM:
		break;
	}
	return ret;
}

void km_cfg_free(struct km_cfg *cfg)
{
	size_t i;

	if (!cfg)
		return;
	if (cfg->service_names) {
		for (i = 0; i < cfg->n_services; i++)
			free(cfg->service_names[i]);
	}
	free(cfg->service_names);
	free(cfg->services);
	free(cfg->edge_addrs);
	free(cfg->allow);
	free(cfg->deny);
	free(cfg->blocks);
	free(cfg->a2s_key_file);
	explicit_bzero(cfg->a2s_key, sizeof(cfg->a2s_key));
	memset(cfg, 0, sizeof(*cfg));
}

void km_cfg_to_km_config(const struct km_cfg *cfg, struct km_config *out)
{
	out->abi_version = KM_ABI_VERSION;
	out->edge_addr = cfg->n_edge_addrs ? cfg->edge_addrs[0] : 0;
	out->flags = cfg->icmp_echo ? KM_CFG_F_ICMP_ECHO : 0;
	out->punch_idle_ns = cfg->punch_idle_ns;
	out->validated_idle_ns = cfg->validated_idle_ns;
	out->rl_prefix_len = cfg->rl_prefix_len;
}

size_t km_cfg_blocks_resolve(const struct km_cfg *cfg, uint64_t now_mono_ns,
			     int64_t now_real_s, struct km_block_spec *out)
{
	size_t i, n = 0;

	for (i = 0; i < cfg->n_blocks; i++) {
		const struct km_cfg_block *b = &cfg->blocks[i];
		uint64_t left_s;

		if (b->seconds) {
			left_s = b->seconds;
		} else {
			if (b->until_unix <= now_real_s)
				continue;
			left_s = (uint64_t)(b->until_unix - now_real_s);
		}
		out[n].addr = b->addr;
		/* Saturate: an `until` centuries ahead must not wrap. */
		if (left_s > (UINT64_MAX - now_mono_ns) / NS_PER_S)
			out[n].until_ns = UINT64_MAX;
		else
			out[n].until_ns = now_mono_ns + left_s * NS_PER_S;
		n++;
	}
	return n;
}
