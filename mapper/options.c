// SPDX-License-Identifier: GPL-2.0-only
#include "options.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEF_IDLE_S 300
#define MAX_IDLE_S 86400
#define DEF_PIN_BASE "/sys/fs/bpf/kilimanjaro-mapper"

enum opt_id {
	OPT_INTERFACE = 'i',
	OPT_ADDRESS = 'a',
	OPT_EDGE = 'e',
	OPT_DEFAULT_EDGE = 'd',
	OPT_SERVICE = 's',
	OPT_HELP = 'h',
	OPT_VERBOSE = 'v',
	OPT_IDLE = 256,
	OPT_PIN_ROOT,
	OPT_XDP_MODE,
	OPT_NEXT_HOP,
	OPT_CONFIG,
	OPT_DETACH,
	OPT_ATTACH_ONLY,
	OPT_SHOW,
	OPT_CHECK_CONFIG,
	OPT_JSON,
};

struct opt_desc {
	const char *name;
	int id;
	const char *arg; /* NULL: no argument */
	const char *help;
};

/* One table: getopt_long's array and --help are both made from it. */
static const struct opt_desc opt_table[] = {
    {"interface", OPT_INTERFACE, "IFNAME",
     "interface the edges' IPIP arrives on and replies leave by"},
    {"address", OPT_ADDRESS, "ADDR",
     "this host's IPIP address (outer destination from the edges)"},
    {"edge", OPT_EDGE, "ADDR",
     "an edge allowed to send IPIP here (repeatable)"},
    {"default-edge", OPT_DEFAULT_EDGE, "ADDR",
     "edge for replies to remotes never heard from (also an --edge)"},
    {"service", OPT_SERVICE, "ADDR[/LEN]",
     "service address or prefix on this host (repeatable)"},
    {"idle-seconds", OPT_IDLE, "N",
     "a learned flow expires after N idle seconds (default 300)"},
    {"pin-root", OPT_PIN_ROOT, "DIR",
     "pin directory (default " DEF_PIN_BASE "/IFNAME)"},
    {"xdp-mode", OPT_XDP_MODE, "native|skb",
     "XDP attach mode, no fallback (default native)"},
    {"next-hop", OPT_NEXT_HOP, "route|player",
     "route: route the outer header to the edge (default); player: keep "
     "the next hop the kernel chose for the player"},
    {"config", OPT_CONFIG, "FILE",
     "JSON settings (command-line options win); SIGHUP re-reads it"},
    {"check-config", OPT_CHECK_CONFIG, NULL,
     "validate the settings (and --config file), print them, exit"},
    {"attach-only", OPT_ATTACH_ONLY, NULL,
     "attach or update, then exit (programs stay attached)"},
    {"detach", OPT_DETACH, NULL,
     "detach both programs and remove every pin, then exit"},
    {"show", OPT_SHOW, NULL,
     "print the counters and learned flows from the pins, then exit"},
    {"json", OPT_JSON, NULL, "--show prints JSON"},
    {"verbose", OPT_VERBOSE, NULL, "debug logging (libbpf too)"},
    {"help", OPT_HELP, NULL, "this text"},
};

#define N_OPTS (sizeof(opt_table) / sizeof(opt_table[0]))

void mapper_conf_defaults(struct mapper_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->idle_s = DEF_IDLE_S;
	c->xdp_mode = MAPPER_XDP_NATIVE;
}

