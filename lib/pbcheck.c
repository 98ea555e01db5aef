// SPDX-License-Identifier: GPL-2.0-only
/* Semantic validation of controller-protocol messages (pbcheck.h). Input is
 * untrusted (fuzzed by tests/fuzz/fuzz_envelope.c): nothing here trusts a
 * count, a length or an enum. */
#include "pbcheck.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define NS_PER_MS 1000000ull

/* The reason being built: the first refusal wins. */
struct chk {
	char *why;
	size_t len;
	bool bad;
};

static bool __attribute__((format(printf, 3, 4)))
refuse(struct chk *c, const char *path, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (c->bad)
		return false;
	c->bad = true;
	n = snprintf(c->why, c->len, "%s: ", path);
	if (n < 0 || (size_t)n >= c->len)
		return false;
	va_start(ap, fmt);
	vsnprintf(c->why + n, c->len - n, fmt, ap);
	va_end(ap);
	return false;
}

/* path + "." + field, or path + "[i]" when field is NULL. A path cut
 * short by the buffer still names the message. */
static const char *sub(char *buf, size_t len, const char *path,
		       const char *field, long i)
{
	int n;

	if (field)
		n = snprintf(buf, len, "%s.%s", path, field);
	else
		n = snprintf(buf, len, "%s[%ld]", path, i);
	if (n < 0 && len)
		buf[0] = 0;
	return buf;
}

#define P_LEN 160
#define SUB(field) sub(p, sizeof(p), path, field, 0)

uint8_t km_pb_ipproto(int proto)
{
	switch (proto) {
	case KILIMANJARO__V1__PROTO__PROTO_UDP:
		return IPPROTO_UDP;
	case KILIMANJARO__V1__PROTO__PROTO_TCP:
		return IPPROTO_TCP;
	default:
		return 0;
	}
}

static bool chk_proto(struct chk *c, const char *path, int proto)
{
	if (!km_pb_ipproto(proto))
		return refuse(c, path,
			      "%d is not a protocol this edge serves "
			      "(PROTO_UDP or PROTO_TCP)",
			      proto);
	return true;
}

static bool chk_port(struct chk *c, const char *path, uint32_t port)
{
	if (port < 1 || port > 65535)
		return refuse(c, path, "%" PRIu32 " is not a port (1..65535)",
			      port);
	return true;
}

static bool chk_addr(struct chk *c, const char *path, uint32_t addr)
{
	if (addr == 0 || addr == UINT32_MAX || (addr >> 28) == 0xe)
		return refuse(c, path, "%u.%u.%u.%u is not a unicast address",
			      addr >> 24, (addr >> 16) & 255, (addr >> 8) & 255,
			      addr & 255);
	return true;
}

static bool chk_str(struct chk *c, const char *path, const char *s, size_t max,
		    bool name)
{
	size_t n = s ? strlen(s) : 0;

	if (n > max)
		return refuse(c, path, "%zu bytes is longer than %zu", n, max);
	for (size_t i = 0; name && i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch < 0x21 || ch > 0x7e)
			return refuse(c, path,
				      "byte %zu (0x%02x) is not printable "
				      "ASCII",
				      i, ch);
	}
	return true;
}

static bool chk_count(struct chk *c, const char *path, size_t n, size_t max)
{
	if (n > max)
		return refuse(c, path, "%zu entries, more than the %zu allowed",
			      n, max);
	return true;
}

static bool chk_service_key(struct chk *c, const char *path,
			    const Kilimanjaro__V1__ServiceKey *k)
{
	char p[P_LEN];

	return chk_proto(c, SUB("proto"), k->proto) &&
	       chk_addr(c, SUB("addr"), k->addr) &&
	       chk_port(c, SUB("port"), k->port);
}

static bool chk_limit(struct chk *c, const char *path,
		      const Kilimanjaro__V1__Limit *l)
{
	char p[P_LEN];

	if (!l)
		return true;
	if (l->has_pps && l->pps && (!l->has_burst_pkts || !l->burst_pkts))
		return refuse(c, SUB("burst_pkts"),
			      "must be at least 1 when pps is set");
	if (l->has_bps && l->bps > (1ull << 48))
		return refuse(c, SUB("bps"), "%" PRIu64 " is above 2^48",
			      l->bps);
	if (l->has_burst_bytes && l->burst_bytes > (1ull << 48))
		return refuse(c, SUB("burst_bytes"),
			      "%" PRIu64 " is above 2^48", l->burst_bytes);
	if (l->has_bps && l->bps && (!l->has_burst_bytes || !l->burst_bytes))
		return refuse(c, SUB("burst_bytes"),
			      "must be at least 1 when bps is set");
	if (l->has_block_ms && l->block_ms > KM_PB_LIMIT_BLOCK_MAX_MS)
		return refuse(c, SUB("block_ms"),
			      "%" PRIu32 " is out of range 0..%u", l->block_ms,
			      KM_PB_LIMIT_BLOCK_MAX_MS);
	return true;
}

