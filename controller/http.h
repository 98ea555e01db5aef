/* SPDX-License-Identifier: GPL-2.0-only */
/* The controller's HTTP server (libmicrohttpd, its own threads): /api/...
 * behind authentication (auth.h), the dashboard's static files from the
 * web root for everything else. */
#ifndef KM_CTL_HTTP_H
#define KM_CTL_HTTP_H

#include <netinet/in.h>

#include "api.h"
#include "auth.h"

#define HTTP_BODY_MAX (64 * 1024)
#define HTTP_COOKIE "km_session"

struct http;

int http_start(struct http **out, const struct sockaddr_in *listen,
	       const char *web_root, struct api *api, struct auth *auth);
void http_stop(struct http *h);

/* Content type served for a file name (by its extension). */
const char *http_content_type(const char *path);
/* Map a URL path to a file under root into out: "/" is index.html; ".."
 * segments, hidden files and anything resolving outside root are -EACCES,
 * a missing file -ENOENT. */
int http_static_path(const char *root, const char *url, char *out, size_t len);

#endif
