// SPDX-License-Identifier: GPL-2.0-only
#include "attach.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "lib/log.h"
#include "mapper.skel.h"

/*
 * tcx (kernel >= 6.6) is not in Debian 12's uapi headers nor in libbpf 1.1
 * (no bpf_program__attach_tcx): BPF_LINK_CREATE takes it as a plain attach
 * type. Values from the kernel's enum bpf_attach_type / bpf_link_type.
 */
#define KMM_BPF_TCX_EGRESS 47
#define KMM_BPF_LINK_TYPE_TCX 11

static const char *const link_pins[] = {KMM_PIN_XDP_LINK, KMM_PIN_TC_LINK};
static const char *const map_pins[] = {
    KMM_MAP_CONFIG, KMM_MAP_EDGES, KMM_MAP_SERVICES,
    KMM_MAP_FLOWS,  KMM_MAP_STATS, KMM_MAP_COUNTERS,
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static int pin_path(char *buf, size_t n, const char *root, const char *name)
{
	if ((size_t)snprintf(buf, n, "%s/%s", root, name) >= n)
		return km_log_errno(-ENAMETOOLONG, "pin path %s/%s too long",
				    root, name);
	return 0;
}

static int mkdir_p(const char *path)
{
	char buf[PATH_MAX], *p;

	if (strlen(path) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, path);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) && errno != EEXIST)
			return km_log_errno(-errno, "mkdir %s: %m", buf);
		*p = '/';
	}
	if (mkdir(buf, 0700) && errno != EEXIST)
		return km_log_errno(-errno, "mkdir %s: %m", buf);
	return 0;
}

/* Pins only survive on a bpf filesystem; `ip netns exec` mounts a fresh
 * /sys without one, which would otherwise surface as an odd mkdir error. */
static int check_bpffs(const char *root)
{
	char buf[PATH_MAX], *slash;
	struct statfs st;

	if (strlen(root) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, root);
	while (statfs(buf, &st)) {
		if (errno != ENOENT)
			return km_log_errno(-errno, "%s: %m", buf);
		slash = strrchr(buf, '/');
		if (!slash || slash == buf)
			strcpy(buf, "/");
		else
			*slash = '\0';
	}
	if ((unsigned long)st.f_type != BPF_FS_MAGIC)
		return km_log_errno(-ENOTSUP,
				    "%s: %s is not on a bpf filesystem (on the "
				    "host: mount -t bpf bpf /sys/fs/bpf; "
				    "`ip netns exec` mounts a /sys without it: "
				    "use nsenter --net=/run/netns/NAME)",
				    root, buf);
	return 0;
}

static int map_matches(const struct bpf_map *map, int fd, const char *path)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return km_log_errno(-errno, "%s: not a map: %m", path);
	if (info.type != bpf_map__type(map) ||
	    info.key_size != bpf_map__key_size(map) ||
	    info.value_size != bpf_map__value_size(map) ||
	    info.max_entries != bpf_map__max_entries(map) ||
	    info.map_flags != bpf_map__map_flags(map))
		return km_log_errno(
		    -EINVAL,
		    "%s: pinned map differs from this version's "
		    "%s (type, key, value, size or flags); "
		    "--detach first",
		    path, bpf_map__name(map));
	return 0;
}

/* Reuse the pins that exist; *reused gets one bit per map of the object. */
static int maps_reuse(struct bpf_object *obj, const char *root,
		      unsigned int *reused)
{
	char path[PATH_MAX];
	struct bpf_map *map;
	unsigned int bit = 1;
	int fd, r;

	*reused = 0;
	bpf_object__for_each_map(map, obj)
	{
		if (bpf_map__is_internal(map))
			continue;
		r = pin_path(path, sizeof(path), root, bpf_map__name(map));
		if (r)
			return r;
		fd = bpf_obj_get(path);
		if (fd < 0) {
			if (errno != ENOENT)
				return km_log_errno(-errno, "%s: %m", path);
		} else {
			r = map_matches(map, fd, path);
			if (!r)
				r = bpf_map__reuse_fd(map, fd);
			close(fd);
			if (r)
				return km_log_errno(r, "%s: reuse failed",
						    path);
			*reused |= bit;
		}
		bit <<= 1;
	}
	return 0;
}