static void limit_conv(const Kilimanjaro__V1__Limit *l, struct km_limit *o)
{
	memset(o, 0, sizeof(*o));
	if (!l)
		return;
	o->pps = l->has_pps ? l->pps : 0;
	o->burst_pkts = l->has_burst_pkts ? l->burst_pkts : 0;
	o->bps = l->has_bps ? l->bps : 0;
	o->burst_bytes = l->has_burst_bytes ? l->burst_bytes : 0;
	o->block_ms = l->has_block_ms ? l->block_ms : 0;
}

static void a2s_conv(const Kilimanjaro__V1__A2sConfig *a, struct km_a2s_cfg *o)
{
	memset(o, 0, sizeof(*o));
	if (!a)
		return;
	o->flags = KM_A2S_F_ENABLED;
	if (a->has_challenge &&
	    a->challenge == KILIMANJARO__V1__CHALLENGE_POLICY__CHALLENGE_OFF)
		o->flags |= KM_A2S_F_NO_CHALLENGE;
	o->refresh_ns =
	    (a->has_refresh_ms ? a->refresh_ms : KM_CFG_DEF_A2S_REFRESH_MS) *
	    NS_PER_MS;
	o->max_age_ns =
	    (a->has_max_age_ms ? a->max_age_ms : KM_CFG_DEF_A2S_MAX_AGE_MS) *
	    NS_PER_MS;
	o->timeout_ns =
	    (a->has_timeout_ms ? a->timeout_ms : KM_CFG_DEF_A2S_TIMEOUT_MS) *
	    NS_PER_MS;
}

void km_pb_service_spec(const Kilimanjaro__V1__Service *s,
			struct km_service_spec *out)
{
	memset(out, 0, sizeof(*out));
	out->proto = km_pb_ipproto(s->key->proto);
	out->addr = htonl(s->key->addr);
	out->port = htons((uint16_t)s->key->port);
	out->backend = htonl(s->backend);
	out->backend_port =
	    htons(s->has_backend_port ? (uint16_t)s->backend_port : 0);
	limit_conv(s->unvalidated, &out->unvalidated);
	limit_conv(s->validated, &out->validated);
	limit_conv(s->total, &out->total);
	limit_conv(s->icmp, &out->icmp);
	a2s_conv(s->a2s, &out->a2s);
	if (s->a2s)
		out->flags |= KM_SVC_F_A2S;
}

void km_pb_prefix_key(const Kilimanjaro__V1__Prefix *p,
		      struct km_prefix_key *out)
{
	out->prefixlen = p->len;
	out->addr = htonl(p->addr);
}

void km_pb_punch_key(const Kilimanjaro__V1__PortPunch *p,
		     struct km_punch_key *out)
{
	memset(out, 0, sizeof(*out));
	out->proto = km_pb_ipproto(p->proto);
	out->svc_addr = htonl(p->service_addr);
	out->svc_port = htons((uint16_t)p->service_port);
	out->remote = htonl(p->remote_addr);
	out->remote_port = htons((uint16_t)p->remote_port);
}

static bool chk_a2s(struct chk *c, const char *path,
		    const Kilimanjaro__V1__Service *s)
{
	const Kilimanjaro__V1__A2sConfig *a = s->a2s;
	struct km_a2s_cfg cfg;
	char p[P_LEN];
	const char *why;

	if (!a)
		return true;
	if (a->has_challenge &&
	    a->challenge !=
		KILIMANJARO__V1__CHALLENGE_POLICY__CHALLENGE_REQUIRED &&
	    a->challenge != KILIMANJARO__V1__CHALLENGE_POLICY__CHALLENGE_OFF)
		return refuse(c, SUB("a2s.challenge"),
			      "%d is not a ChallengePolicy "
			      "(CHALLENGE_REQUIRED or CHALLENGE_OFF)",
			      a->challenge);
	a2s_conv(a, &cfg);
	why = km_a2s_cfg_problem(&cfg, km_pb_ipproto(s->key->proto));
	if (why)
		return refuse(c, SUB("a2s"), "%s", why);
	return true;
}

