// SPDX-License-Identifier: GPL-2.0-only
/*
 * kmbench: ns per packet (BPF_PROG_TEST_RUN repeat) and Mpps (live frames
 * on a veth pair) of Kilimanjaro's XDP paths against bare XDP_TX / XDP_DROP
 * programs measured in the same run. bench/README.md explains the method;
 * bench/run makes the namespace and calls this.
 *
 * Every run is checked: the program's return value (repeat mode), the
 * km_stats reason of the scenario's path advanced by exactly the number of
 * packets and no other reason moved, and in live mode the number of frames
 * the veth peer received. Exit status 1 when any check failed, whatever
 * the figures.
 */
#include "kmbench.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/if_link.h>

#include "bench.skel.h"
#include "cost.skel.h"
#include "kmtest.h"
#include "log.h"

#define MAX_ROUNDS 64

enum target { TG_PASS, TG_TX, TG_DROP, TG_KM, TG_COST };

struct scen {
	const char *name;
	bool live;
	bool gen;            /* through kmb_gen (restore + new source) */
	enum target target;
	enum kmb_tmpl tmpl;
	bool flood;          /* a new source address per packet */
	int reason;          /* km_stats reason that must take every packet */
	uint32_t retval;     /* repeat mode: the expected XDP action */
	bool sent;           /* live: every frame must reach the veth peer */
	int (*prep)(const struct kmb_km *k);
	const char *cost;    /* TG_COST: program of cost.bpf.c */
	uint32_t count;      /* calibrated */
	double ns[MAX_ROUNDS];
	double wall[MAX_ROUNDS];
};

/* Index names of the scenario table below. */
enum {
	S_PASS, S_TX, S_DROP, S_GEN_PASS, S_GEN_TX, S_DENY, S_RL,
	S_FWD, S_FWD_VAL, S_DECAP, S_FLOOD, S_NS_MAX,
	S_L_TX = S_NS_MAX, S_L_DROP, S_L_GEN_TX, S_L_GEN_DROP, S_L_FWD,
	S_L_FLOOD, S_MAX,
};

#define NS(n, g, t, tm, fl, rs, rv, ...)                                      \
	{ .name = n, .gen = g, .target = t, .tmpl = tm, .flood = fl,         \
	  .reason = rs, .retval = rv, __VA_ARGS__ }
#define LIVE(n, g, t, tm, fl, rs, snt, ...)                                   \
	{ .name = n, .live = true, .gen = g, .target = t, .tmpl = tm,        \
	  .flood = fl, .reason = rs, .sent = snt, __VA_ARGS__ }

