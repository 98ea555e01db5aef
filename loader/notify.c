// SPDX-License-Identifier: GPL-2.0-only
#include "notify.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "log.h"

static void notify(const char *msg)
{
	int r = sd_notify(0, msg);

	if (r < 0)
		km_warn("sd_notify(%s): %s", msg, strerror(-r));
}

void notify_ready(const char *status)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "READY=1\nSTATUS=%s", status);
	notify(buf);
}

void notify_status(const char *status)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "STATUS=%s", status);
	notify(buf);
}

void notify_stopping(void)
{
	notify("STOPPING=1\nSTATUS=stopping; the XDP program stays attached");
}

int notify_watchdog_timer(void)
{
	struct itimerspec its;
	uint64_t usec, half;
	int fd;

	if (sd_watchdog_enabled(0, &usec) <= 0)
		return -1;
	half = usec / 2 ? usec / 2 : 1;
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (fd < 0) {
		km_err("timerfd_create: %s; no watchdog pings",
		       strerror(errno));
		return -1;
	}
	its.it_interval.tv_sec = (time_t)(half / 1000000);
	its.it_interval.tv_nsec = (long)(half % 1000000) * 1000;
	its.it_value = its.it_interval;
	if (timerfd_settime(fd, 0, &its, NULL)) {
		km_err("timerfd_settime: %s; no watchdog pings",
		       strerror(errno));
		close(fd);
		return -1;
	}
	km_info("watchdog: pinging every %llu ms",
		(unsigned long long)half / 1000);
	notify("WATCHDOG=1");
	return fd;
}

void notify_watchdog_ping(int timer_fd)
{
	uint64_t ticks;

	if (read(timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		km_warn("watchdog timer: %s", strerror(errno));
	notify("WATCHDOG=1");
}
