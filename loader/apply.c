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

const char *const apply_step_names[APPLY_STEPS] = {
    [APPLY_KM_CONFIG] = "km_config",
    [APPLY_EDGE_ADDRS] = "edge addresses",
    [APPLY_LISTS] = "allow/deny lists",
    [APPLY_BLOCKS] = "blocks",
    [APPLY_A2S_KEY] = "A2S key",
    [APPLY_SERVICES] = "services",
};

static int apply_km_config(const struct km_maps *m, const struct km_cfg *cfg)
{
	struct km_config kc;
	int r;

	/* Keep what is not the file's: active_lists belongs to the list
	 * flips of lib/maps.c. */
	r = km_config_read(m, &kc);
	if (r)
		return r;
	km_cfg_to_km_config(cfg, &kc);
	return km_config_write(m, &kc);
}

int apply_config(const struct km_maps *m, const struct km_cfg *cfg,
		 enum apply_step *step)
{
	int r = 0;

	for (*step = 0; *step < APPLY_STEPS && !r; (*step)++) {
		switch (*step) {
		case APPLY_KM_CONFIG:
			r = apply_km_config(m, cfg);
			break;
		case APPLY_EDGE_ADDRS:
			r = km_edge_addrs_sync(m, cfg->edge_addrs,
					       cfg->n_edge_addrs,
					       KM_ORIGIN_CONFIG);
			break;
		case APPLY_LISTS:
			r = km_prefixes_sync(m, cfg->allow, cfg->n_allow,
					     cfg->deny, cfg->n_deny,
					     KM_ORIGIN_CONFIG);
			break;
		case APPLY_BLOCKS:
			r = apply_blocks(m, cfg);
			break;
		/* The key before the services: an A2S service is challenged
		 * from its first packet on. */
		case APPLY_A2S_KEY:
			r = a2s_apply(m, cfg);
			break;
		case APPLY_SERVICES:
			r = km_services_sync(m, cfg->services, cfg->n_services,
					     KM_ORIGIN_CONFIG);
			break;
		default:
			break;
		}
		if (r)
			return r; /* *step: the one that failed */
	}
	return 0;
}

/* The config-origin entries of the active allow or deny list. */
static int snap_list(const struct km_maps *m, enum km_list l,
		     struct apply_snap *s)
{
	struct km_prefix_entry *e;
	size_t n;
	int r;

	r = km_prefixes_list(m, l, &e, &n);
	if (r)
		return r;
	s->list[l] = calloc(n + 1, sizeof(*s->list[l]));
	if (!s->list[l]) {
		free(e);
		return km_log_errno(-ENOMEM, "out of memory for a snapshot");
	}
	for (size_t i = 0; i < n; i++)
		if (e[i].val.origin == KM_ORIGIN_CONFIG)
			s->list[l][s->n_list[l]++] = e[i].key;
	free(e);
	return 0;
}

static int snap_edge_blocks(const struct km_maps *m, struct apply_snap *s)
{
	struct km_block_entry *b = NULL;
	struct km_edge_entry *e = NULL;
	size_t nb = 0, ne = 0;
	int r;

	r = km_edge_addrs_list(m, &e, &ne);
	if (!r)
		r = km_blocks_list(m, &b, &nb);
	if (r)
		goto out;
	s->edge = calloc(ne + 1, sizeof(*s->edge));
	s->blocks = calloc(nb + 1, sizeof(*s->blocks));
	if (!s->edge || !s->blocks) {
		r = km_log_errno(-ENOMEM, "out of memory for a snapshot");
		goto out;
	}
	for (size_t i = 0; i < ne; i++)
		if (e[i].val.origin == KM_ORIGIN_CONFIG)
			s->edge[s->n_edge++] = e[i].addr;
	for (size_t i = 0; i < nb; i++)
		if (b[i].val.origin == KM_ORIGIN_CONFIG)
			s->blocks[s->n_blocks++] = (struct km_block_spec){
			    b[i].addr, b[i].val.until_ns};
out:
	free(e);
	free(b);
	return r;
}

int apply_snapshot(const struct km_maps *m, struct apply_snap *s)
{
	int r;

	memset(s, 0, sizeof(*s));
	r = km_config_read(m, &s->kc);
	if (!r)
		r = km_a2s_key_read(m, &s->key);
	if (!r)
		r = snap_edge_blocks(m, s);
	for (int l = 0; l < 2 && !r; l++)
		r = snap_list(m, (enum km_list)l, s);
	if (r)
		apply_snap_free(s);
	return r;
}

void apply_snap_free(struct apply_snap *s)
{
	free(s->edge);
	free(s->list[0]);
	free(s->list[1]);
	free(s->blocks);
	explicit_bzero(&s->key, sizeof(s->key));
	memset(s, 0, sizeof(*s));
}

/* Note a failed step in buf ("edge addresses, services"). */
static void note(int r, const char *step, char *buf, size_t sz, int *first)
{
	size_t o = strlen(buf);

	if (!r)
		return;
	if (!*first)
		*first = r;
	if (o < sz)
		snprintf(buf + o, sz - o, "%s%s", o ? ", " : "", step);
}

int apply_rollback(const struct km_maps *m, const struct apply_snap *s,
		   const struct km_cfg *old, enum apply_step upto, char *failed,
		   size_t sz)
{
	int first = 0, r;

	failed[0] = 0;
	/* Steps after upto wrote nothing. Every step up to it is tried, also
	 * after one failed: as much as possible goes back, and the log names
	 * what did not. Same order as apply_config. */
	for (enum apply_step st = 0; st <= upto && st < APPLY_STEPS; st++) {
		switch (st) {
		case APPLY_KM_CONFIG:
			r = km_config_write(m, &s->kc);
			break;
		case APPLY_EDGE_ADDRS:
			r = km_edge_addrs_sync(m, s->edge, s->n_edge,
					       KM_ORIGIN_CONFIG);
			break;
		case APPLY_LISTS:
			r = km_prefixes_sync(m, s->list[0], s->n_list[0],
					     s->list[1], s->n_list[1],
					     KM_ORIGIN_CONFIG);
			break;
		case APPLY_BLOCKS:
			r = km_blocks_sync(m, s->blocks, s->n_blocks,
					   KM_ORIGIN_CONFIG);
			break;
		case APPLY_A2S_KEY:
			r = km_a2s_key_restore(m, &s->key);
			if (!r && (s->key.flags & KM_A2S_KEY_F_VALID))
				km_info("A2S key %u put back, epoch of %u s",
					s->key.key_id, s->key.epoch_s);
			break;
		case APPLY_SERVICES:
			r = old ? km_services_sync(m, old->services,
						   old->n_services,
						   KM_ORIGIN_CONFIG)
				: 0;
			break;
		default:
			r = 0;
			break;
		}
		note(r, apply_step_names[st], failed, sz, &first);
	}
	return first;
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