static struct scen scens[S_MAX] = {
	[S_PASS] = NS("pass", false, TG_PASS, KMB_T_FORWARD, false, -1, XDP_PASS),
	[S_TX] = NS("baseline_tx", false, TG_TX, KMB_T_FORWARD, false, -1, XDP_TX),
	[S_DROP] = NS("baseline_drop", false, TG_DROP, KMB_T_FORWARD, false, -1,
		      XDP_DROP),
	[S_GEN_PASS] = NS("gen_pass", true, TG_PASS, KMB_T_FORWARD, false, -1,
			  XDP_PASS),
	[S_GEN_TX] = NS("gen_tx", true, TG_TX, KMB_T_FORWARD, false, -1, XDP_TX),
	[S_DENY] = NS("deny", false, TG_KM, KMB_T_DENY, false, KM_R_DROP_DENIED,
		      XDP_DROP),
	[S_RL] = NS("ratelimit", false, TG_KM, KMB_T_RL, false,
		    KM_R_DROP_RATELIMIT, XDP_DROP, .prep = kmb_km_spend_source),
	[S_FWD] = NS("forward", true, TG_KM, KMB_T_FORWARD, false,
		     KM_R_FWD_SERVICE, XDP_TX),
	[S_FWD_VAL] = NS("forward_validated", true, TG_KM, KMB_T_FORWARD_VAL,
			 false, KM_R_FWD_SERVICE, XDP_TX),
	[S_DECAP] = NS("decap", true, TG_KM, KMB_T_DECAP, false, KM_R_FWD_DECAP,
		       XDP_TX),
	[S_FLOOD] = NS("flood", true, TG_KM, KMB_T_FLOOD, true,
		       KM_R_DROP_SVC_LIMIT, XDP_DROP, .prep = kmb_km_spend_service),
	[S_L_TX] = LIVE("live_tx", false, TG_TX, KMB_T_FORWARD, false, -1, true),
	[S_L_DROP] = LIVE("live_drop", false, TG_DROP, KMB_T_FORWARD, false, -1,
			  false),
	[S_L_GEN_TX] = LIVE("live_gen_tx", true, TG_TX, KMB_T_FORWARD, false, -1,
			    true),
	[S_L_GEN_DROP] = LIVE("live_gen_drop", true, TG_DROP, KMB_T_FLOOD, true,
			      -1, false),
	[S_L_FWD] = LIVE("live_forward", true, TG_KM, KMB_T_FORWARD, false,
			 KM_R_FWD_SERVICE, true),
	[S_L_FLOOD] = LIVE("live_flood", true, TG_KM, KMB_T_FLOOD, true,
			   KM_R_DROP_SVC_LIMIT, false, .prep = kmb_km_spend_service),
};

/* --diagnose: single operations on the same maps, minus the empty program.
 * Entry 0 is the reference. */
#define COST(n, p)                                                            \
	{ .name = n, .target = TG_COST, .tmpl = KMB_T_FORWARD, .reason = -1,  \
	  .retval = XDP_PASS, .cost = p }
static struct scen diag[] = {
	NS("pass", false, TG_PASS, KMB_T_FORWARD, false, -1, XDP_PASS),
	COST("cost_ktime", "cost_ktime"),
	COST("cost_ktime_coarse", "cost_ktime_coarse"),
	COST("cost_array_hit", "cost_array_hit"),
	COST("cost_lpm_miss", "cost_lpm_miss"),
	COST("cost_lpm_hit", "cost_lpm_hit"),
	COST("cost_lpm_flood", "cost_lpm_flood"),
	COST("cost_hash_hit", "cost_hash_hit"),
	COST("cost_lru_hit", "cost_lru_hit"),
	COST("cost_lru_miss", "cost_lru_miss"),
	COST("cost_lru_insert", "cost_lru_insert"),
	COST("cost_fib", "cost_fib"),
	COST("cost_adjust_head", "cost_adjust_head"),
};
#define N_DIAG ((int)(sizeof(diag) / sizeof(diag[0])))

struct opts {
	const char *ifname;     /* edge veth, in our namespace */
	const char *peer_netns; /* name under /run/netns */
	const char *peer_if;
	int rounds;
	int live_rounds;
	int ms;                 /* per repeat-mode run */
	int live_ms;            /* per live run */
	uint32_t seed;
	bool verbose;           /* raw per-scenario figures to stderr */
	bool diagnose;          /* also the cost of single operations */
};

static struct opts opt = {
	.rounds = 15,
	.live_rounds = 9,
	.ms = 40,
	.live_ms = 150,
	.seed = 7,
};

struct ctx {
	struct kmb_km km;
	struct bench *b;
	struct cost *cost;      /* --diagnose */
	struct bpf_link *sink_link;
	uint32_t ifindex;
	uint8_t tmpl[KMB_T_MAX][KMB_PKT_LEN];
	int failures;
};

static int target_fd(const struct ctx *c, const struct scen *s)
{
	switch (s->target) {
	case TG_PASS:
		return bpf_program__fd(c->b->progs.kmb_pass);
	case TG_TX:
		return bpf_program__fd(c->b->progs.kmb_tx);
	case TG_DROP:
		return bpf_program__fd(c->b->progs.kmb_drop);
	case TG_COST:
		return bpf_program__fd(
			bpf_object__find_program_by_name(c->cost->obj, s->cost));
	default:
		return c->km.prog_fd;
	}
}

