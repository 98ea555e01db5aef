// SPDX-License-Identifier: GPL-2.0-only
/*
 * kmpeer: an agent-side peer of the controller that misbehaves on purpose,
 * for the lab's TLS and bad-input tests.
 *
 *   kmpeer --connect ADDR:PORT --edge-id ID --mode MODE
 *          [--ca FILE --cert FILE --key FILE --server-name NAME | --plain]
 *
 * Connects (TLS 1.3 with the given certificate, or plain TCP), says Hello,
 * waits for the snapshot and acknowledges it, then per MODE:
 *   hello            nothing more
 *   truncated        a frame header announcing 100 bytes, 10 of them, EOF
 *   huge             a length prefix of 0xffffffff (4 GiB)
 *   random           a frame of 64 random bytes (not an Envelope)
 *   prefix-len       BlockAdded with prefix_len 40
 *   port0            PortPunchLearned with service port 0
 *   enum             PortPunchLearned with protocol 99
 * and then (every mode but truncated and huge) a Ping, to see whether the
 * session survived. Prints one JSON object of what happened:
 *   {"handshake": "ok" | "<reason>", "snapshot": bool, "sent": MODE,
 *    "pong": bool, "closed": bool}
 * Exit status 0 when it could report, 1 on a usage or local error.
 * Every wait is bounded (3 s).
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "frame.h"
#include "log.h"
#include "tls.h"

struct peer {
	int fd;
	SSL *ssl;
	struct km_frame_reader rd;
	uint64_t seq;
	bool closed;
};

static int peer_write(struct peer *p, const void *buf, size_t len)
{
	const uint8_t *b = buf;
	size_t off = 0;

	while (off < len) {
		ssize_t n;

		if (p->ssl) {
			int w = SSL_write(p->ssl, b + off, len - off);

			if (w <= 0)
				return -EPIPE;
			n = w;
		} else {
			n = send(p->fd, b + off, len - off, MSG_NOSIGNAL);
			if (n < 0)
				return -errno;
		}
		off += n;
	}
	return 0;
}

static int peer_send(struct peer *p, KmEnvelope *env)
{
	uint8_t *buf;
	size_t len;
	int r;

	env->seq = ++p->seq;
	env->has_seq = true;
	r = km_frame_encode(env, 0, &buf, &len);
	if (r)
		return r;
	r = peer_write(p, buf, len);
	free(buf);
	return r;
}

/* The next envelope from the controller, or NULL on close/timeout/error
 * (p->closed set on close or error). */
static KmEnvelope *peer_next(struct peer *p)
{
	static uint8_t buf[16384];
	static size_t have, pos;

	for (;;) {
		const uint8_t *frame;
		const char *why = NULL;
		uint32_t flen;
		size_t used;
		KmEnvelope *env;
		ssize_t n;
		int r;

		if (pos < have) {
			r = km_frame_feed(&p->rd, buf + pos, have - pos, &used,
					  &frame, &flen, &why);
			if (r < 0) {
				p->closed = true;
				return NULL;
			}
			pos += used;
			if (r == 1) {
				if (km_envelope_decode(frame, flen, &env, &why))
					continue;
				return env;
			}
			continue;
		}
		if (p->ssl) {
			n = SSL_read(p->ssl, buf, sizeof(buf));
			if (n <= 0) {
				int e = SSL_get_error(p->ssl, n);

				if (e == SSL_ERROR_SYSCALL &&
				    (errno == EAGAIN || errno == EWOULDBLOCK))
					return NULL;
				p->closed = true;
				return NULL;
			}
		} else {
			n = recv(p->fd, buf, sizeof(buf), 0);
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				return NULL;
			if (n <= 0) {
				p->closed = true;
				return NULL;
			}
		}
		have = n;
		pos = 0;
	}
}

/* Wait for a message of kind want; acknowledges snapshots and deltas on
 * the way. */
