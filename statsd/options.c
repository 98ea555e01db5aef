// SPDX-License-Identifier: GPL-2.0-only
#include "options.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "kilimanjaro_abi.h"
#include "log.h"
#include "ring.h"

enum opt_kind { OPT_STR, OPT_FLAG };

struct opt_def {
	const char *name;
	int short_name; /* 0: long only */
	enum opt_kind kind;
	size_t offset; /* into struct ks_opts */
	const char *arg;
	const char *help;
	const char *def; /* shown in --help */
};

#define STR(n, s, field, a, h, d)                                              \
	{                                                                      \
		n, s, OPT_STR, offsetof(struct ks_opts, field), a, h, d        \
	}
#define FLAG(n, s, field, h)                                                   \
	{                                                                      \
		n, s, OPT_FLAG, offsetof(struct ks_opts, field), NULL, h, NULL \
	}

static const struct opt_def opt_defs[] = {
    STR("interface", 'i', ifname, "IFNAME", "interface of the edge", NULL),
    STR("pin-root", 'p', pin_root_opt, "DIR",
	"directory (on bpffs) of the loader's map pins",
	KS_PIN_BASE "/<interface>"),
    STR("run-dir", 'r', run_dir_opt, "DIR",
	"directory of the stats ring stats.ring", KS_RUN_BASE "/<interface>"),
    STR("interval", 'n', interval_s, "TIME",
	"snapshot interval, 100ms to 1h (\"1s\", \"100ms\", \"2.5s\")", "1s"),
    STR("listen", 'L', listen_s, "ADDR:PORT",
	"Prometheus /metrics on this local IPv4 address, or \"none\"",
	"127.0.0.1:9477"),
    STR("slots", 0, slots_s, "N", "snapshots the ring keeps (2..4096)", "64"),
    STR("max-services", 0, max_services_s, "N",
	"services per snapshot; more are left out, flagged truncated", "4096"),
    STR("log-level", 'l', log_level, "LEVEL",
	"err, warning, notice, info or debug", "info"),
    FLAG("once", 0, once, "publish one snapshot and exit"),
    {"help", 'h', OPT_FLAG, 0, NULL, "this help", NULL},
};

#define N_OPTS (sizeof(opt_defs) / sizeof(opt_defs[0]))

static void usage(const char *prog)
{
	char left[64];

	printf("Usage: %s --interface IFNAME [OPTION]...\n"
	       "Read the edge's per-CPU counters every interval into the "
	       "stats ring\n"
	       "(<run-dir>/stats.ring) and serve them as Prometheus text on "
	       "/metrics.\n\n",
	       prog);
	for (size_t i = 0; i < N_OPTS; i++) {
		const struct opt_def *d = &opt_defs[i];

		if (d->short_name)
			snprintf(left, sizeof(left), "-%c, --%s%s%s",
				 d->short_name, d->name, d->arg ? " " : "",
				 d->arg ? d->arg : "");
		else
			snprintf(left, sizeof(left), "    --%s%s%s", d->name,
				 d->arg ? " " : "", d->arg ? d->arg : "");
		printf("  %-28s %s", left, d->help);
		if (d->def)
			printf(" [default: %s]", d->def);
		printf("\n");
	}
}

int ks_parse_duration(const char *s, uint64_t *ns)
{
	static const struct {
		const char *suffix;
		double ns;
	} units[] = {{"ms", 1e6}, {"us", 1e3}, {"ns", 1},
		     {"s", 1e9},  {"m", 60e9}, {"h", 3600e9}};
	char *end;
	double v;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(end, units[i].suffix)) {
			if (v * units[i].ns > 1e18)
				return -EINVAL;
			*ns = (uint64_t)llround(v * units[i].ns);
			return 0;
		}
	return -EINVAL;
}

static int parse_level(const char *s, int *prio)
{
	static const struct {
		const char *name;
		int prio;
	} levels[] = {{"err", LOG_ERR},		{"error", LOG_ERR},
		      {"warning", LOG_WARNING}, {"notice", LOG_NOTICE},
		      {"info", LOG_INFO},	{"debug", LOG_DEBUG}};

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (!strcmp(s, levels[i].name)) {
			*prio = levels[i].prio;
			return 0;
		}
	return km_log_errno(-EINVAL,
			    "--log-level: \"%s\" is not one of err, warning, "
			    "notice, info, debug",
			    s);
}

static int parse_u32(const char *opt, const char *s, uint32_t lo, uint32_t hi,
		     uint32_t *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < lo || v > hi)
		return km_log_errno(-EINVAL,
				    "--%s: \"%s\" is not a number %u..%u", opt,
				    s, lo, hi);
	*out = (uint32_t)v;
	return 0;
}

