// SPDX-License-Identifier: GPL-2.0-only
/* The worker's A2S logic: services, requests, pending requests, the game
 * servers' answers and the refresh schedule (docs/design.md "A2S"). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <bpf/bpf.h>

#include "log.h"
#include "worker_int.h"

#define SVC_RELOAD_NS 5000000000ull
#define WANTED_WRITE_NS 1000000000ull
#define LOG_WINDOW_NS 10000000000ull
#define LOG_PER_WINDOW 10
#define MAX_RESENDS 2

void kw_wstat_add(struct kw_worker *w, uint32_t id, size_t field_off,
		  uint64_t n)
{
	uint64_t *p;

	if (!w->wstats || id >= KM_MAX_SERVICES)
		return;
	p = (uint64_t *)((uint8_t *)&w->wstats[id] + field_off);
	__atomic_fetch_add(p, n, __ATOMIC_RELAXED);
}

void kw_log_bad(struct kw_worker *w, const char *fmt, ...)
{
	uint64_t now = km_mono_ns();
	char msg[256];
	va_list ap;

	if (now - w->log_window_ns >= LOG_WINDOW_NS) {
		if (w->log_suppressed)
			km_warn(
			    "%u more bad packets not logged in the last "
			    "%llu s",
			    w->log_suppressed,
			    (unsigned long long)(LOG_WINDOW_NS / 1000000000));
		w->log_window_ns = now;
		w->log_count = 0;
		w->log_suppressed = 0;
	}
	if (w->log_count >= LOG_PER_WINDOW) {
		w->log_suppressed++;
		return;
	}
	w->log_count++;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	km_warn("%s", msg);
}

static uint64_t now_ns(void)
{
	return km_mono_ns();
}

static const char *svc_str(const struct kw_svc *s)
{
	static char buf[2][32];
	static int i;
	char a[INET_ADDRSTRLEN];

	i ^= 1;
	inet_ntop(AF_INET, &s->key.addr, a, sizeof(a));
	snprintf(buf[i], sizeof(buf[i]), "%s:%u", a, ntohs(s->key.port));
	return buf[i];
}

static struct kw_svc *svc_by_id(struct kw_worker *w, uint32_t id)
{
	if (id >= KM_MAX_SERVICES || w->by_id[id] < 0)
		return NULL;
	return &w->svcs[w->by_id[id]];
}

/* The slot of a service, claimed for it (an id reused by another service
 * starts empty, here and in km_a2s_info). */
static struct kw_slot *svc_slot(struct kw_worker *w, const struct kw_svc *s)
{
	struct kw_slot *slot = kw_store_slot(&w->store, s->svc.id);

	if (!slot || !memcmp(&slot->svc, &s->key, sizeof(s->key)))
		return slot;
	kw_slot_lock(slot, w->pid, now_ns);
	if (kw_slot_claim(slot, &s->key) &&
	    memcmp(&w->info[s->svc.id].svc, &s->key, sizeof(s->key)))
		kw_info_clear(&w->info[s->svc.id]);
	kw_slot_unlock(slot);
	return slot;
}

/* ---- services ---- */

