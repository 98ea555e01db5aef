// SPDX-License-Identifier: GPL-2.0-only
/*
 * The loader's pre-flight (loader/preflight.c) against the maps of the real
 * XDP object (loaded with small lists and blocks, never attached): each
 * map apply fills is judged with the entries of other origins it keeps,
 * the message names map, numbers and file, and nothing is written.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <criterion/criterion.h>

#include "kilimanjaro.skel.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/maps.h"
#include "preflight.h"

#define A(a, b, c, d) htonl((uint32_t)(a) << 24 | (b) << 16 | (c) << 8 | (d))
#define SMALL 64

static struct kilimanjaro *skel;
static struct km_maps m;

static void setup(void)
{
	struct km_config cfg = {.abi_version = KM_ABI_VERSION,
				.rl_prefix_len = 24};

	km_log_init("test-preflight", LOG_ERR);
	skel = kilimanjaro__open();
	cr_assert_not_null(skel, "cannot open the XDP object");
	/* As map_sizes would. */
	bpf_map__set_max_entries(skel->maps.km_allow_a, SMALL);
	bpf_map__set_max_entries(skel->maps.km_allow_b, SMALL);
	bpf_map__set_max_entries(skel->maps.km_deny_a, SMALL);
	bpf_map__set_max_entries(skel->maps.km_deny_b, SMALL);
	bpf_map__set_max_entries(skel->maps.km_blocks, SMALL);
	cr_assert_eq(kilimanjaro__load(skel), 0, "cannot load the XDP object");
	cr_assert_eq(km_maps_from_object(&m, skel->obj), 0);
	cr_assert_eq(km_config_write(&m, &cfg), 0);
}

static void teardown(void)
{
	km_maps_close(&m);
	kilimanjaro__destroy(skel);
}

TestSuite(preflight, .init = setup, .fini = teardown);

/* Parse a config file's text (the cfg must be km_cfg_free'd). */
static void parse(const char *text, struct km_cfg *cfg)
{
	struct km_cfg_errors errs = {0};
	int r =
	    km_cfg_parse_string("edge.json", text, strlen(text), cfg, &errs);

	cr_assert_eq(r, 0, "config refused: %s", text);
	km_cfg_errors_free(&errs);
}

/* Run the pre-flight; *log gets what it wrote to stderr (free it). */
static int run(const struct km_cfg *cfg, char **log)
{
	FILE *f = tmpfile();
	int saved = dup(2), r;
	long n;

	cr_assert(f && saved >= 0);
	fflush(stderr);
	dup2(fileno(f), 2);
	r = preflight_check(&m, cfg, "edge.json", "reload refused",
			    "the running configuration is unchanged");
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = lseek(fileno(f), 0, SEEK_END);
	*log = calloc(1, (size_t)n + 1);
	cr_assert_not_null(*log);
	cr_assert_eq(pread(fileno(f), *log, (size_t)n, 0), n);
	fclose(f);
	return r;
}

/* A config with `n` quoted entries from fmt(i) in member `key`. */
static char *config_with(const char *key, const char *(*fmt)(int, char *),
			 int n, const char *more)
{
	size_t sz = 256 + (size_t)n * 160 + strlen(more);
	char *t = malloc(sz), one[160];
	size_t o;

	cr_assert_not_null(t);
	o = (size_t)snprintf(t, sz, "{ \"interface\": \"lo\", %s \"%s\": [",
			     more, key);
	for (int i = 0; i < n; i++)
		o += (size_t)snprintf(t + o, sz - o, "%s%s", i ? ", " : "",
				      fmt(i, one));
	snprintf(t + o, sz - o, "] }");
	return t;
}

static const char *deny_fmt(int i, char *b)
{
	sprintf(b, "\"198.19.%d.0/24\"", 150 + i);
	return b;
}

static const char *edge_fmt(int i, char *b)
{
	sprintf(b, "\"198.18.1.%d\"", 100 + i);
	return b;
}

static const char *block_fmt(int i, char *b)
{
	sprintf(b, "{ \"address\": \"198.19.250.%d\", \"seconds\": 600 }",
		i + 1);
	return b;
}

static const char *svc_fmt(int i, char *b)
{
	sprintf(b,
		"{ \"protocol\": \"udp\", \"address\": \"198.18.12.1\", "
		"\"port\": %d, \"backend\": \"198.18.2.2\" }",
		20000 + i);
	return b;
}

static uint16_t svc_epoch(void)
{
	struct km_config c;

	cr_assert_eq(km_config_read(&m, &c), 0);
	return c.svc_epoch;
}

