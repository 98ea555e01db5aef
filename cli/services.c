// SPDX-License-Identifier: GPL-2.0-only
/* `kilimanjaro services [list|add|del]` */
#include "cli.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"

static const char usage[] =
    "usage: kilimanjaro services [list]\n"
    "       kilimanjaro services add PROTO ADDR:PORT backend BACKEND[:PORT]\n"
    "                                [LIMITS] [--a2s [A2S]]\n"
    "       kilimanjaro services del PROTO ADDR:PORT [--force]\n"
    "\n"
    "PROTO is udp or tcp. A backend port rewrites the destination port.\n"
    "LIMITS (0 or absent = unlimited) for sources not yet validated, per\n"
    "source prefix:\n"
    "  --pps N  --burst-packets N (or --burst)\n"
    "  --bytes-per-s N (or --bps; bytes, not bits)  --burst-bytes N\n"
    "  --block-s SECONDS (refuse the source that long after it exceeds)\n"
    "The same with the prefix --validated- (per validated player),\n"
    "--total- (the whole service, all unvalidated sources together) and\n"
    "--icmp- (echo requests, per source prefix), e.g. --total-pps 50000.\n"
    "A burst left out is one second's worth of its rate.\n"
    "--a2s answers Valve A2S queries from the edge's cache (udp only); A2S:\n"
    "  --a2s-refresh-ms N (1000)   older answers are stale, refreshed\n"
    "  --a2s-max-age-ms N (10000)  older answers are never served\n"
    "  --a2s-timeout-ms N (5000)   a server silent this long is down\n"
    "                              (at least twice the refresh)\n"
    "  --a2s-challenge required|off (required; off is UNSAFE: the edge\n"
    "                              then reflects answers to spoofed sources)\n"
    "  times 100..3600000 ms, max age >= refresh.\n"
    "Entries added here have origin \"cli\" and survive config reloads;\n"
    "deleting one of another origin needs --force.\n";

#define N_CLASSES 4
#define N_FIELDS 7 /* five fields, two of them with a short alias */

static const char *const class_pfx[N_CLASSES] = {"", "validated-", "total-",
						 "icmp-"};

struct limit_args {
	uint64_t pps, burst, bps, burst_bytes;
	double block_s;
	bool burst_set, burst_bytes_set;
};

/* Options --[class-]field for every class, built once. */
static void limit_opts(struct cli_opt *o, char names[][40],
		       struct limit_args *la)
{
	for (int c = 0; c < N_CLASSES; c++) {
		struct limit_args *l = &la[c];
		const struct {
			const char *f;
			enum cli_opt_type t;
			void *dst;
			uint64_t max;
			bool *seen;
		} f[N_FIELDS] = {
		    {"pps", CLI_OPT_U64, &l->pps, UINT32_MAX, NULL},
		    {"burst-packets", CLI_OPT_U64, &l->burst, UINT32_MAX,
		     &l->burst_set},
		    {"burst", CLI_OPT_U64, &l->burst, UINT32_MAX,
		     &l->burst_set},
		    {"bytes-per-s", CLI_OPT_U64, &l->bps, 1ull << 48, NULL},
		    {"bps", CLI_OPT_U64, &l->bps, 1ull << 48, NULL},
		    {"burst-bytes", CLI_OPT_U64, &l->burst_bytes, 1ull << 48,
		     &l->burst_bytes_set},
		    {"block-s", CLI_OPT_SECONDS, &l->block_s, 86400, NULL},
		};

		for (int i = 0; i < N_FIELDS; i++) {
			char *n = names[c * N_FIELDS + i];

			snprintf(n, 40, "%s%s", class_pfx[c], f[i].f);
			o[c * N_FIELDS + i] =
			    (struct cli_opt){.name = n,
					     .type = f[i].t,
					     .dst = f[i].dst,
					     .max = f[i].max,
					     .seen = f[i].seen};
		}
	}
}

static struct km_limit limit_from(const struct limit_args *a)
{
	struct km_limit l = {
	    .pps = a->pps,
	    .burst_pkts = a->burst_set ? a->burst : a->pps,
	    .bps = a->bps,
	    .burst_bytes = a->burst_bytes_set ? a->burst_bytes : a->bps,
	    .block_ms = (uint32_t)(a->block_s * 1000 + 0.5),
	};

	return l;
}

struct a2s_args {
	bool on, any; /* --a2s; any --a2s-* option */
	uint64_t refresh_ms, max_age_ms, timeout_ms;
	const char *challenge;
};

#define N_A2S_OPTS 5

