// SPDX-License-Identifier: GPL-2.0-only
/*
 * km-ctl-load: many simulated agents against one kilimanjaro-controller,
 * in one epoll loop. Each agent connects (TLS with a certificate minted
 * here from the test CA, CN = its edge id; or plain TCP on loopback), says
 * Hello, acknowledges the snapshot and every delta (checking that each
 * delta's base is the version it has), answers pings and sends a
 * StatsSnapshot every --stats-ms. Once every agent holds its snapshot,
 * agent 0 reports --punches port punches at --rate; the time from a punch
 * sent to its arrival at each other agent is one sample.
 *
 * Prints agents_connected, punch_sync_median_ms, punch_sync_p99_ms (and
 * --json for one object). Exit 0 when every agent connected, every sample
 * arrived and no agent saw a delta out of order; 1 otherwise.
 *
 * --send-invalid: agent 0 first sends messages the controller must refuse
 * (a punch with port 0, one with an unknown protocol, a second Hello, a
 * snapshot); the run then must go on as usual, and a punch arriving that
 * is not one of the run's fails it.
 *
 * --expect-refused turns it into a negative test: exit 0 only when the
 * controller closes every session before sending any snapshot (wrong CA
 * with --cert-ca/--cert-ca-key, plain TCP it does not allow, or
 * --hello-id naming another edge than the certificate's CN).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "frame.h"

#define KV1(x) Kilimanjaro__V1__##x

struct agent {
	int idx, fd;
	SSL *ssl;
	char id[64];
	bool connected, tls_done, ready, dead;
	struct km_frame_reader rd;
	uint8_t *out;
	size_t out_len, out_off, out_cap;
	uint64_t version, seq, stats_ms_next, pkts;
	uint32_t events;
};

static struct {
	struct sockaddr_in to;
	const char *ca, *ca_key, *prefix;
	const char *mint_ca, *mint_key; /* default: ca, ca_key */
	const char *hello_id;
	bool plain, json, expect_refused, send_invalid;
	int agents, punches, rate, stats_ms, timeout_s, hold_s;
} o = {.prefix = "sim-",
       .agents = 100,
       .punches = 1000,
       .rate = 500,
       .stats_ms = 1000,
       .timeout_s = 60};

static int epfd;
static struct agent *ag;
static double *sent_ms; /* per punch */
static double *samples; /* per (punch, receiving agent) */
static size_t n_samples, order_errors, refused, unexpected;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void die(const char *what)
{
	fprintf(stderr, "km-ctl-load: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(2);
}

/* ---- certificates minted from the test CA ---- */

static X509 *ca_cert;
static EVP_PKEY *ca_pkey;

static void load_ca(void)
{
	FILE *f = fopen(o.mint_ca ? o.mint_ca : o.ca, "r");
	FILE *k = fopen(o.mint_key ? o.mint_key : o.ca_key, "r");

	if (!f || !k)
		die("--ca / --ca-key: cannot open");
	ca_cert = PEM_read_X509(f, NULL, NULL, NULL);
	ca_pkey = PEM_read_PrivateKey(k, NULL, NULL, NULL);
	fclose(f);
	fclose(k);
	if (!ca_cert || !ca_pkey)
		die("--ca / --ca-key: not a PEM certificate / key");
}

static void mint(SSL *ssl, const char *cn)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *n;

	if (!key || !x)
		die("key generation failed");
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)random());
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(ca_cert));
	if (!X509_sign(x, ca_pkey, EVP_sha256()) ||
	    SSL_use_certificate(ssl, x) != 1 ||
	    SSL_use_PrivateKey(ssl, key) != 1)
		die("minting an agent certificate failed");
	X509_free(x);
	EVP_PKEY_free(key);
}

/* ---- I/O ---- */

static void set_ev(struct agent *a, uint32_t ev)
{
	struct epoll_event e = {.events = ev, .data.ptr = a};

	if (a->events != ev && !epoll_ctl(epfd, EPOLL_CTL_MOD, a->fd, &e))
		a->events = ev;
}

