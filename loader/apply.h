/* SPDX-License-Identifier: GPL-2.0-only */
/* The config file's content -> the maps, through lib/maps.h, as origin
 * KM_ORIGIN_CONFIG (entries of other origins are never touched). */
#ifndef KM_LOADER_APPLY_H
#define KM_LOADER_APPLY_H

#include <stddef.h>

#include "config.h"
#include "maps.h"

/* The steps of an apply, in their order. */
enum apply_step {
	APPLY_KM_CONFIG = 0,
	APPLY_EDGE_ADDRS,
	APPLY_LISTS,
	APPLY_BLOCKS,
	APPLY_A2S_KEY,
	APPLY_SERVICES,
	APPLY_STEPS,
};
/* "km_config", "edge addresses", ... */
extern const char *const apply_step_names[APPLY_STEPS];

/* Filters first (config, edge addresses, lists, blocks), services last, so
 * a new service is never reachable before its filters are in place. On a
 * failure *step is the step that failed; the earlier ones stay applied
 * (apply_rollback puts them back). */
int apply_config(const struct km_maps *m, const struct km_cfg *cfg,
		 enum apply_step *step);

/* What the maps held before an apply that a rollback cannot get from the
 * running config alone: km_config as a whole (fields no file sets), the A2S
 * key (a reload may rotate it: key_id and the previous key), the config's
 * blocks with their end times (a block of "seconds" would restart), and the
 * config's edge addresses and list entries (at start there is no running
 * config, only the pinned maps of the previous loader). */
struct apply_snap {
	struct km_config kc;
	struct km_a2s_key key;
	uint32_t *edge;
	size_t n_edge;
	struct km_prefix_key *list[2]; /* enum km_list */
	size_t n_list[2];
	struct km_block_spec *blocks;
	size_t n_blocks;
};
int apply_snapshot(const struct km_maps *m, struct apply_snap *s);
void apply_snap_free(struct apply_snap *s);

/* Put the maps of steps 0..upto (the one that failed) back to s, the
 * services to old's (NULL at start: there are no running services to go
 * back to, they stay as the failed apply left them). Entries of other
 * origins are never touched. Every step is tried; returns 0 or the first
 * error, *failed names the steps that failed. */
int apply_rollback(const struct km_maps *m, const struct apply_snap *s,
		   const struct km_cfg *old, enum apply_step upto, char *failed,
		   size_t sz);

/* net.ipv4.conf.<ifname>.forwarding=1: bpf_fib_lookup refuses to give a
 * next hop without it. */
int apply_forwarding(const char *ifname);

/* "3 services, 1 allow, 2 deny, 2 blocks, 1 edge address" */
void apply_summary(const struct km_cfg *cfg, char *buf, size_t sz);

#endif