int a2s_services_load(struct kw_worker *w, uint64_t now)
{
	struct km_service_entry *e = NULL;
	struct kw_svc *svcs;
	struct km_config cfg;
	size_t n = 0, i, k = 0;
	int r;

	r = km_config_read(&w->maps, &cfg);
	if (r)
		return r;
	r = km_services_list(&w->maps, &e, &n);
	if (r)
		return r;
	svcs = calloc(n ? n : 1, sizeof(*svcs));
	if (!svcs) {
		free(e);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		struct kw_svc *s = &svcs[k];
		uint32_t id = e[i].val.id;

		if (e[i].key.proto != IPPROTO_UDP || id >= KM_MAX_SERVICES ||
		    bpf_map_lookup_elem(w->maps.fd[KM_M_A2S_CFG], &id,
					&s->a2s) ||
		    !(s->a2s.flags & KM_A2S_F_ENABLED))
			continue;
		s->key = e[i].key;
		s->svc = e[i].val;
		s->answer_port =
		    s->svc.backend_port ? s->svc.backend_port : s->key.port;
		k++;
	}
	free(e);
	free(w->svcs);
	w->svcs = svcs;
	w->nsvcs = k;
	for (i = 0; i < KM_MAX_SERVICES; i++)
		w->by_id[i] = -1;
	for (i = 0; i < k; i++)
		w->by_id[svcs[i].svc.id] = (int32_t)i;
	for (i = 0; i < k; i++)
		svc_slot(w, &svcs[i]);
	if (cfg.edge_addr != w->edge_addr || cfg.svc_epoch != w->svc_epoch ||
	    !w->svc_loaded_ns)
		km_info("%zu service(s) with A2S caching (service epoch %u)", k,
			cfg.svc_epoch);
	w->edge_addr = cfg.edge_addr;
	w->svc_epoch = cfg.svc_epoch;
	w->svc_loaded_ns = now;
	return 0;
}

static void services_refresh(struct kw_worker *w, uint64_t now)
{
	struct km_config cfg;

	if (now - w->svc_loaded_ns < SVC_RELOAD_NS &&
	    !km_config_read(&w->maps, &cfg) && cfg.svc_epoch == w->svc_epoch &&
	    cfg.edge_addr == w->edge_addr)
		return;
	a2s_services_load(w, now);
}

static struct kw_svc *svc_by_service(struct kw_worker *w, uint32_t addr,
				     uint16_t port)
{
	size_t i;

	for (i = 0; i < w->nsvcs; i++)
		if (w->svcs[i].key.addr == addr && w->svcs[i].key.port == port)
			return &w->svcs[i];
	return NULL;
}

static struct kw_svc *svc_by_answer(struct kw_worker *w, uint32_t addr,
				    uint16_t port)
{
	size_t i;

	for (i = 0; i < w->nsvcs; i++)
		if (w->svcs[i].key.addr == addr &&
		    w->svcs[i].answer_port == port)
			return &w->svcs[i];
	return NULL;
}

/* ---- sending ---- */

/* An IPv4/UDP packet to the service's backend through the raw IPIP
 * socket: the kernel adds the outer header (edge -> backend). */
static int send_ipip(struct kw_worker *w, const struct kw_svc *s,
		     uint32_t saddr, uint16_t sport, const uint8_t *p,
		     size_t len)
{
	struct sockaddr_in to = {.sin_family = AF_INET,
				 .sin_addr.s_addr = s->svc.backend};
	uint8_t pkt[KW_PENDING_FRAME + 64];
	int n;

	n = pkt_ip_udp_build(pkt, sizeof(pkt), saddr, sport, s->key.addr,
			     s->answer_port, p, len);
	if (n < 0)
		return n;
	if (sendto(w->raw_fd, pkt, (size_t)n, MSG_DONTWAIT,
		   (struct sockaddr *)&to, sizeof(to)) < 0) {
		kw_log_bad(w, "service %s: sending to the game server: %s",
			   svc_str(s), strerror(errno));
		return -errno;
	}
	return 0;
}

static int send_query(struct kw_worker *w, const struct kw_svc *s,
		      struct kw_slot *slot, enum a2s_kind k, uint16_t sport)
{
	uint8_t q[32], ch[4];
	const uint8_t *c = NULL;
	size_t n;

	if (__atomic_load_n(&slot->challenge_set, __ATOMIC_ACQUIRE)) {
		memcpy(ch, slot->challenge, 4);
		c = ch;
	}
	n = a2s_query_build(q, k, c);
	km_debug("service %s: %s query%s", svc_str(s), a2s_kind_name(k),
		 c ? " with the server's challenge" : "");
	return send_ipip(w, s, w->edge_addr, sport, q, n);
}

