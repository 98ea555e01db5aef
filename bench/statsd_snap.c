// SPDX-License-Identifier: GPL-2.0-only
/*
 * statsd_snapshot_us: what one kilimanjaro-statsd snapshot costs with 1,000
 * services configured: km_snapshot_read() over the real object's maps
 * (loaded, not attached), median of 51 after 5 warm-ups. The snapshot is
 * checked (1,000 services, their counters) before the time counts.
 * --compare also prints, to stderr, the same without batch lookups.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <netinet/in.h>

#include "kilimanjaro.skel.h"
#include "lib/log.h"
#include "lib/maps.h"
#include "lib/snapshot.h"

#define N_SVC 1000
#define RUNS 51

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int install(const struct km_maps *m)
{
	struct km_service_spec *s = calloc(N_SVC, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	for (uint32_t i = 0; i < N_SVC; i++) {
		s[i].proto = IPPROTO_UDP;
		s[i].addr = htonl(0xc6120000u + 10 + i / 100); /* 198.18.0.x */
		s[i].port = htons(27015 + i % 100);
		s[i].backend = htonl(0xc6120100u + 1 + i % 8);
	}
	r = km_services_sync(m, s, N_SVC, KM_ORIGIN_CONFIG);
	free(s);
	return r;
}

/* Counters on every CPU of every service, so the check below has
 * something to find. */
static int count(const struct km_maps *m)
{
	size_t sz = (size_t)m->ncpus * sizeof(struct km_svc_stat);
	struct km_svc_stat *v = calloc(1, sz);
	int r = 0;

	if (!v)
		return -ENOMEM;
	for (uint32_t id = 0; id < N_SVC && !r; id++) {
		for (int c = 0; c < m->ncpus; c++)
			v[c].rx_packets = id + 1;
		if (bpf_map_update_elem(m->fd[KM_M_SVC_STATS], &id, v, 0))
			r = -errno;
	}
	free(v);
	return r;
}

static int check(const struct km_snapshot *s, int ncpus)
{
	if (s->n_services != N_SVC || s->services_total != N_SVC)
		return km_log_errno(-EPROTO, "snapshot has %u of %u services",
				    s->n_services, s->services_total);
	for (uint32_t i = 0; i < N_SVC; i++)
		if (s->services[i].st.rx_packets !=
		    (uint64_t)(s->services[i].id + 1) * ncpus)
			return km_log_errno(
			    -EPROTO, "service id %u: rx %llu, want %llu",
			    s->services[i].id,
			    (unsigned long long)s->services[i].st.rx_packets,
			    (unsigned long long)(s->services[i].id + 1) *
				ncpus);
	return 0;
}

static int measure(const struct km_maps *m, struct km_snapshot *s, int no_batch,
		   double *us)
{
	struct km_snap_ctx ctx = {.no_batch = no_batch};
	uint64_t t[RUNS];
	int r = 0;

	for (int i = 0; i < 5 + RUNS && !r; i++) {
		r = km_snapshot_read(m, &ctx, s, KM_MAX_SERVICES);
		if (i == 0 && !r)
			r = check(s, m->ncpus);
		if (i >= 5)
			t[i - 5] = s->read_ns;
	}
	km_snap_ctx_free(&ctx);
	if (r)
		return r;
	qsort(t, RUNS, sizeof(t[0]), cmp_u64);
	*us = t[RUNS / 2] / 1e3;
	return 0;
}

int main(int argc, char **argv)
{
	bool compare = argc > 1 && !strcmp(argv[1], "--compare");
	struct km_snapshot *s = calloc(1, km_snapshot_size(KM_MAX_SERVICES));
	struct km_maps m = {0};
	struct kilimanjaro *skel;
	double us, slow;
	int r;

	km_log_init("statsd-snap", LOG_WARNING);
	skel = kilimanjaro__open_and_load();
	if (!s || !skel) {
		km_err("cannot load the XDP object");
		return 2;
	}
	r = km_maps_from_object(&m, skel->obj);
	if (!r)
		r = install(&m);
	if (!r)
		r = count(&m);
	if (!r)
		r = measure(&m, s, 0, &us);
	if (!r && compare && !measure(&m, s, 1, &slow))
		fprintf(stderr,
			"statsd_snapshot_us without batch lookups: %.1f us "
			"(%.1fx)\n",
			slow, slow / us);
	if (!r)
		printf("statsd_snapshot_us %.2f us\n", us);
	km_maps_close(&m);
	kilimanjaro__destroy(skel);
	free(s);
	return r ? 1 : 0;
}
