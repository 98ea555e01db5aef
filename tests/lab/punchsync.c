// SPDX-License-Identifier: GPL-2.0-only
/*
 * punchsync: how long a port punch learned on one edge takes to appear on
 * another, through the real agents and controller (bench/punch-sync-lab).
 *
 *   punchsync --pin-root DIR --service ADDR:PORT --remote ADDR:PORT
 *             [--count N] [--rate R] [--wait-ms T]
 *
 * Runs on the game-server host (its network namespace). Punch i: one UDP
 * datagram from the service address, port PORT + i, to the remote; it
 * leaves through the mapper's default edge, which learns the punch. The
 * edge whose pins are under DIR (another edge) is polled for the punch's
 * key every millisecond; a sample is the time from the datagram's send to
 * the key's appearance there. A punch not there T ms after its send counts
 * as missing (and as T in the percentiles).
 * Prints: samples N, missing M, median_ms X, p99_ms X, max_ms X.
 * Exit status 0 when it ran, 1 on an error (named).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "log.h"
#include "maps.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int parse_hostport(const char *opt, const char *v,
			  struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(v, ':');
	char *end;
	unsigned long port;

	if (!colon || (size_t)(colon - v) >= sizeof(host))
		goto bad;
	memcpy(host, v, colon - v);
	host[colon - v] = 0;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || !port || port > 65535 ||
	    inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		goto bad;
	sa->sin_family = AF_INET;
	sa->sin_port = htons(port);
	return 0;
bad:
	km_err("--%s: '%s' is not ADDR:PORT", opt, v);
	return -EINVAL;
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

static int send_one(const struct sockaddr_in *from,
		    const struct sockaddr_in *to)
{
	int fd, one = 1, r = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)from, sizeof(*from)) ||
	    sendto(fd, "punch", 5, 0, (const struct sockaddr *)to,
		   sizeof(*to)) != 5)
		r = -errno;
	close(fd);
	return r;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"pin-root", required_argument, NULL, 'p'},
		{"service", required_argument, NULL, 's'},
		{"remote", required_argument, NULL, 'r'},
		{"count", required_argument, NULL, 'n'},
		{"rate", required_argument, NULL, 'R'},
		{"wait-ms", required_argument, NULL, 'w'},
		{},
	};
	struct sockaddr_in svc = {0}, remote = {0};
	unsigned int count = 1000, rate = 200, wait_ms = 3000;
	unsigned int sent = 0, done = 0, missing = 0, i, first = 0;
	const char *pin_root = NULL;
	struct km_maps m;
	double *t_sent = NULL, *lat = NULL, start, end;
	bool *seen = NULL;
	int c, r = 1;

	km_log_init("punchsync", LOG_INFO);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			pin_root = optarg;
			break;
		case 's':
			if (parse_hostport("service", optarg, &svc))
				return 1;
			break;
		case 'r':
			if (parse_hostport("remote", optarg, &remote))
				return 1;
			break;
		case 'n':
			if (parse_uint("count", optarg, 1, 20000, &count))
				return 1;
			break;
		case 'R':
			if (parse_uint("rate", optarg, 1, 100000, &rate))
				return 1;
			break;
		case 'w':
			if (parse_uint("wait-ms", optarg, 1, 60000, &wait_ms))
				return 1;
			break;
		default:
			return 1;
		}
	}
	if (optind != argc || !pin_root || !svc.sin_port || !remote.sin_port) {
		fprintf(stderr,
			"usage: punchsync --pin-root DIR --service ADDR:PORT "
			"--remote ADDR:PORT [--count N] [--rate R] "
			"[--wait-ms T]\n");
		return 1;
	}
	if (ntohs(svc.sin_port) + count - 1 > 65535) {
		km_err("--service port + --count must stay within 65535");
		return 1;
	}
	if (km_maps_open_pinned(&m, pin_root)) {
		km_err("cannot open the maps pinned under %s", pin_root);
		return 1;
	}
	t_sent = calloc(count, sizeof(*t_sent));
	lat = calloc(count, sizeof(*lat));
	seen = calloc(count, sizeof(*seen));
	if (!t_sent || !lat || !seen) {
		km_err("out of memory");
		goto out;
	}

	start = now_ms();
	end = start + (double)count * 1e3 / rate + wait_ms;
	while (done < count && now_ms() < end) {
		double t = now_ms();

		/* Send what is due at the rate. */
		while (sent < count && t >= start + sent * 1e3 / rate) {
			struct sockaddr_in from = svc;

			from.sin_port = htons(ntohs(svc.sin_port) + sent);
			t_sent[sent] = now_ms();
			r = send_one(&from, &remote);
			if (r) {
				km_err("punch %u: send from port %u: %s", sent,
				       ntohs(from.sin_port), strerror(-r));
				r = 1;
				goto out;
			}
			sent++;
		}
		/* Look for every outstanding punch on the other edge. */
		for (i = first; i < sent; i++) {
			struct km_punch_key k = {
				.proto = IPPROTO_UDP,
				.svc_addr = svc.sin_addr.s_addr,
				.remote = remote.sin_addr.s_addr,
				.svc_port = htons(ntohs(svc.sin_port) + i),
				.remote_port = remote.sin_port,
			};
			struct km_punch v;

			if (seen[i])
				continue;
			if (!km_punch_get(&m, &k, &v)) {
				seen[i] = true;
				lat[i] = now_ms() - t_sent[i];
				done++;
			} else if (now_ms() - t_sent[i] > wait_ms) {
				seen[i] = true;
				lat[i] = wait_ms;
				missing++;
				done++;
			}
		}
		while (first < sent && seen[first])
			first++;
		usleep(1000);
	}
	for (i = 0; i < count; i++) {
		if (!seen[i]) {
			lat[i] = wait_ms;
			missing++;
		}
	}
	qsort(lat, count, sizeof(*lat), cmp_double);
	printf("samples %u\nmissing %u\nmedian_ms %.2f\np99_ms %.2f\n"
	       "max_ms %.2f\n",
	       count, missing, lat[(count - 1) / 2],
	       lat[(size_t)ceil(count * 0.99) - 1], lat[count - 1]);
	r = 0;
out:
	free(t_sent);
	free(lat);
	free(seen);
	km_maps_close(&m);
	return r;
}
