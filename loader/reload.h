/* SPDX-License-Identifier: GPL-2.0-only */
/* SIGHUP: re-read and validate the config file; apply it only when valid
 * and when it fits the maps (preflight.h); a failure half-way rolls back
 * to the running configuration. */
#ifndef KM_LOADER_RELOAD_H
#define KM_LOADER_RELOAD_H

#include "loader.h"

/* 0 when applied; -EINVAL when the file is invalid, -ENOSPC (and other
 * -errno) when the pre-flight refused it (every error logged, nothing
 * changed); another -errno when applying failed (rolled back, logged). */
int reload_config(struct loader *l);

#endif
