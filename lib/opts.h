/* SPDX-License-Identifier: GPL-2.0-only */
/* Table-driven command lines: one table of struct km_opt gives getopt_long's
 * tables, the parse into the caller's options struct and --help. Each
 * program keeps its table, its usage head and its own checks. */
#ifndef KM_OPTS_H
#define KM_OPTS_H

#include <stdbool.h>
#include <stddef.h>

enum km_opt_kind {
	KM_OPT_STR,  /* const char * field: the argument as given */
	KM_OPT_FLAG, /* bool field: set when present */
	KM_OPT_HELP, /* -h, --help: added to every table, listed last */
};

struct km_opt {
	const char *name;
	int short_name; /* 0: long only */
	enum km_opt_kind kind;
	size_t offset; /* into the caller's options struct */
	const char *arg;
	const char *help;
	const char *def; /* shown in --help */
};

#define KM_OPT_S(type, n, s, field, a, h, d)                                   \
	{                                                                      \
		n, s, KM_OPT_STR, offsetof(type, field), a, h, d               \
	}
#define KM_OPT_F(type, n, s, field, h)                                         \
	{                                                                      \
		n, s, KM_OPT_FLAG, offsetof(type, field), NULL, h, NULL        \
	}

struct km_opts_spec {
	const struct km_opt *opts; /* without -h, --help */
	size_t n_opts;
	const char *usage; /* printf format, one %s: the program's name */
	int help_col;	   /* width of the option column in --help */
};

#define KM_OPTS_SPEC(defs, col, text)                                          \
	{                                                                      \
		(defs), sizeof(defs) / sizeof((defs)[0]), (text), (col)        \
	}

/* Fills the option fields of *o (zeroed first) from argv. 0: parsed;
 * 1: --help printed; -EINVAL: unknown option, missing argument or a
 * non-option argument (logged, one line naming it). */
int km_opts_parse(const struct km_opts_spec *spec, int argc, char **argv,
		  void *o, size_t o_size);

void km_opts_usage(const struct km_opts_spec *spec, const char *prog);

/* "err", "error", "warning", "notice", "info", "debug" -> LOG_*; -EINVAL
 * (logged as a --log-level error) otherwise. */
int km_opts_log_level(const char *s, int *prio);

#endif