static void kill_agent(struct agent *a, const char *why)
{
	if (a->dead)
		return;
	fprintf(stderr, "km-ctl-load: %s: %s\n", a->id, why);
	a->dead = true;
	epoll_ctl(epfd, EPOLL_CTL_DEL, a->fd, NULL);
}

static void flush(struct agent *a)
{
	while (!a->dead && a->out_off < a->out_len) {
		size_t n = a->out_len - a->out_off;
		ssize_t w;

		if (a->ssl) {
			int r = SSL_write(a->ssl, a->out + a->out_off, (int)n);

			if (r <= 0) {
				int e = SSL_get_error(a->ssl, r);

				if (e == SSL_ERROR_WANT_WRITE ||
				    e == SSL_ERROR_WANT_READ)
					break;
				kill_agent(a, "TLS write failed");
				return;
			}
			w = r;
		} else {
			w = send(a->fd, a->out + a->out_off, n, MSG_NOSIGNAL);
			if (w < 0 && errno == EAGAIN)
				break;
			if (w < 0) {
				kill_agent(a, strerror(errno));
				return;
			}
		}
		a->out_off += (size_t)w;
	}
	if (a->out_off == a->out_len)
		a->out_off = a->out_len = 0;
	set_ev(a, EPOLLIN | (a->out_len ? EPOLLOUT : 0));
}

static void send_env(struct agent *a, KV1(Envelope) * env)
{
	uint8_t *b;
	size_t n;

	env->schema = KM_SCHEMA_VERSION;
	env->has_seq = true;
	env->seq = ++a->seq;
	if (km_frame_encode(env, 0, &b, &n))
		die("encode");
	if (a->out_len + n > a->out_cap) {
		a->out_cap = (a->out_len + n) * 2;
		a->out = realloc(a->out, a->out_cap);
		if (!a->out)
			die("out of memory");
	}
	memcpy(a->out + a->out_len, b, n);
	a->out_len += n;
	free(b);
}

static void send_ack(struct agent *a, uint64_t v, bool ok, const char *err)
{
	KV1(Envelope) env = KILIMANJARO__V1__ENVELOPE__INIT;
	KV1(Ack) ack = KILIMANJARO__V1__ACK__INIT;

	ack.version = v;
	ack.ok = ok;
	ack.error = (char *)err;
	env.body_case = KILIMANJARO__V1__ENVELOPE__BODY_ACK;
	env.ack = &ack;
	send_env(a, &env);
}

static void send_hello(struct agent *a)
{
	KV1(Envelope) env = KILIMANJARO__V1__ENVELOPE__INIT;
	KV1(Hello) h = KILIMANJARO__V1__HELLO__INIT;

	h.edge_id = o.hello_id ? (char *)o.hello_id : a->id;
	h.software_version = "km-ctl-load";
	env.body_case = KILIMANJARO__V1__ENVELOPE__BODY_HELLO;
	env.hello = &h;
	send_env(a, &env);
}

static void send_stats(struct agent *a)
{
	static const char *const names[] = {"fwd_service", "drop_denied",
					    "pass_not_ours"};
	KV1(Envelope) env = KILIMANJARO__V1__ENVELOPE__INIT;
	KV1(StatsSnapshot) s = KILIMANJARO__V1__STATS_SNAPSHOT__INIT;
	KV1(ReasonCount) rc[3], *prc[3];

	a->pkts += 1000 + (uint64_t)a->idx;
	for (int i = 0; i < 3; i++) {
		kilimanjaro__v1__reason_count__init(&rc[i]);
		rc[i].reason = (char *)names[i];
		rc[i].has_packets = rc[i].has_bytes = true;
		rc[i].packets = a->pkts / (uint64_t)(i + 1);
		rc[i].bytes = rc[i].packets * 100;
		prc[i] = &rc[i];
	}
	s.has_uptime_ms = s.has_interval_ms = true;
	s.uptime_ms = (uint64_t)now_ms();
	s.interval_ms = (uint64_t)o.stats_ms;
	s.n_reasons = 3;
	s.reasons = prc;
	env.body_case = KILIMANJARO__V1__ENVELOPE__BODY_STATS;
	env.stats = &s;
	send_env(a, &env);
}

