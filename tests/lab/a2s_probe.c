// SPDX-License-Identifier: GPL-2.0-only
/*
 * a2s-probe: an A2S client for the lab that counts what happened to every
 * query, so a test can state "no query lost" precisely.
 *
 *   a2s-probe --to ADDR:PORT [--bind ADDR] [--kind info|player|rules]
 *             [--count N] [--duration S] [--rate QPS] [--timeout MS]
 *             [--attempts N] [--reuse-challenge]
 *             [--expect-players N] [--expect-rules N]
 *
 * A query is one logical question: send the request; an S2C_CHALLENGE
 * reply (41) means "send it again with this challenge" and does not count
 * as a failed attempt (at most 8 of them per query); a split answer
 * (FE FF FF FF) is reassembled by its id. An attempt that sees no answer
 * for --timeout ms (default 250) is retransmitted, up to --attempts
 * (default 4) in all; a query is LOST only when every attempt timed out.
 * An answer that does not parse, or whose players/rules differ from what
 * a2s-fixture generates (--expect-*), counts as bad.
 *
 * Queries run one after another, started --rate per second (0: back to
 * back), until --count queries or --duration seconds. With
 * --reuse-challenge the last challenge received is sent with the next
 * query, as a browser that keeps talking to one server does; otherwise
 * every query starts by asking for one.
 *
 * Prints one JSON line:
 *   {"queries":N,"answered":N,"lost":N,"bad":N,"retransmits":N,
 *    "challenges":N,"split_answers":N,"serials":N,"first_name":"..",
 *    "last_name":"..","max_ms":X}
 * "serials" counts distinct server names seen (with a2s-fixture --mutate
 * each fresh answer has a new one: a cached answer repeats it); the names
 * are those of INFO answers. Exit status 0 when the run completed (the test
 * judges the counts), 1 on a runtime error, 2 for a bad command line.
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
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "a2s_wire.h"
#include "log.h"

#define MAX_CHALLENGE_ROUNDS 8
#define MAX_NAMES 4096

struct probe_opts {
	const char *to, *bind;
	enum a2s_kind kind;
	unsigned int count, rate, timeout_ms, attempts;
	double duration;
	int reuse, expect_players, expect_rules;
};

struct probe_result {
	uint64_t queries, answered, lost, bad, retransmits, challenges, split;
	uint64_t max_ns;
	char first_name[256], last_name[256];
	unsigned int nnames;
	uint32_t names[MAX_NAMES]; /* hashes of distinct names */
};

