// SPDX-License-Identifier: GPL-2.0-only
#include "edges.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KV1(x) Kilimanjaro__V1__##x

struct sample {
	uint64_t t_ms; /* wall clock of arrival */
	double pps_in, pps_fwd, pps_drop, pps_pass, bps;
};

struct svc_rate {
	uint32_t proto, addr, port;
	uint64_t rx_p, rx_b, fwd_p, drop_p; /* last totals */
	double rx_pps, rx_bps, fwd_pps, drop_pps;
};

struct edge {
	char id[EDGE_ID_MAX + 1];
	char peer[48];
	char software[64];
	bool connected;
	uint64_t sent, acked, last_seen_ms, connected_ms;
	uint64_t punches, blocks, stats_count;

	/* per reason: name, last total, last rate */
	char reason[EDGE_REASONS][40];
	uint64_t r_pkts[EDGE_REASONS], r_bytes[EDGE_REASONS];
	double r_pps[EDGE_REASONS];
	size_t n_reasons;
	double bps;
	bool have_prev;
	uint64_t prev_uptime_ms, prev_arrival_ms;

	struct svc_rate *svcs;
	size_t n_svcs;

	struct sample samples[EDGE_SAMPLES];
	size_t n_samples, next_sample;
};

struct edges {
	pthread_mutex_t lock;
	struct edge *e[EDGES_MAX];
	size_t n;
};

char edges_reason_class(const char *reason)
{
	if (!strncmp(reason, "drop_", 5))
		return 'd';
	if (!strncmp(reason, "pass_", 5))
		return 'p';
	return 'f'; /* fwd_*, tx_*, redir_*: the edge served it */
}

struct edges *edges_new(void)
{
	struct edges *e = calloc(1, sizeof(*e));

	if (e)
		pthread_mutex_init(&e->lock, NULL);
	return e;
}

void edges_free(struct edges *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->n; i++) {
		free(e->e[i]->svcs);
		free(e->e[i]);
	}
	pthread_mutex_destroy(&e->lock);
	free(e);
}

static struct edge *find(struct edges *e, const char *id)
{
	for (size_t i = 0; i < e->n; i++)
		if (!strcmp(e->e[i]->id, id))
			return e->e[i];
	return NULL;
}

int edges_connected(struct edges *e, const char *id, const char *peer,
		    const char *software)
{
	struct edge *x;
	int r = 0;

	pthread_mutex_lock(&e->lock);
	x = find(e, id);
	if (!x) {
		if (e->n >= EDGES_MAX || !(x = calloc(1, sizeof(*x)))) {
			r = -ENOSPC;
			goto out;
		}
		snprintf(x->id, sizeof(x->id), "%s", id);
		e->e[e->n++] = x;
	}
	x->connected = true;
	snprintf(x->peer, sizeof(x->peer), "%s", peer);
	snprintf(x->software, sizeof(x->software), "%s",
		 software ? software : "");
	x->sent = x->acked = 0;
	/* A new session's counters may come from a restarted edge: no rate
	 * across the gap. */
	x->have_prev = false;
out:
	pthread_mutex_unlock(&e->lock);
	return r;
}

void edges_disconnected(struct edges *e, const char *id)
{
	struct edge *x;

	pthread_mutex_lock(&e->lock);
	x = find(e, id);
	if (x)
		x->connected = false;
	pthread_mutex_unlock(&e->lock);
}

void edges_versions(struct edges *e, const char *id, uint64_t sent,
		    uint64_t acked)
{
	struct edge *x;

	pthread_mutex_lock(&e->lock);
	x = find(e, id);
	if (x) {
		x->sent = sent;
		x->acked = acked;
	}
	pthread_mutex_unlock(&e->lock);
}

