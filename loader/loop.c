// SPDX-License-Identifier: GPL-2.0-only
#include "loop.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "a2s.h"
#include "log.h"
#include "notify.h"
#include "reload.h"

static void handled(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
}

int loop_block_signals(void)
{
	sigset_t set;

	handled(&set);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return km_log_errno(-errno, "sigprocmask: %s", strerror(errno));
	return 0;
}

/* 1: stop; 0: go on. */
static int on_signal(struct loader *l, int sfd)
{
	struct signalfd_siginfo si;
	ssize_t n = read(sfd, &si, sizeof(si));

	if (n != sizeof(si))
		return 0;
	if (si.ssi_signo == SIGHUP) {
		reload_config(l);
		return 0;
	}
	km_info("%s: exiting; the XDP program and the maps stay attached and "
		"pinned under %s",
		strsignal((int)si.ssi_signo), l->pin_root);
	notify_stopping();
	return 1;
}

int loop_run(struct loader *l)
{
	struct pollfd p[3];
	sigset_t set;
	int sfd, wfd, efd, r = 0;

	handled(&set);
	sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		return km_log_errno(-errno, "signalfd: %s", strerror(errno));
	wfd = notify_watchdog_timer();
	efd = a2s_timer_open();
	a2s_timer_arm(efd, l->cfg.a2s_epoch_s);
	/* A negative fd is ignored by poll(). */
	p[0] = (struct pollfd){.fd = sfd, .events = POLLIN};
	p[1] = (struct pollfd){.fd = wfd, .events = POLLIN};
	p[2] = (struct pollfd){.fd = efd, .events = POLLIN};
	for (;;) {
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			r = km_log_errno(-errno, "poll: %s", strerror(errno));
			break;
		}
		if (wfd >= 0 && (p[1].revents & POLLIN))
			notify_watchdog_ping(wfd);
		if (efd >= 0 && (p[2].revents & (POLLIN | POLLERR)))
			a2s_timer_fire(&l->maps, efd, l->cfg.a2s_epoch_s);
		if (p[0].revents & POLLIN) {
			if (on_signal(l, sfd))
				break;
			/* A reload may change epoch_s. */
			a2s_timer_arm(efd, l->cfg.a2s_epoch_s);
		}
	}
	if (efd >= 0)
		close(efd);
	if (wfd >= 0)
		close(wfd);
	close(sfd);
	return r;
}
