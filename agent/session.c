// SPDX-License-Identifier: GPL-2.0-only
/*
 * The controller protocol as the agent speaks it (docs/design.md "Agent"):
 * Hello first; then snapshots and deltas applied and acknowledged with
 * their version; events and stats out; Ping/Pong both ways.
 *
 * What the controller sends is untrusted: a frame that does not decode, or
 * a message lib/pbcheck refuses, changes nothing and keeps the session;
 * the refusal is logged and, when the message carried a version, answered
 * with Ack{ok = false, error}.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "apply.h"
#include "log.h"
#include "pbcheck.h"
#include "report.h"
#include "ring.h"
#include "snapshot.h"

#define BODY(x) KILIMANJARO__V1__ENVELOPE__BODY_##x

static void env_init(struct ka_agent *a, KmEnvelope *env)
{
	kilimanjaro__v1__envelope__init(env);
	env->schema = KM_SCHEMA_VERSION;
	env->has_seq = 1;
	env->seq = ++a->seq;
}

static void send_ack(struct ka_agent *a, uint64_t version, const char *error)
{
	Kilimanjaro__V1__Ack ack = KILIMANJARO__V1__ACK__INIT;
	KmEnvelope env;

	env_init(a, &env);
	ack.version = version;
	ack.ok = !error;
	ack.error = (char *)error;
	env.body_case = BODY(ACK);
	env.ack = &ack;
	ka_send(a, &env);
}

void ka_session_established(struct ka_agent *a)
{
	Kilimanjaro__V1__Hello h = KILIMANJARO__V1__HELLO__INIT;
	KmEnvelope env;
	uint32_t sent = 0;

	env_init(a, &env);
	h.edge_id = (char *)a->o->edge_id;
	h.software_version = "kilimanjaro-agent " KA_VERSION;
	h.has_abi_version = 1;
	h.abi_version = KM_ABI_VERSION;
	h.interface = (char *)a->o->ifname;
	h.has_config_version = 1;
	h.config_version = a->config_version;
	env.body_case = BODY(HELLO);
	env.hello = &h;
	km_info("session with %s established (%s); hello sent with "
		"config_version %" PRIu64,
		a->o->controller, a->tls ? "TLS 1.3" : "plain TCP",
		a->config_version);
	if (ka_send(a, &env))
		return;
	/* Events of the disconnected time: late, but other edges still
	 * want the punches (anycast may shift players to them later). */
	for (uint32_t i = 0; i < a->backlog_n && a->state == KA_ESTABLISHED;
	     i++, sent++)
		ka_session_event(a, &a->backlog[i]);
	if (a->backlog_n)
		km_info("sent %u events learned while disconnected (%" PRIu64
			" more were dropped)",
			sent, a->backlog_dropped);
	a->backlog_n = 0;
	a->backlog_dropped = 0;
}

static void on_snapshot(struct ka_agent *a,
			const Kilimanjaro__V1__ConfigSnapshot *s)
{
	char why[KM_PB_WHY_LEN];
	uint64_t t0 = ka_now_ns();

	if (ka_apply_snapshot(&a->maps, s, why, sizeof(why))) {
		a->n_refused++;
		km_warn("controller snapshot version %" PRIu64 " refused: %s",
			s->version, why);
		send_ack(a, s->version, why);
		return;
	}
	a->config_version = s->version;
	a->n_applied++;
	/* A session that got as far as a full resync is a good one. */
	ka_backoff_reset(&a->bo);
	km_info("applied snapshot version %" PRIu64 ": %zu services, %zu "
		"allow, %zu deny, %zu blocks, %zu punches%s in %" PRIu64 " ms",
		s->version, s->n_services, s->n_allow, s->n_deny, s->n_blocks,
		s->n_punches, s->a2s_key ? ", A2S key" : "",
		(ka_now_ns() - t0) / 1000000);
	send_ack(a, s->version, NULL);
}

