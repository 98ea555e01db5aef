/* SPDX-License-Identifier: GPL-2.0-only */
/* The worker's state, shared by worker.c (set-up, loop, shutdown) and
 * a2s.c (requests, answers, refreshes). */
#ifndef KW_WORKER_INT_H
#define KW_WORKER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "a2s_pkt.h"
#include "a2s_sched.h"
#include "a2s_split.h"
#include "a2s_store.h"
#include "kilimanjaro_abi.h"
#include "maps.h"
#include "xsk.h"

/* One A2S-enabled UDP service, as read from km_services and km_a2s_cfg. */
struct kw_svc {
	struct km_service_key key;
	struct km_service svc;
	struct km_a2s_cfg a2s;
	uint16_t answer_port; /* __be16: the port the game server answers
				 from (backend_port, or the service port) */
};

/* A request waiting for its answer. The frame is kept whole: it is
 * answered from it, or handed to the game server as it came. */
#define KW_PENDING_MAX 1024
#define KW_PENDING_PER_SVC 64
#define KW_PENDING_FRAME 256
struct kw_pending {
	uint64_t deadline_ns;
	uint32_t svc_id;
	uint8_t kind;
	uint16_t len;
	uint8_t frame[KW_PENDING_FRAME];
};

/* Split answers being assembled, one per service (one query in flight per
 * game server); a few slots, the oldest reused. */
#define KW_SPLITS 8
struct kw_split_slot {
	uint32_t svc_id;
	bool used;
	struct a2s_split s;
};

struct kw_worker {
	const char *ifname;
	uint32_t queue;
	uint32_t pid;
	struct km_maps maps;
	struct km_a2s_entry *info;   /* km_a2s_info, mmapped */
	struct km_a2s_wstat *wstats; /* km_a2s_wstats, mmapped */
	size_t info_size, wstats_size;
	struct kw_store store;
	struct kw_xsk xsk;
	bool xsk_registered;
	int udp_fd, raw_fd, timer_fd, sig_fd, wd_fd;
	uint16_t udp_port;  /* __be16 */
	uint32_t edge_addr; /* __be32, km_config.edge_addr */
	uint16_t svc_epoch;
	uint64_t svc_loaded_ns;
	struct kw_svc *svcs;
	size_t nsvcs;
	int32_t by_id[KM_MAX_SERVICES]; /* index into svcs, -1 */
	struct kw_pending *pending;
	size_t npending;
	struct kw_split_slot splits[KW_SPLITS];
	uint32_t split_id;
	/* Rate-limited logging of bad packets. */
	uint64_t log_window_ns;
	unsigned int log_count, log_suppressed;
	bool stopping;
	uint8_t buf[A2S_ANSWER_MAX + 64]; /* assembled and served answers */
	uint8_t rxbuf[2048];		  /* datagrams of the UDP socket */
};

/* a2s.c */
int a2s_services_load(struct kw_worker *w, uint64_t now);
void a2s_frame(struct kw_worker *w, const uint8_t *f, size_t len);
void a2s_udp_answer(struct kw_worker *w, uint32_t saddr, uint16_t sport,
		    const uint8_t *p, size_t len);
void a2s_tick(struct kw_worker *w, uint64_t now);
/* Shutdown: answer what the cache can, hand the rest to the game server. */
void a2s_pending_flush(struct kw_worker *w);
void kw_wstat_add(struct kw_worker *w, uint32_t id, size_t field_off,
		  uint64_t n);
#define KW_WSTAT(w, id, field, n)                                              \
	kw_wstat_add(w, id, offsetof(struct km_a2s_wstat, field), n)
void kw_log_bad(struct kw_worker *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
