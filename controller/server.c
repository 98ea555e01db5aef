// SPDX-License-Identifier: GPL-2.0-only
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "log.h"
#include "pbcheck.h"
#include "tls.h"

#define KV1(x) Kilimanjaro__V1__##x
#define TAG_LISTEN ((void *)1)
#define TAG_NOTIFY ((void *)2)
#define TAG_TIMER ((void *)3)
#define TAG_SIGNAL ((void *)4)
#define MAX_CONNS 65536

enum phase { PH_SNIFF, PH_HANDSHAKE, PH_HELLO, PH_LIVE };

struct conn {
	int fd;
	SSL *ssl; /* NULL: plain TCP */
	enum phase phase;
	char peer[48];
	char cn[EDGE_ID_MAX + 1];
	char id[EDGE_ID_MAX + 1];
	struct km_frame_reader rd;
	uint8_t *out;
	size_t out_len, out_off, out_cap;
	uint64_t sent, acked, seq;
	uint64_t snap_version; /* version of the last snapshot sent */
	uint64_t started_ms, last_rx_ms, last_ping_ms;
	uint32_t events; /* registered epoll events */
	bool dead;
};

struct server {
	const struct ctl_config *cfg;
	SSL_CTX *tls;
	struct state *st;
	struct edges *edges;
	int lfd, epfd, tfd, sigfd;
	struct conn **conns;
	size_t n_conns;
	uint64_t last_sweep_ms;
	bool stop;
	bool accept_paused; /* out of file descriptors: retried each tick */
	bool dirty;	    /* the state changed during this loop turn */
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const char *who(const struct conn *c)
{
	static __thread char b[128];

	if (c->id[0])
		snprintf(b, sizeof(b), "edge %s (%s)", c->id, c->peer);
	else
		snprintf(b, sizeof(b), "agent %s", c->peer);
	return b;
}

static void conn_close(struct server *s, struct conn *c, const char *why)
{
	if (c->dead)
		return;
	if (why)
		km_info("%s: session closed: %s", who(c), why);
	c->dead = true;
	if (c->phase == PH_LIVE)
		edges_disconnected(s->edges, c->id);
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
}

static void conn_free(struct conn *c)
{
	if (c->ssl)
		SSL_free(c->ssl);
	close(c->fd);
	km_frame_reader_free(&c->rd);
	free(c->out);
	free(c);
}

static void set_events(struct server *s, struct conn *c, uint32_t ev)
{
	struct epoll_event e = {.events = ev, .data.ptr = c};

	if (c->dead || c->events == ev)
		return;
	if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &e) == 0)
		c->events = ev;
}

/* Queue bytes; a peer that lets SERVER_OUT_MAX pile up is dropped (it
 * resyncs from a snapshot when it comes back). */
static int out_append(struct server *s, struct conn *c, const uint8_t *b,
		      size_t n)
{
	if (c->out_off && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_len - c->out_off + n > SERVER_OUT_MAX) {
		conn_close(s, c,
			   "not reading what it is sent (output queue "
			   "over 64 MiB)");
		return -ENOBUFS;
	}
	if (c->out_len + n > c->out_cap) {
		size_t keep = c->out_len - c->out_off;
		size_t cap = (keep + n) * 2 > 4096 ? (keep + n) * 2 : 4096;
		uint8_t *nb = malloc(cap);

		if (!nb) {
			conn_close(s, c, "out of memory");
			return -ENOMEM;
		}
		if (keep)
			memcpy(nb, c->out + c->out_off, keep);
		free(c->out);
		c->out = nb;
		c->out_cap = cap;
		c->out_off = 0;
		c->out_len = keep;
	}
	memcpy(c->out + c->out_len, b, n);
	c->out_len += n;
	return 0;
}