static void a2s_opts(struct cli_opt *o, struct a2s_args *a)
{
	*a = (struct a2s_args){
	    .refresh_ms = 1000, .max_age_ms = 10000, .timeout_ms = 5000};
	o[0] = (struct cli_opt){
	    .name = "a2s", .type = CLI_OPT_FLAG, .dst = &a->on};
	o[1] = (struct cli_opt){.name = "a2s-refresh-ms",
				.type = CLI_OPT_U64,
				.dst = &a->refresh_ms,
				.max = KM_A2S_MAX_MS,
				.seen = &a->any};
	o[2] = (struct cli_opt){.name = "a2s-max-age-ms",
				.type = CLI_OPT_U64,
				.dst = &a->max_age_ms,
				.max = KM_A2S_MAX_MS,
				.seen = &a->any};
	o[3] = (struct cli_opt){.name = "a2s-timeout-ms",
				.type = CLI_OPT_U64,
				.dst = &a->timeout_ms,
				.max = KM_A2S_MAX_MS,
				.seen = &a->any};
	o[4] = (struct cli_opt){.name = "a2s-challenge",
				.type = CLI_OPT_STR,
				.dst = &a->challenge,
				.seen = &a->any};
}

/* The A2S part of a spec, with the config file's rules (usage errors). */
static int a2s_from(const char *cmd, const struct a2s_args *a, uint8_t proto,
		    struct km_a2s_cfg *out)
{
	const char *why;

	*out = (struct km_a2s_cfg){0};
	if (!a->on)
		return a->any
			   ? km_log_errno(-EINVAL,
					  "%s: --a2s-* options need --a2s", cmd)
			   : 0;
	if (proto != IPPROTO_UDP)
		return km_log_errno(-EINVAL, "%s: --a2s: A2S is udp only", cmd);
	if (a->refresh_ms < KM_A2S_MIN_MS || a->max_age_ms < KM_A2S_MIN_MS ||
	    a->timeout_ms < KM_A2S_MIN_MS)
		return km_log_errno(-EINVAL,
				    "%s: --a2s-*-ms values are %llu..%llu ms",
				    cmd, KM_A2S_MIN_MS, KM_A2S_MAX_MS);
	if (a->max_age_ms < a->refresh_ms)
		return km_log_errno(-EINVAL,
				    "%s: --a2s-max-age-ms %llu is less than "
				    "the refresh (%llu ms)",
				    cmd, (unsigned long long)a->max_age_ms,
				    (unsigned long long)a->refresh_ms);
	if (a->timeout_ms < 2 * a->refresh_ms)
		return km_log_errno(-EINVAL,
				    "%s: --a2s-timeout-ms %llu is less than "
				    "twice the refresh (%llu ms)",
				    cmd, (unsigned long long)a->timeout_ms,
				    (unsigned long long)a->refresh_ms);
	out->flags = KM_A2S_F_ENABLED;
	if (a->challenge && !strcmp(a->challenge, "off"))
		out->flags |= KM_A2S_F_NO_CHALLENGE;
	else if (a->challenge && strcmp(a->challenge, "required"))
		return km_log_errno(-EINVAL,
				    "%s: --a2s-challenge wants required or "
				    "off, not \"%s\"",
				    cmd, a->challenge);
	out->refresh_ns = a->refresh_ms * 1000000ull;
	out->max_age_ns = a->max_age_ms * 1000000ull;
	out->timeout_ns = a->timeout_ms * 1000000ull;
	why = km_a2s_cfg_problem(out, proto);
	return why ? km_log_errno(-EINVAL, "%s: %s", cmd, why) : 0;
}

static char *svc_str(char *buf, size_t len, uint8_t proto, uint32_t addr,
		     uint16_t port)
{
	char a[16];

	snprintf(buf, len, "%s %s:%u", cli_proto_name(proto), cli_addr(a, addr),
		 ntohs(port));
	return buf;
}

static char *backend_str(char *buf, size_t len, const struct km_service *v)
{
	char a[16];

	if (v->backend_port)
		snprintf(buf, len, "%s:%u", cli_addr(a, v->backend),
			 ntohs(v->backend_port));
	else
		snprintf(buf, len, "%s", cli_addr(a, v->backend));
	return buf;
}

static int by_id(const void *a, const void *b)
{
	const struct km_service_entry *x = a, *y = b;

	return x->val.id < y->val.id ? -1 : x->val.id > y->val.id;
}

/* "on", "off", or "open": cached answers without a challenge. */
static const char *a2s_word(const struct km_a2s_cfg *a)
{
	if (!(a->flags & KM_A2S_F_ENABLED))
		return "off";
	return a->flags & KM_A2S_F_NO_CHALLENGE ? "open" : "on";
}