static int sink_read(const struct ctx *c, uint64_t *n)
{
	return kmb_percpu_u64(bpf_map__fd(c->b->maps.kmb_sink_cnt), 0, n);
}

/* Point kmb_gen at the scenario: template, source stepping, target. */
static int gen_setup(struct ctx *c, const struct scen *s)
{
	struct kmb_gen_cfg *g = &c->b->bss->gen;
	uint32_t src;
	int fd = target_fd(c, s);
	__u32 k = 0;

	memcpy(g->pkt, c->tmpl[s->tmpl], KMB_PKT_LEN);
	memcpy(&src, c->tmpl[s->tmpl] + 14 + 12, 4);
	g->src_base = ntohl(src);
	g->src_mask = s->flood ? KMB_FLOOD_MASK : 0;
	if (bpf_map_update_elem(bpf_map__fd(c->b->maps.kmb_target), &k, &fd,
				BPF_ANY))
		return km_log_errno(-errno, "cannot set the generator's target");
	return 0;
}

static void fail(struct ctx *c, const struct scen *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void fail(struct ctx *c, const struct scen *s, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	km_err("check failed: %s: %s", s->name, buf);
	c->failures++;
}

/* The km_stats movement of one run: exactly `n` packets, all on s->reason. */
static void check_reasons(struct ctx *c, const struct scen *s,
			  const uint64_t *before, const uint64_t *after,
			  uint64_t n)
{
	char other[256] = "";
	size_t len = 0;
	uint64_t d;

	for (int r = 0; r < KM_R_MAX; r++) {
		d = after[r] - before[r];
		if (r == s->reason || !d)
			continue;
		len += (size_t)snprintf(other + len, sizeof(other) - len,
					" %s+%llu", kmb_reason_name(r),
					(unsigned long long)d);
		if (len >= sizeof(other))
			break;
	}
	d = after[s->reason] - before[s->reason];
	if (d != n || other[0])
		fail(c, s, "%s advanced by %llu for %llu packets;%s",
		     kmb_reason_name(s->reason), (unsigned long long)d,
		     (unsigned long long)n, other[0] ? other : " nothing else");
}

static int run_one(struct ctx *c, struct scen *s, uint32_t count, double *ns,
		   double *wall)
{
	uint64_t before[KM_R_MAX], after[KM_R_MAX], sink0 = 0, sink1 = 0;
	struct kmb_run r = {
		.prog_fd = s->gen ? bpf_program__fd(c->b->progs.kmb_gen) :
				    target_fd(c, s),
		.pkt = c->tmpl[s->tmpl],
		.ifindex = c->ifindex,
		.count = count,
		.live = s->live,
	};
	int err = 0;

	if (s->gen)
		err = gen_setup(c, s);
	if (!err && s->prep)
		err = s->prep(&c->km);
	if (!err && s->reason >= 0)
		err = kmb_stats_read(&c->km, before);
	if (!err && s->live)
		err = sink_read(c, &sink0);
	err = err ?: kmb_run(&r);
	if (!err && s->reason >= 0)
		err = kmb_stats_read(&c->km, after);
	if (!err && s->live)
		err = sink_read(c, &sink1);
	if (err)
		return err;

	if (!s->live && r.retval != s->retval)
		fail(c, s, "returned %u, expected %u", r.retval, s->retval);
	if (s->reason >= 0)
		check_reasons(c, s, before, after, count);
	if (s->live && sink1 - sink0 != (s->sent ? count : 0))
		fail(c, s, "veth peer received %llu of %u frames, expected %u",
		     (unsigned long long)(sink1 - sink0), count,
		     s->sent ? count : 0);
	*ns = r.ns;
	*wall = r.wall_ns;
	return 0;
}

/* Size each run to take about `ms` milliseconds. */
static int calibrate(struct ctx *c, struct scen *s)
{
	uint32_t probe = 20000;
	double ns, wall, want = (s->live ? opt.live_ms : opt.ms) * 1e6, n;
	int err;

	err = run_one(c, s, probe, &ns, &wall);
	if (err)
		return err;
	n = want / (ns > 0.1 ? ns : 0.1);
	s->count = n < probe ? probe : n > 2e7 ? 20000000 : (uint32_t)n;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	double t[MAX_ROUNDS];

	memcpy(t, v, sizeof(double) * (size_t)n);
	qsort(t, (size_t)n, sizeof(double), cmp_double);
	return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

static void warn_bpf_stats(void)
{
	char ch = '0';
	int fd = open("/proc/sys/kernel/bpf_stats_enabled", O_RDONLY);

	if (fd < 0)
		return;
	if (read(fd, &ch, 1) == 1 && ch != '0')
		km_warn("kernel.bpf_stats_enabled is on while timing: every figure carries its cost");
	close(fd);
}

/* Run the n scenarios of `v` in `rounds` interleaved rounds, each round
 * starting one scenario later so no scenario always follows the same one. */
static int run_rounds(struct ctx *c, struct scen *v, int n, int rounds)
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
			struct scen *s = &v[(r + j) % n];

			err = run_one(c, s, s->count, &s->ns[r],
				      &s->wall[r]);
			if (err)
				return err;
		}
	}
	return 0;
}