/* One split answer being reassembled. */
struct reasm {
	uint32_t id;
	unsigned int total, have;
	size_t len[A2S_MAX_FRAGMENTS];
	uint8_t *part[A2S_MAX_FRAGMENTS];
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

static void reasm_reset(struct reasm *r)
{
	unsigned int i;

	for (i = 0; i < A2S_MAX_FRAGMENTS; i++) {
		free(r->part[i]);
		r->part[i] = NULL;
		r->len[i] = 0;
	}
	r->total = r->have = 0;
}

/* Add a fragment; returns the whole message's length in msg when complete,
 * 0 while incomplete, -EINVAL for a malformed fragment. */
static int reasm_add(struct reasm *r, const uint8_t *p, size_t len,
		     uint8_t *msg, size_t cap)
{
	uint32_t id;
	unsigned int total, num, i;
	size_t off = 0;

	if (len <= A2S_SPLIT_HDR_LEN)
		return -EINVAL;
	id = p[4] | p[5] << 8 | p[6] << 16 | (uint32_t)p[7] << 24;
	total = p[8];
	num = p[9];
	if (!total || num >= total)
		return -EINVAL;
	if (r->total && (id != r->id || total != r->total))
		reasm_reset(r); /* a newer answer replaces a partial one */
	r->id = id;
	r->total = total;
	if (r->part[num])
		return 0; /* duplicate */
	r->part[num] = malloc(len - A2S_SPLIT_HDR_LEN);
	if (!r->part[num])
		return -ENOMEM;
	memcpy(r->part[num], p + A2S_SPLIT_HDR_LEN, len - A2S_SPLIT_HDR_LEN);
	r->len[num] = len - A2S_SPLIT_HDR_LEN;
	if (++r->have < total)
		return 0;
	for (i = 0; i < total; i++) {
		if (off + r->len[i] > cap) {
			reasm_reset(r);
			return -EINVAL;
		}
		memcpy(msg + off, r->part[i], r->len[i]);
		off += r->len[i];
	}
	reasm_reset(r);
	return (int)off;
}

/* A NUL-terminated string at *off; NULL when it runs past len. */
static const char *get_str(const uint8_t *p, size_t len, size_t *off)
{
	const char *s = (const char *)p + *off;
	const void *nul;

	if (*off >= len)
		return NULL;
	nul = memchr(p + *off, '\0', len - *off);
	if (!nul)
		return NULL;
	*off = (const uint8_t *)nul - p + 1;
	return s;
}

static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

static int check_info(const uint8_t *p, size_t len, struct probe_result *res)
{
	size_t off = 6; /* header, type, protocol */
	const char *name = get_str(p, len, &off);
	uint32_t h;
	unsigned int i;

	if (!name || !get_str(p, len, &off))
		return -EINVAL;
	if (!res->first_name[0])
		snprintf(res->first_name, sizeof(res->first_name), "%s", name);
	snprintf(res->last_name, sizeof(res->last_name), "%s", name);
	h = hash_str(name);
	for (i = 0; i < res->nnames; i++)
		if (res->names[i] == h)
			return 0;
	if (res->nnames < MAX_NAMES)
		res->names[res->nnames++] = h;
	return 0;
}

static int check_players(const uint8_t *p, size_t len, int expect)
{
	char want[32];
	size_t off = 6;
	unsigned int i, n = p[5];
	const char *name;

	if (len < 6 || (expect >= 0 && n != (unsigned int)expect))
		return -EINVAL;
	for (i = 0; i < n; i++) {
		off++; /* index */
		name = get_str(p, len, &off);
		if (!name || off + 8 > len)
			return -EINVAL;
		a2s_player_name(i, want, sizeof(want));
		if (expect >= 0 && strcmp(name, want))
			return -EINVAL;
		off += 8;
	}
	return off == len ? 0 : -EINVAL;
}

/* Rules as a2s-fixture generates them, plus its optional "km_serial". */
static int check_rules(const uint8_t *p, size_t len, int expect)
{
	char wname[32], wval[64];
	size_t off = 7;
	unsigned int i, n;
	const char *name, *val;

	if (len < 7)
		return -EINVAL;
	n = p[5] | p[6] << 8;
	for (i = 0; i < n; i++) {
		name = get_str(p, len, &off);
		val = name ? get_str(p, len, &off) : NULL;
		if (!val)
			return -EINVAL;
		if (!strcmp(name, "km_serial") && i + 1 == n)
			continue;
		a2s_rule_name(i, wname, sizeof(wname));
		a2s_rule_value(i, wval, sizeof(wval));
		if (expect >= 0 && (strcmp(name, wname) || strcmp(val, wval)))
			return -EINVAL;
	}
	if (expect >= 0 && n != (unsigned int)expect &&
	    n != (unsigned int)expect + 1)
		return -EINVAL;
	return off == len ? 0 : -EINVAL;
}

static int check_answer(const struct probe_opts *o, const uint8_t *p,
			size_t len, struct probe_result *res)
{
	static const uint8_t want[] = {
	    [A2S_KIND_INFO] = A2S_ANS_INFO,
	    [A2S_KIND_PLAYER] = A2S_ANS_PLAYER,
	    [A2S_KIND_RULES] = A2S_ANS_RULES,
	};

	if (len < 6 || p[4] != want[o->kind])
		return -EINVAL;
	if (o->kind == A2S_KIND_INFO)
		return check_info(p, len, res);
	if (o->kind == A2S_KIND_PLAYER)
		return check_players(p, len, o->expect_players);
	return check_rules(p, len, o->expect_rules);
}

struct probe {
	const struct probe_opts *o;
	struct probe_result *res;
	int fd;
	long long challenge;
	struct reasm ra;
	uint8_t buf[2048];
	uint8_t msg[A2S_MAX_MSG];
};

/* Wait for the datagram that ends this attempt. Returns 1 answered, 2 got a
 * challenge (resend), 0 timed out. */
static int await(struct probe *pr, uint64_t deadline)
{
	struct pollfd pfd = {.fd = pr->fd, .events = POLLIN};
	uint64_t t;
	ssize_t n;
	int len, ms;

	while ((t = now_ns()) < deadline && !stop_requested) {
		ms = (int)((deadline - t + 999999) / 1000000);
		if (poll(&pfd, 1, ms) <= 0)
			continue;
		n = recv(pr->fd, pr->buf, sizeof(pr->buf), MSG_DONTWAIT);
		if (n < 5)
			continue;
		if (!memcmp(pr->buf, "\xfe\xff\xff\xff", 4)) {
			len = reasm_add(&pr->ra, pr->buf, n, pr->msg,
					sizeof(pr->msg));
			if (len < 0)
				pr->res->bad++;
			if (len <= 0)
				continue;
			pr->res->split++;
		} else if (!memcmp(pr->buf, "\xff\xff\xff\xff", 4)) {
			memcpy(pr->msg, pr->buf, n);
			len = (int)n;
		} else {
			pr->res->bad++;
			continue;
		}
		if (len == A2S_CHALLENGE_LEN &&
		    pr->msg[4] == A2S_ANS_CHALLENGE) {
			pr->challenge = pr->msg[5] | pr->msg[6] << 8 |
					pr->msg[7] << 16 |
					(uint32_t)pr->msg[8] << 24;
			pr->res->challenges++;
			return 2;
		}
		if (check_answer(pr->o, pr->msg, len, pr->res)) {
			pr->res->bad++;
			continue;
		}
		return 1;
	}
	return 0;
}

static int one_query(struct probe *pr)
{
	const struct probe_opts *o = pr->o;
	unsigned int attempts = 0, rounds = 0;
	uint8_t req[64];
	uint64_t start = now_ns(), took;
	int n, r;

	if (!o->reuse)
		pr->challenge = -1;
	pr->res->queries++;
	while (attempts < o->attempts && !stop_requested) {
		n = a2s_build_request(o->kind, pr->challenge, req, sizeof(req));
		if (send(pr->fd, req, n, 0) < 0 && errno != ECONNREFUSED)
			return km_log_errno(-errno, "send: %m");
		r = await(pr, now_ns() + o->timeout_ms * 1000000ULL);
		if (r == 1) {
			pr->res->answered++;
			took = now_ns() - start;
			if (took > pr->res->max_ns)
				pr->res->max_ns = took;
			return 0;
		}
		if (r == 2 && ++rounds <= MAX_CHALLENGE_ROUNDS)
			continue;
		attempts++;
		if (attempts < o->attempts)
			pr->res->retransmits++;
	}
	if (!stop_requested)
		pr->res->lost++;
	else
		pr->res->queries--;
	return 0;
}

static int parse_addr(const char *s, struct sockaddr_in *sa, int need_port)
{
	char buf[64], *colon;
	unsigned long port = 0;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	colon = strchr(buf, ':');
	if (colon) {
		*colon = '\0';
		port = strtoul(colon + 1, NULL, 10);
		if (port > 65535)
			return -EINVAL;
	} else if (need_port) {
		return -EINVAL;
	}
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, buf, &sa->sin_addr) == 1 ? 0 : -EINVAL;
}

