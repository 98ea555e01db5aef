/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The controller's config into the maps, as origin "controller" only
 * (config-file and CLI entries are never touched). A message reaches this
 * only after lib/pbcheck accepted it; what can still refuse it here is the
 * edge's state (a key held by another origin), and that is checked before
 * the first write, so a refused message changes nothing.
 *
 * Order of writes: services, then the lists (one flip for both), blocks,
 * punches, the A2S key. A map write failing half-way (a full map) is
 * reported like a refusal; the agent then reconnects and the controller's
 * full snapshot makes the edge equal again.
 */
#ifndef KA_APPLY_H
#define KA_APPLY_H

#include <stddef.h>

#include "frame.h"
#include "maps.h"

/* 0, or -errno with why[] (len bytes) saying what and why. */
int ka_apply_snapshot(const struct km_maps *m,
		      const Kilimanjaro__V1__ConfigSnapshot *s, char *why,
		      size_t len);
int ka_apply_delta(const struct km_maps *m,
		   const Kilimanjaro__V1__ConfigDelta *d, char *why,
		   size_t len);

/* CLOCK_MONOTONIC deadline of a block lasting duration_ms (0: forever). */
uint64_t ka_block_until(uint64_t now_ns, uint64_t duration_ms);

#endif