static bool chk_service(struct chk *c, const char *path,
			const Kilimanjaro__V1__Service *s)
{
	char p[P_LEN];

	if (!chk_service_key(c, SUB("key"), s->key) ||
	    !chk_addr(c, SUB("backend"), s->backend))
		return false;
	if (s->has_backend_port && s->backend_port > 65535)
		return refuse(c, SUB("backend_port"),
			      "%" PRIu32 " is not a port (0 = keep, 1..65535)",
			      s->backend_port);
	return chk_limit(c, SUB("unvalidated"), s->unvalidated) &&
	       chk_limit(c, SUB("validated"), s->validated) &&
	       chk_limit(c, SUB("total"), s->total) &&
	       chk_limit(c, SUB("icmp"), s->icmp) && chk_a2s(c, path, s) &&
	       chk_str(c, SUB("name"), s->name, KM_PB_MAX_NAME, false);
}

static bool chk_prefix(struct chk *c, const char *path,
		       const Kilimanjaro__V1__Prefix *x)
{
	char p[P_LEN];
	uint32_t mask;

	if (x->len > 32)
		return refuse(c, SUB("len"),
			      "%" PRIu32 " is not a prefix length (0..32)",
			      x->len);
	mask = x->len ? ~0u << (32 - x->len) : 0;
	if (x->addr & ~mask)
		return refuse(c, SUB("addr"),
			      "%u.%u.%u.%u has bits set beyond the prefix "
			      "length %" PRIu32,
			      x->addr >> 24, (x->addr >> 16) & 255,
			      (x->addr >> 8) & 255, x->addr & 255, x->len);
	return true;
}

static bool chk_block(struct chk *c, const char *path,
		      const Kilimanjaro__V1__Block *b)
{
	char p[P_LEN];

	if (!chk_addr(c, SUB("addr"), b->addr))
		return false;
	if (b->has_duration_ms && b->duration_ms > KM_PB_BLOCK_MAX_MS)
		return refuse(c, SUB("duration_ms"),
			      "%" PRIu64 " is more than ten years",
			      b->duration_ms);
	return true;
}

static bool chk_punch(struct chk *c, const char *path,
		      const Kilimanjaro__V1__PortPunch *x)
{
	char p[P_LEN];

	return chk_proto(c, SUB("proto"), x->proto) &&
	       chk_addr(c, SUB("service_addr"), x->service_addr) &&
	       chk_port(c, SUB("service_port"), x->service_port) &&
	       chk_addr(c, SUB("remote_addr"), x->remote_addr) &&
	       chk_port(c, SUB("remote_port"), x->remote_port) &&
	       chk_addr(c, SUB("backend"), x->backend);
}

static bool chk_key(struct chk *c, const char *path,
		    const Kilimanjaro__V1__A2sKey *k)
{
	char p[P_LEN];

	if (!k)
		return true;
	if (k->key.len != KM_PB_A2S_KEY_LEN)
		return refuse(c, SUB("key"), "%zu bytes, not %d", k->key.len,
			      KM_PB_A2S_KEY_LEN);
	if (k->has_prev_key && k->prev_key.len != KM_PB_A2S_KEY_LEN)
		return refuse(c, SUB("prev_key"), "%zu bytes, not %d",
			      k->prev_key.len, KM_PB_A2S_KEY_LEN);
	if (k->has_epoch_s &&
	    (k->epoch_s < 1 || k->epoch_s > KM_PB_EPOCH_S_MAX))
		return refuse(c, SUB("epoch_s"),
			      "%" PRIu32 " is out of range 1..%u", k->epoch_s,
			      KM_PB_EPOCH_S_MAX);
	return true;
}

/* Apply chk_fn to every element of a repeated field. */
#define CHK_EACH(c, path, field, arr, n, max, fn)                              \
	({                                                                     \
		char _p[P_LEN], _e[P_LEN];                                     \
		bool _ok =                                                     \
		    chk_count(c, sub(_p, sizeof(_p), path, field, 0), n, max); \
		for (size_t _i = 0; _ok && _i < (n); _i++)                     \
			_ok = fn(c, sub(_e, sizeof(_e), _p, NULL, (long)_i),   \
				 (arr)[_i]);                                   \
		_ok;                                                           \
	})