static int open_socket(const struct probe_opts *o)
{
	struct sockaddr_in to, from;
	int fd, r;

	if (parse_addr(o->to, &to, 1) || !to.sin_port)
		return km_log_errno(-EINVAL, "--to '%s': expected ADDR:PORT",
				    o->to);
	if (o->bind && parse_addr(o->bind, &from, 0))
		return km_log_errno(-EINVAL, "--bind '%s': bad address",
				    o->bind);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return km_log_errno(-errno, "socket: %m");
	if (o->bind && bind(fd, (struct sockaddr *)&from, sizeof(from))) {
		r = km_log_errno(-errno, "bind %s: %m", o->bind);
		goto fail;
	}
	if (connect(fd, (struct sockaddr *)&to, sizeof(to))) {
		r = km_log_errno(-errno, "connect %s: %m", o->to);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return r;
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++)
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	putchar('"');
}

static int run(const struct probe_opts *o)
{
	static struct probe pr;
	static struct probe_result res;
	uint64_t start, end, next;
	int r = 0;

	pr.o = o;
	pr.res = &res;
	pr.challenge = -1;
	pr.fd = open_socket(o);
	if (pr.fd < 0)
		return pr.fd;
	start = next = now_ns();
	end = o->duration > 0 ? start + (uint64_t)(o->duration * 1e9) : 0;
	while (!stop_requested) {
		if (o->count && res.queries >= o->count)
			break;
		if (end && now_ns() >= end)
			break;
		if (o->rate) {
			uint64_t t = now_ns();

			if (t < next) {
				struct timespec ts = {0, (long)(next - t)};

				nanosleep(&ts, NULL);
			}
			next += 1000000000ULL / o->rate;
		}
		r = one_query(&pr);
		if (r)
			break;
	}
	reasm_reset(&pr.ra);
	close(pr.fd);
	printf("{\"queries\":%lu,\"answered\":%lu,\"lost\":%lu,\"bad\":%lu,"
	       "\"retransmits\":%lu,\"challenges\":%lu,\"split_answers\":%lu,"
	       "\"serials\":%u,\"first_name\":",
	       res.queries, res.answered, res.lost, res.bad, res.retransmits,
	       res.challenges, res.split, res.nnames);
	json_str(res.first_name);
	printf(",\"last_name\":");
	json_str(res.last_name);
	printf(",\"max_ms\":%.1f}\n", res.max_ns / 1e6);
	fflush(stdout);
	return r;
}

