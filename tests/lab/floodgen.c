// SPDX-License-Identifier: GPL-2.0-only
/*
 * floodgen: a spoofed-source UDP flood from BPF_PROG_TEST_RUN in live-frames
 * mode (this kernel has no pktgen). One template frame is handed to the
 * kernel; floodgen.bpf.c rewrites the source address and port of each copy
 * and sends it with XDP_TX on --interface, so the frames leave through that
 * interface like received traffic bounced back (a veth: its peer needs GRO
 * or an XDP program to accept them).
 *
 *   floodgen --interface IF --dst-mac MAC --dst ADDR:PORT [--src PREFIX]
 *            [--count N] [--batch N] [--rate PPS] [--duration S]
 *            [--size BYTES]
 *
 * Addresses are confined to 198.18.0.0/15 (the benchmark range the lab
 * uses). Prints one JSON line: {"sent":N,"bad":N,"seconds":S,"pps":N}
 * ("bad": frames not of the template's shape, never expected). Exit status
 * 0, 1 when the flood failed, 2 for a bad command line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "floodgen.skel.h"
#include "log.h"

#define LAB_NET 0xc6120000U /* 198.18.0.0/15, host order */
#define LAB_MASK 0xfffe0000U
#define TEST_XDP_MAX_BATCH 256 /* kernel limit for live frames */
/* Frames are copied from a template of at most 256 bytes (floodgen.bpf.c). */
#define FLOODGEN_FRAME_MAX 256
#define FLOODGEN_MAX_SIZE (FLOODGEN_FRAME_MAX - ETH_HLEN - 20 - 8)

struct floodgen_opts {
	const char *ifname;
	const char *dst_mac;
	const char *dst;
	const char *src;
	unsigned long count;
	unsigned int batch;
	unsigned long rate;
	double duration;
	unsigned int size;
};

struct frame {
	unsigned char buf[FLOODGEN_FRAME_MAX];
	size_t len;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int in_lab(uint32_t addr_host)
{
	return (addr_host & LAB_MASK) == LAB_NET;
}

static int parse_mac(const char *s, unsigned char mac[ETH_ALEN])
{
	unsigned int b[ETH_ALEN];
	char tail;
	int i;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4],
		   &b[5], &tail) != ETH_ALEN)
		return km_log_errno(-EINVAL, "--dst-mac: bad MAC '%s'", s);
	for (i = 0; i < ETH_ALEN; i++) {
		if (b[i] > 0xff)
			return km_log_errno(-EINVAL, "--dst-mac: bad MAC '%s'",
					    s);
		mac[i] = (unsigned char)b[i];
	}
	return 0;
}

static int parse_dst(const char *s, uint32_t *addr_be, uint16_t *port_be)
{
	char buf[32], *colon, *end;
	struct in_addr a;
	unsigned long port;

	if (strlen(s) >= sizeof(buf))
		return km_log_errno(-EINVAL, "--dst: too long: '%s'", s);
	strcpy(buf, s);
	colon = strchr(buf, ':');
	if (!colon)
		return km_log_errno(-EINVAL,
				    "--dst: expected ADDR:PORT, got '%s'", s);
	*colon = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || !colon[1] || port == 0 || port > 65535)
		return km_log_errno(-EINVAL, "--dst: bad port in '%s'", s);
	if (inet_pton(AF_INET, buf, &a) != 1)
		return km_log_errno(-EINVAL, "--dst: bad IPv4 address in '%s'",
				    s);
	if (!in_lab(ntohl(a.s_addr)))
		return km_log_errno(-EINVAL,
				    "--dst: %s is outside 198.18.0.0/15", buf);
	*addr_be = a.s_addr;
	*port_be = htons((uint16_t)port);
	return 0;
}

static int parse_prefix(const char *s, uint32_t *base, uint32_t *hostmask)
{
	char buf[32], *slash, *end;
	unsigned long len = 32;
	struct in_addr a;
	uint32_t mask;

	if (strlen(s) >= sizeof(buf))
		return km_log_errno(-EINVAL, "--src: too long: '%s'", s);
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash) {
		*slash = '\0';
		errno = 0;
		len = strtoul(slash + 1, &end, 10);
		if (errno || *end || !slash[1] || len > 32)
			return km_log_errno(
			    -EINVAL, "--src: bad prefix length in '%s'", s);
	}
	if (inet_pton(AF_INET, buf, &a) != 1)
		return km_log_errno(-EINVAL, "--src: bad IPv4 address in '%s'",
				    s);
	mask = len ? ~0U << (32 - len) : 0;
	*base = ntohl(a.s_addr) & mask;
	*hostmask = ~mask;
	if (len < 15 || !in_lab(*base))
		return km_log_errno(-EINVAL,
				    "--src: %s is not inside 198.18.0.0/15", s);
	return 0;
}