static int svc_key_cmp(const void *a, const void *b)
{
	const Kilimanjaro__V1__ServiceKey *x = *(void *const *)a,
					  *y = *(void *const *)b;

	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	return 0;
}

/* Two services of one key in one message: which one is meant? */
static bool chk_svc_dups(struct chk *c, const char *path,
			 Kilimanjaro__V1__Service *const *s, size_t n)
{
	const Kilimanjaro__V1__ServiceKey **k;
	bool ok = true;

	if (n < 2)
		return true;
	k = malloc(n * sizeof(*k));
	if (!k)
		return refuse(c, path, "out of memory checking duplicates");
	for (size_t i = 0; i < n; i++)
		k[i] = s[i]->key;
	qsort(k, n, sizeof(*k), svc_key_cmp);
	for (size_t i = 1; ok && i < n; i++)
		if (!svc_key_cmp(&k[i - 1], &k[i]))
			ok = refuse(c, path,
				    "service %s %u.%u.%u.%u:%" PRIu32
				    " is listed twice",
				    k[i]->proto == 6 ? "tcp" : "udp",
				    k[i]->addr >> 24, (k[i]->addr >> 16) & 255,
				    (k[i]->addr >> 8) & 255, k[i]->addr & 255,
				    k[i]->port);
	free(k);
	return ok;
}

static bool chk_snapshot(struct chk *c,
			 const Kilimanjaro__V1__ConfigSnapshot *s)
{
	const char *path = "snapshot";

	return CHK_EACH(c, path, "services", s->services, s->n_services,
			KM_MAX_SERVICES, chk_service) &&
	       chk_svc_dups(c, "snapshot.services", s->services,
			    s->n_services) &&
	       CHK_EACH(c, path, "allow", s->allow, s->n_allow,
			KM_PB_MAX_PREFIXES, chk_prefix) &&
	       CHK_EACH(c, path, "deny", s->deny, s->n_deny, KM_PB_MAX_PREFIXES,
			chk_prefix) &&
	       CHK_EACH(c, path, "blocks", s->blocks, s->n_blocks,
			KM_PB_MAX_BLOCKS, chk_block) &&
	       CHK_EACH(c, path, "punches", s->punches, s->n_punches,
			KM_PB_MAX_PUNCHES, chk_punch) &&
	       chk_key(c, "snapshot.a2s_key", s->a2s_key);
}

static bool chk_del_block(struct chk *c, const char *path, uint32_t addr)
{
	return chk_addr(c, path, addr);
}

static bool chk_delta(struct chk *c, const Kilimanjaro__V1__ConfigDelta *d)
{
	const char *path = "delta";

	if (d->version <= d->base_version)
		return refuse(c, "delta.version",
			      "%" PRIu64 " is not after base_version %" PRIu64,
			      d->version, d->base_version);
	return CHK_EACH(c, path, "add_services", d->add_services,
			d->n_add_services, KM_MAX_SERVICES, chk_service) &&
	       chk_svc_dups(c, "delta.add_services", d->add_services,
			    d->n_add_services) &&
	       CHK_EACH(c, path, "del_services", d->del_services,
			d->n_del_services, KM_MAX_SERVICES, chk_service_key) &&
	       CHK_EACH(c, path, "add_allow", d->add_allow, d->n_add_allow,
			KM_PB_MAX_PREFIXES, chk_prefix) &&
	       CHK_EACH(c, path, "del_allow", d->del_allow, d->n_del_allow,
			KM_PB_MAX_PREFIXES, chk_prefix) &&
	       CHK_EACH(c, path, "add_deny", d->add_deny, d->n_add_deny,
			KM_PB_MAX_PREFIXES, chk_prefix) &&
	       CHK_EACH(c, path, "del_deny", d->del_deny, d->n_del_deny,
			KM_PB_MAX_PREFIXES, chk_prefix) &&
	       CHK_EACH(c, path, "add_blocks", d->add_blocks, d->n_add_blocks,
			KM_PB_MAX_BLOCKS, chk_block) &&
	       CHK_EACH(c, path, "del_blocks", d->del_blocks, d->n_del_blocks,
			KM_PB_MAX_BLOCKS, chk_del_block) &&
	       CHK_EACH(c, path, "add_punches", d->add_punches,
			d->n_add_punches, KM_PB_MAX_PUNCHES, chk_punch) &&
	       CHK_EACH(c, path, "del_punches", d->del_punches,
			d->n_del_punches, KM_PB_MAX_PUNCHES, chk_punch) &&
	       chk_key(c, "delta.a2s_key", d->a2s_key);
}

