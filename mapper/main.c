// SPDX-License-Identifier: GPL-2.0-only
/*
 * kilimanjaro-mapper: attach the game-server host side (XDP decap + TC
 * egress encap), then stay to sweep idle flows and reload on SIGHUP.
 * Exiting never detaches: only --detach does.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "attach.h"
#include "config.h"
#include "lib/log.h"
#include "options.h"

#define SWEEP_MS 10000

struct mapper_ctx {
	struct mapper_conf conf; /* applied */
	struct mapper_conf cli;	 /* as parsed from the command line */
	struct mapper_opts opts;
	struct mapper_maps maps;
};

/* Command line, then the config file under it: 0 or -EINVAL (logged). */
static int conf_build(const struct mapper_ctx *mp, struct mapper_conf *out,
		      int need_state)
{
	char why[256];
	int r;

	if (mp->opts.config_path) {
		r = mapper_config_load(mp->opts.config_path, &mp->cli,
				       mp->opts.set, out);
		if (r)
			return r;
	} else {
		*out = mp->cli;
	}
	if (mapper_conf_finish(out, need_state, why, sizeof(why)))
		return km_log_errno(-EINVAL, "%s", why);
	return 0;
}

static void reload(struct mapper_ctx *mp)
{
	static struct mapper_conf next;

	sd_notify(0, "RELOADING=1");
	if (conf_build(mp, &next, 1)) {
		km_err("reload failed, keeping the running settings");
	} else if (strcmp(next.ifname, mp->conf.ifname) ||
		   strcmp(next.pin_root, mp->conf.pin_root) ||
		   next.xdp_mode != mp->conf.xdp_mode) {
		km_err("reload: interface, pin_root and xdp_mode only change "
		       "with a restart; keeping the running settings");
	} else if (!mapper_apply(&next, &mp->maps)) {
		mp->conf = next;
		km_info("reloaded");
	}
	sd_notify(0, "READY=1");
}

static int signals_fd(void)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -errno;
	fd = signalfd(-1, &set, SFD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static void sweep(const struct mapper_ctx *mp)
{
	long n = mapper_flows_sweep(&mp->maps);

	if (n > 0)
		km_debug("swept %ld idle flow(s)", n);
}

/* Sweep at least twice per idle time, feed the watchdog twice per
 * interval. */
static int tick_ms(const struct mapper_ctx *mp, uint64_t wd_usec)
{
	uint64_t ms = SWEEP_MS;

	if ((uint64_t)mp->conf.idle_s * 500 < ms)
		ms = (uint64_t)mp->conf.idle_s * 500;
	if (wd_usec && wd_usec / 2000 < ms)
		ms = wd_usec / 2000;
	return ms < 100 ? 100 : (int)ms;
}

/* Until SIGTERM/SIGINT: sweep idle flows, feed the watchdog, reload. */
static int run(struct mapper_ctx *mp)
{
	struct signalfd_siginfo si;
	uint64_t wd_usec = 0;
	int sfd, r;
	struct pollfd pfd;

	sfd = signals_fd();
	if (sfd < 0)
		return km_log_errno(sfd, "signalfd: %s", strerror(-sfd));
	if (sd_watchdog_enabled(0, &wd_usec) <= 0)
		wd_usec = 0;
	sd_notifyf(0,
		   "READY=1\nSTATUS=%s: decap from %zu edge(s), %zu "
		   "service prefix(es)",
		   mp->conf.ifname, mp->conf.n_edges, mp->conf.n_services);
	km_info("%s: ready (pins under %s)", mp->conf.ifname,
		mp->conf.pin_root);
	pfd.fd = sfd;
	pfd.events = POLLIN;
	for (;;) {
		r = poll(&pfd, 1, tick_ms(mp, wd_usec));
		if (r < 0 && errno != EINTR) {
			r = km_log_errno(-errno, "poll: %m");
			break;
		}
		if (wd_usec)
			sd_notify(0, "WATCHDOG=1");
		if (r <= 0) {
			sweep(mp);
			continue;
		}
		if (read(sfd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (si.ssi_signo == SIGHUP) {
			reload(mp);
			continue;
		}
		km_info("signal %u: exiting, programs stay attached",
			si.ssi_signo);
		sd_notify(0, "STOPPING=1");
		r = 0;
		break;
	}
	close(sfd);
	return r;
}

static void print_conf(const struct mapper_conf *c)
{
	char a[INET_ADDRSTRLEN];
	size_t i;

	printf("interface %s\naddress %s\n", c->ifname,
	       inet_ntop(AF_INET, &c->host, a, sizeof(a)));
	for (i = 0; i < c->n_edges; i++)
		printf("edge %s\n",
		       inet_ntop(AF_INET, &c->edges[i], a, sizeof(a)));
	printf("default-edge %s\n",
	       c->default_edge
		   ? inet_ntop(AF_INET, &c->default_edge, a, sizeof(a))
		   : "none");
	for (i = 0; i < c->n_services; i++)
		printf("service %s/%u\n",
		       inet_ntop(AF_INET, &c->services[i].addr, a, sizeof(a)),
		       c->services[i].prefixlen);
	printf("idle-seconds %u\nxdp-mode %s\nnext-hop %s\npin-root %s\n",
	       c->idle_s, c->xdp_mode == MAPPER_XDP_SKB ? "skb" : "native",
	       c->keep_l2 ? "player" : "route", c->pin_root);
}

static int act(struct mapper_ctx *mp)
{
	int r;

	if (mp->opts.check) {
		print_conf(&mp->conf);
		return 0;
	}

	if (mp->opts.detach)
		return mapper_detach(&mp->conf);
	if (mp->opts.show) {
		r = mapper_maps_open(mp->conf.pin_root, &mp->maps);
		if (!r)
			r = mapper_show(&mp->maps, mp->opts.json);
		return r;
	}
	r = mapper_attach(&mp->conf, &mp->maps);
	if (r || mp->opts.attach_only)
		return r;
	return run(mp);
}

int main(int argc, char **argv)
{
	static struct mapper_ctx mp;
	int r;

	mapper_conf_defaults(&mp.cli);
	r = mapper_options_parse(argc, argv, &mp.cli, &mp.opts);
	if (r)
		return r > 0 ? 0 : 2;
	km_log_init("kilimanjaro-mapper",
		    mp.opts.verbose ? LOG_DEBUG : LOG_INFO);
	if (conf_build(&mp, &mp.conf, !mp.opts.detach && !mp.opts.show))
		return 2;
	memset(&mp.maps, 0xff, sizeof(mp.maps));
	r = act(&mp);
	mapper_maps_close(&mp.maps);
	return r ? 1 : 0;
}
