// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: the configuration file parser (lib/config.c), fed any
 * bytes as the text of a file. Besides "no crash, no leak, no undefined
 * behaviour" (ASan, UBSan, LSan) it checks the contract of lib/config.h:
 *
 *  - 0 means no error line and a usable result; -EINVAL means at least one
 *    error line; nothing else but -ENOMEM;
 *  - every error line names the file ("<name>: ...") and has no newline;
 *  - a valid result holds what the maps accept: prefixes without host
 *    bits, 1..64 edge addresses, services with a protocol and a port,
 *    blocks that resolve without wrapping the clock;
 *  - km_cfg_free() leaves a zeroed struct (it is called twice).
 *
 * The same bytes, NUL-terminated, also go through the RFC 3339 parser of
 * "blocks[].until".
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"

#define FZ_NAME "fuzz_config"
#include "fuzz_common.h"

#define FILE_NAME "fuzz.json"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* Errors are collected, not logged; keep anything else quiet. */
	km_log_init("fuzz_config", LOG_CRIT);
	return 0;
}

static int prefix_ok(const struct km_prefix_key *k)
{
	uint32_t host_mask;

	if (k->prefixlen > 32)
		return 0;
	host_mask = k->prefixlen == 32 ? 0 : 0xffffffffu >> k->prefixlen;
	return (__builtin_bswap32(k->addr) & host_mask) == 0;
}

static void check_valid(const struct km_cfg *cfg)
{
	struct km_block_spec *out;
	struct km_config kc = {0};
	size_t i, n;

	CHECK(cfg->rl_prefix_len >= 1 && cfg->rl_prefix_len <= 32);
	/* edge_addresses is required: [0] is the IPIP outer source. */
	CHECK(cfg->n_edge_addrs >= 1 && cfg->n_edge_addrs <= KM_MAX_EDGE_ADDRS);
	CHECK(cfg->edge_addrs && cfg->edge_addrs[0]);
	CHECK(cfg->n_services <= KM_MAX_SERVICES);
	CHECK(memchr(cfg->ifname, '\0', sizeof(cfg->ifname)));
	for (i = 0; i < cfg->n_allow; i++)
		CHECK(prefix_ok(&cfg->allow[i]));
	for (i = 0; i < cfg->n_deny; i++)
		CHECK(prefix_ok(&cfg->deny[i]));
	for (i = 0; i < cfg->n_services; i++) {
		const struct km_service_spec *s = &cfg->services[i];

		CHECK(s->proto == 6 || s->proto == 17);
		CHECK(s->port != 0);
		/* "name" is optional: NULL, or a non-empty string. */
		CHECK(cfg->service_names);
		CHECK(!cfg->service_names[i] || cfg->service_names[i][0]);
	}
	for (i = 0; i < KM_CFG_SZ_MAX; i++)
		CHECK(cfg->map_size[i] > 0);

	km_cfg_to_km_config(cfg, &kc);
	CHECK(kc.abi_version == KM_ABI_VERSION);
	CHECK(kc.edge_addr == (cfg->n_edge_addrs ? cfg->edge_addrs[0] : 0));

	/* Both ends of the clocks: nothing may wrap. */
	out = calloc(cfg->n_blocks + 1, sizeof(*out));
	CHECK(out);
	n = km_cfg_blocks_resolve(cfg, 0, 0, out);
	CHECK(n <= cfg->n_blocks);
	n = km_cfg_blocks_resolve(cfg, UINT64_MAX - 1, INT64_MAX, out);
	CHECK(n <= cfg->n_blocks);
	for (i = 0; i < n; i++)
		CHECK(out[i].until_ns >= UINT64_MAX - 1);
	free(out);
}

/* An error line goes to the journal as one line: a newline in it would
 * start a forged line (with its own <N> priority), a carriage return or an
 * escape sequence would rewrite the terminal. Tabs are harmless. */
static int one_line(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 && *s != '\t')
			return 0;
	return 1;
}

static void check_errors(const struct km_cfg_errors *e)
{
	size_t i;

	CHECK(e->n <= KM_CFG_MAX_ERRORS);
	CHECK(e->n == 0 || e->msg);
	for (i = 0; i < e->n; i++) {
		CHECK(e->msg[i]);
		CHECK(!strncmp(e->msg[i], FILE_NAME ": ",
			       strlen(FILE_NAME ": ")));
		CHECK(one_line(e->msg[i]));
	}
}

static void fuzz_rfc3339(const uint8_t *data, size_t size)
{
	int64_t t = 0;
	char *s;
	int r;

	/* Dates are short; long inputs only repeat the work above. */
	if (size > 64)
		return;
	s = malloc(size + 1);
	CHECK(s);
	memcpy(s, data, size);
	s[size] = '\0';
	r = km_cfg_parse_rfc3339(s, &t);
	CHECK(r == 0 || r == -EINVAL);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct km_cfg zero;
	struct km_cfg_errors errs = {0};
	struct km_cfg cfg;
	int r;

	/* Garbage in the struct: km_cfg_parse_string() must reset it. */
	memset(&cfg, 0xa5, sizeof(cfg));
	r = km_cfg_parse_string(FILE_NAME, (const char *)data, size, &cfg,
				&errs);
	CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
	check_errors(&errs);
	if (r == 0) {
		CHECK(errs.n == 0 && errs.dropped == 0 && !errs.oom);
		check_valid(&cfg);
	} else if (r == -EINVAL) {
		CHECK(errs.n > 0);
	}
	km_cfg_free(&cfg);
	CHECK(!memcmp(&cfg, &zero, sizeof(cfg)));
	km_cfg_free(&cfg);
	km_cfg_errors_free(&errs);

	fuzz_rfc3339(data, size);
	return 0;
}