static bool chk_hello(struct chk *c, const KmEnvelope *env)
{
	const Kilimanjaro__V1__Hello *h = env->hello;

	if (env->schema > KM_SCHEMA_VERSION)
		return refuse(c, "envelope.schema",
			      "%" PRIu32 " is newer than this build's %d",
			      env->schema, KM_SCHEMA_VERSION);
	if (!h->edge_id[0])
		return refuse(c, "hello.edge_id", "empty");
	/* abi_version is the edge's map layout, for the operator: a
	 * controller of another build must still accept it (rolling
	 * upgrades), so it is not checked here. */
	return chk_str(c, "hello.edge_id", h->edge_id, KM_PB_MAX_NAME, true) &&
	       chk_str(c, "hello.software_version", h->software_version,
		       KM_PB_MAX_TEXT, false) &&
	       chk_str(c, "hello.interface", h->interface, 15, true);
}

static bool chk_reason_count(struct chk *c, const char *path,
			     const Kilimanjaro__V1__ReasonCount *r)
{
	char p[P_LEN];

	return chk_str(c, SUB("reason"), r->reason, KM_PB_MAX_NAME, true);
}

static bool chk_svc_stats(struct chk *c, const char *path,
			  const Kilimanjaro__V1__ServiceStats *s)
{
	char p[P_LEN];

	return chk_service_key(c, SUB("key"), s->key);
}

static bool chk_map_fill(struct chk *c, const char *path,
			 const Kilimanjaro__V1__MapFill *m)
{
	char p[P_LEN];

	return chk_str(c, SUB("map"), m->map, KM_PB_MAX_NAME, true);
}

static bool chk_stats(struct chk *c, const Kilimanjaro__V1__StatsSnapshot *s)
{
	const char *path = "stats";

	return CHK_EACH(c, path, "reasons", s->reasons, s->n_reasons,
			KM_PB_MAX_STATS_ITEMS, chk_reason_count) &&
	       CHK_EACH(c, path, "services", s->services, s->n_services,
			KM_PB_MAX_STATS_ITEMS, chk_svc_stats) &&
	       CHK_EACH(c, path, "maps", s->maps, s->n_maps,
			KM_PB_MAX_STATS_ITEMS, chk_map_fill);
}

static bool chk_body(struct chk *c, const KmEnvelope *env)
{
	switch (env->body_case) {
	case KILIMANJARO__V1__ENVELOPE__BODY_HELLO:
		return chk_hello(c, env);
	case KILIMANJARO__V1__ENVELOPE__BODY_STATS:
		return chk_stats(c, env->stats);
	case KILIMANJARO__V1__ENVELOPE__BODY_PUNCH_LEARNED:
		return chk_punch(c, "punch_learned.punch",
				 env->punch_learned->punch);
	case KILIMANJARO__V1__ENVELOPE__BODY_BLOCK_ADDED:
		if (env->block_added->has_prefix_len &&
		    env->block_added->prefix_len > 32)
			return refuse(c, "block_added.prefix_len",
				      "%" PRIu32
				      " is not a prefix length (0..32)",
				      env->block_added->prefix_len);
		return chk_addr(c, "block_added.addr", env->block_added->addr);
	case KILIMANJARO__V1__ENVELOPE__BODY_SNAPSHOT:
		return chk_snapshot(c, env->snapshot);
	case KILIMANJARO__V1__ENVELOPE__BODY_DELTA:
		return chk_delta(c, env->delta);
	case KILIMANJARO__V1__ENVELOPE__BODY_ACK:
		return chk_str(c, "ack.error", env->ack->error, KM_PB_MAX_TEXT,
			       false);
	case KILIMANJARO__V1__ENVELOPE__BODY_PING:
	case KILIMANJARO__V1__ENVELOPE__BODY_PONG:
		return true;
	default:
		return refuse(c, "envelope.body",
			      "no message (unknown or missing oneof %d)",
			      (int)env->body_case);
	}
}

const char *km_pb_check(const KmEnvelope *env, char *why, size_t len)
{
	struct chk c = {.why = why, .len = len};

	if (len)
		why[0] = 0;
	if (env->schema == 0)
		refuse(&c, "envelope.schema", "0 is not a schema version");
	else
		chk_body(&c, env);
	return c.bad ? why : NULL;
}
