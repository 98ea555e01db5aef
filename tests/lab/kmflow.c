// SPDX-License-Identifier: GPL-2.0-only
/*
 * kmflow: a UDP flow with sequence numbers, to see loss end to end.
 *
 *   kmflow echo --bind ADDR:PORT
 *   kmflow client --to ADDR:PORT [--bind ADDR[:PORT]] [--rate PPS]
 *                 [--duration S] [--grace MS] [--size BYTES]
 *
 * The client sends --rate datagrams per second for --duration seconds (or
 * until SIGINT/SIGTERM), the echo server sends each one back, and the client
 * waits --grace ms for stragglers, then prints one JSON line:
 *   {"sent":N,"received":N,"lost":N,"duplicate":N,"reordered":N,
 *    "max_gap_ms":N}
 * "lost" counts sequence numbers never echoed; "max_gap_ms" is the longest
 * silence between two replies while sending (a restart that stalls shows
 * here). Exit status 0 when the run completed, whatever the loss (the test
 * decides what is acceptable), 1 when it failed, 2 for a bad command line.
 *
 * Like a game server, the echo side answers only datagrams of its own
 * protocol (the kmflow header) and ignores the rest, so a flood of junk
 * costs it nothing and validates no spoofed source at the edge.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define KMFLOW_MAGIC 0x4b4d464cU /* "KMFL" */
#define KMFLOW_MAX_SIZE 1400

struct kmflow_hdr {
	uint32_t magic; /* network order */
	uint32_t run;	/* random per client run: stale echoes are ignored */
	uint64_t seq;	/* host order of the client; only it reads it back */
};

struct kmflow_opts {
	const char *to;
	const char *bind;
	unsigned int rate;
	double duration;
	unsigned int grace_ms;
	unsigned int size;
};

struct kmflow_result {
	uint64_t sent, received, duplicate, reordered, max_gap_ns;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* "A.B.C.D:PORT"; the port may be omitted when port_optional. */
static int parse_addr(const char *s, struct sockaddr_in *sa, int port_optional)
{
	char buf[64], *colon, *end;
	unsigned long port = 0;

	if (strlen(s) >= sizeof(buf))
		return km_log_errno(-EINVAL, "address too long: '%s'", s);
	strcpy(buf, s);
	colon = strchr(buf, ':');
	if (colon) {
		*colon = '\0';
		errno = 0;
		port = strtoul(colon + 1, &end, 10);
		if (errno || *end || colon[1] == '\0' || port > 65535)
			return km_log_errno(-EINVAL, "bad port in '%s'", s);
	} else if (!port_optional) {
		return km_log_errno(-EINVAL, "'%s': expected ADDR:PORT", s);
	}
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, buf, &sa->sin_addr) != 1)
		return km_log_errno(-EINVAL, "bad IPv4 address in '%s'", s);
	return 0;
}

static int open_socket(const char *bind_to, int port_optional)
{
	struct sockaddr_in sa;
	int fd, one = 1, r;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return km_log_errno(-errno, "socket: %m");
	if (!bind_to)
		return fd;
	r = parse_addr(bind_to, &sa, port_optional);
	if (r)
		goto fail;
	/* Binding a service address that only routes to this host. */
	setsockopt(fd, SOL_IP, IP_FREEBIND, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		r = km_log_errno(-errno, "bind %s: %m", bind_to);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return r;
}

static int run_echo(const char *bind_to)
{
	unsigned char buf[65536];
	struct sockaddr_in from;
	socklen_t flen;
	uint64_t echoed = 0, ignored = 0;
	int rcvbuf = 4 << 20;
	uint32_t magic;
	ssize_t n;
	int fd;

	if (!bind_to)
		return km_log_errno(-EINVAL, "echo needs --bind ADDR:PORT");
	fd = open_socket(bind_to, 0);
	if (fd < 0)
		return fd;
	/* Like a game server: room for bursts (junk the edge let through
	 * within its budget arrives in bursts). */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	km_info("echo on %s", bind_to);
	while (!stop_requested) {
		flen = sizeof(from);
		n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from,
			     &flen);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return km_log_errno(-errno, "recvfrom: %m");
		}
		memcpy(&magic, buf, sizeof(magic));
		if ((size_t)n < sizeof(struct kmflow_hdr) ||
		    magic != htonl(KMFLOW_MAGIC)) {
			ignored++;
			continue;
		}
		/* A full socket buffer or an unreachable peer loses one echo;
		 * the client counts it. */
		if (sendto(fd, buf, n, 0, (struct sockaddr *)&from, flen) == n)
			echoed++;
	}
	km_info("echo on %s: %llu datagrams echoed, %llu ignored", bind_to,
		(unsigned long long)echoed, (unsigned long long)ignored);
	close(fd);
	return 0;
}

