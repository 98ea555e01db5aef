// SPDX-License-Identifier: GPL-2.0-only
/*
 * a2s-fixture: a stand-in for a Source game server's query port, for the lab.
 *
 * Like a real server it is one thread with one recvfrom/sendto loop. It
 * answers A2S_INFO (49), A2S_PLAYER (44) and A2S_RULES (45), splits answers
 * longer than --split-size into Source split packets (FE FF FF FF), and asks
 * every client for a challenge first (41), as servers do since December 2020
 * with STEAM_GAMESERVER_A2S_INFO_REQUIRE_CHALLENGE=1. The challenge is a keyed
 * hash of the client's address and port under a key drawn at start, so a
 * client keeps its challenge for the fixture's lifetime; a request carrying
 * any other challenge gets the right one again and is counted as a bad
 * challenge. The legacy A2S_SERVERQUERY_GETCHALLENGE (57) is answered with
 * the challenge too.
 *
 * Content is generated from the options so tests can compute the expected
 * answers: players "player_NN" (NN from 00) with score 10*NN and duration
 * 60.5*(NN+1) s; rules "km_rule_NNN" = "value-NNN-abcdefghijklmnop". With
 * --mutate every answer carries a serial that increments per answer sent:
 * the name gets " #SERIAL", player 0's score gets +SERIAL, and a last rule
 * "km_serial" = SERIAL is added; a cached answer is then told from a fresh
 * one.
 *
 * --stats-file PATH: a JSON object of counts (see stats_write), written at
 * start (a test may wait for the file as the "listening" signal), rewritten
 * atomically (write PATH.tmp, rename) whenever the fixture has drained its
 * socket after a change, on SIGUSR1, and at exit. When the fixture is idle
 * the file is exact.
 *
 * SIGUSR2 toggles "mute": requests are still counted (and "muted" counts
 * them) but nothing is sent, as from a server that hangs; a test makes the
 * cache go stale with it.
 *
 * Exit status: 0 on SIGTERM/SIGINT, 1 on a runtime error, 2 for a bad
 * command line. Malformed datagrams are counted ("bad") and ignored.
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
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "a2s_wire.h"
#include "log.h"

#define MAX_SOURCES 64 /* distinct source addresses reported in the stats */

struct fixture_opts {
	const char *listen;
	const char *stats_file;
	unsigned int split_size;
	int info_challenge;
	int mutate;
	struct a2s_server srv;
};

/* Per source address: what a test needs to tell the edge worker's refresh
 * queries from players' queries. */
struct src_stat {
	uint32_t addr; /* network order */
	uint64_t kind[A2S_KIND_GETCHALLENGE + 1];
	uint64_t queries;    /* requests that would be answered (challenge
				valid or not needed), muted or not */
	uint64_t challenged; /* requests that needed a (new) challenge */
};

struct fixture_stats {
	uint64_t info, player, rules, getchallenge;
	uint64_t challenges, bad_challenges;
	uint64_t info_answers, player_answers, rules_answers;
	uint64_t datagrams_sent, send_errors, bad, muted;
	struct src_stat src[MAX_SOURCES];
	unsigned int nsrc;
	uint64_t other_src_requests;
};

struct fixture {
	struct fixture_opts *o;
	int fd;
	uint64_t key[2];
	uint32_t split_id;
	struct fixture_stats st;
	int dirty;
	int mute;
	uint8_t msg[A2S_MAX_MSG];
	uint8_t frag[A2S_MAX_MSG];
};

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint32_t challenge_for(const struct fixture *f,
			      const struct sockaddr_in *from)
{
	uint64_t h = mix64(f->key[0] ^ ((uint64_t)from->sin_addr.s_addr << 16 |
					from->sin_port));
	uint32_t c = (uint32_t)mix64(h ^ f->key[1]);

	/* 0 and FFFFFFFF mean "give me a challenge" in PLAYER/RULES. */
	return c == 0 || c == 0xFFFFFFFFu ? 0x4b4d0001u : c;
}

