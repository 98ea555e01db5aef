// SPDX-License-Identifier: GPL-2.0-only
/*
 * kilimanjaro-agent's event loop: one io_uring for the connection
 * (connect, recv, send), the km_events ring buffer (poll on its epoll fd),
 * the stats timerfd, a tick timerfd (heartbeat, dead peer, reconnect) and
 * a signalfd. TLS runs over memory BIOs: io_uring moves ciphertext,
 * OpenSSL never touches the socket.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <netinet/tcp.h>

#include "agent.h"
#include "log.h"
#include "ring.h"
#include "snapshot.h"

enum op {
	OP_CONNECT = 1,
	OP_RECV,
	OP_SEND,
	OP_CANCEL,
	OP_STATS,
	OP_TICK,
	OP_EVENTS,
	OP_SIGNAL,
};

#define TICK_MS 100
#define CONNECT_TIMEOUT_NS (5 * 1000000000ull)
#define HANDSHAKE_TIMEOUT_NS (10 * 1000000000ull)
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 30000

/* Read targets of the timerfds and the signalfd (values unused). */
static uint64_t stats_buf, tick_buf, sig_buf[16];

uint64_t ka_now_ns(void)
{
	return km_mono_ns();
}

static struct io_uring_sqe *sqe_get(struct ka_agent *a)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&a->ring);

	if (!sqe) {
		io_uring_submit(&a->ring);
		sqe = io_uring_get_sqe(&a->ring);
	}
	return sqe;
}

static uint64_t ud(struct ka_agent *a, enum op op)
{
	return (uint64_t)a->gen << 8 | op;
}

/* ---- buffers ---- */

static int buf_append(struct ka_buf *b, const void *p, size_t n)
{
	if (b->off && b->off == b->len)
		b->off = b->len = 0;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 16384;
		uint8_t *d;

		while (cap < b->len + n)
			cap *= 2;
		d = realloc(b->d, cap);
		if (!d)
			return -ENOMEM;
		b->d = d;
		b->cap = cap;
	}
	memcpy(b->d + b->len, p, n);
	b->len += n;
	return 0;
}

static void buf_free(struct ka_buf *b)
{
	free(b->d);
	memset(b, 0, sizeof(*b));
}

/* ---- sending ---- */

static void send_kick(struct ka_agent *a)
{
	struct io_uring_sqe *sqe;
	struct ka_buf t;

	if (a->send_busy || a->closing || a->fd < 0 || a->state < KA_HANDSHAKE)
		return;
	if (a->sending.off == a->sending.len) {
		if (a->pending.off == a->pending.len)
			return;
		t = a->sending;
		a->sending = a->pending;
		a->pending = t;
		a->pending.off = a->pending.len = 0;
	}
	sqe = sqe_get(a);
	if (!sqe)
		return;
	io_uring_prep_send(sqe, a->fd, a->sending.d + a->sending.off,
			   a->sending.len - a->sending.off, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, ud(a, OP_SEND));
	a->send_busy = true;
	a->inflight++;
}

/* Ciphertext OpenSSL produced into the pending buffer. */
static int tls_flush(struct ka_agent *a)
{
	uint8_t tmp[16384];
	size_t n;

	while ((n = km_tls_conn_take(a->tls, tmp, sizeof(tmp))))
		if (buf_append(&a->pending, tmp, n))
			return -ENOMEM;
	send_kick(a);
	return 0;
}

int ka_send(struct ka_agent *a, KmEnvelope *env)
{
	uint8_t *f;
	size_t n;
	int r;

	if (a->state != KA_ESTABLISHED || a->closing)
		return -ENOTCONN;
	r = km_frame_encode(env, 0, &f, &n);
	if (r)
		return r;
	if (a->tls) {
		r = km_tls_conn_write(a->tls, f, n);
		if (!r)
			r = tls_flush(a);
	} else {
		r = buf_append(&a->pending, f, n);
		send_kick(a);
	}
	free(f);
	if (r)
		ka_drop(a, "cannot queue a %s message: %s",
			km_envelope_kind(env), strerror(-r));
	return r;
}