struct seen {
	unsigned char *bits; /* one byte per seq: 0 unseen, else seen */
	uint64_t cap;
};

static int seen_grow(struct seen *s, uint64_t seq)
{
	uint64_t cap = s->cap ? s->cap : 4096;
	unsigned char *p;

	while (cap <= seq)
		cap *= 2;
	if (cap == s->cap)
		return 0;
	p = realloc(s->bits, cap);
	if (!p)
		return -ENOMEM;
	memset(p + s->cap, 0, cap - s->cap);
	s->bits = p;
	s->cap = cap;
	return 0;
}

static void client_receive(int fd, uint32_t run, struct seen *seen,
			   struct kmflow_result *res, uint64_t *last_rx,
			   uint64_t *highest, int sending)
{
	unsigned char buf[KMFLOW_MAX_SIZE];
	struct kmflow_hdr h;
	uint64_t t;
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		if ((size_t)n < sizeof(h))
			continue;
		memcpy(&h, buf, sizeof(h));
		if (h.magic != htonl(KMFLOW_MAGIC) || h.run != run ||
		    h.seq >= res->sent)
			continue;
		if (seen->bits[h.seq]) {
			res->duplicate++;
			continue;
		}
		seen->bits[h.seq] = 1;
		res->received++;
		if (h.seq < *highest)
			res->reordered++;
		else
			*highest = h.seq;
		t = now_ns();
		if (sending && *last_rx && t - *last_rx > res->max_gap_ns)
			res->max_gap_ns = t - *last_rx;
		*last_rx = t;
	}
}

static int client_send(int fd, uint32_t run, struct seen *seen,
		       struct kmflow_result *res, unsigned int size)
{
	unsigned char buf[KMFLOW_MAX_SIZE] = {0};
	struct kmflow_hdr h = {
	    .magic = htonl(KMFLOW_MAGIC),
	    .run = run,
	    .seq = res->sent,
	};

	if (seen_grow(seen, res->sent))
		return km_log_errno(-ENOMEM, "out of memory");
	memcpy(buf, &h, sizeof(h));
	/* A send error (no route yet, ICMP unreachable reported on the
	 * socket) is a lost datagram, as on the wire. */
	if (send(fd, buf, size, 0) < 0 && errno != ECONNREFUSED &&
	    errno != EHOSTUNREACH && errno != ENETUNREACH && errno != EAGAIN)
		return km_log_errno(-errno, "send: %m");
	res->sent++;
	return 0;
}