static bool peer_wait_for(struct peer *p, int want, uint64_t nonce)
{
	KmEnvelope *env;

	while (!p->closed && (env = peer_next(p))) {
		KmEnvelope ack_env = KILIMANJARO__V1__ENVELOPE__INIT;
		Kilimanjaro__V1__Ack ack = KILIMANJARO__V1__ACK__INIT;
		bool hit = (int)env->body_case == want;

		if (hit && want == KILIMANJARO__V1__ENVELOPE__BODY_PONG)
			hit = env->pong->nonce == nonce;
		ack.ok = true;
		if (env->body_case == KILIMANJARO__V1__ENVELOPE__BODY_SNAPSHOT)
			ack.version = env->snapshot->version;
		else if (env->body_case ==
			 KILIMANJARO__V1__ENVELOPE__BODY_DELTA)
			ack.version = env->delta->version;
		if (ack.version) {
			ack_env.body_case = KILIMANJARO__V1__ENVELOPE__BODY_ACK;
			ack_env.ack = &ack;
			peer_send(p, &ack_env);
		}
		km_envelope_free(env);
		if (hit)
			return true;
	}
	return false;
}

/* Wait until the controller closes the session (or 3 s pass). */
static void peer_wait_close(struct peer *p)
{
	KmEnvelope *env;

	while (!p->closed && (env = peer_next(p)))
		km_envelope_free(env);
}

static int send_mode(struct peer *p, const char *mode)
{
	KmEnvelope env = KILIMANJARO__V1__ENVELOPE__INIT;
	Kilimanjaro__V1__BlockAdded b = KILIMANJARO__V1__BLOCK_ADDED__INIT;
	Kilimanjaro__V1__PortPunchLearned l =
	    KILIMANJARO__V1__PORT_PUNCH_LEARNED__INIT;
	Kilimanjaro__V1__PortPunch pp = KILIMANJARO__V1__PORT_PUNCH__INIT;
	uint8_t raw[68];

	pp.proto = KILIMANJARO__V1__PROTO__PROTO_UDP;
	pp.service_addr = 0xC6120A01;
	pp.service_port = 27015;
	pp.remote_addr = 0xC6120702;
	pp.remote_port = 6100;
	pp.backend = 0xC6120202;
	l.punch = &pp;

	if (!strcmp(mode, "hello"))
		return 0;
	if (!strcmp(mode, "truncated")) {
		memset(raw, 0, sizeof(raw));
		raw[3] = 100;
		return peer_write(p, raw, 4 + 10);
	}
	if (!strcmp(mode, "huge")) {
		memset(raw, 0xff, 4);
		memset(raw + 4, 0, 16);
		return peer_write(p, raw, 20);
	}
	if (!strcmp(mode, "random")) {
		FILE *f = fopen("/dev/urandom", "r");

		if (!f || fread(raw + 4, 1, 64, f) != 64) {
			if (f)
				fclose(f);
			return -EIO;
		}
		fclose(f);
		raw[0] = raw[1] = raw[2] = 0;
		raw[3] = 64;
		return peer_write(p, raw, 68);
	}
	if (!strcmp(mode, "prefix-len")) {
		b.addr = 0xC6120602;
		b.has_prefix_len = true;
		b.prefix_len = 40;
		env.body_case = KILIMANJARO__V1__ENVELOPE__BODY_BLOCK_ADDED;
		env.block_added = &b;
		return peer_send(p, &env);
	}
	if (!strcmp(mode, "port0"))
		pp.service_port = 0;
	else if (!strcmp(mode, "enum"))
		pp.proto = 99;
	else
		return -EINVAL;
	env.body_case = KILIMANJARO__V1__ENVELOPE__BODY_PUNCH_LEARNED;
	env.punch_learned = &l;
	return peer_send(p, &env);
}