/* The cached answer of kind k as reply frames to the request frame. */
static int serve(struct kw_worker *w, const struct kw_svc *s,
		 struct kw_slot *slot, enum a2s_kind k, const uint8_t *f,
		 size_t flen)
{
	uint8_t frame[KW_XSK_FRAME_SIZE], frag[A2S_SPLIT_HDR + A2S_SPLIT_DATA];
	bool down =
	    __atomic_load_n(&slot->flags, __ATOMIC_RELAXED) & KW_SLOT_F_DOWN;
	unsigned int i, nfr = 1;
	struct pkt_udp req;
	const char *why;
	uint64_t upd;
	size_t len;
	int n;

	if (kw_blob_read(&slot->blob[k], w->buf, sizeof(w->buf), &len, &upd) ||
	    a2s_sched_fresh(upd, now_ns(), s->a2s.refresh_ns, s->a2s.max_age_ns,
			    down) == A2S_NONE)
		return -ENOENT;
	if (pkt_udp_parse(f, flen, &req, &why))
		return -EBADMSG;
	if (len > A2S_UNSPLIT_MAX) {
		nfr = a2s_split_count(len);
		w->split_id++;
	}
	for (i = 0; i < nfr; i++) {
		const uint8_t *p = w->buf;
		size_t plen = len;

		if (nfr > 1) {
			plen = a2s_split_fragment(frag, w->buf, len,
						  w->split_id, i);
			p = frag;
		}
		n = pkt_reply_build(frame, sizeof(frame), &req, p, plen);
		if (n < 0 || kw_xsk_send(&w->xsk, frame, (size_t)n))
			return -ENOBUFS;
	}
	KW_WSTAT(w, s->svc.id, served, 1);
	KW_WSTAT(w, s->svc.id, served_frames, nfr);
	return 0;
}

/* ---- refresh schedule ---- */

static void sched_in(const struct kw_svc *s, const struct kw_slot *slot,
		     uint64_t now, struct a2s_sched_in *in)
{
	unsigned int k;

	memset(in, 0, sizeof(*in));
	in->refresh_ns = s->a2s.refresh_ns;
	in->max_age_ns = s->a2s.max_age_ns;
	in->timeout_ns = s->a2s.timeout_ns;
	for (k = 0; k < A2S_K_MAX; k++) {
		in->last_query_ns[k] =
		    __atomic_load_n(&slot->last_query_ns[k], __ATOMIC_RELAXED);
		in->wanted_ns[k] =
		    __atomic_load_n(&slot->wanted_ns[k], __ATOMIC_RELAXED);
	}
	in->silent_since_ns =
	    __atomic_load_n(&slot->silent_since_ns, __ATOMIC_RELAXED);
	in->lease_live = kw_lease_live(
	    __atomic_load_n(&slot->lease, __ATOMIC_ACQUIRE), now, NULL, NULL);
}

static void drop_pending_of(struct kw_worker *w, uint32_t id, int kind);

static void mark_down(struct kw_worker *w, const struct kw_svc *s,
		      struct kw_slot *slot, uint64_t silent)
{
	bool changed = false;

	kw_slot_lock(slot, w->pid, now_ns);
	if (!(slot->flags & KW_SLOT_F_DOWN) &&
	    __atomic_load_n(&slot->silent_since_ns, __ATOMIC_RELAXED) ==
		silent) {
		__atomic_or_fetch(&slot->flags, KW_SLOT_F_DOWN,
				  __ATOMIC_RELAXED);
		kw_info_flags(&w->info[s->svc.id], KM_A2S_E_DOWN, 0);
		changed = true;
	}
	kw_slot_unlock(slot);
	if (!changed)
		return;
	KW_WSTAT(w, s->svc.id, server_down, 1);
	km_warn("service %s: game server silent for %llu ms: down, its "
		"cached answers are not served",
		svc_str(s), (unsigned long long)(s->a2s.timeout_ns / 1000000));
	drop_pending_of(w, s->svc.id, -1);
}

