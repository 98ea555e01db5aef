/* SPDX-License-Identifier: GPL-2.0-only */
/* Command line of kilimanjaro-loader: one table gives getopt and --help. */
#ifndef KM_LOADER_OPTIONS_H
#define KM_LOADER_OPTIONS_H

#include <stdbool.h>

#define LOADER_DEFAULT_CONFIG "/etc/kilimanjaro/kilimanjaro.json"
#define LOADER_PIN_BASE "/sys/fs/bpf/kilimanjaro"

struct loader_opts {
	const char *config;   /* config file */
	const char *ifname;   /* NULL: the config's "interface" */
	const char *pin_root; /* NULL: LOADER_PIN_BASE/<ifname> */
	const char *xdp_mode; /* NULL: the config's "xdp_mode" */
	const char *object;   /* NULL: the object built into the binary */
	bool check_config;
	bool detach;
	bool verbose;
};

/* 0: run; 1: exit 0 (--help printed); -EINVAL: usage error (logged). */
int options_parse(int argc, char **argv, struct loader_opts *o);

#endif
