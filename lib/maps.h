/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Map access shared by the loader, the CLI, the agent (later) and the tests:
 * opening pins, editing entries with their origin, and the reload rules of
 * docs/design.md (derived service maps, double-buffered prefix lists).
 *
 * All functions return 0 or -errno and log (lib/log.h) a message that names
 * the map and the entry when they fail. Addresses and ports are in network
 * order (__be32 / __be16), as in the maps.
 */
#ifndef KM_MAPS_H
#define KM_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kilimanjaro_abi.h"

struct bpf_object;

enum km_map_id {
	KM_M_CONFIG = 0,
	KM_M_EDGE_ADDRS,
	KM_M_SERVICES,
	KM_M_SVC_CFG,
	KM_M_SVC_ADDRS,
	KM_M_BACKENDS,
	KM_M_BACKEND_SVC,
	KM_M_ALLOW_A,
	KM_M_ALLOW_B,
	KM_M_DENY_A,
	KM_M_DENY_B,
	KM_M_BLOCKS,
	KM_M_RL_SRC,
	KM_M_RL_TOTAL,
	KM_M_VALIDATED,
	KM_M_PUNCHES,
	KM_M_STATS,
	KM_M_COUNTERS,
	KM_M_SVC_STATS,
	KM_M_EVENTS,
	KM_M_SVC_REV,
	KM_M_ALLOW_BM_A,
	KM_M_ALLOW_BM_B,
	KM_M_DENY_BM_A,
	KM_M_DENY_BM_B,
	/* The data plane's own per-CPU caches and validated filter: listed
	 * so that pins are opened, checked and removed with the rest. */
	KM_M_FIB_CACHE,
	KM_M_VAL_SEEN,
	KM_M_UNVAL_SEEN,
	KM_M_SVC_CACHE,
	KM_M_REV_CACHE,
	KM_M_VAL_FILTER,
	KM_M_A2S_CFG,
	KM_M_A2S_KEY,
	KM_M_A2S_INFO,
	KM_M_A2S_STATS,
	KM_M_A2S_WSTATS,
	KM_M_XSKS,
	KM_M_MAX,
};

/* Name of each map (KM_MAP_*), indexed by enum km_map_id. */
extern const char *const km_map_names[KM_M_MAX];

struct km_maps {
	int fd[KM_M_MAX]; /* -1 when not open */
	int ncpus;        /* libbpf_num_possible_cpus() */
};

/* Open every map pinned under pin_root. -ENOENT (logged with the path) when
 * a pin is missing: nothing attached there. */
int km_maps_open_pinned(struct km_maps *m, const char *pin_root);
/* Take (dup) the fds of a loaded object's maps: loader and tests. */
int km_maps_from_object(struct km_maps *m, struct bpf_object *obj);
/* Accepts a zeroed or half-opened struct. */
void km_maps_close(struct km_maps *m);

/* ---- config (single entry) ---- */
int km_config_read(const struct km_maps *m, struct km_config *cfg);
/* Writes every field but active_lists, lib_flags and svc_epoch, which
 * belong to the edits below (list flips, block flag, service changes):
 * their current values are kept. */
int km_config_write(const struct km_maps *m, const struct km_config *cfg);

/* ---- edge addresses: the set of `origin` entries becomes exactly addrs ----
 * Stale entries of `origin` are deleted before the new ones are added, so
 * the map never holds more than the final set. */
int km_edge_addrs_sync(const struct km_maps *m, const uint32_t *addrs_be,
		       size_t n, uint8_t origin);

/* ---- services ---- */
struct km_service_spec {
	uint8_t proto;          /* IPPROTO_UDP / IPPROTO_TCP */
	uint32_t addr;          /* __be32 */
	uint16_t port;          /* __be16 */
	uint32_t backend;       /* __be32 */
	uint16_t backend_port;  /* __be16, 0 = keep */
	uint32_t flags;         /* KM_SVC_F_* */
	/* Limits as configured; `total` is service-wide here, km_service_put
	 * divides its rates by ncpus for the per-CPU budget. */
	struct km_limit unvalidated, validated, total, icmp;
	/* A2S caching: a2s.flags 0 = off (the other fields are then ignored
	 * and written as 0). km_service_put/sync write km_a2s_cfg[id] before
	 * the service, and KM_SVC_F_A2S in km_service.flags and
	 * km_svc_cfg.flags follows a2s.flags & KM_A2S_F_ENABLED. */
	struct km_a2s_cfg a2s;
};

