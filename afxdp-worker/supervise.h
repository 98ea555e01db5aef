/* SPDX-License-Identifier: GPL-2.0-only */
/* --queues all: one worker process per RX queue of the interface; a worker
 * that dies is restarted with a backoff (1 s doubling to 30 s, back to 1 s
 * after a minute of running). SIGTERM stops every worker (each empties its
 * XSKMAP slot first) and exits 0 once all are gone. */
#ifndef KW_SUPERVISE_H
#define KW_SUPERVISE_H

#include "worker.h"

/* Number of RX queues of ifname (ethtool channels; 1 when the driver does
 * not say), at most KM_A2S_MAX_QUEUES. */
unsigned int supervise_rx_queues(const char *ifname);
int supervise_run(const struct kw_worker_cfg *base);

#endif
