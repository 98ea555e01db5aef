/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * `kilimanjaro stats` and `kilimanjaro top`: views of the stats ring that
 * kilimanjaro-statsd writes (lib/ring.h, lib/snapshot.h). They need no BPF
 * access: only read access to <run-dir>/stats.ring.
 */
#ifndef KM_CLI_SNAPVIEW_H
#define KM_CLI_SNAPVIEW_H

#include "cli.h"
#include "lib/ring.h"
#include "lib/snapshot.h"

#define CLI_RUN_BASE "/run/kilimanjaro"

/* The two newest snapshots of a ring, and their rates. */
struct snapview {
	struct km_ring_reader *ring;
	char path[PATH_MAX];
	size_t cap;
	struct km_snapshot *cur, *prev; /* prev NULL-valued when len 0 */
	size_t cur_len, prev_len;
	struct km_ring_info info;
	uint64_t dt_ns; /* cur - prev, 0 when there is no prev */
};

/* Open the ring of --run-dir DIR, else of -i IFNAME
 * (/run/kilimanjaro/IFNAME), else the only one under /run/kilimanjaro. */
int snapview_open(struct snapview *v, struct cli_ctx *c, const char *run_dir);
void snapview_close(struct snapview *v);
/* Read the latest snapshot, and the one before it for rates. -EAGAIN
 * (logged) when the ring holds none. */
int snapview_read(struct snapview *v);
/* Advance: the previous cur becomes prev when a newer one is there.
 * 0 (also when nothing new) or -errno. */
int snapview_next(struct snapview *v);

/* Rates of the interval between prev and cur (0 without prev). */
double snapview_rate(const struct snapview *v, uint64_t older, uint64_t newer);
/* A service's entry in prev, or NULL. */
const struct km_snap_service *
snapview_prev_svc(const struct snapview *v, const struct km_snap_service *s);

int cmd_stats(struct cli_ctx *c, int argc, char **argv);
int cmd_top(struct cli_ctx *c, int argc, char **argv);

#endif
