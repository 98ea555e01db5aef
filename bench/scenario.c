// SPDX-License-Identifier: GPL-2.0-only
/*
 * The state the benchmark runs against, written field by field from
 * bpf/kilimanjaro_abi.h (docs/design.md defines the derived maps), and the
 * template frames of each scenario.
 */
#include "kmbench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "kilimanjaro.skel.h"
#include "kmtest.h"
#include "log.h"

#define NS_PER_S 1000000000ULL
/* Far enough that a bucket "spent" before a run stays spent through it. */
#define KMB_SPENT_NS (1000 * NS_PER_S)

static int find_fd(struct kmb_km *k, const char *name, int *fd)
{
	struct bpf_map *m = bpf_object__find_map_by_name(k->skel->obj, name);

	if (!m)
		return km_log_errno(-ENOENT,
				    "kilimanjaro.bpf.o has no map %s: the XDP "
				    "program is not the real one yet",
				    name);
	*fd = bpf_map__fd(m);
	return 0;
}

int kmb_km_open(struct kmb_km *k)
{
	struct bpf_map *rl;
	int err;

	memset(k, 0, sizeof(*k));
	k->ncpus = libbpf_num_possible_cpus();
	if (k->ncpus < 1)
		return km_log_errno(k->ncpus, "cannot count possible CPUs");
	k->skel = kilimanjaro__open();
	if (!k->skel)
		return km_log_errno(-errno, "cannot open kilimanjaro.bpf.o");
	/* Fewer buckets than flood sources: every flood packet is from a
	 * source the program holds no state for (bench/README.md). */
	rl = bpf_object__find_map_by_name(k->skel->obj, KM_MAP_RL_SRC);
	if (!rl) {
		err = km_log_errno(-ENOENT,
				   "kilimanjaro.bpf.o has no map %s: the XDP "
				   "program is not the real one yet",
				   KM_MAP_RL_SRC);
		goto fail;
	}
	err = bpf_map__set_max_entries(rl, KMB_RL_SRC_ENTRIES);
	if (err) {
		km_log_errno(err, "cannot size %s", KM_MAP_RL_SRC);
		goto fail;
	}
	err = kilimanjaro__load(k->skel);
	if (err) {
		km_log_errno(err, "cannot load kilimanjaro.bpf.o");
		goto fail;
	}
	k->prog_fd = bpf_program__fd(k->skel->progs.km_xdp);
	err = find_fd(k, KM_MAP_STATS, &k->fd_stats);
	err = err ?: find_fd(k, KM_MAP_RL_SRC, &k->fd_rl_src);
	err = err ?: find_fd(k, KM_MAP_RL_TOTAL, &k->fd_rl_total);
	if (err)
		goto fail;
	return 0;
fail:
	kmb_km_close(k);
	return err;
}

void kmb_km_close(struct kmb_km *k)
{
	if (k->skel)
		kilimanjaro__destroy(k->skel);
	k->skel = NULL;
}

struct bpf_object *kmb_km_obj(const struct kmb_km *k)
{
	return k->skel->obj;
}

static int put(struct kmb_km *k, const char *map, const void *key,
	       const void *val, uint64_t flags)
{
	int fd = -1, err;

	err = find_fd(k, map, &fd);
	if (err)
		return err;
	if (bpf_map_update_elem(fd, key, val, flags))
		return -errno;
	return 0;
}

static int put_logged(struct kmb_km *k, const char *map, const void *key,
		      const void *val)
{
	int err = put(k, map, key, val, BPF_ANY);

	if (err)
		km_err("cannot write %s: %s", map, strerror(-err));
	return err;
}

/* Generous enough that nothing on the forward path is ever refused, yet
 * every bucket is evaluated (a rate of 0 would switch it off). */
static const struct km_limit lim_open = {
    .pps = 50000000,
    .burst_pkts = 5000000,
    .bps = 10000000000ULL,
    .burst_bytes = 1000000000ULL,
};
static const struct km_limit lim_one = {.pps = 1, .burst_pkts = 1};

