// SPDX-License-Identifier: GPL-2.0-only
/* kilimanjaro-loader: wires options, config, start-up and the main loop. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "apply.h"
#include "log.h"
#include "loader.h"
#include "loop.h"
#include "notify.h"
#include "options.h"
#include "pins.h"

/* 0 valid, 1 invalid (every error logged). */
static int load_config(struct loader *l)
{
	struct km_cfg_errors errs = {0};
	int r;

	r = km_cfg_parse_file(l->opts.config, &l->cfg, &errs);
	if (r) {
		km_cfg_errors_log(&errs);
		km_err("%s: invalid, nothing changed", l->opts.config);
	}
	km_cfg_errors_free(&errs);
	return r ? 1 : 0;
}

static int run_detach(struct loader *l)
{
	/* The pin root follows from --pin-root, --interface or the config. */
	if (!l->opts.pin_root && !l->opts.ifname && load_config(l))
		return km_log_errno(-EINVAL,
				    "--detach: pass --interface or --pin-root "
				    "(the config is unusable)");
	if (loader_resolve(l))
		return -EINVAL;
	return pins_detach(l->pin_root);
}

static int run(struct loader *l)
{
	char sum[160], status[256];
	int r;

	r = loader_resolve(l);
	if (!r)
		r = loop_block_signals();
	if (!r)
		r = loader_start(l);
	if (r)
		return r;
	apply_summary(&l->cfg, sum, sizeof(sum));
	km_info("running on %s (pins under %s): %s", l->ifname, l->pin_root,
		sum);
	snprintf(status, sizeof(status), "running on %s: %s", l->ifname, sum);
	notify_ready(status);
	return loop_run(l);
}

int main(int argc, char **argv)
{
	struct loader l = {.lock_fd = -1};
	char sum[160];
	int r;

	km_log_init("kilimanjaro-loader", LOG_INFO);
	r = options_parse(argc, argv, &l.opts);
	if (r)
		return r > 0 ? 0 : 2;
	if (l.opts.verbose)
		km_log_init(NULL, LOG_DEBUG);
	if (l.opts.detach) {
		r = run_detach(&l);
		goto out;
	}
	if (load_config(&l)) {
		r = -EINVAL;
		goto out;
	}
	if (l.opts.check_config) {
		apply_summary(&l.cfg, sum, sizeof(sum));
		printf("%s: valid (%s)\n", l.opts.config, sum);
		r = 0;
		goto out;
	}
	r = run(&l);
out:
	loader_close(&l);
	return r ? 1 : 0;
}
