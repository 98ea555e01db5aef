// SPDX-License-Identifier: GPL-2.0-only
/* lib/opts: the table-driven command line the daemons share. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <syslog.h>

#include "log.h"
#include "opts.h"

struct t_opts {
	const char *name;
	const char *level;
	bool verbose;
	bool dry_run;
};

static const struct km_opt t_defs[] = {
    KM_OPT_S(struct t_opts, "name", 'n', name, "NAME", "a name", "x"),
    KM_OPT_S(struct t_opts, "log-level", 0, level, "LEVEL", "level", NULL),
    KM_OPT_F(struct t_opts, "verbose", 'v', verbose, "more"),
    KM_OPT_F(struct t_opts, "dry-run", 0, dry_run, "do nothing"),
};

static const struct km_opts_spec t_spec =
    KM_OPTS_SPEC(t_defs, 20, "Usage: %s [OPTION]...\n\n");

#define ARGV(...) ((char *[]){"prog", __VA_ARGS__, NULL})
#define ARGC(...)                                                              \
	((int)(sizeof((char *[]){"prog", __VA_ARGS__}) / sizeof(char *)))
#define PARSE(o, ...)                                                          \
	km_opts_parse(&t_spec, ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), (o),      \
		      sizeof(*(o)))

static void setup(void)
{
	km_log_init("t", LOG_DEBUG);
	cr_redirect_stderr();
	cr_redirect_stdout();
}

TestSuite(opts, .init = setup);

Test(opts, long_forms_fill_the_struct)
{
	struct t_opts o = {.level = "stale"};

	cr_assert_eq(PARSE(&o, "--name", "a", "--verbose", "--dry-run"), 0);
	cr_assert_str_eq(o.name, "a");
	cr_assert(o.verbose);
	cr_assert(o.dry_run);
	cr_assert_null(o.level, "fields not given are zeroed");
	cr_assert_eq(PARSE(&o, "--name=b"), 0);
	cr_assert_str_eq(o.name, "b");
	cr_assert(!o.verbose);
}

Test(opts, short_forms_fill_the_struct)
{
	struct t_opts o;

	cr_assert_eq(PARSE(&o, "-n", "a", "-v"), 0);
	cr_assert_str_eq(o.name, "a");
	cr_assert(o.verbose);
	cr_assert_eq(PARSE(&o, "-vnb"), 0);
	cr_assert_str_eq(o.name, "b");
	cr_assert(o.verbose);
	cr_assert(!o.dry_run);
}

Test(opts, unknown_long_option)
{
	struct t_opts o;

	cr_assert_eq(PARSE(&o, "--bogus"), -EINVAL);
	fflush(stderr);
	cr_assert_stderr_eq_str("<3>t: option --bogus is unknown or needs an "
				"argument (see --help)\n");
}

Test(opts, unknown_short_option_named_by_its_letter)
{
	struct t_opts o;

	cr_assert_eq(PARSE(&o, "-vx"), -EINVAL);
	fflush(stderr);
	cr_assert_stderr_eq_str(
	    "<3>t: option -x is unknown or needs an argument (see --help)\n");
}

Test(opts, missing_argument_long)
{
	struct t_opts o;

	cr_assert_eq(PARSE(&o, "-v", "--name"), -EINVAL);
	fflush(stderr);
	cr_assert_stderr_eq_str("<3>t: option --name is unknown or needs an "
				"argument (see --help)\n");
}

Test(opts, missing_argument_short)
{
	struct t_opts o;

	cr_assert_eq(PARSE(&o, "-n"), -EINVAL);
	fflush(stderr);
	cr_assert_stderr_eq_str(
	    "<3>t: option -n is unknown or needs an argument (see --help)\n");
}

Test(opts, stray_argument)
{
	struct t_opts o;

	cr_assert_eq(PARSE(&o, "-v", "extra"), -EINVAL);
	fflush(stderr);
	cr_assert_stderr_eq_str(
	    "<3>t: unexpected argument \"extra\" (see --help)\n");
}

Test(opts, help_prints_the_table)
{
	struct t_opts o;

	cr_assert_eq(PARSE(&o, "--help"), 1);
	fflush(stdout);
	cr_assert_stdout_eq_str("Usage: prog [OPTION]...\n\n"
				"  -n, --name NAME      a name [default: x]\n"
				"      --log-level LEVEL level\n"
				"  -v, --verbose        more\n"
				"      --dry-run        do nothing\n"
				"  -h, --help           this help\n");
}

static int level_of(const char *s)
{
	int prio = -1;

	return km_opts_log_level(s, &prio) ? -100 : prio;
}

Test(opts, log_levels)
{
	cr_assert_eq(level_of("err"), LOG_ERR);
	cr_assert_eq(level_of("error"), LOG_ERR);
	cr_assert_eq(level_of("warning"), LOG_WARNING);
	cr_assert_eq(level_of("notice"), LOG_NOTICE);
	cr_assert_eq(level_of("info"), LOG_INFO);
	cr_assert_eq(level_of("debug"), LOG_DEBUG);
	cr_assert_eq(level_of("DEBUG"), -100);
	fflush(stderr);
	cr_assert_stderr_eq_str(
	    "<3>t: --log-level: \"DEBUG\" is not one of err, "
	    "warning, notice, info, debug\n");
}
