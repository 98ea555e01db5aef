// SPDX-License-Identifier: GPL-2.0-only
/*
 * ctlsim: many simulated edges against one kilimanjaro-controller, for the
 * punch-sync and controller_edges lines of bench/run (bench/README.md).
 *
 *   ctlsim --connect ADDR:PORT --edges N --punches P [--rate R]
 *          [--id-prefix S] [--base B] [--wait-ms T] [--hold-ms H]
 *
 * Opens N agent sessions over plain TCP (the controller must allow it; the
 * bench runs on a namespace's loopback), each says Hello and acknowledges
 * every snapshot and delta as an agent does. Once every session has its
 * snapshot, edge 0 reports P port punches at R per second; every other
 * edge records when each punch reaches it in a ConfigDelta. A sample is
 * (punch, receiving edge): its latency in milliseconds, from the report to
 * the delta's arrival. A punch not seen within T ms of its report counts as
 * missing (as late as T). Prints, one per line:
 *   edges_connected N   sessions that got their snapshot
 *   samples S           N-1 times P
 *   missing M
 *   median_ms X
 *   p99_ms X
 *   max_ms X
 * With --hold-ms, the sessions then stay up H more milliseconds, each
 * sending a StatsSnapshot every second with counters that grow at a steady
 * rate per edge (traffic for the dashboard's charts and its test).
 * Exit status 0 when it ran (whatever the figures), 1 on an error (named).
 *
 * Punch i is remote 198.19.0.0 + B + i (B: --base, so that runs against the
 * same controller never see each other's punches) port 10000 + i % 50000,
 * to 198.18.10.1:27015 udp, backend 198.18.2.2.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "frame.h"
#include "log.h"

#define REMOTE_BASE 0xC6130000u /* 198.19.0.0 */
#define SVC_ADDR 0xC6120A01u	/* 198.18.10.1 */
#define SVC_PORT 27015
#define BACKEND 0xC6120202u /* 198.18.2.2 */

struct sim_edge {
	int fd;
	struct km_frame_reader rd;
	bool synced; /* got its snapshot */
	uint64_t seq;
};

