// SPDX-License-Identifier: GPL-2.0-only
#include "attach.h"

#include <errno.h>
#include <limits.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "kilimanjaro_abi.h"
#include "log.h"

const char *attach_mode_name(enum km_xdp_mode mode)
{
	return mode == KM_XDP_MODE_SKB ? "skb" : "native";
}

static const char *attached_name(__u8 attach_mode)
{
	switch (attach_mode) {
	case XDP_ATTACHED_DRV:
		return "native";
	case XDP_ATTACHED_SKB:
		return "skb";
	case XDP_ATTACHED_HW:
		return "offload";
	case XDP_ATTACHED_MULTI:
		return "several modes";
	}
	return "none";
}

/* Program id the interface runs in `mode`, 0 when none. */
static __u32 prog_in_mode(const struct bpf_xdp_query_opts *q,
			  enum km_xdp_mode mode)
{
	return mode == KM_XDP_MODE_SKB ? q->skb_prog_id : q->drv_prog_id;
}

static int query(int ifindex, const char *ifname, struct bpf_xdp_query_opts *q)
{
	memset(q, 0, sizeof(*q));
	q->sz = sizeof(*q);
	if (bpf_xdp_query(ifindex, 0, q))
		return km_log_errno(-errno, "%s: cannot query XDP state: %s",
				    ifname, strerror(errno));
	return 0;
}

static int prog_id_of(int prog_fd, __u32 *id)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return km_log_errno(-errno, "cannot read program info: %s",
				    strerror(errno));
	*id = info.id;
	return 0;
}

/* Refuse an interface that runs an XDP program no link of ours owns. */
static int check_free(const char *ifname, int ifindex, const char *path)
{
	struct bpf_xdp_query_opts q;
	const char *off;
	__u32 id;
	int r;

	r = query(ifindex, ifname, &q);
	if (r)
		return r;
	if (q.attach_mode == XDP_ATTACHED_NONE)
		return 0;
	id = q.drv_prog_id ? q.drv_prog_id : q.skb_prog_id;
	off = q.attach_mode == XDP_ATTACHED_SKB ? "xdpgeneric" : "xdp";
	return km_log_errno(-EBUSY,
			    "%s already runs an XDP program (id %u, %s mode) "
			    "that no kilimanjaro link pinned at %s owns; "
			    "remove it first (ip link set dev %s %s off), or "
			    "if it is another pin root's, use that --pin-root",
			    ifname, id ? id : q.prog_id,
			    attached_name(q.attach_mode), path, ifname, off);
}

static int create_link(int prog_fd, const char *ifname, int ifindex,
		       enum km_xdp_mode mode, const char *path)
{
	LIBBPF_OPTS(bpf_link_create_opts, opts);
	int fd, r;

	r = check_free(ifname, ifindex, path);
	if (r)
		return r;
	opts.flags =
	    mode == KM_XDP_MODE_SKB ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
	fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &opts);
	if (fd < 0)
		return km_log_errno(
		    -errno, "cannot attach XDP to %s in %s mode: %s%s", ifname,
		    attach_mode_name(mode), strerror(errno),
		    mode == KM_XDP_MODE_NATIVE
			? " (does the driver support native XDP? --xdp-mode "
			  "skb is the slower generic mode; there is no "
			  "automatic fallback)"
			: "");
	if (bpf_obj_pin(fd, path)) {
		r = km_log_errno(-errno, "cannot pin the link at %s: %s", path,
				 strerror(errno));
		close(fd); /* unpinned: the attachment goes away with it */
		return r;
	}
	close(fd);
	km_info("attached XDP to %s in %s mode, link pinned at %s", ifname,
		attach_mode_name(mode), path);
	return 0;
}

/*
 * What is attached now. *link_fd = -1: no usable pinned link (*stale set
 * when a defunct one is pinned), and the interface is free. Otherwise the
 * pinned link runs on this interface in this mode and may be updated.
 */