static int maps_pin_new(struct bpf_object *obj, const char *root,
			unsigned int reused)
{
	char path[PATH_MAX];
	struct bpf_map *map;
	unsigned int bit = 1;
	int r;

	bpf_object__for_each_map(map, obj)
	{
		if (bpf_map__is_internal(map))
			continue;
		if (!(reused & bit)) {
			r = pin_path(path, sizeof(path), root,
				     bpf_map__name(map));
			if (!r)
				r = bpf_map__pin(map, path);
			if (r)
				return km_log_errno(r, "pin %s failed", path);
		}
		bit <<= 1;
	}
	return 0;
}

/* Existing link: check it is of `type` on ifindex, then swap the program. */
static int link_update(int fd, const char *path, __u32 type, int ifindex,
		       int prog_fd)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return km_log_errno(-errno, "%s: not a link: %m", path);
	/* The xdp and tcx members of the info union both start with the
	 * ifindex. */
	if (info.type != type || (int)info.xdp.ifindex != ifindex)
		return km_log_errno(-EINVAL,
				    "%s: pinned link is of another type or "
				    "interface (ifindex %u); --detach first",
				    path, info.xdp.ifindex);
	if (bpf_link_update(fd, prog_fd, NULL))
		return km_log_errno(-errno, "%s: updating the program: %m",
				    path);
	km_info("%s: program replaced in place", path);
	return 0;
}

/* A link whose interface was deleted (ifindex 0) attaches nothing. */
static int link_defunct(int fd, __u32 type)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);

	return !bpf_obj_get_info_by_fd(fd, &info, &len) && info.type == type &&
	       !info.xdp.ifindex;
}

static int xdp_mode_check(const struct mapper_conf *c, int ifindex)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	int want =
	    c->xdp_mode == MAPPER_XDP_SKB ? XDP_ATTACHED_SKB : XDP_ATTACHED_DRV;

	if (bpf_xdp_query(ifindex, 0, &q))
		return km_log_errno(-errno, "%s: XDP query failed: %m",
				    c->ifname);
	if (q.attach_mode != want)
		return km_log_errno(-EINVAL,
				    "%s: attached XDP mode is not --xdp-mode "
				    "%s; --detach first to change it",
				    c->ifname,
				    c->xdp_mode == MAPPER_XDP_SKB ? "skb"
								  : "native");
	return 0;
}

static int link_create_xdp(const struct mapper_conf *c, int ifindex,
			   int prog_fd)
{
	LIBBPF_OPTS(bpf_link_create_opts, lo);
	int fd;

	lo.flags = c->xdp_mode == MAPPER_XDP_SKB ? XDP_FLAGS_SKB_MODE
						 : XDP_FLAGS_DRV_MODE;
	fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &lo);
	if (fd >= 0)
		return fd;
	fd = -errno;
	if (fd == -EBUSY || fd == -EEXIST)
		return km_log_errno(fd,
				    "%s: another XDP program is attached; "
				    "remove it first",
				    c->ifname);
	if (c->xdp_mode == MAPPER_XDP_NATIVE)
		return km_log_errno(fd,
				    "%s: native XDP attach failed (%s); "
				    "--xdp-mode skb uses generic XDP",
				    c->ifname, strerror(-fd));
	return km_log_errno(fd, "%s: XDP attach failed: %s", c->ifname,
			    strerror(-fd));
}

/*
 * Attach prog_fd through the link pinned as `name`: update it in place when
 * it exists, else create and pin it. *created says which happened, so a
 * later failure can undo a new link.
 */
static int link_attach(const struct mapper_conf *c, const char *name,
		       int ifindex, int prog_fd, int *created)
{
	__u32 type = strcmp(name, KMM_PIN_XDP_LINK) ? KMM_BPF_LINK_TYPE_TCX
						    : BPF_LINK_TYPE_XDP;
	char path[PATH_MAX];
	int fd, r;

	*created = 0;
	r = pin_path(path, sizeof(path), c->pin_root, name);
	if (r)
		return r;
	fd = bpf_obj_get(path);
	if (fd >= 0 && link_defunct(fd, type)) {
		/* The interface was deleted and made again (same name). */
		km_warn("%s: its interface is gone; attaching anew", path);
		close(fd);
		if (unlink(path))
			return km_log_errno(-errno, "unlink %s: %m", path);
		fd = -1;
		errno = ENOENT;
	}
	if (fd >= 0) {
		r = type == BPF_LINK_TYPE_XDP ? xdp_mode_check(c, ifindex) : 0;
		if (!r)
			r = link_update(fd, path, type, ifindex, prog_fd);
		close(fd);
		return r;
	}
	if (errno != ENOENT)
		return km_log_errno(-errno, "%s: %m", path);
	if (type == BPF_LINK_TYPE_XDP) {
		fd = link_create_xdp(c, ifindex, prog_fd);
	} else {
		fd =
		    bpf_link_create(prog_fd, ifindex, KMM_BPF_TCX_EGRESS, NULL);
		if (fd < 0)
			fd = km_log_errno(-errno,
					  "%s: tcx egress attach failed: %m "
					  "(needs kernel >= 6.6)",
					  c->ifname);
	}
	if (fd < 0)
		return fd;
	if (bpf_obj_pin(fd, path)) {
		r = km_log_errno(-errno, "pin %s: %m", path);
		close(fd); /* the only reference: detaches */
		return r;
	}
	close(fd);
	*created = 1;
	km_info("%s: attached and pinned %s", c->ifname, path);
	return 0;
}

