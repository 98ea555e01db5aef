/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One stats snapshot: the per-CPU counters of the maps summed over CPUs,
 * with the time they were read. kilimanjaro-statsd reads it from the maps
 * (km_snapshot_read) and publishes it in the stats ring (lib/ring.h) as
 * payload kind "km_snapshot"; readers (CLI, agent) take it from the ring
 * and compute rates from two of them (km_snapshot_rates).
 *
 * Counters are the maps' own totals since the program was loaded: a statsd
 * restart does not reset them. The layout is the ring payload: fixed part,
 * then n_services entries. Host byte order except where a field says __be.
 */
#ifndef KM_SNAPSHOT_H
#define KM_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "kilimanjaro_abi.h"
#include "maps.h"

#define KM_SNAP_KIND "km_snapshot"
#define KM_SNAP_VERSION 1
#define KM_SNAP_MAPS_MAX 16

#define KM_SNAP_F_TRUNCATED                                                    \
	0x1 /* more services than the cap: the ones                            \
	       with the lowest ids are included */
#define KM_SNAP_F_NO_A2S                                                       \
	0x2 /* the A2S maps are not pinned (older                              \
	       loader): a2s counters are 0 */

struct km_snap_service {
	struct km_service_key key; /* proto, port (__be16), addr (__be32) */
	uint32_t id;		   /* service id */
	uint32_t flags;		   /* km_service.flags (KM_SVC_F_A2S) */
	__be32 backend;
	uint32_t pad;
	struct km_svc_stat st;	/* km_svc_stats[id], summed */
	struct km_a2s_stat a2s; /* km_a2s_stats[id], summed */
	struct km_a2s_wstat w;	/* km_a2s_wstats[id] (workers) */
};
_Static_assert(sizeof(struct km_snap_service) == 216, "km_snap_service");

struct km_snap_map {
	char name[16];	      /* km_map_names[] */
	uint64_t entries;     /* entries now (count of keys) */
	uint64_t max_entries; /* capacity */
};

struct km_snapshot {
	uint32_t version;	  /* KM_SNAP_VERSION */
	uint32_t flags;		  /* KM_SNAP_F_* */
	uint64_t mono_ns;	  /* CLOCK_MONOTONIC when read */
	uint64_t real_ns;	  /* CLOCK_REALTIME when read */
	uint64_t interval_ns;	  /* statsd's interval */
	uint64_t read_ns;	  /* how long reading the maps took */
	uint64_t started_mono_ns; /* when this statsd started publishing */
	uint32_t ncpus;
	uint32_t n_reasons;  /* KM_R_MAX of the writer */
	uint32_t n_counters; /* KM_C_MAX of the writer */
	uint32_t n_maps;
	uint32_t n_services;	 /* entries in services[] */
	uint32_t services_total; /* services configured (>= n_services) */
	struct km_stat reasons[KM_STATS_SLOTS]; /* km_stats by enum km_reason */
	uint64_t counters[KM_STATS_SLOTS]; /* km_counters by enum km_counter */
	struct km_snap_map maps[KM_SNAP_MAPS_MAX];
	struct km_snap_service services[]; /* sorted by id */
};

/* Bytes of a snapshot with n services. */
static inline size_t km_snapshot_size(uint32_t n)
{
	return sizeof(struct km_snapshot) +
	       (size_t)n * sizeof(struct km_snap_service);
}

/* Reusable state of the reader (buffers of the batch lookups, the map-fill
 * iterator); zero-initialise, release with km_snap_ctx_free. */
struct km_mapfill;
struct km_snap_ctx {
	void *buf;
	size_t buf_len;
	void *keys;
	size_t keys_len;
	int no_batch;		 /* the kernel refused batch lookups: per-key
				    reads */
	struct km_mapfill *fill; /* the bpf_map iterator (lib/mapfill.bpf.c) */
	int fill_state;		 /* 0 not tried, 1 loaded, -1 unavailable:
				    hash maps are counted by batch lookups */
	void *recs;
	size_t recs_len;
};
void km_snap_ctx_free(struct km_snap_ctx *c);

/*
 * Read every counter into s, which has room for max_services entries
 * (km_snapshot_size(max_services) bytes). Per-CPU arrays are read with
 * bpf_map_lookup_batch (one syscall per map up to the highest id in use);
 * hash maps' fill levels come from the kernel's element counters through a
 * bpf_map iterator (needs CAP_BPF + CAP_PERFMON; without, the maps are
 * counted with batch lookups, which costs milliseconds for large maps).
 * interval_ns and started_mono_ns are left as the caller set them.
 */
int km_snapshot_read(const struct km_maps *m, struct km_snap_ctx *c,
		     struct km_snapshot *s, uint32_t max_services);

/* Check a snapshot taken from the ring (len bytes) before using it:
 * version, counts within bounds, len matches n_services. -EPROTO
 * (not logged) otherwise. */
int km_snapshot_check(const struct km_snapshot *s, size_t len);

/* The service of `key` in s, or NULL (services[] is sorted by id, so this
 * is a scan; fine for the sizes readers display). */
const struct km_snap_service *km_snapshot_find(const struct km_snapshot *s,
					       const struct km_service_key *k);

/* "udp:198.18.0.10:27015" */
char *km_snap_service_name(char *buf, size_t len,
			   const struct km_service_key *k);

/* Verdict classes of a reason, for `top` and the agent's summaries. */
enum km_verdict_class {
	KM_VC_PASS = 0, /* to the kernel */
	KM_VC_FWD,	/* forwarded (service, punch, decap) */
	KM_VC_TX,	/* answered by the edge (echo, A2S) */
	KM_VC_REDIR,	/* to an AF_XDP worker */
	KM_VC_DROP,
	KM_VC_MAX,
};
enum km_verdict_class km_reason_class(unsigned int reason);
const char *km_verdict_class_name(enum km_verdict_class c);

/*
 * A2S requests of the interval from `older` to `newer` that needed an
 * answer (they carried a valid challenge, or none was required) and how
 * many of them the edge answered itself: from the XDP cache or through a
 * worker, instead of forwarding them to the game server. Challenges sent
 * are neither: they are how the edge refuses to amplify. *total is 0 when
 * there were none (or a counter went back).
 */
void km_a2s_hits(const struct km_a2s_stat *older,
		 const struct km_a2s_stat *newer, uint64_t *hits,
		 uint64_t *total);

/* Per-second rate of a counter between two snapshots (0 when it went
 * backwards, e.g. the program was reloaded with fresh maps). */
double km_snap_rate(uint64_t older, uint64_t newer, uint64_t dt_ns);

#endif
