// SPDX-License-Identifier: GPL-2.0-only
/*
 * kmbench: ns per packet (BPF_PROG_TEST_RUN repeat) and Mpps (live frames
 * on a veth pair) of Kilimanjaro's XDP paths against bare XDP_TX / XDP_DROP
 * programs measured in the same run. bench/README.md explains the method;
 * bench/run makes the namespaces and calls this.
 *
 * Every run is checked: the program's return value (repeat mode), the
 * km_stats reason of the scenario's path advanced by exactly the number of
 * packets and no other reason moved, and in live mode the number of frames
 * the veth peer received. Exit status 1 when any check failed, whatever
 * the figures; 2 when the bench could not run.
 */
#include "kmbench.h"

#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "bench.skel.h"
#include "cost.skel.h"
#include "log.h"

/* A repeat-mode scenario; `gen` ones have the generator's cost taken out
 * with the empty program as reference. */
#define NS(n, g, t, tm, fl, rs, rv, ...)                                       \
	{                                                                      \
		.name = n, .gen = g, .target = t, .tmpl = tm, .vary = fl,      \
		.reason = rs, .retval = rv, .gen_ref = KMB_S_GEN_PASS,         \
		.bare_ref = KMB_S_PASS, __VA_ARGS__                            \
	}
/* Kilimanjaro through kmb_gen_tail, whose cost gen_tail_pass measures. */
#define NS_TAIL(n, tm, rs, rv)                                                 \
	{                                                                      \
		.name = n, .gen = true, .gen_tail = true, .target = KMB_TG_KM, \
		.tmpl = tm, .vary = KMB_V_NONE, .reason = rs, .retval = rv,    \
		.gen_ref = KMB_S_GEN_TAIL_PASS, .bare_ref = KMB_S_PASS         \
	}
/* A floor (floors.bpf.c) through the generator of the scenario it bounds,
 * checked by its own floor_cnt counter. */
#define FLOOR(n, p, tm, f)                                                     \
	{                                                                      \
		.name = n, .gen = true, .target = KMB_TG_FLOOR, .prog = p,     \
		.tmpl = tm, .vary = KMB_V_NONE, .reason = f,                   \
		.floor_ctr = true, .retval = XDP_TX,                           \
		.gen_ref = KMB_S_GEN_PASS, .bare_ref = KMB_S_PASS              \
	}
#define FLOOR_TAIL(n, p, tm, f)                                                \
	{                                                                      \
		.name = n, .gen = true, .gen_tail = true,                      \
		.target = KMB_TG_FLOOR, .prog = p, .tmpl = tm,                 \
		.vary = KMB_V_NONE, .reason = f, .floor_ctr = true,            \
		.retval = XDP_TX, .gen_ref = KMB_S_GEN_TAIL_PASS,              \
		.bare_ref = KMB_S_PASS                                         \
	}
/* A live-frames scenario; `gen` ones take out the generator's cost with the
 * bare program of the same verdict (gr: through the generator, br: bare). */
#define LIVE(n, g, t, tm, fl, rs, snt, gr, br, ...)                            \
	{                                                                      \
		.name = n, .live = true, .gen = g, .target = t, .tmpl = tm,    \
		.vary = fl, .reason = rs, .sent = snt, .gen_ref = gr,          \
		.bare_ref = br, __VA_ARGS__                                    \
	}

