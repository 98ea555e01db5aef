// SPDX-License-Identifier: GPL-2.0-only
/*
 * ctl-standin: a minimal controller for the agent's lab test. A real peer
 * (TLS 1.3 server with mutual certificates, or plain TCP, lib/frame and
 * lib/tls like the real controller), scripted from stdin so the test can
 * send exactly the good and bad messages it wants:
 *
 *   snapshot V [svc=P:A:PORT:BACKEND]... [allow=A/L]... [deny=A/L]...
 *              [block=A]... [punch=P:SA:SP:RA:RP:B]... [key=HEX32 prev=HEX32]
 *   delta V BASE [add_svc=..] [del_svc=P:A:PORT] [add_allow=..] [del_allow=..]
 *                [add_deny=..] [del_deny=..] [add_block=A] [del_block=A]
 *                [add_punch=..]
 *   ping N | raw HEX | junk N | close
 *   mute (stop answering pings: the agent must find the peer dead)
 *
 * P is udp, tcp or a number (sent as is: unknown enums are the point).
 * Nothing is validated here: the test sends invalid values on purpose.
 * Everything received is printed as one JSON line on stdout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "log.h"
#include "pbcheck.h"
#include "tls.h"

#define MAXN 64

static SSL_CTX *ctx;
static SSL *ssl;
static int cfd = -1;
static int muted;

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static int wr(const void *p, size_t n)
{
	if (ssl)
		return SSL_write(ssl, p, (int)n) == (int)n ? 0 : -EIO;
	while (n) {
		ssize_t w = send(cfd, p, n, MSG_NOSIGNAL);

		if (w <= 0)
			return -EIO;
		p = (const char *)p + w;
		n -= (size_t)w;
	}
	return 0;
}

static void send_env(KmEnvelope *env)
{
	uint8_t *f;
	size_t n;

	if (cfd < 0) {
		out("{\"t\":\"error\",\"why\":\"not connected\"}");
		return;
	}
	if (km_frame_encode(env, 0, &f, &n))
		return;
	if (wr(f, n))
		out("{\"t\":\"error\",\"why\":\"send failed\"}");
	free(f);
}

static uint32_t addr(const char *s)
{
	struct in_addr a = {0};

	inet_pton(AF_INET, s, &a);
	return ntohl(a.s_addr);
}

static int proto(const char *s)
{
	if (!strcmp(s, "udp"))
		return 17;
	if (!strcmp(s, "tcp"))
		return 6;
	return atoi(s);
}

/* Splits s at ':' into at most n fields. */
static int split(char *s, char **f, int n)
{
	int i = 0;

	while (i < n && s) {
		f[i++] = s;
		s = strchr(s, ':');
		if (s)
			*s++ = 0;
	}
	return i;
}

struct msgs {
	Kilimanjaro__V1__Service svc[MAXN], *svcp[MAXN];
	Kilimanjaro__V1__ServiceKey key[MAXN], *keyp[MAXN];
	Kilimanjaro__V1__Prefix pfx[4][MAXN], *pfxp[4][MAXN];
	Kilimanjaro__V1__Block blk[MAXN], *blkp[MAXN];
	uint32_t delblk[MAXN];
	Kilimanjaro__V1__PortPunch pp[MAXN], *ppp[MAXN];
	size_t nsvc, nkey, npfx[4], nblk, ndelblk, npp;
	Kilimanjaro__V1__A2sKey a2s;
	uint8_t kb[16], pb[16];
	int has_key;
};

static void hex16(const char *s, uint8_t *b)
{
	for (int i = 0; i < 16 && s[2 * i] && s[2 * i + 1]; i++)
		sscanf(s + 2 * i, "%2hhx", &b[i]);
}

