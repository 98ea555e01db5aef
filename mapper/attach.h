/* SPDX-License-Identifier: GPL-2.0-only */
/* Loading, pinning and attaching the mapper programs; the maps' contents. */
#ifndef KMM_ATTACH_H
#define KMM_ATTACH_H

#include "options.h"

/* Open maps of the pinned (or just loaded) object. */
struct mapper_maps {
	int config, edges, services, flows, stats, counters;
};

/*
 * Load mapper.bpf.o reusing every map pinned under c->pin_root (learned
 * flows survive), pin the others, apply c to the maps, then attach: update
 * the pinned XDP and tcx links in place when they exist (no gap), else
 * create and pin them. On success *m holds fds of the maps.
 */
int mapper_attach(const struct mapper_conf *c, struct mapper_maps *m);

/* Make the maps say what c says: config entry, then edges and services
 * (new entries added before stale ones are deleted). */
int mapper_apply(const struct mapper_conf *c, const struct mapper_maps *m);

/* Detach both links and remove every pin under c->pin_root. */
int mapper_detach(const struct mapper_conf *c);

/* Open the maps pinned under pin_root (-ENOENT when nothing is there). */
int mapper_maps_open(const char *pin_root, struct mapper_maps *m);
void mapper_maps_close(struct mapper_maps *m);

/* Delete flows idle longer than the configured idle time; returns how many
 * were deleted or -errno. */
long mapper_flows_sweep(const struct mapper_maps *m);

/* Print config, counters and flows (--show), as text or JSON (--json). */
int mapper_show(const struct mapper_maps *m, int json);

#endif
