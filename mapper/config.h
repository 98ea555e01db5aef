/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef KMM_CONFIG_H
#define KMM_CONFIG_H

#include "options.h"

/*
 * Read the JSON file at path into *out (defaults first), then let every
 * field the command line set (`set`, MAPPER_SET_*) win with its value from
 * *cli. Keys: interface, address, edges[], default_edge, services[],
 * idle_seconds, xdp_mode, next_hop, pin_root. 0 or -EINVAL (logged with
 * the file, the field and why).
 */
int mapper_config_load(const char *path, const struct mapper_conf *cli,
		       unsigned int set, struct mapper_conf *out);

#endif