void edges_seen(struct edges *e, const char *id)
{
	struct timespec ts;
	struct edge *x;

	clock_gettime(CLOCK_REALTIME, &ts);
	pthread_mutex_lock(&e->lock);
	x = find(e, id);
	if (x)
		x->last_seen_ms =
		    (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	pthread_mutex_unlock(&e->lock);
}

void edges_event(struct edges *e, const char *id, bool punch)
{
	struct edge *x;

	pthread_mutex_lock(&e->lock);
	x = find(e, id);
	if (x && punch)
		x->punches++;
	else if (x)
		x->blocks++;
	pthread_mutex_unlock(&e->lock);
}

static double rate(uint64_t cur, uint64_t prev, double dt_s)
{
	/* A counter that went down was reset (maps recreated): no rate. */
	return cur >= prev && dt_s > 0 ? (double)(cur - prev) / dt_s : 0;
}

static long reason_slot(struct edge *x, const char *name)
{
	for (size_t i = 0; i < x->n_reasons; i++)
		if (!strcmp(x->reason[i], name))
			return (long)i;
	if (x->n_reasons >= EDGE_REASONS)
		return -1;
	snprintf(x->reason[x->n_reasons], sizeof(x->reason[0]), "%s", name);
	x->r_pkts[x->n_reasons] = x->r_bytes[x->n_reasons] = 0;
	x->r_pps[x->n_reasons] = 0;
	return (long)x->n_reasons++;
}

static void stats_reasons(struct edge *x, const KV1(StatsSnapshot) * s,
			  double dt, struct sample *smp)
{
	uint64_t bytes_prev = 0, bytes_cur = 0;

	for (size_t i = 0; i < s->n_reasons; i++) {
		const KV1(ReasonCount) *rc = s->reasons[i];
		long k = reason_slot(x, rc->reason);
		double pps;

		if (k < 0)
			continue;
		pps = rate(rc->packets, x->r_pkts[k], dt);
		bytes_prev += x->r_bytes[k];
		bytes_cur += rc->bytes;
		x->r_pps[k] = pps;
		x->r_pkts[k] = rc->packets;
		x->r_bytes[k] = rc->bytes;
		smp->pps_in += pps;
		switch (edges_reason_class(rc->reason)) {
		case 'd':
			smp->pps_drop += pps;
			break;
		case 'p':
			smp->pps_pass += pps;
			break;
		default:
			smp->pps_fwd += pps;
		}
	}
	smp->bps = rate(bytes_cur, bytes_prev, dt) * 8;
	x->bps = smp->bps;
}

static void stats_services(struct edge *x, const KV1(StatsSnapshot) * s,
			   double dt)
{
	struct svc_rate *n = calloc(s->n_services + 1, sizeof(*n));

	if (!n)
		return;
	for (size_t i = 0; i < s->n_services; i++) {
		const KV1(ServiceStats) *ss = s->services[i];
		const struct svc_rate *old = NULL;

		for (size_t j = 0; j < x->n_svcs; j++)
			if (x->svcs[j].proto == (uint32_t)ss->key->proto &&
			    x->svcs[j].addr == ss->key->addr &&
			    x->svcs[j].port == ss->key->port)
				old = &x->svcs[j];
		n[i].proto = (uint32_t)ss->key->proto;
		n[i].addr = ss->key->addr;
		n[i].port = ss->key->port;
		n[i].rx_p = ss->rx_packets;
		n[i].rx_b = ss->rx_bytes;
		n[i].fwd_p = ss->fwd_packets;
		n[i].drop_p = ss->drop_packets;
		if (old && dt > 0) {
			n[i].rx_pps = rate(ss->rx_packets, old->rx_p, dt);
			n[i].rx_bps = rate(ss->rx_bytes, old->rx_b, dt) * 8;
			n[i].fwd_pps = rate(ss->fwd_packets, old->fwd_p, dt);
			n[i].drop_pps = rate(ss->drop_packets, old->drop_p, dt);
		}
	}
	free(x->svcs);
	x->svcs = n;
	x->n_svcs = s->n_services;
}

void edges_stats(struct edges *e, const char *id, const KV1(StatsSnapshot) * s,
		 uint64_t now_ms)
{
	struct sample smp = {.t_ms = now_ms};
	struct edge *x;
	double dt = 0;

	pthread_mutex_lock(&e->lock);
	x = find(e, id);
	if (!x)
		goto out;
	x->stats_count++;
	if (x->have_prev) {
		/* The edge's own clock when it is sane; else arrival times. */
		if (s->has_uptime_ms && s->uptime_ms > x->prev_uptime_ms)
			dt = (double)(s->uptime_ms - x->prev_uptime_ms) / 1000;
		else if (now_ms > x->prev_arrival_ms)
			dt = (double)(now_ms - x->prev_arrival_ms) / 1000;
	}
	if (!x->have_prev) {
		/* Totals only: the first snapshot of a session has no rate. */
		for (size_t i = 0; i < x->n_reasons; i++)
			x->r_pkts[i] = x->r_bytes[i] = 0;
	}
	stats_reasons(x, s, dt, &smp);
	stats_services(x, s, dt);
	x->prev_uptime_ms = s->has_uptime_ms ? s->uptime_ms : 0;
	x->prev_arrival_ms = now_ms;
	if (x->have_prev) {
		x->samples[x->next_sample] = smp;
		x->next_sample = (x->next_sample + 1) % EDGE_SAMPLES;
		if (x->n_samples < EDGE_SAMPLES)
			x->n_samples++;
	} else {
		for (size_t i = 0; i < x->n_reasons; i++)
			x->r_pps[i] = 0;
		x->bps = 0;
		for (size_t i = 0; i < x->n_svcs; i++)
			x->svcs[i].rx_pps = x->svcs[i].rx_bps =
			    x->svcs[i].fwd_pps = x->svcs[i].drop_pps = 0;
	}
	x->have_prev = true;
out:
	pthread_mutex_unlock(&e->lock);
}

/* Rates with two decimals ("999.00"), not seventeen digits of noise. */
static json_object *jrate(double v)
{
	char b[48];

	snprintf(b, sizeof(b), "%.2f", v);
	return json_object_new_double_s(v, b);
}

static const char *proto_name(uint32_t p)
{
	return p == 17 ? "udp" : p == 6 ? "tcp" : "unknown";
}

static json_object *addr_json(uint32_t host_order)
{
	struct in_addr a = {.s_addr = htonl(host_order)};
	char b[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &a, b, sizeof(b));
	return json_object_new_string(b);
}

static json_object *edge_json(const struct edge *x, uint64_t now_ms)
{
	json_object *o = json_object_new_object(), *pps, *svcs;

	json_object_object_add(o, "id", json_object_new_string(x->id));
	json_object_object_add(o, "connected",
			       json_object_new_boolean(x->connected));
	json_object_object_add(o, "peer", json_object_new_string(x->peer));
	json_object_object_add(o, "software",
			       json_object_new_string(x->software));
	json_object_object_add(o, "config_version",
			       json_object_new_uint64(x->sent));
	json_object_object_add(o, "acked_version",
			       json_object_new_uint64(x->acked));
	json_object_object_add(o, "last_seen_ms",
			       json_object_new_uint64(x->last_seen_ms));
	json_object_object_add(
	    o, "last_seen_ago_ms",
	    json_object_new_uint64(
		now_ms > x->last_seen_ms ? now_ms - x->last_seen_ms : 0));
	pps = json_object_new_object();
	for (size_t i = 0; i < x->n_reasons; i++)
		json_object_object_add(pps, x->reason[i], jrate(x->r_pps[i]));
	json_object_object_add(o, "pps", pps);
	json_object_object_add(o, "bps", jrate(x->bps));
	svcs = json_object_new_array();
	for (size_t i = 0; i < x->n_svcs; i++) {
		const struct svc_rate *s = &x->svcs[i];
		json_object *j = json_object_new_object();

		json_object_object_add(
		    j, "proto", json_object_new_string(proto_name(s->proto)));
		json_object_object_add(j, "addr", addr_json(s->addr));
		json_object_object_add(j, "port",
				       json_object_new_int((int)s->port));
		json_object_object_add(j, "rx_pps", jrate(s->rx_pps));
		json_object_object_add(j, "rx_bps", jrate(s->rx_bps));
		json_object_object_add(j, "fwd_pps", jrate(s->fwd_pps));
		json_object_object_add(j, "drop_pps", jrate(s->drop_pps));
		json_object_array_add(svcs, j);
	}
	json_object_object_add(o, "services", svcs);
	json_object_object_add(o, "punches_reported",
			       json_object_new_uint64(x->punches));
	json_object_object_add(o, "blocks_reported",
			       json_object_new_uint64(x->blocks));
	json_object_object_add(o, "stats_received",
			       json_object_new_uint64(x->stats_count));
	return o;
}

json_object *edges_json(struct edges *e, uint64_t now_ms)
{
	json_object *root = json_object_new_object();
	json_object *arr = json_object_new_array();

	pthread_mutex_lock(&e->lock);
	for (size_t i = 0; i < e->n; i++)
		json_object_array_add(arr, edge_json(e->e[i], now_ms));
	pthread_mutex_unlock(&e->lock);
	json_object_object_add(root, "edges", arr);
	return root;
}

json_object *edges_stats_json(struct edges *e, const char *id,
			      unsigned int points)
{
	json_object *root = NULL, *t, *in, *fwd, *drop, *pass, *bps;
	struct edge *x;
	size_t n;

	pthread_mutex_lock(&e->lock);
	x = find(e, id);
	if (!x)
		goto out;
	root = json_object_new_object();
	t = json_object_new_array();
	in = json_object_new_array();
	fwd = json_object_new_array();
	drop = json_object_new_array();
	pass = json_object_new_array();
	bps = json_object_new_array();
	n = points < x->n_samples ? points : x->n_samples;
	for (size_t k = 0; k < n; k++) {
		/* oldest first */
		size_t i =
		    (x->next_sample + EDGE_SAMPLES - n + k) % EDGE_SAMPLES;
		const struct sample *s = &x->samples[i];

		json_object_array_add(t, json_object_new_uint64(s->t_ms));
		json_object_array_add(in, jrate(s->pps_in));
		json_object_array_add(fwd, jrate(s->pps_fwd));
		json_object_array_add(drop, jrate(s->pps_drop));
		json_object_array_add(pass, jrate(s->pps_pass));
		json_object_array_add(bps, jrate(s->bps));
	}
	json_object_object_add(root, "t_ms", t);
	json_object_object_add(root, "pps_in", in);
	json_object_object_add(root, "pps_fwd", fwd);
	json_object_object_add(root, "pps_drop", drop);
	json_object_object_add(root, "pps_pass", pass);
	json_object_object_add(root, "bps", bps);
out:
	pthread_mutex_unlock(&e->lock);
	return root;
}

size_t edges_connected_count(struct edges *e)
{
	size_t c = 0;

	pthread_mutex_lock(&e->lock);
	for (size_t i = 0; i < e->n; i++)
		c += e->e[i]->connected;
	pthread_mutex_unlock(&e->lock);
	return c;
}
