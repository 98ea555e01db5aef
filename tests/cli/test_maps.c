// SPDX-License-Identifier: GPL-2.0-only
/*
 * lib/maps.c against the maps of the real XDP object (loaded, never
 * attached). Every check reads the maps back through bpf syscalls, not
 * through the function under test.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <criterion/criterion.h>

#include "kilimanjaro.skel.h"
#include "lib/log.h"
#include "lib/maps.h"

static struct kilimanjaro *skel;
static struct km_maps m;

static void setup(void)
{
	struct km_config cfg = {.abi_version = KM_ABI_VERSION,
				.rl_prefix_len = 24};

	km_log_init("test-maps", LOG_CRIT);
	skel = kilimanjaro__open_and_load();
	cr_assert_not_null(skel, "cannot load the XDP object: %s",
			   strerror(errno));
	cr_assert_eq(km_maps_from_object(&m, skel->obj), 0);
	cr_assert_eq(km_config_write(&m, &cfg), 0);
}

static void teardown(void)
{
	char dir[64], path[128];

	/* Pins of a test that failed half-way. */
	snprintf(dir, sizeof(dir), "/sys/fs/bpf/kmb4-%d", getpid());
	for (int i = 0; i < KM_M_MAX; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, km_map_names[i]);
		unlink(path);
	}
	rmdir(dir);
	km_maps_close(&m);
	kilimanjaro__destroy(skel);
}

TestSuite(maps, .init = setup, .fini = teardown);

static uint32_t ip(const char *s)
{
	struct in_addr a;

	cr_assert_eq(inet_pton(AF_INET, s, &a), 1, "%s", s);
	return a.s_addr;
}

static struct km_service_spec svc(const char *addr, int port,
				  const char *backend)
{
	return (struct km_service_spec){.proto = IPPROTO_UDP,
					.addr = ip(addr),
					.port = htons(port),
					.backend = ip(backend)};
}

static uint32_t svc_id(const char *addr, int port)
{
	struct km_service_key k = {
	    .proto = IPPROTO_UDP, .port = htons(port), .addr = ip(addr)};
	struct km_service v;

	cr_assert_eq(bpf_map_lookup_elem(m.fd[KM_M_SERVICES], &k, &v), 0,
		     "service %s:%d missing", addr, port);
	return v.id;
}

static bool has_key(enum km_map_id id, const void *k)
{
	uint8_t v[256];

	return !bpf_map_lookup_elem(m.fd[id], k, v);
}

static long count(enum km_map_id id)
{
	uint8_t k[64], *pk = NULL;
	long n = 0;

	while (!bpf_map_get_next_key(m.fd[id], pk, k)) {
		pk = k;
		n++;
	}
	return n;
}

Test(maps, ids_are_the_lowest_unused_over_every_origin)
{
	struct km_service_spec a = svc("198.18.10.1", 1000, "198.18.2.2"),
			       b = svc("198.18.10.1", 1001, "198.18.2.2"),
			       c = svc("198.18.10.1", 1002, "198.18.2.2"),
			       d = svc("198.18.10.9", 1003, "198.18.2.2");

	cr_assert_eq(km_service_put(&m, &a, KM_ORIGIN_CONFIG), 0);
	cr_assert_eq(km_service_put(&m, &b, KM_ORIGIN_CLI), 0);
	cr_assert_eq(km_service_put(&m, &c, KM_ORIGIN_CONFIG), 0);
	cr_assert_eq(svc_id("198.18.10.1", 1000), 0);
	cr_assert_eq(svc_id("198.18.10.1", 1001), 1);
	cr_assert_eq(svc_id("198.18.10.1", 1002), 2);
	cr_assert_eq(
	    km_service_del(&m, IPPROTO_UDP, a.addr, a.port, KM_ORIGIN_CONFIG),
	    0);
	cr_assert_eq(km_service_put(&m, &d, KM_ORIGIN_CONTROLLER), 0);
	cr_assert_eq(svc_id("198.18.10.9", 1003), 0);
	/* Replacing keeps the id. */
	c.backend = ip("198.18.2.3");
	cr_assert_eq(km_service_put(&m, &c, KM_ORIGIN_CONFIG), 0);
	cr_assert_eq(svc_id("198.18.10.1", 1002), 2);
}

Test(maps, origin_rules)
{
	struct km_service_spec a = svc("198.18.10.1", 1000, "198.18.2.2");

	cr_assert_eq(km_service_put(&m, &a, KM_ORIGIN_CONFIG), 0);
	cr_assert_eq(km_service_put(&m, &a, KM_ORIGIN_CLI), -EEXIST);
	cr_assert_eq(
	    km_service_del(&m, IPPROTO_UDP, a.addr, a.port, KM_ORIGIN_CLI),
	    -EPERM);
	cr_assert_eq(
	    km_service_del(&m, IPPROTO_UDP, a.addr, htons(9), KM_ORIGIN_CLI),
	    -ENOENT);
	cr_assert_eq(
	    km_service_del(&m, IPPROTO_UDP, a.addr, a.port, KM_ORIGIN_CONFIG),
	    0);
	cr_assert_eq(count(KM_M_SERVICES), 0);
}

