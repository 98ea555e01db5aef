/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The HTTP JSON API (README "Controller", the contract the dashboard and
 * the tests are written against), without the HTTP: a method, a path under
 * /api, a query and a body in; a status and a JSON body out. Authentication
 * is http.c's, before this is called. Every refusal is
 * {"error": "<field>: <why>"}.
 */
#ifndef KM_CTL_API_H
#define KM_CTL_API_H

#include <stddef.h>
#include <stdint.h>

#include "edges.h"
#include "kilimanjaro.pb-c.h"
#include "state.h"

#define API_WHY_LEN 256
#define API_POINTS_DEFAULT 60

struct api {
	struct state *st;
	struct edges *edges;
};

struct api_reply {
	unsigned int status;
	char *body; /* malloc'd JSON */
};

/* path: the URL path after "/api" (e.g. "/services/udp/1.2.3.4/27015");
 * points: the "points" query argument or NULL. */
void api_dispatch(struct api *a, const char *method, const char *path,
		  const char *points, const char *body, size_t body_len,
		  struct api_reply *rep);
/* A reply {"error": why} with status. */
void api_error(struct api_reply *rep, unsigned int status, const char *why);

/* ---- parsing, exposed for the unit tests ---- */

/* Dotted quad -> host order; host addresses must also be unicast (not
 * 0/8, 127/8, 224/4, 240/4). 0 or -EINVAL with why. */
int api_parse_host(const char *s, uint32_t *out, char *why, size_t wl);
/* "a.b.c.d/len" (or a bare address = /32), host bits zero. */
int api_parse_prefix(const char *s, uint32_t *addr, uint8_t *len, char *why,
		     size_t wl);

/* A Service with all its parts in one allocation. */
struct api_service {
	Kilimanjaro__V1__Service svc;
	Kilimanjaro__V1__ServiceKey key;
	Kilimanjaro__V1__Limit lim[4];
	Kilimanjaro__V1__A2sConfig a2s;
	char name[65];
};

/* The body of POST /api/services. 0 or -EINVAL with why naming the field. */
int api_service_parse(const char *body, size_t len, struct api_service *out,
		      char *why, size_t wl);

#endif