static uint16_t csum16(const void *p, size_t len, uint32_t sum)
{
	const unsigned char *b = p;

	for (; len > 1; len -= 2, b += 2)
		sum += (uint32_t)(b[0] << 8 | b[1]);
	if (len)
		sum += (uint32_t)b[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static int if_mac(const char *ifname, unsigned char mac[ETH_ALEN])
{
	struct ifreq ifr = {0};
	int fd, r = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return km_log_errno(-errno, "socket: %m");
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr))
		r = km_log_errno(-errno, "%s: cannot read MAC address: %m",
				 ifname);
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	close(fd);
	return r;
}

/* Template UDP/IPv4 frame with valid checksums; floodgen.bpf.c rewrites the
 * source of each copy. */
static void frame_build(struct frame *f, const unsigned char src_mac[ETH_ALEN],
			const unsigned char dst_mac[ETH_ALEN],
			uint32_t saddr_be, uint32_t daddr_be, uint16_t dport_be,
			unsigned int size)
{
	struct ethhdr *eth = (struct ethhdr *)f->buf;
	struct iphdr *ip = (struct iphdr *)(eth + 1);
	struct udphdr *udp = (struct udphdr *)(ip + 1);
	unsigned char *payload = (unsigned char *)(udp + 1);
	uint32_t pseudo;
	unsigned int i;

	memset(f->buf, 0, sizeof(f->buf));
	memcpy(eth->h_dest, dst_mac, ETH_ALEN);
	memcpy(eth->h_source, src_mac, ETH_ALEN);
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = htons(20 + 8 + size);
	ip->id = htons(0x4b4d);
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->saddr = saddr_be;
	ip->daddr = daddr_be;
	ip->check = htons(csum16(ip, 20, 0));
	udp->source = htons(1024);
	udp->dest = dport_be;
	udp->len = htons(8 + size);
	for (i = 0; i < size; i++)
		payload[i] = "kilimanjaro-floodgen "[i % 21];
	pseudo = (ntohl(saddr_be) >> 16) + (ntohl(saddr_be) & 0xffff) +
		 (ntohl(daddr_be) >> 16) + (ntohl(daddr_be) & 0xffff) +
		 IPPROTO_UDP + 8 + size;
	udp->check = htons(csum16(udp, 8 + size, pseudo));
	if (!udp->check)
		udp->check = 0xffff;
	f->len = ETH_HLEN + 20 + 8 + size;
}

static int flood(struct floodgen_bpf *skel, int ifindex, struct frame *f,
		 const struct floodgen_opts *o)
{
	struct xdp_md ctx = {.data_end = (__u32)f->len,
			     .ingress_ifindex = (__u32)ifindex};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f->buf,
		    .data_size_in = (__u32)f->len, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx),
		    .flags = BPF_F_TEST_XDP_LIVE_FRAMES,
		    .batch_size = o->batch);
	int prog_fd = bpf_program__fd(skel->progs.floodgen_rewrite);
	uint64_t start = now_ns(), deadline, t, due;
	unsigned long done = 0, chunk;
	int r;

	deadline = start + (uint64_t)(o->duration * 1e9);
	/* Every BPF_PROG_TEST_RUN call costs ~25 ms here (the live-frames
	 * memory model is torn down with an RCU grace period), so calls are
	 * few: chunks of 1/5 s at the capped rate, or 64k frames. */
	chunk = o->rate ? (o->rate / 5 ? o->rate / 5 : 1) : 65536;
	while (done < o->count && (t = now_ns()) < deadline) {
		if (o->rate) {
			due = start + (uint64_t)((double)done * 1e9 / o->rate);
			if (due > t) {
				struct timespec ts = {
				    .tv_sec =
					(time_t)((due - t) / 1000000000ULL),
				    .tv_nsec =
					(long)((due - t) % 1000000000ULL),
				};

				nanosleep(&ts, NULL);
				continue;
			}
		}
		opts.repeat =
		    (__u32)(o->count - done < chunk ? o->count - done : chunk);
		r = bpf_prog_test_run_opts(prog_fd, &opts);
		if (r)
			return km_log_errno(
			    -errno, "BPF_PROG_TEST_RUN (live frames) on %s: %m",
			    o->ifname);
		done += opts.repeat;
	}
	printf("{\"sent\":%llu,\"bad\":%llu,\"seconds\":%.3f,\"pps\":%.0f}\n",
	       (unsigned long long)skel->bss->frames_tx,
	       (unsigned long long)skel->bss->frames_bad,
	       (double)(now_ns() - start) / 1e9,
	       (double)skel->bss->frames_tx * 1e9 /
		   (double)(now_ns() - start + 1));
	fflush(stdout);
	return 0;
}