static void schedule_one(struct kw_worker *w, const struct kw_svc *s,
			 uint64_t now)
{
	struct kw_slot *slot = svc_slot(w, s);
	struct a2s_sched_in in;
	uint64_t zero = 0;
	int k;

	if (!slot || !w->edge_addr)
		return;
	sched_in(s, slot, now, &in);
	if (a2s_sched_down(&in, now) &&
	    !(__atomic_load_n(&slot->flags, __ATOMIC_RELAXED) & KW_SLOT_F_DOWN))
		mark_down(w, s, slot, in.silent_since_ns);
	k = a2s_sched_due(&in, now, NULL);
	if (k < 0 || !kw_lease_take(slot, w->pid, (enum a2s_kind)k, now,
				    a2s_sched_lease_ns(s->a2s.refresh_ns,
						       s->a2s.timeout_ns)))
		return;
	__atomic_store_n(&slot->last_query_ns[k], now, __ATOMIC_RELAXED);
	__atomic_compare_exchange_n(&slot->silent_since_ns, &zero, now, false,
				    __ATOMIC_RELAXED, __ATOMIC_RELAXED);
	if (!send_query(w, s, slot, (enum a2s_kind)k, w->udp_port))
		KW_WSTAT(w, s->svc.id, refreshes, 1);
}

/* ---- pending requests ---- */

static void pending_remove(struct kw_worker *w, size_t i)
{
	w->pending[i] = w->pending[--w->npending];
}

static void drop_pending_of(struct kw_worker *w, uint32_t id, int kind)
{
	size_t i = 0;

	while (i < w->npending) {
		struct kw_pending *p = &w->pending[i];

		if (p->svc_id == id && (kind < 0 || p->kind == kind)) {
			KW_WSTAT(w, id, pending_dropped, 1);
			pending_remove(w, i);
		} else {
			i++;
		}
	}
}

static void pending_check(struct kw_worker *w, uint64_t now)
{
	size_t i = 0;

	while (i < w->npending) {
		struct kw_pending *p = &w->pending[i];
		struct kw_svc *s = svc_by_id(w, p->svc_id);
		struct kw_slot *slot = s ? svc_slot(w, s) : NULL;

		if (slot && !serve(w, s, slot, p->kind, p->frame, p->len)) {
			pending_remove(w, i);
		} else if (!slot || now >= p->deadline_ns ||
			   (__atomic_load_n(&slot->flags, __ATOMIC_RELAXED) &
			    KW_SLOT_F_DOWN)) {
			KW_WSTAT(w, p->svc_id, pending_dropped, 1);
			pending_remove(w, i);
		} else {
			i++;
		}
	}
}

static void pending_add(struct kw_worker *w, const struct kw_svc *s,
			enum a2s_kind k, const uint8_t *f, size_t len,
			uint64_t now)
{
	struct kw_pending *p;
	size_t i, same = 0;

	for (i = 0; i < w->npending; i++)
		same += w->pending[i].svc_id == s->svc.id;
	if (len > KW_PENDING_FRAME || w->npending >= KW_PENDING_MAX ||
	    same >= KW_PENDING_PER_SVC) {
		KW_WSTAT(w, s->svc.id, pending_dropped, 1);
		return;
	}
	p = &w->pending[w->npending++];
	p->deadline_ns = now + s->a2s.timeout_ns;
	p->svc_id = s->svc.id;
	p->kind = (uint8_t)k;
	p->len = (uint16_t)len;
	memcpy(p->frame, f, len);
}

/* ---- ingest ---- */

static void ingest(struct kw_worker *w, const struct kw_svc *s,
		   struct kw_slot *slot, enum a2s_kind k, const uint8_t *d,
		   size_t len)
{
	uint64_t now = now_ns();
	bool was_down;

	kw_slot_lock(slot, w->pid, now_ns);
	kw_blob_write(&slot->blob[k], d, len, now);
	if (k == A2S_K_INFO)
		kw_info_write(&w->info[s->svc.id], &s->key, d, len, now);
	__atomic_store_n(&slot->last_ok_ns, now, __ATOMIC_RELAXED);
	__atomic_store_n(&slot->silent_since_ns, 0, __ATOMIC_RELAXED);
	was_down = slot->flags & KW_SLOT_F_DOWN;
	if (was_down) {
		__atomic_and_fetch(&slot->flags, ~KW_SLOT_F_DOWN,
				   __ATOMIC_RELAXED);
		kw_info_flags(&w->info[s->svc.id], 0, KM_A2S_E_DOWN);
	}
	kw_slot_unlock(slot);
	kw_lease_drop(slot, k);
	KW_WSTAT(w, s->svc.id, ingested, 1);
	if (was_down)
		km_info("service %s: game server answers again: up",
			svc_str(s));
	km_debug("service %s: %s answer of %zu bytes cached", svc_str(s),
		 a2s_kind_name(k), len);
	pending_check(w, now);
}