static void send_punch(struct agent *a, int i)
{
	KV1(Envelope) env = KILIMANJARO__V1__ENVELOPE__INIT;
	KV1(PortPunchLearned) pl = KILIMANJARO__V1__PORT_PUNCH_LEARNED__INIT;
	KV1(PortPunch) p = KILIMANJARO__V1__PORT_PUNCH__INIT;

	p.proto = KILIMANJARO__V1__PROTO__PROTO_UDP;
	p.service_addr = 0xC6120A01; /* 198.18.10.1 */
	p.service_port = 27015;
	p.remote_addr = 0xC612C800 + (uint32_t)(i / 50000); /* 198.18.200.x */
	p.remote_port = 10000 + (uint32_t)(i % 50000);
	p.backend = 0xC6120202; /* 198.18.2.2 */
	pl.punch = &p;
	env.body_case = KILIMANJARO__V1__ENVELOPE__BODY_PUNCH_LEARNED;
	env.punch_learned = &pl;
	sent_ms[i] = now_ms();
	send_env(a, &env);
	flush(a);
}

/* Messages the controller must refuse (logged, nothing changed, session
 * kept): a punch with port 0, one with an unknown protocol, a second
 * Hello, a snapshot (controller -> agent only). */
static void send_invalid(struct agent *a)
{
	KV1(Envelope) env = KILIMANJARO__V1__ENVELOPE__INIT;
	KV1(PortPunchLearned) pl = KILIMANJARO__V1__PORT_PUNCH_LEARNED__INIT;
	KV1(PortPunch) p = KILIMANJARO__V1__PORT_PUNCH__INIT;
	KV1(ConfigSnapshot) snap = KILIMANJARO__V1__CONFIG_SNAPSHOT__INIT;

	p.proto = KILIMANJARO__V1__PROTO__PROTO_UDP;
	p.service_addr = 0xC6120A01;
	p.service_port = 27015;
	p.remote_addr = 0xC6120909;
	p.remote_port = 0;
	p.backend = 0xC6120202;
	pl.punch = &p;
	env.body_case = KILIMANJARO__V1__ENVELOPE__BODY_PUNCH_LEARNED;
	env.punch_learned = &pl;
	send_env(a, &env);
	p.remote_port = 5000;
	p.proto = 99;
	send_env(a, &env);
	send_hello(a);
	env.body_case = KILIMANJARO__V1__ENVELOPE__BODY_SNAPSHOT;
	env.snapshot = &snap;
	send_env(a, &env);
	flush(a);
}

static void on_punch(struct agent *a, const KV1(PortPunch) * p)
{
	long i;

	if (p->remote_addr < 0xC612C800 || p->remote_port < 10000) {
		unexpected++; /* not one of ours: an invalid one relayed? */
		return;
	}
	i = (long)(p->remote_addr - 0xC612C800) * 50000 +
	    (long)(p->remote_port - 10000);
	if (a->idx == 0 || i >= o.punches || sent_ms[i] == 0)
		return;
	samples[n_samples++] = now_ms() - sent_ms[i];
}

