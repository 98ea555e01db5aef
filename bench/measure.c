// SPDX-License-Identifier: GPL-2.0-only
/* One timed BPF_PROG_TEST_RUN, and the counters the runs are checked by. */
#include "kmbench.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "kmtest.h"
#include "log.h"

static double ts_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int ksoftirqd_pid = -1;

/* ksoftirqd of the CPU we are pinned to: softirq work (the veth peer's
 * NAPI in live mode) that the kernel defers to it is ours too. */
int kmb_find_ksoftirqd(int cpu)
{
	char want[32], path[64], comm[32];
	FILE *f;

	snprintf(want, sizeof(want), "ksoftirqd/%d\n", cpu);
	for (int pid = 2; pid < 4096; pid++) {
		snprintf(path, sizeof(path), "/proc/%d/comm", pid);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && !strcmp(comm, want))
			ksoftirqd_pid = pid;
		fclose(f);
		if (ksoftirqd_pid > 0)
			return 0;
	}
	return -ESRCH;
}

/* ns on CPU, from /proc/PID/schedstat (exact, unlike the tick counts). */
static double ksoftirqd_ns(void)
{
	char path[64];
	unsigned long long ns = 0;
	FILE *f;

	if (ksoftirqd_pid < 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/schedstat", ksoftirqd_pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fscanf(f, "%llu", &ns) != 1)
		ns = 0;
	fclose(f);
	return (double)ns;
}

/*
 * Time charged to a run: this thread's CPU time plus what ksoftirqd of our
 * CPU ran meanwhile, so a run the scheduler preempted (2 vCPUs shared with
 * everything else) is not charged for the time it waited. Softirqs run on
 * our stack are in our CPU time (no IRQ time accounting on this kernel).
 * The syscall's fixed cost is a few microseconds over 10^5..10^6 packets.
 * The kernel's own `duration` is not used: it is truncated to whole ns and
 * misses live mode's softirq work.
 */
int kmb_run(struct kmb_run *r)
{
	struct xdp_md ctx = {
	    .data_end = KMB_PKT_LEN,
	    .ingress_ifindex = r->ifindex,
	};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = r->pkt,
		    .data_size_in = KMB_PKT_LEN, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = r->count,
		    .flags = r->live ? BPF_F_TEST_XDP_LIVE_FRAMES : 0);
	double c0, c1, s0, s1, w0, w1;

	w0 = ts_ns(CLOCK_MONOTONIC);
	s0 = ksoftirqd_ns();
	c0 = ts_ns(CLOCK_THREAD_CPUTIME_ID);
	if (bpf_prog_test_run_opts(r->prog_fd, &o))
		return km_log_errno(-errno, "BPF_PROG_TEST_RUN (%s, %u)",
				    r->live ? "live frames" : "repeat",
				    r->count);
	c1 = ts_ns(CLOCK_THREAD_CPUTIME_ID);
	s1 = ksoftirqd_ns();
	w1 = ts_ns(CLOCK_MONOTONIC);
	r->retval = o.retval;
	r->ns = (c1 - c0 + s1 - s0) / r->count;
	r->wall_ns = (w1 - w0) / r->count;
	r->kernel_ns = o.duration;
	return 0;
}

int kmb_percpu_u64(int fd, uint32_t key, uint64_t *sum)
{
	return kmt_percpu_sum(fd, key, (__u64 *)sum, 1);
}

int kmb_stats_read(const struct kmb_km *k, uint64_t pkts[KM_R_MAX])
{
	__u64 v[2];
	int err;

	for (uint32_t r = 0; r < KM_R_MAX; r++) {
		err = kmt_percpu_sum(k->fd_stats, r, v, 2);
		if (err)
			return err;
		pkts[r] = v[0];
	}
	return 0;
}

/* Pin to the highest CPU we may use: per-CPU state (LRU lists, budgets)
 * then stays on one CPU, and CPU 0 keeps most of the system's interrupts. */
int kmb_pin_cpu(int *cpu)
{
	cpu_set_t set;
	int c = -1;

	if (sched_getaffinity(0, sizeof(set), &set))
		return -errno;
	for (int i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &set))
			c = i;
	if (c < 0)
		return -ENODEV;
	CPU_ZERO(&set);
	CPU_SET(c, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		return -errno;
	*cpu = c;
	return 0;
}

