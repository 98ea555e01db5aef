// SPDX-License-Identifier: GPL-2.0-only
/* kilimanjaro-statsd: per-CPU counters -> stats ring and /metrics. */
#include <stddef.h>

#include "log.h"
#include "options.h"
#include "publish.h"

int main(int argc, char **argv)
{
	struct ks_opts o;
	int r;

	km_log_init("kilimanjaro-statsd", LOG_INFO);
	r = ks_options_parse(argc, argv, &o);
	if (r)
		return r > 0 ? 0 : 2;
	km_log_init(NULL, o.log_prio);
	return ks_run(&o) ? 1 : 0;
}
