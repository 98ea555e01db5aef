/* SPDX-License-Identifier: GPL-2.0-only */
/* State of a running kilimanjaro-loader, shared by its modules. */
#ifndef KM_LOADER_H
#define KM_LOADER_H

#include <limits.h>
#include <net/if.h>

#include "config.h"
#include "maps.h"
#include "options.h"

struct loader {
	struct loader_opts opts;
	struct km_cfg cfg; /* the config applied last */
	char ifname[IF_NAMESIZE];
	int ifindex;
	enum km_xdp_mode mode;
	char pin_root[PATH_MAX];
	struct km_maps maps; /* every map, for reloads */
	int lock_fd;	     /* flock on the pin root */
};

/* Interface, mode and pin root from the options over the config. */
int loader_resolve(struct loader *l);
/* Load the program reusing the pins, apply the config, attach (or update
 * the pinned link), pin new maps, enable forwarding. */
int loader_start(struct loader *l);
void loader_close(struct loader *l);

#endif
