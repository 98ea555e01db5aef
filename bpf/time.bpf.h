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

/*
 * The clock of everything that tolerates a tick of lag (idle times,
 * expiries, rate limits that re-read km_now() when the lag could change
 * their verdict): CLOCK_MONOTONIC ns read once per tick per CPU. The tick
 * counter (bpf_jiffies64(), which the verifier inlines into one load: ~1 ns
 * here) says when a new tick began; only then is the precise clock read
 * (~37 ns) and kept in this CPU's memo. A helper call is dear on this
 * machine (bpf_ktime_get_coarse_ns() ~20 ns), the memo costs ~3 ns.
 * Lag: the memo was read after jiffies reached its value, and it is used
 * only while jiffies still has that value, so it trails the real time by
 * less than one tick (plus the tick's own delay), as
 * CLOCK_MONOTONIC_COARSE does; it is never ahead of it. Under the settable
 * clock it is test_now_ns rounded down to a 4 ms tick, so tests see the lag
 * production has.
 */
struct km_tick_memo {
	__u64 jiffies; /* bpf_jiffies64() when ns was read */
	__u64 ns;      /* bpf_ktime_get_ns() then */
};

/* One load's scratch state, never pinned (the loader pins km_* maps): a
 * new program starts with an empty memo and reads the clock once. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct km_tick_memo);
} tick_memo SEC(".maps");

static __always_inline __u64 km_now_coarse(const struct km_config *cfg)
{
	struct km_tick_memo *m;
	__u32 zero = 0;
	__u64 j;

	if (km_settable_clock)
		return cfg->test_now_ns - cfg->test_now_ns % KM_TEST_TICK_NS;
	j = bpf_jiffies64();
	m = bpf_map_lookup_elem(&tick_memo, &zero);
	if (!m)
		return bpf_ktime_get_coarse_ns();
	if (m->jiffies != j) {
		m->ns = bpf_ktime_get_ns();
		m->jiffies = j;
	}
	return m->ns;
}

/* The tick the coarse clock is in, never 0: jiffies (which start at
 * 2^32 - 300 s of ticks), or the settable clock's emulated tick plus one.
 * km_now_coarse() has one value per tick and CPU. */
static __always_inline __u64 km_tick(const struct km_config *cfg)
{
	if (km_settable_clock)
		return cfg->test_now_ns / KM_TEST_TICK_NS + 1;
	return bpf_jiffies64();
}

/*
 * km_now_coarse(cfg) < until, for a per-CPU cache entry that keeps *tick
 * beside `until`. The coarse clock has one value per tick and CPU, so
 * once it was before `until` in tick j it is for the rest of tick j: the
 * entry remembers j, and the next packets of that tick compare one word
 * instead of reading the memo (a per-CPU lookup and its compare). Should
 * the tick move on between the two reads, the clock read is the later
 * one's, no earlier than tick j's. Whoever changes `until` sets *tick to
 * 0, which is no tick.
 */
static __always_inline int km_coarse_before(const struct km_config *cfg,
					     __u64 *tick, __u64 until)
{
	__u64 j = km_tick(cfg);

	if (*tick == j)
		return 1;
	if (km_now_coarse(cfg) >= until)
		return 0;
	*tick = j;
	return 1;
}

#endif /* KM_TIME_BPF_H */
