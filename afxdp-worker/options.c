// SPDX-License-Identifier: GPL-2.0-only
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "kilimanjaro_abi.h"
#include "log.h"

enum opt_kind { OPT_STR, OPT_FLAG };

struct opt_def {
	const char *name;
	int short_name; /* 0: long only */
	enum opt_kind kind;
	size_t offset; /* into struct kw_opts */
	const char *arg;
	const char *help;
	const char *def; /* shown in --help */
};

#define STR(n, s, field, a, h, d)                                              \
	{                                                                      \
		n, s, OPT_STR, offsetof(struct kw_opts, field), a, h, d        \
	}
#define FLAG(n, s, field, h)                                                   \
	{                                                                      \
		n, s, OPT_FLAG, offsetof(struct kw_opts, field), NULL, h, NULL \
	}

static const struct opt_def opt_defs[] = {
    STR("interface", 'i', ifname, "IFNAME",
	"interface whose XDP program redirects to the workers", NULL),
    STR("queue", 'q', queue, "N", "serve this RX queue", NULL),
    STR("queues", 0, queues, "all",
	"one worker per RX queue, each restarted when it dies", NULL),
    STR("pin-root", 'p', pin_root, "DIR",
	"directory (on bpffs) of the loader's map pins",
	KW_PIN_BASE "/<interface>"),
    STR("run-dir", 'r', run_dir, "DIR",
	"directory of the workers' shared cache file a2s.cache",
	KW_RUN_BASE "/<interface>"),
    STR("log-level", 'l', log_level, "LEVEL",
	"err, warning, notice, info or debug", "info"),
    FLAG("verbose", 'v', verbose, "debug logging (same as --log-level debug)"),
    {"help", 'h', OPT_FLAG, 0, NULL, "this help", NULL},
};

#define N_OPTS (sizeof(opt_defs) / sizeof(opt_defs[0]))

static void usage(const char *prog)
{
	char left[64];
	size_t i;

	printf("Usage: %s --interface IFNAME (--queue N | --queues all) "
	       "[OPTION]...\n"
	       "Serve A2S from the edge: an AF_XDP socket per RX queue "
	       "answers the\n"
	       "requests the XDP program redirects, keeps the cache fresh "
	       "and ingests\n"
	       "the game servers' answers. SIGTERM leaves the queue to "
	       "XDP, which then\n"
	       "forwards A2S to the game servers.\n\n",
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

static int parse_level(const char *s, int *prio)
{
	static const struct {
		const char *name;
		int prio;
	} levels[] = {{"err", LOG_ERR},		{"error", LOG_ERR},
		      {"warning", LOG_WARNING}, {"notice", LOG_NOTICE},
		      {"info", LOG_INFO},	{"debug", LOG_DEBUG}};
	size_t i;

	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (!strcmp(s, levels[i].name)) {
			*prio = levels[i].prio;
			return 0;
		}
	return km_log_errno(-EINVAL,
			    "--log-level: \"%s\" is not one of err, warning, "
			    "notice, info, debug",
			    s);
}

static int check(struct kw_opts *o)
{
	char *end;
	unsigned long q;

	if (!o->ifname)
		return km_log_errno(-EINVAL, "--interface is required (see "
					     "--help)");
	if (!o->queue == !o->queues)
		return km_log_errno(-EINVAL, "pass exactly one of --queue N "
					     "and --queues all");
	if (o->queues) {
		if (strcmp(o->queues, "all"))
			return km_log_errno(-EINVAL,
					    "--queues: \"%s\" is not \"all\" "
					    "(one queue: --queue N)",
					    o->queues);
		o->all_queues = true;
	} else {
		errno = 0;
		q = strtoul(o->queue, &end, 10);
		if (errno || end == o->queue || *end || o->queue[0] == '-' ||
		    q >= KM_A2S_MAX_QUEUES)
			return km_log_errno(-EINVAL,
					    "--queue: \"%s\" is not a queue "
					    "number 0..%u",
					    o->queue, KM_A2S_MAX_QUEUES - 1);
		o->queue_id = (uint32_t)q;
	}
	o->log_prio = o->verbose ? LOG_DEBUG : LOG_INFO;
	if (o->log_level && parse_level(o->log_level, &o->log_prio))
		return -EINVAL;
	return 0;
}

int options_parse(int argc, char **argv, struct kw_opts *o)
{
	struct option longs[N_OPTS + 1];
	char shorts[2 * N_OPTS + 1];
	size_t i, ns = 0;
	int c;

	memset(o, 0, sizeof(*o));
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
	optind = 1;
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
	return check(o);
}