static void on_env(struct agent *a, KV1(Envelope) * env)
{
	KV1(Envelope) out = KILIMANJARO__V1__ENVELOPE__INIT;
	KV1(Pong) pong = KILIMANJARO__V1__PONG__INIT;
	KV1(ConfigDelta) * d;

	switch (env->body_case) {
	case KILIMANJARO__V1__ENVELOPE__BODY_SNAPSHOT:
		a->version = env->snapshot->version;
		a->ready = true;
		send_ack(a, a->version, true, NULL);
		break;
	case KILIMANJARO__V1__ENVELOPE__BODY_DELTA:
		d = env->delta;
		if (!a->ready || d->base_version != a->version) {
			order_errors++;
			send_ack(a, d->version, false,
				 "base_version is not this edge's version");
			break;
		}
		a->version = d->version;
		for (size_t i = 0; i < d->n_add_punches; i++)
			on_punch(a, d->add_punches[i]);
		send_ack(a, a->version, true, NULL);
		break;
	case KILIMANJARO__V1__ENVELOPE__BODY_PING:
		pong.nonce = env->ping->nonce;
		out.body_case = KILIMANJARO__V1__ENVELOPE__BODY_PONG;
		out.pong = &pong;
		send_env(a, &out);
		break;
	default:
		break;
	}
}

static void on_readable(struct agent *a)
{
	uint8_t buf[16384];

	while (!a->dead) {
		ssize_t n;

		if (a->ssl) {
			int r = SSL_read(a->ssl, buf, sizeof(buf)), e;

			if (r <= 0) {
				e = SSL_get_error(a->ssl, r);
				if (e == SSL_ERROR_WANT_READ ||
				    e == SSL_ERROR_WANT_WRITE)
					break;
				refused++;
				kill_agent(a, "closed by the controller (TLS)");
				return;
			}
			n = r;
		} else {
			n = recv(a->fd, buf, sizeof(buf), 0);
			if (n < 0 && errno == EAGAIN)
				break;
			if (n <= 0) {
				refused++;
				kill_agent(a, "closed by the controller");
				return;
			}
		}
		for (size_t off = 0; off < (size_t)n && !a->dead;) {
			const uint8_t *f;
			const char *why;
			uint32_t fl;
			size_t used;
			KV1(Envelope) * env;
			int r =
			    km_frame_feed(&a->rd, buf + off, (size_t)n - off,
					  &used, &f, &fl, &why);

			off += used;
			if (r < 0) {
				kill_agent(a, why);
				return;
			}
			if (r == 0)
				break;
			if (km_envelope_decode(f, fl, &env, &why)) {
				kill_agent(a, why);
				return;
			}
			on_env(a, env);
			km_envelope_free(env);
		}
	}
	flush(a);
}

static void on_event(struct agent *a)
{
	if (!a->connected) {
		int err = 0;
		socklen_t l = sizeof(err);

		getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err) {
			kill_agent(a, strerror(err));
			return;
		}
		a->connected = true;
		if (!a->ssl)
			send_hello(a);
	}
	if (a->ssl && !a->tls_done) {
		int r = SSL_do_handshake(a->ssl), e;

		if (r != 1) {
			e = SSL_get_error(a->ssl, r);
			if (e == SSL_ERROR_WANT_READ)
				set_ev(a, EPOLLIN);
			else if (e == SSL_ERROR_WANT_WRITE)
				set_ev(a, EPOLLIN | EPOLLOUT);
			else
				kill_agent(a, "TLS handshake failed");
			return;
		}
		a->tls_done = true;
		send_hello(a);
	}
	on_readable(a);
}

static void start(struct agent *a, SSL_CTX *ctx)
{
	struct epoll_event e = {.events = EPOLLOUT | EPOLLIN, .data.ptr = a};
	int one = 1;

	snprintf(a->id, sizeof(a->id), "%s%d", o.prefix, a->idx);
	km_frame_reader_init(&a->rd, 0);
	a->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (a->fd < 0)
		die("socket");
	setsockopt(a->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(a->fd, (struct sockaddr *)&o.to, sizeof(o.to)) &&
	    errno != EINPROGRESS)
		die("connect");
	if (ctx) {
		a->ssl = SSL_new(ctx);
		mint(a->ssl, a->id);
		SSL_set_fd(a->ssl, a->fd);
		SSL_set_connect_state(a->ssl);
	}
	a->events = e.events;
	epoll_ctl(epfd, EPOLL_CTL_ADD, a->fd, &e);
}

static int cmp(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return a < b ? -1 : a > b;
}

