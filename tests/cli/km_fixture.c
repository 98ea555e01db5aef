// SPDX-License-Identifier: GPL-2.0-only
/*
 * Test fixture for the CLI tests: loads the real XDP object (not attached,
 * unless asked), pins its maps under a directory of the test's own, and
 * reads or writes map entries the way another process (the loader with
 * origin "config", the data plane) would, so the tests can check what the
 * `kilimanjaro` binary did through a second, independent path.
 *
 *   km_fixture load PINDIR [NETNS IFNAME]   load, pin maps (attach + pin
 *                                             km_link on IFNAME in NETNS)
 *   km_fixture dump PINDIR MAP               print a map, one sorted line per
 *                                             entry (see dump_*)
 *   km_fixture stat PINDIR REASON PKTS BYTES add to km_stats on every CPU
 *   km_fixture svcstat PINDIR ID PKTS        add to km_svc_stats[ID] rx/fwd
 *   km_fixture service PINDIR ORIGIN PROTO ADDR PORT BACKEND
 *   km_fixture prefixes PINDIR ORIGIN [allow|deny PREFIX]...   sync
 *   km_fixture block PINDIR ORIGIN ADDR SECONDS
 *   km_fixture punch PINDIR ORIGIN PROTO SVCADDR SVCPORT REMOTE RPORT BACKEND
 *   km_fixture a2sstat PINDIR ID N           add N*(i+1) to field i of
 *                                             km_a2s_stats[ID] on every CPU
 *   km_fixture a2swstat PINDIR ID N          add N*(i+1) to field i of
 *                                             km_a2s_wstats[ID]
 *   km_fixture a2sentry PINDIR ID PROTO ADDR PORT AGE_MS LEN FLAGS SEQ
 *                                             a worker's km_a2s_info[ID]
 *   km_fixture a2skey PINDIR [install [HEX32]]   print km_a2s_key without
 *                                             the key bytes (key_id epoch
 *                                             epoch_s flags), or install
 *                                             one as the loader does
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "kilimanjaro.skel.h"
#include "lib/log.h"
#include "lib/maps.h"

static int parse_addr(const char *s, uint32_t *out)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return km_log_errno(-EINVAL, "bad address: %s", s);
	*out = a.s_addr;
	return 0;
}

static int parse_u16(const char *s, uint16_t *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (!*s || *end || v > 65535)
		return km_log_errno(-EINVAL, "bad port: %s", s);
	*out = htons(v);
	return 0;
}

static int parse_proto(const char *s, uint8_t *out)
{
	if (!strcmp(s, "udp"))
		*out = IPPROTO_UDP;
	else if (!strcmp(s, "tcp"))
		*out = IPPROTO_TCP;
	else
		return km_log_errno(-EINVAL, "bad protocol: %s", s);
	return 0;
}

static int parse_prefix(const char *s, struct km_prefix_key *k)
{
	char buf[32], *slash;

	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	k->prefixlen = 32;
	if (slash) {
		*slash = '\0';
		k->prefixlen = atoi(slash + 1);
	}
	return parse_addr(buf, &k->addr);
}

static int enter_netns(const char *name)
{
	char path[PATH_MAX];
	int fd, r = 0;

	snprintf(path, sizeof(path), "/var/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return km_log_errno(-errno, "%s: %s", path, strerror(errno));
	if (setns(fd, CLONE_NEWNET))
		r = km_log_errno(-errno, "setns %s: %s", path, strerror(errno));
	close(fd);
	return r;
}

static int pin_all(struct kilimanjaro *skel, const char *dir)
{
	char path[PATH_MAX];
	struct km_maps m;
	struct km_config cfg = {.abi_version = KM_ABI_VERSION,
				.rl_prefix_len = 24};
	int r;

	for (int i = 0; i < KM_M_MAX; i++) {
		struct bpf_map *map =
		    bpf_object__find_map_by_name(skel->obj, km_map_names[i]);

		snprintf(path, sizeof(path), "%s/%s", dir, km_map_names[i]);
		if (!map)
			return km_log_errno(-ENOENT, "%s not in the object",
					    km_map_names[i]);
		r = bpf_map__pin(map, path);
		if (r)
			return km_log_errno(r, "pin %s: %s", path,
					    strerror(-r));
	}
	r = km_maps_from_object(&m, skel->obj);
	if (r)
		return r;
	r = km_config_write(&m, &cfg);
	km_maps_close(&m);
	return r;
}

static int cmd_load(int argc, char **argv)
{
	struct kilimanjaro *skel;
	struct bpf_link *link = NULL;
	char path[PATH_MAX];
	int r;

	if (argc != 1 && argc != 3)
		return km_log_errno(-EINVAL, "load PINDIR [NETNS IFNAME]");
	if (mkdir(argv[0], 0700) && errno != EEXIST)
		return km_log_errno(-errno, "mkdir %s: %s", argv[0],
				    strerror(errno));
	skel = kilimanjaro__open_and_load();
	if (!skel)
		return km_log_errno(-errno ? -errno : -EINVAL,
				    "cannot load the XDP object");
	r = pin_all(skel, argv[0]);
	if (!r && argc == 3) {
		unsigned int ifindex;

		r = enter_netns(argv[1]);
		ifindex = r ? 0 : if_nametoindex(argv[2]);
		if (!r && !ifindex)
			r = km_log_errno(-ENODEV, "no interface %s", argv[2]);
		if (!r) {
			link = bpf_program__attach_xdp(skel->progs.km_xdp,
						       ifindex);
			r = link ? 0 : -errno;
		}
		snprintf(path, sizeof(path), "%s/%s", argv[0], KM_PIN_LINK);
		if (!r)
			r = bpf_link__pin(link, path);
		if (r)
			km_err("attach to %s: %s", argv[2], strerror(-r));
	}
	bpf_link__destroy(link);
	kilimanjaro__destroy(skel);
	return r;
}

static int dump_svc_addrs(const struct km_maps *m)
{
	uint32_t k, *pk = NULL;
	struct km_svc_addr v;
	char a[INET_ADDRSTRLEN];

	while (!bpf_map_get_next_key(m->fd[KM_M_SVC_ADDRS], pk, &k)) {
		pk = &k;
		if (bpf_map_lookup_elem(m->fd[KM_M_SVC_ADDRS], &k, &v))
			return -errno;
		inet_ntop(AF_INET, &k, a, sizeof(a));
		printf("%s icmp_id=%u services=%u\n", a, v.icmp_service_id,
		       v.services);
	}
	return 0;
}

static int dump_backends(const struct km_maps *m)
{
	uint32_t k, *pk = NULL, v;
	char a[INET_ADDRSTRLEN];

	while (!bpf_map_get_next_key(m->fd[KM_M_BACKENDS], pk, &k)) {
		pk = &k;
		if (bpf_map_lookup_elem(m->fd[KM_M_BACKENDS], &k, &v))
			return -errno;
		inet_ntop(AF_INET, &k, a, sizeof(a));
		printf("%s %u\n", a, v);
	}
	return 0;
}

static int dump_backend_svc(const struct km_maps *m)
{
	struct km_backend_svc_key k, *pk = NULL;
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
	uint32_t v;

	while (!bpf_map_get_next_key(m->fd[KM_M_BACKEND_SVC], pk, &k)) {
		pk = &k;
		if (bpf_map_lookup_elem(m->fd[KM_M_BACKEND_SVC], &k, &v))
			return -errno;
		inet_ntop(AF_INET, &k.backend, a, sizeof(a));
		inet_ntop(AF_INET, &k.svc_addr, b, sizeof(b));
		printf("%s %s %u\n", a, b, v);
	}
	return 0;
}

static int dump_lpm(const struct km_maps *m, enum km_map_id id)
{
	struct km_prefix_key k, *pk = NULL;
	struct km_prefix_val v;
	char a[INET_ADDRSTRLEN];

	while (!bpf_map_get_next_key(m->fd[id], pk, &k)) {
		pk = &k;
		if (bpf_map_lookup_elem(m->fd[id], &k, &v))
			return -errno;
		inet_ntop(AF_INET, &k.addr, a, sizeof(a));
		printf("%s/%u %s\n", a, k.prefixlen, km_origin_name(v.origin));
	}
	return 0;
}

static int dump_svc_cfg(const struct km_maps *m)
{
	struct km_service_entry *s;
	struct km_svc_cfg c;
	size_t n;
	int r;

	r = km_services_list(m, &s, &n);
	for (size_t i = 0; i < n && !r; i++) {
		r = km_svc_cfg_read(m, s[i].val.id, &c);
		if (!r)
			printf("id=%u total_pps=%u total_burst=%u "
			       "total_bps=%llu unval_pps=%u\n",
			       s[i].val.id, c.total.pps, c.total.burst_pkts,
			       (unsigned long long)c.total.bps,
			       c.unvalidated.pps);
	}
	free(s);
	return r;
}

/* One line per service: its km_a2s_cfg in ms. */
static int dump_a2s_cfg(const struct km_maps *m)
{
	struct km_service_entry *s;
	struct km_a2s_cfg a;
	size_t n;
	int r;

	r = km_services_list(m, &s, &n);
	for (size_t i = 0; i < n && !r; i++) {
		r = km_a2s_cfg_read(m, s[i].val.id, &a);
		if (!r)
			printf("id=%u flags=%u refresh_ms=%llu max_age_ms=%llu "
			       "timeout_ms=%llu svc_flags=%u\n",
			       s[i].val.id, a.flags,
			       (unsigned long long)a.refresh_ns / 1000000,
			       (unsigned long long)a.max_age_ns / 1000000,
			       (unsigned long long)a.timeout_ns / 1000000,
			       s[i].val.flags);
	}
	free(s);
	return r;
}

