// SPDX-License-Identifier: GPL-2.0-only
#include "supervise.h"

#include <errno.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kilimanjaro_abi.h"
#include "log.h"
#include "maps.h"
#include "notify.h"

#define BACKOFF_MIN_NS 1000000000ull
#define BACKOFF_MAX_NS 30000000000ull
#define HEALTHY_NS 60000000000ull
#define STOP_WAIT_NS 10000000000ull

struct child {
	pid_t pid; /* 0: not running */
	uint64_t started_ns;
	uint64_t restart_ns; /* when to start it again (pid 0) */
	uint64_t backoff_ns;
};

unsigned int supervise_rx_queues(const char *ifname)
{
	struct ethtool_channels ch = {.cmd = ETHTOOL_GCHANNELS};
	struct ifreq ifr = {0};
	unsigned int n = 1;
	int fd;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (void *)&ch;
	if (!ioctl(fd, SIOCETHTOOL, &ifr))
		n = ch.rx_count + ch.combined_count;
	close(fd);
	if (n < 1)
		n = 1;
	return n > KM_A2S_MAX_QUEUES ? KM_A2S_MAX_QUEUES : n;
}

static pid_t spawn(const struct kw_worker_cfg *base, uint32_t q)
{
	struct kw_worker_cfg cfg = *base;
	pid_t pid, parent = getpid();
	sigset_t none;

	pid = fork();
	if (pid)
		return pid;
	/* The child: it stops with the supervisor, whatever kills it (the
	 * slot empties, XDP forwards); systemd hears only from the
	 * supervisor. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(0);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	cfg.queue = q;
	cfg.notify = 0;
	_exit(worker_run(&cfg) ? 1 : 0);
}

static void start_due(const struct kw_worker_cfg *base, struct child *c,
		      unsigned int n, uint64_t now)
{
	unsigned int q;

	for (q = 0; q < n; q++) {
		if (c[q].pid || now < c[q].restart_ns)
			continue;
		c[q].pid = spawn(base, q);
		if (c[q].pid < 0) {
			km_err("fork: %s", strerror(errno));
			c[q].pid = 0;
			c[q].restart_ns = now + BACKOFF_MIN_NS;
			continue;
		}
		c[q].started_ns = now;
		km_info("queue %u: worker pid %d", q, (int)c[q].pid);
	}
}

static void reap(struct child *c, unsigned int n, bool stopping)
{
	uint64_t now = km_mono_ns();
	unsigned int q;
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (q = 0; q < n && c[q].pid != pid; q++)
			;
		if (q == n)
			continue;
		c[q].pid = 0;
		if (stopping)
			continue;
		if (now - c[q].started_ns >= HEALTHY_NS || !c[q].backoff_ns)
			c[q].backoff_ns = BACKOFF_MIN_NS;
		else if (c[q].backoff_ns < BACKOFF_MAX_NS)
			c[q].backoff_ns *= 2;
		c[q].restart_ns = now + c[q].backoff_ns;
		km_warn("queue %u: worker pid %d %s %d; restart in %llu ms", q,
			(int)pid,
			WIFSIGNALED(st) ? "killed by signal" : "exited",
			WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st),
			(unsigned long long)(c[q].backoff_ns / 1000000));
	}
}

static void stop_all(struct child *c, unsigned int n)
{
	uint64_t end = km_mono_ns() + STOP_WAIT_NS;
	unsigned int q, left;

	for (q = 0; q < n; q++)
		if (c[q].pid)
			kill(c[q].pid, SIGTERM);
	do {
		reap(c, n, true);
		for (left = 0, q = 0; q < n; q++)
			left += c[q].pid != 0;
		if (left)
			usleep(10000);
	} while (left && km_mono_ns() < end);
	for (q = 0; q < n; q++)
		if (c[q].pid) {
			km_warn("queue %u: worker pid %d ignored SIGTERM: "
				"SIGKILL",
				q, (int)c[q].pid);
			kill(c[q].pid, SIGKILL);
			waitpid(c[q].pid, NULL, 0);
		}
}

int supervise_run(const struct kw_worker_cfg *base)
{
	unsigned int n = supervise_rx_queues(base->ifname);
	struct child c[KM_A2S_MAX_QUEUES] = {0};
	struct signalfd_siginfo si;
	char status[128];
	sigset_t set;
	int sfd, wd;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return km_log_errno(-errno, "sigprocmask: %s", strerror(errno));
	sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0)
		return km_log_errno(-errno, "signalfd: %s", strerror(errno));
	km_info("%s: %u RX queue(s), one worker each", base->ifname, n);
	start_due(base, c, n, km_mono_ns());
	wd = notify_watchdog_timer();
	snprintf(status, sizeof(status), "%u worker(s) on %s", n, base->ifname);
	notify_ready(status);
	for (;;) {
		struct pollfd p[2] = {{.fd = sfd, .events = POLLIN},
				      {.fd = wd, .events = POLLIN}};

		if (poll(p, wd >= 0 ? 2 : 1, 200) < 0 && errno != EINTR)
			break;
		if (wd >= 0 && (p[1].revents & POLLIN))
			notify_watchdog_ping(wd);
		while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
				goto stop;
			if (si.ssi_signo == SIGHUP) {
				unsigned int q;

				for (q = 0; q < n; q++)
					if (c[q].pid)
						kill(c[q].pid, SIGHUP);
			}
		}
		reap(c, n, false);
		start_due(base, c, n, km_mono_ns());
	}
stop:
	km_info("stopping %u worker(s)", n);
	notify_stopping();
	stop_all(c, n);
	close(sfd);
	if (wd >= 0)
		close(wd);
	return 0;
}