static void parse(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"connect", 1, NULL, 'c'},	    {"ca", 1, NULL, 'a'},
	    {"ca-key", 1, NULL, 'k'},	    {"plain", 0, NULL, 'p'},
	    {"agents", 1, NULL, 'n'},	    {"punches", 1, NULL, 'm'},
	    {"rate", 1, NULL, 'r'},	    {"stats-ms", 1, NULL, 's'},
	    {"timeout", 1, NULL, 't'},	    {"hold", 1, NULL, 'H'},
	    {"id-prefix", 1, NULL, 'i'},    {"json", 0, NULL, 'j'},
	    {"hello-id", 1, NULL, 'e'},	    {"expect-refused", 0, NULL, 'x'},
	    {"send-invalid", 0, NULL, 'I'}, {"cert-ca", 1, NULL, 'A'},
	    {"cert-ca-key", 1, NULL, 'K'},  {NULL, 0, NULL, 0}};
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'c': {
			char h[64], *colon;

			snprintf(h, sizeof(h), "%s", optarg);
			colon = strrchr(h, ':');
			if (!colon)
				die("--connect a.b.c.d:port");
			*colon = 0;
			o.to.sin_family = AF_INET;
			o.to.sin_port = htons((uint16_t)atoi(colon + 1));
			if (inet_pton(AF_INET, h, &o.to.sin_addr) != 1)
				die("--connect a.b.c.d:port");
			break;
		}
		case 'a':
			o.ca = optarg;
			break;
		case 'k':
			o.ca_key = optarg;
			break;
		case 'p':
			o.plain = true;
			break;
		case 'n':
			o.agents = atoi(optarg);
			break;
		case 'm':
			o.punches = atoi(optarg);
			break;
		case 'r':
			o.rate = atoi(optarg);
			break;
		case 's':
			o.stats_ms = atoi(optarg);
			break;
		case 't':
			o.timeout_s = atoi(optarg);
			break;
		case 'H':
			o.hold_s = atoi(optarg);
			break;
		case 'i':
			o.prefix = optarg;
			break;
		case 'j':
			o.json = true;
			break;
		case 'e':
			o.hello_id = optarg;
			break;
		case 'x':
			o.expect_refused = true;
			break;
		case 'I':
			o.send_invalid = true;
			break;
		case 'A':
			o.mint_ca = optarg;
			break;
		case 'K':
			o.mint_key = optarg;
			break;
		default:
			fprintf(stderr,
				"usage: km-ctl-load --connect HOST:PORT "
				"(--plain | --ca CA.pem --ca-key CA.key) "
				"[--agents N] [--punches M] [--rate R/s] "
				"[--stats-ms MS] [--timeout S] [--hold S] "
				"[--id-prefix P] [--json] [--hello-id ID] "
				"[--expect-refused] [--send-invalid] "
				"[--cert-ca CA.pem "
				"--cert-ca-key CA.key (signs the agents' "
				"certificates; default --ca/--ca-key)]\n");
			exit(2);
		}
	}
	if (!o.to.sin_port || (!o.plain && (!o.ca || !o.ca_key)) ||
	    o.agents < (o.expect_refused ? 1 : 2) || o.punches < 0 ||
	    o.rate < 1)
		die("need --connect, --plain or --ca/--ca-key, --agents >= 2");
}

static size_t count(bool ready)
{
	size_t c = 0;

	for (int i = 0; i < o.agents; i++)
		c += !ag[i].dead && (ready ? ag[i].ready : true);
	return c;
}

/* Every session closed by the controller, none after a snapshot. */
static int expect_refused(double deadline)
{
	size_t snap = 0;

	while (now_ms() < deadline && count(false) > 0) {
		struct epoll_event ev[256];
		int n = epoll_wait(epfd, ev, 256, 10);

		for (int i = 0; i < n; i++)
			on_event(ev[i].data.ptr);
	}
	for (int i = 0; i < o.agents; i++)
		snap += ag[i].ready;
	printf("refused %zu of %d, snapshots received %zu\n", refused, o.agents,
	       snap);
	return refused == (size_t)o.agents && !snap ? 0 : 1;
}