/* clang-format off */
struct kmb_scen kmb_scens[KMB_S_MAX] = {
	[KMB_S_PASS] = NS("pass", false, KMB_TG_PASS, KMB_T_FORWARD,
			  KMB_V_NONE, -1, XDP_PASS),
	[KMB_S_TX] = NS("baseline_tx", false, KMB_TG_TX, KMB_T_FORWARD,
			KMB_V_NONE, -1, XDP_TX),
	[KMB_S_DROP] = NS("baseline_drop", false, KMB_TG_DROP, KMB_T_FORWARD,
			  KMB_V_NONE, -1, XDP_DROP),
	[KMB_S_GEN_PASS] = NS("gen_pass", true, KMB_TG_PASS, KMB_T_FORWARD,
			      KMB_V_NONE, -1, XDP_PASS),
	[KMB_S_GEN_TX] = NS("gen_tx", true, KMB_TG_TX, KMB_T_FORWARD,
			    KMB_V_NONE, -1, XDP_TX),
	[KMB_S_DENY] = NS("deny", false, KMB_TG_KM, KMB_T_DENY, KMB_V_NONE,
			  KM_R_DROP_DENIED, XDP_DROP),
	[KMB_S_DENY_HOST] = NS("deny_host", false, KMB_TG_KM, KMB_T_DENY_HOST,
			       KMB_V_NONE, KM_R_DROP_DENIED, XDP_DROP),
	[KMB_S_RL] = NS("ratelimit", false, KMB_TG_KM, KMB_T_RL, KMB_V_NONE,
			KM_R_DROP_RATELIMIT, XDP_DROP,
			.prep = kmb_km_spend_source),
	[KMB_S_FWD] = NS("forward", true, KMB_TG_KM, KMB_T_FORWARD,
			 KMB_V_NONE, KM_R_FWD_SERVICE, XDP_TX),
	[KMB_S_FWD_VAL] = NS("forward_validated", true, KMB_TG_KM,
			     KMB_T_FORWARD_VAL, KMB_V_NONE, KM_R_FWD_SERVICE,
			     XDP_TX),
	[KMB_S_DECAP] = NS("decap", true, KMB_TG_KM, KMB_T_DECAP, KMB_V_NONE,
			   KM_R_FWD_DECAP, XDP_TX),
	[KMB_S_DECAP_MANY] = NS("decap_players", true, KMB_TG_KM,
				KMB_T_DECAP_MANY, KMB_V_PLAYER,
				KM_R_FWD_DECAP, XDP_TX),
	[KMB_S_FLOOD] = NS("flood", true, KMB_TG_KM, KMB_T_FLOOD, KMB_V_SOURCE,
			   KM_R_DROP_SVC_LIMIT, XDP_DROP,
			   .prep = kmb_km_spend_service),
	/* The challenge shrinks the frame at its end: kmb_gen_tail restores it
	 * (live frames get their pointers back anyway: kmb_gen there). */
	[KMB_S_GEN_TAIL_PASS] = NS("gen_tail_pass", true, KMB_TG_PASS,
				   KMB_T_A2S_HIT, KMB_V_NONE, -1, XDP_PASS,
				   .gen_tail = true),
	/* The cache answer grows the frame at its head: kmb_gen. */
	[KMB_S_A2S_HIT] = NS("a2s_hit", true, KMB_TG_KM, KMB_T_A2S_HIT,
			     KMB_V_NONE, KM_R_TX_A2S_CACHED, XDP_TX),
	[KMB_S_A2S_CHAL] = NS_TAIL("a2s_challenge", KMB_T_A2S_CHAL,
				   KM_R_TX_A2S_CHALLENGE, XDP_TX),
	/* The floors: the least work of decap, forward and the A2S replies
	 * (bench/README.md "Floors"), in the rounds of what they bound. */
	[KMB_S_FL_DECAP] = FLOOR("floor_decap", "floor_decap", KMB_T_DECAP,
				 KMB_F_DECAP),
	[KMB_S_FL_FWD] = FLOOR("floor_forward", "floor_forward",
			       KMB_T_FORWARD, KMB_F_FORWARD),
	[KMB_S_FL_FWD_SRC] = FLOOR("floor_forward_src", "floor_forward_src",
				   KMB_T_FORWARD, KMB_F_FORWARD_SRC),
	[KMB_S_FL_A2S_HIT] = FLOOR("floor_a2s_hit", "floor_a2s_hit",
				   KMB_T_A2S_HIT, KMB_F_A2S_HIT),
	[KMB_S_FL_A2S_CHAL] = FLOOR_TAIL("floor_a2s_challenge",
					 "floor_a2s_challenge", KMB_T_A2S_CHAL,
					 KMB_F_A2S_CHALLENGE),
	[KMB_S_L_TX] = LIVE("live_tx", false, KMB_TG_TX, KMB_T_FORWARD,
			    KMB_V_NONE, -1, true, KMB_S_L_TX, KMB_S_L_TX),
	[KMB_S_L_DROP] = LIVE("live_drop", false, KMB_TG_DROP, KMB_T_FORWARD,
			      KMB_V_NONE, -1, false, KMB_S_L_DROP,
			      KMB_S_L_DROP),
	[KMB_S_L_GEN_TX] = LIVE("live_gen_tx", true, KMB_TG_TX, KMB_T_FORWARD,
				KMB_V_NONE, -1, true, KMB_S_L_GEN_TX,
				KMB_S_L_TX),
	[KMB_S_L_GEN_DROP] = LIVE("live_gen_drop", true, KMB_TG_DROP,
				  KMB_T_FLOOD, KMB_V_SOURCE, -1, false,
				  KMB_S_L_GEN_DROP, KMB_S_L_DROP),
	[KMB_S_L_FWD] = LIVE("live_forward", true, KMB_TG_KM, KMB_T_FORWARD,
			     KMB_V_NONE, KM_R_FWD_SERVICE, true,
			     KMB_S_L_GEN_TX, KMB_S_L_TX),
	[KMB_S_L_FLOOD] = LIVE("live_flood", true, KMB_TG_KM, KMB_T_FLOOD,
			       KMB_V_SOURCE, KM_R_DROP_SVC_LIMIT, false,
			       KMB_S_L_GEN_DROP, KMB_S_L_DROP,
			       .prep = kmb_km_spend_service),
	[KMB_S_L_A2S_HIT] = LIVE("live_a2s_hit", true, KMB_TG_KM,
				 KMB_T_A2S_HIT, KMB_V_NONE,
				 KM_R_TX_A2S_CACHED, true, KMB_S_L_GEN_TX,
				 KMB_S_L_TX),
	[KMB_S_L_FL_FWD] = LIVE("live_floor_forward", true, KMB_TG_FLOOR,
				KMB_T_FORWARD, KMB_V_NONE, KMB_F_FORWARD, true,
				KMB_S_L_GEN_TX, KMB_S_L_TX,
				.prog = "floor_forward", .floor_ctr = true),
	[KMB_S_L_FL_FWD_SRC] = LIVE("live_floor_forward_src", true,
				    KMB_TG_FLOOR, KMB_T_FORWARD, KMB_V_NONE,
				    KMB_F_FORWARD_SRC, true, KMB_S_L_GEN_TX,
				    KMB_S_L_TX, .prog = "floor_forward_src",
				    .floor_ctr = true),
	[KMB_S_L_FL_A2S_HIT] = LIVE("live_floor_a2s_hit", true, KMB_TG_FLOOR,
				    KMB_T_A2S_HIT, KMB_V_NONE, KMB_F_A2S_HIT,
				    true, KMB_S_L_GEN_TX, KMB_S_L_TX,
				    .prog = "floor_a2s_hit", .floor_ctr = true),
};

