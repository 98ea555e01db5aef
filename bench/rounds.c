// SPDX-License-Identifier: GPL-2.0-only
/*
 * Running scenarios: point the generator at the target, time one run,
 * check what it did (return value, km_stats reasons, frames at the veth
 * peer), calibrate, interleave rounds.
 */
#include "kmbench.h"
#include "maps.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench.skel.h"
#include "cost.skel.h"
#include "floors.skel.h"
#include "log.h"

void kmb_fail(struct kmb_ctx *c, const char *what, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	km_err("check failed: %s: %s", what, buf);
	c->failures++;
}

int kmb_target_fd(const struct kmb_ctx *c, const struct kmb_scen *s)
{
	switch (s->target) {
	case KMB_TG_PASS:
		return bpf_program__fd(c->b->progs.kmb_pass);
	case KMB_TG_TX:
		return bpf_program__fd(c->b->progs.kmb_tx);
	case KMB_TG_DROP:
		return bpf_program__fd(c->b->progs.kmb_drop);
	case KMB_TG_COST:
		return bpf_program__fd(
		    bpf_object__find_program_by_name(c->cost->obj, s->prog));
	case KMB_TG_FLOOR:
		return bpf_program__fd(
		    bpf_object__find_program_by_name(c->fl->obj, s->prog));
	default:
		return c->km.prog_fd;
	}
}

/* Point kmb_gen at the scenario: template, what changes, target. */
int kmb_gen_setup(struct kmb_ctx *c, const struct kmb_scen *s)
{
	struct kmb_gen_cfg *g = &c->b->bss->gen;
	int fd = kmb_target_fd(c, s);
	uint32_t src;
	__u32 k = 0;

	memcpy(g->pkt, c->tmpl[s->tmpl], KMB_PKT_LEN);
	memcpy(&src, c->tmpl[s->tmpl] + KMB_OFF_SRC, 4);
	g->base = ntohl(src);
	g->mask = 0;
	g->addr_off = KMB_OFF_SRC;
	g->csum_off = KMB_OFF_SRC_CSUM;
	if (s->vary == KMB_V_SOURCE) {
		g->base = KMB_FLOOD_BASE;
		g->mask = KMB_FLOOD_MASK;
	} else if (s->vary == KMB_V_PLAYER) {
		g->base = KMB_PLAYERS_BASE;
		g->mask = KMB_PLAYERS_MASK;
		g->addr_off = KMB_OFF_INNER_DST;
		g->csum_off = KMB_OFF_INNER_CSUM;
	}
	if (bpf_map_update_elem(bpf_map__fd(c->b->maps.kmb_target), &k, &fd,
				BPF_ANY))
		return km_log_errno(-errno,
				    "cannot set the generator's target");
	return 0;
}

static int sink_read(const struct kmb_ctx *c, uint64_t *n)
{
	return kmb_percpu_u64(bpf_map__fd(c->b->maps.kmb_sink_cnt), 0, n);
}

static const char *reason_name(const struct kmb_scen *s, int r)
{
	return s->floor_ctr ? kmb_floor_name(r) : km_reason_name(r);
}

/* The km_stats movement of one run (floor_cnt for a floor): exactly `n`
 * packets, all on s->reason. */
static void check_reasons(struct kmb_ctx *c, const struct kmb_scen *s,
			  const uint64_t *before, const uint64_t *after,
			  uint64_t n)
{
	int nr = s->floor_ctr ? KMB_F_MAX : KM_R_MAX;
	char other[256] = "";
	size_t len = 0;
	uint64_t d;

	for (int r = 0; r < nr && len < sizeof(other); r++) {
		d = after[r] - before[r];
		if (r == s->reason || !d)
			continue;
		len += (size_t)snprintf(other + len, sizeof(other) - len,
					" %s+%llu", reason_name(s, r),
					(unsigned long long)d);
	}
	d = after[s->reason] - before[s->reason];
	if (d != n || other[0])
		kmb_fail(c, s->name, "%s advanced by %llu for %llu packets;%s",
			 reason_name(s, s->reason), (unsigned long long)d,
			 (unsigned long long)n,
			 other[0] ? other : " nothing else");
}

