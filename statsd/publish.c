// SPDX-License-Identifier: GPL-2.0-only
#include "publish.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "http.h"
#include "log.h"
#include "maps.h"
#include "notify.h"
#include "ring.h"
#include "snapshot.h"

struct ks_state {
	const struct ks_opts *o;
	struct km_maps maps;
	bool maps_open;
	ino_t stats_ino; /* inode of the km_stats pin the fds came from */
	struct km_snap_ctx ctx;
	struct km_snapshot *snap;
	struct km_ring_writer *ring;
	struct ks_http *http;
	char ring_path[320];
	uint64_t started_ns;
	uint64_t failures; /* consecutive failed snapshots */
};

static int mkdir_p(const char *dir)
{
	char p[256];
	size_t n = strlen(dir);

	if (n >= sizeof(p))
		return -ENAMETOOLONG;
	memcpy(p, dir, n + 1);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, 0755) && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

/* The pins may not exist yet (statsd started before the loader): keep
 * trying every interval, saying so once. */
static int pin_ino(const struct ks_state *st, ino_t *ino)
{
	char p[320];
	struct stat sb;

	snprintf(p, sizeof(p), "%s/%s", st->o->pin_root, KM_MAP_STATS);
	if (stat(p, &sb))
		return -errno;
	*ino = sb.st_ino;
	return 0;
}

/*
 * Our fds keep maps alive after a detach, and a new loader pins new maps:
 * reading the old ones would publish frozen counters forever. One stat()
 * of the km_stats pin per snapshot tells (a new pin is a new inode).
 */
static bool maps_replaced(struct ks_state *st)
{
	ino_t ino;

	return pin_ino(st, &ino) || ino != st->stats_ino;
}

static int open_maps(struct ks_state *st)
{
	static bool said;
	int r;

	if (st->maps_open && maps_replaced(st)) {
		km_info("maps at %s were removed or replaced: reopening",
			st->o->pin_root);
		km_maps_close(&st->maps);
		st->maps_open = false;
	}
	if (st->maps_open)
		return 0;
	/* The inode first: pins replaced in between are seen next time. */
	r = pin_ino(st, &st->stats_ino);
	km_log_init(NULL, said ? LOG_CRIT : st->o->log_prio);
	if (!r)
		r = km_maps_open_pinned(&st->maps, st->o->pin_root);
	km_log_init(NULL, st->o->log_prio);
	if (r) {
		if (!said)
			km_warn("no edge pinned at %s yet; retrying every "
				"interval",
				st->o->pin_root);
		said = true;
		return r;
	}
	if (said)
		km_info("maps pinned at %s found", st->o->pin_root);
	said = false;
	st->maps_open = true;
	return 0;
}

static int publish_one(struct ks_state *st)
{
	int64_t n;
	int r;

	r = open_maps(st);
	if (r)
		return r;
	st->snap->interval_ns = st->o->interval_ns;
	st->snap->started_mono_ns = st->started_ns;
	r = km_snapshot_read(&st->maps, &st->ctx, st->snap,
			     st->o->max_services);
	if (r) {
		/* Maps gone (detach) or replaced: reopen next time. */
		km_maps_close(&st->maps);
		st->maps_open = false;
		return r;
	}
	n = km_ring_publish(st->ring, st->snap,
			    km_snapshot_size(st->snap->n_services));
	if (n < 0)
		return (int)n;
	if (n == 1)
		km_info("first snapshot published to %s (%u services, read in "
			"%.3f ms)",
			st->ring_path, st->snap->n_services,
			st->snap->read_ns / 1e6);
	return 0;
}

static int setup(struct ks_state *st)
{
	struct km_ring_params p = {
	    .nslots = st->o->slots,
	    .payload_max = (uint32_t)km_snapshot_size(st->o->max_services),
	    .interval_ns = st->o->interval_ns,
	    .payload_kind = KM_SNAP_KIND,
	    .payload_version = KM_SNAP_VERSION,
	};
	int r;

	st->snap = calloc(1, km_snapshot_size(st->o->max_services));
	if (!st->snap)
		return km_log_errno(-ENOMEM, "out of memory");
	r = mkdir_p(st->o->run_dir);
	if (r)
		return km_log_errno(r, "--run-dir %s: cannot create: %s",
				    st->o->run_dir, strerror(-r));
	r = km_ring_path(st->ring_path, sizeof(st->ring_path), st->o->run_dir,
			 NULL);
	if (!r)
		r = km_ring_writer_create(&st->ring, st->ring_path, &p);
	if (r)
		return r;
	km_info("stats ring %s: %u slots of %u services, interval %.3f s, "
		"epoch %016llx",
		st->ring_path, st->o->slots, st->o->max_services,
		st->o->interval_ns / 1e9,
		(unsigned long long)km_ring_writer_epoch(st->ring));
	if (st->o->listen && !st->o->once)
		r = ks_http_start(&st->http, &st->o->listen_addr,
				  st->ring_path);
	return r;
}

