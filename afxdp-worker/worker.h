/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One worker: the AF_XDP socket of one RX queue and everything around it
 * (docs/design.md "A2S"). worker_run() returns after SIGTERM/SIGINT once
 * the queue's XSKMAP slot is empty, the RX ring drained and every pending
 * request answered or handed to its game server.
 */
#ifndef KW_WORKER_H
#define KW_WORKER_H

#include <stdint.h>

struct kw_worker_cfg {
	const char *ifname;
	uint32_t queue;
	const char *pin_root;
	const char *run_dir;
	int notify; /* tell systemd READY/STOPPING (single-queue mode) */
};

/* 0 after a clean stop, -errno when start-up failed (logged). */
int worker_run(const struct kw_worker_cfg *cfg);

#endif
