// SPDX-License-Identifier: GPL-2.0-only
#include "pins.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/magic.h>

#include "config.h"
#include "kilimanjaro_abi.h"
#include "log.h"

#define BPFFS "/sys/fs/bpf"

static bool on_bpffs(const char *path)
{
	struct statfs st;

	return !statfs(path, &st) && st.f_type == BPF_FS_MAGIC;
}

static int mount_bpffs(void)
{
	if (on_bpffs(BPFFS))
		return 0;
	if (mount("bpf", BPFFS, "bpf", 0, "mode=0700"))
		return km_log_errno(-errno, "cannot mount bpffs on %s: %s",
				    BPFFS, strerror(errno));
	km_info("mounted bpffs on %s", BPFFS);
	return 0;
}

/* mkdir -p with mode 0700 for every directory it creates. */
static int mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	size_t i, n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return km_log_errno(-ENAMETOOLONG, "bad pin root \"%s\"", path);
	memcpy(buf, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0700) && errno != EEXIST)
			return km_log_errno(-errno, "cannot create %s: %s", buf,
					    strerror(errno));
		buf[i] = i == n ? '\0' : '/';
	}
	return 0;
}

int pins_prepare(const char *pin_root, int *lock_fd)
{
	int r, fd;

	*lock_fd = -1;
	r = mount_bpffs();
	if (r)
		return r;
	r = mkdir_p(pin_root);
	if (r)
		return r;
	if (!on_bpffs(pin_root))
		return km_log_errno(
		    -EINVAL,
		    "pin root %s is not on a bpffs (mount -t bpf bpf <dir>)",
		    pin_root);
	fd = open(pin_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return km_log_errno(-errno, "cannot open %s: %s", pin_root,
				    strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		r = -errno;
		close(fd);
		if (r == -EWOULDBLOCK)
			return km_log_errno(-EBUSY,
					    "another kilimanjaro-loader is "
					    "running on pin root %s",
					    pin_root);
		return km_log_errno(r, "cannot lock %s: %s", pin_root,
				    strerror(-r));
	}
	*lock_fd = fd;
	return 0;
}

void pins_remove_if_empty(const char *pin_root)
{
	if (!rmdir(pin_root))
		km_debug("removed the empty pin root %s", pin_root);
}

/* Maps whose size comes from "map_sizes". */
static int size_key_of(const char *map)
{
	static const struct {
		const char *map;
		int key;
	} t[] = {
	    {KM_MAP_ALLOW_A, KM_CFG_SZ_PREFIXES},
	    {KM_MAP_ALLOW_B, KM_CFG_SZ_PREFIXES},
	    {KM_MAP_DENY_A, KM_CFG_SZ_PREFIXES},
	    {KM_MAP_DENY_B, KM_CFG_SZ_PREFIXES},
	    {KM_MAP_BLOCKS, KM_CFG_SZ_BLOCKS},
	    {KM_MAP_RL_SRC, KM_CFG_SZ_RL_SRC},
	    {KM_MAP_VALIDATED, KM_CFG_SZ_VALIDATED},
	    {KM_MAP_PUNCHES, KM_CFG_SZ_PUNCHES},
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (!strcmp(t[i].map, map))
			return t[i].key;
	return -1;
}

/* Only the program's own maps are pinned; internal maps (.rodata, .bss)
 * belong to one load. */
static bool is_pinned_kind(const struct bpf_map *map)
{
	return !strncmp(bpf_map__name(map), "km_", 3);
}

static int pin_path(char *buf, const char *root, const char *name)
{
	if (snprintf(buf, PATH_MAX, "%s/%s", root, name) >= PATH_MAX)
		return km_log_errno(-ENAMETOOLONG, "pin path too long: %s/%s",
				    root, name);
	return 0;
}

/* Open pin_root/name into path and *fd; a missing pin is no error (*fd is
 * then -1). */
static int pin_open(const char *pin_root, const char *name, char *path,
		    int *fd)
{
	int r = pin_path(path, pin_root, name);

	*fd = -1;
	if (r)
		return r;
	*fd = bpf_obj_get(path);
	if (*fd >= 0 || errno == ENOENT)
		return 0;
	return km_log_errno(-errno, "cannot open pin %s: %s", path,
			    strerror(errno));
}

/* The kernel rounds a per-CPU LRU's size up to a multiple of the CPUs. */
static __u32 effective_size(const struct bpf_map *map, __u32 want)
{
	int ncpus = libbpf_num_possible_cpus();

	if (bpf_map__type(map) == BPF_MAP_TYPE_LRU_HASH &&
	    (bpf_map__map_flags(map) & BPF_F_NO_COMMON_LRU) && ncpus > 0 &&
	    want % (__u32)ncpus)
		want += (__u32)ncpus - want % (__u32)ncpus;
	return want;
}

static int check_compat(struct bpf_map *map, const char *path,
			const struct bpf_map_info *pi, const struct km_cfg *cfg)
{
	const char *name = bpf_map__name(map);
	int sk = size_key_of(name);
	__u32 want;

	if (pi->type != bpf_map__type(map))
		return km_log_errno(
		    -EINVAL,
		    "pinned map %s (%s) has type %s, this program's has %s; it "
		    "was created by another version: run kilimanjaro-loader "
		    "--detach first",
		    name, path, libbpf_bpf_map_type_str(pi->type),
		    libbpf_bpf_map_type_str(bpf_map__type(map)));
	if (pi->key_size != bpf_map__key_size(map) ||
	    pi->value_size != bpf_map__value_size(map))
		return km_log_errno(
		    -EINVAL,
		    "pinned map %s (%s) has key/value size %u/%u, this "
		    "program's %u/%u; it was created by another ABI: run "
		    "kilimanjaro-loader --detach first",
		    name, path, pi->key_size, pi->value_size,
		    bpf_map__key_size(map), bpf_map__value_size(map));
	if (pi->map_flags != bpf_map__map_flags(map))
		return km_log_errno(
		    -EINVAL,
		    "pinned map %s (%s) has flags 0x%x, this program's 0x%x: "
		    "run kilimanjaro-loader --detach first",
		    name, path, pi->map_flags, bpf_map__map_flags(map));
	if (sk >= 0 && !cfg->map_size_set[sk])
		return 0; /* not configured: the pin's size wins */
	want = effective_size(map, sk >= 0 ? cfg->map_size[sk]
					   : bpf_map__max_entries(map));
	if (pi->max_entries == want)
		return 0;
	if (sk >= 0)
		return km_log_errno(
		    -EINVAL,
		    "map_sizes.%s: %u differs from the pinned %s (%u entries); "
		    "sizes are fixed when the maps are created: run "
		    "kilimanjaro-loader --detach first (stops forwarding)",
		    km_cfg_size_names[sk], cfg->map_size[sk], name,
		    pi->max_entries);
	return km_log_errno(-EINVAL,
			    "pinned map %s (%s) has %u entries, this program's "
			    "%u: run kilimanjaro-loader --detach first",
			    name, path, pi->max_entries,
			    bpf_map__max_entries(map));
}

static int check_abi(int fd, const char *path)
{
	struct km_config kc;
	__u32 k = 0;

	if (bpf_map_lookup_elem(fd, &k, &kc))
		return km_log_errno(-errno, "%s: cannot read: %s", path,
				    strerror(errno));
	/* 0: created but never written (a start that died early). */
	if (kc.abi_version && kc.abi_version != KM_ABI_VERSION)
		return km_log_errno(-EINVAL,
				    "%s was written by ABI version %u, this "
				    "loader is version %u: the maps need a "
				    "migration or kilimanjaro-loader --detach",
				    path, kc.abi_version, KM_ABI_VERSION);
	return 0;
}

static int reuse_one(struct bpf_map *map, const char *pin_root,
		     const struct km_cfg *cfg)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd, r;

	r = pin_open(pin_root, bpf_map__name(map), path, &fd);
	if (r || fd < 0)
		return r;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		r = km_log_errno(-errno, "%s: cannot read map info: %s", path,
				 strerror(errno));
		goto out;
	}
	r = check_compat(map, path, &info, cfg);
	if (!r && !strcmp(bpf_map__name(map), KM_MAP_CONFIG))
		r = check_abi(fd, path);
	if (!r && (r = bpf_map__reuse_fd(map, fd)))
		km_err("%s: cannot reuse pin: %s", path, strerror(-r));
	if (!r)
		km_debug("reusing pinned map %s", path);
out:
	close(fd);
	return r;
}