/* ---- connection lifecycle ---- */

static void conn_release(struct ka_agent *a)
{
	if (a->fd >= 0)
		close(a->fd);
	a->fd = -1;
	a->closing = false;
	km_tls_conn_free(a->tls);
	a->tls = NULL;
	km_frame_reader_free(&a->rd);
	a->sending.off = a->sending.len = 0;
	a->pending.off = a->pending.len = 0;
	a->send_busy = false;
}

void ka_drop(struct ka_agent *a, const char *fmt, ...)
{
	char msg[512];
	uint32_t delay;
	va_list ap;

	if (a->closing || a->fd < 0)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	delay = ka_backoff_next(&a->bo);
	km_warn("session with %s ended: %s; the edge keeps its config "
		"(version %" PRIu64 "); reconnecting in %u ms",
		a->o->controller, msg, a->config_version, delay);
	a->next_connect_ns = ka_now_ns() + (uint64_t)delay * 1000000;
	a->state = KA_IDLE;
	a->closing = true;
	a->close_after_flush = false;
	shutdown(a->fd, SHUT_RDWR);
	/* Released (fd closed, TLS freed) only once every operation on it
	 * has completed and the handler that dropped it has returned: see
	 * on_conn_cqe and on_tick. */
	if (a->inflight) {
		struct io_uring_sqe *sqe = sqe_get(a);

		/* A connect in flight does not end on shutdown. */
		if (sqe) {
			io_uring_prep_cancel64(sqe, ud(a, OP_CONNECT), 0);
			io_uring_sqe_set_data64(sqe, ud(a, OP_CANCEL));
		}
	}
}

static void recv_post(struct ka_agent *a)
{
	struct io_uring_sqe *sqe = sqe_get(a);

	if (!sqe)
		return;
	io_uring_prep_recv(sqe, a->fd, a->rx, sizeof(a->rx), 0);
	io_uring_sqe_set_data64(sqe, ud(a, OP_RECV));
	a->inflight++;
}

