// SPDX-License-Identifier: GPL-2.0-only
/* kilimanjaro stats: the latest snapshot of the stats ring, with the rates
 * of its interval, for scripts (--json) and people. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "snapview.h"

static const char stats_usage[] =
    "usage: kilimanjaro [-i IFNAME] [--json] stats [--run-dir DIR]\n"
    "\n"
    "The latest snapshot kilimanjaro-statsd published in DIR/stats.ring\n"
    "(default /run/kilimanjaro/IFNAME): counters (totals since the program\n"
    "was loaded) and rates per second over the last interval. Needs no BPF\n"
    "access.\n";

static struct json_object *jd(double v)
{
	return json_object_new_double(v);
}

static void jadd(struct json_object *o, const char *k, struct json_object *v)
{
	json_object_object_add(o, k, v);
}

static struct json_object *reason_json(const struct snapview *v, uint32_t r)
{
	const struct km_stat *c = &v->cur->reasons[r];
	struct json_object *o = json_object_new_object();

	jadd(o, "packets", cli_json_u64(c->packets));
	jadd(o, "bytes", cli_json_u64(c->bytes));
	if (v->dt_ns) {
		const struct km_stat *p = &v->prev->reasons[r];

		jadd(o, "pps", jd(snapview_rate(v, p->packets, c->packets)));
		jadd(o, "bps", jd(8 * snapview_rate(v, p->bytes, c->bytes)));
	}
	return o;
}

/* Packets and bits per second by verdict class. */
static void class_rates(const struct snapview *v, double pps[KM_VC_MAX],
			double bps[KM_VC_MAX])
{
	memset(pps, 0, sizeof(double) * KM_VC_MAX);
	memset(bps, 0, sizeof(double) * KM_VC_MAX);
	if (!v->dt_ns)
		return;
	for (uint32_t r = 0; r < v->cur->n_reasons && r < KM_R_MAX; r++) {
		enum km_verdict_class c = km_reason_class(r);

		pps[c] += snapview_rate(v, v->prev->reasons[r].packets,
					v->cur->reasons[r].packets);
		bps[c] += 8 * snapview_rate(v, v->prev->reasons[r].bytes,
					    v->cur->reasons[r].bytes);
	}
}

static const char *const svc_kinds[] = {"rx", "fwd", "drop", "ret"};
static const char *const a2s_names[] = {
    "requests", "challenges", "bad_challenges", "cached",
    "stale",	"to_worker",  "forwarded",	"ingested"};
static const char *const wk_names[] = {
    "refreshes",       "ingested",    "served",	    "served_frames",
    "pending_dropped", "server_down", "bad_answers"};

static struct json_object *u64_obj(const uint64_t *v, const char *const *names,
				   int n)
{
	struct json_object *o = json_object_new_object();

	for (int i = 0; i < n; i++)
		jadd(o, names[i], cli_json_u64(v[i]));
	return o;
}

static struct json_object *service_json(const struct snapview *v,
					const struct km_snap_service *s)
{
	const struct km_snap_service *p = snapview_prev_svc(v, s);
	const uint64_t *c = (const uint64_t *)&s->st;
	struct json_object *o = json_object_new_object(), *rates;
	char name[48], b[16];

	jadd(o, "service",
	     json_object_new_string(
		 km_snap_service_name(name, sizeof(name), &s->key)));
	jadd(o, "id", json_object_new_int64(s->id));
	jadd(o, "backend", json_object_new_string(cli_addr(b, s->backend)));
	for (int k = 0; k < 4; k++) {
		char key[24];

		snprintf(key, sizeof(key), "%s_packets", svc_kinds[k]);
		jadd(o, key, cli_json_u64(c[2 * k]));
		snprintf(key, sizeof(key), "%s_bytes", svc_kinds[k]);
		jadd(o, key, cli_json_u64(c[2 * k + 1]));
	}
	if (p) {
		const uint64_t *q = (const uint64_t *)&p->st;

		rates = json_object_new_object();
		for (int k = 0; k < 4; k++) {
			char key[24];

			snprintf(key, sizeof(key), "%s_pps", svc_kinds[k]);
			jadd(rates, key,
			     jd(snapview_rate(v, q[2 * k], c[2 * k])));
			snprintf(key, sizeof(key), "%s_bps", svc_kinds[k]);
			jadd(rates, key,
			     jd(8 *
				snapview_rate(v, q[2 * k + 1], c[2 * k + 1])));
		}
		if (s->flags & KM_SVC_F_A2S) {
			uint64_t hit, tot;

			km_a2s_hits(&p->a2s, &s->a2s, &hit, &tot);
			jadd(rates, "a2s_hit_rate",
			     tot ? jd((double)hit / (double)tot) : NULL);
		}
		jadd(o, "rates", rates);
	}
	if (s->flags & KM_SVC_F_A2S) {
		jadd(o, "a2s",
		     u64_obj((const uint64_t *)&s->a2s, a2s_names, 8));
		jadd(o, "a2s_workers",
		     u64_obj((const uint64_t *)&s->w, wk_names, 7));
	}
	return o;
}

static struct json_object *stats_json(const struct snapview *v)
{
	const struct km_snapshot *s = v->cur;
	struct json_object *o = json_object_new_object(), *x;
	double pps[KM_VC_MAX], bps[KM_VC_MAX];
	char ep[20];

