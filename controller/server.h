/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The agents' side: one epoll loop (no thread per agent) over non-blocking
 * sockets, TLS 1.3 with mutual certificates (lib/tls) or, only when the
 * config allows it and only from loopback, plain TCP. A connection starting
 * with a TLS record is TLS; anything else is plain (the first byte of a
 * frame is 0: frames are far below 16 MiB).
 *
 * Session: Hello (edge_id must equal the certificate's CN) -> snapshot ->
 * deltas as the state changes; Acks tracked; a refused delta -> a fresh
 * snapshot; PortPunchLearned stored and relayed at once; heartbeats both
 * ways. An invalid message is refused with a logged reason and changes
 * nothing; the session goes on.
 */
#ifndef KM_CTL_SERVER_H
#define KM_CTL_SERVER_H

#include <openssl/ssl.h>

#include "ctl_config.h"
#include "edges.h"
#include "state.h"

#define SERVER_HELLO_TIMEOUT_MS 10000
#define SERVER_PING_MS 5000
#define SERVER_IDLE_TIMEOUT_MS 20000
#define SERVER_OUT_MAX                                                         \
	(64u << 20) /* queued bytes before a slow edge is dropped */
#define SERVER_SWEEP_MS 10000

struct server;

/* Listen on cfg->agents_listen; tls may be NULL only with allow_plain_tcp.
 * sigfd: a signalfd whose signals end server_run. */
int server_new(struct server **out, const struct ctl_config *cfg, SSL_CTX *tls,
	       struct state *st, struct edges *edges, int sigfd);
int server_run(struct server *s);
void server_free(struct server *s);

#endif