/* Per round: the scenario's own cost, with the generator's cost (measured
 * with the empty target) taken out and the empty program's cost put back,
 * so it compares with a program run directly. */
static double direct_equiv(int s, int gen_empty, int empty, int r)
{
	return scens[s].ns[r] - scens[gen_empty].ns[r] + scens[empty].ns[r];
}

static void print_fig(const char *name, double v, const char *unit)
{
	printf("%s %.2f %s\n", name, v, unit);
}

struct ratio {
	const char *name;
	double value;
	double target;
	bool at_most; /* value must be <= target, else >= */
};

/* The raw material of the figures, for diagnosing noise. */
static void report_raw(const struct scen *v, int count)
{
	for (int i = 0; i < count; i++) {
		const struct scen *s = &v[i];
		int n = s->live ? opt.live_rounds : opt.rounds;
		double lo = s->ns[0], hi = s->ns[0];

		for (int r = 1; r < n; r++) {
			lo = s->ns[r] < lo ? s->ns[r] : lo;
			hi = s->ns[r] > hi ? s->ns[r] : hi;
		}
		fprintf(stderr, "raw %-14s x%-8u median %8.2f min %8.2f max %8.2f wall %8.2f ns/pkt\n",
			s->name, s->count, median((double *)s->ns, n), lo, hi,
			median((double *)s->wall, n));
	}
}

