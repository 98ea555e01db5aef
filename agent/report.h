/* SPDX-License-Identifier: GPL-2.0-only */
/* What the agent tells the controller, built from the edge's own formats:
 * km_events records (ABI) and statsd snapshots (lib/snapshot.h). Pure
 * conversions, unit-tested. */
#ifndef KA_REPORT_H
#define KA_REPORT_H

#include <stdint.h>

#include "frame.h"
#include "snapshot.h"

/* One km_events record as an Envelope body in *env (punch_learned or
 * block_added), using storage in *st (which must outlive env). -EINVAL for
 * a record of an unknown type (logged by the caller). */
struct ka_event_msg {
	Kilimanjaro__V1__PortPunchLearned pl;
	Kilimanjaro__V1__PortPunch punch;
	Kilimanjaro__V1__BlockAdded ba;
};
int ka_event_to_envelope(const struct km_event *ev, uint64_t now_ns,
			 KmEnvelope *env, struct ka_event_msg *st);

/* A StatsSnapshot of s (checked by km_snapshot_check). Everything lives in
 * one allocation: ka_stats_free() it. */
Kilimanjaro__V1__StatsSnapshot *
ka_stats_from_snapshot(const struct km_snapshot *s);
void ka_stats_free(Kilimanjaro__V1__StatsSnapshot *st);

#endif