Test(maps, derived_maps_follow_services)
{
	struct km_service_spec a = svc("198.18.10.1", 1000, "198.18.2.2"),
			       b = svc("198.18.10.1", 1001, "198.18.2.3"),
			       c = svc("198.18.10.2", 1000, "198.18.2.2");
	struct km_backend_svc_key k1 = {ip("198.18.2.2"), ip("198.18.10.1")},
				  k2 = {ip("198.18.2.3"), ip("198.18.10.1")},
				  k3 = {ip("198.18.2.2"), ip("198.18.10.2")};
	struct km_svc_addr sa;
	uint32_t n, addr = ip("198.18.10.1"), be = ip("198.18.2.2");

	cr_assert_eq(km_service_put(&m, &a, KM_ORIGIN_CONFIG), 0);
	cr_assert_eq(km_service_put(&m, &b, KM_ORIGIN_CLI), 0);
	cr_assert_eq(km_service_put(&m, &c, KM_ORIGIN_CONFIG), 0);
	cr_assert_eq(bpf_map_lookup_elem(m.fd[KM_M_SVC_ADDRS], &addr, &sa), 0);
	cr_assert_eq(sa.services, 2);
	cr_assert_eq(sa.icmp_service_id, 0);
	cr_assert_eq(bpf_map_lookup_elem(m.fd[KM_M_BACKENDS], &be, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert(has_key(KM_M_BACKEND_SVC, &k1) &&
		  has_key(KM_M_BACKEND_SVC, &k2) &&
		  has_key(KM_M_BACKEND_SVC, &k3));
	cr_assert_eq(count(KM_M_SVC_ADDRS), 2);
	cr_assert_eq(count(KM_M_BACKENDS), 2);
	cr_assert_eq(count(KM_M_BACKEND_SVC), 3);

	/* The lowest id at the address goes away: icmp moves to the next. */
	cr_assert_eq(
	    km_service_del(&m, IPPROTO_UDP, a.addr, a.port, KM_ORIGIN_CONFIG),
	    0);
	cr_assert_eq(bpf_map_lookup_elem(m.fd[KM_M_SVC_ADDRS], &addr, &sa), 0);
	cr_assert_eq(sa.services, 1);
	cr_assert_eq(sa.icmp_service_id, 1);
	cr_assert_not(has_key(KM_M_BACKEND_SVC, &k1));
	cr_assert_eq(bpf_map_lookup_elem(m.fd[KM_M_BACKENDS], &be, &n), 0);
	cr_assert_eq(n, 1);

	/* Moving a service to another backend moves its derived entries. */
	c.backend = ip("198.18.2.3");
	cr_assert_eq(km_service_put(&m, &c, KM_ORIGIN_CONFIG), 0);
	cr_assert_not(has_key(KM_M_BACKENDS, &be));
	cr_assert_not(has_key(KM_M_BACKEND_SVC, &k3));

	cr_assert_eq(km_services_sync(&m, NULL, 0, KM_ORIGIN_CONFIG), 0);
	cr_assert_eq(
	    km_service_del(&m, IPPROTO_UDP, b.addr, b.port, KM_ORIGIN_CLI), 0);
	cr_assert_eq(count(KM_M_SVC_ADDRS), 0);
	cr_assert_eq(count(KM_M_BACKENDS), 0);
	cr_assert_eq(count(KM_M_BACKEND_SVC), 0);
}

static struct km_svc_rev_key rkey(const char *addr, int port,
				  const char *backend)
{
	return (struct km_svc_rev_key){.proto = IPPROTO_UDP,
				       .port = htons(port),
				       .svc_addr = ip(addr),
				       .backend = ip(backend)};
}

static void expect_rev(struct km_svc_rev_key k, uint32_t id, int svc_port)
{
	struct km_svc_rev v;

	cr_assert_eq(bpf_map_lookup_elem(m.fd[KM_M_SVC_REV], &k, &v), 0,
		     "no km_svc_rev entry for port %u", ntohs(k.port));
	cr_assert_eq(v.id, id);
	cr_assert_eq(v.svc_port, htons(svc_port));
}

Test(maps, svc_rev_keys_are_what_the_backend_answers_from)
{
	struct km_service_spec a = svc("198.18.10.1", 27015, "198.18.2.2"),
			       b = svc("198.18.10.1", 27016, "198.18.2.2"),
			       c = svc("198.18.10.1", 27017, "198.18.2.3");

	b.backend_port = htons(28016);
	c.backend_port = htons(28016); /* same port, another backend */
	cr_assert_eq(km_service_put(&m, &a, KM_ORIGIN_CONFIG), 0);
	cr_assert_eq(km_service_put(&m, &b, KM_ORIGIN_CONFIG), 0);
	cr_assert_eq(km_service_put(&m, &c, KM_ORIGIN_CLI), 0);
	cr_assert_eq(count(KM_M_SVC_REV), 3);
	expect_rev(rkey("198.18.10.1", 27015, "198.18.2.2"),
		   svc_id("198.18.10.1", 27015), 27015);
	expect_rev(rkey("198.18.10.1", 28016, "198.18.2.2"),
		   svc_id("198.18.10.1", 27016), 27016);
	expect_rev(rkey("198.18.10.1", 28016, "198.18.2.3"),
		   svc_id("198.18.10.1", 27017), 27017);

	/* a new backend port moves the key */
	b.backend_port = htons(28500);
	cr_assert_eq(km_service_put(&m, &b, KM_ORIGIN_CONFIG), 0);
	cr_assert_eq(count(KM_M_SVC_REV), 3);
	expect_rev(rkey("198.18.10.1", 28500, "198.18.2.2"),
		   svc_id("198.18.10.1", 27016), 27016);

	/* two services answered from one (backend, port) are refused before
	 * anything changes, in a put and in a sync */
	a.backend_port = htons(28500);
	cr_assert_eq(km_service_put(&m, &a, KM_ORIGIN_CONFIG), -EEXIST);
	expect_rev(rkey("198.18.10.1", 27015, "198.18.2.2"),
		   svc_id("198.18.10.1", 27015), 27015);
	{
		struct km_service_spec s2[] = {a, b};

		cr_assert_eq(km_services_sync(&m, s2, 2, KM_ORIGIN_CONFIG),
			     -EEXIST);
		/* swapping the two backend ports in one sync is fine */
		s2[0].backend_port = htons(28501);
		s2[1].backend_port = htons(28500);
		cr_assert_eq(km_services_sync(&m, s2, 2, KM_ORIGIN_CONFIG), 0);
		s2[0].backend_port = htons(28500);
		s2[1].backend_port = htons(28501);
		cr_assert_eq(km_services_sync(&m, s2, 2, KM_ORIGIN_CONFIG), 0);
	}
	expect_rev(rkey("198.18.10.1", 28500, "198.18.2.2"),
		   svc_id("198.18.10.1", 27015), 27015);
	expect_rev(rkey("198.18.10.1", 28501, "198.18.2.2"),
		   svc_id("198.18.10.1", 27016), 27016);
	cr_assert_eq(count(KM_M_SVC_REV), 3);

	cr_assert_eq(km_services_sync(&m, NULL, 0, KM_ORIGIN_CONFIG), 0);
	cr_assert_eq(count(KM_M_SVC_REV), 1);
	cr_assert_eq(
	    km_service_del(&m, IPPROTO_UDP, c.addr, c.port, KM_ORIGIN_CLI), 0);
	cr_assert_eq(count(KM_M_SVC_REV), 0);
}

Test(maps, total_budget_is_divided_by_cpus_rounding_up)
{
	struct km_service_spec a = svc("198.18.10.1", 1000, "198.18.2.2");
	uint64_t n = m.ncpus;
	struct km_svc_cfg cfg;
	uint32_t id;

	a.total = (struct km_limit){.pps = 1001,
				    .burst_pkts = 1,
				    .bps = 10000001,
				    .burst_bytes = 3001,
				    .block_ms = 500};
	a.unvalidated = (struct km_limit){.pps = 7, .burst_pkts = 9};
	cr_assert_eq(km_service_put(&m, &a, KM_ORIGIN_CONFIG), 0);
	id = svc_id("198.18.10.1", 1000);
	cr_assert_eq(bpf_map_lookup_elem(m.fd[KM_M_SVC_CFG], &id, &cfg), 0);
	cr_assert_eq(cfg.total.pps, (1001 + n - 1) / n);
	cr_assert_eq(cfg.total.burst_pkts, 1); /* never rounds to 0 */
	cr_assert_eq(cfg.total.bps, (10000001 + n - 1) / n);
	cr_assert_eq(cfg.total.burst_bytes, (3001 + n - 1) / n);
	cr_assert_eq(cfg.total.block_ms, 500);
	cr_assert_eq(cfg.unvalidated.pps, 7,
		     "per-source limits are not divided");
	cr_assert_eq(cfg.unvalidated.burst_pkts, 9);
	/* The packet cost the data plane would divide for, of the rate it
	 * applies (the per-CPU share for the budget). */
	cr_assert_eq(cfg.total.ns_per_pkt, 1000000000ULL / cfg.total.pps);
	cr_assert_eq(cfg.unvalidated.ns_per_pkt, 1000000000ULL / 7);
	cr_assert_eq(cfg.validated.ns_per_pkt, 0, "no rate, no cost");
}

Test(maps, a_reused_id_starts_from_zero)
{
	struct km_service_spec a = svc("198.18.10.1", 1000, "198.18.2.2"),
			       b = svc("198.18.10.5", 2000, "198.18.2.9");
	size_t sz = m.ncpus * sizeof(struct km_svc_stat);
	struct km_svc_stat *st = calloc(1, sz), out;
	struct km_validated_key vk = {0, ip("198.18.7.7")};
	struct km_validated vv = {.last_seen_ns = 1};
	uint32_t id = 0;

	cr_assert_eq(km_service_put(&m, &a, KM_ORIGIN_CONFIG), 0);
	for (int c = 0; c < m.ncpus; c++)
		st[c].rx_packets = 5;
	cr_assert_eq(bpf_map_update_elem(m.fd[KM_M_SVC_STATS], &id, st, 0), 0);
	cr_assert_eq(bpf_map_update_elem(m.fd[KM_M_VALIDATED], &vk, &vv, 0), 0);
	cr_assert_eq(km_svc_stat_read(&m, 0, &out), 0);
	cr_assert_eq(out.rx_packets, 5ull * m.ncpus);
	cr_assert_eq(
	    km_service_del(&m, IPPROTO_UDP, a.addr, a.port, KM_ORIGIN_CONFIG),
	    0);
	cr_assert_eq(km_service_put(&m, &b, KM_ORIGIN_CLI), 0);
	cr_assert_eq(svc_id("198.18.10.5", 2000), 0);
	cr_assert_eq(km_svc_stat_read(&m, 0, &out), 0);
	cr_assert_eq(out.rx_packets, 0);
	cr_assert_not(
	    has_key(KM_M_VALIDATED, &vk),
	    "validated players of the old service must not carry over");
	free(st);
}

Test(maps, services_sync_touches_only_its_origin)
{
	struct km_service_spec cli = svc("198.18.10.1", 1000, "198.18.2.2");
	struct km_service_spec cfg[2] = {
	    svc("198.18.10.1", 1001, "198.18.2.2"),
	    svc("198.18.10.1", 1002, "198.18.2.2")};
	struct km_service_spec clash[2] = {
	    svc("198.18.10.1", 1003, "198.18.2.2"),
	    svc("198.18.10.1", 1000, "198.18.2.7")};

	cr_assert_eq(km_service_put(&m, &cli, KM_ORIGIN_CLI), 0);
	cr_assert_eq(km_services_sync(&m, cfg, 2, KM_ORIGIN_CONFIG), 0);
	cr_assert_eq(count(KM_M_SERVICES), 3);
	cr_assert_eq(km_services_sync(&m, cfg + 1, 1, KM_ORIGIN_CONFIG), 0);
	cr_assert_eq(count(KM_M_SERVICES), 2);
	cr_assert_eq(svc_id("198.18.10.1", 1000), 0);
	cr_assert_eq(svc_id("198.18.10.1", 1002), 2);
	/* A clash with another origin changes nothing at all. */
	cr_assert_eq(km_services_sync(&m, clash, 2, KM_ORIGIN_CONFIG), -EEXIST);
	cr_assert_eq(count(KM_M_SERVICES), 2);
	cr_assert_eq(svc_id("198.18.10.1", 1002), 2);
}

static struct km_prefix_key pfx(const char *a, int len)
{
	return (struct km_prefix_key){.prefixlen = len, .addr = ip(a)};
}

static int origin_in(enum km_map_id id, struct km_prefix_key k)
{
	struct km_prefix_val v;

	/* Exact entries only: the LPM lookup of an exact key finds it. */
	if (bpf_map_lookup_elem(m.fd[id], &k, &v))
		return -1;
	return v.origin;
}

/* The map packets read for list l now, and the other one. */
static enum km_map_id act(enum km_list l)
{
	enum km_map_id id;

	cr_assert_eq(km_prefix_active_map(&m, l, &id), 0);
	return id;
}

static enum km_map_id ina(enum km_list l)
{
	enum km_map_id id = act(l);

	return id == KM_M_ALLOW_A   ? KM_M_ALLOW_B
	       : id == KM_M_ALLOW_B ? KM_M_ALLOW_A
	       : id == KM_M_DENY_A  ? KM_M_DENY_B
				    : KM_M_DENY_A;
}

static uint32_t active_lists(void)
{
	struct km_config cfg;

	cr_assert_eq(km_config_read(&m, &cfg), 0);
	return cfg.active_lists;
}

Test(maps, prefix_single_edits_flip_the_pair)
{
	struct km_prefix_key a = pfx("10.0.0.0", 8), b = pfx("10.1.0.0", 16);
	struct km_prefix_key bad = pfx("10.1.0.1", 16);
	uint32_t pair = active_lists();

	cr_assert_eq(km_prefix_add(&m, KM_LIST_ALLOW, &a, KM_ORIGIN_CONFIG), 0);
	cr_assert_eq(active_lists(), !pair, "a single add flips");
	cr_assert_eq(origin_in(act(KM_LIST_ALLOW), a), KM_ORIGIN_CONFIG);
	cr_assert_eq(km_prefix_add(&m, KM_LIST_ALLOW, &bad, KM_ORIGIN_CLI),
		     -EINVAL);
	cr_assert_eq(km_prefix_add(&m, KM_LIST_ALLOW, &a, KM_ORIGIN_CLI),
		     -EEXIST);
	/* the same entry again changes nothing, not even the pair */
	cr_assert_eq(km_prefix_add(&m, KM_LIST_ALLOW, &a, KM_ORIGIN_CONFIG), 0);
	cr_assert_eq(active_lists(), !pair);
	/* 10.1/16 is covered by 10/8 but not an entry of its own. */
	cr_assert_eq(km_prefix_del(&m, KM_LIST_ALLOW, &b, KM_ORIGIN_CLI),
		     -ENOENT);
	cr_assert_eq(km_prefix_del(&m, KM_LIST_ALLOW, &a, KM_ORIGIN_CLI),
		     -EPERM);
	cr_assert_eq(active_lists(), !pair, "refused edits do not flip");
	cr_assert_eq(km_prefix_add(&m, KM_LIST_DENY, &b, KM_ORIGIN_CLI), 0);
	cr_assert_eq(origin_in(act(KM_LIST_DENY), b), KM_ORIGIN_CLI);
	cr_assert_eq(origin_in(act(KM_LIST_ALLOW), a), KM_ORIGIN_CONFIG,
		     "the other list is carried over");
	cr_assert_eq(count(ina(KM_LIST_ALLOW)) + count(ina(KM_LIST_DENY)), 0,
		     "the old pair is cleared");
	cr_assert_eq(km_prefix_del(&m, KM_LIST_DENY, &b, KM_ORIGIN_CLI), 0);
	cr_assert_eq(count(act(KM_LIST_DENY)), 0);
	cr_assert_eq(count(act(KM_LIST_ALLOW)), 1);
	cr_assert_eq(count(ina(KM_LIST_ALLOW)) + count(ina(KM_LIST_DENY)), 0);
}

/* Host-order address to a /32 key of the trie. */
static bool trie_hit(enum km_map_id id, uint32_t a)
{
	struct km_prefix_key k = {.prefixlen = 32, .addr = htonl(a)};
	struct km_prefix_val v;

	return !bpf_map_lookup_elem(m.fd[id], &k, &v);
}

static unsigned int bm_state(enum km_list l, uint32_t a)
{
	unsigned int st;

	cr_assert_eq(km_prefix_bitmap_state(&m, l, active_lists(), htonl(a),
					    &st),
		     0);
	return st;
}

/* The bitmap never contradicts the trie: NONE only where the trie misses,
 * ALL only where it hits. */
static void agree(uint32_t a)
{
	unsigned int st = bm_state(KM_LIST_DENY, a);
	bool hit = trie_hit(act(KM_LIST_DENY), a);

	cr_assert(st != KM_BM_NONE || !hit, "%08x: bitmap none, trie hit", a);
	cr_assert(st != KM_BM_ALL || hit, "%08x: bitmap all, trie miss", a);
}

/* Edges of a prefix and its neighbours, then random addresses. */
static void agree_around(const struct km_prefix_key *k, unsigned int *seed)
{
	uint32_t base = ntohl(k->addr),
		 last = base | (uint32_t)(0xffffffffull >> k->prefixlen);

	agree(base);
	agree(last);
	agree(base - 1);
	agree(last + 1);
	agree(base + (last - base) / 2);
	for (int i = 0; i < 8; i++)
		agree(base + (uint32_t)((uint64_t)rand_r(seed) *
					(uint64_t)rand_r(seed) %
					((uint64_t)last - base + 1)));
}

Test(maps, bitmap_and_trie_agree_for_every_prefix_length)
{
	unsigned int seed = 9;

	for (int len = 0; len <= 32; len++) {
		uint32_t a = 0xc6130000u | 0x0000a5c3u; /* 198.19.165.195 */
		struct km_prefix_key k = {.prefixlen = len};
		unsigned int st;

		a &= len ? ~0u << (32 - len) : 0;
		k.addr = htonl(a);
		cr_assert_eq(
		    km_prefixes_sync(&m, NULL, 0, &k, 1, KM_ORIGIN_CONFIG), 0);
		agree_around(&k, &seed);
		st = bm_state(KM_LIST_DENY, a);
		/* what makes it fast: no trie lookup outside longer prefixes */
		cr_assert_eq(st, len <= 24 ? KM_BM_ALL : KM_BM_TRIE, "/%d", len);
		if (len >= 8)
			cr_assert_eq(bm_state(KM_LIST_DENY, a ^ 0x01000000u),
				     KM_BM_NONE, "/%d: another /8", len);
		for (int i = 0; i < 64; i++)
			agree((uint32_t)rand_r(&seed) << 16 ^
			      (uint32_t)rand_r(&seed));
	}
}

Test(maps, bitmap_longer_prefixes_inside_a_partly_covered_24)
{
	struct km_prefix_key k[] = {
	    pfx("198.19.7.0", 25),   pfx("198.19.7.200", 32),
	    pfx("198.19.7.224", 28), pfx("198.19.8.0", 24),
	    pfx("198.19.8.64", 26), /* inside a whole /24: still all */
	    pfx("198.20.0.0", 16),   pfx("198.20.3.3", 32),
	};
	const size_t n = sizeof(k) / sizeof(k[0]);
	unsigned int seed = 7;

	cr_assert_eq(km_prefixes_sync(&m, NULL, 0, k, n, KM_ORIGIN_CONFIG), 0);
	cr_assert_eq(bm_state(KM_LIST_DENY, ntohl(ip("198.19.7.1"))),
		     KM_BM_TRIE);
	cr_assert_eq(bm_state(KM_LIST_DENY, ntohl(ip("198.19.8.1"))),
		     KM_BM_ALL);
	cr_assert_eq(bm_state(KM_LIST_DENY, ntohl(ip("198.20.3.1"))),
		     KM_BM_ALL);
	cr_assert_eq(bm_state(KM_LIST_DENY, ntohl(ip("198.19.9.1"))),
		     KM_BM_NONE);
	for (uint32_t a = ntohl(ip("198.19.6.250"));
	     a <= ntohl(ip("198.19.9.5")); a++)
		agree(a);
	for (size_t i = 0; i < n; i++)
		agree_around(&k[i], &seed);
	cr_assert(trie_hit(act(KM_LIST_DENY), ntohl(ip("198.19.7.127"))));
	cr_assert(!trie_hit(act(KM_LIST_DENY), ntohl(ip("198.19.7.128"))));
	cr_assert(trie_hit(act(KM_LIST_DENY), ntohl(ip("198.19.7.200"))));
	cr_assert(!trie_hit(act(KM_LIST_DENY), ntohl(ip("198.19.7.201"))));

	/* a single delete flips to a rebuilt pair: /25 gone, /24 now none
	 * but for the /32 and the /28 */
	cr_assert_eq(km_prefix_del(&m, KM_LIST_DENY, &k[0], KM_ORIGIN_CONFIG),
		     0);
	cr_assert_eq(bm_state(KM_LIST_DENY, ntohl(ip("198.19.7.1"))),
		     KM_BM_TRIE);
	agree(ntohl(ip("198.19.7.1")));
	cr_assert_eq(km_prefix_del(&m, KM_LIST_DENY, &k[1], KM_ORIGIN_CONFIG),
		     0);
	cr_assert_eq(km_prefix_del(&m, KM_LIST_DENY, &k[2], KM_ORIGIN_CONFIG),
		     0);
	cr_assert_eq(bm_state(KM_LIST_DENY, ntohl(ip("198.19.7.1"))),
		     KM_BM_NONE);
	cr_assert_eq(bm_state(KM_LIST_ALLOW, ntohl(ip("198.19.8.1"))),
		     KM_BM_NONE, "the allow list is empty");
}

Test(maps, bitmap_rebuild_in_place_for_tries_written_directly)
{
	struct km_prefix_key k = pfx("198.19.44.0", 22);
	struct km_prefix_val v = {.origin = KM_ORIGIN_CONFIG};

	/* a fresh bitmap says "ask the trie" everywhere */
	cr_assert_eq(bm_state(KM_LIST_ALLOW, ntohl(ip("198.19.44.1"))),
		     KM_BM_TRIE);
	cr_assert_eq(
	    bpf_map_update_elem(m.fd[act(KM_LIST_ALLOW)], &k, &v, BPF_ANY), 0);
	cr_assert_eq(km_prefix_bitmaps_rebuild(&m), 0);
	cr_assert_eq(bm_state(KM_LIST_ALLOW, ntohl(ip("198.19.47.255"))),
		     KM_BM_ALL);
	cr_assert_eq(bm_state(KM_LIST_ALLOW, ntohl(ip("198.19.48.0"))),
		     KM_BM_NONE);
}

Test(maps, prefix_sync_flips_and_keeps_other_origins)
{
	struct km_prefix_key cli = pfx("198.18.3.0", 24),
			     old = pfx("198.18.0.0", 24),
			     nw[2] = {pfx("198.18.4.0", 24), pfx("0.0.0.0", 0)},
			     dn = pfx("198.18.9.9", 32);
	struct km_config cfg;
	uint32_t pair;

	cr_assert_eq(km_prefixes_sync(&m, &old, 1, NULL, 0, KM_ORIGIN_CONFIG),
		     0);
	cr_assert_eq(active_lists(), 1);
	cr_assert_eq(km_prefix_add(&m, KM_LIST_ALLOW, &cli, KM_ORIGIN_CLI), 0);
	cr_assert_eq(origin_in(act(KM_LIST_ALLOW), cli), KM_ORIGIN_CLI);
	cr_assert_eq(origin_in(act(KM_LIST_ALLOW), old), KM_ORIGIN_CONFIG);

	pair = active_lists();
	cr_assert_eq(km_prefixes_sync(&m, nw, 2, &dn, 1, KM_ORIGIN_CONFIG), 0);
	cr_assert_eq(km_config_read(&m, &cfg), 0);
	cr_assert_eq(cfg.active_lists, !pair);
	cr_assert_eq(cfg.abi_version, KM_ABI_VERSION,
		     "the flip keeps the rest");
	cr_assert_eq(origin_in(act(KM_LIST_ALLOW), cli), KM_ORIGIN_CLI);
	cr_assert_eq(origin_in(act(KM_LIST_ALLOW), nw[0]), KM_ORIGIN_CONFIG);
	cr_assert_eq(origin_in(act(KM_LIST_ALLOW), nw[1]), KM_ORIGIN_CONFIG);
	cr_assert_eq(origin_in(act(KM_LIST_DENY), dn), KM_ORIGIN_CONFIG);
	cr_assert_eq(count(act(KM_LIST_ALLOW)), 3,
		     "the old config entry is gone");
	cr_assert_eq(count(ina(KM_LIST_ALLOW)) + count(ina(KM_LIST_DENY)), 0,
		     "the old pair is cleared");
}

Test(maps, blocks_and_punches)
{
	struct km_punch_key k = {.proto = IPPROTO_UDP,
				 .svc_addr = ip("198.18.10.1"),
				 .remote = ip("198.18.7.7"),
				 .svc_port = htons(40000),
				 .remote_port = htons(5000)};
	struct km_block_spec bs = {ip("198.18.5.6"),
				   km_mono_ns() + 1000000000ull};
	uint32_t a = ip("198.18.5.5");
	struct km_punch p;
	struct km_block b;

	cr_assert_eq(
	    km_block_put(&m, a, km_mono_ns() + 60000000000ull, KM_ORIGIN_CLI),
	    0);
	cr_assert_eq(bpf_map_lookup_elem(m.fd[KM_M_BLOCKS], &a, &b), 0);
	cr_assert_eq(b.origin, KM_ORIGIN_CLI);
	cr_assert_eq(km_block_put(&m, a, km_mono_ns() + 1, KM_ORIGIN_CONFIG),
		     -EEXIST);
	cr_assert_eq(km_block_del(&m, a, KM_ORIGIN_CONFIG), -EPERM);
	cr_assert_eq(km_blocks_sync(&m, &bs, 1, KM_ORIGIN_CONFIG), 0);
	cr_assert_eq(count(KM_M_BLOCKS), 2);
	cr_assert_eq(km_blocks_sync(&m, NULL, 0, KM_ORIGIN_CONFIG), 0);
	cr_assert_eq(count(KM_M_BLOCKS), 1);
	cr_assert_eq(km_block_del(&m, a, KM_ORIGIN_CLI), 0);
	cr_assert_eq(km_block_del(&m, a, KM_ORIGIN_CLI), -ENOENT);

	cr_assert_eq(km_punch_put(&m, &k, ip("198.18.2.2"), KM_ORIGIN_LEARNED),
		     0);
	cr_assert_eq(km_punch_put(&m, &k, ip("198.18.2.3"), KM_ORIGIN_CLI),
		     -EEXIST);
	cr_assert_eq(bpf_map_lookup_elem(m.fd[KM_M_PUNCHES], &k, &p), 0);
	cr_assert_eq(p.backend, ip("198.18.2.2"));
	cr_assert_gt(p.last_seen_ns, 0);
	cr_assert_eq(km_punch_del(&m, &k), 0);
	cr_assert_eq(km_punch_del(&m, &k), -ENOENT);
}

static uint8_t lib_flags(void)
{
	struct km_config c;
	uint32_t k = 0;

	cr_assert_eq(bpf_map_lookup_elem(m.fd[KM_M_CONFIG], &k, &c), 0);
	return c.lib_flags;
}

Test(maps, no_blocks_flag_follows_block_edits)
{
	struct km_block_spec bs = {ip("198.18.5.6"),
				   km_mono_ns() + 60000000000ull};
	uint32_t a = ip("198.18.5.5");
	struct km_config c;

	/* a fresh map: 0, the data plane looks */
	cr_assert_eq(lib_flags() & KM_LIB_F_NO_BLOCKS, 0);
	cr_assert_eq(km_blocks_sync(&m, NULL, 0, KM_ORIGIN_CONFIG), 0);
	cr_assert_eq(lib_flags() & KM_LIB_F_NO_BLOCKS, KM_LIB_F_NO_BLOCKS);
	cr_assert_eq(
	    km_block_put(&m, a, km_mono_ns() + 60000000000ull, KM_ORIGIN_CLI),
	    0);
	cr_assert_eq(lib_flags() & KM_LIB_F_NO_BLOCKS, 0);
	cr_assert_eq(km_blocks_sync(&m, &bs, 1, KM_ORIGIN_CONFIG), 0);
	cr_assert_eq(km_block_del(&m, a, KM_ORIGIN_CLI), 0);
	cr_assert_eq(lib_flags() & KM_LIB_F_NO_BLOCKS, 0, "one block left");

	/* a reload's config write cannot put back a stale flag or list */
	cr_assert_eq(km_config_read(&m, &c), 0);
	c.lib_flags = KM_LIB_F_NO_BLOCKS;
	c.active_lists = 1;
	c.punch_idle_ns = 123;
	cr_assert_eq(km_config_write(&m, &c), 0);
	cr_assert_eq(lib_flags() & KM_LIB_F_NO_BLOCKS, 0);
	cr_assert_eq(km_config_read(&m, &c), 0);
	cr_assert_eq(c.active_lists, 0);
	cr_assert_eq(c.punch_idle_ns, 123);

	cr_assert_eq(km_blocks_sync(&m, NULL, 0, KM_ORIGIN_CONFIG), 0);
	cr_assert_eq(lib_flags() & KM_LIB_F_NO_BLOCKS, KM_LIB_F_NO_BLOCKS);
}

static uint16_t svc_epoch(void)
{
	struct km_config c;

	cr_assert_eq(km_config_read(&m, &c), 0);
	return c.svc_epoch;
}

Test(maps, every_service_change_bumps_svc_epoch)
{
	struct km_service_spec a = svc("198.18.10.1", 1000, "198.18.2.2");
	struct km_config c;
	uint16_t e = svc_epoch();

	cr_assert_eq(km_service_put(&m, &a, KM_ORIGIN_CLI), 0);
	cr_assert_neq(svc_epoch(), e, "put");
	e = svc_epoch();
	cr_assert_eq(km_services_sync(&m, &a, 1, KM_ORIGIN_CONFIG), -EEXIST);
	cr_assert_eq(svc_epoch(), e, "a refused sync changes nothing");
	cr_assert_eq(
	    km_service_del(&m, IPPROTO_UDP, a.addr, a.port, KM_ORIGIN_CLI), 0);
	cr_assert_neq(svc_epoch(), e, "del");
	e = svc_epoch();
	cr_assert_eq(km_services_sync(&m, &a, 1, KM_ORIGIN_CONFIG), 0);
	cr_assert_neq(svc_epoch(), e, "sync");
	e = svc_epoch();
	/* a reload's config write keeps it */
	cr_assert_eq(km_config_read(&m, &c), 0);
	c.svc_epoch = (uint16_t)(e + 100);
	cr_assert_eq(km_config_write(&m, &c), 0);
	cr_assert_eq(svc_epoch(), e);
}

Test(maps, stats_are_summed_over_cpus)
{
	struct km_stat *st = calloc(m.ncpus, sizeof(*st));
	uint64_t *cn = calloc(m.ncpus, sizeof(*cn));
	struct km_stat out[KM_R_MAX];
	uint64_t cout[KM_C_MAX];
	uint32_t r = KM_R_DROP_DENIED, c = KM_C_PUNCH_LEARNED;

	for (int i = 0; i < m.ncpus; i++) {
		st[i] = (struct km_stat){i + 1, 100 * (i + 1)};
		cn[i] = 7;
	}
	cr_assert_eq(bpf_map_update_elem(m.fd[KM_M_STATS], &r, st, 0), 0);
	cr_assert_eq(bpf_map_update_elem(m.fd[KM_M_COUNTERS], &c, cn, 0), 0);
	cr_assert_eq(km_stats_read(&m, out), 0);
	cr_assert_eq(km_counters_read(&m, cout), 0);
	cr_assert_eq(out[r].packets, (uint64_t)m.ncpus * (m.ncpus + 1) / 2);
	cr_assert_eq(out[r].bytes, 100ull * m.ncpus * (m.ncpus + 1) / 2);
	cr_assert_eq(out[KM_R_FWD_SERVICE].packets, 0);
	cr_assert_eq(cout[c], 7ull * m.ncpus);
	free(st);
	free(cn);
}

Test(maps, names)
{
	uint8_t o;

	cr_assert_str_eq(km_reason_name(KM_R_DROP_DENIED), "drop_denied");
	cr_assert_str_eq(km_reason_name(KM_R_FWD_SERVICE), "fwd_service");
	cr_assert_str_eq(km_reason_name(KM_R_MAX), "unknown");
	for (unsigned int r = 0; r < KM_R_MAX; r++)
		cr_assert_str_neq(km_reason_name(r), "unknown", "reason %u", r);
	for (unsigned int c = 0; c < KM_C_MAX; c++)
		cr_assert_str_neq(km_counter_name(c), "unknown", "counter %u",
				  c);
	cr_assert_str_eq(km_counter_name(KM_C_PUNCH_LEARNED), "punch_learned");
	cr_assert_eq(km_origin_parse("controller", &o), 0);
	cr_assert_eq(o, KM_ORIGIN_CONTROLLER);
	cr_assert_str_eq(km_origin_name(o), "controller");
	cr_assert_eq(km_origin_parse("bogus", &o), -EINVAL);
}

Test(maps, open_pinned_names_the_missing_pin)
{
	char dir[64], path[128];
	struct km_maps p;

	snprintf(dir, sizeof(dir), "/sys/fs/bpf/kmb4-%d", getpid());
	cr_assert_eq(mkdir(dir, 0700), 0, "%s: %s", dir, strerror(errno));
	for (int i = 0; i < KM_M_MAX; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, km_map_names[i]);
		cr_assert_eq(bpf_obj_pin(m.fd[i], path), 0);
	}
	cr_assert_eq(km_maps_open_pinned(&p, dir), 0);
	cr_assert_eq(km_map_count(&p, KM_M_SERVICES), 0);
	km_maps_close(&p);
	snprintf(path, sizeof(path), "%s/%s", dir, KM_MAP_PUNCHES);
	unlink(path);
	cr_assert_eq(km_maps_open_pinned(&p, dir), -ENOENT);
	for (int i = 0; i < KM_M_MAX; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, km_map_names[i]);
		unlink(path);
	}
	cr_assert_eq(rmdir(dir), 0);
}