static void conn_flush(struct server *s, struct conn *c)
{
	while (!c->dead && c->out_off < c->out_len) {
		size_t n = c->out_len - c->out_off;
		ssize_t w;

		if (c->ssl) {
			int r = SSL_write(c->ssl, c->out + c->out_off,
					  n > (1 << 20) ? 1 << 20 : (int)n);

			if (r <= 0) {
				int e = SSL_get_error(c->ssl, r);

				if (e == SSL_ERROR_WANT_WRITE ||
				    e == SSL_ERROR_WANT_READ)
					break;
				conn_close(s, c, km_tls_error(c->ssl));
				return;
			}
			w = r;
		} else {
			w = send(c->fd, c->out + c->out_off, n, MSG_NOSIGNAL);
			if (w < 0) {
				if (errno == EAGAIN || errno == EINTR)
					break;
				conn_close(s, c, strerror(errno));
				return;
			}
		}
		c->out_off += (size_t)w;
	}
	set_events(s, c, EPOLLIN | (c->out_off < c->out_len ? EPOLLOUT : 0));
}

static void send_env(struct server *s, struct conn *c, KV1(Envelope) * env)
{
	uint8_t *b;
	size_t n;

	env->schema = KM_SCHEMA_VERSION;
	env->has_seq = true;
	env->seq = ++c->seq;
	if (km_frame_encode(env, 0, &b, &n)) {
		conn_close(s, c, "cannot encode a message");
		return;
	}
	out_append(s, c, b, n);
	free(b);
}

static void send_snapshot(struct server *s, struct conn *c)
{
	uint8_t *b;
	size_t n;
	uint64_t v;
	int r = state_snapshot_frame(s->st, &b, &n, &v);

	if (r) {
		conn_close(s, c, "cannot build the snapshot");
		return;
	}
	if (!out_append(s, c, b, n)) {
		c->sent = c->snap_version = v;
		km_info("%s: snapshot of version %llu sent (%zu bytes)", who(c),
			(unsigned long long)v, n);
	}
	free(b);
	edges_versions(s->edges, c->id, c->sent, c->acked);
}

/* Everything after c->sent, or a snapshot when the log no longer has it. */
static void push(struct server *s, struct conn *c)
{
	size_t before = c->out_len;
	uint64_t to;
	int r;

	if (c->dead || c->phase != PH_LIVE)
		return;
	if (c->out_off && c->out_off == c->out_len)
		c->out_off = c->out_len = before = 0;
	r = state_deltas_since(s->st, c->sent, c->id, &c->out, &c->out_len,
			       &c->out_cap, &to);
	if (r == -ERANGE) {
		send_snapshot(s, c);
	} else if (r) {
		conn_close(s, c, "out of memory");
		return;
	} else if (to != c->sent) {
		c->sent = to;
		edges_versions(s->edges, c->id, c->sent, c->acked);
	}
	if (c->out_len - c->out_off > SERVER_OUT_MAX) {
		conn_close(s, c,
			   "not reading what it is sent (output queue "
			   "over 64 MiB)");
		return;
	}
	if (c->out_len != before || c->out_off < c->out_len)
		conn_flush(s, c);
}

static void push_all(struct server *s)
{
	for (size_t i = 0; i < s->n_conns; i++)
		push(s, s->conns[i]);
}

static void on_hello(struct server *s, struct conn *c, const KV1(Hello) * h)
{
	if (c->ssl && strcmp(h->edge_id, c->cn)) {
		km_warn("agent %s: refused: Hello edge_id \"%s\" differs from "
			"its certificate's CN \"%s\"",
			c->peer, h->edge_id, c->cn);
		conn_close(s, c, NULL);
		return;
	}
	for (size_t i = 0; i < s->n_conns; i++) {
		struct conn *o = s->conns[i];

		if (o != c && !o->dead && o->phase == PH_LIVE &&
		    !strcmp(o->id, h->edge_id))
			conn_close(s, o,
				   "replaced by a new session of the "
				   "same edge");
	}
	snprintf(c->id, sizeof(c->id), "%s", h->edge_id);
	if (edges_connected(s->edges, c->id, c->peer, h->software_version)) {
		conn_close(s, c, "too many edges known");
		return;
	}
	c->phase = PH_LIVE;
	km_info("%s: connected (%s, software %s, had config version %llu)",
		who(c), c->ssl ? "TLS" : "plain TCP",
		h->software_version ? h->software_version : "?",
		(unsigned long long)(h->has_config_version ? h->config_version
							   : 0));
	send_snapshot(s, c);
	conn_flush(s, c);
}