#define COST(p)                                                                \
	{                                                                      \
		.name = p, .target = KMB_TG_COST, .tmpl = KMB_T_FORWARD,       \
		.reason = -1, .retval = XDP_PASS, .prog = p                    \
	}

struct kmb_scen kmb_diag[] = {
	NS("pass", false, KMB_TG_PASS, KMB_T_FORWARD, KMB_V_NONE, -1,
	   XDP_PASS),
	COST("cost_ktime"),
	COST("cost_ktime_coarse"),
	COST("cost_jiffies"),
	COST("cost_array_hit"),
	COST("cost_percpu_hit"),
	COST("cost_lpm_miss"),
	COST("cost_lpm_hit"),
	COST("cost_lpm_flood"),
	COST("cost_hash_hit"),
	COST("cost_lru_hit"),
	COST("cost_lru_miss"),
	COST("cost_blocks_empty"),
	COST("cost_lru_insert"),
	COST("cost_fib"),
	COST("cost_adjust_head"),
	COST("cost_div64"),
	COST("cost_siphash"),
	COST("cost_adjust_tail"),
	COST("cost_store_bytes_150"),
};
/* clang-format on */
const int kmb_n_diag = (int)(sizeof(kmb_diag) / sizeof(kmb_diag[0]));

struct opts {
	const char *ifname;	/* edge veth, in our namespace */
	const char *peer_netns; /* name under /run/netns */
	const char *peer_if;
	int rounds, live_rounds, ms, live_ms;
	bool verbose, diagnose;
	const char *only;  /* one scenario by name */
	const char *lines; /* with --only: km_xdp's line table */
	const char *hot;   /* count samples per line of this table */
};

static struct opts opt = {
    /* Short runs, many rounds: a candidate and its baseline run close in
       time, so the other vCPU's load changes little between them. */
    .rounds = 31,
    .live_rounds = 25,
    .ms = 10,
    .live_ms = 40,
};

