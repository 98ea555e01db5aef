// SPDX-License-Identifier: GPL-2.0-only
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#include "log.h"
#include "prom.h"
#include "ring.h"
#include "snapshot.h"

struct ks_http {
	struct MHD_Daemon *d;
	struct km_ring_reader *ring; /* used by the MHD thread only */
	void *buf;
	size_t cap;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int status,
			     const char *type, char *body, size_t len,
			     bool owned)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
	    len, body, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r) {
		if (owned)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

#define TEXT "text/plain; charset=utf-8"

/* Room for the ring's largest payload (it grows when a new writer with
 * larger slots replaced the file). */
static int reserve(struct ks_http *h)
{
	size_t need = km_ring_reader_payload_max(h->ring);
	void *nb;

	if (need <= h->cap)
		return 0;
	nb = realloc(h->buf, need);
	if (!nb)
		return -ENOMEM;
	h->buf = nb;
	h->cap = need;
	return 0;
}

/* The latest snapshot rendered, or an error text and its status. */
static unsigned int render(struct ks_http *h, char **body, size_t *len)
{
	struct km_ring_info info;
	size_t n = 0;
	int e = -EMSGSIZE;
	FILE *f;

	/* A read can re-map a new, larger ring: then once more. */
	for (int tries = 0; tries < 3 && e == -EMSGSIZE; tries++) {
		if (reserve(h))
			return MHD_HTTP_INTERNAL_SERVER_ERROR;
		e = km_ring_read_latest(h->ring, h->buf, h->cap, &n, &info);
	}
	if (e || km_snapshot_check(h->buf, n))
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	f = open_memstream(body, len);
	if (!f)
		return MHD_HTTP_INTERNAL_SERVER_ERROR;
	e = ks_prom_render(f, h->buf, mono_ns());
	if (fclose(f) || e) {
		free(*body);
		return MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
	return MHD_HTTP_OK;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c,
			      const char *url, const char *method,
			      const char *version, const char *upload,
			      size_t *upload_len, void **req)
{
	static char not_found[] = "not found: only /metrics is served\n";
	static char no_method[] = "method not allowed: GET /metrics\n";
	static char no_data[] = "no snapshot yet\n";
	static char failed[] = "internal error\n";
	struct ks_http *h = cls;
	unsigned int st;
	char *body = NULL;
	size_t len = 0;

	(void)version;
	(void)upload;
	(void)req;
	if (*upload_len)
		return MHD_NO; /* a GET has no body */
	if (strcmp(url, "/metrics"))
		return reply(c, MHD_HTTP_NOT_FOUND, TEXT, not_found,
			     strlen(not_found), false);
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, TEXT, no_method,
			     strlen(no_method), false);
	st = render(h, &body, &len);
	if (st == MHD_HTTP_OK)
		return reply(c, st, KS_PROM_CONTENT_TYPE, body, len, true);
	if (st == MHD_HTTP_SERVICE_UNAVAILABLE)
		return reply(c, st, TEXT, no_data, strlen(no_data), false);
	return reply(c, st, TEXT, failed, strlen(failed), false);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[256];

	(void)cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = 0;
	km_warn("http: %s", buf);
}

int ks_http_start(struct ks_http **out, const struct sockaddr_in *addr,
		  const char *ring_path)
{
	struct ks_http *h = calloc(1, sizeof(*h));
	char a[INET_ADDRSTRLEN];
	int r;

	*out = NULL;
	if (!h)
		return km_log_errno(-ENOMEM, "http: out of memory");
	r = km_ring_reader_open(&h->ring, ring_path, false);
	if (r)
		goto fail;
	inet_ntop(AF_INET, &addr->sin_addr, a, sizeof(a));
	/* One internal thread, a few connections: scrapers, not the
	 * public. */
	h->d = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
	    handle, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	    MHD_OPTION_SOCK_ADDR, addr, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned int)16, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10,
	    MHD_OPTION_END);
	if (!h->d) {
		r = km_log_errno(-EADDRNOTAVAIL,
				 "--listen %s:%u: cannot serve HTTP there "
				 "(address in use or not local?)",
				 a, ntohs(addr->sin_port));
		goto fail;
	}
	km_info("serving Prometheus metrics on http://%s:%u/metrics", a,
		ntohs(addr->sin_port));
	*out = h;
	return 0;
fail:
	ks_http_stop(h);
	return r;
}

void ks_http_stop(struct ks_http *h)
{
	if (!h)
		return;
	if (h->d)
		MHD_stop_daemon(h->d);
	km_ring_reader_close(h->ring);
	free(h->buf);
	free(h);
}