static void report(void)
{
	double fwd[MAX_ROUNDS], fval[MAX_ROUNDS], dec[MAX_ROUNDS], fl[MAX_ROUNDS],
		gtx[MAX_ROUNDS], ovh[MAX_ROUNDS];
	double r_fwd[MAX_ROUNDS], r_dec[MAX_ROUNDS], r_fl[MAX_ROUNDS],
		r_deny[MAX_ROUNDS], r_rl[MAX_ROUNDS];
	double lfwd[MAX_ROUNDS], lfl[MAX_ROUNDS], lr_fwd[MAX_ROUNDS],
		lr_fl[MAX_ROUNDS], lovh_tx[MAX_ROUNDS], lovh_drop[MAX_ROUNDS],
		ltx[MAX_ROUNDS], ldrop[MAX_ROUNDS];
	struct ratio ratios[7];
	int met = 0, n = opt.rounds, ln = opt.live_rounds;

	for (int r = 0; r < n; r++) {
		double base = scens[S_TX].ns[r];

		fwd[r] = direct_equiv(S_FWD, S_GEN_PASS, S_PASS, r);
		fval[r] = direct_equiv(S_FWD_VAL, S_GEN_PASS, S_PASS, r);
		dec[r] = direct_equiv(S_DECAP, S_GEN_PASS, S_PASS, r);
		fl[r] = direct_equiv(S_FLOOD, S_GEN_PASS, S_PASS, r);
		gtx[r] = direct_equiv(S_GEN_TX, S_GEN_PASS, S_PASS, r);
		ovh[r] = scens[S_GEN_PASS].ns[r] - scens[S_PASS].ns[r];
		r_fwd[r] = fwd[r] / base;
		r_dec[r] = dec[r] / base;
		r_fl[r] = fl[r] / base;
		r_deny[r] = scens[S_DENY].ns[r] / base;
		r_rl[r] = scens[S_RL].ns[r] / base;
	}
	for (int r = 0; r < ln; r++) {
		/* ns per frame, generator cost taken out as above but with
		 * the bare program of the same verdict as the reference. */
		double tfwd = scens[S_L_FWD].ns[r] - scens[S_L_GEN_TX].ns[r] +
			      scens[S_L_TX].ns[r];
		double tfl = scens[S_L_FLOOD].ns[r] -
			     scens[S_L_GEN_DROP].ns[r] + scens[S_L_DROP].ns[r];

		ltx[r] = 1e3 / scens[S_L_TX].ns[r];
		ldrop[r] = 1e3 / scens[S_L_DROP].ns[r];
		lfwd[r] = 1e3 / tfwd;
		lfl[r] = 1e3 / tfl;
		lr_fwd[r] = lfwd[r] / ltx[r];
		lr_fl[r] = lfl[r] / ldrop[r];
		lovh_tx[r] = scens[S_L_GEN_TX].ns[r] - scens[S_L_TX].ns[r];
		lovh_drop[r] = scens[S_L_GEN_DROP].ns[r] - scens[S_L_DROP].ns[r];
	}

	print_fig("baseline_tx_ns", median(scens[S_TX].ns, n), "ns/pkt");
	print_fig("baseline_drop_ns", median(scens[S_DROP].ns, n), "ns/pkt");
	print_fig("empty_prog_ns", median(scens[S_PASS].ns, n), "ns/pkt");
	print_fig("generator_overhead_ns", median(ovh, n), "ns/pkt");
	print_fig("baseline_tx_via_generator_ns", median(gtx, n), "ns/pkt");
	print_fig("forward_ns", median(fwd, n), "ns/pkt");
	print_fig("forward_validated_ns", median(fval, n), "ns/pkt");
	print_fig("deny_ns", median(scens[S_DENY].ns, n), "ns/pkt");
	print_fig("ratelimit_ns", median(scens[S_RL].ns, n), "ns/pkt");
	print_fig("decap_ns", median(dec, n), "ns/pkt");
	print_fig("flood_ns", median(fl, n), "ns/pkt");
	print_fig("live_baseline_tx_mpps", median(ltx, ln), "Mpps");
	print_fig("live_baseline_drop_mpps", median(ldrop, ln), "Mpps");
	print_fig("live_forward_mpps", median(lfwd, ln), "Mpps");
	print_fig("live_flood_mpps", median(lfl, ln), "Mpps");
	print_fig("live_generator_overhead_tx_ns", median(lovh_tx, ln), "ns/pkt");
	print_fig("live_generator_overhead_drop_ns", median(lovh_drop, ln),
		  "ns/pkt");

	ratios[0] = (struct ratio){ "forward_ratio", median(r_fwd, n), 6, true };
	ratios[1] = (struct ratio){ "deny_ratio", median(r_deny, n), 3.5, true };
	ratios[2] = (struct ratio){ "ratelimit_ratio", median(r_rl, n), 5, true };
	ratios[3] = (struct ratio){ "decap_ratio", median(r_dec, n), 1.5, true };
	ratios[4] = (struct ratio){ "flood_ratio", median(r_fl, n), 12, true };
	ratios[5] = (struct ratio){ "live_forward_ratio", median(lr_fwd, ln), 0.75, false };
	ratios[6] = (struct ratio){ "live_flood_ratio", median(lr_fl, ln), 0.45, false };
	for (int i = 0; i < 7; i++)
		printf("%s %.2f\n", ratios[i].name, ratios[i].value);
	for (int i = 0; i < 7; i++) {
		const struct ratio *q = &ratios[i];
		bool ok = q->at_most ? q->value <= q->target :
				       q->value >= q->target;

		met += ok;
		printf("target %s %.2f %s %.2f %s\n", q->name, q->value,
		       q->at_most ? "<=" : ">=", q->target,
		       ok ? "met" : "MISSED");
	}
	printf("targets_met %d/7\n", met);
}

