// SPDX-License-Identifier: GPL-2.0-only
/* Events and snapshots -> controller messages (report.h). */
#include "report.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "maps.h"

int ka_event_to_envelope(const struct km_event *ev, uint64_t now_ns,
			 KmEnvelope *env, struct ka_event_msg *st)
{
	kilimanjaro__v1__envelope__init(env);
	env->schema = KM_SCHEMA_VERSION;
	switch (ev->type) {
	case KM_EV_PUNCH_LEARNED:
		kilimanjaro__v1__port_punch_learned__init(&st->pl);
		kilimanjaro__v1__port_punch__init(&st->punch);
		st->punch.proto = ev->punch.proto == IPPROTO_TCP
				      ? KILIMANJARO__V1__PROTO__PROTO_TCP
				      : KILIMANJARO__V1__PROTO__PROTO_UDP;
		if (ev->punch.proto != IPPROTO_TCP &&
		    ev->punch.proto != IPPROTO_UDP)
			return -EINVAL;
		st->punch.service_addr = ntohl(ev->punch.svc_addr);
		st->punch.service_port = ntohs(ev->punch.svc_port);
		st->punch.remote_addr = ntohl(ev->punch.remote);
		st->punch.remote_port = ntohs(ev->punch.remote_port);
		st->punch.backend = ntohl(ev->backend);
		st->pl.punch = &st->punch;
		env->body_case = KILIMANJARO__V1__ENVELOPE__BODY_PUNCH_LEARNED;
		env->punch_learned = &st->pl;
		return 0;
	case KM_EV_BLOCK_ADDED:
		kilimanjaro__v1__block_added__init(&st->ba);
		st->ba.addr = ntohl(ev->block_addr);
		st->ba.has_prefix_len = 1;
		st->ba.prefix_len =
		    ev->block_prefix_len ? ev->block_prefix_len : 32;
		st->ba.has_duration_ms = 1;
		st->ba.duration_ms =
		    ev->block_until_ns > now_ns
			? (ev->block_until_ns - now_ns) / 1000000
			: 0;
		if (ev->service_id != ~0u) {
			st->ba.has_service_id = 1;
			st->ba.service_id = ev->service_id;
		}
		env->body_case = KILIMANJARO__V1__ENVELOPE__BODY_BLOCK_ADDED;
		env->block_added = &st->ba;
		return 0;
	default:
		return -EINVAL;
	}
}

/* The arrays and messages of one StatsSnapshot, allocated at once. */
struct stats_mem {
	Kilimanjaro__V1__StatsSnapshot st;
	Kilimanjaro__V1__ReasonCount *rp[KM_STATS_SLOTS];
	Kilimanjaro__V1__ReasonCount r[KM_STATS_SLOTS];
	Kilimanjaro__V1__MapFill *mp[KM_SNAP_MAPS_MAX];
	Kilimanjaro__V1__MapFill mf[KM_SNAP_MAPS_MAX];
	char map_names[KM_SNAP_MAPS_MAX][17];
	Kilimanjaro__V1__ServiceStats **sp;
	Kilimanjaro__V1__ServiceStats *s;
	Kilimanjaro__V1__ServiceKey *k;
};

#define SET(msg, f, v) ((msg).has_##f = 1, (msg).f = (v))

static void svc_stats(const struct km_snap_service *in,
		      Kilimanjaro__V1__ServiceStats *o,
		      Kilimanjaro__V1__ServiceKey *k)
{
	kilimanjaro__v1__service_key__init(k);
	k->proto = in->key.proto == IPPROTO_TCP
		       ? KILIMANJARO__V1__PROTO__PROTO_TCP
		       : KILIMANJARO__V1__PROTO__PROTO_UDP;
	k->addr = ntohl(in->key.addr);
	k->port = ntohs(in->key.port);
	kilimanjaro__v1__service_stats__init(o);
	o->key = k;
	SET(*o, rx_packets, in->st.rx_packets);
	SET(*o, rx_bytes, in->st.rx_bytes);
	SET(*o, fwd_packets, in->st.fwd_packets);
	SET(*o, fwd_bytes, in->st.fwd_bytes);
	SET(*o, drop_packets, in->st.drop_packets);
	SET(*o, drop_bytes, in->st.drop_bytes);
	SET(*o, ret_packets, in->st.ret_packets);
	SET(*o, ret_bytes, in->st.ret_bytes);
	if (!(in->flags & KM_SVC_F_A2S))
		return;
	SET(*o, a2s_challenges, in->a2s.challenges);
	SET(*o, a2s_cached, in->a2s.cached);
	SET(*o, a2s_stale, in->a2s.stale);
	SET(*o, a2s_forwarded, in->a2s.forwarded);
	SET(*o, a2s_bad_challenges, in->a2s.bad_challenges);
	SET(*o, a2s_refreshes, in->w.refreshes);
	SET(*o, a2s_ingested, in->w.ingested);
}

Kilimanjaro__V1__StatsSnapshot *
ka_stats_from_snapshot(const struct km_snapshot *s)
{
	size_t n = s->n_services;
	struct stats_mem *m = calloc(1, sizeof(*m));
	uint32_t nr = s->n_reasons < KM_R_MAX ? s->n_reasons : KM_R_MAX;

	if (!m)
		return NULL;
	m->sp = calloc(n + 1, sizeof(*m->sp));
	m->s = calloc(n + 1, sizeof(*m->s));
	m->k = calloc(n + 1, sizeof(*m->k));
	if (!m->sp || !m->s || !m->k) {
		ka_stats_free(&m->st);
		return NULL;
	}
	kilimanjaro__v1__stats_snapshot__init(&m->st);
	/* The edge's CLOCK_MONOTONIC when the counters were read, not
	 * statsd's uptime: the controller derives rates from differences of
	 * this clock, which must not jump when statsd restarts or when the
	 * agent reads the maps itself. */
	SET(m->st, uptime_ms, s->mono_ns / 1000000);
	SET(m->st, interval_ms, s->interval_ns / 1000000);
	for (uint32_t i = 0; i < nr; i++) {
		kilimanjaro__v1__reason_count__init(&m->r[i]);
		m->r[i].reason = (char *)km_reason_name(i);
		SET(m->r[i], packets, s->reasons[i].packets);
		SET(m->r[i], bytes, s->reasons[i].bytes);
		m->rp[i] = &m->r[i];
	}
	m->st.n_reasons = nr;
	m->st.reasons = m->rp;
	for (uint32_t i = 0; i < s->n_maps && i < KM_SNAP_MAPS_MAX; i++) {
		kilimanjaro__v1__map_fill__init(&m->mf[i]);
		memcpy(m->map_names[i], s->maps[i].name, 16);
		m->mf[i].map = m->map_names[i];
		SET(m->mf[i], entries, s->maps[i].entries);
		SET(m->mf[i], max_entries, s->maps[i].max_entries);
		m->mp[i] = &m->mf[i];
		m->st.n_maps = i + 1;
	}
	m->st.maps = m->mp;
	for (size_t i = 0; i < n; i++) {
		svc_stats(&s->services[i], &m->s[i], &m->k[i]);
		m->sp[i] = &m->s[i];
	}
	m->st.n_services = n;
	m->st.services = m->sp;
	return &m->st;
}

void ka_stats_free(Kilimanjaro__V1__StatsSnapshot *st)
{
	struct stats_mem *m = (struct stats_mem *)st;

	if (!m)
		return;
	free(m->sp);
	free(m->s);
	free(m->k);
	free(m);
}