static void print_help(const char *prog)
{
	size_t i;
	char left[64];

	printf("Usage: %s --interface IFNAME --address ADDR --edge ADDR... "
	       "--service ADDR[/LEN]... [options]\n"
	       "Game-server host end of Kilimanjaro's IPIP tunnels: XDP "
	       "decapsulates IPIP from the edges\nand learns each flow's "
	       "edge; TC egress encapsulates the services' replies to it.\n\n",
	       prog);
	for (i = 0; i < N_OPTS; i++) {
		const struct opt_desc *d = &opt_table[i];

		if (d->id < 256)
			snprintf(left, sizeof(left), "-%c, --%s%s%s", d->id,
				 d->name, d->arg ? " " : "",
				 d->arg ? d->arg : "");
		else
			snprintf(left, sizeof(left), "    --%s%s%s", d->name,
				 d->arg ? " " : "", d->arg ? d->arg : "");
		printf("  %-30s %s\n", left, d->help);
	}
	printf("\nSIGTERM/SIGINT: exit, programs stay attached. SIGHUP: "
	       "re-read --config and re-apply.\n");
}

int mapper_set_addr(uint32_t *out, const char *s, char *why, size_t n)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1 || a.s_addr == 0) {
		snprintf(why, n, "'%s' is not an IPv4 address", s);
		return -EINVAL;
	}
	*out = a.s_addr;
	return 0;
}

int mapper_add_edge(struct mapper_conf *c, const char *s, char *why, size_t n)
{
	uint32_t a;
	size_t i;

	if (mapper_set_addr(&a, s, why, n))
		return -EINVAL;
	for (i = 0; i < c->n_edges; i++)
		if (c->edges[i] == a)
			return 0;
	if (c->n_edges == KMM_MAX_EDGES) {
		snprintf(why, n, "more than %d edges", KMM_MAX_EDGES);
		return -EINVAL;
	}
	c->edges[c->n_edges++] = a;
	return 0;
}

int mapper_add_service(struct mapper_conf *c, const char *s, char *why,
		       size_t n)
{
	char buf[INET_ADDRSTRLEN + 4], *slash, *endp;
	struct kmm_prefix_key k = {.prefixlen = 32};
	uint32_t a, mask;
	long len = 32;
	size_t i;

	if (strlen(s) >= sizeof(buf)) {
		snprintf(why, n, "'%s' is not ADDR[/LEN]", s);
		return -EINVAL;
	}
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash) {
		*slash = '\0';
		errno = 0;
		len = strtol(slash + 1, &endp, 10);
		if (!slash[1] || *endp || len < 1 || len > 32) {
			snprintf(why, n, "'%s': prefix length must be 1..32",
				 s);
			return -EINVAL;
		}
	}
	if (mapper_set_addr(&a, buf, why, n))
		return -EINVAL;
	mask = htonl(len == 32 ? 0xffffffffu : ~(0xffffffffu >> len));
	if (a & ~mask) {
		snprintf(
		    why, n, "'%s' has host bits set (did you mean %s/%ld?)", s,
		    inet_ntop(AF_INET, &(uint32_t){a & mask}, buf, sizeof(buf)),
		    len);
		return -EINVAL;
	}
	k.prefixlen = (uint32_t)len;
	k.addr = a;
	for (i = 0; i < c->n_services; i++)
		if (!memcmp(&c->services[i], &k, sizeof(k)))
			return 0;
	if (c->n_services == KMM_MAX_SERVICES) {
		snprintf(why, n, "more than %d services", KMM_MAX_SERVICES);
		return -EINVAL;
	}
	c->services[c->n_services++] = k;
	return 0;
}

int mapper_set_xdp_mode(struct mapper_conf *c, const char *s, char *why,
			size_t n)
{
	if (!strcmp(s, "native"))
		c->xdp_mode = MAPPER_XDP_NATIVE;
	else if (!strcmp(s, "skb"))
		c->xdp_mode = MAPPER_XDP_SKB;
	else {
		snprintf(why, n, "'%s' is not native or skb", s);
		return -EINVAL;
	}
	return 0;
}

int mapper_set_next_hop(struct mapper_conf *c, const char *s, char *why,
			size_t n)
{
	if (!strcmp(s, "route"))
		c->keep_l2 = 0;
	else if (!strcmp(s, "player"))
		c->keep_l2 = 1;
	else {
		snprintf(why, n, "'%s' is not route or player", s);
		return -EINVAL;
	}
	return 0;
}

