// SPDX-License-Identifier: GPL-2.0-only
#include "opts.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "log.h"

/* Longest table any program has; getopt's tables live on the stack. */
#define KM_OPTS_MAX 32

static const struct km_opt help_opt = {.name = "help",
				       .short_name = 'h',
				       .kind = KM_OPT_HELP,
				       .help = "this help"};

/* The caller's table with -h, --help after it. */
static const struct km_opt *opt_at(const struct km_opts_spec *spec, size_t i)
{
	return i < spec->n_opts ? &spec->opts[i] : &help_opt;
}

void km_opts_usage(const struct km_opts_spec *spec, const char *prog)
{
	char left[64];

	printf(spec->usage, prog);
	for (size_t i = 0; i <= spec->n_opts; i++) {
		const struct km_opt *d = opt_at(spec, i);

		if (d->short_name)
			snprintf(left, sizeof(left), "-%c, --%s%s%s",
				 d->short_name, d->name, d->arg ? " " : "",
				 d->arg ? d->arg : "");
		else
			snprintf(left, sizeof(left), "    --%s%s%s", d->name,
				 d->arg ? " " : "", d->arg ? d->arg : "");
		printf("  %-*s %s", spec->help_col, left, d->help);
		if (d->def)
			printf(" [default: %s]", d->def);
		printf("\n");
	}
}

static void build_tables(const struct km_opts_spec *spec, struct option *longs,
			 char *shorts)
{
	size_t ns = 0;

	for (size_t i = 0; i <= spec->n_opts; i++) {
		const struct km_opt *d = opt_at(spec, i);

		longs[i].name = d->name;
		longs[i].has_arg =
		    d->kind == KM_OPT_STR ? required_argument : no_argument;
		longs[i].flag = NULL;
		longs[i].val = 256 + (int)i;
		if (d->short_name) {
			shorts[ns++] = (char)d->short_name;
			if (d->kind == KM_OPT_STR)
				shorts[ns++] = ':';
		}
	}
	memset(&longs[spec->n_opts + 1], 0, sizeof(longs[0]));
	shorts[ns] = '\0';
}

static const struct km_opt *lookup(const struct km_opts_spec *spec, int c)
{
	if (c >= 256 && c <= 256 + (int)spec->n_opts)
		return opt_at(spec, (size_t)(c - 256));
	for (size_t i = 0; i <= spec->n_opts; i++)
		if (opt_at(spec, i)->short_name == c)
			return opt_at(spec, i);
	return NULL;
}

/* A short option by its letter (it may sit inside a cluster such as -vx);
 * a long one as written, from argv. */
static int bad_option(char **argv)
{
	if (optopt > 0 && optopt < 256)
		return km_log_errno(-EINVAL,
				    "option -%c is unknown or needs an "
				    "argument (see --help)",
				    optopt);
	return km_log_errno(-EINVAL,
			    "option %s is unknown or needs an argument (see "
			    "--help)",
			    argv[optind - 1]);
}

int km_opts_parse(const struct km_opts_spec *spec, int argc, char **argv,
		  void *o, size_t o_size)
{
	struct option longs[KM_OPTS_MAX + 2];
	char shorts[2 * KM_OPTS_MAX + 3];
	int c;

	if (spec->n_opts > KM_OPTS_MAX)
		return km_log_errno(-EINVAL, "option table too long");
	memset(o, 0, o_size);
	build_tables(spec, longs, shorts);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		const struct km_opt *d = lookup(spec, c);

		if (!d)
			return bad_option(argv);
		if (d->kind == KM_OPT_HELP) {
			km_opts_usage(spec, argv[0]);
			return 1;
		}
		if (d->kind == KM_OPT_STR)
			*(const char **)((char *)o + d->offset) = optarg;
		else
			*(bool *)((char *)o + d->offset) = true;
	}
	if (optind < argc)
		return km_log_errno(-EINVAL,
				    "unexpected argument \"%s\" (see --help)",
				    argv[optind]);
	return 0;
}

int km_opts_log_level(const char *s, int *prio)
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
