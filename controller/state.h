/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The desired state the controller distributes (services, allow, deny,
 * blocks, port punches, the A2S key), kept in SQLite and mirrored in memory.
 *
 * Every change is one SQLite transaction that also bumps the version; after
 * the commit the change is appended to an in-memory log of deltas, each
 * already framed (4-byte big-endian length + Envelope{delta}) so that sending
 * it to a hundred edges is a hundred memcpy. An edge whose version fell out
 * of the log gets a snapshot. Thread-safe (one mutex): the HTTP thread
 * writes, the agents' loop reads and relays punches.
 *
 * Addresses are host-order uint32 (the protocol's convention).
 */
#ifndef KM_CTL_STATE_H
#define KM_CTL_STATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kilimanjaro.pb-c.h"

/* Bounds keep the largest snapshot (about 2.5 MB) under KM_FRAME_MAX. */
#define STATE_LOG_LEN 4096 /* deltas kept for edges that are behind */
#define STATE_MAX_SERVICES 4096
#define STATE_MAX_PREFIXES 32768 /* per list */
#define STATE_MAX_BLOCKS 16384
#define STATE_MAX_PUNCHES 32768
#define STATE_A2S_KEY_LEN 16

enum st_list { ST_ALLOW = 0, ST_DENY = 1 };

struct st_prefix {
	uint32_t addr;
	uint8_t len;
};

struct st_block {
	uint32_t addr;
	uint64_t expires_ms; /* wall clock ms; 0 = until removed */
};

struct st_punch {
	uint8_t proto; /* 17 / 6 */
	uint16_t sport, rport;
	uint32_t saddr, raddr, backend;
	uint64_t expires_ms; /* wall clock ms */
};

struct st_a2s {
	uint32_t key_id;
	uint8_t key[STATE_A2S_KEY_LEN];
	uint8_t prev[STATE_A2S_KEY_LEN];
	bool has_prev;
	uint64_t rotated_ms; /* wall clock ms */
};

struct st_delta {
	uint64_t version;
	uint8_t *frame; /* 4-byte length + Envelope{delta} */
	size_t len;
	/* A punch's delta as its own edge gets it: the same version without
	 * the punch it reported (NULL otherwise). */
	uint8_t *alt_frame;
	size_t alt_len;
	char *origin; /* edge id that reported the punch, or NULL */
};

struct state {
	pthread_mutex_t lock;
	struct sqlite3 *db;
	uint64_t version;
	uint32_t epoch_s, punch_ttl_s;

	Kilimanjaro__V1__Service **services; /* unpacked, owned */
	size_t n_services;
	struct st_prefix *lists[2];
	size_t n_list[2];
	struct st_block *blocks;
	size_t n_blocks;
	struct st_punch *punches;
	size_t n_punches;
	struct st_a2s a2s;

	struct st_delta log[STATE_LOG_LEN]; /* ring by version */
	uint64_t log_first;		    /* oldest version in the log */
	int notify_fd; /* eventfd written after every change (or -1) */
	uint64_t (*now_ms)(void); /* wall clock, settable by tests */
};

/* Open (creating when absent) the db at path: schema checked, state loaded,
 * a key made when the db has none. A file that is not a Kilimanjaro db, is
 * corrupt, or has another schema version is -EINVAL with the reason logged. */
int state_open(struct state *st, const char *path, uint32_t epoch_s,
	       uint32_t punch_ttl_s);
void state_close(struct state *st);
uint64_t state_wall_ms(void);

/* Changes: each one transaction, version + 1, delta logged, notify_fd
 * written. -EEXIST / -ENOENT for a conflict / a missing entry, -EIO when
 * the db refused (nothing changed then). */
int state_service_put(struct state *st, const Kilimanjaro__V1__Service *svc);
int state_service_del(struct state *st, uint8_t proto, uint32_t addr,
		      uint16_t port);
int state_prefix_add(struct state *st, enum st_list l, uint32_t addr,
		     uint8_t len);
int state_prefix_del(struct state *st, enum st_list l, uint32_t addr,
		     uint8_t len);
int state_block_add(struct state *st, uint32_t addr, uint64_t duration_ms);
int state_block_del(struct state *st, uint32_t addr);
/* A punch one edge learned: stored with punch_ttl_s, relayed to every
 * other edge. */
int state_punch_learned(struct state *st, const struct st_punch *p,
			const char *origin);
/* New random key current, old one previous. -EAGAIN (and *wait_s) when the
 * previous rotation is less than two epochs old: the key it retired may
 * still sign challenges in flight. force skips that check (schedule). */
int state_a2s_rotate(struct state *st, bool force, uint32_t *wait_s);
/* Forget expired punches and blocks. No version: every edge ages its own
 * copies by the same durations. */
void state_sweep(struct state *st);

/* Framed Envelope{snapshot} of the current state; *version set. Caller
 * frees *frame. Call with the lock NOT held. */
int state_snapshot_frame(struct state *st, uint8_t **frame, size_t *len,
			 uint64_t *version);
/* Append to *buf (realloc'd, with *len and *cap) the framed deltas after `from`
 * up to the current version, as edge `edge` should get them; *to = the version
 * reached. -ERANGE when the log no longer holds from+1 (send a snapshot). */
int state_deltas_since(struct state *st, uint64_t from, const char *edge,
		       uint8_t **buf, size_t *len, size_t *cap, uint64_t *to);
uint64_t state_version(struct state *st);

/* Frame one Envelope: 4-byte big-endian length + packed bytes. */
int state_frame_envelope(const Kilimanjaro__V1__Envelope *env, uint8_t **out,
			 size_t *len);

#endif