/* The stats slot of a source; NULL when the table is full (counted in
 * other_sources). */
static struct src_stat *source_of(struct fixture_stats *st, uint32_t addr)
{
	unsigned int i;

	for (i = 0; i < st->nsrc; i++)
		if (st->src[i].addr == addr)
			return &st->src[i];
	if (st->nsrc == MAX_SOURCES) {
		st->other_src_requests++;
		return NULL;
	}
	st->src[st->nsrc].addr = addr;
	return &st->src[st->nsrc++];
}

/* Counts, all since start:
 *   info, player, rules, getchallenge: well-formed requests received by kind
 *     (including those answered with a challenge);
 *   challenges: S2C_CHALLENGE datagrams sent; bad_challenges: requests whose
 *     challenge was wrong;
 *   info_answers, player_answers, rules_answers: answers sent (a split answer
 *     counts once); answers: their sum;
 *   datagrams_sent (fragments and challenges included), send_errors;
 *   bad: datagrams that are not A2S requests;
 *   muted: well-formed requests left unanswered while muted (SIGUSR2);
 *   mute: 1 while muted;
 *   sources: per source address (the first 64; requests of later ones
 *     add to other_sources): {"info","player","rules","getchallenge":
 *     requests by kind, "queries": requests that would be answered (valid
 *     or no challenge needed; muted included), "challenged": requests
 *     that needed a challenge}. */
static int stats_write(const struct fixture *f)
{
	const struct fixture_stats *st = &f->st;
	char tmp[4096 + 8], addr[INET_ADDRSTRLEN];
	unsigned int i;
	FILE *fp;

	if (!f->o->stats_file)
		return 0;
	snprintf(tmp, sizeof(tmp), "%s.tmp", f->o->stats_file);
	fp = fopen(tmp, "we");
	if (!fp)
		return km_log_errno(-errno, "%s: %m", tmp);
	fprintf(fp,
		"{\"info\":%lu,\"player\":%lu,\"rules\":%lu,"
		"\"getchallenge\":%lu,\"challenges\":%lu,"
		"\"bad_challenges\":%lu,\"info_answers\":%lu,"
		"\"player_answers\":%lu,\"rules_answers\":%lu,"
		"\"answers\":%lu,\"datagrams_sent\":%lu,\"send_errors\":%lu,"
		"\"bad\":%lu,\"muted\":%lu,\"mute\":%d,"
		"\"other_sources\":%lu,\"sources\":{",
		st->info, st->player, st->rules, st->getchallenge,
		st->challenges, st->bad_challenges, st->info_answers,
		st->player_answers, st->rules_answers,
		st->info_answers + st->player_answers + st->rules_answers,
		st->datagrams_sent, st->send_errors, st->bad, st->muted,
		f->mute, st->other_src_requests);
	for (i = 0; i < st->nsrc; i++) {
		const struct src_stat *ss = &st->src[i];

		inet_ntop(AF_INET, &ss->addr, addr, sizeof(addr));
		fprintf(fp,
			"%s\"%s\":{\"info\":%lu,\"player\":%lu,\"rules\":%lu,"
			"\"getchallenge\":%lu,\"queries\":%lu,"
			"\"challenged\":%lu}",
			i ? "," : "", addr, ss->kind[A2S_KIND_INFO],
			ss->kind[A2S_KIND_PLAYER], ss->kind[A2S_KIND_RULES],
			ss->kind[A2S_KIND_GETCHALLENGE], ss->queries,
			ss->challenged);
	}
	fprintf(fp, "}}\n");
	if (fclose(fp)) {
		unlink(tmp);
		return km_log_errno(-EIO, "%s: write failed", tmp);
	}
	if (rename(tmp, f->o->stats_file))
		return km_log_errno(-errno, "rename %s: %m", f->o->stats_file);
	return 0;
}

static void send_dgram(struct fixture *f, const uint8_t *p, size_t len,
		       const struct sockaddr_in *to)
{
	if (sendto(f->fd, p, len, 0, (const struct sockaddr *)to, sizeof(*to)) <
	    0)
		f->st.send_errors++;
	else
		f->st.datagrams_sent++;
}

