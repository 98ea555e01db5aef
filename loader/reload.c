// SPDX-License-Identifier: GPL-2.0-only
#include "reload.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "apply.h"
#include "log.h"
#include "notify.h"
#include "preflight.h"

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

/* The apply failed half-way: back to the running configuration. */
static void roll_back(struct loader *l, const struct apply_snap *snap,
		      enum apply_step st, int r)
{
	char failed[128], sum[160], status[320];
	const char *step = apply_step_names[st];

	if (!apply_rollback(&l->maps, snap, &l->cfg, st, failed,
			    sizeof(failed))) {
		km_err("reload of %s failed while applying (%s: %s); rolled "
		       "back to the running configuration",
		       l->opts.config, step, strerror(-r));
		apply_summary(&l->cfg, sum, sizeof(sum));
		snprintf(status, sizeof(status),
			 "running on %s: %s; last reload failed and was "
			 "rolled back (see the log)",
			 l->ifname, sum);
		notify_status(status);
		return;
	}
	km_err("reload of %s failed while applying (%s: %s) and the ROLLBACK "
	       "FAILED too (%s): those maps hold a mix of the running and the "
	       "new configuration; the loader keeps running; fix the cause "
	       "and reload",
	       l->opts.config, step, strerror(-r), failed);
	snprintf(status, sizeof(status),
		 "running; DEGRADED: last reload failed and its rollback "
		 "failed (%s), see the log",
		 failed);
	notify_status(status);
}

int reload_config(struct loader *l)
{
	struct km_cfg_errors errs = {0};
	struct apply_snap snap;
	enum apply_step step;
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
	r = preflight_check(&l->maps, &n, l->opts.config, "reload refused",
			    "the running configuration is unchanged");
	if (!r) {
		r = apply_snapshot(&l->maps, &snap);
		if (r)
			km_err("reload refused: %s: cannot read what the maps "
			       "hold now, to go back to should the apply "
			       "fail; the running configuration is unchanged",
			       l->opts.config);
	}
	if (r) {
		notify_status("running; last reload refused (see the log)");
		km_cfg_free(&n);
		return r;
	}
	r = apply_config(&l->maps, &n, &step);
	if (r) {
		roll_back(l, &snap, step, r);
		apply_snap_free(&snap);
		km_cfg_free(&n);
		return r;
	}
	apply_snap_free(&snap);
	apply_summary(&n, sum, sizeof(sum));
	km_info("reloaded %s: %s", l->opts.config, sum);
	snprintf(status, sizeof(status), "running on %s: %s", l->ifname, sum);
	notify_status(status);
	km_cfg_free(&l->cfg);
	l->cfg = n;
	return 0;
}