static int run_client(const struct kmflow_opts *o)
{
	uint64_t period, start, next, end, grace_end, last_rx = 0, highest = 0;
	struct kmflow_result res = {0};
	struct seen seen = {0};
	struct sockaddr_in to;
	struct pollfd pfd;
	uint32_t run;
	int fd, r, timeout_ms;

	if (!o->to)
		return km_log_errno(-EINVAL, "client needs --to ADDR:PORT");
	if (o->rate == 0 || o->rate > 100000)
		return km_log_errno(-EINVAL, "--rate must be 1..100000");
	if (o->size < sizeof(struct kmflow_hdr) || o->size > KMFLOW_MAX_SIZE)
		return km_log_errno(-EINVAL, "--size must be %zu..%d",
				    sizeof(struct kmflow_hdr), KMFLOW_MAX_SIZE);
	r = parse_addr(o->to, &to, 0);
	if (r)
		return r;
	fd = open_socket(o->bind, 1);
	if (fd < 0)
		return fd;
	if (connect(fd, (struct sockaddr *)&to, sizeof(to))) {
		r = km_log_errno(-errno, "connect %s: %m", o->to);
		goto out;
	}
	if (getrandom(&run, sizeof(run), 0) != sizeof(run))
		run = (uint32_t)now_ns();

	period = 1000000000ULL / o->rate;
	start = next = now_ns();
	end = start + (uint64_t)(o->duration * 1e9);
	pfd = (struct pollfd){.fd = fd, .events = POLLIN};
	while (!stop_requested && now_ns() < end) {
		uint64_t t = now_ns();

		if (t >= next) {
			r = client_send(fd, run, &seen, &res, o->size);
			if (r)
				goto out;
			next += period;
			continue;
		}
		timeout_ms = (int)((next - t) / 1000000);
		if (poll(&pfd, 1, timeout_ms) > 0)
			client_receive(fd, run, &seen, &res, &last_rx, &highest,
				       1);
	}
	grace_end = now_ns() + (uint64_t)o->grace_ms * 1000000ULL;
	while (res.received < res.sent) {
		uint64_t t = now_ns();

		if (t >= grace_end)
			break;
		if (poll(&pfd, 1, (int)((grace_end - t) / 1000000) + 1) > 0)
			client_receive(fd, run, &seen, &res, &last_rx, &highest,
				       0);
	}
	printf("{\"sent\":%llu,\"received\":%llu,\"lost\":%llu,"
	       "\"duplicate\":%llu,\"reordered\":%llu,\"max_gap_ms\":%llu}\n",
	       (unsigned long long)res.sent, (unsigned long long)res.received,
	       (unsigned long long)(res.sent - res.received),
	       (unsigned long long)res.duplicate,
	       (unsigned long long)res.reordered,
	       (unsigned long long)(res.max_gap_ns / 1000000));
	fflush(stdout);
	r = 0;
out:
	free(seen.bits);
	close(fd);
	return r;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: kmflow echo --bind ADDR:PORT\n"
		   "       kmflow client --to ADDR:PORT [options]\n"
		   "  --to ADDR:PORT     echo server to send to\n"
		   "  --bind ADDR[:PORT] local address (echo: required)\n"
		   "  --rate PPS         datagrams per second (default 100)\n"
		   "  --duration S       seconds to send (default 5; stops\n"
		   "                     earlier on SIGINT/SIGTERM)\n"
		   "  --grace MS         wait for late echoes (default 1000)\n"
		   "  --size BYTES       datagram size (default 64)\n");
}

static int parse_uint(const char *name, const char *s, unsigned int *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || !*s || v > 0xffffffffUL)
		return km_log_errno(-EINVAL, "%s: not a number: '%s'", name, s);
	*out = (unsigned int)v;
	return 0;
}

static int parse_opts(int argc, char **argv, struct kmflow_opts *o)
{
	static const struct option longopts[] = {
	    {"to", required_argument, NULL, 't'},
	    {"bind", required_argument, NULL, 'b'},
	    {"rate", required_argument, NULL, 'r'},
	    {"duration", required_argument, NULL, 'd'},
	    {"grace", required_argument, NULL, 'g'},
	    {"size", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	char *end;
	int c, r = 0;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			o->to = optarg;
			break;
		case 'b':
			o->bind = optarg;
			break;
		case 'r':
			r = parse_uint("--rate", optarg, &o->rate);
			break;
		case 'g':
			r = parse_uint("--grace", optarg, &o->grace_ms);
			break;
		case 's':
			r = parse_uint("--size", optarg, &o->size);
			break;
		case 'd':
			o->duration = strtod(optarg, &end);
			if (*end || !*optarg || !(o->duration > 0) ||
			    o->duration > 3600)
				r = km_log_errno(
				    -EINVAL,
				    "--duration: '%s' is not 0..3600 s",
				    optarg);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
		if (r)
			return r;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct kmflow_opts o = {
	    .rate = 100,
	    .duration = 5,
	    .grace_ms = 1000,
	    .size = 64,
	};
	struct sigaction sa = {.sa_handler = on_signal};
	const char *mode;
	int r;

	km_log_init("kmflow", LOG_INFO);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	mode = argv[1];
	r = parse_opts(argc - 1, argv + 1, &o);
	if (r)
		return 2;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (!strcmp(mode, "echo"))
		r = run_echo(o.bind);
	else if (!strcmp(mode, "client"))
		r = run_client(&o);
	else {
		km_err("unknown mode '%s' (echo, client)", mode);
		usage(stderr);
		return 2;
	}
	/* 2: the command line was wrong (every -EINVAL comes from checking
	 * it); 1: the run failed. */
	return r == -EINVAL ? 2 : r ? 1 : 0;
}