int mapper_set_idle(struct mapper_conf *c, const char *s, char *why, size_t n)
{
	char *endp;
	long v;

	errno = 0;
	v = strtol(s, &endp, 10);
	if (!*s || *endp || errno || v < 1 || v > MAX_IDLE_S) {
		snprintf(why, n, "'%s' is not a number of seconds in 1..%d", s,
			 MAX_IDLE_S);
		return -EINVAL;
	}
	c->idle_s = (uint32_t)v;
	return 0;
}

static int in_prefix(uint32_t a, const struct kmm_prefix_key *k)
{
	uint32_t mask = htonl(
	    k->prefixlen == 32 ? 0xffffffffu : ~(0xffffffffu >> k->prefixlen));

	return (a & mask) == k->addr;
}

int mapper_conf_finish(struct mapper_conf *c, int need_state, char *why,
		       size_t n)
{
	char a[INET_ADDRSTRLEN];
	size_t i;

	if (!c->ifname[0]) {
		snprintf(why, n, "--interface is required");
		return -EINVAL;
	}
	if (!c->pin_root[0] &&
	    (size_t)snprintf(c->pin_root, sizeof(c->pin_root), "%s/%s",
			     DEF_PIN_BASE, c->ifname) >= sizeof(c->pin_root)) {
		snprintf(why, n, "pin root too long");
		return -EINVAL;
	}
	if (!need_state)
		return 0;
	if (!c->host) {
		snprintf(why, n, "--address is required");
		return -EINVAL;
	}
	if (c->default_edge &&
	    mapper_add_edge(
		c, inet_ntop(AF_INET, &c->default_edge, a, sizeof(a)), why, n))
		return -EINVAL;
	if (!c->n_edges) {
		snprintf(why, n, "at least one --edge is required");
		return -EINVAL;
	}
	if (!c->n_services) {
		snprintf(why, n, "at least one --service is required");
		return -EINVAL;
	}
	for (i = 0; i < c->n_services; i++) {
		/* The host's own IPIP would be encapsulated again. */
		if (in_prefix(c->host, &c->services[i])) {
			snprintf(why, n,
				 "--address %s lies in service prefix %s/%u",
				 inet_ntop(AF_INET, &c->host, a, sizeof(a)),
				 inet_ntop(AF_INET, &c->services[i].addr,
					   (char[INET_ADDRSTRLEN]){0},
					   INET_ADDRSTRLEN),
				 c->services[i].prefixlen);
			return -EINVAL;
		}
	}
	return 0;
}