static void parse_args(struct msgs *m, char *tok)
{
	char *v = strchr(tok, '='), *f[6];

	if (!v)
		return;
	*v++ = 0;
	if (!strcmp(tok, "svc") || !strcmp(tok, "add_svc")) {
		Kilimanjaro__V1__Service *s = &m->svc[m->nsvc];
		Kilimanjaro__V1__ServiceKey *k = &m->key[m->nkey++];

		if (split(v, f, 4) < 4)
			return;
		kilimanjaro__v1__service__init(s);
		kilimanjaro__v1__service_key__init(k);
		k->proto = proto(f[0]);
		k->addr = addr(f[1]);
		k->port = (uint32_t)strtoul(f[2], NULL, 10);
		s->key = k;
		s->backend = addr(f[3]);
		m->svcp[m->nsvc++] = s;
	} else if (!strcmp(tok, "del_svc")) {
		Kilimanjaro__V1__ServiceKey *k = &m->key[m->nkey++];

		if (split(v, f, 3) < 3)
			return;
		kilimanjaro__v1__service_key__init(k);
		k->proto = proto(f[0]);
		k->addr = addr(f[1]);
		k->port = (uint32_t)strtoul(f[2], NULL, 10);
		m->keyp[m->nkey - 1] = k;
	} else if (strstr(tok, "allow") || strstr(tok, "deny")) {
		int l = (strstr(tok, "deny") ? 2 : 0) + !strncmp(tok, "del", 3);
		Kilimanjaro__V1__Prefix *p = &m->pfx[l][m->npfx[l]];
		char *slash = strchr(v, '/');

		if (!slash)
			return;
		*slash = 0;
		kilimanjaro__v1__prefix__init(p);
		p->addr = addr(v);
		p->len = (uint32_t)strtoul(slash + 1, NULL, 10);
		m->pfxp[l][m->npfx[l]++] = p;
	} else if (!strcmp(tok, "block") || !strcmp(tok, "add_block")) {
		kilimanjaro__v1__block__init(&m->blk[m->nblk]);
		m->blk[m->nblk].addr = addr(v);
		m->blkp[m->nblk] = &m->blk[m->nblk];
		m->nblk++;
	} else if (!strcmp(tok, "del_block")) {
		m->delblk[m->ndelblk++] = addr(v);
	} else if (!strcmp(tok, "punch") || !strcmp(tok, "add_punch")) {
		Kilimanjaro__V1__PortPunch *p = &m->pp[m->npp];

		if (split(v, f, 6) < 6)
			return;
		kilimanjaro__v1__port_punch__init(p);
		p->proto = proto(f[0]);
		p->service_addr = addr(f[1]);
		p->service_port = (uint32_t)strtoul(f[2], NULL, 10);
		p->remote_addr = addr(f[3]);
		p->remote_port = (uint32_t)strtoul(f[4], NULL, 10);
		p->backend = addr(f[5]);
		m->ppp[m->npp++] = p;
	} else if (!strcmp(tok, "key")) {
		kilimanjaro__v1__a2s_key__init(&m->a2s);
		hex16(v, m->kb);
		m->a2s.key_id = 1;
		m->a2s.key.data = m->kb;
		m->a2s.key.len = 16;
		m->has_key = 1;
	} else if (!strcmp(tok, "prev")) {
		hex16(v, m->pb);
		m->a2s.has_prev_key = 1;
		m->a2s.prev_key.data = m->pb;
		m->a2s.prev_key.len = 16;
	}
}

static void cmd_config(char *line, int delta)
{
	static struct msgs m;
	Kilimanjaro__V1__ConfigSnapshot s =
	    KILIMANJARO__V1__CONFIG_SNAPSHOT__INIT;
	Kilimanjaro__V1__ConfigDelta d = KILIMANJARO__V1__CONFIG_DELTA__INIT;
	KmEnvelope env = KILIMANJARO__V1__ENVELOPE__INIT;
	char *tok, *save;
	uint64_t v = 0, base = 0;
	size_t nk = 0;

	memset(&m, 0, sizeof(m));
	strtok_r(line, " ", &save);
	tok = strtok_r(NULL, " ", &save);
	if (tok)
		v = strtoull(tok, NULL, 10);
	if (delta && (tok = strtok_r(NULL, " ", &save)))
		base = strtoull(tok, NULL, 10);
	while ((tok = strtok_r(NULL, " ", &save)))
		parse_args(&m, tok);
	for (size_t i = 0; i < m.nkey; i++)
		if (m.keyp[i])
			m.keyp[nk++] = m.keyp[i];
	env.schema = KM_SCHEMA_VERSION;
	if (!delta) {
		s.version = v;
		s.n_services = m.nsvc, s.services = m.svcp;
		s.n_allow = m.npfx[0], s.allow = m.pfxp[0];
		s.n_deny = m.npfx[2], s.deny = m.pfxp[2];
		s.n_blocks = m.nblk, s.blocks = m.blkp;
		s.n_punches = m.npp, s.punches = m.ppp;
		s.a2s_key = m.has_key ? &m.a2s : NULL;
		env.body_case = KILIMANJARO__V1__ENVELOPE__BODY_SNAPSHOT;
		env.snapshot = &s;
	} else {
		d.version = v;
		d.base_version = base;
		d.n_add_services = m.nsvc, d.add_services = m.svcp;
		d.n_del_services = nk, d.del_services = m.keyp;
		d.n_add_allow = m.npfx[0], d.add_allow = m.pfxp[0];
		d.n_del_allow = m.npfx[1], d.del_allow = m.pfxp[1];
		d.n_add_deny = m.npfx[2], d.add_deny = m.pfxp[2];
		d.n_del_deny = m.npfx[3], d.del_deny = m.pfxp[3];
		d.n_add_blocks = m.nblk, d.add_blocks = m.blkp;
		d.n_del_blocks = m.ndelblk, d.del_blocks = m.delblk;
		d.n_add_punches = m.npp, d.add_punches = m.ppp;
		d.a2s_key = m.has_key ? &m.a2s : NULL;
		env.body_case = KILIMANJARO__V1__ENVELOPE__BODY_DELTA;
		env.delta = &d;
	}
	send_env(&env);
}