int pins_reuse(struct bpf_object *obj, const char *pin_root,
	       const struct km_cfg *cfg)
{
	struct bpf_map *map;
	int r, sk;

	bpf_object__for_each_map(map, obj)
	{
		if (!is_pinned_kind(map))
			continue;
		sk = size_key_of(bpf_map__name(map));
		if (sk >= 0) {
			r = bpf_map__set_max_entries(map, cfg->map_size[sk]);
			if (r)
				return km_log_errno(
				    r, "%s: cannot set size: %s",
				    bpf_map__name(map), strerror(-r));
		}
		r = reuse_one(map, pin_root, cfg);
		if (r)
			return r;
	}
	return 0;
}

int pins_pin_new(struct bpf_object *obj, const char *pin_root)
{
	char path[PATH_MAX];
	struct bpf_map *map;
	int r;

	bpf_object__for_each_map(map, obj)
	{
		if (!is_pinned_kind(map))
			continue;
		r = pin_path(path, pin_root, bpf_map__name(map));
		if (r)
			return r;
		if (!access(path, F_OK))
			continue;
		r = bpf_map__pin(map, path);
		if (r)
			return km_log_errno(r, "cannot pin %s: %s", path,
					    strerror(-r));
		km_debug("pinned %s", path);
	}
	return 0;
}

