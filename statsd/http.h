/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * GET /metrics over HTTP (libmicrohttpd, its own thread). The handler reads
 * the latest snapshot from the stats ring like any other reader, so the
 * publishing loop and the server share nothing but the ring.
 */
#ifndef KS_HTTP_H
#define KS_HTTP_H

#include <netinet/in.h>

struct ks_http;

int ks_http_start(struct ks_http **out, const struct sockaddr_in *addr,
		  const char *ring_path);
void ks_http_stop(struct ks_http *h);

#endif