static int resolve(struct ka_agent *a, struct sockaddr_storage *ss,
		   socklen_t *len)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
	char port[8];
	int r;

	snprintf(port, sizeof(port), "%u", a->o->port);
	r = getaddrinfo(a->o->host, port, &hints, &res);
	if (r)
		return km_log_errno(-EHOSTUNREACH, "controller %s: %s",
				    a->o->host, gai_strerror(r));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static void conn_start(struct ka_agent *a)
{
	static struct sockaddr_storage ss;
	static socklen_t sl;
	struct io_uring_sqe *sqe;
	int one = 1;

	if (resolve(a, &ss, &sl)) {
		a->next_connect_ns =
		    ka_now_ns() + (uint64_t)ka_backoff_next(&a->bo) * 1000000;
		return;
	}
	a->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (a->fd < 0) {
		km_err("socket: %s", strerror(errno));
		a->next_connect_ns =
		    ka_now_ns() + (uint64_t)ka_backoff_next(&a->bo) * 1000000;
		return;
	}
	/* Punches are small and urgent: no Nagle delay. */
	setsockopt(a->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	a->gen++;
	a->seq = 0;
	a->close_after_flush = false;
	km_frame_reader_init(&a->rd, KM_FRAME_MAX);
	a->state = KA_CONNECTING;
	a->connect_start_ns = ka_now_ns();
	sqe = sqe_get(a);
	io_uring_prep_connect(sqe, a->fd, (struct sockaddr *)&ss, sl);
	io_uring_sqe_set_data64(sqe, ud(a, OP_CONNECT));
	a->inflight++;
	km_debug("connecting to %s", a->o->controller);
}

static void established(struct ka_agent *a)
{
	uint64_t now = ka_now_ns();

	a->state = KA_ESTABLISHED;
	a->last_rx_ns = now;
	a->last_ping_ns = now;
	ka_session_established(a);
}

static void on_connect(struct ka_agent *a, int res)
{
	int r;

	if (res < 0) {
		ka_drop(a, "connect to %s failed: %s", a->o->controller,
			strerror(-res));
		return;
	}
	a->last_rx_ns = ka_now_ns();
	if (!a->tls_ctx) {
		recv_post(a);
		established(a);
		return;
	}
	a->state = KA_HANDSHAKE;
	r = km_tls_conn_new(&a->tls, a->tls_ctx, KM_TLS_CLIENT,
			    a->o->server_name ? a->o->server_name : a->o->host);
	if (r) {
		ka_drop(a, "TLS setup failed");
		return;
	}
	recv_post(a);
	r = km_tls_conn_handshake(a->tls);
	if (r < 0)
		ka_drop(a, "%s", km_tls_conn_reason(a->tls));
	else
		tls_flush(a);
}

/* Plaintext from the controller into frames. */
static void on_plain(struct ka_agent *a, const uint8_t *p, size_t n)
{
	const uint8_t *f;
	const char *why = NULL;
	uint32_t fl;
	size_t used;
	int r;

	while (n && !a->closing) {
		r = km_frame_feed(&a->rd, p, n, &used, &f, &fl, &why);
		if (r < 0) {
			a->n_refused++;
			ka_drop(a,
				"controller frame of %" PRIu32
				" bytes refused: %s (%u); a byte stream "
				"cannot be resynchronised",
				a->rd.len, why ? why : strerror(-r),
				KM_FRAME_MAX);
			return;
		}
		p += used;
		n -= used;
		if (r == 1)
			ka_session_frame(a, f, fl);
	}
}

static void on_recv_tls(struct ka_agent *a, const uint8_t *p, size_t n)
{
	static uint8_t plain[KA_RX_BUF];
	ssize_t got = 0;
	int r;

	if (km_tls_conn_feed(a->tls, p, n)) {
		ka_drop(a, "out of memory");
		return;
	}
	if (a->state == KA_HANDSHAKE) {
		r = km_tls_conn_handshake(a->tls);
		tls_flush(a);
		if (r < 0) {
			ka_drop(a, "%s", km_tls_conn_reason(a->tls));
			return;
		}
		if (r == 0)
			return;
		established(a);
	}
	while (!a->closing &&
	       (got = km_tls_conn_read(a->tls, plain, sizeof(plain))) > 0)
		on_plain(a, plain, (size_t)got);
	if (!a->closing && got == -ECONNRESET && km_frame_partial(&a->rd))
		ka_drop(a, "the controller closed the session inside a frame "
			   "(truncated frame)");
	else if (!a->closing && got < 0)
		ka_drop(a, "%s", km_tls_conn_reason(a->tls));
	if (!a->closing)
		tls_flush(a); /* key updates, alerts */
}

static void on_recv(struct ka_agent *a, int res)
{
	if (res <= 0) {
		if (res == 0 && km_frame_partial(&a->rd))
			ka_drop(a, "the controller closed the connection "
				   "inside a frame (truncated frame)");
		else if (res == 0)
			ka_drop(a, "the controller closed the connection");
		else
			ka_drop(a, "receive failed: %s", strerror(-res));
		return;
	}
	a->last_rx_ns = ka_now_ns();
	if (a->tls)
		on_recv_tls(a, a->rx, (size_t)res);
	else
		on_plain(a, a->rx, (size_t)res);
	if (!a->closing)
		recv_post(a);
}

static void on_send(struct ka_agent *a, int res)
{
	a->send_busy = false;
	if (res < 0) {
		ka_drop(a, "send failed: %s", strerror(-res));
		return;
	}
	a->sending.off += (size_t)res;
	send_kick(a);
	if (a->close_after_flush && !a->send_busy)
		ka_drop(a, "resync requested");
}

static void on_tick(struct ka_agent *a)
{
	uint64_t now = ka_now_ns();

	if (a->closing && !a->inflight)
		conn_release(a);
	if (a->state == KA_IDLE && a->fd < 0 && now >= a->next_connect_ns) {
		conn_start(a);
		return;
	}
	if (a->state == KA_CONNECTING &&
	    now - a->connect_start_ns > CONNECT_TIMEOUT_NS)
		ka_drop(a, "connect to %s timed out", a->o->controller);
	else if (a->state == KA_HANDSHAKE &&
		 now - a->connect_start_ns > HANDSHAKE_TIMEOUT_NS)
		ka_drop(a, "TLS handshake timed out");
	else if (a->state == KA_ESTABLISHED &&
		 now - a->last_rx_ns > (uint64_t)a->o->dead_after_ms * 1000000)
		ka_drop(a, "nothing from the controller for %u ms (dead peer)",
			a->o->dead_after_ms);
	else
		ka_session_tick(a, now);
}

static int event_cb(void *ctx, void *data, size_t size)
{
	struct ka_agent *a = ctx;

	if (size < sizeof(struct km_event))
		return 0;
	ka_session_event(a, data);
	return 0;
}

static void arm_read(struct ka_agent *a, int fd, void *buf, size_t n,
		     enum op op)
{
	struct io_uring_sqe *sqe = sqe_get(a);

	io_uring_prep_read(sqe, fd, buf, n, 0);
	io_uring_sqe_set_data64(sqe, op);
}

static void arm_events(struct ka_agent *a)
{
	struct io_uring_sqe *sqe = sqe_get(a);

	io_uring_prep_poll_add(sqe, a->events_fd, POLLIN);
	io_uring_sqe_set_data64(sqe, OP_EVENTS);
}

/* Completions of the connection ops: release the connection once its
 * last one is in. */
static void on_conn_cqe(struct ka_agent *a, enum op op, uint32_t gen, int res)
{
	if (op == OP_CANCEL)
		return;
	a->inflight--;
	if (op == OP_SEND && gen == a->gen)
		a->send_busy = false;
	if (gen != a->gen || a->closing) {
		if (a->closing && !a->inflight)
			conn_release(a);
		return;
	}
	if (op == OP_CONNECT)
		on_connect(a, res);
	else if (op == OP_RECV)
		on_recv(a, res);
	else
		on_send(a, res);
	if (a->closing && !a->inflight)
		conn_release(a);
}

static void on_cqe(struct ka_agent *a, uint64_t data, int res)
{
	enum op op = (enum op)(data & 0xff);

	switch (op) {
	case OP_CONNECT:
	case OP_RECV:
	case OP_SEND:
	case OP_CANCEL:
		on_conn_cqe(a, op, (uint32_t)(data >> 8), res);
		break;
	case OP_STATS:
		ka_session_stats(a);
		arm_read(a, a->stats_tfd, &stats_buf, 8, OP_STATS);
		break;
	case OP_TICK:
		on_tick(a);
		arm_read(a, a->tick_tfd, &tick_buf, 8, OP_TICK);
		break;
	case OP_EVENTS:
		if (ring_buffer__consume(a->events) < 0)
			km_warn("km_events: consume failed");
		arm_events(a);
		break;
	case OP_SIGNAL:
		km_info("signal received: stopping");
		a->stop = true;
		break;
	}
}

static int timer_new(uint32_t ms)
{
	struct itimerspec its = {
	    .it_interval = {ms / 1000, (long)(ms % 1000) * 1000000},
	    .it_value = {ms / 1000, (long)(ms % 1000) * 1000000},
	};
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (timerfd_settime(fd, 0, &its, NULL)) {
		close(fd);
		return -errno;
	}
	return fd;
}

static int sources_init(struct ka_agent *a)
{
	sigset_t set;
	int r;

	a->events =
	    ring_buffer__new(a->maps.fd[KM_M_EVENTS], event_cb, a, NULL);
	if (!a->events)
		return km_log_errno(-errno,
				    "%s: cannot open the ring buffer: "
				    "%s",
				    KM_MAP_EVENTS, strerror(errno));
	a->events_fd = ring_buffer__epoll_fd(a->events);
	a->stats_tfd = timer_new(a->o->stats_interval_ms);
	a->tick_tfd = timer_new(TICK_MS);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	a->sig_fd = signalfd(-1, &set, SFD_CLOEXEC);
	if (a->stats_tfd < 0 || a->tick_tfd < 0 || a->sig_fd < 0)
		return km_log_errno(-errno, "timerfd/signalfd: %s",
				    strerror(errno));
	r = io_uring_queue_init(64, &a->ring, 0);
	if (r)
		return km_log_errno(r, "io_uring: %s", strerror(-r));
	return 0;
}

int ka_agent_init(struct ka_agent *a, const struct ka_opts *o)
{
	char pin_root[256], run_dir[256];
	int r;

	memset(a, 0, sizeof(*a));
	a->o = o;
	a->fd = -1;
	a->events_fd = a->stats_tfd = a->tick_tfd = a->sig_fd = -1;
	for (int i = 0; i < KM_M_MAX; i++)
		a->maps.fd[i] = -1;
	ka_backoff_init(&a->bo, BACKOFF_MIN_MS, BACKOFF_MAX_MS,
			ka_now_ns() ^ ((uint64_t)getpid() << 32));
	snprintf(pin_root, sizeof(pin_root), "%s/%s", KA_PIN_BASE, o->ifname);
	snprintf(run_dir, sizeof(run_dir), "%s/%s", KA_RUN_BASE, o->ifname);
	r = km_ring_path(a->ring_path, sizeof(a->ring_path),
			 o->run_dir ? o->run_dir : run_dir, o->ifname);
	if (r)
		return r;
	r = km_maps_open_pinned(&a->maps, o->pin_root ? o->pin_root : pin_root);
	if (r)
		return r;
	if (!o->plain_tcp) {
		r = km_tls_ctx_new(&a->tls_ctx, KM_TLS_CLIENT, o->ca, o->cert,
				   o->key);
		if (r)
			return r;
	}
	return sources_init(a);
}

int ka_agent_run(struct ka_agent *a)
{
	struct io_uring_cqe *cqe;
	unsigned head, n;

	arm_read(a, a->stats_tfd, &stats_buf, 8, OP_STATS);
	arm_read(a, a->tick_tfd, &tick_buf, 8, OP_TICK);
	arm_read(a, a->sig_fd, sig_buf, sizeof(sig_buf), OP_SIGNAL);
	arm_events(a);
	conn_start(a);
	km_info("running: edge %s on %s, controller %s (%s)", a->o->edge_id,
		a->o->ifname, a->o->controller,
		a->tls_ctx ? "TLS 1.3, mutual certificates" : "plain TCP");
	while (!a->stop) {
		int r = io_uring_submit_and_wait(&a->ring, 1);

		if (r < 0 && r != -EINTR)
			return km_log_errno(r, "io_uring: %s", strerror(-r));
		n = 0;
		io_uring_for_each_cqe(&a->ring, head, cqe)
		{
			on_cqe(a, cqe->user_data, cqe->res);
			n++;
		}
		io_uring_cq_advance(&a->ring, n);
	}
	return 0;
}

void ka_agent_fini(struct ka_agent *a)
{
	if (a->tls && a->state == KA_ESTABLISHED)
		km_tls_conn_shutdown(a->tls);
	km_info("stopping: %" PRIu64 " messages applied, %" PRIu64
		" refused, %" PRIu64 " events and %" PRIu64 " stats sent",
		a->n_applied, a->n_refused, a->n_events_sent, a->n_stats_sent);
	if (a->ring.ring_fd > 0)
		io_uring_queue_exit(&a->ring);
	if (a->fd >= 0)
		close(a->fd);
	a->fd = -1;
	km_tls_conn_free(a->tls);
	km_frame_reader_free(&a->rd);
	buf_free(&a->sending);
	buf_free(&a->pending);
	ring_buffer__free(a->events);
	km_ring_reader_close(a->ringr);
	if (a->snap_ctx)
		km_snap_ctx_free(a->snap_ctx);
	free(a->snap_ctx);
	free(a->snap_buf);
	if (a->stats_tfd >= 0)
		close(a->stats_tfd);
	if (a->tick_tfd >= 0)
		close(a->tick_tfd);
	if (a->sig_fd >= 0)
		close(a->sig_fd);
	km_tls_ctx_free(a->tls_ctx);
	km_maps_close(&a->maps);
}
