// SPDX-License-Identifier: GPL-2.0-only
/* Set-up, event loop and clean stop of one worker. */
#include "worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "log.h"
#include "notify.h"
#include "worker_int.h"

#define TICK_NS 20000000ull /* schedule, pending requests, service reload */
#define RX_BUDGET 64
#define DRAIN_NS 200000000ull

static void *map_mmap(int fd, size_t value_size, size_t *size)
{
	long page = sysconf(_SC_PAGESIZE);
	void *p;

	*size = ((size_t)KM_MAX_SERVICES * value_size + (size_t)page - 1) &
		~((size_t)page - 1);
	p = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

static int open_maps(struct kw_worker *w, const char *pin_root)
{
	int r = km_maps_open_pinned(&w->maps, pin_root);

	if (r)
		return km_log_errno(r,
				    "%s: no Kilimanjaro pins (is "
				    "kilimanjaro-loader running on %s?)",
				    pin_root, w->ifname);
	w->info = map_mmap(w->maps.fd[KM_M_A2S_INFO],
			   sizeof(struct km_a2s_entry), &w->info_size);
	if (!w->info)
		return km_log_errno(-errno, "%s: mmap: %s", KM_MAP_A2S_INFO,
				    strerror(errno));
	w->wstats = map_mmap(w->maps.fd[KM_M_A2S_WSTATS],
			     sizeof(struct km_a2s_wstat), &w->wstats_size);
	if (!w->wstats)
		return km_log_errno(-errno, "%s: mmap: %s", KM_MAP_A2S_WSTATS,
				    strerror(errno));
	return 0;
}

static int open_store(struct kw_worker *w, const char *run_dir)
{
	char path[512], *slash;

	/* The parent too (/run/kilimanjaro after a reboot). */
	snprintf(path, sizeof(path), "%s", run_dir);
	slash = strrchr(path, '/');
	if (slash && slash != path) {
		*slash = '\0';
		if (mkdir(path, 0755) && errno != EEXIST)
			return km_log_errno(-errno, "%s: %s", path,
					    strerror(errno));
	}
	if (mkdir(run_dir, 0700) && errno != EEXIST)
		return km_log_errno(-errno, "%s: %s", run_dir, strerror(errno));
	snprintf(path, sizeof(path), "%s/%s", run_dir, KW_STORE_FILE);
	return kw_store_open(&w->store, path);
}

/* The UDP socket owns the worker's port on the edge address (the
 * source port of its queries) and receives the answers XDP passes to
 * the kernel; the raw IPIP socket sends the queries. */
static int open_sockets(struct kw_worker *w)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = w->edge_addr};
	/* The raw socket would get a copy of every IPIP packet the kernel
	 * sees: a filter that accepts nothing. */
	struct sock_filter drop = BPF_STMT(BPF_RET | BPF_K, 0);
	struct sock_fprog prog = {.len = 1, .filter = &drop};
	socklen_t alen = sizeof(a);
	int one = 1;

	w->udp_fd =
	    socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (w->udp_fd < 0)
		return km_log_errno(-errno, "UDP socket: %s", strerror(errno));
	setsockopt(w->udp_fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
	if (bind(w->udp_fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(w->udp_fd, (struct sockaddr *)&a, &alen))
		return km_log_errno(-errno,
				    "UDP socket on the edge address "
				    "%s: %s",
				    inet_ntoa(a.sin_addr), strerror(errno));
	w->udp_port = a.sin_port;

	w->raw_fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
			   IPPROTO_IPIP);
	if (w->raw_fd < 0)
		return km_log_errno(-errno, "raw IPIP socket: %s",
				    strerror(errno));
	if (setsockopt(w->raw_fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
		       sizeof(prog)))
		return km_log_errno(-errno, "raw IPIP socket filter: %s",
				    strerror(errno));
	setsockopt(w->raw_fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
	a.sin_port = 0;
	if (bind(w->raw_fd, (struct sockaddr *)&a, sizeof(a)))
		return km_log_errno(-errno, "raw IPIP socket on %s: %s",
				    inet_ntoa(a.sin_addr), strerror(errno));
	km_info("queries from %s:%u", inet_ntoa(a.sin_addr),
		ntohs(w->udp_port));
	return 0;
}

static int open_fds(struct kw_worker *w)
{
	struct itimerspec its = {
	    .it_interval = {.tv_nsec = (long)TICK_NS},
	    .it_value = {.tv_nsec = (long)TICK_NS},
	};
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return km_log_errno(-errno, "sigprocmask: %s", strerror(errno));
	w->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (w->sig_fd < 0)
		return km_log_errno(-errno, "signalfd: %s", strerror(errno));
	w->timer_fd =
	    timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (w->timer_fd < 0 || timerfd_settime(w->timer_fd, 0, &its, NULL))
		return km_log_errno(-errno, "timerfd: %s", strerror(errno));
	return 0;
}

static int register_xsk(struct kw_worker *w)
{
	int r = xsk_socket__update_xskmap(w->xsk.xsk, w->maps.fd[KM_M_XSKS]);

	if (r)
		return km_log_errno(r, "%s: cannot register queue %u: %s",
				    KM_MAP_XSKS, w->queue, strerror(-r));
	w->xsk_registered = true;
	return 0;
}

/* First step of a stop: XDP sees the empty slot and forwards instead. */
static void unregister_xsk(struct kw_worker *w)
{
	if (!w->xsk_registered)
		return;
	if (bpf_map_delete_elem(w->maps.fd[KM_M_XSKS], &w->queue) &&
	    errno != ENOENT)
		km_warn("%s: cannot empty slot %u: %s", KM_MAP_XSKS, w->queue,
			strerror(errno));
	w->xsk_registered = false;
}

static void on_frame(void *ctx, const uint8_t *f, size_t len)
{
	a2s_frame(ctx, f, len);
}

static void read_udp(struct kw_worker *w)
{
	struct sockaddr_in from;
	socklen_t fl;
	ssize_t n;
	int i;

	for (i = 0; i < RX_BUDGET; i++) {
		fl = sizeof(from);
		n = recvfrom(w->udp_fd, w->rxbuf, sizeof(w->rxbuf),
			     MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		if (n < 0)
			return;
		a2s_udp_answer(w, from.sin_addr.s_addr, from.sin_port, w->rxbuf,
			       (size_t)n);
	}
}

static bool read_signal(struct kw_worker *w)
{
	struct signalfd_siginfo si;

	while (read(w->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			km_info("SIGHUP: re-reading the services");
			w->svc_loaded_ns = 0;
			continue;
		}
		km_info("%s: stopping", strsignal((int)si.ssi_signo));
		return true;
	}
	return false;
}

static int loop(struct kw_worker *w)
{
	struct pollfd p[5] = {
	    {.fd = w->xsk.fd, .events = POLLIN},
	    {.fd = w->udp_fd, .events = POLLIN},
	    {.fd = w->timer_fd, .events = POLLIN},
	    {.fd = w->sig_fd, .events = POLLIN},
	    {.fd = w->wd_fd, .events = POLLIN},
	};
	uint64_t ticks;

	for (;;) {
		if (poll(p, w->wd_fd >= 0 ? 5 : 4, -1) < 0) {
			if (errno == EINTR)
				continue;
			return km_log_errno(-errno, "poll: %s",
					    strerror(errno));
		}
		if (p[0].revents & POLLIN)
			while (kw_xsk_rx(&w->xsk, RX_BUDGET, on_frame, w) ==
			       RX_BUDGET)
				;
		if (p[1].revents & POLLIN)
			read_udp(w);
		if (p[2].revents & POLLIN) {
			if (read(w->timer_fd, &ticks, sizeof(ticks)) < 0 &&
			    errno != EAGAIN)
				km_warn("timerfd: %s", strerror(errno));
			a2s_tick(w, km_mono_ns());
		}
		if (w->wd_fd >= 0 && (p[4].revents & POLLIN))
			notify_watchdog_ping(w->wd_fd);
		kw_xsk_flush(&w->xsk);
		if ((p[3].revents & POLLIN) && read_signal(w))
			return 0;
	}
}

/* After the slot is empty no new frame arrives: take what is in the RX
 * ring, answer or hand off what is pending, and let TX complete. */
static void drain(struct kw_worker *w)
{
	uint64_t end = km_mono_ns() + DRAIN_NS;
	unsigned int quiet = 0;

	while (km_mono_ns() < end && quiet < 3) {
		struct pollfd p = {.fd = w->xsk.fd, .events = POLLIN};

		poll(&p, 1, 10);
		quiet =
		    kw_xsk_rx(&w->xsk, RX_BUDGET, on_frame, w) ? 0 : quiet + 1;
		read_udp(w);
		kw_xsk_flush(&w->xsk);
	}
	a2s_pending_flush(w);
	end = km_mono_ns() + DRAIN_NS;
	while (w->xsk.tx_outstanding && km_mono_ns() < end) {
		kw_xsk_flush(&w->xsk);
		usleep(1000);
	}
}

static void worker_close(struct kw_worker *w)
{
	unregister_xsk(w);
	kw_xsk_close(&w->xsk);
	kw_store_close(&w->store);
	if (w->info)
		munmap(w->info, w->info_size);
	if (w->wstats)
		munmap(w->wstats, w->wstats_size);
	km_maps_close(&w->maps);
	if (w->udp_fd >= 0)
		close(w->udp_fd);
	if (w->raw_fd >= 0)
		close(w->raw_fd);
	if (w->timer_fd >= 0)
		close(w->timer_fd);
	if (w->sig_fd >= 0)
		close(w->sig_fd);
	if (w->wd_fd >= 0)
		close(w->wd_fd);
	free(w->svcs);
	free(w->pending);
	free(w);
}

static int start(struct kw_worker *w, const struct kw_worker_cfg *cfg)
{
	int r;

	r = open_fds(w);
	if (!r)
		r = open_maps(w, cfg->pin_root);
	if (!r)
		r = open_store(w, cfg->run_dir);
	if (!r)
		r = a2s_services_load(w, km_mono_ns());
	if (r)
		return r;
	if (!w->edge_addr)
		return km_log_errno(-EINVAL,
				    "%s: no edge address configured "
				    "(km_config.edge_addr is 0)",
				    cfg->pin_root);
	r = open_sockets(w);
	if (!r)
		r = kw_xsk_open(&w->xsk, w->ifname, w->queue);
	if (!r)
		r = register_xsk(w);
	return r;
}

int worker_run(const struct kw_worker_cfg *cfg)
{
	struct kw_worker *w = calloc(1, sizeof(*w));
	char status[128];
	int r;

	if (!w)
		return -ENOMEM;
	w->udp_fd = w->raw_fd = w->timer_fd = w->sig_fd = w->wd_fd = -1;
	w->xsk.fd = -1;
	w->ifname = cfg->ifname;
	w->queue = cfg->queue;
	w->pid = (uint32_t)getpid();
	w->pending = calloc(KW_PENDING_MAX, sizeof(*w->pending));
	if (!w->pending) {
		free(w);
		return -ENOMEM;
	}
	r = start(w, cfg);
	if (r)
		goto out;
	km_info("serving A2S on %s queue %u", w->ifname, w->queue);
	if (cfg->notify) {
		w->wd_fd = notify_watchdog_timer();
		snprintf(status, sizeof(status), "serving A2S on %s queue %u",
			 w->ifname, w->queue);
		notify_ready(status);
	}
	r = loop(w);
	if (cfg->notify)
		notify_stopping();
	unregister_xsk(w);
	drain(w);
	km_info("%s queue %u: stopped", w->ifname, w->queue);
out:
	worker_close(w);
	return r;
}
