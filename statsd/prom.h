/* SPDX-License-Identifier: GPL-2.0-only */
/* Prometheus text exposition (format 0.0.4) of one snapshot. */
#ifndef KS_PROM_H
#define KS_PROM_H

#include <stdio.h>

#include "snapshot.h"

#define KS_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Write every metric of s, each family with its HELP and TYPE lines.
 * now_mono_ns: CLOCK_MONOTONIC now, for the snapshot's age. */
int ks_prom_render(FILE *f, const struct km_snapshot *s, uint64_t now_mono_ns);

#endif