static int parse_hostport(const char *v, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(v, ':');
	char *end;
	unsigned long port;

	if (!colon || (size_t)(colon - v) >= sizeof(host))
		return -EINVAL;
	memcpy(host, v, colon - v);
	host[colon - v] = 0;
	port = strtoul(colon + 1, &end, 10);
	if (*end || !port || port > 65535 ||
	    inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return -EINVAL;
	sa->sin_family = AF_INET;
	sa->sin_port = htons(port);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"connect", required_argument, NULL, 'c'},
	    {"edge-id", required_argument, NULL, 'e'},
	    {"mode", required_argument, NULL, 'm'},
	    {"ca", required_argument, NULL, 'a'},
	    {"cert", required_argument, NULL, 't'},
	    {"key", required_argument, NULL, 'k'},
	    {"server-name", required_argument, NULL, 's'},
	    {"plain", no_argument, NULL, 'p'},
	    {},
	};
	const char *ca = NULL, *cert = NULL, *key = NULL, *sni = NULL;
	const char *id = NULL, *mode = "hello", *to = NULL, *hs = "ok";
	struct timeval tv = {.tv_sec = 3};
	struct peer p = {.fd = -1};
	struct sockaddr_in sa;
	bool plain = false, snapshot = false, pong = false;
	SSL_CTX *ctx = NULL;
	int c, r;

	km_log_init("kmpeer", LOG_WARNING);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			to = optarg;
			break;
		case 'e':
			id = optarg;
			break;
		case 'm':
			mode = optarg;
			break;
		case 'a':
			ca = optarg;
			break;
		case 't':
			cert = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 's':
			sni = optarg;
			break;
		case 'p':
			plain = true;
			break;
		default:
			return 1;
		}
	}
	if (!to || !id || parse_hostport(to, &sa) ||
	    (!plain && (!ca || !cert || !key))) {
		fprintf(stderr,
			"usage: kmpeer --connect ADDR:PORT --edge-id ID "
			"--mode MODE [--ca F --cert F --key F "
			"[--server-name N] | --plain]\n");
		return 1;
	}
	if (!plain && km_tls_ctx_new(&ctx, KM_TLS_CLIENT, ca, cert, key))
		return 1;

	p.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (p.fd < 0)
		return 1;
	setsockopt(p.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(p.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	km_frame_reader_init(&p.rd, 0);
	if (connect(p.fd, (struct sockaddr *)&sa, sizeof(sa))) {
		hs = "connect refused";
		p.closed = true;
		goto report;
	}
	if (ctx) {
		p.ssl = SSL_new(ctx);
		if (!p.ssl || !SSL_set_fd(p.ssl, p.fd) ||
		    (sni && km_tls_expect_host(p.ssl, sni))) {
			hs = "local TLS setup failed";
			p.closed = true;
			goto report;
		}
		if (SSL_connect(p.ssl) != 1) {
			hs = km_tls_error(p.ssl);
			p.closed = true;
			goto report;
		}
	}
	{
		KmEnvelope env = KILIMANJARO__V1__ENVELOPE__INIT;
		Kilimanjaro__V1__Hello h = KILIMANJARO__V1__HELLO__INIT;

		h.edge_id = (char *)id;
		h.software_version = "kmpeer";
		env.body_case = KILIMANJARO__V1__ENVELOPE__BODY_HELLO;
		env.hello = &h;
		if (peer_send(&p, &env)) {
			p.closed = true;
			goto report;
		}
	}
	/* With TLS 1.3 a refused client certificate shows here, as an alert
	 * on the first read. */
	snapshot =
	    peer_wait_for(&p, KILIMANJARO__V1__ENVELOPE__BODY_SNAPSHOT, 0);
	if (!snapshot)
		goto report;
	r = send_mode(&p, mode);
	if (r == -EINVAL) {
		fprintf(stderr, "kmpeer: unknown --mode %s\n", mode);
		return 1;
	}
	if (!strcmp(mode, "truncated")) {
		/* EOF inside the frame. */
		if (p.ssl)
			SSL_shutdown(p.ssl);
		shutdown(p.fd, SHUT_WR);
		peer_wait_close(&p);
	} else if (!strcmp(mode, "huge")) {
		peer_wait_close(&p);
	} else {
		KmEnvelope env = KILIMANJARO__V1__ENVELOPE__INIT;
		Kilimanjaro__V1__Ping ping = KILIMANJARO__V1__PING__INIT;

		ping.nonce = 0x6b6d7065;
		env.body_case = KILIMANJARO__V1__ENVELOPE__BODY_PING;
		env.ping = &ping;
		if (!peer_send(&p, &env))
			pong = peer_wait_for(
			    &p, KILIMANJARO__V1__ENVELOPE__BODY_PONG,
			    ping.nonce);
	}
report:
	printf("{\"handshake\":\"");
	for (const char *s = hs; *s; s++)
		if (*s != '"' && *s != '\\' && (unsigned char)*s >= 0x20)
			putchar(*s);
	printf(
	    "\",\"snapshot\":%s,\"sent\":\"%s\",\"pong\":%s,\"closed\":%s}\n",
	    snapshot ? "true" : "false", snapshot ? mode : "",
	    pong ? "true" : "false", p.closed ? "true" : "false");
	if (p.ssl)
		SSL_free(p.ssl);
	if (p.fd >= 0)
		close(p.fd);
	km_frame_reader_free(&p.rd);
	if (ctx)
		km_tls_ctx_free(ctx);
	return 0;
}