static void on_punch(struct server *s, struct conn *c, const KV1(PortPunch) * p)
{
	struct st_punch sp = {
	    .proto = km_pb_ipproto(p->proto),
	    .saddr = p->service_addr,
	    .sport = (uint16_t)p->service_port,
	    .raddr = p->remote_addr,
	    .rport = (uint16_t)p->remote_port,
	    .backend = p->backend,
	};
	int r;

	edges_event(s->edges, c->id, true);
	r = state_punch_learned(s->st, &sp, c->id);
	if (r) {
		km_warn("%s: punch not stored: %s", who(c), strerror(-r));
		return;
	}
	/* Relayed at the end of this loop turn (not at the next one), so
	 * the punches of one burst leave in one write per edge. */
	s->dirty = true;
}

static void on_ack(struct server *s, struct conn *c, const KV1(Ack) * a)
{
	if (a->ok) {
		if (a->version > c->acked && a->version <= c->sent)
			c->acked = a->version;
		edges_versions(s->edges, c->id, c->sent, c->acked);
		return;
	}
	km_warn("%s: refused config version %llu: %s", who(c),
		(unsigned long long)a->version,
		a->error ? a->error : "(no reason given)");
	/* The deltas sent after the refused one are refused too: one fresh
	 * snapshot answers all of them. */
	if (a->version <= c->snap_version && c->snap_version)
		return;
	km_info("%s: sending a fresh snapshot", who(c));
	send_snapshot(s, c);
	conn_flush(s, c);
}

static void on_message(struct server *s, struct conn *c, KV1(Envelope) * env)
{
	KV1(Envelope) out = KILIMANJARO__V1__ENVELOPE__INIT;
	KV1(Pong) pong = KILIMANJARO__V1__PONG__INIT;
	char why[KM_PB_WHY_LEN];

	if (km_pb_check(env, why, sizeof(why))) {
		km_warn("%s: message refused: %s", who(c), why);
		if (c->phase == PH_HELLO)
			conn_close(s, c,
				   "the first message must be a valid "
				   "Hello");
		return;
	}
	if (c->phase == PH_HELLO) {
		if (env->body_case != KILIMANJARO__V1__ENVELOPE__BODY_HELLO) {
			km_warn("%s: refused: first message is %s, not hello",
				who(c), km_envelope_kind(env));
			conn_close(s, c, NULL);
			return;
		}
		on_hello(s, c, env->hello);
		return;
	}
	edges_seen(s->edges, c->id);
	switch (env->body_case) {
	case KILIMANJARO__V1__ENVELOPE__BODY_STATS:
		edges_stats(s->edges, c->id, env->stats, state_wall_ms());
		break;
	case KILIMANJARO__V1__ENVELOPE__BODY_PUNCH_LEARNED:
		on_punch(s, c, env->punch_learned->punch);
		break;
	case KILIMANJARO__V1__ENVELOPE__BODY_BLOCK_ADDED:
		/* Recorded, not relayed: a block follows a limit that a
		 * spoofed source can trip; spreading it fleet-wide would let
		 * one spoofed flood block a real player everywhere. */
		edges_event(s->edges, c->id, false);
		break;
	case KILIMANJARO__V1__ENVELOPE__BODY_ACK:
		on_ack(s, c, env->ack);
		break;
	case KILIMANJARO__V1__ENVELOPE__BODY_PING:
		pong.nonce = env->ping->nonce;
		out.body_case = KILIMANJARO__V1__ENVELOPE__BODY_PONG;
		out.pong = &pong;
		send_env(s, c, &out);
		conn_flush(s, c);
		break;
	case KILIMANJARO__V1__ENVELOPE__BODY_PONG:
		break;
	default:
		km_warn("%s: message refused: %s is not accepted from an "
			"agent (after its Hello)",
			who(c), km_envelope_kind(env));
	}
}