Test(preflight, deny_list_over_capacity_names_list_numbers_file)
{
	char *text = config_with("deny", deny_fmt, 50,
				 "\"edge_addresses\": [\"198.18.1.2\"], "
				 "\"allow\": [\"198.18.5.0/24\"],"),
	     *log;
	struct km_cfg cfg;
	uint16_t epoch;

	for (int i = 0; i < 20; i++) {
		struct km_prefix_key k = {24, A(198, 19, 100 + i, 0)};

		cr_assert_eq(km_prefix_add(&m, KM_LIST_DENY, &k, KM_ORIGIN_CLI),
			     0);
	}
	parse(text, &cfg);
	epoch = svc_epoch();
	cr_assert_eq(run(&cfg, &log), -ENOSPC);
	cr_assert(strstr(log, "reload refused: edge.json: deny list: 50 "
			      "prefixes from the config + 20 added outside it "
			      "(cli 20) exceed its capacity 64 "
			      "(map_sizes.prefixes); the running "
			      "configuration is unchanged"),
		  "%s", log);
	cr_assert_null(strstr(log, "allow list"), "%s", log);
	cr_assert_eq(km_map_count(&m, KM_M_DENY_A) +
			 km_map_count(&m, KM_M_DENY_B),
		     20, "the pre-flight wrote to the lists");
	cr_assert_eq(svc_epoch(), epoch);
	free(log);
	km_cfg_free(&cfg);
	free(text);
}

Test(preflight, a_shared_prefix_takes_one_entry)
{
	char *text = config_with("deny", deny_fmt, 50,
				 "\"edge_addresses\": [\"198.18.1.2\"],"),
	     *log;
	struct km_cfg cfg;

	/* 14 of the CLI's prefixes are in the file too: 50 + 28 - 14 = 64. */
	for (int i = 0; i < 28; i++) {
		struct km_prefix_key k = {24, A(198, 19, 136 + i, 0)};

		cr_assert_eq(km_prefix_add(&m, KM_LIST_DENY, &k, KM_ORIGIN_CLI),
			     0);
	}
	parse(text, &cfg);
	cr_assert_eq(run(&cfg, &log), 0, "%s", log);
	free(log);
	km_cfg_free(&cfg);
	/* One more of the CLI's own: 65. */
	{
		struct km_prefix_key k = {24, A(198, 19, 99, 0)};

		cr_assert_eq(km_prefix_add(&m, KM_LIST_DENY, &k, KM_ORIGIN_CLI),
			     0);
	}
	parse(text, &cfg);
	cr_assert_eq(run(&cfg, &log), -ENOSPC);
	cr_assert(strstr(log, "deny list: 50 prefixes from the config + 29 "
			      "added outside it (cli 29), 14 of them in "
			      "both, exceed its capacity 64"),
		  "%s", log);
	free(log);
	km_cfg_free(&cfg);
	free(text);
}

Test(preflight, edge_addresses_and_blocks)
{
	uint32_t ctl[60];
	char *text = config_with("edge_addresses", edge_fmt, 10, ""), *log, *t2;
	struct km_cfg cfg;

	for (int i = 0; i < 60; i++)
		ctl[i] = A(198, 18, 3, i + 1);
	cr_assert_eq(km_edge_addrs_sync(&m, ctl, 60, KM_ORIGIN_CONTROLLER), 0);
	parse(text, &cfg);
	cr_assert_eq(run(&cfg, &log), -ENOSPC);
	cr_assert(strstr(log, "edge addresses: 10 addresses from the config "
			      "+ 60 added outside it (controller 60) exceed "
			      "its capacity 64 (fixed by the program, "
			      "KM_MAX_EDGE_ADDRS)"),
		  "%s", log);
	free(log);
	km_cfg_free(&cfg);

	cr_assert_eq(km_edge_addrs_sync(&m, NULL, 0, KM_ORIGIN_CONTROLLER), 0);
	for (int i = 0; i < 60; i++)
		cr_assert_eq(km_block_put(&m, A(198, 19, 251, i + 1),
					  km_mono_ns() + 3600000000000ull,
					  KM_ORIGIN_CLI),
			     0);
	t2 = config_with("blocks", block_fmt, 10,
			 "\"edge_addresses\": [\"198.18.1.2\"],");
	parse(t2, &cfg);
	cr_assert_eq(run(&cfg, &log), -ENOSPC);
	cr_assert(strstr(log, "blocks: 10 blocks from the config + 60 added "
			      "outside it (cli 60) exceed its capacity 64 "
			      "(map_sizes.blocks)"),
		  "%s", log);
	cr_assert_null(strstr(log, "edge addresses"), "%s", log);
	cr_assert_eq(km_map_count(&m, KM_M_BLOCKS), 60);
	free(log);
	km_cfg_free(&cfg);
	free(t2);
	free(text);
}

/* The sync puts before it deletes: running and new services need ids of
 * their own for a moment. */
