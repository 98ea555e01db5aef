// SPDX-License-Identifier: GPL-2.0-only
/* kilimanjaro-agent's options: table, --help, and the checks that refuse a
 * plain-TCP session to anything but loopback. */
#include "options.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "log.h"
#include "opts.h"

#define STR(...) KM_OPT_S(struct ka_opts, __VA_ARGS__)
#define FLAG(...) KM_OPT_F(struct ka_opts, __VA_ARGS__)

static const struct km_opt opt_defs[] = {
    STR("interface", 'i', ifname, "IFNAME", "the edge's XDP interface", NULL),
    STR("controller", 'c', controller, "HOST:PORT",
	"the controller (IPv4 address or name; [IPv6]:PORT)", NULL),
    STR("edge-id", 'e', edge_id, "ID",
	"this edge's name; must equal the CN of --cert", NULL),
    STR("ca", 0, ca, "FILE", "CA certificate(s) the controller's must chain to",
	NULL),
    STR("cert", 0, cert, "FILE", "this edge's certificate (PEM)", NULL),
    STR("key", 0, key, "FILE", "its private key (PEM)", NULL),
    STR("server-name", 0, server_name, "NAME",
	"name or IP the controller's certificate must carry", "HOST"),
    FLAG("plain-tcp", 0, plain_tcp,
	 "no TLS (tests only): refused unless the controller is loopback"),
    STR("pin-root", 'p', pin_root, "DIR",
	"directory (on bpffs) of the loader's map pins",
	KA_PIN_BASE "/<interface>"),
    STR("run-dir", 'r', run_dir, "DIR", "directory of statsd's stats.ring",
	KA_RUN_BASE "/<interface>"),
    STR("stats-interval-ms", 0, stats_ms, "MS",
	"send a StatsSnapshot this often (100..60000)", "1000"),
    STR("ping-interval-s", 0, ping_s, "S",
	"heartbeat interval (1..300); 3 silent intervals = dead peer", "5"),
    STR("log-level", 'l', log_level, "LEVEL",
	"err, warning, notice, info or debug", "info"),
    FLAG("verbose", 'v', verbose, "debug logging (same as --log-level debug)"),
};

static const struct km_opts_spec spec = KM_OPTS_SPEC(
    opt_defs, 34,
    "Usage: %s --interface IF --controller HOST:PORT --edge-id ID\n"
    "          --ca FILE --cert FILE --key FILE [OPTION]...\n"
    "The edge's session with the controller: TLS 1.3 with mutual "
    "certificates;\n"
    "streams stats, learned port punches and blocks; applies the "
    "controller's\n"
    "config (its own origin only). Reconnects with backoff; the "
    "edge keeps its\n"
    "last-known-good config meanwhile.\n\n");

static int parse_u32(const char *opt, const char *s, uint32_t lo, uint32_t hi,
		     uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < lo || v > hi)
		return km_log_errno(-EINVAL,
				    "--%s: \"%s\" is not a number in %u..%u",
				    opt, s, lo, hi);
	*out = (uint32_t)v;
	return 0;
}

/* HOST:PORT or [V6]:PORT into o->host and o->port. */
static int parse_target(struct ka_opts *o)
{
	const char *s = o->controller, *colon, *h = s;
	size_t hl;
	uint32_t port;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			goto bad;
		h = s + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			goto bad;
		hl = (size_t)(colon - s);
	}
	if (!hl || hl >= sizeof(o->host))
		goto bad;
	memcpy(o->host, h, hl);
	o->host[hl] = 0;
	if (parse_u32("controller port", colon + 1, 1, 65535, &port))
		return -EINVAL;
	o->port = (uint16_t)port;
	return 0;
bad:
	return km_log_errno(-EINVAL,
			    "--controller: \"%s\" is not HOST:PORT "
			    "([ADDR]:PORT for IPv6)",
			    s);
}

/* Loopback only as a literal: a name could resolve elsewhere later. */
static bool host_is_loopback(const char *h)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (inet_pton(AF_INET, h, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, h, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return !strcmp(h, "localhost");
}

static int check(struct ka_opts *o)
{
	static const char *const req[] = {"interface", "controller", "edge-id"};
	const char *vals[] = {o->ifname, o->controller, o->edge_id};
	int r;

	for (size_t i = 0; i < 3; i++)
		if (!vals[i] || !vals[i][0])
			return km_log_errno(
			    -EINVAL, "--%s is required (see --help)", req[i]);
	if (strlen(o->edge_id) > 64)
		return km_log_errno(-EINVAL, "--edge-id: longer than 64 bytes");
	for (const char *p = o->edge_id; *p; p++)
		if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
			return km_log_errno(-EINVAL,
					    "--edge-id: \"%s\" has a byte that "
					    "is not printable ASCII",
					    o->edge_id);
	r = parse_target(o);
	if (r)
		return r;
	if (o->plain_tcp) {
		if (!host_is_loopback(o->host))
			return km_log_errno(
			    -EINVAL,
			    "--plain-tcp: refused for %s: plain TCP is only "
			    "allowed to a loopback address (tests); use TLS",
			    o->host);
	} else if (!o->ca || !o->cert || !o->key) {
		return km_log_errno(-EINVAL,
				    "--ca, --cert and --key are required "
				    "(TLS with mutual certificates)");
	}
	o->stats_interval_ms = 1000;
	if (o->stats_ms && parse_u32("stats-interval-ms", o->stats_ms, 100,
				     60000, &o->stats_interval_ms))
		return -EINVAL;
	o->ping_interval_ms = 5;
	if (o->ping_s && parse_u32("ping-interval-s", o->ping_s, 1, 300,
				   &o->ping_interval_ms))
		return -EINVAL;
	o->ping_interval_ms *= 1000;
	o->dead_after_ms = 3 * o->ping_interval_ms;
	o->log_prio = o->verbose ? LOG_DEBUG : LOG_INFO;
	if (o->log_level && km_opts_log_level(o->log_level, &o->log_prio))
		return -EINVAL;
	return 0;
}

int ka_options_parse(int argc, char **argv, struct ka_opts *o)
{
	int r = km_opts_parse(&spec, argc, argv, o, sizeof(*o));

	return r ? r : check(o);
}