static int detach_link(const char *pin_root)
{
	char path[PATH_MAX];
	int fd, r;

	r = pin_open(pin_root, KM_PIN_LINK, path, &fd);
	if (r || fd < 0)
		return r;
	/* Detach even if another process still holds the link open. */
	if (bpf_link_detach(fd) && errno != ENOLINK && errno != EINVAL)
		km_warn("%s: detach: %s (unpinning anyway)", path,
			strerror(errno));
	close(fd);
	if (unlink(path))
		return km_log_errno(-errno, "cannot unpin %s: %s", path,
				    strerror(errno));
	km_info("detached and unpinned %s", path);
	return 0;
}

static int remove_tree(int dirfd, const char *shown)
{
	struct dirent *de;
	DIR *d = fdopendir(dirfd);
	int r = 0, n = 0;

	if (!d) {
		close(dirfd);
		return km_log_errno(-errno, "%s: %s", shown, strerror(errno));
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (de->d_type == DT_DIR) {
			int sub = openat(dirfd, de->d_name,
					 O_RDONLY | O_DIRECTORY | O_CLOEXEC);

			if (sub < 0 || remove_tree(sub, de->d_name) ||
			    unlinkat(dirfd, de->d_name, AT_REMOVEDIR))
				r = km_log_errno(-errno, "cannot remove %s/%s",
						 shown, de->d_name);
			continue;
		}
		if (unlinkat(dirfd, de->d_name, 0))
			r = km_log_errno(-errno, "cannot unpin %s/%s: %s",
					 shown, de->d_name, strerror(errno));
		else
			n++;
	}
	closedir(d);
	if (n)
		km_info("unpinned %d entries of %s", n, shown);
	return r;
}

int pins_detach(const char *pin_root)
{
	int fd, r;

	if (access(pin_root, F_OK)) {
		km_info("%s does not exist: nothing attached there", pin_root);
		return 0;
	}
	r = detach_link(pin_root);
	if (r)
		return r;
	fd = open(pin_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return km_log_errno(-errno, "cannot open %s: %s", pin_root,
				    strerror(errno));
	r = remove_tree(fd, pin_root);
	if (r)
		return r;
	if (rmdir(pin_root))
		return km_log_errno(-errno, "cannot remove %s: %s", pin_root,
				    strerror(errno));
	km_info("removed %s", pin_root);
	return 0;
}