static void close_client(const char *why)
{
	if (cfd < 0)
		return;
	if (ssl) {
		SSL_shutdown(ssl);
		SSL_free(ssl);
		ssl = NULL;
	}
	close(cfd);
	cfd = -1;
	out("{\"t\":\"closed\",\"why\":\"%s\"}", why);
}

static void command(char *line)
{
	uint8_t buf[4096];
	size_t n;

	line[strcspn(line, "\n")] = 0;
	if (!strncmp(line, "snapshot ", 9)) {
		cmd_config(line, 0);
	} else if (!strncmp(line, "delta ", 6)) {
		cmd_config(line, 1);
	} else if (!strncmp(line, "ping ", 5)) {
		Kilimanjaro__V1__Ping p = KILIMANJARO__V1__PING__INIT;
		KmEnvelope env = KILIMANJARO__V1__ENVELOPE__INIT;

		p.nonce = strtoull(line + 5, NULL, 10);
		env.schema = 1;
		env.body_case = KILIMANJARO__V1__ENVELOPE__BODY_PING;
		env.ping = &p;
		send_env(&env);
	} else if (!strncmp(line, "raw ", 4)) {
		for (n = 0; n < sizeof(buf) && line[4 + 2 * n] &&
			    sscanf(line + 4 + 2 * n, "%2hhx", &buf[n]) == 1;
		     n++)
			;
		if (cfd >= 0)
			wr(buf, n);
	} else if (!strncmp(line, "junk ", 5)) {
		n = strtoul(line + 5, NULL, 10);
		if (n > sizeof(buf) - 4)
			n = sizeof(buf) - 4;
		buf[0] = buf[1] = 0;
		buf[2] = (uint8_t)(n >> 8);
		buf[3] = (uint8_t)n;
		if (getrandom(buf + 4, n, 0) < 0)
			return;
		/* Field 1 (schema) as varint would make it decodable. */
		buf[4] = 0xff;
		if (cfd >= 0)
			wr(buf, n + 4);
	} else if (!strcmp(line, "mute")) {
		muted = 1;
	} else if (!strcmp(line, "close")) {
		close_client("closed by the script");
	} else if (line[0]) {
		out("{\"t\":\"error\",\"why\":\"unknown command\"}");
	}
}

static char *ip(uint32_t a, char *b)
{
	struct in_addr x = {htonl(a)};

	return (char *)inet_ntop(AF_INET, &x, b, 16);
}