static void link_remove(const char *root, const char *name)
{
	char path[PATH_MAX];
	int fd;

	if (pin_path(path, sizeof(path), root, name))
		return;
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		/* Detach now even if another process holds the link open. */
		if (bpf_link_detach(fd))
			km_warn("%s: detach: %m", path);
		close(fd);
	}
	if (unlink(path) && errno != ENOENT)
		km_warn("unlink %s: %m", path);
}

static int maps_fds(struct mapper *skel, struct mapper_maps *m)
{
	struct bpf_map *maps[] = {
	    skel->maps.km_m_config,   skel->maps.km_m_edges,
	    skel->maps.km_m_services, skel->maps.km_m_flows,
	    skel->maps.km_m_stats,    skel->maps.km_m_counters,
	};
	int *fds[] = {&m->config, &m->edges, &m->services,
		      &m->flows,  &m->stats, &m->counters};
	size_t i;

	for (i = 0; i < ARRAY_LEN(maps); i++) {
		*fds[i] = dup(bpf_map__fd(maps[i]));
		if (*fds[i] < 0)
			return -errno;
	}
	return 0;
}

static int abi_check(const struct mapper_maps *m, const char *root)
{
	struct kmm_config cfg;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(m->config, &zero, &cfg))
		return km_log_errno(-errno, "%s: reading config: %m", root);
	if (cfg.abi_version && cfg.abi_version != KMM_ABI_VERSION)
		return km_log_errno(
		    -EPROTO,
		    "%s: pins written by mapper ABI %u, this is "
		    "%u; --detach first",
		    root, cfg.abi_version, KMM_ABI_VERSION);
	return 0;
}

int mapper_attach(const struct mapper_conf *c, struct mapper_maps *m)
{
	struct mapper *skel = NULL;
	unsigned int reused = 0;
	int ifindex, r, tc_new = 0, xdp_new = 0;

	memset(m, 0xff, sizeof(*m));
	ifindex = (int)if_nametoindex(c->ifname);
	if (!ifindex)
		return km_log_errno(-ENODEV, "interface %s: %m", c->ifname);
	r = check_bpffs(c->pin_root);
	if (!r)
		r = mkdir_p(c->pin_root);
	if (r)
		return r;
	skel = mapper__open();
	if (!skel)
		return km_log_errno(-errno, "opening mapper.bpf.o: %m");
	r = maps_reuse(skel->obj, c->pin_root, &reused);
	if (r)
		goto out;
	r = mapper__load(skel);
	if (r) {
		km_err("loading mapper.bpf.o: %s", strerror(-r));
		goto out;
	}
	r = maps_pin_new(skel->obj, c->pin_root, reused);
	if (!r)
		r = maps_fds(skel, m);
	if (!r)
		r = abi_check(m, c->pin_root);
	/* Maps first: the programs never see a half-written state. TC
	 * before XDP: replies are encapsulated before requests arrive. */
	if (!r)
		r = mapper_apply(c, m);
	if (!r)
		r = link_attach(c, KMM_PIN_TC_LINK, ifindex,
				bpf_program__fd(skel->progs.kmm_tc_egress),
				&tc_new);
	if (!r)
		r = link_attach(c, KMM_PIN_XDP_LINK, ifindex,
				bpf_program__fd(skel->progs.kmm_xdp), &xdp_new);
	if (r && tc_new)
		link_remove(c->pin_root, KMM_PIN_TC_LINK);
out:
	if (r)
		mapper_maps_close(m);
	mapper__destroy(skel);
	return r;
}

static int in_list(const void *k, const void *list, size_t n, size_t sz)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!memcmp(k, (const char *)list + i * sz, sz))
			return 1;
	return 0;
}

