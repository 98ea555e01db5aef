// SPDX-License-Identifier: GPL-2.0-only
/* `kilimanjaro punches [list|add|del]`: port punches. */
#include "cli.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"

static const char usage[] =
    "usage: kilimanjaro punches [list]\n"
    "       kilimanjaro punches add PROTO SVCADDR:PORT REMOTE:PORT backend "
    "BACKEND\n"
    "       kilimanjaro punches del PROTO SVCADDR:PORT REMOTE:PORT [--force]\n"
    "\n"
    "A punch forwards packets from REMOTE:PORT to the service address and\n"
    "port SVCADDR:PORT on to BACKEND, as if the backend had opened the flow\n"
    "itself (the data plane learns punches that way, origin \"learned\").\n"
    "A punch expires after the configured idle time without traffic.\n"
    "Entries added here have origin \"cli\"; deleting one of another origin\n"
    "needs --force.\n";

static int by_key(const void *a, const void *b)
{
	const struct km_punch_entry *x = a, *y = b;
	uint32_t xs = ntohl(x->key.svc_addr), ys = ntohl(y->key.svc_addr);
	uint32_t xr = ntohl(x->key.remote), yr = ntohl(y->key.remote);

	if (xs != ys)
		return xs < ys ? -1 : 1;
	if (x->key.svc_port != y->key.svc_port)
		return ntohs(x->key.svc_port) < ntohs(y->key.svc_port) ? -1 : 1;
	if (xr != yr)
		return xr < yr ? -1 : 1;
	return ntohs(x->key.remote_port) < ntohs(y->key.remote_port)
		   ? -1
		   : x->key.remote_port != y->key.remote_port;
}

static char *ap_str(char *buf, size_t len, uint32_t addr, uint16_t port)
{
	char a[16];

	snprintf(buf, len, "%s:%u", cli_addr(a, addr), ntohs(port));
	return buf;
}

static struct json_object *punch_json(const struct km_punch_entry *e,
				      double idle, double left, bool has_left)
{
	struct json_object *o = json_object_new_object();
	char a[16];

	json_object_object_add(
	    o, "proto", json_object_new_string(cli_proto_name(e->key.proto)));
	json_object_object_add(
	    o, "service_address",
	    json_object_new_string(cli_addr(a, e->key.svc_addr)));
	json_object_object_add(o, "service_port",
			       cli_json_u64(ntohs(e->key.svc_port)));
	json_object_object_add(
	    o, "remote_address",
	    json_object_new_string(cli_addr(a, e->key.remote)));
	json_object_object_add(o, "remote_port",
			       cli_json_u64(ntohs(e->key.remote_port)));
	json_object_object_add(
	    o, "backend", json_object_new_string(cli_addr(a, e->val.backend)));
	json_object_object_add(
	    o, "origin", json_object_new_string(km_origin_name(e->val.origin)));
	json_object_object_add(o, "idle_s", json_object_new_double(idle));
	json_object_object_add(o, "remaining_s",
			       has_left ? json_object_new_double(left) : NULL);
	return o;
}

static int punch_list(struct cli_ctx *c, int argc, char **argv)
{
	struct json_object *arr = NULL;
	struct km_punch_entry *e = NULL;
	uint64_t now = km_mono_ns();
	struct km_config cfg;
	struct km_maps m;
	size_t n = 0;
	int r;

	r = cli_list_open(c, "punches list", usage, argc, argv, &m);
	if (r)
		return r;
	r = km_config_read(&m, &cfg);
	r = r ?: km_punches_list(&m, &e, &n);
	if (r)
		goto out;
	qsort(e, n, sizeof(*e), by_key);
	if (c->json)
		arr = json_object_new_array();
	else
		printf("%-5s %-21s %-21s %-15s %-8s %-7s %s\n", "PROTO",
		       "SERVICE", "REMOTE", "BACKEND", "ORIGIN", "IDLE",
		       "EXPIRES");
	for (size_t i = 0; i < n; i++) {
		uint64_t seen = e[i].val.last_seen_ns;
		double idle = now > seen ? (now - seen) / 1e9 : 0;
		double left = cfg.punch_idle_ns / 1e9 - idle;
		bool has_left = cfg.punch_idle_ns != 0;
		char s[24], rm[24], b[16], d1[24], d2[24];

		if (left < 0)
			left = 0;
		if (arr) {
			json_object_array_add(
			    arr, punch_json(&e[i], idle, left, has_left));
			continue;
		}
		printf(
		    "%-5s %-21s %-21s %-15s %-8s %-7s %s\n",
		    cli_proto_name(e[i].key.proto),
		    ap_str(s, sizeof(s), e[i].key.svc_addr, e[i].key.svc_port),
		    ap_str(rm, sizeof(rm), e[i].key.remote,
			   e[i].key.remote_port),
		    cli_addr(b, e[i].val.backend),
		    km_origin_name(e[i].val.origin),
		    cli_duration(d1, sizeof(d1), idle),
		    !has_left  ? "-"
		    : left > 0 ? cli_duration(d2, sizeof(d2), left)
			       : "expired");
	}
	if (arr)
		cli_json_print_list("punches", &arr);
out:
	json_object_put(arr);
	free(e);
	km_maps_close(&m);
	return r;
}

