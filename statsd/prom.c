// SPDX-License-Identifier: GPL-2.0-only
/*
 * Counters keep their map names (km_reason_name, km_counter_name) as label
 * values, so a new reason is a new label value, never a new metric name.
 * Counters are the maps' totals: they only reset when the program is
 * loaded with fresh maps, which Prometheus' rate() handles as a reset.
 */
#include <errno.h>
#include <inttypes.h>

#include "maps.h"
#include "prom.h"

static void family(FILE *f, const char *name, const char *type,
		   const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void reasons(FILE *f, const struct km_snapshot *s)
{
	family(f, "kilimanjaro_packets_total", "counter",
	       "Packets seen by the XDP program, by verdict reason.");
	for (uint32_t r = 0; r < s->n_reasons && r < KM_R_MAX; r++)
		fprintf(f, "kilimanjaro_packets_total{reason=\"%s\"} %llu\n",
			km_reason_name(r),
			(unsigned long long)s->reasons[r].packets);
	family(f, "kilimanjaro_bytes_total", "counter",
	       "Bytes (frame length as received) seen by the XDP program, by "
	       "verdict reason.");
	for (uint32_t r = 0; r < s->n_reasons && r < KM_R_MAX; r++)
		fprintf(f, "kilimanjaro_bytes_total{reason=\"%s\"} %llu\n",
			km_reason_name(r),
			(unsigned long long)s->reasons[r].bytes);
	family(f, "kilimanjaro_events_total", "counter",
	       "Data-plane events that are not verdicts (buckets created, "
	       "players validated, punches learned, ...).");
	for (uint32_t c = 0; c < s->n_counters && c < KM_C_MAX; c++)
		fprintf(f, "kilimanjaro_events_total{event=\"%s\"} %llu\n",
			km_counter_name(c), (unsigned long long)s->counters[c]);
}

static void services(FILE *f, const struct km_snapshot *s)
{
	static const char *const kinds[] = {"rx", "fwd", "drop", "ret"};
	static const char *const a2s[] = {
	    "requests", "challenges", "bad_challenges", "cached",
	    "stale",	"to_worker",  "forwarded",	"ingested"};
	static const char *const wk[] = {
	    "refreshes",       "ingested",    "served",	    "served_frames",
	    "pending_dropped", "server_down", "bad_answers"};
	char name[48];

	family(f, "kilimanjaro_service_packets_total", "counter",
	       "Packets per service: rx matched, fwd to the backend, drop, "
	       "ret backend to player.");
	for (uint32_t i = 0; i < s->n_services; i++) {
		const uint64_t *v = (const uint64_t *)&s->services[i].st;

		km_snap_service_name(name, sizeof(name), &s->services[i].key);
		for (int k = 0; k < 4; k++)
			fprintf(f,
				"kilimanjaro_service_packets_total{service="
				"\"%s\",kind=\"%s\"} %llu\n",
				name, kinds[k], (unsigned long long)v[2 * k]);
	}
	family(f, "kilimanjaro_service_bytes_total", "counter",
	       "Bytes per service, same kinds as "
	       "kilimanjaro_service_packets_total.");
	for (uint32_t i = 0; i < s->n_services; i++) {
		const uint64_t *v = (const uint64_t *)&s->services[i].st;

		km_snap_service_name(name, sizeof(name), &s->services[i].key);
		for (int k = 0; k < 4; k++)
			fprintf(
			    f,
			    "kilimanjaro_service_bytes_total{service=\"%s\","
			    "kind=\"%s\"} %llu\n",
			    name, kinds[k], (unsigned long long)v[2 * k + 1]);
	}
	family(f, "kilimanjaro_a2s_total", "counter",
	       "A2S events of the XDP program per service (services with "
	       "A2S on).");
	for (uint32_t i = 0; i < s->n_services; i++) {
		const uint64_t *v = (const uint64_t *)&s->services[i].a2s;

		if (!(s->services[i].flags & KM_SVC_F_A2S))
			continue;
		km_snap_service_name(name, sizeof(name), &s->services[i].key);
		for (int k = 0; k < 8; k++)
			fprintf(f,
				"kilimanjaro_a2s_total{service=\"%s\",event="
				"\"%s\"} %llu\n",
				name, a2s[k], (unsigned long long)v[k]);
	}
	family(f, "kilimanjaro_a2s_worker_total", "counter",
	       "A2S events of the AF_XDP workers per service (services with "
	       "A2S on).");
	for (uint32_t i = 0; i < s->n_services; i++) {
		const uint64_t *v = (const uint64_t *)&s->services[i].w;

		if (!(s->services[i].flags & KM_SVC_F_A2S))
			continue;
		km_snap_service_name(name, sizeof(name), &s->services[i].key);
		for (int k = 0; k < 7; k++)
			fprintf(f,
				"kilimanjaro_a2s_worker_total{service=\"%s\","
				"event=\"%s\"} %llu\n",
				name, wk[k], (unsigned long long)v[k]);
	}
}

static void maps(FILE *f, const struct km_snapshot *s)
{
	family(f, "kilimanjaro_map_entries", "gauge",
	       "Entries in a map (the allow/deny lists: the active pair).");
	for (uint32_t i = 0; i < s->n_maps; i++)
		fprintf(f, "kilimanjaro_map_entries{map=\"%.16s\"} %llu\n",
			s->maps[i].name,
			(unsigned long long)s->maps[i].entries);
	family(f, "kilimanjaro_map_capacity", "gauge",
	       "Maximum entries of a map.");
	for (uint32_t i = 0; i < s->n_maps; i++)
		fprintf(f, "kilimanjaro_map_capacity{map=\"%.16s\"} %llu\n",
			s->maps[i].name,
			(unsigned long long)s->maps[i].max_entries);
}

static void statsd(FILE *f, const struct km_snapshot *s, uint64_t now)
{
	family(f, "kilimanjaro_services", "gauge", "Services configured.");
	fprintf(f, "kilimanjaro_services %u\n", s->services_total);
	family(f, "kilimanjaro_services_truncated", "gauge",
	       "1 when more services are configured than a snapshot holds "
	       "(statsd --max-services).");
	fprintf(f, "kilimanjaro_services_truncated %d\n",
		!!(s->flags & KM_SNAP_F_TRUNCATED));
	family(f, "kilimanjaro_statsd_read_seconds", "gauge",
	       "Time the last snapshot took to read from the maps.");
	fprintf(f, "kilimanjaro_statsd_read_seconds %.6f\n", s->read_ns / 1e9);
	family(f, "kilimanjaro_statsd_interval_seconds", "gauge",
	       "statsd's snapshot interval.");
	fprintf(f, "kilimanjaro_statsd_interval_seconds %.3f\n",
		s->interval_ns / 1e9);
	family(f, "kilimanjaro_statsd_snapshot_age_seconds", "gauge",
	       "Age of the snapshot these figures come from.");
	fprintf(f, "kilimanjaro_statsd_snapshot_age_seconds %.3f\n",
		now > s->mono_ns ? (now - s->mono_ns) / 1e9 : 0.0);
	family(f, "kilimanjaro_statsd_uptime_seconds", "gauge",
	       "Time this statsd has been publishing.");
	fprintf(f, "kilimanjaro_statsd_uptime_seconds %.3f\n",
		s->mono_ns > s->started_mono_ns
		    ? (s->mono_ns - s->started_mono_ns) / 1e9
		    : 0.0);
}

int ks_prom_render(FILE *f, const struct km_snapshot *s, uint64_t now_mono_ns)
{
	reasons(f, s);
	services(f, s);
	maps(f, s);
	statsd(f, s, now_mono_ns);
	return ferror(f) ? -EIO : 0;
}