static struct a2s_split *split_for(struct kw_worker *w, uint32_t id)
{
	struct kw_split_slot *old = &w->splits[0];
	unsigned int i;

	for (i = 0; i < KW_SPLITS; i++)
		if (w->splits[i].used && w->splits[i].svc_id == id)
			return &w->splits[i].s;
	for (i = 0; i < KW_SPLITS; i++) {
		struct kw_split_slot *c = &w->splits[i];

		if (!c->used || c->s.started_ns < old->s.started_ns)
			old = c;
		if (!c->used)
			break;
	}
	old->used = true;
	old->svc_id = id;
	a2s_split_reset(&old->s);
	old->s.started_ns = km_mono_ns();
	return &old->s;
}

static void bad_answer(struct kw_worker *w, const struct kw_svc *s,
		       const char *why)
{
	KW_WSTAT(w, s->svc.id, bad_answers, 1);
	kw_log_bad(w, "service %s: bad answer from the game server: %s",
		   svc_str(s), why);
}

/* A game server's packet to a worker's port (dport, network order). */
static void answer(struct kw_worker *w, const struct kw_svc *s, uint16_t dport,
		   const uint8_t *p, size_t len)
{
	struct kw_slot *slot = svc_slot(w, s);
	struct a2s_answer a;
	const char *why;
	enum a2s_kind k;
	uint32_t owner;
	int n;

	if (!slot)
		return;
	if (a2s_answer_parse(p, len, &a, &why))
		return bad_answer(w, s, why);
	switch (a.type) {
	case A2S_A_CHALLENGE:
		memcpy(slot->challenge, a.challenge, 4);
		__atomic_store_n(&slot->challenge_set, 1, __ATOMIC_RELEASE);
		/* The query in flight goes again with the challenge, from
		 * the port the server saw (whichever worker sent it). */
		if (kw_lease_live(
			__atomic_load_n(&slot->lease, __ATOMIC_ACQUIRE),
			now_ns(), &owner, &k) &&
		    __atomic_fetch_add(&slot->resends, 1, __ATOMIC_RELAXED) <
			MAX_RESENDS)
			send_query(w, s, slot, k, dport);
		return;
	case A2S_A_ANSWER:
		return ingest(w, s, slot, a.kind, a.data, a.data_len);
	case A2S_A_SPLIT:
		n = a2s_split_add(split_for(w, s->svc.id), &a, km_mono_ns(),
				  w->buf, A2S_ANSWER_MAX, &why);
		if (n < 0)
			return bad_answer(w, s, why);
		if (n > 0 && !a2s_message_kind(w->buf, (size_t)n, &k))
			ingest(w, s, slot, k, w->buf, (size_t)n);
		return;
	}
}

/* The UDP socket also receives datagrams that never crossed the tunnel
 * (the kernel delivers anything addressed to the edge), so a source
 * address proves nothing there: only an answer to this worker's own query
 * in flight is taken, of the kind it asked for. Frames from the XSK were
 * decapsulated by XDP from a registered backend. */
static bool udp_expected(struct kw_worker *w, struct kw_svc *s,
			 const uint8_t *p, size_t len)
{
	struct kw_slot *slot = svc_slot(w, s);
	enum a2s_kind lk, k;
	uint32_t owner;

	if (!slot ||
	    !kw_lease_live(__atomic_load_n(&slot->lease, __ATOMIC_ACQUIRE),
			   now_ns(), &owner, &lk) ||
	    owner != w->pid)
		return false;
	return a2s_message_kind(p, len, &k) || k == lk;
}

