// SPDX-License-Identifier: GPL-2.0-only
#include "options.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "kilimanjaro_abi.h"
#include "log.h"
#include "opts.h"

#define STR(...) KM_OPT_S(struct kw_opts, __VA_ARGS__)
#define FLAG(...) KM_OPT_F(struct kw_opts, __VA_ARGS__)

static const struct km_opt opt_defs[] = {
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
};

static const struct km_opts_spec spec =
    KM_OPTS_SPEC(opt_defs, 30,
		 "Usage: %s --interface IFNAME (--queue N | --queues all) "
		 "[OPTION]...\n"
		 "Serve A2S from the edge: an AF_XDP socket per RX queue "
		 "answers the\n"
		 "requests the XDP program redirects, keeps the cache fresh "
		 "and ingests\n"
		 "the game servers' answers. SIGTERM leaves the queue to "
		 "XDP, which then\n"
		 "forwards A2S to the game servers.\n\n");

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
	if (o->log_level && km_opts_log_level(o->log_level, &o->log_prio))
		return -EINVAL;
	return 0;
}

int options_parse(int argc, char **argv, struct kw_opts *o)
{
	int r = km_opts_parse(&spec, argc, argv, o, sizeof(*o));

	return r ? r : check(o);
}