/* Add or replace one service (id kept when it exists, else the lowest free
 * id; its km_svc_cfg written before the km_services entry, its per-service
 * counters zeroed when the id is new), then re-derive. -EEXIST when the key
 * exists with another origin. */
int km_service_put(const struct km_maps *m, const struct km_service_spec *s,
		   uint8_t origin);
/* Delete one service of this origin (-ENOENT, -EPERM for another origin),
 * then re-derive. */
int km_service_del(const struct km_maps *m, uint8_t proto, uint32_t addr,
		   uint16_t port, uint8_t origin);
/* Make the services of `origin` exactly specs[]: puts first, deletes after,
 * derived maps re-derived once. Entries of other origins untouched; a spec
 * colliding with another origin's entry is -EEXIST before anything changes,
 * and so is a result where two services of one address and protocol would
 * be answered from the same (backend, backend port): the return path could
 * not tell them apart (km_svc_rev). km_service_put checks the same. */
int km_services_sync(const struct km_maps *m,
		     const struct km_service_spec *specs, size_t n,
		     uint8_t origin);
/* Every check km_services_sync makes before its first write (specs, ids
 * free, collisions with other origins, reply clashes), writing nothing:
 * the loader's pre-flight. Same return values, same log lines. */
int km_services_check(const struct km_maps *m,
		      const struct km_service_spec *specs, size_t n,
		      uint8_t origin);
/* Recompute km_svc_addrs, km_backends, km_backend_svc, km_svc_rev from
 * km_services, then bump km_config.svc_epoch (every service edit above ends
 * with this, so the data plane's service caches never outlive a change). */
int km_services_derive(const struct km_maps *m);

/* ---- allow / deny prefix lists ---- */
enum km_list { KM_LIST_ALLOW = 0, KM_LIST_DENY = 1 };

/* Single edits: the inactive pair becomes a copy of the active one with
 * the edit applied, its bitmaps are built, then one flip (docs/design.md
 * "Lists"), so packets never see a prefix half applied. O(entries). */
int km_prefix_add(const struct km_maps *m, enum km_list l,
		  const struct km_prefix_key *k, uint8_t origin);
int km_prefix_del(const struct km_maps *m, enum km_list l,
		  const struct km_prefix_key *k, uint8_t origin);
/* Reload both lists of `origin` at once through the inactive pair (tries
 * and bitmaps) and one flip of km_config.active_lists. */
int km_prefixes_sync(const struct km_maps *m,
		     const struct km_prefix_key *allow, size_t n_allow,
		     const struct km_prefix_key *deny, size_t n_deny,
		     uint8_t origin);
/* Rebuild the active pair's bitmaps from its tries in place: for tries
 * written without this library (benchmarks, pins of an older version).
 * Safe under traffic: every /24 goes from one correct state to another. */
int km_prefix_bitmaps_rebuild(const struct km_maps *m);
/* The state of the /24 of addr (__be32) in list l's bitmap of `pair`:
 * KM_BM_TRIE, KM_BM_NONE or KM_BM_ALL (3 reads as KM_BM_TRIE). Tests. */
int km_prefix_bitmap_state(const struct km_maps *m, enum km_list l,
			   uint32_t pair, uint32_t addr, unsigned int *state);

/* ---- blocks, punches ----
 * Block edits keep KM_LIB_F_NO_BLOCKS: cleared before a block is added, set
 * when an edit leaves km_blocks empty. */
int km_block_put(const struct km_maps *m, uint32_t addr, uint64_t until_ns,
		 uint8_t origin);
int km_block_del(const struct km_maps *m, uint32_t addr, uint8_t origin);
struct km_block_spec {
	uint32_t addr;     /* __be32 */
	uint64_t until_ns; /* CLOCK_MONOTONIC */
};
/* Deletes first, then puts (km_blocks is an LRU map: an overfull union
 * would evict, not fail). */