/* Catch a harness mistake before timing: one run of each rewriting path
 * with its output checked by kmtest's independent verifier. */
static int check_output(struct ctx *c, enum kmb_tmpl t, uint32_t outer_dst,
			uint32_t inner_dst)
{
	uint8_t out[KMT_FRAME_MAX];
	struct kmt_xdp_run r = {
		.in = c->tmpl[t],
		.in_len = KMB_PKT_LEN,
		.out = out,
		.out_cap = sizeof(out),
		.ifindex = c->ifindex,
	};
	struct kmt_view v;
	char why[128];
	uint32_t dst;
	int err;

	err = kmt_xdp_run(c->km.prog_fd, &r);
	if (err)
		return err;
	if (r.retval != XDP_TX) {
		km_err("check failed: template %d: verdict %u, expected XDP_TX (%u)",
		       t, r.retval, XDP_TX);
		c->failures++;
		return 0;
	}
	if (kmt_verify_frame(out, r.out_len, &v, why, sizeof(why))) {
		km_err("check failed: template %d: output %s", t, why);
		c->failures++;
		return 0;
	}
	memcpy(&dst, out + v.l3 + 16, 4);
	if (memcmp(out, KMT_MAC_NEIGH, 6) || ntohl(dst) != outer_dst ||
	    (inner_dst && (v.inner_l3 == (size_t)-1 ||
			   memcmp(&(uint32_t){ htonl(inner_dst) },
				  out + v.inner_l3 + 16, 4)))) {
		km_err("check failed: template %d: output not addressed as expected",
		       t);
		c->failures++;
	}
	return 0;
}

static int cost_reuse(struct ctx *c, const char *name)
{
	struct bpf_map *from, *to;
	int err;

	from = bpf_object__find_map_by_name(kmb_km_obj(&c->km), name);
	to = bpf_object__find_map_by_name(c->cost->obj, name);
	if (!from || !to)
		return km_log_errno(-ENOENT, "map %s missing", name);
	err = bpf_map__reuse_fd(to, bpf_map__fd(from));
	if (err)
		return km_log_errno(err, "cannot share %s with cost.bpf.o",
				    name);
	return 0;
}

