/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The stats ring: one writer (kilimanjaro-statsd), any number of lock-free
 * readers (`kilimanjaro top`, `kilimanjaro stats`, the agent), in a shared
 * file mapping, default /run/kilimanjaro/<ifname>/stats.ring.
 *
 * Layout (all integers host order, the file is never read on another host):
 *   [0, KM_RING_HDR_SIZE)   struct km_ring_hdr
 *   then nslots slots of slot_size bytes: struct km_ring_slot + payload.
 *
 * Publishing snapshot number n (n = 1, 2, ...) writes slot (n - 1) % nslots
 * under that slot's seqlock (lock odd while the payload is written), then
 * stores hdr.seq = n. A reader takes hdr.seq, copies the slot, and accepts
 * the copy only when the slot's lock was even and unchanged around the copy
 * and the slot holds number n: a torn copy is never returned, and a reader
 * that fell more than nslots behind is told how many snapshots it lost.
 * Readers only read, so they never block or slow the writer.
 *
 * A new writer never reuses the old file: it writes a complete new file
 * and rename()s it over the path, with a new random epoch. Readers notice
 * the replacement (inode of the path changed) and re-map (see
 * km_ring_info.resynced); the old writer marks its header closed on exit.
 *
 * All functions return 0 or -errno and log (lib/log.h) unless said.
 */
#ifndef KM_RING_H
#define KM_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KM_RING_MAGIC 0x474e52545354534bULL /* "KSTSTRNG" little-endian */
#define KM_RING_VERSION 1
#define KM_RING_HDR_SIZE 4096
#define KM_RING_SLOTS_DEFAULT 64
#define KM_RING_SLOTS_MAX 4096
/* A slot's payload is at most this many bytes (keeps a bad header from
 * making readers allocate gigabytes). */
#define KM_RING_PAYLOAD_MAX (64u << 20)

#define KM_RING_F_CLOSED 0x1 /* the writer exited; no more snapshots */

/* At offset 0 of the file. Fields after seq are written once, before the
 * file is renamed into place. */
struct km_ring_hdr {
	uint64_t magic;		  /* KM_RING_MAGIC */
	uint32_t version;	  /* KM_RING_VERSION */
	uint32_t hdr_size;	  /* KM_RING_HDR_SIZE */
	uint32_t nslots;	  /* slots in the ring */
	uint32_t slot_size;	  /* bytes per slot, slot head included, x 64 */
	uint64_t epoch;		  /* random, nonzero, new for every writer */
	uint64_t seq;		  /* number of the latest complete snapshot
				     (0: none yet); atomic */
	uint64_t interval_ns;	  /* the writer's publishing interval */
	uint64_t created_mono_ns; /* CLOCK_MONOTONIC at creation */
	uint32_t writer_pid;
	uint32_t flags;	       /* KM_RING_F_*; atomic */
	char payload_kind[16]; /* what the payload is ("km_snapshot") */
	uint32_t payload_version;
	uint32_t pad;
};

struct km_ring_slot {
	uint64_t lock; /* seqlock: odd while the payload is written; atomic */
	uint64_t seq;  /* snapshot number held (valid when lock is even) */
	uint64_t len;  /* payload bytes */
	uint64_t pad;
	/* payload follows, 8-byte aligned */
};

/* ---- writer ---- */
struct km_ring_writer;

struct km_ring_params {
	uint32_t nslots;      /* 0: KM_RING_SLOTS_DEFAULT */
	uint32_t payload_max; /* largest payload a slot holds */
	uint64_t interval_ns;
	const char *payload_kind; /* at most 15 characters */
	uint32_t payload_version;
};

/* Create a new ring at path (its directory must exist): written complete
 * under a temporary name in the same directory, then renamed over path. */
int km_ring_writer_create(struct km_ring_writer **out, const char *path,
			  const struct km_ring_params *p);
/* Publish len (<= payload_max) bytes as the next snapshot; returns its
 * number (> 0) or -errno. */
int64_t km_ring_publish(struct km_ring_writer *w, const void *payload,
			size_t len);
uint64_t km_ring_writer_epoch(const struct km_ring_writer *w);
/* Marks the ring closed (readers see the writer gone) and unmaps; the file
 * stays, with its last snapshots. NULL is fine. */
void km_ring_writer_close(struct km_ring_writer *w);

/* ---- reader ---- */
struct km_ring_reader;

struct km_ring_info {
	uint64_t seq;	  /* number of the snapshot returned */
	uint64_t epoch;	  /* writer epoch it came from */
	uint64_t latest;  /* writer's latest number when it was read */
	uint64_t lost;	  /* snapshots the reader skipped since its last
			     read (overrun, or km_ring_read_latest going
			     ahead); 0 on the first read of an epoch */
	uint32_t retries; /* torn copies discarded before this one */
	bool resynced;	  /* a new writer (epoch) since the last read */
	bool closed;	  /* the writer has exited */
	uint64_t interval_ns;
	char payload_kind[16];
	uint32_t payload_version;
};

/* Open and map the ring at path read-only. -ENOENT (logged only when
 * `quiet` is false) when there is none; -EPROTO when it is not a ring of
 * this version. */
int km_ring_reader_open(struct km_ring_reader **out, const char *path,
			bool quiet);
void km_ring_reader_close(struct km_ring_reader *r);
/* Largest payload of the mapped ring (for sizing buffers; may grow after a
 * resync, which the read calls report with -EMSGSIZE). */
size_t km_ring_reader_payload_max(const struct km_ring_reader *r);

/*
 * The latest snapshot into buf (cap bytes); *len gets its size. Re-maps
 * first when the file at path was replaced. -EAGAIN (not logged): no
 * snapshot yet, or none could be copied untorn in a bounded number of tries
 * (the writer rewrote the slot each time); -EMSGSIZE: cap too small.
 */
int km_ring_read_latest(struct km_ring_reader *r, void *buf, size_t cap,
			size_t *len, struct km_ring_info *info);
/*
 * The snapshot after the last one this reader returned (the latest on the
 * first call or after a resync). When that one was overwritten already,
 * the oldest one still in the ring is returned and info->lost says how
 * many were skipped. -EAGAIN (not logged): nothing new.
 */
int km_ring_read_next(struct km_ring_reader *r, void *buf, size_t cap,
		      size_t *len, struct km_ring_info *info);

/*
 * Snapshot number seq of the current epoch (e.g. latest - 1, for rates
 * from the two newest). -ESTALE (not logged): overwritten already;
 * -EAGAIN: not published yet, or torn in every try. Does not move the
 * position of km_ring_read_next.
 */
int km_ring_read_at(struct km_ring_reader *r, uint64_t seq, void *buf,
		    size_t cap, size_t *len, struct km_ring_info *info);

/* "<run_dir>/stats.ring"; run_dir NULL: /run/kilimanjaro/<ifname>. */
int km_ring_path(char *buf, size_t len, const char *run_dir,
		 const char *ifname);

#endif