void a2s_udp_answer(struct kw_worker *w, uint32_t saddr, uint16_t sport,
		    const uint8_t *p, size_t len)
{
	struct kw_svc *s = svc_by_answer(w, saddr, sport);

	if (!s) {
		kw_log_bad(w, "UDP datagram from a source that is no A2S "
			      "service: ignored");
		return;
	}
	if (!udp_expected(w, s, p, len)) {
		KW_WSTAT(w, s->svc.id, bad_answers, 1);
		kw_log_bad(w,
			   "service %s: UDP datagram that answers no query "
			   "of this worker: ignored",
			   svc_str(s));
		return;
	}
	answer(w, s, w->udp_port, p, len);
}

/* ---- frames from the XSK ---- */

static void request(struct kw_worker *w, struct kw_svc *s,
		    const struct pkt_udp *u, const uint8_t *f, size_t len)
{
	uint64_t now = now_ns(), wanted;
	struct kw_slot *slot = svc_slot(w, s);
	enum a2s_kind k;

	if (!slot)
		return;
	if (a2s_request_kind(f + u->payload_off, u->payload_len, &k)) {
		kw_log_bad(w, "service %s: redirected frame is no A2S request",
			   svc_str(s));
		return;
	}
	wanted = __atomic_load_n(&slot->wanted_ns[k], __ATOMIC_RELAXED);
	if (now - wanted >= WANTED_WRITE_NS)
		__atomic_store_n(&slot->wanted_ns[k], now, __ATOMIC_RELAXED);
	if (!serve(w, s, slot, k, f, len))
		return;
	if (__atomic_load_n(&slot->flags, __ATOMIC_RELAXED) & KW_SLOT_F_DOWN) {
		KW_WSTAT(w, s->svc.id, pending_dropped, 1);
		return;
	}
	pending_add(w, s, k, f, len, now);
	/* A miss queries now unless a query is in flight or the schedule
	 * says the server was asked less than a refresh interval ago. */
	schedule_one(w, s, now);
}

void a2s_frame(struct kw_worker *w, const uint8_t *f, size_t len)
{
	struct pkt_udp u;
	const char *why;
	struct kw_svc *s;

	if (pkt_udp_parse(f, len, &u, &why)) {
		kw_log_bad(w, "redirected frame dropped: %s", why);
		return;
	}
	if (u.daddr == w->edge_addr && w->edge_addr) {
		s = svc_by_answer(w, u.saddr, u.sport);
		if (s)
			answer(w, s, u.dport, f + u.payload_off, u.payload_len);
		else
			kw_log_bad(w, "redirected answer from a source that "
				      "is no A2S service: dropped");
		return;
	}
	s = svc_by_service(w, u.daddr, u.dport);
	if (!s) {
		kw_log_bad(w, "redirected request to no A2S service: dropped");
		return;
	}
	request(w, s, &u, f, len);
}

void a2s_tick(struct kw_worker *w, uint64_t now)
{
	size_t i;

	services_refresh(w, now);
	for (i = 0; i < w->nsvcs; i++)
		schedule_one(w, &w->svcs[i], now);
	pending_check(w, now);
}

void a2s_pending_flush(struct kw_worker *w)
{
	size_t i;

	pending_check(w, now_ns());
	for (i = 0; i < w->npending; i++) {
		struct kw_pending *p = &w->pending[i];
		struct kw_svc *s = svc_by_id(w, p->svc_id);
		struct pkt_udp u;
		const char *why;

		if (!s || pkt_udp_parse(p->frame, p->len, &u, &why) ||
		    send_ipip(w, s, u.saddr, u.sport, p->frame + u.payload_off,
			      u.payload_len))
			KW_WSTAT(w, p->svc_id, pending_dropped, 1);
	}
	if (w->npending)
		km_info("%zu pending request(s) handed to their game servers",
			w->npending);
	w->npending = 0;
}
