/* SPDX-License-Identifier: GPL-2.0-only */
/* The config file's content -> the maps, through lib/maps.h, as origin
 * KM_ORIGIN_CONFIG (entries of other origins are never touched). */
#ifndef KM_LOADER_APPLY_H
#define KM_LOADER_APPLY_H

#include <stddef.h>

#include "config.h"
#include "maps.h"

/* Filters first (config, edge addresses, lists, blocks), services last, so
 * a new service is never reachable before its filters are in place. */
int apply_config(const struct km_maps *m, const struct km_cfg *cfg);

/* net.ipv4.conf.<ifname>.forwarding=1: bpf_fib_lookup refuses to give a
 * next hop without it. */
int apply_forwarding(const char *ifname);

/* "3 services, 1 allow, 2 deny, 2 blocks, 1 edge address" */
void apply_summary(const struct km_cfg *cfg, char *buf, size_t sz);

#endif
