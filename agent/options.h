/* SPDX-License-Identifier: GPL-2.0-only */
/* Command line of kilimanjaro-agent: one table gives getopt and --help. */
#ifndef KA_OPTIONS_H
#define KA_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#define KA_PIN_BASE "/sys/fs/bpf/kilimanjaro"
#define KA_RUN_BASE "/run/kilimanjaro"

struct ka_opts {
	const char *ifname;
	const char *controller; /* HOST:PORT */
	const char *edge_id;
	const char *ca, *cert, *key;
	const char *server_name; /* name/IP the controller cert must carry */
	bool plain_tcp;
	const char *pin_root;
	const char *run_dir;
	const char *stats_ms;
	const char *ping_s;
	const char *log_level;
	bool verbose;
	/* Derived by ka_options_parse. */
	char host[256];
	uint16_t port;
	uint32_t stats_interval_ms;
	uint32_t ping_interval_ms;
	uint32_t dead_after_ms; /* 3 ping intervals without a byte */
	int log_prio;
};

/* 0: run; 1: exit 0 (--help printed); -EINVAL: usage error (logged). */
int ka_options_parse(int argc, char **argv, struct ka_opts *o);

#endif
