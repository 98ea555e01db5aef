// SPDX-License-Identifier: GPL-2.0-only
/* `kilimanjaro allow|deny [list|add|del]`: the prefix lists. */
#include "cli.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"

static const char allow_usage[] =
    "usage: kilimanjaro allow [list]\n"
    "       kilimanjaro allow add PREFIX\n"
    "       kilimanjaro allow del PREFIX [--force]\n"
    "\n"
    "Sources in an allow prefix skip every rate limit (block and deny still\n"
    "apply). PREFIX is a.b.c.d/len (0..32, host bits zero) or a.b.c.d.\n"
    "Entries added here have origin \"cli\" and survive config reloads;\n"
    "deleting one of another origin needs --force.\n";

static const char deny_usage[] =
    "usage: kilimanjaro deny [list]\n"
    "       kilimanjaro deny add PREFIX\n"
    "       kilimanjaro deny del PREFIX [--force]\n"
    "\n"
    "Packets from a deny prefix are dropped (drop_denied), also towards the\n"
    "edge's own addresses. PREFIX is a.b.c.d/len (0..32, host bits zero) or\n"
    "a.b.c.d. Entries added here have origin \"cli\" and survive config\n"
    "reloads; deleting one of another origin needs --force.\n";

static const char *lname(enum km_list l)
{
	return l == KM_LIST_ALLOW ? "allow" : "deny";
}

static const char *lusage(enum km_list l)
{
	return l == KM_LIST_ALLOW ? allow_usage : deny_usage;
}

static char *prefix_str(char *buf, size_t len, const struct km_prefix_key *k)
{
	char a[16];

	snprintf(buf, len, "%s/%u", cli_addr(a, k->addr), k->prefixlen);
	return buf;
}

static int by_prefix(const void *a, const void *b)
{
	const struct km_prefix_entry *x = a, *y = b;
	uint32_t xa = ntohl(x->key.addr), ya = ntohl(y->key.addr);

	if (xa != ya)
		return xa < ya ? -1 : 1;
	return x->key.prefixlen < y->key.prefixlen
		   ? -1
		   : x->key.prefixlen > y->key.prefixlen;
}

static int list_list(struct cli_ctx *c, enum km_list l, int argc, char **argv)
{
	struct km_prefix_entry *e = NULL;
	struct km_maps m;
	char cmd[16];
	size_t n = 0;
	int r;

	snprintf(cmd, sizeof(cmd), "%s list", lname(l));
	r = cli_list_open(c, cmd, lusage(l), argc, argv, &m);
	if (r)
		return r;
	r = km_prefixes_list(&m, l, &e, &n);
	if (r)
		goto out;
	qsort(e, n, sizeof(*e), by_prefix);
	if (c->json) {
		struct json_object *arr = json_object_new_array();

		for (size_t i = 0; i < n; i++) {
			struct json_object *x = json_object_new_object();
			char p[24];

			json_object_object_add(
			    x, "prefix",
			    json_object_new_string(
				prefix_str(p, sizeof(p), &e[i].key)));
			json_object_object_add(
			    x, "origin",
			    json_object_new_string(
				km_origin_name(e[i].val.origin)));
			json_object_array_add(arr, x);
		}
		cli_json_print_list(lname(l), &arr);
		goto out;
	}
	printf("%-20s %s\n", "PREFIX", "ORIGIN");
	for (size_t i = 0; i < n; i++) {
		char p[24];

		printf("%-20s %s\n", prefix_str(p, sizeof(p), &e[i].key),
		       km_origin_name(e[i].val.origin));
	}
out:
	free(e);
	km_maps_close(&m);
	return r;
}

static void print_done(struct cli_ctx *c, const char *what, const char *p,
		       uint8_t origin)
{
	struct json_object *o;

	if (!c->json) {
		printf("%s %s (origin %s)\n", what, p, km_origin_name(origin));
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, what, json_object_new_string(p));
	json_object_object_add(o, "origin",
			       json_object_new_string(km_origin_name(origin)));
	cli_json_print(o);
}

static int list_edit(struct cli_ctx *c, enum km_list l, bool add, int argc,
		     char **argv)
{
	bool force = false;
	const struct cli_opt opts[] = {
	    {.name = "force", .type = CLI_OPT_FLAG, .dst = &force},
	    {.name = NULL},
	};
	struct km_prefix_key k;
	struct km_prefix_val cur;
	char cmd[16], *pos[1], p[24], missing[64];
	struct km_maps m;
	int np, r;

	snprintf(cmd, sizeof(cmd), "%s %s", lname(l), add ? "add" : "del");
	r = cli_args(cmd, lusage(l), argc, argv, add ? NULL : opts, pos, &np, 1,
		     1);
	r = r ?: cli_parse_prefix(cmd, pos[0], &k);
	if (r)
		return r;
	prefix_str(p, sizeof(p), &k);
	r = cli_open_maps(c, &m);
	if (r)
		return r;
	r = km_prefix_get(&m, l, &k, &cur);
	if (add) {
		if (!r && cur.origin != KM_ORIGIN_CLI)
			r = km_log_errno(-EEXIST,
					 "%s: %s is already installed by %s",
					 cmd, p, km_origin_name(cur.origin));
		else if (!r || r == -ENOENT)
			r = km_prefix_add(&m, l, &k, KM_ORIGIN_CLI);
		if (!r)
			print_done(c, "added", p, KM_ORIGIN_CLI);
		goto out;
	}
	snprintf(missing, sizeof(missing), "%s is not in the %s list", p,
		 lname(l));
	r = cli_check_del(cmd, r, cur.origin, force, p, missing);
	if (!r)
		r = km_prefix_del(&m, l, &k, cur.origin);
	if (!r)
		print_done(c, "deleted", p, cur.origin);
out:
	km_maps_close(&m);
	return r;
}

#define LIST_FNS(L, name)                                                      \
	static int name##_list(struct cli_ctx *c, int argc, char **argv)       \
	{                                                                      \
		return list_list(c, L, argc, argv);                            \
	}                                                                      \
	static int name##_add(struct cli_ctx *c, int argc, char **argv)        \
	{                                                                      \
		return list_edit(c, L, true, argc, argv);                      \
	}                                                                      \
	static int name##_del(struct cli_ctx *c, int argc, char **argv)        \
	{                                                                      \
		return list_edit(c, L, false, argc, argv);                     \
	}

LIST_FNS(KM_LIST_ALLOW, allow)
LIST_FNS(KM_LIST_DENY, deny)

int cmd_allow(struct cli_ctx *c, int argc, char **argv)
{
	static const struct cli_sub subs[] = {
	    {"list", allow_list},
	    {"add", allow_add},
	    {"del", allow_del},
	    {.name = NULL},
	};

	return cli_dispatch(c, "allow", allow_usage, subs, argc, argv);
}

int cmd_deny(struct cli_ctx *c, int argc, char **argv)
{
	static const struct cli_sub subs[] = {
	    {"list", deny_list},
	    {"add", deny_add},
	    {"del", deny_del},
	    {.name = NULL},
	};

	return cli_dispatch(c, "deny", deny_usage, subs, argc, argv);
}
