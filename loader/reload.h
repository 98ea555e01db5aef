/* SPDX-License-Identifier: GPL-2.0-only */
/* SIGHUP: re-read and validate the config file; apply it only when valid. */
#ifndef KM_LOADER_RELOAD_H
#define KM_LOADER_RELOAD_H

#include "loader.h"

/* 0 when applied; -EINVAL when the file is invalid (every error logged,
 * nothing changed); another -errno when applying failed. */
int reload_config(struct loader *l);

#endif
