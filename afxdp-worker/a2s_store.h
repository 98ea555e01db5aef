/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The A2S state every worker of an interface shares (docs/design.md "A2S",
 * "The workers' shared cache"): a versioned, sparse file
 * <run-dir>/a2s.cache, mmapped by each worker, one slot per service id:
 *  - the query lease: one 64-bit word taken by CAS (owner pid, the kind
 *    queried, expiry), so at most one query per game server is in flight
 *    across every worker process, and a crashed owner's lease expires;
 *  - a writer lock of the same shape for the slot's answers, so two
 *    workers never write one seqlock at once;
 *  - the schedule (last query per kind, last answer, silent since), the
 *    game server's own challenge, and when PLAYER/RULES were last asked for;
 *  - the last answer of each kind (INFO, PLAYER, RULES) assembled, under a
 *    seqlock: any worker serves them, whoever ingested them.
 * The INFO answer also goes into km_a2s_info (kw_info_*), the seqlock the
 * XDP program reads.
 *
 * Times are CLOCK_MONOTONIC ns. Pure memory operations: the tests run them
 * on a malloc'd store.
 */
#ifndef KW_A2S_STORE_H
#define KW_A2S_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "a2s_pkt.h"
#include "kilimanjaro_abi.h"

#define KW_STORE_FILE "a2s.cache"
#define KW_STORE_MAGIC 0x4b574132u /* "KWA2" */
#define KW_STORE_VERSION 1

struct kw_blob {
	uint32_t seq;	     /* seqlock: odd while written */
	uint32_t len;	     /* 0: nothing stored */
	uint64_t updated_ns; /* arrival of the answer */
	uint8_t data[A2S_ANSWER_MAX];
};

#define KW_SLOT_F_DOWN 0x1

struct kw_slot {
	uint64_t lease;		   /* 0 or kw_lease_word(pid, kind, expiry) */
	uint64_t wlock;		   /* 0 or kw_lease_word(pid, 0, expiry) */
	struct km_service_key svc; /* the service the slot holds; all zero:
				      unused */
	uint32_t flags;		   /* KW_SLOT_F_* */
	uint32_t resends;    /* challenge resends within the current lease */
	uint64_t last_ok_ns; /* last answer of any kind */
	uint64_t silent_since_ns; /* first query unanswered since then, 0 */
	uint64_t last_query_ns[A2S_K_MAX];
	uint64_t wanted_ns[A2S_K_MAX]; /* last request for PLAYER/RULES */
	uint8_t challenge[4];	       /* the game server's challenge to us */
	uint32_t challenge_set;
	uint8_t pad[24];
	struct kw_blob blob[A2S_K_MAX];
};

struct kw_store_hdr {
	uint32_t magic;
	uint32_t version;
	uint32_t nslots;
	uint32_t slot_size;
	uint8_t pad[4096 - 16];
};

struct kw_store {
	struct kw_store_hdr *hdr;
	size_t size;
	int fd; /* -1: memory owned by the caller (tests) */
};

/* Bytes of a store of nslots slots. */
size_t kw_store_size(uint32_t nslots);
/* Open or create path (sparse, 0600) with KM_MAX_SERVICES slots; an
 * existing file of another magic, version or geometry is replaced by a new
 * empty one (renamed over it: its contents are a cache, and a worker of
 * the old version still mapping it keeps its own copy). */
int kw_store_open(struct kw_store *st, const char *path);
/* A store in caller memory of kw_store_size(nslots) bytes (zeroed here). */
void kw_store_init_mem(struct kw_store *st, void *mem, uint32_t nslots);
void kw_store_close(struct kw_store *st);
struct kw_slot *kw_store_slot(const struct kw_store *st, uint32_t id);

/* ---- leases ---- */
uint64_t kw_lease_word(uint32_t pid, enum a2s_kind k, uint64_t expiry_ns);
/* 1: the word is a lease that has not expired at now_ns (owner and kind
 * returned when the pointers are not NULL). */
int kw_lease_live(uint64_t word, uint64_t now_ns, uint32_t *pid,
		  enum a2s_kind *k);
/* Take the query lease of the slot for kind k until now + dur_ns: 1 taken,
 * 0 someone holds a live one. */
int kw_lease_take(struct kw_slot *s, uint32_t pid, enum a2s_kind k,
		  uint64_t now_ns, uint64_t dur_ns);
/* Drop the lease when it is a lease for kind k (whoever took it): the
 * answer of that query arrived. */
void kw_lease_drop(struct kw_slot *s, enum a2s_kind k);

/* The writer lock; a holder that died loses it after 1 s. Spins. */
void kw_slot_lock(struct kw_slot *s, uint32_t pid, uint64_t (*now)(void));
void kw_slot_unlock(struct kw_slot *s);

/* Under the lock: make the slot belong to svc, clearing it when it held
 * another service (an id reused). Returns true when it was cleared. */
bool kw_slot_claim(struct kw_slot *s, const struct km_service_key *svc);

/* ---- answers (seqlock) ---- */
/* Under the slot lock. len <= A2S_ANSWER_MAX. */
void kw_blob_write(struct kw_blob *b, const uint8_t *d, size_t len,
		   uint64_t now_ns);
/* Copy the answer out: 0, -ENOENT (nothing stored), -EAGAIN (a writer
 * kept changing it). */
int kw_blob_read(const struct kw_blob *b, uint8_t *out, size_t cap, size_t *len,
		 uint64_t *updated_ns);

/* ---- km_a2s_info entries (seqlock the XDP program reads) ---- */
/* The answer for svc, flags KM_A2S_E_VALID; an answer larger than
 * KM_A2S_INFO_MAX leaves the entry without data (the worker serves it). */
void kw_info_write(struct km_a2s_entry *e, const struct km_service_key *svc,
		   const uint8_t *d, size_t len, uint64_t now_ns);
/* Set and clear flags (KM_A2S_E_DOWN), data kept. */
void kw_info_flags(struct km_a2s_entry *e, uint32_t set, uint32_t clear);
/* Empty the entry (service gone or id reused). */
void kw_info_clear(struct km_a2s_entry *e);

#endif