/* Feed received plaintext to the frame reader; act on whole frames. */
static void on_bytes(struct server *s, struct conn *c, const uint8_t *b,
		     size_t n)
{
	while (n && !c->dead) {
		const uint8_t *f;
		const char *why = NULL;
		KV1(Envelope) * env;
		uint32_t flen;
		size_t used = 0;
		int r = km_frame_feed(&c->rd, b, n, &used, &f, &flen, &why);

		b += used;
		n -= used;
		if (r < 0) {
			km_warn("%s: %s", who(c),
				why ? why : "frame reader failed");
			conn_close(s, c, "the stream cannot be resynchronised");
			return;
		}
		if (r == 0)
			return;
		if (km_envelope_decode(f, flen, &env, &why)) {
			km_warn("%s: message refused: %s", who(c), why);
			if (c->phase == PH_HELLO)
				conn_close(s, c,
					   "the first message must be "
					   "a valid Hello");
			continue;
		}
		c->last_rx_ms = mono_ms();
		on_message(s, c, env);
		km_envelope_free(env);
	}
}

static void do_handshake(struct server *s, struct conn *c)
{
	int r = SSL_do_handshake(c->ssl), e;

	if (r == 1) {
		r = km_tls_peer_cn(c->ssl, c->cn, sizeof(c->cn));
		if (r) {
			km_warn("agent %s: refused: its certificate has no "
				"usable CN (%s)",
				c->peer, strerror(-r));
			conn_close(s, c, NULL);
			return;
		}
		c->phase = PH_HELLO;
		return;
	}
	e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ) {
		set_events(s, c, EPOLLIN);
		return;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		set_events(s, c, EPOLLIN | EPOLLOUT);
		return;
	}
	km_warn("agent %s: TLS handshake failed: %s", c->peer,
		km_tls_error(c->ssl));
	conn_close(s, c, NULL);
}

static bool peer_is_loopback(const struct conn *c)
{
	return !strncmp(c->peer, "127.", 4);
}

static void do_sniff(struct server *s, struct conn *c)
{
	uint8_t b;
	ssize_t n = recv(c->fd, &b, 1, MSG_PEEK);

	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0) {
		conn_close(s, c, n ? strerror(errno) : "closed at once");
		return;
	}
	if (b == 0x16 && s->tls) { /* a TLS handshake record */
		c->ssl = SSL_new(s->tls);
		if (!c->ssl || !SSL_set_fd(c->ssl, c->fd)) {
			conn_close(s, c, "out of memory");
			return;
		}
		SSL_set_accept_state(c->ssl);
		c->phase = PH_HANDSHAKE;
		return;
	}
	if (b == 0x16 || !s->cfg->allow_plain_tcp || !peer_is_loopback(c)) {
		km_warn("agent %s: refused: %s", c->peer,
			b == 0x16 ? "TLS is not configured"
			: !s->cfg->allow_plain_tcp
			    ? "plain TCP (not TLS) and allow_plain_tcp is "
			      "off"
			    : "plain TCP is only allowed from loopback");
		conn_close(s, c, NULL);
		return;
	}
	c->phase = PH_HELLO;
}

/* EOF inside a frame (not just after a complete one). */
static bool mid_frame(const struct km_frame_reader *r)
{
	return km_frame_partial(r) &&
	       !(r->hdr_got == KM_FRAME_HDR && r->got == r->len);
}

static void conn_read(struct server *s, struct conn *c)
{
	uint8_t buf[16384];

	while (!c->dead) {
		ssize_t n;

		if (c->ssl) {
			int r = SSL_read(c->ssl, buf, sizeof(buf)), e;

			if (r > 0) {
				on_bytes(s, c, buf, (size_t)r);
				continue;
			}
			e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_READ)
				return;
			if (e == SSL_ERROR_WANT_WRITE) {
				set_events(s, c, EPOLLIN | EPOLLOUT);
				return;
			}
			conn_close(s, c,
				   e == SSL_ERROR_ZERO_RETURN
				       ? (mid_frame(&c->rd)
					      ? "closed inside a frame"
					      : "closed by the agent")
				       : km_tls_error(c->ssl));
			return;
		}
		n = recv(c->fd, buf, sizeof(buf), 0);
		if (n > 0) {
			on_bytes(s, c, buf, (size_t)n);
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		conn_close(s, c,
			   n < 0	       ? strerror(errno)
			   : mid_frame(&c->rd) ? "closed inside a frame"
					       : "closed by the agent");
		return;
	}
}

