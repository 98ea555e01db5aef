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
#include "maps.h"

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
	err = find_fd(k, KM_MAP_CONFIG, &k->fd_config);
	err = err ?: find_fd(k, KM_MAP_STATS, &k->fd_stats);
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

/* Generous enough that nothing on the forward path is ever refused, yet
 * every bucket is evaluated (a rate of 0 would switch it off). */
static const struct km_limit lim_open = {
    .pps = 50000000,
    .burst_pkts = 5000000,
    .bps = 10000000000ULL,
    .burst_bytes = 1000000000ULL,
};
/* A rate that is on; the runs that need it refused spend the bucket
 * (kmb_km_spend_*). The service-wide rate is divided among the CPUs by
 * lib/maps.c, so it must stay > 0 after that. */
static const struct km_limit lim_low = {.pps = 1000, .burst_pkts = 1};

static void service_spec(struct km_service_spec *s, uint16_t port,
			 const struct km_limit *src, const struct km_limit *tot)
{
	memset(s, 0, sizeof(*s));
	s->proto = IPPROTO_UDP;
	s->addr = htonl(KMB_SVC);
	s->port = htons(port);
	s->backend = htonl(KMB_BACKEND);
	s->unvalidated = *src;
	s->validated = lim_open;
	s->total = *tot;
	s->icmp = lim_open;
}

