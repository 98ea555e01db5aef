/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the controller knows of every edge that has connected since it
 * started: session (connected, peer, versions sent and acknowledged, last
 * seen) and live traffic. Rates are derived from the monotonic counters of
 * consecutive StatsSnapshots over the edge's own clock (uptime_ms), and the
 * last EDGE_SAMPLES of them are kept for the charts. Memory only: after a
 * controller restart the edges reappear as they reconnect. Thread-safe.
 */
#ifndef KM_CTL_EDGES_H
#define KM_CTL_EDGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "kilimanjaro.pb-c.h"

#define EDGES_MAX 4096
#define EDGE_ID_MAX 64
#define EDGE_SAMPLES 300
#define EDGE_REASONS 64

struct edges;

struct edges *edges_new(void);
void edges_free(struct edges *e);

/* A session authenticated as id (from peer "a.b.c.d:port"). -ENOSPC when
 * EDGES_MAX different edges are known. */
int edges_connected(struct edges *e, const char *id, const char *peer,
		    const char *software);
void edges_disconnected(struct edges *e, const char *id);
void edges_versions(struct edges *e, const char *id, uint64_t sent,
		    uint64_t acked);
void edges_seen(struct edges *e, const char *id);
/* A StatsSnapshot at wall time now_ms. */
void edges_stats(struct edges *e, const char *id,
		 const Kilimanjaro__V1__StatsSnapshot *s, uint64_t now_ms);
void edges_event(struct edges *e, const char *id, bool punch);

/* GET /api/edges body; GET /api/edges/<id>/stats?points=N body, NULL for
 * an unknown edge. Caller owns the result. */
json_object *edges_json(struct edges *e, uint64_t now_ms);
json_object *edges_stats_json(struct edges *e, const char *id,
			      unsigned int points);
size_t edges_connected_count(struct edges *e);

/* Which traffic class a km_reason_name() belongs to: 'f' forwarded or
 * answered at the edge, 'd' dropped, 'p' passed to the kernel. */
char edges_reason_class(const char *reason);

#endif
