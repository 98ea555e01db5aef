// SPDX-License-Identifier: GPL-2.0-only
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

enum opt_kind { OPT_STR, OPT_FLAG };

struct opt_def {
	const char *name;
	int short_name; /* 0: long only */
	enum opt_kind kind;
	size_t offset; /* into struct loader_opts */
	const char *arg;
	const char *help;
	const char *def; /* shown in --help */
};

#define STR(n, s, field, a, h, d)                                              \
	{                                                                      \
		n, s, OPT_STR, offsetof(struct loader_opts, field), a, h, d    \
	}
#define FLAG(n, s, field, h)                                                   \
	{                                                                      \
		n, s, OPT_FLAG, offsetof(struct loader_opts, field), NULL, h,  \
		    NULL                                                       \
	}

static const struct opt_def opt_defs[] = {
    STR("config", 'c', config, "FILE", "configuration file",
	LOADER_DEFAULT_CONFIG),
    STR("interface", 'i', ifname, "IFNAME",
	"interface to attach to (overrides \"interface\" in the config)", NULL),
    STR("pin-root", 'p', pin_root, "DIR",
	"directory (on bpffs) for the link and map pins",
	LOADER_PIN_BASE "/<interface>"),
    STR("xdp-mode", 'm', xdp_mode, "native|skb",
	"XDP attach mode (overrides \"xdp_mode\"); never falls back", "native"),
    STR("object", 'o', object, "FILE",
	"BPF object to load instead of the one built in", NULL),
    FLAG("check-config", 0, check_config,
	 "validate the config file, print every error, exit 0 or 1"),
    FLAG("detach", 0, detach,
	 "remove the pinned link (stops forwarding) and every pin of the pin "
	 "root, then exit"),
    FLAG("verbose", 'v', verbose, "debug logging (includes libbpf's)"),
    {"help", 'h', OPT_FLAG, 0, NULL, "this help", NULL},
};

#define N_OPTS (sizeof(opt_defs) / sizeof(opt_defs[0]))

static void usage(const char *prog)
{
	char left[64];
	size_t i;

	printf("Usage: %s [OPTION]...\n"
	       "Attach the Kilimanjaro XDP program, pin its link and maps, "
	       "apply the\n"
	       "config file and keep it applied (SIGHUP reloads). Stopping the "
	       "loader\n"
	       "leaves forwarding running; only --detach removes it.\n\n",
	       prog);
	for (i = 0; i < N_OPTS; i++) {
		const struct opt_def *d = &opt_defs[i];

		if (d->short_name)
			snprintf(left, sizeof(left), "-%c, --%s%s%s",
				 d->short_name, d->name, d->arg ? " " : "",
				 d->arg ? d->arg : "");
		else
			snprintf(left, sizeof(left), "    --%s%s%s", d->name,
				 d->arg ? " " : "", d->arg ? d->arg : "");
		printf("  %-30s %s", left, d->help);
		if (d->def)
			printf(" [default: %s]", d->def);
		printf("\n");
	}
}

int options_parse(int argc, char **argv, struct loader_opts *o)
{
	struct option longs[N_OPTS + 1];
	char shorts[2 * N_OPTS + 1];
	size_t i, ns = 0;
	int c;

	memset(o, 0, sizeof(*o));
	o->config = LOADER_DEFAULT_CONFIG;
	memset(longs, 0, sizeof(longs));
	for (i = 0; i < N_OPTS; i++) {
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
	while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		const struct opt_def *d = NULL;

		if (c >= 256 && c < 256 + (int)N_OPTS)
			d = &opt_defs[c - 256];
		for (i = 0; !d && i < N_OPTS; i++)
			if (opt_defs[i].short_name == c)
				d = &opt_defs[i];
		if (!d) {
			if (optopt)
				km_err("option -%c is unknown or needs an "
				       "argument (see --help)",
				       optopt);
			else
				km_err("option %s is unknown or needs an "
				       "argument (see --help)",
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
	if (o->xdp_mode && strcmp(o->xdp_mode, "native") &&
	    strcmp(o->xdp_mode, "skb"))
		return km_log_errno(
		    -EINVAL, "--xdp-mode: \"%s\" is not one of native, skb",
		    o->xdp_mode);
	if (o->check_config && o->detach)
		return km_log_errno(
		    -EINVAL, "--check-config and --detach exclude each other");
	return 0;
}
