// SPDX-License-Identifier: GPL-2.0-only
#include "reload.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "apply.h"
#include "log.h"
#include "notify.h"

/* Settings fixed at start: a reload keeps the running value and says so. */
static void warn_fixed(const struct loader *l, const struct km_cfg *n)
{
	int i;

	if (!l->opts.ifname && strcmp(n->ifname, l->cfg.ifname))
		km_warn("%s: interface: a change takes effect only at the next "
			"start",
			l->opts.config);
	if (!l->opts.xdp_mode && n->xdp_mode != l->cfg.xdp_mode)
		km_warn("%s: xdp_mode: a change needs kilimanjaro-loader "
			"--detach and a start",
			l->opts.config);
	for (i = 0; i < KM_CFG_SZ_MAX; i++)
		if (n->map_size[i] != l->cfg.map_size[i])
			km_warn("%s: map_sizes.%s: a change needs "
				"kilimanjaro-loader --detach and a start",
				l->opts.config, km_cfg_size_names[i]);
}

int reload_config(struct loader *l)
{
	struct km_cfg_errors errs = {0};
	struct km_cfg n;
	char sum[160], status[256];
	int r;

	km_info("SIGHUP: reloading %s", l->opts.config);
	r = km_cfg_parse_file(l->opts.config, &n, &errs);
	if (r) {
		km_cfg_errors_log(&errs);
		km_err("reload refused: %s is invalid; the running "
		       "configuration is unchanged",
		       l->opts.config);
		notify_status("running; last reload refused (invalid config, "
			      "see the log)");
		km_cfg_free(&n);
		km_cfg_errors_free(&errs);
		return r;
	}
	warn_fixed(l, &n);
	r = apply_config(&l->maps, &n);
	apply_summary(&n, sum, sizeof(sum));
	if (r) {
		km_err("reload of %s failed while applying (%s); lists applied "
		       "before the failure are in place",
		       l->opts.config, strerror(-r));
		notify_status(
		    "running; last reload failed while applying (see the log)");
		km_cfg_free(&n);
		return r;
	}
	km_info("reloaded %s: %s", l->opts.config, sum);
	snprintf(status, sizeof(status), "running on %s: %s", l->ifname, sum);
	notify_status(status);
	km_cfg_free(&l->cfg);
	l->cfg = n;
	return 0;
}