static struct json_object *svc_json(const struct km_service_entry *e,
				    const struct km_svc_cfg *cfg,
				    const struct km_a2s_cfg *a2s)
{
	struct json_object *o = json_object_new_object(), *l;
	char a[16];

	json_object_object_add(o, "id", cli_json_u64(e->val.id));
	json_object_object_add(
	    o, "proto", json_object_new_string(cli_proto_name(e->key.proto)));
	json_object_object_add(
	    o, "address", json_object_new_string(cli_addr(a, e->key.addr)));
	json_object_object_add(o, "port", cli_json_u64(ntohs(e->key.port)));
	json_object_object_add(
	    o, "backend", json_object_new_string(cli_addr(a, e->val.backend)));
	json_object_object_add(o, "backend_port",
			       e->val.backend_port
				   ? cli_json_u64(ntohs(e->val.backend_port))
				   : NULL);
	json_object_object_add(
	    o, "origin", json_object_new_string(km_origin_name(e->val.origin)));
	json_object_object_add(
	    o, "a2s", json_object_new_boolean(e->val.flags & KM_SVC_F_A2S));
	json_object_object_add(
	    o, "a2s_challenge",
	    a2s->flags & KM_A2S_F_ENABLED
		? json_object_new_string(
		      a2s->flags & KM_A2S_F_NO_CHALLENGE ? "off" : "required")
		: NULL);
	l = json_object_new_object();
	json_object_object_add(l, "unvalidated",
			       cli_limit_json(&cfg->unvalidated));
	json_object_object_add(l, "validated", cli_limit_json(&cfg->validated));
	/* As the data plane holds it: the service budget divided by CPUs. */
	json_object_object_add(l, "total_per_cpu", cli_limit_json(&cfg->total));
	json_object_object_add(l, "icmp", cli_limit_json(&cfg->icmp));
	json_object_object_add(o, "limits", l);
	return o;
}

static int svc_list(struct cli_ctx *c, int argc, char **argv)
{
	struct json_object *arr = NULL;
	struct km_service_entry *s = NULL;
	struct km_maps m;
	size_t n = 0;
	int r;

	r = cli_list_open(c, "services list", usage, argc, argv, &m);
	if (r)
		return r;
	r = km_services_list(&m, &s, &n);
	if (r)
		goto out;
	qsort(s, n, sizeof(*s), by_id);
	if (c->json)
		arr = json_object_new_array();
	else
		printf("%-5s %-24s %-22s %-10s %-4s %s\n", "ID", "SERVICE",
		       "BACKEND", "ORIGIN", "A2S", "LIMIT PER SOURCE PREFIX");
	for (size_t i = 0; i < n; i++) {
		struct km_svc_cfg cfg;
		struct km_a2s_cfg a2s;
		char sv[48], be[32], lim[64];

		r = km_svc_cfg_read(&m, s[i].val.id, &cfg);
		r = r ?: km_a2s_cfg_read(&m, s[i].val.id, &a2s);
		if (r)
			goto out;
		if (arr) {
			json_object_array_add(arr, svc_json(&s[i], &cfg, &a2s));
			continue;
		}
		printf("%-5u %-24s %-22s %-10s %-4s %s\n", s[i].val.id,
		       svc_str(sv, sizeof(sv), s[i].key.proto, s[i].key.addr,
			       s[i].key.port),
		       backend_str(be, sizeof(be), &s[i].val),
		       km_origin_name(s[i].val.origin), a2s_word(&a2s),
		       cli_limit_str(lim, sizeof(lim), &cfg.unvalidated));
	}
	if (arr)
		cli_json_print_list("services", &arr);
out:
	json_object_put(arr);
	free(s);
	km_maps_close(&m);
	return r;
}

