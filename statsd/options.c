// SPDX-License-Identifier: GPL-2.0-only
#include "options.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "kilimanjaro_abi.h"
#include "log.h"
#include "opts.h"
#include "ring.h"

#define STR(...) KM_OPT_S(struct ks_opts, __VA_ARGS__)
#define FLAG(...) KM_OPT_F(struct ks_opts, __VA_ARGS__)

static const struct km_opt opt_defs[] = {
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
};

static const struct km_opts_spec spec =
    KM_OPTS_SPEC(opt_defs, 28,
		 "Usage: %s --interface IFNAME [OPTION]...\n"
		 "Read the edge's per-CPU counters every interval into the "
		 "stats ring\n"
		 "(<run-dir>/stats.ring) and serve them as Prometheus text on "
		 "/metrics.\n\n");

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
	if (o->log_level && km_opts_log_level(o->log_level, &o->log_prio))
		return -EINVAL;
	return 0;
}

int ks_options_parse(int argc, char **argv, struct ks_opts *o)
{
	int r = km_opts_parse(&spec, argc, argv, o, sizeof(*o));

	return r ? r : check(o);
}
