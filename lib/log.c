// SPDX-License-Identifier: GPL-2.0-only
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

static const char *km_progname = "kilimanjaro";
static int km_max_prio = LOG_INFO;

static void km_vlog(int prio, const char *fmt, va_list ap)
{
	char buf[1024];
	size_t n;

	if (prio > km_max_prio)
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	fprintf(stderr, "<%d>%s: %s\n", prio, km_progname, buf);
}

void km_log(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	km_vlog(prio, fmt, ap);
	va_end(ap);
}

int km_log_errno(int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	km_vlog(LOG_ERR, fmt, ap);
	va_end(ap);
	return r;
}

static int km_libbpf_print(enum libbpf_print_level level, const char *fmt,
			   va_list ap)
{
	int prio = level == LIBBPF_WARN ? LOG_WARNING :
		   level == LIBBPF_INFO ? LOG_INFO : LOG_DEBUG;

	km_vlog(prio, fmt, ap);
	return 0;
}

static int km_libxdp_print(enum libxdp_print_level level, const char *fmt,
			   va_list ap)
{
	int prio = level == LIBXDP_WARN ? LOG_WARNING :
		   level == LIBXDP_INFO ? LOG_INFO : LOG_DEBUG;

	km_vlog(prio, fmt, ap);
	return 0;
}

int km_log_max_prio(void)
{
	return km_max_prio;
}

void km_log_init(const char *progname, int max_prio)
{
	if (progname)
		km_progname = progname;
	km_max_prio = max_prio;
	libbpf_set_print(km_libbpf_print);
	libxdp_set_print(km_libxdp_print);
}
