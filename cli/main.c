// SPDX-License-Identifier: GPL-2.0-only
/* kilimanjaro: operator view and runtime edits of a running edge. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "snapview.h"
#include "lib/log.h"

static const char usage[] =
    "usage: kilimanjaro [--pin-root DIR | -i IFNAME] [--json] COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  status [--watch [S]]       attachment, maps, verdicts, services\n"
    "  services [list|add|del]    services and their backends\n"
    "  allow [list|add|del]       prefixes that skip the rate limits\n"
    "  deny [list|add|del]        prefixes that are dropped\n"
    "  blocks [list|add|del]      timed block list\n"
    "  punches [list|add|del]     port punches\n"
    "  a2s [list|key|rotate]      A2S cache per service, challenge key\n"
    "  stats [--run-dir DIR]      latest counters and rates (stats ring)\n"
    "  top [--run-dir DIR]        live traffic by verdict and service\n"
    "  detach                     detach the program, remove every pin\n"
    "  help                       this text; COMMAND --help for details\n"
    "\n"
    "options (anywhere on the line):\n"
    "  --pin-root DIR    pins of the edge (default " CLI_PIN_BASE "/IFNAME,\n"
    "                    or the only directory there)\n"
    "  -i, --interface IFNAME   the interface whose pins to use\n"
    "  --json            machine-readable output\n"
    "\n"
    "exit status: 0 ok, 1 failed, 2 bad command line.\n";

static const struct {
	const char *name;
	int (*fn)(struct cli_ctx *c, int argc, char **argv);
} commands[] = {
    {"status", cmd_status}, {"services", cmd_services},
    {"allow", cmd_allow},   {"deny", cmd_deny},
    {"blocks", cmd_blocks}, {"punches", cmd_punches},
    {"detach", cmd_detach}, {"a2s", cmd_a2s},
    {"stats", cmd_stats},   {"top", cmd_top},
};

/* Value of a global option at argv[*i] ("--opt V" or "--opt=V"), or NULL
 * when argv[*i] is not that option. */
static int global_value(int argc, char **argv, int *i, const char *lng,
			const char *shrt, const char **out)
{
	const char *a = argv[*i];
	size_t n = strlen(lng);

	if (!strncmp(a, lng, n) && a[n] == '=') {
		*out = a + n + 1;
		return 1;
	}
	if (strcmp(a, lng) && (!shrt || strcmp(a, shrt)))
		return 0;
	if (*i + 1 >= argc)
		return km_log_errno(-EINVAL, "%s needs a value", a);
	*out = argv[++*i];
	return 1;
}

/* Take the global options out of argv, wherever they are; the rest keeps
 * its order. Returns the new argc or -EINVAL. */
static int take_globals(struct cli_ctx *c, int argc, char **argv)
{
	int n = 0, r;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			/* Ends the global options; the command keeps its own
			 * "--" if it has one. */
			while (++i < argc)
				argv[n++] = argv[i];
			break;
		}
		if (!strcmp(argv[i], "--json")) {
			c->json = true;
			continue;
		}
		r = global_value(argc, argv, &i, "--pin-root", NULL,
				 &c->pin_root_opt);
		if (!r)
			r = global_value(argc, argv, &i, "--interface", "-i",
					 &c->ifname);
		if (r < 0)
			return r;
		if (!r)
			argv[n++] = argv[i];
	}
	if (c->pin_root_opt && c->ifname)
		return km_log_errno(-EINVAL,
				    "give --pin-root or --interface, not both");
	return n;
}

static int run(struct cli_ctx *c, int argc, char **argv)
{
	const char *cmd;

	argc = take_globals(c, argc, argv);
	if (argc < 0)
		return argc;
	if (argc == 0)
		return km_log_errno(-EINVAL,
				    "missing command (see kilimanjaro --help)");
	cmd = argv[0];
	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") ||
	    !strcmp(cmd, "-h")) {
		fputs(usage, stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, cmd))
			return commands[i].fn(c, argc - 1, argv + 1);
	return km_log_errno(
	    -EINVAL, "unknown command \"%s\" (see kilimanjaro --help)", cmd);
}

int main(int argc, char **argv)
{
	struct cli_ctx c = {};
	int r;

	/* libbpf warnings are noise for a one-line error; errors stay. */
	km_log_init("kilimanjaro", LOG_ERR);
	r = run(&c, argc - 1, argv + 1);
	fflush(stdout);
	if (r == -EINVAL)
		return 2;
	return r < 0 ? 1 : 0;
}