static void conn_io(struct server *s, struct conn *c)
{
	if (c->phase == PH_SNIFF)
		do_sniff(s, c);
	if (!c->dead && c->phase == PH_HANDSHAKE)
		do_handshake(s, c);
	if (!c->dead && c->phase >= PH_HELLO) {
		conn_read(s, c);
		conn_flush(s, c);
	}
}

static void do_accept(struct server *s)
{
	for (;;) {
		struct sockaddr_in a;
		socklen_t al = sizeof(a);
		struct epoll_event e = {.events = EPOLLIN};
		struct conn *c;
		int one = 1;
		int fd = accept4(s->lfd, (struct sockaddr *)&a, &al,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				/* Level-triggered: the pending connection
				 * would wake the loop forever. */
				km_warn("agents: accept: %s; not accepting "
					"for a second",
					strerror(errno));
				epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->lfd, NULL);
				s->accept_paused = true;
			} else if (errno != EAGAIN && errno != EINTR) {
				km_warn("agents: accept: %s", strerror(errno));
			}
			return;
		}
		c = calloc(1, sizeof(*c));
		if (!c || s->n_conns >= MAX_CONNS) {
			free(c);
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->fd = fd;
		snprintf(c->peer, sizeof(c->peer), "%s:%u",
			 inet_ntoa(a.sin_addr), ntohs(a.sin_port));
		km_frame_reader_init(&c->rd, 0);
		c->started_ms = c->last_rx_ms = c->last_ping_ms = mono_ms();
		c->events = EPOLLIN;
		e.data.ptr = c;
		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &e)) {
			conn_free(c);
			continue;
		}
		s->conns[s->n_conns++] = c;
	}
}

static void reap(struct server *s)
{
	size_t i = 0;

	while (i < s->n_conns) {
		if (s->conns[i]->dead) {
			conn_free(s->conns[i]);
			s->conns[i] = s->conns[--s->n_conns];
		} else {
			i++;
		}
	}
}

static void ping(struct server *s, struct conn *c, uint64_t now)
{
	KV1(Envelope) env = KILIMANJARO__V1__ENVELOPE__INIT;
	KV1(Ping) p = KILIMANJARO__V1__PING__INIT;

	c->last_ping_ms = now;
	p.nonce = now;
	env.body_case = KILIMANJARO__V1__ENVELOPE__BODY_PING;
	env.ping = &p;
	send_env(s, c, &env);
	conn_flush(s, c);
}

static int ep_add(int epfd, int fd, void *tag);

static void on_tick(struct server *s)
{
	uint64_t now = mono_ms(), exp;
	const struct ctl_config *cfg = s->cfg;

	for (size_t i = 0; i < s->n_conns; i++) {
		struct conn *c = s->conns[i];

		if (c->dead)
			continue;
		if (c->phase != PH_LIVE &&
		    now - c->started_ms > SERVER_HELLO_TIMEOUT_MS)
			conn_close(s, c, "no Hello within 10 s");
		else if (c->phase == PH_LIVE &&
			 now - c->last_rx_ms > SERVER_IDLE_TIMEOUT_MS)
			conn_close(s, c, "silent for 20 s (no stats, no pong)");
		else if (c->phase == PH_LIVE &&
			 now - c->last_ping_ms >= SERVER_PING_MS)
			ping(s, c, now);
	}
	if (s->accept_paused && !ep_add(s->epfd, s->lfd, TAG_LISTEN))
		s->accept_paused = false;
	if (now - s->last_sweep_ms >= SERVER_SWEEP_MS) {
		s->last_sweep_ms = now;
		state_sweep(s->st);
	}
	pthread_mutex_lock(&s->st->lock);
	exp = s->st->a2s.rotated_ms + (uint64_t)cfg->a2s_rotate_s * 1000;
	pthread_mutex_unlock(&s->st->lock);
	if (cfg->a2s_rotate_s && state_wall_ms() >= exp) {
		km_info("a2s: scheduled key rotation (every %u s)",
			cfg->a2s_rotate_s);
		state_a2s_rotate(s->st, true, NULL);
	}
}