static void on_delta(struct ka_agent *a, const Kilimanjaro__V1__ConfigDelta *d)
{
	char why[KM_PB_WHY_LEN];

	/* Version 0: this process applied no snapshot yet, so the maps may
	 * hold controller entries of an earlier run that no delta names. */
	if (!a->config_version || d->base_version != a->config_version) {
		snprintf(why, sizeof(why),
			 "delta.base_version %" PRIu64
			 " is not this edge's version %" PRIu64
			 "%s; reconnecting for a full snapshot",
			 d->base_version, a->config_version,
			 a->config_version ? "" : " (no snapshot applied yet)");
		a->n_refused++;
		km_warn("controller delta version %" PRIu64 " refused: %s",
			d->version, why);
		send_ack(a, d->version, why);
		a->close_after_flush = true;
		return;
	}
	if (ka_apply_delta(&a->maps, d, why, sizeof(why))) {
		a->n_refused++;
		km_warn("controller delta version %" PRIu64 " refused: %s",
			d->version, why);
		send_ack(a, d->version, why);
		return;
	}
	a->config_version = d->version;
	a->n_applied++;
	km_info("applied delta version %" PRIu64 " (base %" PRIu64
		"): +%zu/-%zu services, +%zu/-%zu allow, +%zu/-%zu deny, "
		"+%zu/-%zu blocks, +%zu/-%zu punches%s",
		d->version, d->base_version, d->n_add_services,
		d->n_del_services, d->n_add_allow, d->n_del_allow,
		d->n_add_deny, d->n_del_deny, d->n_add_blocks, d->n_del_blocks,
		d->n_add_punches, d->n_del_punches,
		d->a2s_key ? ", A2S key" : "");
	send_ack(a, d->version, NULL);
}

/* The version a refused message carried, for its Ack (0: none). */
static uint64_t env_version(const KmEnvelope *env)
{
	if (env->body_case == BODY(SNAPSHOT))
		return env->snapshot->version;
	if (env->body_case == BODY(DELTA))
		return env->delta->version;
	return 0;
}

static void on_message(struct ka_agent *a, const KmEnvelope *env)
{
	switch (env->body_case) {
	case BODY(SNAPSHOT):
		on_snapshot(a, env->snapshot);
		break;
	case BODY(DELTA):
		on_delta(a, env->delta);
		break;
	case BODY(PING): {
		Kilimanjaro__V1__Pong pong = KILIMANJARO__V1__PONG__INIT;
		KmEnvelope out;

		env_init(a, &out);
		pong.nonce = env->ping->nonce;
		out.body_case = BODY(PONG);
		out.pong = &pong;
		ka_send(a, &out);
		break;
	}
	case BODY(PONG):
		km_debug("pong %" PRIu64 " from the controller",
			 env->pong->nonce);
		break;
	default:
		a->n_refused++;
		km_warn("controller message refused: a %s is not something "
			"a controller sends to an edge",
			km_envelope_kind(env));
		break;
	}
}

void ka_session_frame(struct ka_agent *a, const uint8_t *buf, uint32_t len)
{
	char why[KM_PB_WHY_LEN];
	const char *derr = NULL, *bad;
	KmEnvelope *env;
	uint64_t v;

	if (km_envelope_decode(buf, len, &env, &derr)) {
		a->n_refused++;
		km_warn("controller message refused (frame of %" PRIu32
			" bytes): %s; nothing changed",
			len, derr);
		return;
	}
	bad = km_pb_check(env, why, sizeof(why));
	if (bad) {
		a->n_refused++;
		v = env_version(env);
		km_warn("controller %s refused: %s; nothing changed",
			km_envelope_kind(env), bad);
		if (v)
			send_ack(a, v, bad);
	} else {
		on_message(a, env);
	}
	km_envelope_free(env);
}