Test(preflight, services_need_ids_while_the_running_ones_hold_theirs)
{
	size_t n = KM_MAX_SERVICES - 50;
	struct km_service_spec *s = calloc(n, sizeof(*s));
	char *text = config_with("services", svc_fmt, 100,
				 "\"edge_addresses\": [\"198.18.1.2\"],"),
	     *log;
	struct km_cfg cfg;

	cr_assert_not_null(s);
	for (size_t i = 0; i < n; i++)
		s[i] = (struct km_service_spec){
		    .proto = IPPROTO_UDP,
		    .addr = A(198, 18, 11, 1),
		    .port = htons((uint16_t)(1000 + i)),
		    .backend = A(198, 18, 2, 2),
		};
	cr_assert_eq(km_services_sync(&m, s, n, KM_ORIGIN_CONFIG), 0);
	parse(text, &cfg);
	cr_assert_eq(run(&cfg, &log), -ENOSPC);
	cr_assert(strstr(log, "services: the config's 100 new services need "
			      "ids while the 4046 running ones still hold "
			      "theirs: 4146 exceed the 4096 there are"),
		  "%s", log);
	cr_assert_eq(km_map_count(&m, KM_M_SERVICES), (long)n);
	free(log);
	km_cfg_free(&cfg);
	free(text);
	free(s);
}

Test(preflight, a_service_of_another_origin_in_the_way)
{
	struct km_service_spec s = {
	    .proto = IPPROTO_UDP,
	    .addr = A(198, 18, 12, 1),
	    .port = htons(20001),
	    .backend = A(198, 18, 2, 2),
	};
	char *text = config_with("services", svc_fmt, 3,
				 "\"edge_addresses\": [\"198.18.1.2\"],"),
	     *log;
	struct km_cfg cfg;
	uint16_t epoch;

	cr_assert_eq(km_service_put(&m, &s, KM_ORIGIN_CLI), 0);
	epoch = svc_epoch();
	parse(text, &cfg);
	cr_assert_eq(run(&cfg, &log), -EEXIST);
	cr_assert(strstr(log, "udp 198.18.12.1:20001 already installed by cli"),
		  "%s", log);
	cr_assert(strstr(log, "reload refused: edge.json: services: see the "
			      "error above; the running configuration is "
			      "unchanged"),
		  "%s", log);
	cr_assert_eq(km_map_count(&m, KM_M_SERVICES), 1);
	cr_assert_eq(svc_epoch(), epoch, "the check wrote km_services");
	free(log);
	km_cfg_free(&cfg);
	free(text);
}

Test(preflight, a_config_that_fits_passes_and_writes_nothing)
{
	char *text = config_with("services", svc_fmt, 3,
				 "\"edge_addresses\": [\"198.18.1.2\"], "
				 "\"deny\": [\"198.19.1.0/24\"],"),
	     *log;
	struct km_cfg cfg;
	uint16_t epoch = svc_epoch();

	parse(text, &cfg);
	cr_assert_eq(run(&cfg, &log), 0, "%s", log);
	cr_assert_eq(log[0], 0, "%s", log);
	cr_assert_eq(km_map_count(&m, KM_M_SERVICES), 0);
	cr_assert_eq(km_map_count(&m, KM_M_EDGE_ADDRS), 0);
	cr_assert_eq(svc_epoch(), epoch);
	free(log);
	km_cfg_free(&cfg);
	free(text);
}

/* km_blocks is an LRU map: the block sync deletes the file's old blocks
 * before it adds the new ones, so replacing them in a full map evicts
 * none of the CLI's (puts first would hold 96 entries for a moment). */
Test(preflight, replacing_the_config_blocks_of_a_full_map_evicts_nothing)
{
	struct km_block_spec b[SMALL / 2];
	uint64_t until = km_mono_ns() + 3600000000000ull;
	struct km_block cur;

	for (int i = 0; i < SMALL / 2; i++)
		cr_assert_eq(km_block_put(&m, A(198, 19, 251, i + 1), until,
					  KM_ORIGIN_CLI),
			     0);
	for (int i = 0; i < SMALL / 2; i++)
		b[i] = (struct km_block_spec){A(198, 19, 252, i + 1), until};
	cr_assert_eq(km_blocks_sync(&m, b, SMALL / 2, KM_ORIGIN_CONFIG), 0);
	cr_assert_eq(km_map_count(&m, KM_M_BLOCKS), SMALL);
	for (int i = 0; i < SMALL / 2; i++)
		b[i] = (struct km_block_spec){A(198, 19, 253, i + 1), until};
	cr_assert_eq(km_blocks_sync(&m, b, SMALL / 2, KM_ORIGIN_CONFIG), 0);
	for (int i = 0; i < SMALL / 2; i++) {
		cr_assert_eq(km_block_get(&m, A(198, 19, 251, i + 1), &cur), 0,
			     "the CLI's block %d was evicted", i + 1);
		cr_assert_eq(km_block_get(&m, A(198, 19, 253, i + 1), &cur), 0,
			     "the config's new block %d is missing", i + 1);
	}
	cr_assert_eq(km_map_count(&m, KM_M_BLOCKS), SMALL);
}