static int inspect(const char *ifname, int ifindex, enum km_xdp_mode mode,
		   const char *path, int *link_fd, struct bpf_link_info *li,
		   bool *stale)
{
	struct bpf_xdp_query_opts q;
	__u32 len = sizeof(*li);
	char other[IF_NAMESIZE];
	int fd, r;

	*link_fd = -1;
	*stale = false;
	fd = bpf_obj_get(path);
	if (fd < 0 && errno != ENOENT)
		return km_log_errno(-errno, "cannot open %s: %s", path,
				    strerror(errno));
	if (fd < 0)
		return check_free(ifname, ifindex, path);
	memset(li, 0, sizeof(*li));
	if (bpf_obj_get_info_by_fd(fd, li, &len)) {
		r = km_log_errno(-errno, "%s: cannot read link info: %s", path,
				 strerror(errno));
		goto fail;
	}
	if (li->type != BPF_LINK_TYPE_XDP) {
		r = km_log_errno(-EINVAL, "%s is not an XDP link", path);
		goto fail;
	}
	if (li->xdp.ifindex == 0) {
		/* Its interface went away: the link is defunct. */
		close(fd);
		*stale = true;
		return check_free(ifname, ifindex, path);
	}
	if ((int)li->xdp.ifindex != ifindex) {
		r = km_log_errno(
		    -EINVAL,
		    "the link pinned at %s is attached to %s (ifindex %u), not "
		    "to %s",
		    path, if_indextoname(li->xdp.ifindex, other) ? other : "?",
		    li->xdp.ifindex, ifname);
		goto fail;
	}
	r = query(ifindex, ifname, &q);
	if (r)
		goto fail;
	if (prog_in_mode(&q, mode) != li->prog_id) {
		r = km_log_errno(
		    -EINVAL,
		    "the link pinned at %s runs on %s in %s mode, not in the "
		    "requested %s mode; changing modes needs "
		    "kilimanjaro-loader --detach first (stops forwarding)",
		    path, ifname, attached_name(q.attach_mode),
		    attach_mode_name(mode));
		goto fail;
	}
	*link_fd = fd;
	return 0;
fail:
	close(fd);
	return r;
}

static int link_path(char *path, const char *pin_root)
{
	if (snprintf(path, PATH_MAX, "%s/%s", pin_root, KM_PIN_LINK) >=
	    PATH_MAX)
		return km_log_errno(-ENAMETOOLONG, "pin root too long: %s",
				    pin_root);
	return 0;
}

int attach_check(const char *ifname, int ifindex, enum km_xdp_mode mode,
		 const char *pin_root)
{
	struct bpf_link_info li;
	char path[PATH_MAX];
	bool stale;
	int fd, r;

	r = link_path(path, pin_root);
	if (!r)
		r = inspect(ifname, ifindex, mode, path, &fd, &li, &stale);
	if (!r && fd >= 0)
		close(fd);
	return r;
}

int attach_xdp(struct bpf_program *prog, const char *ifname, int ifindex,
	       enum km_xdp_mode mode, const char *pin_root)
{
	int fd, r, prog_fd = bpf_program__fd(prog);
	struct bpf_link_info li;
	char path[PATH_MAX];
	__u32 new_id = 0;
	bool stale;

	r = link_path(path, pin_root);
	if (!r)
		r = inspect(ifname, ifindex, mode, path, &fd, &li, &stale);
	if (r)
		return r;
	if (fd < 0) {
		if (stale) {
			km_warn("%s: the pinned link lost its interface; "
				"replacing it",
				path);
			if (unlink(path))
				return km_log_errno(-errno,
						    "cannot unpin %s: %s", path,
						    strerror(errno));
		}
		return create_link(prog_fd, ifname, ifindex, mode, path);
	}
	r = prog_id_of(prog_fd, &new_id);
	if (!r && bpf_link_update(fd, prog_fd, NULL))
		r = km_log_errno(
		    -errno, "cannot replace the program of link %u (%s): %s",
		    li.id, path, strerror(errno));
	if (!r)
		km_info("replaced program %u by %u on link %u (%s, %s mode), "
			"no detach",
			li.prog_id, new_id, li.id, ifname,
			attach_mode_name(mode));
	close(fd);
	return r;
}