static void print_env(const KmEnvelope *e)
{
	char why[KM_PB_WHY_LEN], a[16], b[16];
	const char *bad = km_pb_check(e, why, sizeof(why));

	if (bad) {
		out("{\"t\":\"invalid\",\"kind\":\"%s\",\"why\":\"%s\"}",
		    km_envelope_kind(e), bad);
		return;
	}
	switch (e->body_case) {
	case KILIMANJARO__V1__ENVELOPE__BODY_HELLO:
		out("{\"t\":\"hello\",\"edge_id\":\"%s\",\"config_version\":"
		    "%" PRIu64 ",\"interface\":\"%s\"}",
		    e->hello->edge_id, e->hello->config_version,
		    e->hello->interface ? e->hello->interface : "");
		break;
	case KILIMANJARO__V1__ENVELOPE__BODY_ACK:
		out("{\"t\":\"ack\",\"version\":%" PRIu64
		    ",\"ok\":%s,\"error\":\"%s\"}",
		    e->ack->version, e->ack->ok ? "true" : "false",
		    e->ack->error ? e->ack->error : "");
		break;
	case KILIMANJARO__V1__ENVELOPE__BODY_PUNCH_LEARNED: {
		const Kilimanjaro__V1__PortPunch *p = e->punch_learned->punch;

		struct timespec ts;

		/* Arrival time (wall clock, ms): the test measures the
		 * relay latency against the time it started the flow. */
		clock_gettime(CLOCK_REALTIME, &ts);
		out("{\"t\":\"punch\",\"service\":\"%s:%u\",\"remote\":\"%s\","
		    "\"remote_port\":%u,\"ms\":%lld}",
		    ip(p->service_addr, a), p->service_port,
		    ip(p->remote_addr, b), p->remote_port,
		    (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
		break;
	}
	case KILIMANJARO__V1__ENVELOPE__BODY_BLOCK_ADDED:
		out("{\"t\":\"block\",\"addr\":\"%s\"}",
		    ip(e->block_added->addr, a));
		break;
	case KILIMANJARO__V1__ENVELOPE__BODY_STATS: {
		uint64_t fwd = 0;

		for (size_t i = 0; i < e->stats->n_reasons; i++)
			if (!strcmp(e->stats->reasons[i]->reason,
				    "fwd_service"))
				fwd = e->stats->reasons[i]->packets;
		out("{\"t\":\"stats\",\"reasons\":%zu,\"services\":%zu,"
		    "\"fwd_service\":%" PRIu64 "}",
		    e->stats->n_reasons, e->stats->n_services, fwd);
		break;
	}
	case KILIMANJARO__V1__ENVELOPE__BODY_PING: {
		Kilimanjaro__V1__Pong p = KILIMANJARO__V1__PONG__INIT;
		KmEnvelope r = KILIMANJARO__V1__ENVELOPE__INIT;

		if (muted)
			break;
		p.nonce = e->ping->nonce;
		r.schema = 1;
		r.body_case = KILIMANJARO__V1__ENVELOPE__BODY_PONG;
		r.pong = &p;
		send_env(&r);
		break;
	}
	case KILIMANJARO__V1__ENVELOPE__BODY_PONG:
		out("{\"t\":\"pong\",\"nonce\":%" PRIu64 "}", e->pong->nonce);
		break;
	default:
		out("{\"t\":\"%s\"}", km_envelope_kind(e));
	}
}

static void on_readable(struct km_frame_reader *rd)
{
	uint8_t buf[65536];
	const uint8_t *f;
	const char *why = NULL;
	uint32_t fl;
	size_t used, off = 0;
	ssize_t n;
	KmEnvelope *e;

	do {
		n = ssl ? SSL_read(ssl, buf, sizeof(buf))
			: recv(cfd, buf, sizeof(buf), 0);
		if (n <= 0) {
			close_client("peer closed");
			return;
		}
		for (off = 0; off < (size_t)n; off += used) {
			int r = km_frame_feed(rd, buf + off, (size_t)n - off,
					      &used, &f, &fl, &why);

			if (r < 0) {
				close_client("oversized frame");
				return;
			}
			if (r == 1) {
				if (km_envelope_decode(f, fl, &e, &why)) {
					out("{\"t\":\"undecodable\"}");
					continue;
				}
				print_env(e);
				km_envelope_free(e);
			}
		}
	} while (ssl && cfd >= 0 && SSL_pending(ssl));
}

static void on_accept(int lfd, struct km_frame_reader *rd)
{
	struct timeval tv = {5, 0};
	char cn[128] = "";
	int fd = accept(lfd, NULL, NULL);

	if (fd < 0)
		return;
	if (cfd >= 0) {
		close(fd); /* one agent at a time */
		return;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (ctx) {
		ssl = SSL_new(ctx);
		SSL_set_fd(ssl, fd);
		if (SSL_accept(ssl) != 1) {
			out("{\"t\":\"tls_error\",\"why\":\"%s\"}",
			    km_tls_error(ssl));
			SSL_free(ssl);
			ssl = NULL;
			close(fd);
			return;
		}
		km_tls_peer_cn(ssl, cn, sizeof(cn));
	}
	tv.tv_sec = 0;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	cfd = fd;
	km_frame_reader_free(rd);
	km_frame_reader_init(rd, 0);
	muted = 0;
	out("{\"t\":\"conn\",\"cn\":\"%s\",\"tls\":\"%s\"}", cn,
	    ssl ? SSL_get_version(ssl) : "none");
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	struct km_frame_reader rd;
	char line[8192];
	int lfd, one = 1;

	km_log_init("ctl-standin", LOG_WARNING);
	if (argc != 3 && argc != 6) {
		fprintf(stderr, "usage: %s ADDR PORT [CA CERT KEY]\n", argv[0]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (argc == 6 &&
	    km_tls_ctx_new(&ctx, KM_TLS_SERVER, argv[3], argv[4], argv[5]))
		return 1;
	inet_pton(AF_INET, argv[1], &sa.sin_addr);
	sa.sin_port = htons((uint16_t)atoi(argv[2]));
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 4)) {
		perror("bind/listen");
		return 1;
	}
	km_frame_reader_init(&rd, 0);
	out("{\"t\":\"listening\"}");
	for (;;) {
		struct pollfd p[3] = {
		    {0, POLLIN, 0}, {lfd, POLLIN, 0}, {cfd, POLLIN, 0}};

		if (poll(p, cfd >= 0 ? 3 : 2, -1) < 0)
			continue;
		if (p[0].revents) {
			if (!fgets(line, sizeof(line), stdin))
				break;
			command(line);
		}
		if (p[1].revents)
			on_accept(lfd, &rd);
		if (cfd >= 0 && p[2].revents)
			on_readable(&rd);
	}
	close_client("exit");
	km_frame_reader_free(&rd);
	SSL_CTX_free(ctx);
	return 0;
}