/* Everything a run changes that the checks read, before and after. */
_Static_assert((int)KMB_F_MAX <= (int)KM_R_MAX,
	       "floor counters in marks.reasons");

struct marks {
	uint64_t reasons[KM_R_MAX];
	uint64_t sink;
};

static int marks_read(const struct kmb_ctx *c, const struct kmb_scen *s,
		      struct marks *m)
{
	int err = 0;

	if (s->reason >= 0)
		err = s->floor_ctr ? kmb_floors_read(c, m->reasons)
				   : kmb_stats_read(&c->km, m->reasons);
	if (!err && s->live)
		err = sink_read(c, &m->sink);
	return err;
}

/* One run; its times go to round `round` of s (-1: calibration, kept in
 * *ns only). */
static int run_one(struct kmb_ctx *c, struct kmb_scen *s, uint32_t count,
		   int round, double *ns)
{
	struct kmb_run r = {
	    .prog_fd = !s->gen	    ? kmb_target_fd(c, s)
		       : s->gen_tail ? bpf_program__fd(c->b->progs.kmb_gen_tail)
				     : bpf_program__fd(c->b->progs.kmb_gen),
	    .pkt = c->tmpl[s->tmpl],
	    .ifindex = c->ifindex,
	    .count = count,
	    .live = s->live,
	};
	struct marks m0, m1;
	uint64_t want;
	int err = 0;

	if (s->gen)
		err = kmb_gen_setup(c, s);
	if (!err && s->prep)
		err = s->prep(&c->km);
	err = err ?: marks_read(c, s, &m0);
	err = err ?: kmb_run(&r);
	err = err ?: marks_read(c, s, &m1);
	if (err)
		return err;

	if (!s->live && r.retval != s->retval)
		kmb_fail(c, s->name, "returned %u, expected %u", r.retval,
			 s->retval);
	if (s->reason >= 0)
		check_reasons(c, s, m0.reasons, m1.reasons, count);
	want = s->sent ? count : 0;
	if (s->live && m1.sink - m0.sink != want)
		kmb_fail(c, s->name,
			 "veth peer received %llu of %u frames, expected %llu",
			 (unsigned long long)(m1.sink - m0.sink), count,
			 (unsigned long long)want);
	*ns = r.ns;
	if (round >= 0) {
		s->ns[round] = r.ns;
		s->wall[round] = r.wall_ns;
		s->kernel[round] = r.kernel_ns;
	}
	return 0;
}

/* Size each run to take about c->ms (live: c->live_ms) milliseconds. */
static int calibrate(struct kmb_ctx *c, struct kmb_scen *s)
{
	const uint32_t probe = 20000, most = 20000000;
	double ns, n, want = (s->live ? c->live_ms : c->ms) * 1e6;
	int err;

	err = run_one(c, s, probe, -1, &ns);
	if (err)
		return err;
	n = want / (ns > 0.1 ? ns : 0.1);
	s->count = n < probe ? probe : n > most ? most : (uint32_t)n;
	return 0;
}

static void warn_bpf_stats(void)
{
	char ch = '0';
	int fd = open("/proc/sys/kernel/bpf_stats_enabled", O_RDONLY);

	if (fd < 0)
		return;
	if (read(fd, &ch, 1) == 1 && ch != '0')
		km_warn("kernel.bpf_stats_enabled is on while timing: every "
			"figure carries its cost");
	close(fd);
}

/* Each round starts one scenario later, so that no scenario always follows
 * the same one (a flood leaves cold caches behind). */
int kmb_run_rounds(struct kmb_ctx *c, struct kmb_scen *v, int n, int rounds)
{
	int err;

	for (int i = 0; i < n; i++) {
		err = calibrate(c, &v[i]);
		if (err)
			return err;
	}
	for (int r = 0; r < rounds; r++) {
		warn_bpf_stats();
		for (int j = 0; j < n; j++) {
			struct kmb_scen *s = &v[(r + j) % n];
			double ns;

			err = run_one(c, s, s->count, r, &ns);
			if (err)
				return err;
		}
	}
	return 0;
}