static int set_one(int id, const char *arg, struct mapper_conf *c,
		   struct mapper_opts *o, char *why, size_t n)
{
	switch (id) {
	case OPT_INTERFACE:
		if (!*arg || strlen(arg) >= sizeof(c->ifname)) {
			snprintf(why, n, "'%s' is not an interface name", arg);
			return -EINVAL;
		}
		strcpy(c->ifname, arg);
		o->set |= MAPPER_SET_IFNAME;
		return 0;
	case OPT_ADDRESS:
		o->set |= MAPPER_SET_HOST;
		return mapper_set_addr(&c->host, arg, why, n);
	case OPT_EDGE:
		o->set |= MAPPER_SET_EDGES;
		return mapper_add_edge(c, arg, why, n);
	case OPT_DEFAULT_EDGE:
		o->set |= MAPPER_SET_DEFAULT_EDGE;
		return mapper_set_addr(&c->default_edge, arg, why, n);
	case OPT_SERVICE:
		o->set |= MAPPER_SET_SERVICES;
		return mapper_add_service(c, arg, why, n);
	case OPT_IDLE:
		o->set |= MAPPER_SET_IDLE;
		return mapper_set_idle(c, arg, why, n);
	case OPT_PIN_ROOT:
		if (*arg != '/' || strlen(arg) >= sizeof(c->pin_root)) {
			snprintf(why, n, "'%s' is not an absolute path", arg);
			return -EINVAL;
		}
		strcpy(c->pin_root, arg);
		o->set |= MAPPER_SET_PIN_ROOT;
		return 0;
	case OPT_XDP_MODE:
		o->set |= MAPPER_SET_XDP_MODE;
		return mapper_set_xdp_mode(c, arg, why, n);
	case OPT_NEXT_HOP:
		o->set |= MAPPER_SET_NEXT_HOP;
		return mapper_set_next_hop(c, arg, why, n);
	case OPT_CONFIG:
		o->config_path = arg;
		return 0;
	case OPT_ATTACH_ONLY:
		o->attach_only = 1;
		return 0;
	case OPT_DETACH:
		o->detach = 1;
		return 0;
	case OPT_SHOW:
		o->show = 1;
		return 0;
	case OPT_CHECK_CONFIG:
		o->check = 1;
		return 0;
	case OPT_JSON:
		o->json = 1;
		return 0;
	case OPT_VERBOSE:
		o->verbose = 1;
		return 0;
	}
	snprintf(why, n, "internal: option %d", id);
	return -EINVAL;
}

static const struct opt_desc *opt_by_id(int id)
{
	size_t i;

	for (i = 0; i < N_OPTS; i++)
		if (opt_table[i].id == id)
			return &opt_table[i];
	return NULL;
}

int mapper_options_parse(int argc, char **argv, struct mapper_conf *c,
			 struct mapper_opts *o)
{
	struct option lopts[N_OPTS + 1];
	char shortopts[2 * N_OPTS + 2], *sp = shortopts, why[256];
	const char *prog = "kilimanjaro-mapper";
	const struct opt_desc *d;
	size_t i;
	int id;

	memset(o, 0, sizeof(*o));
	memset(lopts, 0, sizeof(lopts));
	*sp++ = ':'; /* missing argument -> ':' */
	for (i = 0; i < N_OPTS; i++) {
		lopts[i].name = opt_table[i].name;
		lopts[i].has_arg =
		    opt_table[i].arg ? required_argument : no_argument;
		lopts[i].val = opt_table[i].id;
		if (opt_table[i].id < 256) {
			*sp++ = (char)opt_table[i].id;
			if (opt_table[i].arg)
				*sp++ = ':';
		}
	}
	*sp = '\0';
	opterr = 0;
	optind = 1;
	while ((id = getopt_long(argc, argv, shortopts, lopts, NULL)) != -1) {
		if (id == OPT_HELP) {
			print_help(prog);
			return 1;
		}
		if (id == '?' || id == ':') {
			d = opt_by_id(optopt);
			if (id == ':' && d)
				fprintf(stderr,
					"%s: --%s needs an argument %s\n", prog,
					d->name, d->arg);
			else if (id == ':')
				fprintf(stderr, "%s: %s needs an argument\n",
					prog, argv[optind - 1]);
			else
				fprintf(
				    stderr,
				    "%s: unknown option '%s' (see --help)\n",
				    prog, argv[optind - 1]);
			return -EINVAL;
		}
		if (set_one(id, optarg, c, o, why, sizeof(why))) {
			d = opt_by_id(id);
			fprintf(stderr, "%s: --%s: %s\n", prog,
				d ? d->name : "?", why);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n",
			prog, argv[optind]);
		return -EINVAL;
	}
	if (o->detach + o->attach_only + o->show + o->check > 1) {
		fprintf(
		    stderr,
		    "%s: --detach, --attach-only, --show and --check-config "
		    "exclude each other\n",
		    prog);
		return -EINVAL;
	}
	if (o->json && !o->show) {
		fprintf(stderr, "%s: --json only applies to --show\n", prog);
		return -EINVAL;
	}
	return 0;
}
