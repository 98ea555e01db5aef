// SPDX-License-Identifier: GPL-2.0-only
/* kilimanjaro-afxdp: wires options, one worker or the supervisor of one
 * worker per RX queue. */
#include <stdio.h>

#include "log.h"
#include "options.h"
#include "supervise.h"
#include "worker.h"

int main(int argc, char **argv)
{
	struct kw_worker_cfg cfg = {0};
	char pin_root[256], run_dir[256];
	struct kw_opts o;
	int r;

	km_log_init("kilimanjaro-afxdp", LOG_INFO);
	r = options_parse(argc, argv, &o);
	if (r)
		return r > 0 ? 0 : 2;
	km_log_init(NULL, o.log_prio);
	snprintf(pin_root, sizeof(pin_root), "%s/%s", KW_PIN_BASE, o.ifname);
	snprintf(run_dir, sizeof(run_dir), "%s/%s", KW_RUN_BASE, o.ifname);
	cfg.ifname = o.ifname;
	cfg.queue = o.queue_id;
	cfg.pin_root = o.pin_root ? o.pin_root : pin_root;
	cfg.run_dir = o.run_dir ? o.run_dir : run_dir;
	cfg.notify = 1;
	r = o.all_queues ? supervise_run(&cfg) : worker_run(&cfg);
	return r ? 1 : 0;
}
