/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The program's only clock. Tests load the object with km_settable_clock = 1
 * and drive time through km_config.test_now_ns; the loader never sets it, so
 * the verifier prunes the test branch from the production program.
 */
#ifndef KM_TIME_BPF_H
#define KM_TIME_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "kilimanjaro_abi.h"

#define KM_NSEC_PER_SEC 1000000000ULL
#define KM_NSEC_PER_MSEC 1000000ULL

const volatile __u8 km_settable_clock = 0;

/* CLOCK_MONOTONIC ns. Costs a helper call (~40 ns here): callers read it at
 * most once per packet and only on paths that compare times. */
static __always_inline __u64 km_now(const struct km_config *cfg)
{
	if (km_settable_clock)
		return cfg->test_now_ns;
	return bpf_ktime_get_ns();
}

/* Longest lag of the coarse clock behind km_now() that the program allows
 * for: one tick at HZ=100 (this kernel ticks at 250, 4 ms). */
#define KM_COARSE_SLACK_NS (10 * KM_NSEC_PER_MSEC)
/* The tick the settable clock emulates for km_now_coarse(). */
#define KM_TEST_TICK_NS (4 * KM_NSEC_PER_MSEC)

/* CLOCK_MONOTONIC_COARSE ns: same base as km_now(), at most one tick
 * behind, a third of the cost. Idle times, expiries, and rate limits that
 * re-read km_now() when the lag could change their verdict. Under the
 * settable clock it is test_now_ns rounded down to a 4 ms tick, so tests
 * see the lag as production does. */
static __always_inline __u64 km_now_coarse(const struct km_config *cfg)
{
	if (km_settable_clock)
		return cfg->test_now_ns - cfg->test_now_ns % KM_TEST_TICK_NS;
	return bpf_ktime_get_coarse_ns();
}

#endif /* KM_TIME_BPF_H */