/* The option table: getopt's and --help's. */
struct optdef {
	const char *name;
	const char *arg; /* NULL: a flag */
	const char **str;
	int *num;
	int lo, hi;
	bool *flag;
	const char *help;
};

static const struct optdef optdefs[] = {
    {"ifname", "IF", &opt.ifname, .help = "edge veth here (ctx ingress)"},
    {"peer-netns", "NS", &opt.peer_netns,
     .help = "namespace (/run/netns/NS) of the veth peer"},
    {"peer-if", "IF", &opt.peer_if,
     .help = "the veth peer; gets the counting drop program"},
    {"rounds", "N", .num = &opt.rounds, 1, KMB_MAX_ROUNDS,
     .help = "repeat-mode rounds"},
    {"live-rounds", "N", .num = &opt.live_rounds, 1, KMB_MAX_ROUNDS,
     .help = "live-frames rounds"},
    {"ms", "N", .num = &opt.ms, 1, 10000,
     .help = "milliseconds of one repeat-mode run"},
    {"live-ms", "N", .num = &opt.live_ms, 1, 10000,
     .help = "milliseconds of one live run"},
    {"verbose", NULL, .flag = &opt.verbose,
     .help = "every scenario's raw figures to stderr"},
    {"diagnose", NULL, .flag = &opt.diagnose,
     .help = "also time single operations: cost_* lines"},
    {"lines", "FILE", &opt.lines,
     .help = "with --only: where km_xdp's source lines are in its JIT image"},
    {"hot", "FILE", &opt.hot,
     .help = "read `perf script -F ip` output, print the hottest lines of "
	     "FILE (no run)"},
    {"only", "NAME", &opt.only,
     .help = "one scenario alone (names: --verbose), e.g. for a profiler"},
};

#define N_OPTS ((int)(sizeof(optdefs) / sizeof(optdefs[0])))

static void usage(FILE *f)
{
	char left[32];

	fprintf(f, "usage: kmbench --ifname IF --peer-netns NS --peer-if IF "
		   "[options]\n");
	for (int i = 0; i < N_OPTS; i++) {
		const struct optdef *o = &optdefs[i];

		snprintf(left, sizeof(left), "--%s%s%s", o->name,
			 o->arg ? " " : "", o->arg ? o->arg : "");
		fprintf(f, "  %-18s %s", left, o->help);
		if (o->num)
			fprintf(f, " (default %d)", *o->num);
		fputc('\n', f);
	}
	fprintf(f,
		"  %-18s this text\n"
		"Prints `name value unit` figures, the *_ratio lines, the "
		"floor_*_ratio lines, then\n`target` lines.\nExit 1 when a check of a run failed, 2 when "
		"the bench could not run.\n",
		"--help");
}

static int set_opt(const struct optdef *o, const char *arg)
{
	char *end;
	long v;

	if (o->flag) {
		*o->flag = true;
		return 0;
	}
	if (o->str) {
		*o->str = arg;
		return 0;
	}
	v = strtol(arg, &end, 10);
	if (!*arg || *end || v < o->lo || v > o->hi)
		return km_log_errno(-EINVAL,
				    "--%s: '%s' is not a number in %d..%d",
				    o->name, arg, o->lo, o->hi);
	*o->num = (int)v;
	return 0;
}

static int parse_opts(int argc, char **argv)
{
	struct option lo[N_OPTS + 2] = {};
	int ch, idx, err = 0;

	for (int i = 0; i < N_OPTS; i++)
		lo[i] = (struct option){
		    optdefs[i].name,
		    optdefs[i].arg ? required_argument : no_argument, NULL, 0};
	lo[N_OPTS] = (struct option){"help", no_argument, NULL, 'h'};
	while (!err && (ch = getopt_long(argc, argv, "h", lo, &idx)) != -1) {
		if (ch == 'h') {
			usage(stdout);
			exit(0);
		}
		if (ch != 0) {
			usage(stderr);
			return -EINVAL;
		}
		err = set_opt(&optdefs[idx], optarg);
	}
	if (!err && optind < argc)
		err = km_log_errno(-EINVAL, "unexpected argument '%s'",
				   argv[optind]);
	if (!err && !opt.hot &&
	    (!opt.ifname || !opt.peer_netns || !opt.peer_if))
		err = km_log_errno(-EINVAL, "--ifname, --peer-netns and "
					    "--peer-if are required");
	return err;
}