/* Make a set map hold exactly keys[]: add first, then delete the rest. */
static int set_sync(int fd, const char *name, const void *keys, size_t n,
		    size_t ksz, const void *val)
{
	unsigned char cur[16], next[16], stale[KMM_MAX_SERVICES][16];
	size_t i, n_stale = 0;
	void *prev = NULL;

	for (i = 0; i < n; i++)
		if (bpf_map_update_elem(fd, (const char *)keys + i * ksz, val,
					BPF_ANY))
			return km_log_errno(-errno, "%s: update: %m", name);
	while (!bpf_map_get_next_key(fd, prev, next)) {
		if (!in_list(next, keys, n, ksz) && n_stale < KMM_MAX_SERVICES)
			memcpy(stale[n_stale++], next, ksz);
		memcpy(cur, next, ksz);
		prev = cur;
	}
	for (i = 0; i < n_stale; i++)
		if (bpf_map_delete_elem(fd, stale[i]) && errno != ENOENT)
			return km_log_errno(-errno, "%s: delete: %m", name);
	return 0;
}

int mapper_apply(const struct mapper_conf *c, const struct mapper_maps *m)
{
	struct kmm_config cfg = {
	    .abi_version = KMM_ABI_VERSION,
	    .flags = c->keep_l2 ? KMM_CFG_F_KEEP_L2 : 0,
	    .host_addr = c->host,
	    .default_edge = c->default_edge,
	    .idle_ns = (__u64)c->idle_s * 1000000000ULL,
	};
	struct kmm_edge edge = {};
	struct kmm_service svc = {};
	__u32 zero = 0;
	int r;

	if (bpf_map_update_elem(m->config, &zero, &cfg, BPF_ANY))
		return km_log_errno(-errno, KMM_MAP_CONFIG ": update: %m");
	r = set_sync(m->edges, KMM_MAP_EDGES, c->edges, c->n_edges,
		     sizeof(c->edges[0]), &edge);
	if (!r)
		r = set_sync(m->services, KMM_MAP_SERVICES, c->services,
			     c->n_services, sizeof(c->services[0]), &svc);
	if (!r)
		km_info("%s: %zu edge(s), %zu service prefix(es), default "
			"edge %s, idle %us, next hop %s",
			c->ifname, c->n_edges, c->n_services,
			c->default_edge
			    ? inet_ntoa((struct in_addr){c->default_edge})
			    : "none",
			c->idle_s, c->keep_l2 ? "player" : "route");
	return r;
}

int mapper_detach(const struct mapper_conf *c)
{
	char path[PATH_MAX];
	size_t i;
	int found = 0;

	for (i = 0; i < ARRAY_LEN(link_pins); i++) {
		if (!pin_path(path, sizeof(path), c->pin_root, link_pins[i]) &&
		    !access(path, F_OK))
			found = 1;
		link_remove(c->pin_root, link_pins[i]);
	}
	for (i = 0; i < ARRAY_LEN(map_pins); i++) {
		if (pin_path(path, sizeof(path), c->pin_root, map_pins[i]))
			continue;
		if (!unlink(path))
			found = 1;
		else if (errno != ENOENT)
			km_warn("unlink %s: %m", path);
	}
	if (rmdir(c->pin_root) && errno != ENOENT)
		km_warn("rmdir %s: %m", c->pin_root);
	if (found)
		km_info("%s: detached, pins under %s removed", c->ifname,
			c->pin_root);
	else
		km_info("%s: nothing pinned under %s", c->ifname, c->pin_root);
	return 0;
}

int mapper_maps_open(const char *root, struct mapper_maps *m)
{
	int *fds[] = {&m->config, &m->edges, &m->services,
		      &m->flows,  &m->stats, &m->counters};
	char path[PATH_MAX];
	size_t i;
	int r;

	memset(m, 0xff, sizeof(*m));
	for (i = 0; i < ARRAY_LEN(map_pins); i++) {
		r = pin_path(path, sizeof(path), root, map_pins[i]);
		if (r)
			goto fail;
		*fds[i] = bpf_obj_get(path);
		if (*fds[i] < 0) {
			r = km_log_errno(-errno, "%s: %m", path);
			goto fail;
		}
	}
	return 0;
fail:
	mapper_maps_close(m);
	return r;
}

void mapper_maps_close(struct mapper_maps *m)
{
	int *fds[] = {&m->config, &m->edges, &m->services,
		      &m->flows,  &m->stats, &m->counters};
	size_t i;

	for (i = 0; i < ARRAY_LEN(fds); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}
