// SPDX-License-Identifier: GPL-2.0-only
#include "apply.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "a2s.h"
#include "log.h"

static int apply_blocks(const struct km_maps *m, const struct km_cfg *cfg)
{
	struct km_block_spec *b;
	size_t n;
	int r;

	b = calloc(cfg->n_blocks ? cfg->n_blocks : 1, sizeof(*b));
	if (!b)
		return km_log_errno(-ENOMEM, "out of memory for blocks");
	n = km_cfg_blocks_resolve(cfg, km_mono_ns(), (int64_t)time(NULL), b);
	if (n < cfg->n_blocks)
		km_info("%zu configured blocks already ended, not installed",
			cfg->n_blocks - n);
	r = km_blocks_sync(m, b, n, KM_ORIGIN_CONFIG);
	free(b);
	return r;
}

int apply_config(const struct km_maps *m, const struct km_cfg *cfg)
{
	struct km_config kc;
	int r;

	/* Keep what is not the file's: active_lists belongs to the list
	 * flips of lib/maps.c. */
	r = km_config_read(m, &kc);
	if (r)
		return r;
	km_cfg_to_km_config(cfg, &kc);
	r = km_config_write(m, &kc);
	if (!r)
		r = km_edge_addrs_sync(m, cfg->edge_addrs, cfg->n_edge_addrs,
				       KM_ORIGIN_CONFIG);
	if (!r)
		r = km_prefixes_sync(m, cfg->allow, cfg->n_allow, cfg->deny,
				     cfg->n_deny, KM_ORIGIN_CONFIG);
	if (!r)
		r = apply_blocks(m, cfg);
	/* The key before the services: an A2S service is challenged from its
	 * first packet on. */
	if (!r)
		r = a2s_apply(m, cfg);
	if (!r)
		r = km_services_sync(m, cfg->services, cfg->n_services,
				     KM_ORIGIN_CONFIG);
	return r;
}

int apply_forwarding(const char *ifname)
{
	char path[128], cur = '0';
	int fd, r = 0;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/forwarding",
		 ifname);
	/* Read first: where /proc/sys is read-only (containers) an edge whose
	 * forwarding is already on must still start. */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return km_log_errno(-errno, "cannot open %s: %s", path,
				    strerror(errno));
	if (read(fd, &cur, 1) == 1 && cur == '1') {
		km_info("net.ipv4.conf.%s.forwarding is already 1", ifname);
		goto out;
	}
	close(fd);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "1\n", 2) != 2) {
		r = km_log_errno(-errno, "cannot set %s to 1: %s", path,
				 strerror(errno));
		goto out;
	}
	km_info("set net.ipv4.conf.%s.forwarding=1 (the XDP program's FIB "
		"lookups need it)",
		ifname);
out:
	if (fd >= 0)
		close(fd);
	return r;
}

void apply_summary(const struct km_cfg *cfg, char *buf, size_t sz)
{
	snprintf(
	    buf, sz,
	    "%zu services, %zu allow, %zu deny, %zu blocks, %zu edge address%s",
	    cfg->n_services, cfg->n_allow, cfg->n_deny, cfg->n_blocks,
	    cfg->n_edge_addrs, cfg->n_edge_addrs == 1 ? "" : "es");
}
