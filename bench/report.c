// SPDX-License-Identifier: GPL-2.0-only
/*
 * Figures and ratios. Every value is the median over rounds of a per-round
 * value, so that a slow round (the machine is shared) moves nothing, and
 * a candidate is compared with the baseline of its own round.
 */
#include "kmbench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cost.skel.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double kmb_median(const double *v, int n)
{
	double t[KMB_MAX_ROUNDS];

	memcpy(t, v, sizeof(double) * (size_t)n);
	qsort(t, (size_t)n, sizeof(double), cmp_double);
	return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

/* ns per packet of scenario s in round r as if run directly: a run through
 * kmb_gen has the generator's cost (gen_ref minus bare_ref, same round)
 * taken out (bench/README.md). */
static double cost_ns(int s, int r)
{
	const struct kmb_scen *x = &kmb_scens[s];

	if (!x->gen)
		return x->ns[r];
	return x->ns[r] - kmb_scens[x->gen_ref].ns[r] +
	       kmb_scens[x->bare_ref].ns[r];
}

static int rounds_of(const struct kmb_ctx *c, int s)
{
	return kmb_scens[s].live ? c->live_rounds : c->rounds;
}

/* A figure: scenario `a`'s cost, or a's raw time minus b's when b >= 0. */
struct fig {
	const char *name;
	int a, b;
	bool mpps;
};

static const struct fig figs[] = {
    {"baseline_tx_ns", KMB_S_TX, -1, false},
    {"baseline_drop_ns", KMB_S_DROP, -1, false},
    {"empty_prog_ns", KMB_S_PASS, -1, false},
    {"generator_overhead_ns", KMB_S_GEN_PASS, KMB_S_PASS, false},
    {"baseline_tx_via_generator_ns", KMB_S_GEN_TX, -1, false},
    {"forward_ns", KMB_S_FWD, -1, false},
    {"forward_validated_ns", KMB_S_FWD_VAL, -1, false},
    {"deny_ns", KMB_S_DENY, -1, false},
    {"deny_host_ns", KMB_S_DENY_HOST, -1, false},
    {"ratelimit_ns", KMB_S_RL, -1, false},
    {"decap_ns", KMB_S_DECAP, -1, false},
    {"decap_players_ns", KMB_S_DECAP_MANY, -1, false},
    {"flood_ns", KMB_S_FLOOD, -1, false},
    {"a2s_hit_ns", KMB_S_A2S_HIT, -1, false},
    {"a2s_challenge_ns", KMB_S_A2S_CHAL, -1, false},
    {"generator_tail_overhead_ns", KMB_S_GEN_TAIL_PASS, KMB_S_PASS, false},
    {"live_baseline_tx_mpps", KMB_S_L_TX, -1, true},
    {"live_baseline_drop_mpps", KMB_S_L_DROP, -1, true},
    {"live_forward_mpps", KMB_S_L_FWD, -1, true},
    {"live_flood_mpps", KMB_S_L_FLOOD, -1, true},
    {"live_a2s_hit_mpps", KMB_S_L_A2S_HIT, -1, true},
    {"live_generator_overhead_tx_ns", KMB_S_L_GEN_TX, KMB_S_L_TX, false},
    {"live_generator_overhead_drop_ns", KMB_S_L_GEN_DROP, KMB_S_L_DROP, false},
    {"floor_decap_ns", KMB_S_FL_DECAP, -1, false},
    {"floor_forward_ns", KMB_S_FL_FWD, -1, false},
    {"floor_forward_src_ns", KMB_S_FL_FWD_SRC, -1, false},
    {"floor_a2s_hit_ns", KMB_S_FL_A2S_HIT, -1, false},
    {"floor_a2s_challenge_ns", KMB_S_FL_A2S_CHAL, -1, false},
    {"live_floor_forward_mpps", KMB_S_L_FL_FWD, -1, true},
    {"live_floor_forward_src_mpps", KMB_S_L_FL_FWD_SRC, -1, true},
    {"live_floor_a2s_hit_mpps", KMB_S_L_FL_A2S_HIT, -1, true},
};

/* The ratios: ns/packet of `cand` over `base`, or (live) Mpps of
 * `cand` over `base`, against a target. */
struct ratio {
	const char *name;
	int cand, base;
	double target;
	bool at_most; /* value must be <= target, else >= */
	int floor;    /* the floor judged against the target, 0: none */
};

/* The forward paths' floor is the one with the per-source bucket's lookup:
 * the design limits an unvalidated player before forwarding. */
static const struct ratio ratios[] = {
    {"forward_ratio", KMB_S_FWD, KMB_S_TX, 6, true, KMB_S_FL_FWD_SRC},
    {"deny_ratio", KMB_S_DENY, KMB_S_TX, 3.5, true, 0},
    {"ratelimit_ratio", KMB_S_RL, KMB_S_TX, 5, true, 0},
    {"decap_ratio", KMB_S_DECAP, KMB_S_TX, 1.5, true, KMB_S_FL_DECAP},
    {"flood_ratio", KMB_S_FLOOD, KMB_S_TX, 12, true, 0},
    {"live_forward_ratio", KMB_S_L_FWD, KMB_S_L_TX, 0.75, false,
     KMB_S_L_FL_FWD_SRC},
    {"live_flood_ratio", KMB_S_L_FLOOD, KMB_S_L_DROP, 0.45, false, 0},
    {"a2s_hit_ratio", KMB_S_A2S_HIT, KMB_S_TX, 3, true, KMB_S_FL_A2S_HIT},
    {"a2s_challenge_ratio", KMB_S_A2S_CHAL, KMB_S_TX, 2, true,
     KMB_S_FL_A2S_CHAL},
    {"live_a2s_hit_ratio", KMB_S_L_A2S_HIT, KMB_S_L_TX, 0.9, false,
     KMB_S_L_FL_A2S_HIT},
};

/* floor_<ratio>: each floor as the ratio it bounds (same baseline, same
 * rounds). The forward ratios have two floors, without and with the
 * per-source lookup. */
static const struct ratio floor_ratios[] = {
    {"floor_forward_ratio", KMB_S_FL_FWD, KMB_S_TX, 0, true, 0},
    {"floor_forward_src_ratio", KMB_S_FL_FWD_SRC, KMB_S_TX, 0, true, 0},
    {"floor_decap_ratio", KMB_S_FL_DECAP, KMB_S_TX, 0, true, 0},
    {"floor_live_forward_ratio", KMB_S_L_FL_FWD, KMB_S_L_TX, 0, false, 0},
    {"floor_live_forward_src_ratio", KMB_S_L_FL_FWD_SRC, KMB_S_L_TX, 0, false,
     0},
    {"floor_a2s_hit_ratio", KMB_S_FL_A2S_HIT, KMB_S_TX, 0, true, 0},
    {"floor_a2s_challenge_ratio", KMB_S_FL_A2S_CHAL, KMB_S_TX, 0, true, 0},
    {"floor_live_a2s_hit_ratio", KMB_S_L_FL_A2S_HIT, KMB_S_L_TX, 0, false, 0},
};

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

static double fig_value(const struct kmb_ctx *c, const struct fig *f)
{
	double v[KMB_MAX_ROUNDS];
	int n = rounds_of(c, f->a);

	for (int r = 0; r < n; r++) {
		if (f->b >= 0)
			v[r] = kmb_scens[f->a].ns[r] - kmb_scens[f->b].ns[r];
		else
			v[r] = cost_ns(f->a, r);
		if (f->mpps)
			v[r] = 1e3 / v[r];
	}
	return kmb_median(v, n);
}

/* Scenario `cand` against q's baseline, per round, median. */
static double ratio_of(const struct kmb_ctx *c, const struct ratio *q, int cand)
{
	double v[KMB_MAX_ROUNDS];
	int n = rounds_of(c, cand);

	/* Mpps ratio = inverse of the ns ratio. */
	for (int r = 0; r < n; r++)
		v[r] = kmb_scens[cand].live
			   ? cost_ns(q->base, r) / cost_ns(cand, r)
			   : cost_ns(cand, r) / cost_ns(q->base, r);
	return kmb_median(v, n);
}

static double ratio_value(const struct kmb_ctx *c, const struct ratio *q)
{
	return ratio_of(c, q, q->cand);
}

/* " (floor F)", and when the least work already misses the target, why
 * the target cannot be met here. */
static void floor_note(const struct kmb_ctx *c, const struct ratio *q,
		       char *buf, size_t len)
{
	double f;

	buf[0] = 0;
	if (!q->floor)
		return;
	f = ratio_of(c, q, q->floor);
	if (q->at_most ? f > q->target : f < q->target)
		snprintf(buf, len, " (floor %.2f: the least work misses it too)",
			 f);
	else
		snprintf(buf, len, " (floor %.2f)", f);
}

void kmb_report(const struct kmb_ctx *c)
{
	double val[N_OF(ratios)];
	int met = 0;

	for (int i = 0; i < N_OF(figs); i++)
		printf("%s %.2f %s\n", figs[i].name, fig_value(c, &figs[i]),
		       figs[i].mpps ? "Mpps" : "ns/pkt");
	for (int i = 0; i < N_OF(ratios); i++) {
		val[i] = ratio_value(c, &ratios[i]);
		printf("%s %.2f\n", ratios[i].name, val[i]);
	}
	for (int i = 0; i < N_OF(floor_ratios); i++)
		printf("%s %.2f\n", floor_ratios[i].name,
		       ratio_value(c, &floor_ratios[i]));
	for (int i = 0; i < N_OF(ratios); i++) {
		const struct ratio *q = &ratios[i];
		bool ok =
		    q->at_most ? val[i] <= q->target : val[i] >= q->target;
		char note[80];

		met += ok;
		floor_note(c, q, note, sizeof(note));
		printf("target %s %.2f %s %.2f %s%s\n", q->name, val[i],
		       q->at_most ? "<=" : ">=", q->target,
		       ok ? "met" : "MISSED", note);
	}
	printf("targets_met %d/%d\n", met, N_OF(ratios));
}

/* The raw material of the figures, for judging the noise. */
void kmb_report_raw(const struct kmb_ctx *c, const struct kmb_scen *v, int n)
{
	for (int i = 0; i < n; i++) {
		const struct kmb_scen *s = &v[i];
		int k = s->live ? c->live_rounds : c->rounds;
		double lo = s->ns[0], hi = s->ns[0];

		for (int r = 1; r < k; r++) {
			lo = s->ns[r] < lo ? s->ns[r] : lo;
			hi = s->ns[r] > hi ? s->ns[r] : hi;
		}
		fprintf(stderr,
			"raw %-18s x%-8u median %8.2f min %8.2f max %8.2f "
			"wall %8.2f kernel %5.0f ns/pkt\n",
			s->name, s->count, kmb_median(s->ns, k), lo, hi,
			kmb_median(s->wall, k), kmb_median(s->kernel, k));
	}
}

/* cost_<op>_ns: the operation's program minus the empty one, per round. */
void kmb_report_diag(struct kmb_ctx *c)
{
	double d[KMB_MAX_ROUNDS];
	int head = -1;

	if (c->cost->bss->fib_failed)
		kmb_fail(c, "cost_fib", "bpf_fib_lookup failed %llu times",
			 (unsigned long long)c->cost->bss->fib_failed);
	if (c->cost->bss->store_failed)
		kmb_fail(c, "cost_store_bytes_150",
			 "bpf_xdp_store_bytes failed %llu times",
			 (unsigned long long)c->cost->bss->store_failed);
	for (int i = 1; i < kmb_n_diag; i++)
		if (!strcmp(kmb_diag[i].name, "cost_adjust_head"))
			head = i;
	for (int i = 1; i < kmb_n_diag; i++) {
		/* cost_div64 times four divisions. */
		double per = strcmp(kmb_diag[i].name, "cost_div64") ? 1 : 4;
		/* cost_store_bytes_150 makes room with two adjust_head calls
		 * (the frame is 128 bytes): taken out, as measured in the
		 * same round. */
		int heads =
		    strcmp(kmb_diag[i].name, "cost_store_bytes_150") ? 0 : 2;

		for (int r = 0; r < c->rounds; r++) {
			d[r] = (kmb_diag[i].ns[r] - kmb_diag[0].ns[r]) / per;
			if (heads && head > 0)
				d[r] -= heads * (kmb_diag[head].ns[r] -
						 kmb_diag[0].ns[r]);
		}
		printf("%s_ns %.2f ns/op\n", kmb_diag[i].name,
		       kmb_median(d, c->rounds));
	}
}