int main(int argc, char **argv)
{
	SSL_CTX *ctx = NULL;
	double t0, next_punch = 0, deadline, done_at = 0;
	size_t want;
	int sent = 0;

	parse(argc, argv);
	srandom((unsigned int)getpid());
	if (!o.plain) {
		load_ca();
		ctx = SSL_CTX_new(TLS_client_method());
		if (!ctx ||
		    !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
		    SSL_CTX_load_verify_locations(ctx, o.ca, NULL) != 1)
			die("TLS context");
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	ag = calloc((size_t)o.agents, sizeof(*ag));
	sent_ms = calloc((size_t)o.punches + 1, sizeof(double));
	want = (size_t)o.punches * (size_t)(o.agents - 1);
	samples = calloc(want + 1, sizeof(double));
	epfd = epoll_create1(0);
	if (!ag || !sent_ms || !samples || epfd < 0)
		die("out of memory");
	for (int i = 0; i < o.agents; i++) {
		ag[i].idx = i;
		start(&ag[i], ctx);
	}
	t0 = now_ms();
	deadline = t0 + o.timeout_s * 1e3;
	if (o.expect_refused)
		return expect_refused(deadline);
	while (now_ms() < deadline) {
		struct epoll_event ev[256];
		double now;
		int n = epoll_wait(epfd, ev, 256, 2);

		for (int i = 0; i < n; i++)
			on_event(ev[i].data.ptr);
		now = now_ms();
		for (int i = 0; o.stats_ms > 0 && i < o.agents; i++) {
			struct agent *a = &ag[i];

			if (a->ready && !a->dead && now >= a->stats_ms_next) {
				a->stats_ms_next =
				    (uint64_t)now + (uint64_t)o.stats_ms;
				send_stats(a);
				flush(a);
			}
		}
		if (o.send_invalid && !sent && !ag[0].dead &&
		    count(true) == (size_t)o.agents && next_punch == 0) {
			send_invalid(&ag[0]);
			next_punch = now + 200; /* let them be refused first */
		}
		/* Punches start once every agent holds its snapshot. */
		while (sent < o.punches && !ag[0].dead &&
		       count(true) == (size_t)o.agents && now >= next_punch) {
			send_punch(&ag[0], sent++);
			next_punch =
			    (next_punch ? next_punch : now) + 1e3 / o.rate;
		}
		if (n_samples >= want && sent == o.punches && !done_at)
			done_at = now;
		if (done_at && now >= done_at + o.hold_s * 1e3)
			break;
	}
	qsort(samples, n_samples, sizeof(double), cmp);
	{
		double med = n_samples ? samples[n_samples / 2] : -1;
		double p99 = n_samples ? samples[(n_samples * 99) / 100 -
						 ((n_samples * 99) % 100 == 0 &&
						  n_samples > 1)]
				       : -1;
		size_t conn = count(true);

		if (o.json)
			printf("{\"agents\":%d,\"agents_connected\":%zu,"
			       "\"punches_sent\":%d,\"samples\":%zu,"
			       "\"samples_expected\":%zu,"
			       "\"punch_sync_median_ms\":%.3f,"
			       "\"punch_sync_p99_ms\":%.3f,"
			       "\"order_errors\":%zu,\"refused\":%zu,"
			       "\"unexpected_punches\":%zu}\n",
			       o.agents, conn, sent, n_samples, want, med, p99,
			       order_errors, refused, unexpected);
		else
			printf("agents_connected %zu\npunches_sent %d\n"
			       "samples %zu of %zu\npunch_sync_median_ms %.3f\n"
			       "punch_sync_p99_ms %.3f\norder_errors %zu\n",
			       conn, sent, n_samples, want, med, p99,
			       order_errors);
		return conn == (size_t)o.agents && n_samples == want &&
			       !order_errors
			   ? 0
			   : 1;
	}
}
