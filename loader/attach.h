/* SPDX-License-Identifier: GPL-2.0-only */
/* The XDP attachment: one bpf_link, pinned at <pin-root>/km_link. */
#ifndef KM_LOADER_ATTACH_H
#define KM_LOADER_ATTACH_H

#include "config.h"

struct bpf_program;

/*
 * First start: create the link in `mode` (no fallback to another mode) and
 * pin it. Restart (a link is pinned): check it is on this interface in this
 * mode and switch it to prog with bpf_link_update (hitless). Refuses an
 * interface that carries an XDP program attached some other way.
 */
int attach_xdp(struct bpf_program *prog, const char *ifname, int ifindex,
	       enum km_xdp_mode mode, const char *pin_root);

/* The same checks as attach_xdp, changing nothing: run before the maps are
 * touched so a start that cannot attach leaves them as they were. */
int attach_check(const char *ifname, int ifindex, enum km_xdp_mode mode,
		 const char *pin_root);

const char *attach_mode_name(enum km_xdp_mode mode);

#endif