static int cmd_dump(const struct km_maps *m, const char *map)
{
	struct km_config cfg;
	int r;

	if (!strcmp(map, KM_MAP_SVC_ADDRS))
		return dump_svc_addrs(m);
	if (!strcmp(map, KM_MAP_BACKENDS))
		return dump_backends(m);
	if (!strcmp(map, KM_MAP_BACKEND_SVC))
		return dump_backend_svc(m);
	if (!strcmp(map, KM_MAP_SVC_CFG))
		return dump_svc_cfg(m);
	if (!strcmp(map, KM_MAP_A2S_CFG))
		return dump_a2s_cfg(m);
	for (int i = KM_M_ALLOW_A; i <= KM_M_DENY_B; i++)
		if (!strcmp(map, km_map_names[i]))
			return dump_lpm(m, i);
	if (!strcmp(map, KM_MAP_CONFIG)) {
		r = km_config_read(m, &cfg);
		if (!r)
			printf("active_lists=%u\n", cfg.active_lists);
		return r;
	}
	return km_log_errno(-EINVAL, "cannot dump %s", map);
}

static int percpu_add(const struct km_maps *m, enum km_map_id id, uint32_t key,
		      const uint64_t *add, size_t n_u64)
{
	size_t stride = n_u64 * 8;
	uint64_t *buf = calloc(m->ncpus, stride);
	int r = 0;

	if (!buf)
		return -ENOMEM;
	if (bpf_map_lookup_elem(m->fd[id], &key, buf))
		r = -errno;
	for (int c = 0; c < m->ncpus && !r; c++)
		for (size_t i = 0; i < n_u64; i++)
			buf[c * n_u64 + i] += add[i];
	if (!r && bpf_map_update_elem(m->fd[id], &key, buf, BPF_ANY))
		r = -errno;
	free(buf);
	return r;
}