static int cost_open(struct ctx *c)
{
	struct cost_cfg *g;
	int err;

	c->cost = cost__open();
	if (!c->cost)
		return km_log_errno(-errno, "cannot open cost.bpf.o");
	err = cost_reuse(c, KM_MAP_DENY_A);
	err = err ?: cost_reuse(c, KM_MAP_SERVICES);
	err = err ?: cost_reuse(c, KM_MAP_RL_SRC);
	err = err ?: cost_reuse(c, KM_MAP_SVC_CFG);
	err = err ?: cost_reuse(c, KM_MAP_VALIDATED);
	if (err)
		return err;
	err = cost__load(c->cost);
	if (err)
		return km_log_errno(err, "cannot load cost.bpf.o");
	g = &c->cost->bss->cfg;
	g->player = htonl(KMB_PLAYER);
	g->denied = htonl(KMB_DENY_SRC);
	g->validated = htonl(KMB_PLAYER_RET);
	g->edge = htonl(KMB_EDGE);
	g->backend = htonl(KMB_BACKEND);
	g->flood_base = KMB_FLOOD_BASE;
	g->flood_mask = KMB_FLOOD_MASK;
	g->svc.proto = IPPROTO_UDP;
	g->svc.port = htons(KMB_PORT_FWD);
	g->svc.addr = htonl(KMB_SVC);
	return 0;
}

static void report_diag(struct ctx *c)
{
	double d[MAX_ROUNDS];
	char name[64];

	if (c->cost->bss->fib_failed)
		fail(c, &diag[0], "bpf_fib_lookup failed %llu times",
		     (unsigned long long)c->cost->bss->fib_failed);
	for (int i = 1; i < N_DIAG; i++) {
		for (int r = 0; r < opt.rounds; r++)
			d[r] = diag[i].ns[r] - diag[0].ns[r];
		snprintf(name, sizeof(name), "%s_ns", diag[i].name);
		print_fig(name, median(d, opt.rounds), "ns/op");
	}
}

static int attach_sink(struct ctx *c)
{
	char path[256];
	int self, peer, ifindex, err = 0;

	snprintf(path, sizeof(path), "/run/netns/%s", opt.peer_netns);
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return km_log_errno(-errno, "cannot open our network namespace");
	peer = open(path, O_RDONLY | O_CLOEXEC);
	if (peer < 0) {
		err = km_log_errno(-errno, "cannot open %s", path);
		goto out_self;
	}
	if (setns(peer, CLONE_NEWNET)) {
		err = km_log_errno(-errno, "cannot enter %s", path);
		goto out_peer;
	}
	ifindex = (int)if_nametoindex(opt.peer_if);
	if (!ifindex)
		err = km_log_errno(-errno, "no interface %s in %s",
				   opt.peer_if, path);
	else
		c->sink_link = bpf_program__attach_xdp(c->b->progs.kmb_sink,
						       ifindex);
	if (!err && !c->sink_link)
		err = km_log_errno(-errno, "cannot attach the sink to %s",
				   opt.peer_if);
	if (setns(self, CLONE_NEWNET))
		err = km_log_errno(-errno, "cannot return to our namespace");
out_peer:
	close(peer);
out_self:
	close(self);
	return err;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: kmbench --ifname IF --peer-netns NS --peer-if IF [options]\n"
		"  --ifname IF        edge veth in this namespace (ctx ingress)\n"
		"  --peer-netns NS    namespace (/run/netns/NS) of the veth peer\n"
		"  --peer-if IF       the veth peer; gets the counting drop program\n"
		"  --rounds N         repeat-mode rounds (default %d)\n"
		"  --live-rounds N    live-frames rounds (default %d)\n"
		"  --ms N             length of one repeat-mode run (default %d)\n"
		"  --live-ms N        length of one live run (default %d)\n"
		"  --verbose          every scenario's runs (ns/packet) to stderr\n"
		"  --diagnose         also time single operations (helpers, map\n"
		"                     lookups) on the same maps: cost_* lines\n"
		"Prints `name value unit` figures, then the *_ratio lines, then\n"
		"`target` lines. Exit 1 when a path-counter check failed.\n",
		opt.rounds, opt.live_rounds, opt.ms, opt.live_ms);
}

static int parse_int(const char *name, const char *s, int lo, int hi, int *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (!*s || *end || v < lo || v > hi)
		return km_log_errno(-EINVAL, "%s: '%s' is not a number in %d..%d",
				    name, s, lo, hi);
	*out = (int)v;
	return 0;
}

