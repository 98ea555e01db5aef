// SPDX-License-Identifier: GPL-2.0-only
/* Reading the mapper's maps: idle-flow sweep and --show. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "attach.h"
#include "lib/log.h"

#define SWEEP_BATCH 256

static const char *const reason_names[KMM_R_MAX] = {
    [KMM_R_XDP_PASS_NOT_IPV4] = "xdp_pass_not_ipv4",
    [KMM_R_XDP_PASS_NOT_IPIP] = "xdp_pass_not_ipip",
    [KMM_R_XDP_PASS_NOT_HOST] = "xdp_pass_not_host",
    [KMM_R_XDP_DECAP] = "xdp_decap",
    [KMM_R_XDP_DROP_NOT_EDGE] = "xdp_drop_not_edge",
    [KMM_R_XDP_DROP_BAD_OUTER] = "xdp_drop_bad_outer",
    [KMM_R_XDP_DROP_BAD_INNER] = "xdp_drop_bad_inner",
    [KMM_R_XDP_DROP_NOT_SERVICE] = "xdp_drop_not_service",
    [KMM_R_XDP_DROP_INTERNAL] = "xdp_drop_internal",
    [KMM_R_TC_PASS_NOT_IPV4] = "tc_pass_not_ipv4",
    [KMM_R_TC_PASS_NOT_SERVICE] = "tc_pass_not_service",
    [KMM_R_TC_PASS_IPIP] = "tc_pass_ipip",
    [KMM_R_TC_ENCAP_LEARNED] = "tc_encap_learned",
    [KMM_R_TC_ENCAP_DEFAULT] = "tc_encap_default",
    [KMM_R_TC_DROP_NO_EDGE] = "tc_drop_no_edge",
    [KMM_R_TC_DROP_BAD_IP] = "tc_drop_bad_ip",
    [KMM_R_TC_DROP_TOO_BIG] = "tc_drop_too_big",
    [KMM_R_TC_DROP_INTERNAL] = "tc_drop_internal",
};

static const char *const counter_names[KMM_C_MAX] = {
    [KMM_C_FLOW_LEARNED] = "flow_learned",
    [KMM_C_FLOW_MOVED] = "flow_moved",
    [KMM_C_FLOW_REFRESHED] = "flow_refreshed",
    [KMM_C_FLOW_EXPIRED] = "flow_expired",
    [KMM_C_INSERT_FAILED] = "insert_failed",
    [KMM_C_DECAP_NO_LEARN] = "decap_no_learn",
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int config_read(const struct mapper_maps *m, struct kmm_config *cfg)
{
	__u32 zero = 0;

	if (bpf_map_lookup_elem(m->config, &zero, cfg))
		return km_log_errno(-errno, KMM_MAP_CONFIG ": read: %m");
	return 0;
}

long mapper_flows_sweep(const struct mapper_maps *m)
{
	struct kmm_flow_key keys[SWEEP_BATCH], cur, next;
	struct kmm_config cfg;
	struct kmm_flow f;
	void *prev = NULL;
	uint64_t now;
	long deleted = 0;
	size_t n = 0, i;
	int r, more = 1;

	r = config_read(m, &cfg);
	if (r)
		return r;
	/* Collect a batch, delete it, start over: deleting while walking
	 * would restart the walk at an arbitrary key. */
	while (more) {
		now = mono_ns();
		n = 0;
		prev = NULL;
		while (n < SWEEP_BATCH &&
		       !bpf_map_get_next_key(m->flows, prev, &next)) {
			cur = next;
			prev = &cur;
			if (bpf_map_lookup_elem(m->flows, &cur, &f))
				continue;
			if (now > f.last_seen_ns &&
			    now - f.last_seen_ns > cfg.idle_ns)
				keys[n++] = cur;
		}
		more = n == SWEEP_BATCH;
		for (i = 0; i < n; i++)
			if (!bpf_map_delete_elem(m->flows, &keys[i]))
				deleted++;
	}
	return deleted;
}

static int percpu_sum(int fd, __u32 key, __u64 *out, size_t words)
{
	int ncpus = libbpf_num_possible_cpus();
	__u64 *vals;
	size_t i;
	int c;

	if (ncpus < 1)
		return ncpus ? ncpus : -EINVAL;
	vals = calloc((size_t)ncpus * words, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &key, vals)) {
		free(vals);
		return -errno;
	}
	memset(out, 0, words * sizeof(*out));
	for (c = 0; c < ncpus; c++)
		for (i = 0; i < words; i++)
			out[i] += vals[(size_t)c * words + i];
	free(vals);
	return 0;
}

static const char *proto_name(__u8 p)
{
	return p == IPPROTO_UDP	   ? "udp"
	       : p == IPPROTO_TCP  ? "tcp"
	       : p == IPPROTO_ICMP ? "icmp"
				   : "?";
}

static void show_flows(const struct mapper_maps *m)
{
	struct kmm_flow_key cur, next;
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN], e[INET_ADDRSTRLEN];
	struct kmm_flow f;
	void *prev = NULL;
	uint64_t now = mono_ns();
	long n = 0;

	printf("flows:\n");
	while (!bpf_map_get_next_key(m->flows, prev, &next)) {
		cur = next;
		prev = &cur;
		if (bpf_map_lookup_elem(m->flows, &cur, &f))
			continue;
		inet_ntop(AF_INET, &cur.player, a, sizeof(a));
		inet_ntop(AF_INET, &cur.svc_addr, b, sizeof(b));
		inet_ntop(AF_INET, &f.edge, e, sizeof(e));
		printf("  %s %s:%u -> %s:%u via %s idle %llus\n",
		       proto_name(cur.proto), a, ntohs(cur.player_port), b,
		       ntohs(cur.svc_port), e,
		       (unsigned long long)(now > f.last_seen_ns
						? (now - f.last_seen_ns) /
						      1000000000ULL
						: 0));
		n++;
	}
	printf("  (%ld)\n", n);
}

int mapper_show(const struct mapper_maps *m)
{
	char h[INET_ADDRSTRLEN], d[INET_ADDRSTRLEN];
	struct kmm_config cfg;
	__u64 v[2];
	__u32 i;
	int r;

	r = config_read(m, &cfg);
	if (r)
		return r;
	printf("host %s default-edge %s idle %llus next-hop %s abi %u\n",
	       inet_ntop(AF_INET, &cfg.host_addr, h, sizeof(h)),
	       cfg.default_edge
		   ? inet_ntop(AF_INET, &cfg.default_edge, d, sizeof(d))
		   : "none",
	       (unsigned long long)(cfg.idle_ns / 1000000000ULL),
	       cfg.flags & KMM_CFG_F_KEEP_L2 ? "player" : "route",
	       cfg.abi_version);
	printf("verdicts:\n");
	for (i = 0; i < KMM_R_MAX; i++) {
		r = percpu_sum(m->stats, i, v, 2);
		if (r)
			return km_log_errno(r, KMM_MAP_STATS ": read failed");
		printf("  %-22s %12llu pkts %14llu bytes\n", reason_names[i],
		       (unsigned long long)v[0], (unsigned long long)v[1]);
	}
	printf("counters:\n");
	for (i = 0; i < KMM_C_MAX; i++) {
		r = percpu_sum(m->counters, i, v, 1);
		if (r)
			return km_log_errno(r,
					    KMM_MAP_COUNTERS ": read failed");
		printf("  %-22s %12llu\n", counter_names[i],
		       (unsigned long long)v[0]);
	}
	show_flows(m);
	return 0;
}
