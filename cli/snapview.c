// SPDX-License-Identifier: GPL-2.0-only
/* The stats ring as the CLI reads it (snapview.h). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/log.h"
#include "snapview.h"

/* The only <base>/<dir>/stats.ring there is. */
static int only_ring(char *out, size_t len)
{
	char found[PATH_MAX] = "", p[PATH_MAX];
	struct dirent *d;
	struct stat st;
	int n = 0;
	DIR *dir;

	dir = opendir(CLI_RUN_BASE);
	if (!dir)
		return km_log_errno(-ENOENT,
				    "no stats ring: %s does not exist (is "
				    "kilimanjaro-statsd running?)",
				    CLI_RUN_BASE);
	while ((d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%.64s/stats.ring", CLI_RUN_BASE,
			 d->d_name);
		if (stat(p, &st) || !S_ISREG(st.st_mode))
			continue;
		if (!n++)
			snprintf(found, sizeof(found), "%s", p);
	}
	closedir(dir);
	if (n == 0)
		return km_log_errno(-ENOENT,
				    "no stats ring under %s (is "
				    "kilimanjaro-statsd running?)",
				    CLI_RUN_BASE);
	if (n > 1)
		return km_log_errno(-EINVAL,
				    "%d stats rings under %s: pick one with "
				    "-i IFNAME or --run-dir DIR",
				    n, CLI_RUN_BASE);
	snprintf(out, len, "%s", found);
	return 0;
}

int snapview_open(struct snapview *v, struct cli_ctx *c, const char *run_dir)
{
	int r;

	memset(v, 0, sizeof(*v));
	if (run_dir)
		r = km_ring_path(v->path, sizeof(v->path), run_dir, NULL);
	else if (c->ifname) {
		if (!*c->ifname || strlen(c->ifname) >= 16 ||
		    strchr(c->ifname, '/'))
			return km_log_errno(
			    -EINVAL, "bad interface name \"%s\"", c->ifname);
		r = km_ring_path(v->path, sizeof(v->path), NULL, c->ifname);
	} else
		r = only_ring(v->path, sizeof(v->path));
	if (r)
		return r;
	r = km_ring_reader_open(&v->ring, v->path, false);
	if (r)
		return r;
	return 0;
}

void snapview_close(struct snapview *v)
{
	km_ring_reader_close(v->ring);
	free(v->cur);
	free(v->prev);
	memset(v, 0, sizeof(*v));
}

static int reserve(struct snapview *v)
{
	size_t need = km_ring_reader_payload_max(v->ring);
	void *a, *b;

	if (need <= v->cap)
		return 0;
	a = realloc(v->cur, need);
	if (a)
		v->cur = a;
	b = realloc(v->prev, need);
	if (b)
		v->prev = b;
	if (!a || !b)
		return km_log_errno(-ENOMEM, "out of memory");
	v->cap = need;
	return 0;
}

static int bad(const struct snapview *v, const struct km_ring_info *i)
{
	if (strcmp(i->payload_kind, KM_SNAP_KIND) ||
	    i->payload_version != KM_SNAP_VERSION)
		return km_log_errno(-EPROTO,
				    "%s: holds \"%s\" version %u, not %s "
				    "version %u",
				    v->path, i->payload_kind,
				    i->payload_version, KM_SNAP_KIND,
				    KM_SNAP_VERSION);
	return km_log_errno(-EPROTO, "%s: snapshot %llu is malformed", v->path,
			    (unsigned long long)i->seq);
}

static void set_prev(struct snapview *v, int r)
{
	v->dt_ns = 0;
	if (r || km_snapshot_check(v->prev, v->prev_len) ||
	    v->prev->mono_ns >= v->cur->mono_ns)
		v->prev_len = 0;
	else
		v->dt_ns = v->cur->mono_ns - v->prev->mono_ns;
}

int snapview_read(struct snapview *v)
{
	struct km_ring_info pi;
	int r;

	for (int tries = 0; tries < 3; tries++) {
		r = reserve(v);
		if (r)
			return r;
		r = km_ring_read_latest(v->ring, v->cur, v->cap, &v->cur_len,
					&v->info);
		if (r != -EMSGSIZE)
			break;
	}
	if (r == -EAGAIN)
		return km_log_errno(r,
				    "%s: no snapshot yet (is "
				    "kilimanjaro-statsd running?)",
				    v->path);
	if (r)
		return km_log_errno(r, "%s: cannot read: %s", v->path,
				    strerror(-r));
	if (km_snapshot_check(v->cur, v->cur_len) ||
	    strcmp(v->info.payload_kind, KM_SNAP_KIND))
		return bad(v, &v->info);
	r = km_ring_read_at(v->ring, v->info.seq - 1, v->prev, v->cap,
			    &v->prev_len, &pi);
	set_prev(v, r);
	return 0;
}

int snapview_next(struct snapview *v)
{
	struct km_ring_info info;
	size_t len;
	int r;

	r = reserve(v);
	if (r)
		return r;
	r = km_ring_read_latest(v->ring, v->prev, v->cap, &len, &info);
	if (r == -EAGAIN || r == -EMSGSIZE)
		return 0;
	if (r)
		return r;
	if (info.seq == v->info.seq && !info.resynced) {
		v->info.closed = info.closed;
		return 0;
	}
	if (km_snapshot_check(v->prev, len))
		return bad(v, &info);
	/* The new one becomes cur; the old cur is the previous. */
	{
		struct km_snapshot *t = v->cur;

		v->cur = v->prev;
		v->prev = t;
		v->prev_len = v->cur_len;
		v->cur_len = len;
	}
	v->info = info;
	/* Counters live in the maps: a new statsd (resync) does not reset
	 * them, so the rate across it is still right. */
	set_prev(v, 0);
	return 0;
}

double snapview_rate(const struct snapview *v, uint64_t older, uint64_t newer)
{
	return km_snap_rate(older, newer, v->dt_ns);
}

const struct km_snap_service *snapview_prev_svc(const struct snapview *v,
						const struct km_snap_service *s)
{
	if (!v->prev_len)
		return NULL;
	return km_snapshot_find(v->prev, &s->key);
}