struct sim {
	struct sockaddr_in to;
	unsigned int n_edges, n_punches, rate, wait_ms, hold_ms;
	uint32_t base;
	const char *id_prefix;
	struct sim_edge *e;
	double *sent_ms; /* [punch] */
	float *lat_ms;	 /* [edge * n_punches + punch], NAN: not yet */
	unsigned int synced, seen;
	int ep;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Blocking send of one envelope (sockets have a send timeout). */
static int sim_send(struct sim_edge *e, KmEnvelope *env)
{
	uint8_t *buf = NULL;
	size_t len, off = 0;
	int r;

	env->seq = ++e->seq;
	env->has_seq = true;
	r = km_frame_encode(env, 0, &buf, &len);
	if (r)
		return r;
	while (off < len) {
		ssize_t n = send(e->fd, buf + off, len - off, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		off += n;
	}
	free(buf);
	return r;
}

static int sim_hello(struct sim *s, unsigned int i)
{
	KmEnvelope env = KILIMANJARO__V1__ENVELOPE__INIT;
	Kilimanjaro__V1__Hello h = KILIMANJARO__V1__HELLO__INIT;
	char id[64];

	snprintf(id, sizeof(id), "%s-%u", s->id_prefix, i);
	h.edge_id = id;
	h.software_version = "ctlsim";
	h.interface = "sim0";
	env.body_case = KILIMANJARO__V1__ENVELOPE__BODY_HELLO;
	env.hello = &h;
	return sim_send(&s->e[i], &env);
}

static int sim_ack(struct sim_edge *e, uint64_t version)
{
	KmEnvelope env = KILIMANJARO__V1__ENVELOPE__INIT;
	Kilimanjaro__V1__Ack a = KILIMANJARO__V1__ACK__INIT;

	a.version = version;
	a.ok = true;
	env.body_case = KILIMANJARO__V1__ENVELOPE__BODY_ACK;
	env.ack = &a;
	return sim_send(e, &env);
}

static int sim_pong(struct sim_edge *e, uint64_t nonce)
{
	KmEnvelope env = KILIMANJARO__V1__ENVELOPE__INIT;
	Kilimanjaro__V1__Pong p = KILIMANJARO__V1__PONG__INIT;

	p.nonce = nonce;
	env.body_case = KILIMANJARO__V1__ENVELOPE__BODY_PONG;
	env.pong = &p;
	return sim_send(e, &env);
}

static int sim_punch(struct sim *s, unsigned int i)
{
	KmEnvelope env = KILIMANJARO__V1__ENVELOPE__INIT;
	Kilimanjaro__V1__PortPunchLearned l =
	    KILIMANJARO__V1__PORT_PUNCH_LEARNED__INIT;
	Kilimanjaro__V1__PortPunch p = KILIMANJARO__V1__PORT_PUNCH__INIT;

	p.proto = KILIMANJARO__V1__PROTO__PROTO_UDP;
	p.service_addr = SVC_ADDR;
	p.service_port = SVC_PORT;
	p.remote_addr = REMOTE_BASE + s->base + i;
	p.remote_port = 10000 + i % 50000;
	p.backend = BACKEND;
	l.punch = &p;
	env.body_case = KILIMANJARO__V1__ENVELOPE__BODY_PUNCH_LEARNED;
	env.punch_learned = &l;
	s->sent_ms[i] = now_ms();
	return sim_send(&s->e[0], &env);
}

/* Edge i's counters after t seconds: (i + 1) * 1000 packets/s in, a tenth
 * of it dropped as denied. */
static int sim_stats(struct sim_edge *e, unsigned int i, double t_s)
{
	KmEnvelope env = KILIMANJARO__V1__ENVELOPE__INIT;
	Kilimanjaro__V1__StatsSnapshot st =
	    KILIMANJARO__V1__STATS_SNAPSHOT__INIT;
	Kilimanjaro__V1__ReasonCount rc[2] = {
	    KILIMANJARO__V1__REASON_COUNT__INIT,
	    KILIMANJARO__V1__REASON_COUNT__INIT};
	Kilimanjaro__V1__ReasonCount *rcp[2] = {&rc[0], &rc[1]};
	uint64_t pk = (uint64_t)((i + 1) * 1000 * t_s);

	rc[0].reason = "fwd_service";
	rc[0].has_packets = rc[0].has_bytes = true;
	rc[0].packets = pk - pk / 10;
	rc[0].bytes = rc[0].packets * 100;
	rc[1].reason = "drop_denied";
	rc[1].has_packets = rc[1].has_bytes = true;
	rc[1].packets = pk / 10;
	rc[1].bytes = rc[1].packets * 100;
	st.has_uptime_ms = st.has_interval_ms = true;
	st.uptime_ms = (uint64_t)(t_s * 1000);
	st.interval_ms = 1000;
	st.n_reasons = 2;
	st.reasons = rcp;
	env.body_case = KILIMANJARO__V1__ENVELOPE__BODY_STATS;
	env.stats = &st;
	return sim_send(e, &env);
}

static void sim_record(struct sim *s, unsigned int edge,
		       Kilimanjaro__V1__PortPunch **p, size_t n, double t)
{
	size_t k;

	if (edge == 0)
		return;
	for (k = 0; k < n; k++) {
		uint32_t i = p[k]->remote_addr - REMOTE_BASE - s->base;
		float *slot;

		if (p[k]->remote_addr < REMOTE_BASE + s->base ||
		    i >= s->n_punches || isnan(s->sent_ms[i]))
			continue;
		slot = &s->lat_ms[(size_t)edge * s->n_punches + i];
		if (isnan(*slot)) {
			*slot = t - s->sent_ms[i];
			s->seen++;
		}
	}
}

static int sim_message(struct sim *s, unsigned int i, KmEnvelope *env)
{
	struct sim_edge *e = &s->e[i];
	double t = now_ms();

	switch (env->body_case) {
	case KILIMANJARO__V1__ENVELOPE__BODY_SNAPSHOT:
		if (!e->synced) {
			e->synced = true;
			s->synced++;
		}
		sim_record(s, i, env->snapshot->punches,
			   env->snapshot->n_punches, t);
		return sim_ack(e, env->snapshot->version);
	case KILIMANJARO__V1__ENVELOPE__BODY_DELTA:
		sim_record(s, i, env->delta->add_punches,
			   env->delta->n_add_punches, t);
		return sim_ack(e, env->delta->version);
	case KILIMANJARO__V1__ENVELOPE__BODY_PING:
		return sim_pong(e, env->ping->nonce);
	default:
		return 0;
	}
}

/* Read what edge i has and act on every complete frame. */
static int sim_readable(struct sim *s, unsigned int i)
{
	struct sim_edge *e = &s->e[i];
	uint8_t buf[65536];
	ssize_t n;
	size_t off = 0;

	n = recv(e->fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n == 0) {
		km_err("edge %u: the controller closed the session", i);
		return -ECONNRESET;
	}
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		return km_log_errno(-errno, "edge %u: recv: %s", i,
				    strerror(errno));
	}
	while (off < (size_t)n) {
		const uint8_t *frame;
		const char *why = NULL;
		uint32_t flen;
		size_t used;
		KmEnvelope *env;
		int r;

		r = km_frame_feed(&e->rd, buf + off, n - off, &used, &frame,
				  &flen, &why);
		if (r < 0) {
			km_err("edge %u: %s", i, why ? why : strerror(-r));
			return r;
		}
		off += used;
		if (r == 0)
			break;
		r = km_envelope_decode(frame, flen, &env, &why);
		if (r) {
			km_err("edge %u: %s", i, why);
			return r;
		}
		r = sim_message(s, i, env);
		km_envelope_free(env);
		if (r)
			return r;
	}
	return 0;
}

/* Serve every readable session for up to ms milliseconds. */
static int sim_poll(struct sim *s, int ms)
{
	struct epoll_event ev[64];
	int n, k, r;

	n = epoll_wait(s->ep, ev, 64, ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (k = 0; k < n; k++) {
		r = sim_readable(s, ev[k].data.u32);
		if (r)
			return r;
	}
	return 0;
}

static int sim_connect(struct sim *s)
{
	struct timeval tv = {.tv_sec = 2};
	struct epoll_event ev = {.events = EPOLLIN};
	unsigned int i;
	int one = 1, r;

	for (i = 0; i < s->n_edges; i++) {
		struct sim_edge *e = &s->e[i];

		e->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (e->fd < 0)
			return km_log_errno(-errno, "socket for edge %u: %s", i,
					    strerror(errno));
		setsockopt(e->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		setsockopt(e->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(e->fd, (struct sockaddr *)&s->to, sizeof(s->to)))
			return km_log_errno(-errno, "edge %u: connect: %s", i,
					    strerror(errno));
		km_frame_reader_init(&e->rd, 0);
		ev.data.u32 = i;
		if (epoll_ctl(s->ep, EPOLL_CTL_ADD, e->fd, &ev))
			return km_log_errno(-errno, "epoll_ctl: %s",
					    strerror(errno));
		r = sim_hello(s, i);
		if (r)
			return km_log_errno(r, "edge %u: hello: %s", i,
					    strerror(-r));
		/* Keep the controller's accept queue short. */
		r = sim_poll(s, 0);
		if (r)
			return r;
	}
	return 0;
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return x < y ? -1 : x > y;
}

static int sim_run(struct sim *s)
{
	double start, deadline, interval = 1e3 / s->rate, next;
	unsigned int sent = 0, expect, i, missing = 0;
	size_t n = 0, total;
	float *v;
	int r;

	r = sim_connect(s);
	if (r)
		return r;
	deadline = now_ms() + 10000 + 20.0 * s->n_edges;
	while (s->synced < s->n_edges && now_ms() < deadline) {
		r = sim_poll(s, 50);
		if (r)
			return r;
	}
	if (s->synced < s->n_edges)
		km_warn("%u of %u edges got a snapshot", s->synced, s->n_edges);

	expect = (s->synced ? s->synced - s->e[0].synced : 0) * s->n_punches;
	start = next = now_ms();
	while (sent < s->n_punches) {
		double t = now_ms();

		if (t >= next) {
			r = sim_punch(s, sent++);
			if (r)
				return km_log_errno(r, "reporting punch %u: %s",
						    sent - 1, strerror(-r));
			next = start + sent * interval;
			continue;
		}
		r = sim_poll(s, (int)(next - t) + 1);
		if (r)
			return r;
	}
	deadline = now_ms() + s->wait_ms;
	while (s->seen < expect && now_ms() < deadline) {
		r = sim_poll(s, 20);
		if (r)
			return r;
	}

	total = (size_t)(s->n_edges - 1) * s->n_punches;
	v = calloc(total ? total : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 1; i < s->n_edges; i++) {
		unsigned int p;

		for (p = 0; p < s->n_punches; p++) {
			float x = s->lat_ms[(size_t)i * s->n_punches + p];

			if (isnan(x)) {
				missing++;
				x = s->wait_ms;
			}
			v[n++] = x;
		}
	}
	qsort(v, n, sizeof(*v), cmp_float);
	printf("edges_connected %u\n", s->synced);
	printf("samples %zu\n", n);
	printf("missing %u\n", missing);
	if (n) {
		printf("median_ms %.2f\n", v[(n - 1) / 2]);
		printf("p99_ms %.2f\n", v[(size_t)ceil(n * 0.99) - 1]);
		printf("max_ms %.2f\n", v[n - 1]);
	}
	free(v);
	if (s->hold_ms) {
		double t0 = now_ms(), end = t0 + s->hold_ms, tick = t0;

		/* Results first: a caller holding the sessions reads them now.
		 */
		fflush(stdout);
		while (now_ms() < end) {
			if (now_ms() >= tick) {
				for (i = 0; i < s->n_edges; i++) {
					r = sim_stats(&s->e[i], i,
						      (now_ms() - start) / 1e3);
					if (r)
						return km_log_errno(
						    r, "edge %u: stats: %s", i,
						    strerror(-r));
				}
				tick += 1000;
			}
			r = sim_poll(s, 100);
			if (r)
				return r;
		}
	}

	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: ctlsim --connect ADDR:PORT --edges N --punches P "
		   "[--rate R] [--id-prefix S] [--base B] [--wait-ms T] "
		   "[--hold-ms H]\n");
}

static int parse_uint(const char *opt, const char *v, unsigned int min,
		      unsigned int max, unsigned int *out)
{
	char *end;
	unsigned long x;

	errno = 0;
	x = strtoul(v, &end, 10);
	if (errno || !*v || *end || x < min || x > max) {
		km_err("--%s: '%s' is not a number in %u..%u", opt, v, min,
		       max);
		return -EINVAL;
	}
	*out = x;
	return 0;
}

static int parse_hostport(const char *v, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(v, ':');
	unsigned int port;

	if (!colon || (size_t)(colon - v) >= sizeof(host))
		goto bad;
	memcpy(host, v, colon - v);
	host[colon - v] = 0;
	sa->sin_family = AF_INET;
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		goto bad;
	if (parse_uint("connect", colon + 1, 1, 65535, &port))
		return -EINVAL;
	sa->sin_port = htons(port);
	return 0;
bad:
	km_err("--connect: '%s' is not ADDR:PORT", v);
	return -EINVAL;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"connect", required_argument, NULL, 'c'},
	    {"edges", required_argument, NULL, 'n'},
	    {"punches", required_argument, NULL, 'p'},
	    {"rate", required_argument, NULL, 'r'},
	    {"id-prefix", required_argument, NULL, 'i'},
	    {"base", required_argument, NULL, 'b'},
	    {"wait-ms", required_argument, NULL, 'w'},
	    {"hold-ms", required_argument, NULL, 'H'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	struct sim s = {.rate = 500, .wait_ms = 3000, .id_prefix = "sim"};
	struct rlimit rl;
	bool have_to = false;
	unsigned int i, base = 0;
	int c, r = -EINVAL;

	km_log_init("ctlsim", LOG_INFO);
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (parse_hostport(optarg, &s.to))
				return 1;
			have_to = true;
			break;
		case 'n':
			if (parse_uint("edges", optarg, 2, 100000, &s.n_edges))
				return 1;
			break;
		case 'p':
			if (parse_uint("punches", optarg, 1, 1000000,
				       &s.n_punches))
				return 1;
			break;
		case 'r':
			if (parse_uint("rate", optarg, 1, 1000000, &s.rate))
				return 1;
			break;
		case 'i':
			if (!*optarg || strlen(optarg) > 40) {
				km_err("--id-prefix: 1 to 40 characters");
				return 1;
			}
			s.id_prefix = optarg;
			break;
		case 'b':
			if (parse_uint("base", optarg, 0, 1u << 24, &base))
				return 1;
			break;
		case 'w':
			if (parse_uint("wait-ms", optarg, 1, 600000,
				       &s.wait_ms))
				return 1;
			break;
		case 'H':
			if (parse_uint("hold-ms", optarg, 0, 3600000,
				       &s.hold_ms))
				return 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc || !have_to || !s.n_edges || !s.n_punches) {
		usage(stderr);
		return 1;
	}
	if (s.n_punches > (1u << 24) - base) {
		km_err("--base + --punches must stay below 2^24");
		return 1;
	}
	s.base = base;
	/* One descriptor per simulated edge. */
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}