/* Send a whole message, split into Source fragments when it is longer than
 * --split-size (checked at start to need at most 255 fragments). */
static void send_msg(struct fixture *f, size_t len,
		     const struct sockaddr_in *to)
{
	int total = a2s_split_count(len, f->o->split_size), i, n;

	if (total <= 1) {
		send_dgram(f, f->msg, len, to);
		return;
	}
	f->split_id++;
	for (i = 0; i < total; i++) {
		n = a2s_build_fragment(f->msg, len, f->split_id,
				       f->o->split_size, i, f->frag,
				       sizeof(f->frag));
		if (n < 0) {
			f->st.send_errors++;
			return;
		}
		send_dgram(f, f->frag, n, to);
	}
}

static void answer(struct fixture *f, enum a2s_kind kind,
		   const struct sockaddr_in *to)
{
	struct a2s_server *s = &f->o->srv;
	int n;

	if (kind == A2S_KIND_INFO)
		n = a2s_build_info(s, f->msg, sizeof(f->msg));
	else if (kind == A2S_KIND_PLAYER)
		n = a2s_build_players(s, f->msg, sizeof(f->msg));
	else
		n = a2s_build_rules(s, f->msg, sizeof(f->msg));
	if (n < 0) {
		f->st.send_errors++;
		return;
	}
	send_msg(f, n, to);
	if (kind == A2S_KIND_INFO)
		f->st.info_answers++;
	else if (kind == A2S_KIND_PLAYER)
		f->st.player_answers++;
	else
		f->st.rules_answers++;
	if (f->o->mutate)
		s->serial++;
}

static void send_challenge(struct fixture *f, const struct sockaddr_in *to)
{
	uint8_t buf[A2S_CHALLENGE_LEN];

	a2s_build_challenge(challenge_for(f, to), buf, sizeof(buf));
	send_dgram(f, buf, sizeof(buf), to);
	f->st.challenges++;
}

static void handle(struct fixture *f, const uint8_t *p, size_t len,
		   const struct sockaddr_in *from)
{
	struct a2s_request req;
	struct src_stat *ss;
	int need, valid;

	f->dirty = 1;
	if (a2s_parse_request(p, len, &req)) {
		f->st.bad++;
		return;
	}
	ss = source_of(&f->st, from->sin_addr.s_addr);
	if (ss)
		ss->kind[req.kind]++;
	if (f->mute)
		f->st.muted++;
	switch (req.kind) {
	case A2S_KIND_INFO:
		f->st.info++;
		need = f->o->info_challenge;
		break;
	case A2S_KIND_PLAYER:
		f->st.player++;
		need = 1;
		break;
	case A2S_KIND_RULES:
		f->st.rules++;
		need = 1;
		break;
	default:
		f->st.getchallenge++;
		if (ss)
			ss->challenged++;
		if (!f->mute)
			send_challenge(f, from);
		return;
	}
	valid = req.has_challenge && req.challenge == challenge_for(f, from);
	if (ss)
		*(need && !valid ? &ss->challenged : &ss->queries) += 1;
	if (f->mute)
		return;
	if (need && req.has_challenge && !valid)
		f->st.bad_challenges++;
	if (need && !valid) {
		send_challenge(f, from);
		return;
	}
	answer(f, req.kind, from);
}

/* Drain the socket (bounded, so signals are seen under a flood). */
static int drain(struct fixture *f)
{
	uint8_t buf[2048];
	struct sockaddr_in from;
	socklen_t fl;
	ssize_t n;
	int i;

	for (i = 0; i < 256; i++) {
		fl = sizeof(from);
		n = recvfrom(f->fd, buf, sizeof(buf), MSG_DONTWAIT,
			     (struct sockaddr *)&from, &fl);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			return km_log_errno(-errno, "recvfrom: %m");
		}
		if (fl != sizeof(from) || from.sin_family != AF_INET) {
			f->st.bad++;
			continue;
		}
		handle(f, buf, n, &from);
	}
	return 0;
}