static int parse_num(const char *opt, const char *s, unsigned long max,
		     unsigned int *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || !*s || *s == '-' || v > max)
		return km_log_errno(-EINVAL, "%s: '%s' is not 0..%lu", opt, s,
				    max);
	*out = (unsigned int)v;
	return 0;
}

static int parse_opts(int argc, char **argv, struct probe_opts *o)
{
	static const struct option opts[] = {
	    {"to", required_argument, NULL, 't'},
	    {"bind", required_argument, NULL, 'b'},
	    {"kind", required_argument, NULL, 'k'},
	    {"count", required_argument, NULL, 'c'},
	    {"duration", required_argument, NULL, 'd'},
	    {"rate", required_argument, NULL, 'r'},
	    {"timeout", required_argument, NULL, 'T'},
	    {"attempts", required_argument, NULL, 'a'},
	    {"reuse-challenge", no_argument, NULL, 'u'},
	    {"expect-players", required_argument, NULL, 'P'},
	    {"expect-rules", required_argument, NULL, 'R'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	unsigned int v;
	char *end;
	int c, r = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			o->to = optarg;
			break;
		case 'b':
			o->bind = optarg;
			break;
		case 'k':
			if (!strcmp(optarg, "info"))
				o->kind = A2S_KIND_INFO;
			else if (!strcmp(optarg, "player"))
				o->kind = A2S_KIND_PLAYER;
			else if (!strcmp(optarg, "rules"))
				o->kind = A2S_KIND_RULES;
			else
				r = km_log_errno(
				    -EINVAL, "--kind: info, player or rules");
			break;
		case 'c':
			r = parse_num("--count", optarg, 100000000, &o->count);
			break;
		case 'd':
			o->duration = strtod(optarg, &end);
			if (*end || !(o->duration > 0) || o->duration > 3600)
				r = km_log_errno(-EINVAL,
						 "--duration: 0..3600");
			break;
		case 'r':
			r = parse_num("--rate", optarg, 1000000, &o->rate);
			break;
		case 'T':
			r = parse_num("--timeout", optarg, 60000,
				      &o->timeout_ms);
			break;
		case 'a':
			r = parse_num("--attempts", optarg, 100, &o->attempts);
			if (!r && !o->attempts)
				r = km_log_errno(-EINVAL, "--attempts: >= 1");
			break;
		case 'u':
			o->reuse = 1;
			break;
		case 'P':
		case 'R':
			r = parse_num(c == 'P' ? "--expect-players"
					       : "--expect-rules",
				      optarg, 65535, &v);
			if (c == 'P')
				o->expect_players = (int)v;
			else
				o->expect_rules = (int)v;
			break;
		case 'h':
			printf("usage: a2s-probe --to ADDR:PORT [--bind ADDR] "
			       "[--kind info|player|rules] [--count N] "
			       "[--duration S] [--rate QPS] [--timeout MS] "
			       "[--attempts N] [--reuse-challenge] "
			       "[--expect-players N] [--expect-rules N]\n");
			exit(0);
		default:
			return -EINVAL;
		}
		if (r)
			return r;
	}
	if (!o->to || optind != argc)
		return km_log_errno(-EINVAL, "--to ADDR:PORT is required");
	if (!o->count && !(o->duration > 0))
		o->count = 1;
	return 0;
}

int main(int argc, char **argv)
{
	struct probe_opts o = {
	    .kind = A2S_KIND_INFO,
	    .timeout_ms = 250,
	    .attempts = 4,
	    .expect_players = -1,
	    .expect_rules = -1,
	};
	struct sigaction sa = {.sa_handler = on_signal};

	km_log_init("a2s-probe", LOG_INFO);
	if (parse_opts(argc, argv, &o))
		return 2;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	return run(&o) ? 1 : 0;
}