static int cmd_edit(const struct km_maps *m, const char *cmd, uint8_t origin,
		    int argc, char **argv)
{
	int r = -EINVAL;

	if (!strcmp(cmd, "service") && argc == 4) {
		struct km_service_spec s = {};

		r = parse_proto(argv[0], &s.proto);
		r = r ?: parse_addr(argv[1], &s.addr);
		r = r ?: parse_u16(argv[2], &s.port);
		r = r ?: parse_addr(argv[3], &s.backend);
		return r ?: km_service_put(m, &s, origin);
	}
	if (!strcmp(cmd, "prefixes") && argc % 2 == 0) {
		struct km_prefix_key al[16], dn[16];
		size_t na = 0, nd = 0;

		for (int i = 0; i < argc && i < 32; i += 2) {
			bool allow = !strcmp(argv[i], "allow");

			r = parse_prefix(argv[i + 1],
					 allow ? &al[na++] : &dn[nd++]);
			if (r)
				return r;
		}
		return km_prefixes_sync(m, al, na, dn, nd, origin);
	}
	if (!strcmp(cmd, "block") && argc == 2) {
		uint32_t a;

		r = parse_addr(argv[0], &a);
		return r
			   ?: km_block_put(m, a,
					   km_mono_ns() +
					       atoll(argv[1]) * 1000000000ull,
					   origin);
	}
	if (!strcmp(cmd, "punch") && argc == 6) {
		struct km_punch_key k = {};
		uint32_t backend;

		r = parse_proto(argv[0], &k.proto);
		r = r ?: parse_addr(argv[1], &k.svc_addr);
		r = r ?: parse_u16(argv[2], &k.svc_port);
		r = r ?: parse_addr(argv[3], &k.remote);
		r = r ?: parse_u16(argv[4], &k.remote_port);
		r = r ?: parse_addr(argv[5], &backend);
		return r ?: km_punch_put(m, &k, backend, origin);
	}
	return km_log_errno(-EINVAL, "bad arguments for %s", cmd);
}