static int parse_addr(const char *s, struct sockaddr_in *sa)
{
	char buf[64], *colon, *end;
	unsigned long port;

	if (strlen(s) >= sizeof(buf))
		return km_log_errno(-EINVAL, "address too long: '%s'", s);
	strcpy(buf, s);
	colon = strchr(buf, ':');
	if (!colon)
		return km_log_errno(-EINVAL, "'%s': expected ADDR:PORT", s);
	*colon = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || colon[1] == '\0' || port > 65535)
		return km_log_errno(-EINVAL, "bad port in '%s'", s);
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, buf, &sa->sin_addr) != 1)
		return km_log_errno(-EINVAL, "bad IPv4 address in '%s'", s);
	return 0;
}

static int open_listener(const char *listen, struct sockaddr_in *sa)
{
	int fd, one = 1, r;

	r = parse_addr(listen, sa);
	if (r)
		return r;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return km_log_errno(-errno, "socket: %m");
	/* The service address may be routed here without being local. */
	setsockopt(fd, SOL_IP, IP_FREEBIND, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)sa, sizeof(*sa))) {
		r = km_log_errno(-errno, "bind %s: %m", listen);
		close(fd);
		return r;
	}
	return fd;
}

static int open_signals(void)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return km_log_errno(-errno, "sigprocmask: %m");
	fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		return km_log_errno(-errno, "signalfd: %m");
	return fd;
}

/* Returns 1 when asked to stop. */
static int read_signals(struct fixture *f, int sfd)
{
	struct signalfd_siginfo si;
	int stop = 0;

	while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGUSR1) {
			stats_write(f);
		} else if (si.ssi_signo == SIGUSR2) {
			f->mute = !f->mute;
			km_info("%s", f->mute ? "muted" : "answering again");
			stats_write(f);
		} else {
			stop = 1;
		}
	}
	return stop;
}

static int run(struct fixture *f)
{
	struct pollfd pfd[2];
	struct sockaddr_in sa;
	int sfd, r;

	sfd = open_signals();
	if (sfd < 0)
		return sfd;
	f->fd = open_listener(f->o->listen, &sa);
	if (f->fd < 0) {
		r = f->fd;
		goto out_sfd;
	}
	if (getrandom(f->key, sizeof(f->key), 0) != sizeof(f->key)) {
		r = km_log_errno(-EIO, "getrandom failed");
		goto out_fd;
	}
	r = stats_write(f);
	if (r)
		goto out_fd;
	km_info("serving A2S on %s (challenge: %s)", f->o->listen,
		f->o->info_challenge ? "all requests" : "PLAYER/RULES only");
	pfd[0] = (struct pollfd){.fd = f->fd, .events = POLLIN};
	pfd[1] = (struct pollfd){.fd = sfd, .events = POLLIN};
	for (;;) {
		if (poll(pfd, 2, -1) < 0 && errno != EINTR) {
			r = km_log_errno(-errno, "poll: %m");
			break;
		}
		if (pfd[1].revents && read_signals(f, sfd))
			break;
		if (pfd[0].revents) {
			r = drain(f);
			if (r)
				break;
		}
		if (f->dirty) {
			f->dirty = 0;
			stats_write(f);
		}
	}
	stats_write(f);
out_fd:
	close(f->fd);
out_sfd:
	close(sfd);
	return r;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: a2s-fixture --listen ADDR:PORT [options]\n"
		"  --listen ADDR:PORT     UDP address to serve A2S on\n"
		"  --name TEXT            server name (default \"Kilimanjaro "
		"lab\")\n"
		"  --map TEXT             map (default ctf_2fort)\n"
		"  --players N            players listed, 0..255 (default 3)\n"
		"  --max-players N        0..255 (default 24)\n"
		"  --rules N              rules listed (default 100)\n"
		"  --split-size BYTES     longest datagram before splitting, "
		"%d..65507 (default 1200)\n"
		"  --no-info-challenge    answer A2S_INFO without a challenge\n"
		"  --stats-file PATH      JSON counts, rewritten atomically\n"
		"  --mutate               each answer carries a new serial\n"
		"  --help\n",
		A2S_MIN_SPLIT);
}

