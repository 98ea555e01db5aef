/* SPDX-License-Identifier: GPL-2.0-only */
/* The main loop: signals through a signalfd, watchdog through a timerfd,
 * nothing done inside a signal handler. */
#ifndef KM_LOADER_LOOP_H
#define KM_LOADER_LOOP_H

#include "loader.h"

/* Block the handled signals; call before anything can take long, so a
 * SIGTERM during start is queued rather than fatal. */
int loop_block_signals(void);
/* Runs until SIGTERM or SIGINT: 0. */
int loop_run(struct loader *l);

#endif
