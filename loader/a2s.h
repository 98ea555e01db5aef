/* SPDX-License-Identifier: GPL-2.0-only */
/* The A2S challenge key and its epoch (docs/design.md "A2S"): installed
 * with every apply, advanced by the main loop at each epoch boundary. */
#ifndef KM_LOADER_A2S_H
#define KM_LOADER_A2S_H

#include "config.h"
#include "maps.h"

/* Install the key of cfg (its key file, else keep the map's valid key or
 * create a random one) with cfg's epoch_s; log what happened. Warn about
 * every service whose challenge policy is "off". */
int a2s_apply(const struct km_maps *m, const struct km_cfg *cfg);

/* A CLOCK_REALTIME timerfd for the epoch boundaries, -1 (logged) when it
 * cannot be created: the epoch then only moves at reloads. */
int a2s_timer_open(void);
/* Arm fd for the next boundary of epoch_s (absolute wall-clock time). */
void a2s_timer_arm(int fd, uint32_t epoch_s);
/* fd fired (or the clock was set): move the epoch, re-arm. */
void a2s_timer_fire(const struct km_maps *m, int fd, uint32_t epoch_s);

#endif
