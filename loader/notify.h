/* SPDX-License-Identifier: GPL-2.0-only */
/* systemd notification (READY, STATUS, WATCHDOG, STOPPING). Every call is
 * a no-op outside systemd (no NOTIFY_SOCKET). */
#ifndef KM_LOADER_NOTIFY_H
#define KM_LOADER_NOTIFY_H

void notify_ready(const char *status);
void notify_status(const char *status);
void notify_stopping(void);
/* A timerfd firing at half the watchdog interval, or -1 when systemd asks
 * for no watchdog. */
int notify_watchdog_timer(void);
/* Drain the timerfd and send WATCHDOG=1. */
void notify_watchdog_ping(int timer_fd);

#endif