	x = json_object_new_object();
	jadd(x, "path", json_object_new_string(v->path));
	snprintf(ep, sizeof(ep), "%016llx", (unsigned long long)v->info.epoch);
	jadd(x, "epoch", json_object_new_string(ep));
	jadd(x, "seq", cli_json_u64(v->info.seq));
	jadd(x, "writer_closed", json_object_new_boolean(v->info.closed));
	jadd(o, "ring", x);
	jadd(o, "mono_ns", cli_json_u64(s->mono_ns));
	jadd(o, "real_ns", cli_json_u64(s->real_ns));
	jadd(o, "age_ms", jd((double)(km_mono_ns() - s->mono_ns) / 1e6));
	jadd(o, "interval_ms", jd(s->interval_ns / 1e6));
	jadd(o, "rate_interval_ms", v->dt_ns ? jd(v->dt_ns / 1e6) : NULL);
	jadd(o, "read_us", jd(s->read_ns / 1e3));
	jadd(o, "services_total", json_object_new_int64(s->services_total));
	jadd(o, "truncated",
	     json_object_new_boolean(s->flags & KM_SNAP_F_TRUNCATED));
	x = json_object_new_object();
	for (uint32_t r = 0; r < s->n_reasons && r < KM_R_MAX; r++)
		jadd(x, km_reason_name(r), reason_json(v, r));
	jadd(o, "reasons", x);
	x = json_object_new_object();
	class_rates(v, pps, bps);
	for (int c = 0; c < KM_VC_MAX && v->dt_ns; c++) {
		struct json_object *y = json_object_new_object();

		jadd(y, "pps", jd(pps[c]));
		jadd(y, "bps", jd(bps[c]));
		jadd(x, km_verdict_class_name(c), y);
	}
	jadd(o, "verdicts", x);
	x = json_object_new_object();
	for (uint32_t c = 0; c < s->n_counters && c < KM_C_MAX; c++)
		jadd(x, km_counter_name(c), cli_json_u64(s->counters[c]));
	jadd(o, "counters", x);
	x = json_object_new_array();
	for (uint32_t i = 0; i < s->n_services; i++)
		json_object_array_add(x, service_json(v, &s->services[i]));
	jadd(o, "services", x);
	x = json_object_new_array();
	for (uint32_t i = 0; i < s->n_maps; i++) {
		struct json_object *y = json_object_new_object();
		char n[17];

		snprintf(n, sizeof(n), "%.16s", s->maps[i].name);
		jadd(y, "map", json_object_new_string(n));
		jadd(y, "entries", cli_json_u64(s->maps[i].entries));
		jadd(y, "max_entries", cli_json_u64(s->maps[i].max_entries));
		json_object_array_add(x, y);
	}
	jadd(o, "maps", x);
	return o;
}

static void stats_text(const struct snapview *v)
{
	const struct km_snapshot *s = v->cur;
	double pps[KM_VC_MAX], bps[KM_VC_MAX];
	char a[24], b[24], n[48];

	printf("snapshot %llu of %s, %.1f s old, interval %s\n",
	       (unsigned long long)v->info.seq, v->path,
	       (double)(km_mono_ns() - s->mono_ns) / 1e9,
	       cli_duration(a, sizeof(a), s->interval_ns / 1e9));
	class_rates(v, pps, bps);
	printf("%-24s %14s %14s %10s %10s\n", "reason", "packets", "bytes",
	       "pkt/s", "bit/s");
	for (uint32_t r = 0; r < s->n_reasons && r < KM_R_MAX; r++) {
		const struct km_stat *c = &s->reasons[r];

		if (!c->packets)
			continue;
		printf("%-24s %14llu %14llu", km_reason_name(r),
		       (unsigned long long)c->packets,
		       (unsigned long long)c->bytes);
		if (v->dt_ns)
			printf(
			    " %10s %10s",
			    cli_si(a, sizeof(a),
				   snapview_rate(v, v->prev->reasons[r].packets,
						 c->packets),
				   ""),
			    cli_si(b, sizeof(b),
				   8 * snapview_rate(v,
						     v->prev->reasons[r].bytes,
						     c->bytes),
				   ""));
		printf("\n");
	}
	printf("%-24s %14s %14s %10s %10s\n", "service", "rx packets",
	       "fwd packets", "drop pkts", "ret pkts");
	for (uint32_t i = 0; i < s->n_services; i++)
		printf("%-24s %14llu %14llu %10llu %10llu\n",
		       km_snap_service_name(n, sizeof(n), &s->services[i].key),
		       (unsigned long long)s->services[i].st.rx_packets,
		       (unsigned long long)s->services[i].st.fwd_packets,
		       (unsigned long long)s->services[i].st.drop_packets,
		       (unsigned long long)s->services[i].st.ret_packets);
	if (s->flags & KM_SNAP_F_TRUNCATED)
		printf("(%u of %u services: statsd --max-services)\n",
		       s->n_services, s->services_total);
}

int cmd_stats(struct cli_ctx *c, int argc, char **argv)
{
	const char *run_dir = NULL;
	struct cli_opt opts[] = {
	    {.name = "run-dir", .type = CLI_OPT_STR, .dst = &run_dir},
	    {0},
	};
	struct snapview v;
	char *pos[1];
	int np, r;

	r = cli_args("stats", stats_usage, argc, argv, opts, pos, &np, 0, 0);
	if (r)
		return r;
	r = snapview_open(&v, c, run_dir);
	if (!r)
		r = snapview_read(&v);
	if (!r) {
		if (c->json)
			cli_json_print(stats_json(&v));
		else
			stats_text(&v);
	}
	snapview_close(&v);
	return r;
}
