/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kilimanjaro-agent's state: one session with the controller at a time,
 * driven by one io_uring (loop.c); the protocol is session.c's.
 *
 * Buffers an in-flight io_uring operation points to (rx, tx.sending) live
 * in this struct and are only released or reused after that operation's
 * completion: a dropped connection first drains (inflight == 0), then
 * closes, then the next attempt may start.
 */
#ifndef KA_AGENT_H
#define KA_AGENT_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

#include "backoff.h"
#include "frame.h"
#include "maps.h"
#include "options.h"
#include "tls.h"

struct ring_buffer;
struct km_ring_reader;

enum ka_state {
	KA_IDLE = 0,	/* no connection; next attempt at next_connect_ns */
	KA_CONNECTING,	/* TCP connect in flight */
	KA_HANDSHAKE,	/* TLS handshake */
	KA_ESTABLISHED, /* Hello sent; messages flow */
};

struct ka_buf {
	uint8_t *d;
	size_t len, off, cap;
};

#define KA_RX_BUF 65536
#define KA_BACKLOG_MAX 4096
#define KA_TX_MAX                                                              \
	(32u << 20) /* queued bytes beyond which stats are skipped             \
		     */

struct ka_agent {
	const struct ka_opts *o;
	struct km_maps maps;
	struct io_uring ring;
	SSL_CTX *tls_ctx; /* NULL with --plain-tcp */
	bool stop;

	/* connection */
	enum ka_state state;
	int fd;
	uint32_t gen;		/* of the current connection (user_data) */
	int inflight;		/* operations on fd not completed yet */
	bool send_busy;		/* tx.sending is in flight */
	bool closing;		/* dropped: shut down, draining */
	bool close_after_flush; /* close once tx is empty (resync) */
	struct km_tls_conn *tls;
	struct km_frame_reader rd;
	uint8_t rx[KA_RX_BUF];
	struct ka_buf sending, pending;
	uint64_t seq; /* our Envelope.seq in this session */
	uint64_t connect_start_ns, last_rx_ns, last_ping_ns, next_connect_ns;
	uint64_t ping_nonce;
	struct ka_backoff bo;

	/* config state */
	uint64_t config_version; /* last snapshot/delta applied (0: none) */

	/* sources */
	struct ring_buffer *events;
	int events_fd; /* epoll fd of the ring buffer */
	struct km_event backlog[KA_BACKLOG_MAX];
	uint32_t backlog_n;
	uint64_t backlog_dropped;
	int stats_tfd, tick_tfd, sig_fd;
	char ring_path[256];
	struct km_ring_reader *ringr;
	uint64_t ring_epoch, ring_seq; /* of the last snapshot sent */
	int stats_src;		       /* stats_source_is() */
	void *snap_buf;
	size_t snap_cap;
	void *snap_ctx; /* struct km_snap_ctx */

	/* counters (logged at exit; tests read the log) */
	uint64_t n_refused, n_applied, n_events_sent, n_stats_sent;
};

/* loop.c */
int ka_agent_init(struct ka_agent *a, const struct ka_opts *o);
int ka_agent_run(struct ka_agent *a);
void ka_agent_fini(struct ka_agent *a);
/* Queue one message (frame, through TLS when on). 0 or -errno; a failure
 * drops the session. */
int ka_send(struct ka_agent *a, KmEnvelope *env);
/* End the session (logged with reason at LOG_WARNING); the loop reconnects
 * after a backoff delay. */
void ka_drop(struct ka_agent *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
uint64_t ka_now_ns(void);

/* session.c */
void ka_session_established(struct ka_agent *a);
/* One complete frame's payload from the controller. */
void ka_session_frame(struct ka_agent *a, const uint8_t *buf, uint32_t len);
void ka_session_tick(struct ka_agent *a, uint64_t now);
void ka_session_stats(struct ka_agent *a);
void ka_session_event(struct ka_agent *a, const struct km_event *ev);

#endif
