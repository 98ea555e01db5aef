// SPDX-License-Identifier: GPL-2.0-only
/*
 * a2s-load: how many A2S_INFO queries a game server (the lab's a2s-fixture)
 * answers alone: the denominator of a2s_edge_vs_server_ratio.
 *
 *   a2s-load --to ADDR:PORT [--duration S] [--inflight N] [--server-pid PID]
 *            [--softirq-cpu N]
 *
 * Gets a challenge once (when the server asks for one), then keeps N valid
 * requests in flight with sendmmsg/recvmmsg for S seconds, so the server
 * never waits for the client: a request whose answer does not come within
 * 20 ms counts as lost and is replaced. Prints one JSON line:
 *   {"sent":N,"answers":N,"wall_s":X,"answers_per_s":X,
 *    "server_cpu_s":X,"answers_per_server_cpu_s":X}
 * server_cpu_s is the server process's user + system CPU time over the run
 * (/proc/PID/stat), plus with --softirq-cpu N what ksoftirqd/N ran meanwhile
 * (softirq work the kernel deferred from the server's CPU, as kmbench counts
 * it for the edge), so the rate per CPU second does not depend on how busy
 * the machine's other CPUs are. Exit status 0, 1 when the server never
 * answered, 2 for a bad command line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "a2s_wire.h"
#include "log.h"

#define BATCH 64
#define LOST_AFTER_NS (20 * 1000000ULL)

struct load_opts {
	const char *to;
	double duration;
	unsigned int inflight;
	int server_pid;
	int softirq_cpu; /* -1: none */
};

struct load_result {
	uint64_t sent, answers;
	double wall_s, cpu_s;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* utime + stime of PID in seconds, or -1. */
static double proc_cpu_s(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	FILE *fp;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fp = fopen(path, "re");
	if (!fp)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	/* The command name may hold spaces: fields count from its ')'. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2,
			 "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			 "%lu %lu",
			 &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* pid of ksoftirqd/CPU, or -1. */
static int find_ksoftirqd(int cpu)
{
	char want[32], path[64], comm[32];
	int pid, found = -1;
	FILE *f;

	snprintf(want, sizeof(want), "ksoftirqd/%d\n", cpu);
	for (pid = 2; pid < 4096 && found < 0; pid++) {
		snprintf(path, sizeof(path), "/proc/%d/comm", pid);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && !strcmp(comm, want))
			found = pid;
		fclose(f);
	}
	return found;
}

/* CPU seconds a thread ran, from /proc/PID/schedstat (exact), or 0. */
static double schedstat_s(int pid)
{
	unsigned long long ns = 0;
	char path[64];
	FILE *f;

	if (pid < 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/schedstat", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fscanf(f, "%llu", &ns) != 1)
		ns = 0;
	fclose(f);
	return (double)ns / 1e9;
}

static int open_client(const char *to)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	char host[64], *colon;
	int fd, big = 4 << 20;
	unsigned long port;

	if (strlen(to) >= sizeof(host))
		return km_log_errno(-EINVAL, "--to: too long");
	strcpy(host, to);
	colon = strchr(host, ':');
	if (!colon)
		return km_log_errno(-EINVAL, "--to '%s': expected ADDR:PORT",
				    to);
	*colon = '\0';
	port = strtoul(colon + 1, NULL, 10);
	if (!port || port > 65535 ||
	    inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return km_log_errno(-EINVAL, "--to '%s': bad address", to);
	sa.sin_port = htons((uint16_t)port);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return km_log_errno(-errno, "socket: %m");
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int r = km_log_errno(-errno, "connect %s: %m", to);

		close(fd);
		return r;
	}
	return fd;
}

/* The request to repeat: with the server's challenge when it wants one. */
static int prepare_request(int fd, uint8_t *req, size_t cap)
{
	uint8_t ans[2048];
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	int n, i;
	ssize_t got;

	n = a2s_build_request(A2S_KIND_INFO, -1, req, cap);
	for (i = 0; i < 10; i++) {
		if (send(fd, req, n, 0) < 0)
			return km_log_errno(-errno, "send: %m");
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		got = recv(fd, ans, sizeof(ans), 0);
		if (got >= 5 && ans[4] == A2S_ANS_INFO)
			return n;
		if (got == A2S_CHALLENGE_LEN && ans[4] == A2S_ANS_CHALLENGE) {
			uint32_t c = ans[5] | ans[6] << 8 | ans[7] << 16 |
				     (uint32_t)ans[8] << 24;

			return a2s_build_request(A2S_KIND_INFO, c, req, cap);
		}
	}
	return km_log_errno(-ETIMEDOUT, "the server never answered A2S_INFO");
}

static unsigned int recv_answers(int fd, uint8_t (*bufs)[2048],
				 struct mmsghdr *msgs, struct iovec *iov)
{
	unsigned int answers = 0;
	int n, i;

