/* SPDX-License-Identifier: GPL-2.0-only */
/* Before a config is written (start, reload): will every map apply_config
 * fills hold what it holds afterwards? docs/design.md "Reload is all or
 * nothing". */
#ifndef KM_LOADER_PREFLIGHT_H
#define KM_LOADER_PREFLIGHT_H

#include "config.h"
#include "maps.h"

/*
 * For every map apply_config fills (edge addresses, the allow and deny
 * tries of both pairs, blocks, services and the maps derived from them),
 * the entries it will hold afterwards (cfg's + those of other origins that
 * are kept, read from the maps) against its max_entries; then every check
 * the service sync makes before it writes. Writes nothing.
 *
 * Each problem is logged as "<lead>: <path>: <map>: <numbers>; <tail>".
 * 0 when cfg fits, else the first problem's -errno (-ENOSPC for capacity).
 */
int preflight_check(const struct km_maps *m, const struct km_cfg *cfg,
		    const char *path, const char *lead, const char *tail);

#endif