static int svc_add(struct cli_ctx *c, int argc, char **argv)
{
	static const char cmd[] = "services add";
	struct cli_opt opts[N_CLASSES * N_FIELDS + N_A2S_OPTS + 1];
	char names[N_CLASSES * N_FIELDS][40], sv[48];
	struct limit_args la[N_CLASSES] = {};
	struct km_service_spec s = {};
	struct km_service cur;
	struct km_maps m;
	struct a2s_args a2s;
	char *pos[4];
	int np, r;

	limit_opts(opts, names, la);
	a2s_opts(opts + N_CLASSES * N_FIELDS, &a2s);
	opts[N_CLASSES * N_FIELDS + N_A2S_OPTS] =
	    (struct cli_opt){.name = NULL};
	r = cli_args(cmd, usage, argc, argv, opts, pos, &np, 4, 4);
	if (r)
		return r;
	r = cli_parse_proto(cmd, pos[0], &s.proto);
	r = r
		?: cli_parse_addr_port(cmd, "service", pos[1], false, &s.addr,
				       &s.port);
	r = r ?: cli_expect(cmd, pos[2], "backend");
	r = r
		?: cli_parse_addr_port(cmd, "backend", pos[3], true, &s.backend,
				       &s.backend_port);
	r = r ?: a2s_from(cmd, &a2s, s.proto, &s.a2s);
	if (r)
		return r;
	if (!s.addr || !s.backend)
		return km_log_errno(
		    -EINVAL, "%s: 0.0.0.0 is not a service or backend address",
		    cmd);
	s.unvalidated = limit_from(&la[0]);
	s.validated = limit_from(&la[1]);
	s.total = limit_from(&la[2]);
	s.icmp = limit_from(&la[3]);
	r = cli_open_maps(c, &m);
	if (r)
		return r;
	svc_str(sv, sizeof(sv), s.proto, s.addr, s.port);
	r = km_service_get(&m, s.proto, s.addr, s.port, &cur);
	if (!r && cur.origin != KM_ORIGIN_CLI) {
		r = km_log_errno(
		    -EEXIST,
		    "%s: %s is already installed by %s (change it there)", cmd,
		    sv, km_origin_name(cur.origin));
		goto out;
	}
	r = km_service_put(&m, &s, KM_ORIGIN_CLI);
	if (!r)
		r = km_service_get(&m, s.proto, s.addr, s.port, &cur);
	if (!r && (s.a2s.flags & KM_A2S_F_NO_CHALLENGE)) {
		/* The CLI logs errors only; this warning must show anyway. */
		km_log_init(NULL, LOG_WARNING);
		km_warn("%s: %s: --a2s-challenge off: cached answers go to "
			"unproven, spoofable sources (a reflection amplifier)",
			cmd, sv);
		km_log_init(NULL, LOG_ERR);
	}
	if (!r && !c->json) {
		char be[32];

		printf("added %s -> %s (id %u)%s\n", sv,
		       backend_str(be, sizeof(be), &cur), cur.id,
		       !(s.a2s.flags & KM_A2S_F_ENABLED) ? ""
		       : s.a2s.flags & KM_A2S_F_NO_CHALLENGE
			   ? ", A2S cached WITHOUT challenges"
			   : ", A2S cached");
	} else if (!r) {
		struct km_service_entry e = {{s.proto, 0, s.port, s.addr}, cur};
		struct km_svc_cfg cfg;
		struct km_a2s_cfg a2s;

		r = km_svc_cfg_read(&m, cur.id, &cfg);
		r = r ?: km_a2s_cfg_read(&m, cur.id, &a2s);
		if (!r)
			cli_json_print(svc_json(&e, &cfg, &a2s));
	}
out:
	km_maps_close(&m);
	return r;
}

static int svc_del(struct cli_ctx *c, int argc, char **argv)
{
	static const char cmd[] = "services del";
	bool force = false;
	const struct cli_opt opts[] = {
	    {.name = "force", .type = CLI_OPT_FLAG, .dst = &force},
	    {.name = NULL},
	};
	struct km_service cur;
	struct km_maps m;
	uint8_t proto;
	uint32_t addr;
	uint16_t port;
	char *pos[2], sv[48], missing[64];
	int np, r;

	r = cli_args(cmd, usage, argc, argv, opts, pos, &np, 2, 2);
	r = r ?: cli_parse_proto(cmd, pos[0], &proto);
	r = r
		?: cli_parse_addr_port(cmd, "service", pos[1], false, &addr,
				       &port);
	if (r)
		return r;
	r = cli_open_maps(c, &m);
	if (r)
		return r;
	svc_str(sv, sizeof(sv), proto, addr, port);
	snprintf(missing, sizeof(missing), "no service %s", sv);
	r = km_service_get(&m, proto, addr, port, &cur);
	r = cli_check_del(cmd, r, cur.origin, force, sv, missing);
	if (!r)
		r = km_service_del(&m, proto, addr, port, cur.origin);
	if (!r && !c->json)
		printf("deleted %s (id %u, origin %s)\n", sv, cur.id,
		       km_origin_name(cur.origin));
	else if (!r) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "deleted",
				       json_object_new_string(sv));
		json_object_object_add(o, "id", cli_json_u64(cur.id));
		json_object_object_add(
		    o, "origin",
		    json_object_new_string(km_origin_name(cur.origin)));
		cli_json_print(o);
	}
	km_maps_close(&m);
	return r;
}

int cmd_services(struct cli_ctx *c, int argc, char **argv)
{
	static const struct cli_sub subs[] = {
	    {"list", svc_list},
	    {"add", svc_add},
	    {"del", svc_del},
	    {.name = NULL},
	};

	return cli_dispatch(c, "services", usage, subs, argc, argv);
}