static int add_service(struct kmb_km *k, uint16_t port, uint32_t id,
		       const struct km_limit *src, const struct km_limit *tot)
{
	struct km_service_key key = {
	    .proto = IPPROTO_UDP,
	    .port = htons(port),
	    .addr = htonl(KMB_SVC),
	};
	struct km_service val = {
	    .id = id,
	    .backend = htonl(KMB_BACKEND),
	    .origin = KM_ORIGIN_CONFIG,
	};
	struct km_svc_cfg cfg = {
	    .unvalidated = *src,
	    .validated = lim_open,
	    .total = *tot,
	    .icmp = lim_open,
	};
	int err;

	err = put_logged(k, KM_MAP_SVC_CFG, &id, &cfg);
	return err ?: put_logged(k, KM_MAP_SERVICES, &key, &val);
}

/* The derived maps for the three services at KMB_SVC, all on one backend. */
static int add_derived(struct kmb_km *k)
{
	__be32 svc = htonl(KMB_SVC), be = htonl(KMB_BACKEND);
	struct km_svc_addr sa = {.icmp_service_id = 0, .services = 3};
	struct km_backend_svc_key bk = {.backend = be, .svc_addr = svc};
	__u32 n = 3;
	int err;

	err = put_logged(k, KM_MAP_SVC_ADDRS, &svc, &sa);
	err = err ?: put_logged(k, KM_MAP_BACKENDS, &be, &n);
	return err ?: put_logged(k, KM_MAP_BACKEND_SVC, &bk, &n);
}

/* A random prefix /16../32 outside 198.18.0.0/15, host bits zero. */
static struct km_prefix_key random_prefix(unsigned int *seed)
{
	struct km_prefix_key p;
	uint32_t a;

	do {
		a = (uint32_t)rand_r(seed) << 16 ^ (uint32_t)rand_r(seed);
	} while ((a & 0xfffe0000u) == (KMB_EDGE & 0xfffe0000u));
	p.prefixlen = 16 + (uint32_t)rand_r(seed) % 17;
	if (p.prefixlen < 32)
		a &= ~(0xffffffffu >> p.prefixlen);
	p.addr = htonl(a);
	return p;
}

/* Exactly `n` distinct prefixes (the first one given, if any). */
static int fill_list(struct kmb_km *k, const char *map,
		     const struct km_prefix_key *first, unsigned int n,
		     unsigned int *seed)
{
	struct km_prefix_val v = {.origin = KM_ORIGIN_CONFIG};
	struct km_prefix_key p;
	unsigned int done = 0;
	int err;

	if (first) {
		err = put(k, map, first, &v, BPF_NOEXIST);
		if (err)
			return km_log_errno(err, "cannot write %s", map);
		done++;
	}
	while (done < n) {
		p = random_prefix(seed);
		err = put(k, map, &p, &v, BPF_NOEXIST);
		if (err == -EEXIST)
			continue;
		if (err)
			return km_log_errno(err, "cannot write %s (%u entries)",
					    map, done);
		done++;
	}
	return 0;
}

