// SPDX-License-Identifier: GPL-2.0-only
/* The Kilimanjaro XDP object loaded for tests. Maps are written here field
 * by field from the ABI rather than through lib/maps.c, so a bug there
 * cannot mask (or cause) a failure of the XDP program's tests. */
#include "kmtest.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "kilimanjaro.skel.h"

static int quiet_libbpf(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	/* The verifier log of a failed load is what a developer needs. */
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

int kmt_fd(const struct kmt_env *e, const char *map_name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(e->obj, map_name);

	if (!m) {
		fprintf(stderr, "kmtest: the XDP object has no map %s\n",
			map_name);
		return -ENOENT;
	}
	return bpf_map__fd(m);
}

int kmt_env_open(struct kmt_env *e, const struct kmt_map_size *sizes,
		 size_t nsizes)
{
	struct bpf_program *prog;
	struct km_config cfg = {};
	int err;

	memset(e, 0, sizeof(*e));
	e->prog_fd = -1;
	libbpf_set_print(quiet_libbpf);
	e->skel = kilimanjaro__open();
	if (!e->skel) {
		err = -errno;
		fprintf(stderr, "kmtest: open skeleton: %s\n", strerror(-err));
		return err;
	}
	e->obj = e->skel->obj;
	/* km_now() then reads km_config.test_now_ns (docs/design.md "Time") */
	e->skel->rodata->km_settable_clock = 1;
	for (size_t i = 0; i < nsizes; i++) {
		struct bpf_map *m =
		    bpf_object__find_map_by_name(e->obj, sizes[i].name);

		err = m ? bpf_map__set_max_entries(m, sizes[i].max_entries)
			: -ENOENT;
		if (err) {
			fprintf(stderr, "kmtest: size of %s: %s\n",
				sizes[i].name, strerror(-err));
			goto fail;
		}
	}
	err = kilimanjaro__load(e->skel);
	if (err) {
		fprintf(stderr, "kmtest: load: %s\n", strerror(-err));
		goto fail;
	}
	prog = bpf_object__find_program_by_name(e->obj, "km_xdp");
	if (!prog) {
		err = -ENOENT;
		fprintf(stderr, "kmtest: no program km_xdp\n");
		goto fail;
	}
	e->prog_fd = bpf_program__fd(prog);
	e->ncpus = libbpf_num_possible_cpus();
	cfg.abi_version = KM_ABI_VERSION;
	cfg.rl_prefix_len = 24;
	cfg.test_now_ns = KMT_T0;
	err = kmt_config_write(e, &cfg);
	if (err)
		goto fail;
	err = kmt_pin_cpu();
	if (err < 0)
		goto fail;
	return 0;
fail:
	kmt_env_close(e);
	return err;
}

void kmt_env_close(struct kmt_env *e)
{
	if (e->skel)
		kilimanjaro__destroy(e->skel);
	e->skel = NULL;
	e->obj = NULL;
	e->prog_fd = -1;
}

static int update(const struct kmt_env *e, const char *map, const void *k,
		  const void *v)
{
	int fd = kmt_fd(e, map);

	if (fd < 0)
		return fd;
	if (bpf_map_update_elem(fd, k, v, BPF_ANY)) {
		int err = -errno;

		fprintf(stderr, "kmtest: update %s: %s\n", map, strerror(-err));
		return err;
	}
	return 0;
}

static int lookup(const struct kmt_env *e, const char *map, const void *k,
		  void *v)
{
	int fd = kmt_fd(e, map);

	if (fd < 0)
		return fd;
	return bpf_map_lookup_elem(fd, k, v) ? -errno : 0;
}

int kmt_config_read(const struct kmt_env *e, struct km_config *c)
{
	uint32_t k = 0;
	int err = lookup(e, KM_MAP_CONFIG, &k, c);

	if (err)
		fprintf(stderr, "kmtest: read km_config: %s\n", strerror(-err));
	return err;
}

int kmt_config_write(const struct kmt_env *e, const struct km_config *c)
{
	uint32_t k = 0;

	return update(e, KM_MAP_CONFIG, &k, c);
}

int kmt_clock_set(const struct kmt_env *e, uint64_t now_ns)
{
	struct km_config c;
	int err = kmt_config_read(e, &c);

	if (err)
		return err;
	c.test_now_ns = now_ns;
	return kmt_config_write(e, &c);
}

uint64_t kmt_clock_get(const struct kmt_env *e)
{
	struct km_config c;

	return kmt_config_read(e, &c) ? 0 : c.test_now_ns;
}

int kmt_stats(const struct kmt_env *e, struct km_stat out[KM_R_MAX])
{
	int fd = kmt_fd(e, KM_MAP_STATS), err;

	if (fd < 0)
		return fd;
	for (uint32_t r = 0; r < KM_R_MAX; r++) {
		err = kmt_percpu_sum(fd, r, &out[r].packets, 2);
		if (err)
			return err;
	}
	return 0;
}

int kmt_counters(const struct kmt_env *e, __u64 out[KM_C_MAX])
{
	int fd = kmt_fd(e, KM_MAP_COUNTERS), err;

	if (fd < 0)
		return fd;
	for (uint32_t c = 0; c < KM_C_MAX; c++) {
		err = kmt_percpu_sum(fd, c, &out[c], 1);
		if (err)
			return err;
	}
	return 0;
}

int kmt_svc_stat(const struct kmt_env *e, uint32_t id, struct km_svc_stat *out)
{
	int fd = kmt_fd(e, KM_MAP_SVC_STATS);

	if (fd < 0)
		return fd;
	return kmt_percpu_sum(fd, id, &out->rx_packets,
			      sizeof(*out) / sizeof(uint64_t));
}

int kmt_edge_add(const struct kmt_env *e, uint32_t addr)
{
	struct km_edge_addr v = {.origin = KM_ORIGIN_CONFIG};

	return update(e, KM_MAP_EDGE_ADDRS, &addr, &v);
}

int kmt_svc_cfg_set(const struct kmt_env *e, uint32_t id,
		    const struct km_svc_cfg *cfg)
{
	struct km_svc_cfg none = {};

	return update(e, KM_MAP_SVC_CFG, &id, cfg ? cfg : &none);
}

/* The derived maps, as lib/maps.c must produce them (docs/design.md
 * "Services and derived maps"): counts per address, per backend and per
 * (backend, service address); the lowest id at an address answers ICMP. */
static int derive_add(const struct kmt_env *e, uint32_t addr, uint32_t backend,
		      uint32_t id)
{
	struct km_backend_svc_key bk = {.backend = backend, .svc_addr = addr};
	struct km_svc_addr sa = {.icmp_service_id = id};
	uint32_t n = 0;
	int err;

	if (!lookup(e, KM_MAP_SVC_ADDRS, &addr, &sa) && sa.icmp_service_id > id)
		sa.icmp_service_id = id;
	sa.services++;
	err = update(e, KM_MAP_SVC_ADDRS, &addr, &sa);
	if (err)
		return err;
	if (lookup(e, KM_MAP_BACKENDS, &backend, &n))
		n = 0;
	n++;
	err = update(e, KM_MAP_BACKENDS, &backend, &n);
	if (err)
		return err;
	if (lookup(e, KM_MAP_BACKEND_SVC, &bk, &n))
		n = 0;
	n++;
	return update(e, KM_MAP_BACKEND_SVC, &bk, &n);
}

int kmt_service_add(const struct kmt_env *e, uint8_t proto, uint32_t addr,
		    uint16_t port, uint32_t backend, uint16_t backend_port,
		    uint32_t id, const struct km_svc_cfg *cfg)
{
	struct km_service_key k = {
	    .proto = proto, .port = htons(port), .addr = addr};
	struct km_service v = {.id = id,
			       .backend = backend,
			       .backend_port = htons(backend_port),
			       .origin = KM_ORIGIN_CONFIG,
			       .flags = cfg ? (uint8_t)cfg->flags : 0};
	int err;

	/* Same order as the loader: config and derived entries before the
	 * service becomes visible. */
	err = kmt_svc_cfg_set(e, id, cfg);
	if (!err)
		err = derive_add(e, addr, backend, id);
	if (!err)
		err = update(e, KM_MAP_SERVICES, &k, &v);
	return err;
}

int kmt_prefix_add(const struct kmt_env *e, const char *map, uint32_t addr,
		   uint32_t prefixlen)
{
	struct km_prefix_key k = {.prefixlen = prefixlen, .addr = addr};
	struct km_prefix_val v = {.origin = KM_ORIGIN_CONFIG};

	return update(e, map, &k, &v);
}

int kmt_block_add(const struct kmt_env *e, uint32_t addr, uint64_t until_ns,
		  uint8_t origin)
{
	struct km_block v = {
	    .until_ns = until_ns, .origin = origin, .reason = KM_BLOCK_MANUAL};

	return update(e, KM_MAP_BLOCKS, &addr, &v);
}

int kmt_punch_add(const struct kmt_env *e, const struct km_punch_key *k,
		  uint32_t backend, uint8_t origin, uint64_t last_seen_ns)
{
	struct km_punch v = {
	    .backend = backend, .origin = origin, .last_seen_ns = last_seen_ns};

	return update(e, KM_MAP_PUNCHES, k, &v);
}

int kmt_env_run(const struct kmt_env *e, struct kmt_xdp_run *r)
{
	r->repeat = 1;
	return kmt_xdp_run(e->prog_fd, r);
}

struct ev_sink {
	struct km_event *out;
	size_t max, n;
};

static int ev_cb(void *ctx, void *data, size_t size)
{
	struct ev_sink *s = ctx;

	if (size < sizeof(struct km_event)) {
		fprintf(stderr, "kmtest: event of %zu bytes, expected %zu\n",
			size, sizeof(struct km_event));
		return -EBADMSG;
	}
	if (s->n < s->max)
		memcpy(&s->out[s->n], data, sizeof(struct km_event));
	s->n++;
	return 0;
}

int kmt_events(const struct kmt_env *e, struct km_event *out, size_t max)
{
	struct ev_sink sink = {.out = out, .max = max};
	struct ring_buffer *rb;
	int fd = kmt_fd(e, KM_MAP_EVENTS), err;

	if (fd < 0)
		return fd;
	rb = ring_buffer__new(fd, ev_cb, &sink, NULL);
	if (!rb) {
		err = -errno;
		fprintf(stderr, "kmtest: ring_buffer__new: %s\n",
			strerror(-err));
		return err;
	}
	err = ring_buffer__consume(rb);
	ring_buffer__free(rb);
	if (err < 0)
		return err;
	return (int)(sink.n < max ? sink.n : max);
}