static int run(const struct floodgen_opts *o)
{
	unsigned char src_mac[ETH_ALEN], dst_mac[ETH_ALEN];
	uint32_t base = 0, hostmask = 0, daddr = 0;
	struct floodgen_bpf *skel;
	struct frame f;
	uint16_t dport = 0;
	int ifindex, r;

	if (!o->ifname || !o->dst || !o->dst_mac)
		return km_log_errno(
		    -EINVAL, "--interface, --dst-mac and --dst are required");
	if ((r = parse_mac(o->dst_mac, dst_mac)) ||
	    (r = parse_dst(o->dst, &daddr, &dport)) ||
	    (r = parse_prefix(o->src, &base, &hostmask)))
		return r;
	if (o->batch == 0 || o->batch > TEST_XDP_MAX_BATCH)
		return km_log_errno(-EINVAL, "--batch must be 1..%d",
				    TEST_XDP_MAX_BATCH);
	if (o->size < 1 || o->size > FLOODGEN_MAX_SIZE)
		return km_log_errno(-EINVAL, "--size must be 1..%d",
				    FLOODGEN_MAX_SIZE);
	ifindex = (int)if_nametoindex(o->ifname);
	if (!ifindex)
		return km_log_errno(-ENODEV, "--interface %s: %m", o->ifname);
	r = if_mac(o->ifname, src_mac);
	if (r)
		return r;

	skel = floodgen_bpf__open();
	if (!skel)
		return km_log_errno(-errno, "opening floodgen.bpf.o: %m");
	skel->rodata->src_base = base;
	skel->rodata->src_hostmask = hostmask;
	frame_build(&f, src_mac, dst_mac, htonl(base), daddr, dport, o->size);
	memcpy((void *)skel->rodata->tmpl, f.buf, sizeof(f.buf));
	skel->rodata->tmpl_len = (__u32)f.len;
	r = floodgen_bpf__load(skel);
	if (r) {
		km_err("loading floodgen.bpf.o: %s", strerror(-r));
		goto out;
	}
	r = flood(skel, ifindex, &f, o);
out:
	floodgen_bpf__destroy(skel);
	return r;
}

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: floodgen --interface IF --dst-mac MAC --dst ADDR:PORT "
	    "[options]\n"
	    "  --interface IF   send through this interface (XDP_TX)\n"
	    "  --dst-mac MAC    next hop's MAC address\n"
	    "  --dst ADDR:PORT  UDP destination (inside 198.18.0.0/15)\n"
	    "  --src PREFIX     random sources from here (default "
	    "198.18.0.0/15)\n"
	    "  --count N        frames to send (default 1000000)\n"
	    "  --batch N        frames per kernel batch, 1..256 (default 64)\n"
	    "  --rate PPS       cap the rate (default 0: as fast as possible)\n"
	    "  --duration S     stop after S seconds at the latest (default "
	    "60)\n"
	    "  --size BYTES     UDP payload size, 1..%d (default 32)\n",
	    FLOODGEN_MAX_SIZE);
}

static int parse_ulong(const char *name, const char *s, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	if (errno || *end || !*s || *s == '-')
		return km_log_errno(-EINVAL, "%s: not a number: '%s'", name, s);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"interface", required_argument, NULL, 'i'},
	    {"dst-mac", required_argument, NULL, 'm'},
	    {"dst", required_argument, NULL, 'd'},
	    {"src", required_argument, NULL, 's'},
	    {"count", required_argument, NULL, 'c'},
	    {"batch", required_argument, NULL, 'b'},
	    {"rate", required_argument, NULL, 'r'},
	    {"duration", required_argument, NULL, 't'},
	    {"size", required_argument, NULL, 'z'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct floodgen_opts o = {
	    .src = "198.18.0.0/15",
	    .count = 1000000,
	    .batch = 64,
	    .duration = 60,
	    .size = 32,
	};
	unsigned long v;
	char *end;
	int c, r = 0;

	km_log_init("floodgen", LOG_INFO);
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			o.ifname = optarg;
			break;
		case 'm':
			o.dst_mac = optarg;
			break;
		case 'd':
			o.dst = optarg;
			break;
		case 's':
			o.src = optarg;
			break;
		case 'c':
			r = parse_ulong("--count", optarg, &o.count);
			break;
		case 'r':
			r = parse_ulong("--rate", optarg, &o.rate);
			break;
		case 'b':
		case 'z':
			r = parse_ulong(c == 'b' ? "--batch" : "--size", optarg,
					&v);
			if (!r && v > 65535)
				r = km_log_errno(-EINVAL, "%s: too large",
						 c == 'b' ? "--batch"
							  : "--size");
			if (c == 'b')
				o.batch = (unsigned int)v;
			else
				o.size = (unsigned int)v;
			break;
		case 't':
			o.duration = strtod(optarg, &end);
			if (*end || !*optarg || !(o.duration > 0) ||
			    o.duration > 600)
				r = km_log_errno(
				    -EINVAL, "--duration: '%s' is not 0..600 s",
				    optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
		if (r)
			return 2;
	}
	if (optind != argc) {
		km_err("unexpected argument '%s'", argv[optind]);
		return 2;
	}
	r = run(&o);
	/* 2: the command line was wrong (every -EINVAL comes from checking
	 * it); 1: the flood failed. */
	return r == -EINVAL ? 2 : r ? 1 : 0;
}
