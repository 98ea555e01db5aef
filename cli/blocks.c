// SPDX-License-Identifier: GPL-2.0-only
/* `kilimanjaro blocks [list|add|del]`: the timed block list. */
#include "cli.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"

#define DEFAULT_BLOCK_S 3600
#define MAX_BLOCK_S (366ull * 86400)

static const char usage[] =
    "usage: kilimanjaro blocks [list]\n"
    "       kilimanjaro blocks add ADDR [--seconds N]\n"
    "       kilimanjaro blocks del ADDR [--force]\n"
    "\n"
    "Every packet from a blocked address is dropped (drop_blocked) until the\n"
    "block expires: after --seconds (default 3600, at most 366 days).\n"
    "Adding an address the CLI already blocks sets its new expiry. Entries\n"
    "added here have origin \"cli\"; deleting one of another origin needs\n"
    "--force.\n";

static int by_addr(const void *a, const void *b)
{
	uint32_t x = ntohl(((const struct km_block_entry *)a)->addr);
	uint32_t y = ntohl(((const struct km_block_entry *)b)->addr);

	return x < y ? -1 : x > y;
}

static const char *reason_name(uint8_t r)
{
	return r == KM_BLOCK_MANUAL	 ? "manual"
	       : r == KM_BLOCK_RATELIMIT ? "ratelimit"
					 : "unknown";
}

static int blk_list(struct cli_ctx *c, int argc, char **argv)
{
	struct json_object *arr = NULL;
	struct km_block_entry *e = NULL;
	uint64_t now = km_mono_ns();
	struct km_maps m;
	size_t n = 0;
	int r;

	r = cli_list_open(c, "blocks list", usage, argc, argv, &m);
	if (r)
		return r;
	r = km_blocks_list(&m, &e, &n);
	if (r)
		goto out;
	qsort(e, n, sizeof(*e), by_addr);
	if (c->json)
		arr = json_object_new_array();
	else
		printf("%-16s %-10s %-10s %s\n", "ADDRESS", "ORIGIN", "REASON",
		       "REMAINING");
	for (size_t i = 0; i < n; i++) {
		bool live = now < e[i].val.until_ns;
		double left = live ? (e[i].val.until_ns - now) / 1e9 : 0;
		char a[16], d[24];

		if (!arr) {
			printf("%-16s %-10s %-10s %s\n", cli_addr(a, e[i].addr),
			       km_origin_name(e[i].val.origin),
			       reason_name(e[i].val.reason),
			       live ? cli_duration(d, sizeof(d), left)
				    : "expired");
			continue;
		}
		struct json_object *o = json_object_new_object();

		json_object_object_add(
		    o, "address",
		    json_object_new_string(cli_addr(a, e[i].addr)));
		json_object_object_add(
		    o, "origin",
		    json_object_new_string(km_origin_name(e[i].val.origin)));
		json_object_object_add(
		    o, "reason",
		    json_object_new_string(reason_name(e[i].val.reason)));
		json_object_object_add(o, "remaining_s",
				       json_object_new_double(left));
		json_object_object_add(o, "expired",
				       json_object_new_boolean(!live));
		json_object_array_add(arr, o);
	}
	if (arr)
		cli_json_print_list("blocks", &arr);
out:
	json_object_put(arr);
	free(e);
	km_maps_close(&m);
	return r;
}

static void print_done(struct cli_ctx *c, const char *what, const char *a,
		       uint8_t origin, double seconds)
{
	struct json_object *o;
	char d[24];

	if (!c->json) {
		if (seconds > 0)
			printf("%s %s for %s (origin %s)\n", what, a,
			       cli_duration(d, sizeof(d), seconds),
			       km_origin_name(origin));
		else
			printf("%s %s (origin %s)\n", what, a,
			       km_origin_name(origin));
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, what, json_object_new_string(a));
	json_object_object_add(o, "origin",
			       json_object_new_string(km_origin_name(origin)));
	if (seconds > 0)
		json_object_object_add(o, "remaining_s",
				       json_object_new_double(seconds));
	cli_json_print(o);
}

static int blk_add(struct cli_ctx *c, int argc, char **argv)
{
	static const char cmd[] = "blocks add";
	double seconds = DEFAULT_BLOCK_S;
	const struct cli_opt opts[] = {
	    {.name = "seconds",
	     .type = CLI_OPT_SECONDS,
	     .dst = &seconds,
	     .max = MAX_BLOCK_S},
	    {.name = NULL},
	};
	struct km_block cur;
	struct km_maps m;
	char *pos[1], a[16];
	uint32_t addr;
	int np, r;

	r = cli_args(cmd, usage, argc, argv, opts, pos, &np, 1, 1);
	r = r ?: cli_parse_addr(cmd, "", pos[0], &addr);
	if (r)
		return r;
	if (!addr || seconds <= 0)
		return km_log_errno(-EINVAL, "%s: %s", cmd,
				    addr ? "--seconds must be above 0"
					 : "0.0.0.0 cannot be blocked");
	r = cli_open_maps(c, &m);
	if (r)
		return r;
	cli_addr(a, addr);
	r = km_block_get(&m, addr, &cur);
	if (!r && cur.origin != KM_ORIGIN_CLI && km_mono_ns() < cur.until_ns)
		r = km_log_errno(-EEXIST, "%s: %s is already blocked by %s",
				 cmd, a, km_origin_name(cur.origin));
	else if (!r || r == -ENOENT)
		r = km_block_put(&m, addr,
				 km_mono_ns() + (uint64_t)(seconds * 1e9),
				 KM_ORIGIN_CLI);
	if (!r)
		print_done(c, "blocked", a, KM_ORIGIN_CLI, seconds);
	km_maps_close(&m);
	return r;
}

static int blk_del(struct cli_ctx *c, int argc, char **argv)
{
	static const char cmd[] = "blocks del";
	bool force = false;
	const struct cli_opt opts[] = {
	    {.name = "force", .type = CLI_OPT_FLAG, .dst = &force},
	    {.name = NULL},
	};
	char *pos[1], a[16], what[32], missing[32];
	struct km_block cur;
	struct km_maps m;
	uint32_t addr;
	int np, r;

	r = cli_args(cmd, usage, argc, argv, opts, pos, &np, 1, 1);
	r = r ?: cli_parse_addr(cmd, "", pos[0], &addr);
	if (r)
		return r;
	r = cli_open_maps(c, &m);
	if (r)
		return r;
	cli_addr(a, addr);
	snprintf(what, sizeof(what), "the block of %s", a);
	snprintf(missing, sizeof(missing), "%s is not blocked", a);
	r = km_block_get(&m, addr, &cur);
	r = cli_check_del(cmd, r, cur.origin, force, what, missing);
	if (!r)
		r = km_block_del(&m, addr, cur.origin);
	if (!r)
		print_done(c, "unblocked", a, cur.origin, 0);
	km_maps_close(&m);
	return r;
}

int cmd_blocks(struct cli_ctx *c, int argc, char **argv)
{
	static const struct cli_sub subs[] = {
	    {"list", blk_list},
	    {"add", blk_add},
	    {"del", blk_del},
	    {.name = NULL},
	};

	return cli_dispatch(c, "blocks", usage, subs, argc, argv);
}