Test(maps, edge_addrs_sync_touches_only_its_origin)
{
	uint32_t a[2] = {ip("198.18.0.2"), ip("198.18.0.3")};
	uint32_t other = ip("198.18.0.9");
	struct km_edge_addr v = {.origin = KM_ORIGIN_CONTROLLER};

	cr_assert_eq(bpf_map_update_elem(m.fd[KM_M_EDGE_ADDRS], &other, &v, 0),
		     0);
	cr_assert_eq(km_edge_addrs_sync(&m, a, 2, KM_ORIGIN_CONFIG), 0);
	cr_assert_eq(count(KM_M_EDGE_ADDRS), 3);
	cr_assert_eq(km_edge_addrs_sync(&m, a + 1, 1, KM_ORIGIN_CONFIG), 0);
	cr_assert_not(has_key(KM_M_EDGE_ADDRS, &a[0]));
	cr_assert(has_key(KM_M_EDGE_ADDRS, &a[1]));
	cr_assert(has_key(KM_M_EDGE_ADDRS, &other));
}

Test(maps, a_sync_keeps_entries_other_origins_hold)
{
	struct km_prefix_key p = pfx("198.18.3.0", 24);
	uint32_t a = ip("198.18.5.5");
	struct km_block_spec bs = {a, km_mono_ns() + 1000000000ull};
	struct km_block b;

	cr_assert_eq(km_prefix_add(&m, KM_LIST_DENY, &p, KM_ORIGIN_CLI), 0);
	cr_assert_eq(km_prefixes_sync(&m, NULL, 0, &p, 1, KM_ORIGIN_CONFIG), 0);
	cr_assert_eq(origin_in(act(KM_LIST_DENY), p), KM_ORIGIN_CLI);
	/* Still the CLI's: the config reload that drops it does not. */
	cr_assert_eq(km_prefixes_sync(&m, NULL, 0, NULL, 0, KM_ORIGIN_CONFIG),
		     0);
	cr_assert_eq(origin_in(act(KM_LIST_DENY), p), KM_ORIGIN_CLI);

	cr_assert_eq(
	    km_block_put(&m, a, km_mono_ns() + 60000000000ull, KM_ORIGIN_CLI),
	    0);
	cr_assert_eq(km_blocks_sync(&m, &bs, 1, KM_ORIGIN_CONFIG), 0);
	cr_assert_eq(bpf_map_lookup_elem(m.fd[KM_M_BLOCKS], &a, &b), 0);
	cr_assert_eq(b.origin, KM_ORIGIN_CLI);
	/* An expired block of another origin is only waiting for removal. */
	cr_assert_eq(km_block_put(&m, a, 1, KM_ORIGIN_CLI), 0);
	cr_assert_eq(km_blocks_sync(&m, &bs, 1, KM_ORIGIN_CONFIG), 0);
	cr_assert_eq(bpf_map_lookup_elem(m.fd[KM_M_BLOCKS], &a, &b), 0);
	cr_assert_eq(b.origin, KM_ORIGIN_CONFIG);
}

