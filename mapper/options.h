/* SPDX-License-Identifier: GPL-2.0-only */
/* kilimanjaro-mapper settings: command line (and --config file). */
#ifndef KMM_OPTIONS_H
#define KMM_OPTIONS_H

#include <limits.h>
#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

#include "mapper_abi.h"

enum mapper_xdp_mode { MAPPER_XDP_NATIVE = 0, MAPPER_XDP_SKB = 1 };

/* What the maps and attachments should look like. Addresses network order. */
struct mapper_conf {
	char ifname[IF_NAMESIZE];
	uint32_t host;	       /* __be32, 0 = unset */
	uint32_t default_edge; /* __be32, 0 = none */
	uint32_t edges[KMM_MAX_EDGES];
	size_t n_edges;
	struct kmm_prefix_key services[KMM_MAX_SERVICES];
	size_t n_services;
	uint32_t idle_s;
	int xdp_mode; /* enum mapper_xdp_mode */
	int keep_l2;  /* --next-hop player */
	char pin_root[PATH_MAX];
};

/* Actions and process settings, not state. */
struct mapper_opts {
	int detach;
	int attach_only;
	int show;
	int check;
	int json;
	int verbose;
	const char *config_path;
	/* Which conf fields the command line set (MAPPER_SET_*): they win
	 * over the config file, also on reload. */
	unsigned int set;
};

#define MAPPER_SET_IFNAME 0x01
#define MAPPER_SET_HOST 0x02
#define MAPPER_SET_DEFAULT_EDGE 0x04
#define MAPPER_SET_EDGES 0x08
#define MAPPER_SET_SERVICES 0x10
#define MAPPER_SET_IDLE 0x20
#define MAPPER_SET_XDP_MODE 0x40
#define MAPPER_SET_NEXT_HOP 0x80
#define MAPPER_SET_PIN_ROOT 0x100

void mapper_conf_defaults(struct mapper_conf *c);

/*
 * Parse argv into *c and *o. Returns 0, 1 when --help was printed, or
 * -EINVAL after printing one line naming the bad argument.
 */
int mapper_options_parse(int argc, char **argv, struct mapper_conf *c,
			 struct mapper_opts *o);

/* Setters shared with the config file: 0 or -EINVAL with why filled. */
int mapper_set_addr(uint32_t *out, const char *s, char *why, size_t n);
int mapper_add_edge(struct mapper_conf *c, const char *s, char *why, size_t n);
int mapper_add_service(struct mapper_conf *c, const char *s, char *why,
		       size_t n);
int mapper_set_xdp_mode(struct mapper_conf *c, const char *s, char *why,
			size_t n);
int mapper_set_next_hop(struct mapper_conf *c, const char *s, char *why,
			size_t n);
int mapper_set_idle(struct mapper_conf *c, const char *s, char *why, size_t n);

/*
 * Checks across fields once everything is read (interface, address, edges
 * and services present; host address outside the service prefixes; the
 * default edge is added to the edges). Fills the default pin root.
 * 0 or -EINVAL with why filled.
 */
int mapper_conf_finish(struct mapper_conf *c, int need_state, char *why,
		       size_t n);

#endif