void ka_session_tick(struct ka_agent *a, uint64_t now)
{
	Kilimanjaro__V1__Ping ping = KILIMANJARO__V1__PING__INIT;
	KmEnvelope env;

	if (a->state != KA_ESTABLISHED)
		return;
	if (now - a->last_ping_ns < (uint64_t)a->o->ping_interval_ms * 1000000)
		return;
	a->last_ping_ns = now;
	env_init(a, &env);
	ping.nonce = ++a->ping_nonce;
	env.body_case = BODY(PING);
	env.ping = &ping;
	ka_send(a, &env);
}

void ka_session_event(struct ka_agent *a, const struct km_event *ev)
{
	struct ka_event_msg st;
	KmEnvelope env;

	if (a->state != KA_ESTABLISHED) {
		if (a->backlog_n < KA_BACKLOG_MAX)
			a->backlog[a->backlog_n++] = *ev;
		else
			a->backlog_dropped++;
		return;
	}
	if (ka_event_to_envelope(ev, km_mono_ns(), &env, &st)) {
		km_warn("km_events: record of unknown type %u skipped",
			ev->type);
		return;
	}
	env.has_seq = 1;
	env.seq = ++a->seq;
	if (!ka_send(a, &env))
		a->n_events_sent++;
}

/* 1: statsd's ring, 2: the maps; logged when it changes. */
static void stats_source_is(struct ka_agent *a, int src)
{
	if (a->stats_src == src)
		return;
	a->stats_src = src;
	if (src == 1)
		km_info("stats from statsd's ring %s", a->ring_path);
	else
		km_info("stats read from the maps: no fresh snapshot in %s "
			"(statsd not running?)",
			a->ring_path);
}

/* The latest ring snapshot when statsd publishes; else read the maps
 * here (statsd down must not blind the controller). */
static const struct km_snapshot *stats_source(struct ka_agent *a)
{
	struct km_ring_info info;
	struct km_snapshot *s;
	size_t len, need = km_snapshot_size(KM_MAX_SERVICES);
	uint64_t now = km_mono_ns();
	int r;

	if (a->snap_cap < need) {
		free(a->snap_buf);
		a->snap_buf = malloc(need);
		a->snap_cap = a->snap_buf ? need : 0;
		if (!a->snap_buf)
			return NULL;
	}
	s = a->snap_buf;
	if (!a->ringr)
		km_ring_reader_open(&a->ringr, a->ring_path, true);
	if (a->ringr) {
		r = km_ring_read_latest(a->ringr, s, a->snap_cap, &len, &info);
		if (!r && !km_snapshot_check(s, len) && !info.closed &&
		    now - s->mono_ns < 3 * (s->interval_ns + 1000000000ull)) {
			/* Sent already (statsd publishes slower than we
			 * send): a repeat would read as a rate of 0. */
			if (info.epoch == a->ring_epoch &&
			    info.seq == a->ring_seq)
				return NULL;
			a->ring_epoch = info.epoch;
			a->ring_seq = info.seq;
			stats_source_is(a, 1);
			return s;
		}
	}
	stats_source_is(a, 2);
	if (!a->snap_ctx)
		a->snap_ctx = calloc(1, sizeof(struct km_snap_ctx));
	if (!a->snap_ctx)
		return NULL;
	s->interval_ns = (uint64_t)a->o->stats_interval_ms * 1000000;
	s->started_mono_ns = 0;
	if (km_snapshot_read(&a->maps, a->snap_ctx, s, KM_MAX_SERVICES))
		return NULL;
	return s;
}

void ka_session_stats(struct ka_agent *a)
{
	Kilimanjaro__V1__StatsSnapshot *st;
	const struct km_snapshot *s;
	KmEnvelope env;

	if (a->state != KA_ESTABLISHED)
		return;
	if (a->pending.len - a->pending.off > KA_TX_MAX) {
		km_warn("controller not reading: stats snapshot skipped");
		return;
	}
	s = stats_source(a);
	if (!s)
		return;
	st = ka_stats_from_snapshot(s);
	if (!st)
		return;
	env_init(a, &env);
	env.body_case = BODY(STATS);
	env.stats = st;
	if (!ka_send(a, &env))
		a->n_stats_sent++;
	ka_stats_free(st);
}