	for (i = 0; i < BATCH; i++) {
		iov[i] = (struct iovec){.iov_base = bufs[i], .iov_len = 2048};
		msgs[i].msg_hdr =
		    (struct msghdr){.msg_iov = &iov[i], .msg_iovlen = 1};
	}
	n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
	for (i = 0; i < n; i++)
		if (msgs[i].msg_len > 5 && bufs[i][4] == A2S_ANS_INFO)
			answers++;
	return answers;
}

static int run(const struct load_opts *o, struct load_result *res)
{
	static uint8_t bufs[BATCH][2048];
	struct mmsghdr msgs[BATCH], smsgs[BATCH];
	struct iovec iov[BATCH], siov;
	uint8_t req[64];
	uint64_t start, end, last_answer, t;
	unsigned int outstanding = 0, got, want, i;
	double cpu0 = -1, sirq0 = 0;
	int fd, n, r, sirq_pid = -1;

	fd = open_client(o->to);
	if (fd < 0)
		return fd;
	r = prepare_request(fd, req, sizeof(req));
	if (r < 0)
		goto out;
	siov = (struct iovec){.iov_base = req, .iov_len = r};
	for (i = 0; i < BATCH; i++)
		smsgs[i].msg_hdr =
		    (struct msghdr){.msg_iov = &siov, .msg_iovlen = 1};
	if (o->softirq_cpu >= 0)
		sirq_pid = find_ksoftirqd(o->softirq_cpu);
	if (o->server_pid)
		cpu0 = proc_cpu_s(o->server_pid);
	sirq0 = schedstat_s(sirq_pid);
	start = last_answer = now_ns();
	end = start + (uint64_t)(o->duration * 1e9);
	while ((t = now_ns()) < end) {
		want = o->inflight - outstanding;
		if (want > BATCH)
			want = BATCH;
		if (want) {
			n = sendmmsg(fd, smsgs, want, MSG_DONTWAIT);
			if (n > 0) {
				outstanding += n;
				res->sent += n;
			}
		}
		got = recv_answers(fd, bufs, msgs, iov);
		if (got) {
			res->answers += got;
			outstanding = got > outstanding ? 0 : outstanding - got;
			last_answer = t;
		} else if (t - last_answer > LOST_AFTER_NS) {
			/* Requests dropped on a full socket buffer never
			 * answer: start over with a full window. */
			outstanding = 0;
			last_answer = t;
		} else {
			struct pollfd pfd = {.fd = fd, .events = POLLIN};

			poll(&pfd, 1, 1);
		}
	}
	res->wall_s = (double)(now_ns() - start) / 1e9;
	if (cpu0 >= 0)
		res->cpu_s = proc_cpu_s(o->server_pid) - cpu0 +
			     schedstat_s(sirq_pid) - sirq0;
	r = res->answers ? 0 : km_log_errno(-EIO, "no answer during the run");
out:
	close(fd);
	return r;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: a2s-load --to ADDR:PORT [--duration S] "
		     "[--inflight N] [--server-pid PID] [--softirq-cpu N]\n");
}

static int parse_opts(int argc, char **argv, struct load_opts *o)
{
	static const struct option opts[] = {
	    {"to", required_argument, NULL, 't'},
	    {"duration", required_argument, NULL, 'd'},
	    {"inflight", required_argument, NULL, 'i'},
	    {"server-pid", required_argument, NULL, 'p'},
	    {"softirq-cpu", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	char *end;
	long v;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			o->to = optarg;
			break;
		case 'd':
			o->duration = strtod(optarg, &end);
			if (*end || !(o->duration > 0) || o->duration > 600)
				return km_log_errno(-EINVAL,
						    "--duration: 0..600 s");
			break;
		case 'i':
		case 'p':
		case 's':
			v = strtol(optarg, &end, 10);
			if (*end || v < (c == 's' ? 0 : 1) ||
			    v > (c == 'i' ? 4096 : 1 << 22))
				return km_log_errno(-EINVAL, "bad value '%s'",
						    optarg);
			if (c == 'i')
				o->inflight = (unsigned int)v;
			else if (c == 'p')
				o->server_pid = (int)v;
			else
				o->softirq_cpu = (int)v;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (!o->to || optind != argc) {
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct load_opts o = {.duration = 2, .inflight = 32, .softirq_cpu = -1};
	struct load_result res = {};
	int r;

	km_log_init("a2s-load", LOG_INFO);
	if (parse_opts(argc, argv, &o))
		return 2;
	r = run(&o, &res);
	if (r)
		return 1;
	printf("{\"sent\":%lu,\"answers\":%lu,\"wall_s\":%.3f,"
	       "\"answers_per_s\":%.0f,\"server_cpu_s\":%.3f,"
	       "\"answers_per_server_cpu_s\":%.0f}\n",
	       res.sent, res.answers, res.wall_s, res.answers / res.wall_s,
	       res.cpu_s, res.cpu_s > 0 ? res.answers / res.cpu_s : 0);
	return 0;
}
