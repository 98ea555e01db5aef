/* SPDX-License-Identifier: GPL-2.0-only */
/* The publishing loop: every interval, one snapshot from the maps into
 * the ring, until SIGTERM/SIGINT. */
#ifndef KS_PUBLISH_H
#define KS_PUBLISH_H

#include "options.h"

int ks_run(const struct ks_opts *o);

#endif
