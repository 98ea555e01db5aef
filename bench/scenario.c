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
#include "siphash.bpf.h"

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
	/* Per-source bucket and service budget on and evaluated (never
	 * refusing): the A2S figures include the limits. */
	service_spec(&svc[KMB_SVC_A2S], KMB_PORT_A2S, &lim_open, &lim_open);
	err = km_maps_from_object(&m, k->skel->obj);
	err = err ?: km_config_write(&m, &cfg);
	err = err ?: km_edge_addrs_sync(&m, &edge, 1, KM_ORIGIN_CONFIG);
	err = err ?: km_services_sync(&m, svc, KMB_SVC_MAX, KM_ORIGIN_CONFIG);
	err = err ?: service_ids(k, &m);
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

/* The A2S key of the bench (any key: the bench computes its challenge
 * like the edge does) and the cached answer's size, a realistic A2S_INFO
 * answer (name, map, folder, game, counts, version). */
#define KMB_A2S_K0 0x0706050403020100ULL
#define KMB_A2S_K1 0x0f0e0d0c0b0a0908ULL
#define KMB_A2S_EPOCH 7u
#define KMB_A2S_ANSWER 150

static uint32_t a2s_be_sum(const uint8_t *d, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i < n; i += 2)
		s += (uint32_t)d[i] << 8 | (i + 1 < n ? d[i + 1] : 0);
	return s;
}

int kmb_km_a2s(const struct kmb_km *k)
{
	struct km_a2s_key key = {
	    .k0 = KMB_A2S_K0,
	    .k1 = KMB_A2S_K1,
	    .prev_k0 = KMB_A2S_K0,
	    .prev_k1 = KMB_A2S_K1,
	    .epoch = KMB_A2S_EPOCH,
	    .key_id = 1,
	    .flags = KM_A2S_KEY_F_VALID,
	    .epoch_s = 30,
	};
	/* Fresh for the whole run: never stale, never too old. */
	struct km_a2s_cfg cfg = {
	    .flags = KM_A2S_F_ENABLED,
	    .refresh_ns = 3600 * NS_PER_S,
	    .max_age_ns = 3600 * NS_PER_S,
	    .timeout_ns = 3600 * NS_PER_S,
	};
	struct km_a2s_entry *e = calloc(1, sizeof(*e));
	__u32 id = k->svc_id[KMB_SVC_A2S], zero = 0;
	int err = 0;

	if (!e)
		return -ENOMEM;
	e->seq = 2;
	e->flags = KM_A2S_E_VALID;
	e->updated_ns = mono_ns();
	e->svc.proto = IPPROTO_UDP;
	e->svc.addr = htonl(KMB_SVC);
	e->svc.port = htons(KMB_PORT_A2S);
	e->len = KMB_A2S_ANSWER;
	memset(e->data, 0xff, 4);
	e->data[4] = 0x49;
	for (int i = 5; i < KMB_A2S_ANSWER; i++)
		e->data[i] = (uint8_t)(' ' + i % 90);
	e->csum = a2s_be_sum(e->data, KMB_A2S_ANSWER);
	if (bpf_map_update_elem(bpf_map__fd(k->skel->maps.km_a2s_key), &zero,
				&key, 0) ||
	    bpf_map_update_elem(bpf_map__fd(k->skel->maps.km_a2s_cfg), &id,
				&cfg, 0) ||
	    bpf_map_update_elem(bpf_map__fd(k->skel->maps.km_a2s_info), &id, e,
				0))
		err = km_log_errno(-errno, "cannot write the A2S maps");
	free(e);
	return err;
}

/* The edge's challenge for the template's player (docs/design.md "A2S":
 * SipHash-2-4 over player address and port, service address and port,
 * epoch). */
static uint32_t a2s_challenge(void)
{
	uint8_t m[16];
	uint32_t a = htonl(KMB_PLAYER), s = htonl(KMB_SVC), c;
	uint16_t pp = htons(40000), sp = htons(KMB_PORT_A2S);
	uint64_t m0 = 0, m1 = 0;

	memcpy(m, &a, 4);
	memcpy(m + 4, &pp, 2);
	memcpy(m + 6, &s, 4);
	memcpy(m + 10, &sp, 2);
	for (int i = 0; i < 4; i++)
		m[12 + i] = (uint8_t)(KMB_A2S_EPOCH >> (8 * i));
	for (int i = 0; i < 8; i++) {
		m0 |= (uint64_t)m[i] << (8 * i);
		m1 |= (uint64_t)m[8 + i] << (8 * i);
	}
	c = (uint32_t)km_siphash16(KMB_A2S_K0, KMB_A2S_K1, m0, m1);
	return c == 0 || c == 0xffffffffu ? 1 : c;
}

/* A2S_INFO request, with the valid challenge when `ch`; the frame is
 * padded to KMB_PKT_LEN like every template. */
static void a2s_request(struct kmt_pkt *p, bool ch)
{
	static const uint8_t info[25] = "\xff\xff\xff\xff\x54Source Engine Query";
	uint32_t c = a2s_challenge();
	uint8_t b[4];

	p->ip.saddr = htonl(KMB_PLAYER);
	p->dport = KMB_PORT_A2S;
	kmt_pkt_payload(p, info, sizeof(info));
	if (ch) {
		for (int i = 0; i < 4; i++)
			b[i] = (uint8_t)(c >> (8 * i));
		kmt_pkt_payload(p, b, 4);
	}
	p->pad = KMB_PKT_LEN - 42 - p->payload_len;
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
	case KMB_T_A2S_HIT:
	case KMB_T_A2S_CHAL:
		a2s_request(&p, t == KMB_T_A2S_HIT);
		n = kmt_pkt_build(&p, out, KMB_PKT_LEN);
		return n == KMB_PKT_LEN ? 0 : km_log_errno(-EINVAL, "A2S template");
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