static int parse_uint(const char *opt, const char *s, unsigned long max,
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

static int check_sizes(struct fixture_opts *o)
{
	static uint8_t buf[A2S_MAX_MSG];
	int n;

	if (!o->listen)
		return km_log_errno(-EINVAL, "--listen is required");
	if (o->split_size < A2S_MIN_SPLIT)
		return km_log_errno(-EINVAL, "--split-size: at least %d",
				    A2S_MIN_SPLIT);
	if (strlen(o->srv.name) > 200 || strlen(o->srv.map) > 200)
		return km_log_errno(-EINVAL, "--name/--map: at most 200 bytes");
	/* The longest answer (rules, serial included) must fit 255
	 * fragments. */
	o->srv.serial = o->mutate ? 1LL << 40 : -1;
	n = a2s_build_rules(&o->srv, buf, sizeof(buf));
	if (n < 0 || a2s_split_count(n, o->split_size) < 0)
		return km_log_errno(-EINVAL,
				    "--rules %u does not fit 255 fragments of "
				    "%u bytes",
				    o->srv.rules, o->split_size);
	o->srv.serial = o->mutate ? 0 : -1;
	return 0;
}

static int parse_opts(int argc, char **argv, struct fixture_opts *o)
{
	static const struct option opts[] = {
	    {"listen", required_argument, NULL, 'l'},
	    {"name", required_argument, NULL, 'n'},
	    {"map", required_argument, NULL, 'm'},
	    {"players", required_argument, NULL, 'p'},
	    {"max-players", required_argument, NULL, 'x'},
	    {"rules", required_argument, NULL, 'r'},
	    {"split-size", required_argument, NULL, 's'},
	    {"no-info-challenge", no_argument, NULL, 'N'},
	    {"stats-file", required_argument, NULL, 'S'},
	    {"mutate", no_argument, NULL, 'M'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	unsigned int v;
	int c, r = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			o->listen = optarg;
			break;
		case 'n':
			o->srv.name = optarg;
			break;
		case 'm':
			o->srv.map = optarg;
			break;
		case 'p':
			r = parse_uint("--players", optarg, 255, &v);
			o->srv.players = (uint8_t)v;
			break;
		case 'x':
			r = parse_uint("--max-players", optarg, 255, &v);
			o->srv.max_players = (uint8_t)v;
			break;
		case 'r':
			r = parse_uint("--rules", optarg, 65000, &o->srv.rules);
			break;
		case 's':
			r = parse_uint("--split-size", optarg, 65507,
				       &o->split_size);
			break;
		case 'N':
			o->info_challenge = 0;
			break;
		case 'S':
			o->stats_file = optarg;
			break;
		case 'M':
			o->mutate = 1;
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
	if (optind != argc)
		return km_log_errno(-EINVAL, "unexpected argument '%s'",
				    argv[optind]);
	return check_sizes(o);
}

int main(int argc, char **argv)
{
	static struct fixture f;
	struct fixture_opts o = {
	    .split_size = 1200,
	    .info_challenge = 1,
	    .srv =
		{
		    .name = "Kilimanjaro lab",
		    .map = "ctf_2fort",
		    .folder = "tf",
		    .game = "Team Fortress",
		    .version = "8835751",
		    .keywords = "kilimanjaro,lab",
		    .app_id = 440,
		    .players = 3,
		    .max_players = 24,
		    .rules = 100,
		},
	};
	struct sockaddr_in sa;
	int r;

	km_log_init("a2s-fixture", LOG_INFO);
	if (parse_opts(argc, argv, &o))
		return 2;
	if (parse_addr(o.listen, &sa))
		return 2;
	o.srv.game_port = ntohs(sa.sin_port);
	f.o = &o;
	r = run(&f);
	return r ? 1 : 0;
}
