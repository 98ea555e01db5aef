/* SPDX-License-Identifier: GPL-2.0-only */
/* Logging to stderr with <N> syslog priority prefixes (journald reads them).
 * Nothing per packet. libbpf and libxdp output is routed here by
 * km_log_init(). */
#ifndef KM_LOG_H
#define KM_LOG_H

#include <syslog.h>

/* Set the name printed after the priority and route libbpf/libxdp logs. */
void km_log_init(const char *progname, int max_prio);
/* The max_prio in force (to silence libbpf for a while and restore it). */
int km_log_max_prio(void);
void km_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Log at LOG_ERR and return r (a -errno), for `return km_log_errno(r, ...)`. */
int km_log_errno(int r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define km_err(...) km_log(LOG_ERR, __VA_ARGS__)
#define km_warn(...) km_log(LOG_WARNING, __VA_ARGS__)
#define km_info(...) km_log(LOG_INFO, __VA_ARGS__)
#define km_debug(...) km_log(LOG_DEBUG, __VA_ARGS__)

#endif
