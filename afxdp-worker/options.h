/* SPDX-License-Identifier: GPL-2.0-only */
/* Command line of kilimanjaro-afxdp: one table gives getopt and --help
 * (the style of kilimanjaro-loader's options). */
#ifndef KW_OPTIONS_H
#define KW_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#define KW_PIN_BASE "/sys/fs/bpf/kilimanjaro"
#define KW_RUN_BASE "/run/kilimanjaro"

struct kw_opts {
	const char *ifname;
	const char *queue;     /* --queue N */
	const char *queues;    /* --queues all */
	const char *pin_root;  /* NULL: KW_PIN_BASE/<ifname> */
	const char *run_dir;   /* NULL: KW_RUN_BASE/<ifname> */
	const char *log_level; /* NULL: info */
	bool verbose;
	/* Derived by options_parse. */
	bool all_queues;
	uint32_t queue_id;
	int log_prio;
};

/* 0: run; 1: exit 0 (--help printed); -EINVAL: usage error (logged). */
int options_parse(int argc, char **argv, struct kw_opts *o);

#endif
