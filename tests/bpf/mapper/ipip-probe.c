// SPDX-License-Identifier: GPL-2.0-only
/*
 * ipip-probe: the two ends of mapper-netns.sh without a kernel tunnel.
 *
 *   echo ADDR PORT
 *       UDP echo server (the "game server"), until SIGTERM.
 *   send SRC SPORT DST DPORT
 *       one UDP datagram from SRC:SPORT (a service address) to DST:DPORT.
 *   exchange HOST EDGE PLAYER PPORT SVC SPORT [icmp]
 *       on the edge: send IPIP (EDGE -> HOST) carrying UDP PLAYER:PPORT ->
 *       SVC:SPORT (or an ICMP echo request with id PPORT) and wait for the
 *       reply: IPIP HOST -> EDGE carrying SVC -> PLAYER with the same
 *       payload.
 *   expect HOST EDGE SVC SPORT REMOTE RPORT
 *       on the edge: wait for IPIP HOST -> EDGE carrying UDP SVC:SPORT ->
 *       REMOTE:RPORT (the default-edge path).
 *
 * Every received packet is checked by the independent verifier of
 * tests/lib (all IPv4 header and L4 checksums, outer and inner lengths).
 * Exit 0 when the expected packet arrived intact within 3 s, 1 otherwise.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kmtest.h"

#define TIMEOUT_MS 3000

static uint32_t ip_arg(const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1) {
		fprintf(stderr, "ipip-probe: '%s' is not an IPv4 address\n", s);
		exit(2);
	}
	return a.s_addr;
}

static uint16_t port_arg(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (!*s || *end || v < 1 || v > 65535) {
		fprintf(stderr, "ipip-probe: '%s' is not a port\n", s);
		exit(2);
	}
	return (uint16_t)v;
}

static int udp_bound(uint32_t addr, uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_addr.s_addr = addr,
				 .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("ipip-probe: udp bind");
		exit(1);
	}
	return fd;
}

static int cmd_echo(char **a)
{
	int fd = udp_bound(ip_arg(a[0]), port_arg(a[1]));
	struct sockaddr_in from;
	socklen_t fl;
	char buf[2048];
	ssize_t n;

	printf("ready\n");
	fflush(stdout);
	for (;;) {
		fl = sizeof(from);
		n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from,
			     &fl);
		if (n < 0)
			return 1;
		sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
	}
}

static int cmd_send(char **a)
{
	int fd = udp_bound(ip_arg(a[0]), port_arg(a[1]));
	struct sockaddr_in to = {.sin_family = AF_INET,
				 .sin_addr.s_addr = ip_arg(a[2]),
				 .sin_port = htons(port_arg(a[3]))};
	const char msg[] = "kmb5 unsolicited";

	if (sendto(fd, msg, sizeof(msg), 0, (struct sockaddr *)&to,
		   sizeof(to)) != sizeof(msg)) {
		perror("ipip-probe: send");
		return 1;
	}
	return 0;
}

static int raw_ipip(uint32_t edge)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_addr.s_addr = edge};
	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_IPIP);

	/* Bound: the kernel's outer source is EDGE. */
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("ipip-probe: raw IPIP socket");
		exit(1);
	}
	return fd;
}

struct want {
	uint32_t host, edge; /* outer src, dst */
	uint32_t src, dst;   /* inner */
	uint8_t proto;
	uint16_t sport, dport; /* UDP ports, or ICMP echo id in dport */
	const uint8_t *payload;
	size_t payload_len;
};

/* 1: this is the packet (and it is intact), 0: another one, -1: it is
 * ours but wrong. */
static int check(const uint8_t *pkt, size_t len, const struct want *w)
{
	uint8_t frame[KMT_FRAME_MAX] = {[12] = 0x08, [13] = 0x00};
	struct kmt_view v;
	char why[256];
	const uint8_t *in, *l4;

	if (len < 40 || len + 14 > sizeof(frame) || pkt[9] != IPPROTO_IPIP)
		return 0;
	in = pkt + (pkt[0] & 0xf) * 4;
	if (in + 20 > pkt + len || in[9] != w->proto ||
	    memcmp(in + 12, &w->src, 4) || memcmp(in + 16, &w->dst, 4))
		return 0;
	memcpy(frame + 14, pkt, len);
	if (kmt_verify_frame(frame, len + 14, &v, why, sizeof(why))) {
		fprintf(stderr, "ipip-probe: reply fails verification: %s\n",
			why);
		return -1;
	}
	if (memcmp(pkt + 12, &w->host, 4) || memcmp(pkt + 16, &w->edge, 4)) {
		fprintf(stderr, "ipip-probe: outer %s -> %s, want %s -> %s\n",
			kmt_ip_str(*(uint32_t *)(pkt + 12)),
			kmt_ip_str(*(uint32_t *)(pkt + 16)),
			kmt_ip_str(w->host), kmt_ip_str(w->edge));
		return -1;
	}
	l4 = frame + v.inner_l4;
	if (w->proto == IPPROTO_UDP) {
		if (ntohs(*(uint16_t *)l4) != w->sport ||
		    ntohs(*(uint16_t *)(l4 + 2)) != w->dport)
			return 0;
		l4 += 8;
	} else {
		/* echo reply, our id */
		if (l4[0] != 0 || ntohs(*(uint16_t *)(l4 + 4)) != w->dport)
			return 0;
		l4 += 8;
	}
	if (w->payload && ((size_t)(frame + len + 14 - l4) != w->payload_len ||
			   memcmp(l4, w->payload, w->payload_len))) {
		fprintf(stderr, "ipip-probe: reply payload differs\n");
		return -1;
	}
	printf("ok: IPIP %s -> %s, inner %s -> %s proto %u, checksums "
	       "verified\n",
	       kmt_ip_str(w->host), kmt_ip_str(w->edge), kmt_ip_str(w->src),
	       kmt_ip_str(w->dst), w->proto);
	return 1;
}