static int parse_opts(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "ifname", required_argument, NULL, 'i' },
		{ "peer-netns", required_argument, NULL, 'n' },
		{ "peer-if", required_argument, NULL, 'p' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "live-rounds", required_argument, NULL, 'l' },
		{ "ms", required_argument, NULL, 'm' },
		{ "live-ms", required_argument, NULL, 'L' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "diagnose", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	int ch, err = 0;

	while (!err && (ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case 'i': opt.ifname = optarg; break;
		case 'n': opt.peer_netns = optarg; break;
		case 'p': opt.peer_if = optarg; break;
		case 'r': err = parse_int("--rounds", optarg, 1, MAX_ROUNDS, &opt.rounds); break;
		case 'l': err = parse_int("--live-rounds", optarg, 1, MAX_ROUNDS, &opt.live_rounds); break;
		case 'm': err = parse_int("--ms", optarg, 1, 10000, &opt.ms); break;
		case 'L': err = parse_int("--live-ms", optarg, 1, 10000, &opt.live_ms); break;
		case 'v': opt.verbose = true; break;
		case 'd': opt.diagnose = true; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -EINVAL;
		}
	}
	if (!err && optind < argc)
		err = km_log_errno(-EINVAL, "unexpected argument '%s'", argv[optind]);
	if (!err && (!opt.ifname || !opt.peer_netns || !opt.peer_if))
		err = km_log_errno(-EINVAL, "--ifname, --peer-netns and --peer-if are required");
	return err;
}

int main(int argc, char **argv)
{
	static struct ctx c;
	int cpu, err;

	km_log_init("kmbench", LOG_INFO);
	err = parse_opts(argc, argv);
	if (err)
		return 2;
	c.ifindex = if_nametoindex(opt.ifname);
	if (!c.ifindex) {
		km_log_errno(-errno, "no interface %s here", opt.ifname);
		return 2;
	}
	err = kmb_pin_cpu(&cpu);
	if (err)
		km_warn("cannot pin to one CPU: %s", strerror(-err));
	else if (kmb_find_ksoftirqd(cpu))
		km_warn("no ksoftirqd/%d: deferred softirq time is not counted",
			cpu);
	err = 0;
	for (int t = 0; t < KMB_T_MAX && !err; t++)
		err = kmb_template(t, c.tmpl[t]);
	err = err ?: kmb_km_open(&c.km);
	err = err ?: kmb_km_populate(&c.km, opt.seed);
	if (err)
		goto out;
	c.b = bench__open_and_load();
	if (!c.b) {
		err = km_log_errno(-errno, "cannot load bench.bpf.o");
		goto out;
	}
	err = attach_sink(&c);
	err = err ?: check_output(&c, KMB_T_FORWARD, KMB_BACKEND, KMB_SVC);
	err = err ?: check_output(&c, KMB_T_DECAP, KMB_PLAYER_RET, 0);
	err = err ?: run_rounds(&c, scens, S_NS_MAX, opt.rounds);
	err = err ?: run_rounds(&c, scens + S_NS_MAX, S_MAX - S_NS_MAX,
				opt.live_rounds);
	if (!err && opt.diagnose) {
		err = cost_open(&c);
		err = err ?: run_rounds(&c, diag, N_DIAG, opt.rounds);
	}
	if (!err && opt.verbose)
		report_raw(scens, S_MAX);
	if (!err && opt.verbose && opt.diagnose)
		report_raw(diag, N_DIAG);
	if (!err)
		report();
	if (!err && opt.diagnose)
		report_diag(&c);
out:
	bpf_link__destroy(c.sink_link);
	cost__destroy(c.cost);
	bench__destroy(c.b);
	kmb_km_close(&c.km);
	if (err)
		return 2;
	if (c.failures) {
		km_err("%d check(s) failed: the figures above are not valid",
		       c.failures);
		return 1;
	}
	return 0;
}