/* Two processes adding services at once (loader reload and CLI) must not
 * hand out one id twice. */
Test(maps, concurrent_adds_get_distinct_ids)
{
	struct km_service_entry *s;
	uint8_t seen[KM_MAX_SERVICES] = {};
	pid_t pid[2];
	size_t n;

	for (int p = 0; p < 2; p++) {
		pid[p] = fork();
		cr_assert_geq(pid[p], 0);
		if (pid[p])
			continue;
		for (int i = 0; i < 60; i++) {
			struct km_service_spec a =
			    svc(p ? "198.18.10.2" : "198.18.10.1", 1000 + i,
				"198.18.2.2");

			if (km_service_put(
				&m, &a, p ? KM_ORIGIN_CLI : KM_ORIGIN_CONFIG))
				_exit(1);
		}
		_exit(0);
	}
	for (int p = 0; p < 2; p++) {
		int st;

		cr_assert_eq(waitpid(pid[p], &st, 0), pid[p]);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	cr_assert_eq(km_services_list(&m, &s, &n), 0);
	cr_assert_eq(n, 120);
	for (size_t i = 0; i < n; i++) {
		cr_assert_lt(s[i].val.id, KM_MAX_SERVICES);
		cr_assert_not(seen[s[i].val.id], "id %u given twice",
			      s[i].val.id);
		seen[s[i].val.id] = 1;
	}
	free(s);
}

/* ------------------------------------------------------------------ A2S */

static struct km_a2s_cfg a2s_read(uint32_t id)
{
	struct km_a2s_cfg a;

	cr_assert_eq(bpf_map_lookup_elem(m.fd[KM_M_A2S_CFG], &id, &a), 0);
	return a;
}

static struct km_service svc_val(const char *addr, int port)
{
	struct km_service_key k = {
	    .proto = IPPROTO_UDP, .port = htons(port), .addr = ip(addr)};
	struct km_service v;

	cr_assert_eq(bpf_map_lookup_elem(m.fd[KM_M_SERVICES], &k, &v), 0);
	return v;
}

static struct km_service_spec a2s_svc(const char *addr, int port,
				      uint64_t refresh_ms)
{
	struct km_service_spec s = svc(addr, port, "198.18.2.2");

	s.a2s = (struct km_a2s_cfg){.flags = KM_A2S_F_ENABLED,
				    .refresh_ns = refresh_ms * 1000000,
				    .max_age_ns = 10 * refresh_ms * 1000000,
				    .timeout_ns = 5 * refresh_ms * 1000000};
	return s;
}

Test(maps, a2s_cfg_is_written_with_the_service_and_cleared_after_it)
{
	struct km_service_spec a = a2s_svc("198.18.10.1", 27015, 1000);
	struct km_service_spec b = a2s_svc("198.18.10.1", 27016, 500);
	struct km_svc_cfg sc;
	struct km_a2s_cfg got;
	uint32_t id;

	cr_assert_eq(km_service_put(&m, &a, KM_ORIGIN_CONFIG), 0);
	id = svc_id("198.18.10.1", 27015);
	got = a2s_read(id);
	cr_assert_arr_eq(&got, &a.a2s, sizeof(got));
	cr_assert_eq(svc_val("198.18.10.1", 27015).flags, KM_SVC_F_A2S);
	cr_assert_eq(bpf_map_lookup_elem(m.fd[KM_M_SVC_CFG], &id, &sc), 0);
	cr_assert_eq(sc.flags, KM_SVC_F_A2S, "km_svc_cfg.flags mirrors it");
	cr_assert_eq(km_a2s_cfg_read(&m, id, &got), 0);
	cr_assert_eq(got.refresh_ns, 1000000000ull);

	/* Replaced with A2S off: zero config, flag gone, even if the caller
	 * set KM_SVC_F_A2S itself. */
	a.a2s = (struct km_a2s_cfg){0};
	a.flags = KM_SVC_F_A2S;
	cr_assert_eq(km_service_put(&m, &a, KM_ORIGIN_CONFIG), 0);
	got = a2s_read(id);
	cr_assert_eq(got.flags | got.refresh_ns | got.timeout_ns, 0);
	cr_assert_eq(svc_val("198.18.10.1", 27015).flags, 0);

	/* A sync that drops a service clears its entry; the kept one stays. */
	a = a2s_svc("198.18.10.1", 27015, 1000);
	cr_assert_eq(km_services_sync(&m, (struct km_service_spec[]){a, b}, 2,
				      KM_ORIGIN_CONFIG),
		     0);
	cr_assert_eq(a2s_read(svc_id("198.18.10.1", 27016)).refresh_ns,
		     500000000ull);
	id = svc_id("198.18.10.1", 27016);
	cr_assert_eq(km_services_sync(&m, &a, 1, KM_ORIGIN_CONFIG), 0);
	got = a2s_read(id);
	cr_assert_eq(got.flags | got.refresh_ns, 0, "dropped by the sync");
	cr_assert_eq(a2s_read(svc_id("198.18.10.1", 27015)).flags,
		     KM_A2S_F_ENABLED);

	/* A delete clears it too. */
	id = svc_id("198.18.10.1", 27015);
	cr_assert_eq(
	    km_service_del(&m, IPPROTO_UDP, a.addr, a.port, KM_ORIGIN_CONFIG),
	    0);
	cr_assert_eq(a2s_read(id).flags, 0);
}

Test(maps, a2s_cfg_the_data_plane_cannot_use_is_refused_before_any_write)
{
	struct km_service_spec t = a2s_svc("198.18.10.1", 27015, 1000);
	struct km_service_spec u = a2s_svc("198.18.10.1", 27016, 1000);

	t.proto = IPPROTO_TCP;
	cr_assert_eq(km_service_put(&m, &t, KM_ORIGIN_CLI), -EINVAL);
	u.a2s.timeout_ns = u.a2s.refresh_ns;
	cr_assert_eq(km_services_sync(&m, &u, 1, KM_ORIGIN_CONFIG), -EINVAL);
	u = a2s_svc("198.18.10.1", 27016, 1000);
	u.a2s.flags = KM_A2S_F_NO_CHALLENGE;
	cr_assert_eq(km_service_put(&m, &u, KM_ORIGIN_CLI), -EINVAL);
	cr_assert_eq(count(KM_M_SERVICES), 0);
	cr_assert_eq(a2s_read(0).flags, 0);
}

Test(maps, a2s_counters_of_a_new_id_start_from_zero_and_are_summed)
{
	struct km_service_spec a = a2s_svc("198.18.10.1", 27015, 1000);
	struct km_a2s_stat *st = calloc(m.ncpus, sizeof(*st)), out;
	struct km_a2s_wstat w = {.refreshes = 9, .server_down = 2}, wout;
	uint32_t id = 0;

	for (int c = 0; c < m.ncpus; c++)
		st[c] = (struct km_a2s_stat){.challenges = c + 1, .cached = 3};
	cr_assert_eq(bpf_map_update_elem(m.fd[KM_M_A2S_STATS], &id, st, 0), 0);
	cr_assert_eq(bpf_map_update_elem(m.fd[KM_M_A2S_WSTATS], &id, &w, 0), 0);
	cr_assert_eq(km_a2s_stat_read(&m, id, &out), 0);
	cr_assert_eq(out.challenges, (uint64_t)m.ncpus * (m.ncpus + 1) / 2);
	cr_assert_eq(out.cached, 3ull * m.ncpus);
	cr_assert_eq(km_a2s_wstat_read(&m, id, &wout), 0);
	cr_assert_eq(wout.refreshes, 9);
	cr_assert_eq(wout.server_down, 2);

	cr_assert_eq(km_service_put(&m, &a, KM_ORIGIN_CLI), 0);
	cr_assert_eq(svc_id("198.18.10.1", 27015), id);
	cr_assert_eq(km_a2s_stat_read(&m, id, &out), 0);
	cr_assert_eq(out.challenges | out.cached, 0);
	cr_assert_eq(km_a2s_wstat_read(&m, id, &wout), 0);
	cr_assert_eq(wout.refreshes | wout.server_down, 0);
	cr_assert_eq(km_a2s_stat_read(&m, KM_MAX_SERVICES, &out), -EINVAL);
	free(st);
}

Test(maps, a2s_cache_head_and_state)
{
	struct km_service_spec a = a2s_svc("198.18.10.1", 27015, 1000);
	struct km_service_key k = {IPPROTO_UDP, 0, a.port, a.addr};
	struct km_service_key other = {IPPROTO_UDP, 0, htons(1), a.addr};
	struct km_a2s_entry *e = calloc(1, sizeof(*e));
	struct km_a2s_head h;
	const uint64_t s = 1000000000ull, now = 100 * s;
	uint32_t id = 3;

	e->seq = 4;
	e->flags = KM_A2S_E_VALID;
	e->updated_ns = now - s / 2;
	e->svc = k;
	e->len = 120;
	cr_assert_eq(bpf_map_update_elem(m.fd[KM_M_A2S_INFO], &id, e, 0), 0);
	cr_assert_eq(km_a2s_info_head(&m, id, &h), 0);
	cr_assert_eq(h.flags, KM_A2S_E_VALID);
	cr_assert_eq(h.len, 120);
	cr_assert_eq(h.updated_ns, now - s / 2);
	cr_assert_arr_eq(&h.svc, &k, sizeof(k));
	cr_assert_eq(km_a2s_state_of(&a.a2s, &h, &k, now), KM_A2S_ST_FRESH);
	cr_assert_eq(km_a2s_state_of(&a.a2s, &h, &k, now + s), KM_A2S_ST_STALE);
	cr_assert_eq(km_a2s_state_of(&a.a2s, &h, &k, now + 10 * s),
		     KM_A2S_ST_EXPIRED);
	cr_assert_eq(
	    km_a2s_state_of(&a.a2s, &h, &other, now), KM_A2S_ST_EMPTY,
	    "an entry of another service (reused id) is not this one's");
	h.flags |= KM_A2S_E_DOWN;
	cr_assert_eq(km_a2s_state_of(&a.a2s, &h, &k, now), KM_A2S_ST_DOWN);
	h.flags = 0;
	cr_assert_eq(km_a2s_state_of(&a.a2s, &h, &k, now), KM_A2S_ST_EMPTY);
	cr_assert_str_eq(km_a2s_state_name(KM_A2S_ST_STALE), "stale");
	cr_assert_str_eq(km_a2s_state_name(KM_A2S_ST_MAX), "unknown");

	/* A worker stuck mid-write (odd seq): no header, no wrong one. */
	e->seq = 5;
	cr_assert_eq(bpf_map_update_elem(m.fd[KM_M_A2S_INFO], &id, e, 0), 0);
	cr_assert_eq(km_a2s_info_head(&m, id, &h), -EAGAIN);
	free(e);
}

static struct km_a2s_key key_read(void)
{
	struct km_a2s_key k;
	uint32_t z = 0;

	cr_assert_eq(bpf_map_lookup_elem(m.fd[KM_M_A2S_KEY], &z, &k), 0);
	return k;
}

static uint32_t epoch_now(uint32_t epoch_s)
{
	return (uint32_t)(time(NULL) / epoch_s);
}

Test(maps, a2s_key_install_keep_rotate)
{
	static const uint8_t fkey[16] = {0, 1, 2,  3,  4,  5,  6,  7,
					 8, 9, 10, 11, 12, 13, 14, 15};
	enum km_a2s_key_action act;
	struct km_a2s_key k1, k;

	cr_assert_eq(key_read().flags, 0, "a fresh map has no key");
	cr_assert_eq(km_a2s_key_install(&m, NULL, 30, &act), 0);
	cr_assert_eq(act, KM_A2S_KEY_NEW);
	k1 = key_read();
	cr_assert_eq(k1.flags, KM_A2S_KEY_F_VALID);
	cr_assert_eq(k1.key_id, 1);
	cr_assert(k1.k0 || k1.k1);
	cr_assert_eq(k1.prev_k0, k1.k0);
	cr_assert_eq(k1.prev_k1, k1.k1);
	cr_assert_eq(k1.epoch_s, 30);
	cr_assert_leq(epoch_now(30) - k1.epoch, 1);

	/* A restart (no key file): the key stays, epoch_s may change. */
	cr_assert_eq(km_a2s_key_install(&m, NULL, 10, &act), 0);
	cr_assert_eq(act, KM_A2S_KEY_KEPT);
	k = key_read();
	cr_assert_eq(k.k0, k1.k0);
	cr_assert_eq(k.k1, k1.k1);
	cr_assert_eq(k.key_id, 1);
	cr_assert_eq(k.epoch_s, 10);
	cr_assert_leq(epoch_now(10) - k.epoch, 1);

	/* A key file: rotate to it (little-endian k0/k1), old one previous. */
	cr_assert_eq(km_a2s_key_install(&m, fkey, 10, &act), 0);
	cr_assert_eq(act, KM_A2S_KEY_ROTATED);
	k = key_read();
	cr_assert_eq(k.k0, 0x0706050403020100ull);
	cr_assert_eq(k.k1, 0x0f0e0d0c0b0a0908ull);
	cr_assert_eq(k.prev_k0, k1.k0);
	cr_assert_eq(k.prev_k1, k1.k1);
	cr_assert_eq(k.key_id, 2);
	cr_assert_eq(km_a2s_key_install(&m, fkey, 10, &act), 0);
	cr_assert_eq(act, KM_A2S_KEY_KEPT, "the same file again");
	cr_assert_eq(key_read().key_id, 2);
	cr_assert_eq(key_read().prev_k0, k1.k0);

	/* Rotation to a random key. */
	cr_assert_eq(km_a2s_key_rotate(&m, NULL), 0);
	k = key_read();
	cr_assert_eq(k.key_id, 3);
	cr_assert_eq(k.prev_k0, 0x0706050403020100ull);
	cr_assert(k.k0 != 0x0706050403020100ull);
	cr_assert_eq(km_a2s_key_install(&m, NULL, 0, &act), -EINVAL);
}

Test(maps, a2s_key_first_install_from_a_file_and_rotate_needs_a_key)
{
	static const uint8_t fkey[16] = {0xff, 0, 0, 0, 0, 0, 0, 0,
					 1,    0, 0, 0, 0, 0, 0, 0};
	enum km_a2s_key_action act;
	struct km_a2s_key k;

	cr_assert_eq(km_a2s_key_rotate(&m, NULL), -ENOENT);
	cr_assert_eq(key_read().flags, 0);
	cr_assert_eq(km_a2s_key_install(&m, fkey, 5, &act), 0);
	cr_assert_eq(act, KM_A2S_KEY_NEW);
	k = key_read();
	cr_assert_eq(k.k0, 0xff);
	cr_assert_eq(k.k1, 1);
	cr_assert_eq(k.prev_k0, 0xff, "no previous key: the current one");
	cr_assert_eq(k.key_id, 1);
}

Test(maps, a2s_epoch_advance_changes_only_the_epoch)
{
	enum km_a2s_key_action act;
	struct km_a2s_key before, k;
	uint32_t z = 0;
	bool changed = true;

	cr_assert_eq(km_a2s_epoch_advance(&m, &changed), 0);
	cr_assert_not(changed, "no key: nothing to advance");
	cr_assert_eq(key_read().flags, 0);
	cr_assert_eq(km_a2s_key_install(&m, NULL, 1, &act), 0);
	before = key_read();
	before.epoch -= 5; /* as if the loader had been stopped */
	cr_assert_eq(bpf_map_update_elem(m.fd[KM_M_A2S_KEY], &z, &before, 0),
		     0);
	cr_assert_eq(km_a2s_epoch_advance(&m, &changed), 0);
	cr_assert(changed);
	k = key_read();
	cr_assert_geq(k.epoch, before.epoch + 5);
	cr_assert_leq(epoch_now(1) - k.epoch, 1);
	k.epoch = before.epoch;
	cr_assert_arr_eq(&k, &before, sizeof(k),
			 "every byte but the epoch is unchanged");
	cr_assert_eq(km_a2s_epoch_of(1000, 30), 33);
	cr_assert_eq(km_a2s_epoch_of(1000, 0), 0);
	cr_assert_eq(km_a2s_epoch_of(-5, 30), 0);
}

Test(maps, a2s_cfg_of_other_origins_survives_a_sync)
{
	struct km_service_spec cli = a2s_svc("198.18.10.1", 27015, 700);
	struct km_service_spec cfg = a2s_svc("198.18.10.1", 27016, 1000);
	struct km_a2s_cfg got;
	uint32_t id;

	cli.a2s.flags |= KM_A2S_F_NO_CHALLENGE;
	cr_assert_eq(km_service_put(&m, &cli, KM_ORIGIN_CLI), 0);
	id = svc_id("198.18.10.1", 27015);
	cr_assert_eq(km_services_sync(&m, &cfg, 1, KM_ORIGIN_CONFIG), 0);
	cr_assert_eq(km_services_sync(&m, NULL, 0, KM_ORIGIN_CONFIG), 0);
	got = a2s_read(id);
	cr_assert_arr_eq(&got, &cli.a2s, sizeof(got),
			 "a config reload touches only the config's services");
	cr_assert_eq(svc_val("198.18.10.1", 27015).flags, KM_SVC_F_A2S);
}