static int wait_for(int fd, const struct want *w)
{
	struct timespec t0, t;
	uint8_t buf[4096];
	struct pollfd p = {.fd = fd, .events = POLLIN};
	long left;
	ssize_t n;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		left = TIMEOUT_MS - ((t.tv_sec - t0.tv_sec) * 1000 +
				     (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
			fprintf(stderr,
				"ipip-probe: no reply from %s to %s "
				"within %d ms\n",
				kmt_ip_str(w->src), kmt_ip_str(w->dst),
				TIMEOUT_MS);
			return 1;
		}
		n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			continue;
		r = check(buf, (size_t)n, w);
		if (r)
			return r > 0 ? 0 : 1;
	}
}

static int cmd_exchange(char **a, int icmp)
{
	static const char msg[] = "kmb5 probe payload 0123456789";
	struct kmt_pkt p;
	uint8_t frame[KMT_FRAME_MAX];
	struct want w = {
	    .host = ip_arg(a[0]),
	    .edge = ip_arg(a[1]),
	    .src = ip_arg(a[4]),
	    .dst = ip_arg(a[2]),
	    .sport = port_arg(a[5]),
	    .dport = port_arg(a[3]),
	    .payload = (const uint8_t *)msg,
	    .payload_len = sizeof(msg),
	};
	struct sockaddr_in to = {.sin_family = AF_INET,
				 .sin_addr.s_addr = w.host};
	int fd = raw_ipip(w.edge), len;

	kmt_pkt_init(&p);
	p.ip.saddr = w.dst;
	p.ip.daddr = w.src;
	p.ip.frag = KMT_IP_DF;
	if (icmp) {
		p.l4 = IPPROTO_ICMP;
		p.icmp_type = 8;
		p.icmp_id = w.dport;
		p.icmp_seq = 1;
		w.proto = IPPROTO_ICMP;
	} else {
		p.l4 = IPPROTO_UDP;
		p.sport = w.dport;
		p.dport = w.sport;
		w.proto = IPPROTO_UDP;
	}
	if (kmt_pkt_payload(&p, msg, sizeof(msg)))
		return 1;
	len = kmt_pkt_build(&p, frame, sizeof(frame));
	if (len < 14)
		return 1;
	/* The kernel adds the outer header (protocol 4, EDGE -> HOST). */
	if (sendto(fd, frame + 14, (size_t)len - 14, 0, (struct sockaddr *)&to,
		   sizeof(to)) != len - 14) {
		perror("ipip-probe: send IPIP");
		return 1;
	}
	return wait_for(fd, &w);
}

static int cmd_expect(char **a)
{
	struct want w = {
	    .host = ip_arg(a[0]),
	    .edge = ip_arg(a[1]),
	    .src = ip_arg(a[2]),
	    .sport = port_arg(a[3]),
	    .dst = ip_arg(a[4]),
	    .dport = port_arg(a[5]),
	    .proto = IPPROTO_UDP,
	};
	int fd = raw_ipip(w.edge);

	printf("ready\n");
	fflush(stdout);
	return wait_for(fd, &w);
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "echo"))
		return cmd_echo(argv + 2);
	if (argc == 6 && !strcmp(argv[1], "send"))
		return cmd_send(argv + 2);
	if ((argc == 8 || (argc == 9 && !strcmp(argv[8], "icmp"))) &&
	    !strcmp(argv[1], "exchange"))
		return cmd_exchange(argv + 2, argc == 9);
	if (argc == 8 && !strcmp(argv[1], "expect"))
		return cmd_expect(argv + 2);
	fprintf(stderr,
		"usage: ipip-probe echo ADDR PORT\n"
		"       ipip-probe send SRC SPORT DST DPORT\n"
		"       ipip-probe exchange HOST EDGE PLAYER PPORT SVC SPORT "
		"[icmp]\n"
		"       ipip-probe expect HOST EDGE SVC SPORT REMOTE RPORT\n");
	return 2;
}