/* The ids lib/maps.c gave the services. */
static int service_ids(struct kmb_km *k, const struct km_maps *m)
{
	static const uint16_t port[KMB_SVC_MAX] = {
	    [KMB_SVC_FWD] = KMB_PORT_FWD,
	    [KMB_SVC_FLOOD] = KMB_PORT_FLOOD,
	    [KMB_SVC_RL] = KMB_PORT_RL,
	    [KMB_SVC_A2S] = KMB_PORT_A2S,
	};
	struct km_service v;
	int err;

	for (int i = 0; i < KMB_SVC_MAX; i++) {
		err = km_service_get(m, IPPROTO_UDP, htonl(KMB_SVC),
				     htons(port[i]), &v);
		if (err)
			return km_log_errno(err, "service %u not installed",
					    port[i]);
		k->svc_id[i] = v.id;
	}
	return 0;
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

static int cmp_prefix(const void *a, const void *b)
{
	const struct km_prefix_key *x = a, *y = b;

	if (x->addr != y->addr)
		return ntohl(x->addr) < ntohl(y->addr) ? -1 : 1;
	return (x->prefixlen > y->prefixlen) - (x->prefixlen < y->prefixlen);
}

/* Exactly KMB_PREFIXES distinct prefixes into v: the nfirst of `first`,
 * then random ones. */
static void fill_list(struct km_prefix_key *v,
		      const struct km_prefix_key *first, size_t nfirst,
		      unsigned int *seed)
{
	size_t n, u;

	for (n = 0; n < nfirst; n++)
		v[n] = first[n];
	for (;;) {
		while (n < KMB_PREFIXES)
			v[n++] = random_prefix(seed);
		qsort(v, n, sizeof(*v), cmp_prefix);
		for (u = 1, n = 1; u < KMB_PREFIXES; u++)
			if (cmp_prefix(&v[u], &v[n - 1]))
				v[n++] = v[u];
		if (n == KMB_PREFIXES)
			return;
	}
}

static int populate_lists(const struct km_maps *m, uint32_t seed)
{
	const struct km_prefix_key deny[] = {
	    {.prefixlen = 24, .addr = htonl(KMB_DENY_NET)},
	    {.prefixlen = 32, .addr = htonl(KMB_DENY_HOST)},
	};
	struct km_prefix_key *allow_v, *deny_v;
	unsigned int s = seed;
	int err = -ENOMEM;

	allow_v = calloc(KMB_PREFIXES, sizeof(*allow_v));
	deny_v = calloc(KMB_PREFIXES, sizeof(*deny_v));
	if (allow_v && deny_v) {
		fill_list(deny_v, deny, 2, &s);
		fill_list(allow_v, NULL, 0, &s);
		err = km_prefixes_sync(m, allow_v, KMB_PREFIXES, deny_v,
				       KMB_PREFIXES, KM_ORIGIN_CONFIG);
	}
	free(allow_v);
	free(deny_v);
	return err;
}

/* Through lib/maps.c, as the loader does: the derived maps (km_svc_rev,
 * ...), the lists' bitmaps and km_config.lib_flags are what production
 * packets see. */
int kmb_km_populate(struct kmb_km *k, uint32_t seed)
{
	struct km_config cfg = {
	    .abi_version = KM_ABI_VERSION,
	    .edge_addr = htonl(KMB_EDGE),
	    .punch_idle_ns = 60 * NS_PER_S,
	    .validated_idle_ns = 600 * NS_PER_S,
	    /* One bucket per address, so that each flood packet is from
	     * a source without state (bench/README.md). */
	    .rl_prefix_len = 32,
	};
	struct km_service_spec svc[KMB_SVC_MAX];
	uint32_t edge = htonl(KMB_EDGE);
	struct km_maps m = {};
	int err;

	service_spec(&svc[KMB_SVC_FWD], KMB_PORT_FWD, &lim_open, &lim_open);
	service_spec(&svc[KMB_SVC_FLOOD], KMB_PORT_FLOOD, &lim_open, &lim_low);
	service_spec(&svc[KMB_SVC_RL], KMB_PORT_RL, &lim_low, &lim_open);
	service_spec(&svc[KMB_SVC_A2S], KMB_PORT_A2S, &lim_open, &lim_open);
	kmb_a2s_cfg(&svc[KMB_SVC_A2S].a2s);
	err = km_maps_from_object(&m, k->skel->obj);
	err = err ?: km_config_write(&m, &cfg);
	err = err ?: km_edge_addrs_sync(&m, &edge, 1, KM_ORIGIN_CONFIG);
	err = err ?: km_services_sync(&m, svc, KMB_SVC_MAX, KM_ORIGIN_CONFIG);
	err = err ?: service_ids(k, &m);
	err = err ?: kmb_a2s_populate(k);
	err = err ?: populate_lists(&m, seed);
	/* No operator block: lets lib/maps.c record that the map is empty. */
	err = err ?: km_blocks_sync(&m, NULL, 0, KM_ORIGIN_CONFIG);
	km_maps_close(&m);
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
	    .service_id = k->svc_id[KMB_SVC_RL],
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
	__u32 id = k->svc_id[KMB_SVC_FLOOD];
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
	case KMB_T_DENY_HOST:
		p.ip.saddr = htonl(KMB_DENY_HOST);
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
	case KMB_T_DECAP_MANY:
		/* kmb_gen rewrites the player (inner destination) and
		 * patches the inner IPv4 checksum only. */
		p.flags |= KMT_F_UDP_CSUM_ZERO;
		p.ip.daddr = htonl(KMB_PLAYERS_BASE);
		p.ipip = 1;
		p.outer.saddr = htonl(KMB_BACKEND);
		p.outer.daddr = htonl(KMB_EDGE);
		p.ip.saddr = htonl(KMB_SVC);
		p.sport = KMB_PORT_FWD;
		p.dport = 40000;
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
	case KMB_T_A2S_HIT:
	case KMB_T_A2S_CHAL:
		break;
	default:
		return -EINVAL;
	}
	hdr = 14 + 20 + 8 + (p.ipip ? 20 : 0);
	if (t == KMB_T_A2S_HIT || t == KMB_T_A2S_CHAL)
		n = kmb_a2s_template(&p);
	else
		n = kmt_pkt_payload_fill(&p, KMB_PKT_LEN - hdr);
	if (n)
		return km_log_errno(n, "template %d: payload", t);
	/* The same request without its challenge (the last 4 bytes), the
	 * frame padded back to its length. */
	if (t == KMB_T_A2S_CHAL) {
		p.payload_len -= 4;
		p.pad += 4;
	}
	n = kmt_pkt_build(&p, out, KMB_PKT_LEN);
	if (n != KMB_PKT_LEN)
		return km_log_errno(n < 0 ? n : -EINVAL,
				    "template %d: built %d bytes, want %d", t,
				    n, KMB_PKT_LEN);
	return 0;
}