int km_blocks_sync(const struct km_maps *m, const struct km_block_spec *b,
		   size_t n, uint8_t origin);
int km_punch_put(const struct km_maps *m, const struct km_punch_key *k,
		 uint32_t backend, uint8_t origin);
int km_punch_del(const struct km_maps *m, const struct km_punch_key *k);

/* ---- reading ---- */
/* Sum of per-CPU km_stats / km_counters / one service's km_svc_stats. */
int km_stats_read(const struct km_maps *m, struct km_stat out[KM_R_MAX]);
int km_counters_read(const struct km_maps *m, uint64_t out[KM_C_MAX]);
int km_svc_stat_read(const struct km_maps *m, uint32_t id,
		     struct km_svc_stat *out);
/* Number of entries in a hash/LRU/LPM map (iterates keys). */
long km_map_count(const struct km_maps *m, enum km_map_id id);
/* max_entries of a map as the kernel created it. */
long km_map_capacity(const struct km_maps *m, enum km_map_id id);

/* Names for humans and JSON: "pass_not_ipv4", "drop_denied", ... */
const char *km_reason_name(unsigned int r);
const char *km_counter_name(unsigned int c);
const char *km_origin_name(unsigned int o);
/* 0 / -EINVAL for "config", "cli", "controller", "learned". */
int km_origin_parse(const char *s, uint8_t *out);

/* Monotonic clock in ns, the XDP program's time base. */
uint64_t km_mono_ns(void);

/* ---- additions: single reads and listings (CLI, agent) ---- */

/* One entry of a map with its key, as listings return them. */
struct km_service_entry {
	struct km_service_key key;
	struct km_service val;
};
struct km_prefix_entry {
	struct km_prefix_key key;
	struct km_prefix_val val;
};
struct km_block_entry {
	uint32_t addr; /* __be32 */
	struct km_block val;
};
struct km_punch_entry {
	struct km_punch_key key;
	struct km_punch val;
};
struct km_edge_entry {
	uint32_t addr; /* __be32 */
	struct km_edge_addr val;
};

/* Exact reads: 0, or -ENOENT (not logged) when there is no such entry. */
int km_service_get(const struct km_maps *m, uint8_t proto, uint32_t addr,
		   uint16_t port, struct km_service *out);
int km_prefix_get(const struct km_maps *m, enum km_list l,
		  const struct km_prefix_key *k, struct km_prefix_val *out);
int km_block_get(const struct km_maps *m, uint32_t addr, struct km_block *out);
int km_punch_get(const struct km_maps *m, const struct km_punch_key *k,
		 struct km_punch *out);
int km_svc_cfg_read(const struct km_maps *m, uint32_t id,
		    struct km_svc_cfg *out);

/* Listings: *out is malloc'd (free() it), *n entries, unordered. Prefix
 * listings read the active pair. */
int km_services_list(const struct km_maps *m, struct km_service_entry **out,
		     size_t *n);
int km_prefixes_list(const struct km_maps *m, enum km_list l,
		     struct km_prefix_entry **out, size_t *n);
int km_blocks_list(const struct km_maps *m, struct km_block_entry **out,
		   size_t *n);
int km_punches_list(const struct km_maps *m, struct km_punch_entry **out,
		    size_t *n);
int km_edge_addrs_list(const struct km_maps *m, struct km_edge_entry **out,
		       size_t *n);

/* The LPM map packets read for list l now (km_config.active_lists). */
int km_prefix_active_map(const struct km_maps *m, enum km_list l,
			 enum km_map_id *out);

/* 0 / -EINVAL (not logged) for a prefix length > 32 or host bits set. */
int km_prefix_check(const struct km_prefix_key *k);

/* ---- A2S (docs/design.md "A2S") ---- */

/* Bounds of refresh, max_age and timeout (ms), as docs/config.md states. */
#define KM_A2S_MIN_MS 100ull
#define KM_A2S_MAX_MS 3600000ull

