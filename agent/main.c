// SPDX-License-Identifier: GPL-2.0-only
/* kilimanjaro-agent: wires options, the maps, TLS and the event loop. */
#include "agent.h"
#include "log.h"
#include "options.h"

int main(int argc, char **argv)
{
	static struct ka_agent a;
	struct ka_opts o;
	int r;

	km_log_init("kilimanjaro-agent", LOG_INFO);
	r = ka_options_parse(argc, argv, &o);
	if (r)
		return r > 0 ? 0 : 2;
	km_log_init(NULL, o.log_prio);
	r = ka_agent_init(&a, &o);
	if (!r)
		r = ka_agent_run(&a);
	ka_agent_fini(&a);
	return r ? 1 : 0;
}