static void stop_signals(sigset_t *mask)
{
	sigemptyset(mask);
	sigaddset(mask, SIGTERM);
	sigaddset(mask, SIGINT);
	sigaddset(mask, SIGHUP);
}

static int make_fds(const struct ks_opts *o, int *tfd, int *sfd)
{
	struct itimerspec its = {
	    .it_interval = {.tv_sec = o->interval_ns / 1000000000ull,
			    .tv_nsec = o->interval_ns % 1000000000ull},
	    .it_value = {.tv_sec = o->interval_ns / 1000000000ull,
			 .tv_nsec = o->interval_ns % 1000000000ull},
	};
	sigset_t mask;

	stop_signals(&mask);
	*sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	*tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (*sfd < 0 || *tfd < 0)
		return km_log_errno(-errno, "signalfd/timerfd: %s",
				    strerror(errno));
	if (timerfd_settime(*tfd, 0, &its, NULL))
		return km_log_errno(-errno, "timerfd_settime: %s",
				    strerror(errno));
	return 0;
}

static void tick(struct ks_state *st)
{
	int r = publish_one(st);

	if (!r) {
		if (st->failures > 1)
			km_info("snapshots published again");
		st->failures = 0;
		return;
	}
	/* Log the first failure and then every 60th, not every interval. */
	if (r != -ENOENT && st->failures % 60 == 0)
		km_warn("snapshot failed: %s", strerror(-r));
	st->failures++;
}

static int loop(struct ks_state *st)
{
	int tfd = -1, sfd = -1, wfd, r;
	struct pollfd pfd[3];

	r = make_fds(st->o, &tfd, &sfd);
	if (r)
		goto out;
	wfd = notify_watchdog_timer();
	notify_ready("publishing snapshots");
	pfd[0] = (struct pollfd){.fd = tfd, .events = POLLIN};
	pfd[1] = (struct pollfd){.fd = sfd, .events = POLLIN};
	pfd[2] = (struct pollfd){.fd = wfd, .events = POLLIN};
	for (;;) {
		struct signalfd_siginfo si;
		uint64_t ticks;

		if (poll(pfd, wfd >= 0 ? 3 : 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			r = km_log_errno(-errno, "poll: %s", strerror(errno));
			break;
		}
		if (pfd[1].revents &&
		    read(sfd, &si, sizeof(si)) == sizeof(si) &&
		    si.ssi_signo != SIGHUP) {
			km_info("signal %u: exiting", si.ssi_signo);
			break;
		}
		if (pfd[2].revents)
			notify_watchdog_ping(wfd);
		if (pfd[0].revents &&
		    read(tfd, &ticks, sizeof(ticks)) == sizeof(ticks))
			tick(st);
	}
	notify_stopping();
out:
	if (tfd >= 0)
		close(tfd);
	if (sfd >= 0)
		close(sfd);
	return r;
}

int ks_run(const struct ks_opts *o)
{
	struct ks_state st = {.o = o};
	int r;

	sigset_t mask;

	/* Before the HTTP thread exists, so it inherits the mask and the
	 * signals reach the signalfd of this thread only. */
	stop_signals(&mask);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	for (int i = 0; i < KM_M_MAX; i++)
		st.maps.fd[i] = -1;
	st.started_ns = km_mono_ns();
	r = setup(&st);
	if (r)
		goto out;
	if (o->once) {
		r = publish_one(&st);
		goto out;
	}
	tick(&st);
	r = loop(&st);
out:
	ks_http_stop(st.http);
	km_ring_writer_close(st.ring);
	if (st.maps_open)
		km_maps_close(&st.maps);
	km_snap_ctx_free(&st.ctx);
	free(st.snap);
	return r;
}