	s.e = calloc(s.n_edges, sizeof(*s.e));
	s.sent_ms = malloc(s.n_punches * sizeof(*s.sent_ms));
	s.lat_ms = malloc((size_t)s.n_edges * s.n_punches * sizeof(*s.lat_ms));
	s.ep = epoll_create1(EPOLL_CLOEXEC);
	if (!s.e || !s.sent_ms || !s.lat_ms || s.ep < 0) {
		km_err("out of memory for %u edges x %u punches", s.n_edges,
		       s.n_punches);
		goto out;
	}
	for (i = 0; i < s.n_edges; i++)
		s.e[i].fd = -1;
	for (i = 0; i < s.n_punches; i++)
		s.sent_ms[i] = NAN;
	for (size_t k = 0; k < (size_t)s.n_edges * s.n_punches; k++)
		s.lat_ms[k] = NAN;
	r = sim_run(&s);
out:
	if (s.e) {
		for (i = 0; i < s.n_edges; i++) {
			if (s.e[i].fd >= 0)
				close(s.e[i].fd);
			km_frame_reader_free(&s.e[i].rd);
		}
	}
	if (s.ep >= 0)
		close(s.ep);
	free(s.e);
	free(s.sent_ms);
	free(s.lat_ms);
	return r ? 1 : 0;
}
