// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: kilimanjaro-mapper's configuration file
 * (mapper/config.c, mapper_config_load(), with the setters of
 * mapper/options.c), fed any bytes as the file, then the cross-field checks
 * of mapper_conf_finish(). Besides ASan, UBSan and LSan it checks that a
 * loaded configuration is one the maps accept: bounded counts, service
 * prefixes 1..32 without host bits, edges non-zero and unique, strings
 * terminated, and that every refusal is -EINVAL with a reason.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/log.h"
#include "mapper/config.h"
#include "mapper/options.h"

#define FZ_NAME "fuzz_mapper_config"
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The file the mapper reads: one memfd, rewritten for every input. */
static int fd = -1;
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* Every refusal is logged at LOG_ERR: keep the run quiet. */
	km_log_init("fuzz_mapper_config", LOG_CRIT);
	fd = memfd_create("fuzz-mapper.json", MFD_CLOEXEC);
	if (fd < 0) {
		perror("fuzz_mapper_config: memfd_create");
		exit(1);
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return 0;
}

static void write_file(const uint8_t *data, size_t size)
{
	size_t off = 0;
	ssize_t r;

	CHECK(ftruncate(fd, 0) == 0);
	while (off < size) {
		r = pwrite(fd, data + off, size - off, (off_t)off);
		CHECK(r > 0);
		off += (size_t)r;
	}
}

static void check_conf(const struct mapper_conf *c)
{
	size_t i, j;

	CHECK(memchr(c->ifname, '\0', sizeof(c->ifname)));
	CHECK(memchr(c->pin_root, '\0', sizeof(c->pin_root)));
	CHECK(!c->pin_root[0] || c->pin_root[0] == '/');
	CHECK(c->idle_s >= 1);
	CHECK(c->xdp_mode == MAPPER_XDP_NATIVE ||
	      c->xdp_mode == MAPPER_XDP_SKB);
	CHECK(c->n_edges <= KMM_MAX_EDGES);
	CHECK(c->n_services <= KMM_MAX_SERVICES);
	for (i = 0; i < c->n_edges; i++) {
		CHECK(c->edges[i] != 0);
		for (j = 0; j < i; j++)
			CHECK(c->edges[i] != c->edges[j]);
	}
	for (i = 0; i < c->n_services; i++) {
		const struct kmm_prefix_key *k = &c->services[i];
		uint32_t host_mask;

		CHECK(k->prefixlen >= 1 && k->prefixlen <= 32);
		host_mask =
		    k->prefixlen == 32 ? 0 : 0xffffffffu >> k->prefixlen;
		CHECK((__builtin_bswap32(k->addr) & host_mask) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mapper_conf cli, conf;
	char why[256];
	int r;

	write_file(data, size);
	memset(&conf, 0xa5, sizeof(conf));
	r = mapper_config_load(path, &cli, 0, &conf);
	CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
	if (r)
		return 0;
	check_conf(&conf);
	why[0] = '\0';
	r = mapper_conf_finish(&conf, 1, why, sizeof(why));
	CHECK(r == 0 || r == -EINVAL);
	CHECK(r == 0 || (why[0] && memchr(why, '\0', sizeof(why))));
	if (r == 0) {
		check_conf(&conf);
		CHECK(conf.ifname[0] && conf.host && conf.n_edges &&
		      conf.n_services);
	}
	return 0;
}
