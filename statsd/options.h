/* SPDX-License-Identifier: GPL-2.0-only */
/* Command line of kilimanjaro-statsd: one table gives getopt and --help. */
#ifndef KS_OPTIONS_H
#define KS_OPTIONS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#define KS_PIN_BASE "/sys/fs/bpf/kilimanjaro"
#define KS_RUN_BASE "/run/kilimanjaro"
#define KS_INTERVAL_MIN_NS 100000000ull	    /* 100 ms */
#define KS_INTERVAL_MAX_NS 3600000000000ull /* 1 h */

struct ks_opts {
	const char *ifname;
	const char *pin_root_opt;
	const char *run_dir_opt;
	const char *interval_s; /* "1s", "100ms", "2.5s" */
	const char *listen_s;	/* "127.0.0.1:9477", "none" */
	const char *slots_s;
	const char *max_services_s;
	const char *log_level;
	bool once; /* publish one snapshot and exit (tests, bench) */
	/* Derived by ks_options_parse. */
	char pin_root[256];
	char run_dir[256];
	uint64_t interval_ns;
	bool listen;
	struct sockaddr_in listen_addr;
	uint32_t slots;
	uint32_t max_services;
	int log_prio;
};

/* 0: run; 1: exit 0 (--help printed); -EINVAL: usage error (logged). */
int ks_options_parse(int argc, char **argv, struct ks_opts *o);

/* "1s", "100ms", "250us", "1.5s", "2m" -> ns; -EINVAL when not a
 * duration. */
int ks_parse_duration(const char *s, uint64_t *ns);

#endif