static int listen_on(const struct sockaddr_in *a)
{
	int one = 1,
	    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)a, sizeof(*a)) ||
	    listen(fd, 1024)) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

static int ep_add(int epfd, int fd, void *tag)
{
	struct epoll_event e = {.events = EPOLLIN, .data.ptr = tag};

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) ? -errno : 0;
}

int server_new(struct server **out, const struct ctl_config *cfg, SSL_CTX *tls,
	       struct state *st, struct edges *edges, int sigfd)
{
	struct itimerspec its = {.it_interval = {1, 0}, .it_value = {1, 0}};
	struct server *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->cfg = cfg;
	s->tls = tls;
	s->st = st;
	s->edges = edges;
	s->sigfd = sigfd;
	s->lfd = s->epfd = s->tfd = -1;
	s->conns = calloc(MAX_CONNS, sizeof(*s->conns));
	if (!s->conns) {
		free(s);
		return -ENOMEM;
	}
	s->lfd = listen_on(&cfg->agents_listen);
	if (s->lfd < 0) {
		r = km_log_errno(s->lfd, "agents: cannot listen on %s:%u: %s",
				 inet_ntoa(cfg->agents_listen.sin_addr),
				 ntohs(cfg->agents_listen.sin_port),
				 strerror(-s->lfd));
		goto fail;
	}
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->epfd < 0 || s->tfd < 0 ||
	    timerfd_settime(s->tfd, 0, &its, NULL)) {
		r = -errno;
		goto fail;
	}
	r = ep_add(s->epfd, s->lfd, TAG_LISTEN);
	if (!r)
		r = ep_add(s->epfd, st->notify_fd, TAG_NOTIFY);
	if (!r)
		r = ep_add(s->epfd, s->tfd, TAG_TIMER);
	if (!r && sigfd >= 0)
		r = ep_add(s->epfd, sigfd, TAG_SIGNAL);
	if (r)
		goto fail;
	s->last_sweep_ms = mono_ms();
	*out = s;
	return 0;
fail:
	server_free(s);
	return r;
}

int server_run(struct server *s)
{
	struct epoll_event ev[256];

	while (!s->stop) {
		int n = epoll_wait(s->epfd, ev, 256, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return km_log_errno(-errno, "epoll_wait: %s",
					    strerror(errno));
		}
		for (int i = 0; i < n; i++) {
			void *tag = ev[i].data.ptr;
			uint64_t x;

			if (tag == TAG_LISTEN) {
				do_accept(s);
			} else if (tag == TAG_NOTIFY) {
				if (read(s->st->notify_fd, &x, sizeof(x)) < 0)
					km_debug("notify: %s", strerror(errno));
				s->dirty = true;
			} else if (tag == TAG_TIMER) {
				if (read(s->tfd, &x, sizeof(x)) < 0)
					km_debug("timer: %s", strerror(errno));
				on_tick(s);
			} else if (tag == TAG_SIGNAL) {
				struct signalfd_siginfo si;

				if (read(s->sigfd, &si, sizeof(si)) ==
				    sizeof(si))
					km_info("signal %u: stopping",
						si.ssi_signo);
				s->stop = true;
			} else if (!((struct conn *)tag)->dead) {
				conn_io(s, tag);
			}
		}
		if (s->dirty) {
			s->dirty = false;
			push_all(s);
		}
		reap(s);
	}
	return 0;
}

void server_free(struct server *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_conns; i++)
		conn_free(s->conns[i]);
	free(s->conns);
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->tfd >= 0)
		close(s->tfd);
	free(s);
}