int kmb_km_populate(struct kmb_km *k, uint32_t seed)
{
	struct km_config cfg = {
	    .abi_version = KM_ABI_VERSION,
	    .active_lists = 0,
	    .edge_addr = htonl(KMB_EDGE),
	    .punch_idle_ns = 60 * NS_PER_S,
	    .validated_idle_ns = 600 * NS_PER_S,
	    /* One bucket per address, so that each flood packet is from
	     * a source without state (bench/README.md). */
	    .rl_prefix_len = 32,
	};
	struct km_prefix_key deny = {
	    .prefixlen = 24,
	    .addr = htonl(KMB_DENY_NET),
	};
	struct km_edge_addr ea = {.origin = KM_ORIGIN_CONFIG};
	__be32 edge = htonl(KMB_EDGE);
	unsigned int s = seed;
	__u32 zero = 0;
	int err;

	err = put_logged(k, KM_MAP_CONFIG, &zero, &cfg);
	err = err ?: put_logged(k, KM_MAP_EDGE_ADDRS, &edge, &ea);
	err = err
		  ?: add_service(k, KMB_PORT_FWD, KMB_SVC_FWD, &lim_open,
				 &lim_open);
	err = err
		  ?: add_service(k, KMB_PORT_FLOOD, KMB_SVC_FLOOD, &lim_open,
				 &lim_one);
	err =
	    err ?: add_service(k, KMB_PORT_RL, KMB_SVC_RL, &lim_one, &lim_open);
	err = err ?: add_derived(k);
	err = err ?: fill_list(k, KM_MAP_DENY_A, &deny, KMB_PREFIXES, &s);
	err = err ?: fill_list(k, KM_MAP_ALLOW_A, NULL, KMB_PREFIXES, &s);
	return err;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

int kmb_km_spend_source(const struct kmb_km *k)
{
	struct km_rl_key key = {
	    .service_id = KMB_SVC_RL,
	    .prefix = htonl(KMB_RL_SRC),
	    .kind = 0,
	};
	struct km_bucket b = {.tat_pkts = mono_ns() + KMB_SPENT_NS};

	if (bpf_map_update_elem(k->fd_rl_src, &key, &b, BPF_ANY))
		return km_log_errno(-errno, "cannot write %s", KM_MAP_RL_SRC);
	return 0;
}

int kmb_km_spend_service(const struct kmb_km *k)
{
	struct km_bucket *b;
	__u32 id = KMB_SVC_FLOOD;
	uint64_t until = mono_ns() + KMB_SPENT_NS;
	int err = 0;

	b = calloc((size_t)k->ncpus, sizeof(*b));
	if (!b)
		return -ENOMEM;
	for (int c = 0; c < k->ncpus; c++)
		b[c].tat_pkts = until;
	if (bpf_map_update_elem(k->fd_rl_total, &id, b, BPF_ANY))
		err = km_log_errno(-errno, "cannot write %s", KM_MAP_RL_TOTAL);
	free(b);
	return err;
}

int kmb_template(enum kmb_tmpl t, uint8_t out[KMB_PKT_LEN])
{
	static struct kmt_pkt p;
	size_t hdr;
	int n;

	kmt_pkt_init(&p);
	p.ip.daddr = htonl(KMB_SVC);
	p.sport = 40000;
	switch (t) {
	case KMB_T_FORWARD:
		p.ip.saddr = htonl(KMB_PLAYER);
		p.dport = KMB_PORT_FWD;
		break;
	case KMB_T_FORWARD_VAL:
		p.ip.saddr = htonl(KMB_PLAYER_RET);
		p.dport = KMB_PORT_FWD;
		break;
	case KMB_T_DENY:
		p.ip.saddr = htonl(KMB_DENY_SRC);
		p.dport = KMB_PORT_FWD;
		break;
	case KMB_T_RL:
		p.ip.saddr = htonl(KMB_RL_SRC);
		p.dport = KMB_PORT_RL;
		break;
	case KMB_T_FLOOD:
		p.ip.saddr = htonl(KMB_FLOOD_BASE);
		p.dport = KMB_PORT_FLOOD;
		/* kmb_gen rewrites the source and patches the IPv4 checksum
		 * only: "no UDP checksum" stays valid for every source. */
		p.flags |= KMT_F_UDP_CSUM_ZERO;
		break;
	case KMB_T_DECAP:
		p.ipip = 1;
		p.outer.saddr = htonl(KMB_BACKEND);
		p.outer.daddr = htonl(KMB_EDGE);
		p.ip.saddr = htonl(KMB_SVC);
		p.ip.daddr = htonl(KMB_PLAYER_RET);
		p.sport = KMB_PORT_FWD;
		p.dport = 40000;
		break;
	default:
		return -EINVAL;
	}
	hdr = 14 + 20 + 8 + (p.ipip ? 20 : 0);
	kmt_pkt_payload_fill(&p, KMB_PKT_LEN - hdr);
	n = kmt_pkt_build(&p, out, KMB_PKT_LEN);
	if (n != KMB_PKT_LEN)
		return km_log_errno(n < 0 ? n : -EINVAL,
				    "template %d: built %d bytes, want %d", t,
				    n, KMB_PKT_LEN);
	return 0;
}
