// SPDX-License-Identifier: GPL-2.0-only
/* Start-up: load the program over the existing pins, apply the config,
 * attach or update the pinned link. Nothing is changed before the config
 * was validated (main.c) and the pins were checked (pins_reuse). */
#include "loader.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "apply.h"
#include "attach.h"
#include "kilimanjaro.skel.h"
#include "log.h"
#include "pins.h"
#include "preflight.h"

#define KM_PROG_NAME "km_xdp"

int loader_resolve(struct loader *l)
{
	const char *ifname = l->opts.ifname ? l->opts.ifname : l->cfg.ifname;

	if (!ifname[0])
		return km_log_errno(
		    -EINVAL,
		    "no interface: set \"interface\" in %s or pass --interface",
		    l->opts.config);
	/* It becomes a path component of the default pin root. */
	if (strlen(ifname) >= sizeof(l->ifname) || strchr(ifname, '/') ||
	    !strcmp(ifname, ".") || !strcmp(ifname, ".."))
		return km_log_errno(-EINVAL, "\"%s\" is not an interface name",
				    ifname);
	snprintf(l->ifname, sizeof(l->ifname), "%s", ifname);
	l->mode = l->cfg.xdp_mode;
	if (l->opts.xdp_mode)
		l->mode = strcmp(l->opts.xdp_mode, "skb") ? KM_XDP_MODE_NATIVE
							  : KM_XDP_MODE_SKB;
	if (l->opts.pin_root) {
		if (snprintf(l->pin_root, sizeof(l->pin_root), "%s",
			     l->opts.pin_root) >= (int)sizeof(l->pin_root))
			return km_log_errno(-ENAMETOOLONG,
					    "--pin-root too long");
	} else {
		snprintf(l->pin_root, sizeof(l->pin_root), "%s/%s",
			 LOADER_PIN_BASE, l->ifname);
	}
	return 0;
}

static struct bpf_object *open_object(const char *path)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = "kilimanjaro");
	struct bpf_object *obj;
	const void *elf;
	size_t sz;

	if (path) {
		obj = bpf_object__open_file(path, NULL);
	} else {
		elf = kilimanjaro__elf_bytes(&sz);
		obj = bpf_object__open_mem(elf, sz, &opts);
	}
	if (!obj)
		km_err("cannot open BPF object %s: %s",
		       path ? path : "(built in)", strerror(errno));
	return obj;
}

static struct bpf_program *find_prog(struct bpf_object *obj)
{
	struct bpf_program *prog;

	prog = bpf_object__find_program_by_name(obj, KM_PROG_NAME);
	if (!prog || bpf_program__type(prog) != BPF_PROG_TYPE_XDP) {
		km_err("BPF object has no XDP program %s", KM_PROG_NAME);
		return NULL;
	}
	return prog;
}

/*
 * The maps may be the pins of an edge that is running (restart): the
 * pre-flight first, and a failed apply puts back what the maps held, but
 * the services, for which there is no running config to go back to.
 */
static int start_apply(struct loader *l)
{
	struct apply_snap snap;
	enum apply_step step;
	char failed[128];
	int r;

	r = preflight_check(&l->maps, &l->cfg, l->opts.config, "cannot start",
			    "nothing was changed");
	if (r)
		return r;
	r = apply_snapshot(&l->maps, &snap);
	if (r)
		return km_log_errno(r,
				    "cannot start: %s: cannot read what the "
				    "maps hold now; nothing was changed",
				    l->opts.config);
	r = apply_config(&l->maps, &l->cfg, &step);
	if (r && !apply_rollback(&l->maps, &snap, NULL, step, failed,
				 sizeof(failed)))
		km_err("cannot apply %s to the maps (%s: %s); the maps were "
		       "put back as they were%s; the new program is "
		       "not attached",
		       l->opts.config, apply_step_names[step], strerror(-r),
		       step != APPLY_SERVICES
			   ? ""
			   : " but km_services, which may hold some of the "
			     "file's services");
	else if (r)
		km_err("cannot apply %s to the maps (%s: %s), and putting them "
		       "back failed too (%s): those hold a mix of the previous "
		       "and the file's entries; the new program is not "
		       "attached",
		       l->opts.config, apply_step_names[step], strerror(-r),
		       failed);
	apply_snap_free(&snap);
	return r;
}

int loader_start(struct loader *l)
{
	struct bpf_object *obj = NULL;
	struct bpf_program *prog;
	int r;

	l->ifindex = (int)if_nametoindex(l->ifname);
	if (!l->ifindex)
		return km_log_errno(-ENODEV, "interface %s: %s", l->ifname,
				    strerror(errno));
	r = pins_prepare(l->pin_root, &l->lock_fd);
	if (r)
		return r;
	r = attach_check(l->ifname, l->ifindex, l->mode, l->pin_root);
	if (r)
		goto out;
	r = -EINVAL;
	obj = open_object(l->opts.object);
	if (!obj)
		goto out;
	prog = find_prog(obj);
	if (!prog)
		goto out;
	r = pins_reuse(obj, l->pin_root, &l->cfg);
	if (r)
		goto out;
	r = bpf_object__load(obj);
	if (r) {
		km_err("cannot load the BPF program: %s", strerror(-r));
		goto out;
	}
	r = km_maps_from_object(&l->maps, obj);
	if (r)
		goto out;
	/* Before the attach: a fresh program never runs unconfigured. */
	r = start_apply(l);
	if (r)
		goto out;
	r = attach_xdp(prog, l->ifname, l->ifindex, l->mode, l->pin_root);
	if (r)
		goto out;
	r = pins_pin_new(obj, l->pin_root);
	if (r)
		goto out;
	r = apply_forwarding(l->ifname);
out:
	/* The link and the pins keep program and maps alive; l->maps holds
	 * its own fds for reloads. */
	bpf_object__close(obj);
	if (r)
		pins_remove_if_empty(l->pin_root);
	return r;
}

void loader_close(struct loader *l)
{
	km_maps_close(&l->maps);
	km_cfg_free(&l->cfg);
	if (l->lock_fd >= 0)
		close(l->lock_fd);
	l->lock_fd = -1;
}