static int parse_key(const char *cmd, char **pos, struct km_punch_key *k)
{
	int r;

	memset(k, 0, sizeof(*k));
	r = cli_parse_proto(cmd, pos[0], &k->proto);
	r = r
		?: cli_parse_addr_port(cmd, "service", pos[1], false,
				       &k->svc_addr, &k->svc_port);
	r = r
		?: cli_parse_addr_port(cmd, "remote", pos[2], false, &k->remote,
				       &k->remote_port);
	if (!r && (!k->svc_addr || !k->remote))
		r = km_log_errno(
		    -EINVAL, "%s: 0.0.0.0 is not a service or remote address",
		    cmd);
	return r;
}

static void print_done(struct cli_ctx *c, const char *what,
		       const struct km_punch_key *k, uint32_t backend,
		       uint8_t origin)
{
	char s[24], rm[24], b[16];
	struct json_object *o;

	ap_str(s, sizeof(s), k->svc_addr, k->svc_port);
	ap_str(rm, sizeof(rm), k->remote, k->remote_port);
	cli_addr(b, backend);
	if (!c->json) {
		printf("%s punch %s %s <- %s via %s (origin %s)\n", what,
		       cli_proto_name(k->proto), s, rm, b,
		       km_origin_name(origin));
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, what, json_object_new_boolean(1));
	json_object_object_add(
	    o, "proto", json_object_new_string(cli_proto_name(k->proto)));
	json_object_object_add(o, "service", json_object_new_string(s));
	json_object_object_add(o, "remote", json_object_new_string(rm));
	json_object_object_add(o, "backend", json_object_new_string(b));
	json_object_object_add(o, "origin",
			       json_object_new_string(km_origin_name(origin)));
	cli_json_print(o);
}

static int punch_add(struct cli_ctx *c, int argc, char **argv)
{
	static const char cmd[] = "punches add";
	struct km_punch_key k;
	struct km_punch cur;
	struct km_maps m;
	uint32_t backend;
	char *pos[5];
	int np, r;

	r = cli_args(cmd, usage, argc, argv, NULL, pos, &np, 5, 5);
	r = r ?: parse_key(cmd, pos, &k);
	r = r ?: cli_expect(cmd, pos[3], "backend");
	r = r ?: cli_parse_addr(cmd, "backend", pos[4], &backend);
	if (r)
		return r;
	if (!backend)
		return km_log_errno(-EINVAL, "%s: 0.0.0.0 is not a backend",
				    cmd);
	r = cli_open_maps(c, &m);
	if (r)
		return r;
	r = km_punch_get(&m, &k, &cur);
	if (!r && cur.origin != KM_ORIGIN_CLI)
		r = km_log_errno(-EEXIST,
				 "%s: this punch is already installed by %s",
				 cmd, km_origin_name(cur.origin));
	else if (!r || r == -ENOENT)
		r = km_punch_put(&m, &k, backend, KM_ORIGIN_CLI);
	if (!r)
		print_done(c, "added", &k, backend, KM_ORIGIN_CLI);
	km_maps_close(&m);
	return r;
}

static int punch_del(struct cli_ctx *c, int argc, char **argv)
{
	static const char cmd[] = "punches del";
	bool force = false;
	const struct cli_opt opts[] = {
	    {.name = "force", .type = CLI_OPT_FLAG, .dst = &force},
	    {.name = NULL},
	};
	struct km_punch_key k;
	struct km_punch cur;
	struct km_maps m;
	char *pos[3];
	int np, r;

	r = cli_args(cmd, usage, argc, argv, opts, pos, &np, 3, 3);
	r = r ?: parse_key(cmd, pos, &k);
	if (r)
		return r;
	r = cli_open_maps(c, &m);
	if (r)
		return r;
	r = km_punch_get(&m, &k, &cur);
	r = cli_check_del(cmd, r, cur.origin, force, "this punch",
			  "no such punch");
	if (!r)
		r = km_punch_del(&m, &k);
	if (!r)
		print_done(c, "deleted", &k, cur.backend, cur.origin);
	km_maps_close(&m);
	return r;
}

int cmd_punches(struct cli_ctx *c, int argc, char **argv)
{
	static const struct cli_sub subs[] = {
	    {"list", punch_list},
	    {"add", punch_add},
	    {"del", punch_del},
	    {.name = NULL},
	};

	return cli_dispatch(c, "punches", usage, subs, argc, argv);
}