static int parse_listen(const char *s, struct ks_opts *o)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	uint32_t port;

	if (!strcmp(s, "none") || !strcmp(s, "off")) {
		o->listen = false;
		return 0;
	}
	if (!colon || colon == s || (size_t)(colon - s) >= sizeof(host))
		return km_log_errno(-EINVAL,
				    "--listen: \"%s\" is not ADDR:PORT (IPv4) "
				    "or \"none\"",
				    s);
	memcpy(host, s, colon - s);
	host[colon - s] = 0;
	o->listen_addr.sin_family = AF_INET;
	if (inet_pton(AF_INET, host, &o->listen_addr.sin_addr) != 1)
		return km_log_errno(
		    -EINVAL, "--listen: \"%s\" is not an IPv4 address", host);
	if (parse_u32("listen", colon + 1, 1, 65535, &port))
		return -EINVAL;
	o->listen_addr.sin_port = htons((uint16_t)port);
	o->listen = true;
	return 0;
}

static int path_opt(char *dst, size_t len, const char *given, const char *base,
		    const char *ifname, const char *what)
{
	int n = given ? snprintf(dst, len, "%s", given)
		      : snprintf(dst, len, "%s/%s", base, ifname);

	if (n < 0 || (size_t)n >= len)
		return km_log_errno(-EINVAL, "--%s: path too long", what);
	return 0;
}

static int check(struct ks_opts *o)
{
	if (!o->ifname)
		return km_log_errno(-EINVAL,
				    "--interface is required (see --help)");
	if (!*o->ifname || strlen(o->ifname) >= 16 || strchr(o->ifname, '/'))
		return km_log_errno(-EINVAL,
				    "--interface: \"%s\" is not an interface "
				    "name",
				    o->ifname);
	if (path_opt(o->pin_root, sizeof(o->pin_root), o->pin_root_opt,
		     KS_PIN_BASE, o->ifname, "pin-root") ||
	    path_opt(o->run_dir, sizeof(o->run_dir), o->run_dir_opt,
		     KS_RUN_BASE, o->ifname, "run-dir"))
		return -EINVAL;
	o->interval_ns = 1000000000ull;
	if (o->interval_s &&
	    (ks_parse_duration(o->interval_s, &o->interval_ns) ||
	     o->interval_ns < KS_INTERVAL_MIN_NS ||
	     o->interval_ns > KS_INTERVAL_MAX_NS))
		return km_log_errno(-EINVAL,
				    "--interval: \"%s\" is not a time from "
				    "100ms to 1h (\"1s\", \"100ms\")",
				    o->interval_s);
	if (parse_listen(o->listen_s ? o->listen_s : "127.0.0.1:9477", o))
		return -EINVAL;
	o->slots = KM_RING_SLOTS_DEFAULT;
	if (o->slots_s &&
	    parse_u32("slots", o->slots_s, 2, KM_RING_SLOTS_MAX, &o->slots))
		return -EINVAL;
	o->max_services = KM_MAX_SERVICES;
	if (o->max_services_s && parse_u32("max-services", o->max_services_s, 0,
					   KM_MAX_SERVICES, &o->max_services))
		return -EINVAL;
	o->log_prio = LOG_INFO;
	if (o->log_level && parse_level(o->log_level, &o->log_prio))
		return -EINVAL;
	return 0;
}

int ks_options_parse(int argc, char **argv, struct ks_opts *o)
{
	struct option longs[N_OPTS + 1];
	char shorts[2 * N_OPTS + 1];
	size_t ns = 0;
	int c;

	memset(o, 0, sizeof(*o));
	memset(longs, 0, sizeof(longs));
	for (size_t i = 0; i < N_OPTS; i++) {
		longs[i].name = opt_defs[i].name;
		longs[i].has_arg = opt_defs[i].kind == OPT_STR
				       ? required_argument
				       : no_argument;
		longs[i].val = 256 + (int)i;
		if (opt_defs[i].short_name) {
			shorts[ns++] = (char)opt_defs[i].short_name;
			if (opt_defs[i].kind == OPT_STR)
				shorts[ns++] = ':';
		}
	}
	shorts[ns] = '\0';
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		const struct opt_def *d = NULL;

		if (c >= 256 && c < 256 + (int)N_OPTS)
			d = &opt_defs[c - 256];
		for (size_t i = 0; !d && i < N_OPTS; i++)
			if (opt_defs[i].short_name == c)
				d = &opt_defs[i];
		if (!d) {
			km_err("option %s is unknown or needs an argument "
			       "(see --help)",
			       argv[optind - 1]);
			return -EINVAL;
		}
		if (!strcmp(d->name, "help")) {
			usage(argv[0]);
			return 1;
		}
		if (d->kind == OPT_STR)
			*(const char **)((char *)o + d->offset) = optarg;
		else
			*(bool *)((char *)o + d->offset) = true;
	}
	if (optind < argc)
		return km_log_errno(-EINVAL,
				    "unexpected argument \"%s\" (see --help)",
				    argv[optind]);
	return check(o);
}