/* Why an A2S config cannot be installed for a service of `proto` (flags,
 * UDP only, times within bounds, max_age >= refresh, timeout >= 2 x
 * refresh), or NULL when it can. km_service_put/sync refuse it (-EINVAL). */
const char *km_a2s_cfg_problem(const struct km_a2s_cfg *a, uint8_t proto);

/* Reads for the CLI: one service id's A2S config, its XDP counters summed
 * over CPUs, its workers' counters. */
int km_a2s_cfg_read(const struct km_maps *m, uint32_t id,
		    struct km_a2s_cfg *out);
int km_a2s_stat_read(const struct km_maps *m, uint32_t id,
		     struct km_a2s_stat *out);
int km_a2s_wstat_read(const struct km_maps *m, uint32_t id,
		      struct km_a2s_wstat *out);

/* The header of km_a2s_info[id], read consistently (seq even and unchanged
 * across two reads; -EAGAIN when a worker kept writing). */
struct km_a2s_head {
	uint32_t flags;	     /* KM_A2S_E_* */
	uint64_t updated_ns; /* CLOCK_MONOTONIC */
	struct km_service_key svc;
	uint16_t len;
};
int km_a2s_info_head(const struct km_maps *m, uint32_t id,
		     struct km_a2s_head *out);

/* What a player would get from the cache of service `svc` now. */
enum km_a2s_state {
	KM_A2S_ST_EMPTY = 0, /* nothing cached for this service */
	KM_A2S_ST_FRESH,     /* younger than refresh */
	KM_A2S_ST_STALE,     /* served, being refreshed */
	KM_A2S_ST_EXPIRED,   /* older than max_age: not served */
	KM_A2S_ST_DOWN,	     /* the server missed its timeout: not served */
	KM_A2S_ST_MAX,
};
enum km_a2s_state km_a2s_state_of(const struct km_a2s_cfg *cfg,
				  const struct km_a2s_head *h,
				  const struct km_service_key *svc,
				  uint64_t now_ns);
const char *km_a2s_state_name(enum km_a2s_state st);

/*
 * The challenge key (km_a2s_key). Key bytes map to SipHash's k0/k1 as in
 * the reference implementation: k0 = bytes 0..7, k1 = bytes 8..15, each
 * little-endian. Every write holds the edit lock and rewrites the whole
 * value from a fresh read, so the loader's epoch advance and a rotation
 * never undo each other.
 */
int km_a2s_key_read(const struct km_maps *m, struct km_a2s_key *out);

enum km_a2s_key_action {
	KM_A2S_KEY_KEPT = 0, /* the valid key in the map stays current */
	KM_A2S_KEY_NEW,	     /* no valid key was there: current = prev = new */
	KM_A2S_KEY_ROTATED,  /* current -> prev, new -> current, key_id + 1 */
};
/*
 * key NULL: keep a valid key already in the map (a restart keeps the
 * challenges in flight valid), else install a random one (getrandom).
 * key given: keep it when it is already current, else rotate to it.
 * Writes epoch_s and the epoch of now in the same update.
 */
int km_a2s_key_install(const struct km_maps *m, const uint8_t *key,
		       uint32_t epoch_s, enum km_a2s_key_action *action);
/* Write back a value read earlier with km_a2s_key_read (the loader's
 * rollback of a failed reload): key, previous key, key_id, epoch_s as they
 * were, the epoch that of now. */
int km_a2s_key_restore(const struct km_maps *m, const struct km_a2s_key *saved);
/* Rotate to key (NULL: a new random key), whatever the current one. */
int km_a2s_key_rotate(const struct km_maps *m, const uint8_t *key);
/*
 * Set the epoch to that of now (CLOCK_REALTIME / epoch_s of the map). Only
 * the epoch word differs from what the map holds, so a reader racing the
 * copy sees the key bytes unchanged (docs/design.md "A2S"). *changed (may
 * be NULL) tells whether it moved; a map without a valid key is left alone.
 */
int km_a2s_epoch_advance(const struct km_maps *m, bool *changed);
/* The epoch number of wall-clock time now_s for epoch_s (> 0). */
uint32_t km_a2s_epoch_of(int64_t now_s, uint32_t epoch_s);

#endif