/* Pinned, with the state, templates and programs every scenario needs. */
static int setup(struct kmb_ctx *c)
{
	int cpu, err;

	c->ifindex = if_nametoindex(opt.ifname);
	if (!c->ifindex)
		return km_log_errno(-errno, "no interface %s here", opt.ifname);
	err = kmb_pin_cpu(&cpu);
	if (err)
		km_warn("cannot pin to one CPU: %s", strerror(-err));
	else if (kmb_find_ksoftirqd(cpu))
		km_warn("no ksoftirqd/%d: deferred softirq time is not counted",
			cpu);
	err = 0;
	for (int t = 0; t < KMB_T_MAX && !err; t++)
		err = kmb_template(t, c->tmpl[t]);
	err = err ?: kmb_km_open(&c->km);
	err = err ?: kmb_km_populate(&c->km, 7);
	if (err)
		return err;
	c->b = bench__open_and_load();
	if (!c->b)
		return km_log_errno(-errno, "cannot load bench.bpf.o");
	err = kmb_attach_sink(c, opt.peer_netns, opt.peer_if);
	err = err ?: kmb_floors_open(c);
	err = err ?: kmb_check_outputs(c);
	return err ?: kmb_floors_check(c);
}

/* --only NAME: that scenario alone, round after round (for a profiler);
 * its raw figures, no ratios. */
static int run_only(struct kmb_ctx *c)
{
	struct kmb_scen *s = NULL;
	int err = 0;

	for (int i = 0; i < KMB_S_MAX && !s; i++)
		if (!strcmp(kmb_scens[i].name, opt.only))
			s = &kmb_scens[i];
	for (int i = 0; i < kmb_n_diag && !s; i++)
		if (!strcmp(kmb_diag[i].name, opt.only))
			s = &kmb_diag[i];
	if (!s)
		return km_log_errno(-EINVAL, "--only: no scenario '%s'",
				    opt.only);
	if (opt.lines)
		err = kmb_lines_dump(c->km.prog_fd, opt.lines);
	if (!err && s->target == KMB_TG_COST)
		err = kmb_cost_open(c);
	err = err
		  ?: kmb_run_rounds(c, s, 1,
				    s->live ? c->live_rounds : c->rounds);
	if (!err)
		kmb_report_raw(c, s, 1);
	return err;
}

static int run(struct kmb_ctx *c)
{
	int err;

	if (opt.only)
		return run_only(c);

	err = kmb_run_rounds(c, kmb_scens, KMB_S_NS_MAX, c->rounds);
	err = err
		  ?: kmb_run_rounds(c, kmb_scens + KMB_S_NS_MAX,
				    KMB_S_MAX - KMB_S_NS_MAX, c->live_rounds);
	if (!err && opt.diagnose) {
		err = kmb_cost_open(c);
		err = err ?: kmb_run_rounds(c, kmb_diag, kmb_n_diag, c->rounds);
	}
	if (err)
		return err;
	if (opt.verbose) {
		kmb_report_raw(c, kmb_scens, KMB_S_MAX);
		if (opt.diagnose)
			kmb_report_raw(c, kmb_diag, kmb_n_diag);
	}
	kmb_report(c);
	if (opt.diagnose)
		kmb_report_diag(c);
	return 0;
}

int main(int argc, char **argv)
{
	static struct kmb_ctx c;
	int err;

	km_log_init("kmbench", LOG_INFO);
	if (parse_opts(argc, argv))
		return 2;
	if (opt.hot)
		return kmb_lines_hot(opt.hot, 30) ? 2 : 0;
	c.rounds = opt.rounds;
	c.live_rounds = opt.live_rounds;
	c.ms = opt.ms;
	c.live_ms = opt.live_ms;
	err = setup(&c);
	err = err ?: run(&c);
	bpf_link__destroy(c.sink_link);
	cost__destroy(c.cost);
	kmb_floors_close(&c);
	bench__destroy(c.b);
	kmb_km_close(&c.km);
	if (err)
		return 2;
	if (c.failures)
		return km_log_errno(1,
				    "%d check(s) failed: the figures above "
				    "are not valid",
				    c.failures);
	return 0;
}
