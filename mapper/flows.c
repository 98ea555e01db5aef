// SPDX-License-Identifier: GPL-2.0-only
/* Reading the mapper's maps: idle-flow sweep and --show. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>

#include "attach.h"
#include "lib/log.h"
#include "lib/maps.h"

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
		now = km_mono_ns();
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

static json_object *jaddr(__be32 a)
{
	char buf[INET_ADDRSTRLEN];

	return json_object_new_string(inet_ntop(AF_INET, &a, buf, sizeof(buf)));
}

static json_object *jflows(const struct mapper_maps *m)
{
	json_object *arr = json_object_new_array(), *o;
	struct kmm_flow_key cur, next;
	struct kmm_flow f;
	void *prev = NULL;
	uint64_t now = km_mono_ns();

	while (!bpf_map_get_next_key(m->flows, prev, &next)) {
		cur = next;
		prev = &cur;
		if (bpf_map_lookup_elem(m->flows, &cur, &f))
			continue;
		o = json_object_new_object();
		json_object_object_add(
		    o, "proto", json_object_new_string(proto_name(cur.proto)));
		json_object_object_add(o, "player", jaddr(cur.player));
		json_object_object_add(
		    o, "player_port",
		    json_object_new_int(ntohs(cur.player_port)));
		json_object_object_add(o, "service", jaddr(cur.svc_addr));
		json_object_object_add(
		    o, "service_port",
		    json_object_new_int(ntohs(cur.svc_port)));
		json_object_object_add(o, "edge", jaddr(f.edge));
		json_object_object_add(
		    o, "idle_ns",
		    json_object_new_int64(now > f.last_seen_ns
					      ? (int64_t)(now - f.last_seen_ns)
					      : 0));
		json_object_array_add(arr, o);
	}
	return arr;
}

static json_object *jconfig(const struct kmm_config *c)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "address", jaddr(c->host_addr));
	json_object_object_add(o, "default_edge",
			       c->default_edge ? jaddr(c->default_edge) : NULL);
	json_object_object_add(
	    o, "idle_seconds",
	    json_object_new_int64((int64_t)(c->idle_ns / 1000000000ULL)));
	json_object_object_add(
	    o, "next_hop",
	    json_object_new_string(c->flags & KMM_CFG_F_KEEP_L2 ? "player"
								: "route"));
	json_object_object_add(o, "abi_version",
			       json_object_new_int((int)c->abi_version));
	return o;
}

/* Everything --show prints, as one JSON object. */
static int show_collect(const struct mapper_maps *m, json_object **out)
{
	json_object *root = json_object_new_object(), *verdicts, *counters, *v;
	struct kmm_config cfg;
	__u64 sum[2];
	__u32 i;
	int r;

	r = config_read(m, &cfg);
	if (r)
		goto fail;
	json_object_object_add(root, "config", jconfig(&cfg));
	verdicts = json_object_new_object();
	json_object_object_add(root, "verdicts", verdicts);
	for (i = 0; i < KMM_R_MAX; i++) {
		r = percpu_sum(m->stats, i, sum, 2);
		if (r) {
			km_err(KMM_MAP_STATS ": read failed: %s", strerror(-r));
			goto fail;
		}
		v = json_object_new_object();
		json_object_object_add(v, "packets",
				       json_object_new_uint64(sum[0]));
		json_object_object_add(v, "bytes",
				       json_object_new_uint64(sum[1]));
		json_object_object_add(verdicts, reason_names[i], v);
	}
	counters = json_object_new_object();
	json_object_object_add(root, "counters", counters);
	for (i = 0; i < KMM_C_MAX; i++) {
		r = percpu_sum(m->counters, i, sum, 1);
		if (r) {
			km_err(KMM_MAP_COUNTERS ": read failed: %s",
			       strerror(-r));
			goto fail;
		}
		json_object_object_add(counters, counter_names[i],
				       json_object_new_uint64(sum[0]));
	}
	json_object_object_add(root, "flows", jflows(m));
	*out = root;
	return 0;
fail:
	json_object_put(root);
	return r;
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v = json_object_object_get(o, key);

	return v ? json_object_get_string(v) : "none";
}

static void show_text(json_object *root)
{
	json_object *cfg = json_object_object_get(root, "config");
	json_object *flows = json_object_object_get(root, "flows"), *f;
	size_t i, n = json_object_array_length(flows);

	printf("host %s default-edge %s idle %ss next-hop %s abi %s\n",
	       jstr(cfg, "address"), jstr(cfg, "default_edge"),
	       jstr(cfg, "idle_seconds"), jstr(cfg, "next_hop"),
	       jstr(cfg, "abi_version"));
	printf("verdicts:\n");
	json_object_object_foreach(json_object_object_get(root, "verdicts"),
				   name, v)
	    printf("  %-22s %12s pkts %14s bytes\n", name, jstr(v, "packets"),
		   jstr(v, "bytes"));
	printf("counters:\n");
	json_object_object_foreach(json_object_object_get(root, "counters"),
				   cname, c)
	    printf("  %-22s %12s\n", cname, json_object_get_string(c));
	printf("flows:\n");
	for (i = 0; i < n; i++) {
		f = json_object_array_get_idx(flows, i);
		printf("  %s %s:%s -> %s:%s via %s idle %llds\n",
		       jstr(f, "proto"), jstr(f, "player"),
		       jstr(f, "player_port"), jstr(f, "service"),
		       jstr(f, "service_port"), jstr(f, "edge"),
		       (long long)(json_object_get_int64(
				       json_object_object_get(f, "idle_ns")) /
				   1000000000LL));
	}
	printf("  (%zu)\n", n);
}

int mapper_show(const struct mapper_maps *m, int json)
{
	json_object *root;
	int r = show_collect(m, &root);

	if (r)
		return r;
	if (json)
		printf("%s\n", json_object_to_json_string_ext(
				   root, JSON_C_TO_STRING_PRETTY |
					     JSON_C_TO_STRING_NOSLASHESCAPE));
	else
		show_text(root);
	json_object_put(root);
	return 0;
}