static int hex16(const char *s, uint8_t out[16])
{
	if (strlen(s) != 32)
		return km_log_errno(-EINVAL, "want 32 hex digits: %s", s);
	for (int i = 0; i < 16; i++) {
		unsigned int b;

		if (sscanf(s + 2 * i, "%2x", &b) != 1)
			return km_log_errno(-EINVAL, "bad hex: %s", s);
		out[i] = (uint8_t)b;
	}
	return 0;
}

static int cmd_a2s(const struct km_maps *m, const char *cmd, int argc,
		   char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 0) : 0;
	uint64_t v[8];
	int r;

	for (int i = 0; i < 8; i++)
		v[i] = n * (i + 1);
	if (!strcmp(cmd, "a2sstat") && argc == 2)
		return percpu_add(m, KM_M_A2S_STATS, atoi(argv[0]), v, 8);
	if (!strcmp(cmd, "a2swstat") && argc == 2) {
		uint32_t id = atoi(argv[0]);

		return bpf_map_update_elem(m->fd[KM_M_A2S_WSTATS], &id, v,
					   BPF_ANY)
			   ? -errno
			   : 0;
	}
	if (!strcmp(cmd, "a2sentry") && argc == 8) {
		struct km_a2s_entry *e = calloc(1, sizeof(*e));
		uint32_t id = atoi(argv[0]);

		if (!e)
			return -ENOMEM;
		r = parse_proto(argv[1], &e->svc.proto);
		r = r ?: parse_addr(argv[2], &e->svc.addr);
		r = r ?: parse_u16(argv[3], &e->svc.port);
		e->updated_ns =
		    km_mono_ns() - strtoull(argv[4], NULL, 0) * 1000000ull;
		e->len = atoi(argv[5]);
		e->flags = atoi(argv[6]);
		e->seq = atoi(argv[7]);
		if (!r &&
		    bpf_map_update_elem(m->fd[KM_M_A2S_INFO], &id, e, BPF_ANY))
			r = -errno;
		free(e);
		return r;
	}
	if (!strcmp(cmd, "a2skey") && argc == 0) {
		struct km_a2s_key k;

		r = km_a2s_key_read(m, &k);
		if (!r)
			printf("key_id=%u epoch=%u epoch_s=%u flags=%u "
			       "rotated=%d\n",
			       k.key_id, k.epoch, k.epoch_s, k.flags,
			       k.prev_k0 != k.k0 || k.prev_k1 != k.k1);
		return r;
	}
	if (!strcmp(cmd, "a2skey") && argc >= 1 && argc <= 2 &&
	    !strcmp(argv[0], "install")) {
		enum km_a2s_key_action act;
		uint8_t key[16];

		r = argc == 2 ? hex16(argv[1], key) : 0;
		return r
			   ?: km_a2s_key_install(m, argc == 2 ? key : NULL, 30,
						 &act);
	}
	return km_log_errno(-EINVAL, "bad arguments for %s", cmd);
}

int main(int argc, char **argv)
{
	struct km_maps m;
	const char *cmd;
	uint8_t origin;
	int r;

	km_log_init("km_fixture", LOG_WARNING);
	if (argc < 3) {
		fprintf(stderr, "usage: km_fixture "
				"load|dump|stat|svcstat|service|prefixes|block|"
				"punch PINDIR ...\n");
		return 2;
	}
	cmd = argv[1];
	if (!strcmp(cmd, "load"))
		return cmd_load(argc - 2, argv + 2) ? 1 : 0;
	r = km_maps_open_pinned(&m, argv[2]);
	if (r)
		return 1;
	if (!strcmp(cmd, "dump") && argc == 4) {
		r = cmd_dump(&m, argv[3]);
	} else if (!strcmp(cmd, "stat") && argc == 6) {
		uint64_t v[2] = {strtoull(argv[4], NULL, 0),
				 strtoull(argv[5], NULL, 0)};

		r = percpu_add(&m, KM_M_STATS, atoi(argv[3]), v, 2);
	} else if (!strcmp(cmd, "svcstat") && argc == 5) {
		uint64_t p = strtoull(argv[4], NULL, 0);
		uint64_t v[8] = {p, p * 100, p, p * 120, 0, 0, p, p * 100};

		r = percpu_add(&m, KM_M_SVC_STATS, atoi(argv[3]), v, 8);
	} else if (!strncmp(cmd, "a2s", 3)) {
		r = cmd_a2s(&m, cmd, argc - 3, argv + 3);
	} else if (argc >= 4 && !km_origin_parse(argv[3], &origin)) {
		r = cmd_edit(&m, cmd, origin, argc - 4, argv + 4);
	} else {
		r = km_log_errno(-EINVAL, "unknown command or arguments: %s",
				 cmd);
	}
	km_maps_close(&m);
	return r ? 1 : 0;
}
