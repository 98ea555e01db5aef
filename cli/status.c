// SPDX-License-Identifier: GPL-2.0-only
/* `kilimanjaro status [--watch [SECONDS]]` */
#include "cli.h"

#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "lib/log.h"

static const char usage[] =
    "usage: kilimanjaro status [--watch [SECONDS]]\n"
    "\n"
    "Whether the XDP program is attached (interface, mode, program), the\n"
    "configuration it runs with, map fill levels, packets and bytes per\n"
    "verdict, event counters and per-service traffic.\n"
    "  --watch [SECONDS]  redraw every SECONDS (default 1) with packets/s\n"
    "                     and bits/s per verdict and per service, until\n"
    "                     Ctrl-C; with --json, one JSON object per line.\n";

/* ---- the attachment ---- */

struct link_state {
	bool pinned;   /* <pin-root>/km_link exists */
	bool attached; /* the link still has an interface */
	uint32_t link_id, prog_id, ifindex;
	char ifname[IF_NAMESIZE]; /* "" when not in this network namespace */
	char prog_name[BPF_OBJ_NAME_LEN];
	char tag[BPF_TAG_SIZE * 2 + 1];
	const char *mode; /* "native", "skb", "offload" or "unknown" */
};

static const char *xdp_mode(uint32_t ifindex, uint32_t prog_id)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	if (bpf_xdp_query(ifindex, 0, &q))
		return "unknown";
	if (q.drv_prog_id == prog_id ||
	    (q.attach_mode == XDP_ATTACHED_DRV && q.prog_id == prog_id))
		return "native";
	if (q.skb_prog_id == prog_id ||
	    (q.attach_mode == XDP_ATTACHED_SKB && q.prog_id == prog_id))
		return "skb";
	if (q.hw_prog_id == prog_id)
		return "offload";
	return "unknown";
}

static void prog_details(struct link_state *ls)
{
	struct bpf_prog_info pi = {};
	uint32_t len = sizeof(pi);
	int fd = bpf_prog_get_fd_by_id(ls->prog_id);

	if (fd < 0)
		return;
	if (!bpf_obj_get_info_by_fd(fd, &pi, &len)) {
		snprintf(ls->prog_name, sizeof(ls->prog_name), "%s", pi.name);
		for (int i = 0; i < BPF_TAG_SIZE; i++)
			snprintf(ls->tag + 2 * i, 3, "%02x", pi.tag[i]);
	}
	close(fd);
}

static int link_read(const char *pin_root, struct link_state *ls)
{
	struct bpf_link_info li = {};
	uint32_t len = sizeof(li);
	char path[PATH_MAX];
	int fd;

	memset(ls, 0, sizeof(*ls));
	ls->mode = "unknown";
	snprintf(path, sizeof(path), "%s/%s", pin_root, KM_PIN_LINK);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return km_log_errno(-errno, "%s: cannot open: %s", path,
				    strerror(errno));
	}
	ls->pinned = true;
	if (bpf_obj_get_info_by_fd(fd, &li, &len)) {
		int r = -errno;

		close(fd);
		return km_log_errno(r, "%s: cannot read link info: %s", path,
				    strerror(-r));
	}
	close(fd);
	ls->link_id = li.id;
	ls->prog_id = li.prog_id;
	ls->ifindex = li.type == BPF_LINK_TYPE_XDP ? li.xdp.ifindex : 0;
	ls->attached = ls->ifindex != 0;
	prog_details(ls);
	if (ls->attached && if_indextoname(ls->ifindex, ls->ifname))
		ls->mode = xdp_mode(ls->ifindex, ls->prog_id);
	else
		ls->ifname[0] = '\0';
	return 0;
}

static char *link_str(char *buf, size_t len, const struct link_state *ls)
{
	char ifn[48];

	if (!ls->pinned) {
		snprintf(buf, len, "no (no %s pin)", KM_PIN_LINK);
		return buf;
	}
	if (!ls->attached) {
		snprintf(buf, len, "no (link %u lost its interface)",
			 ls->link_id);
		return buf;
	}
	if (ls->ifname[0])
		snprintf(ifn, sizeof(ifn), "%s", ls->ifname);
	else
		snprintf(ifn, sizeof(ifn), "ifindex %u (other netns)",
			 ls->ifindex);
	snprintf(buf, len, "%s, %s mode, prog %s id %u, link %u", ifn, ls->mode,
		 ls->prog_name, ls->prog_id, ls->link_id);
	return buf;
}

static struct json_object *link_json(const struct link_state *ls)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "attached",
			       json_object_new_boolean(ls->attached));
	json_object_object_add(o, "link_pinned",
			       json_object_new_boolean(ls->pinned));
	if (!ls->pinned)
		return o;
	json_object_object_add(o, "link_id", cli_json_u64(ls->link_id));
	json_object_object_add(o, "ifindex", cli_json_u64(ls->ifindex));
	json_object_object_add(
	    o, "interface",
	    ls->ifname[0] ? json_object_new_string(ls->ifname) : NULL);
	json_object_object_add(o, "mode", json_object_new_string(ls->mode));
	json_object_object_add(o, "prog_id", cli_json_u64(ls->prog_id));
	json_object_object_add(o, "prog_name",
			       json_object_new_string(ls->prog_name));
	json_object_object_add(o, "prog_tag", json_object_new_string(ls->tag));
	return o;
}

/* ---- a snapshot of the counters ---- */

struct svc_row {
	struct km_service_entry e;
	struct km_svc_stat st;
};

struct snap {
	uint64_t t;
	struct km_stat stats[KM_R_MAX];
	uint64_t counters[KM_C_MAX];
	struct svc_row *svc;
	size_t n_svc;
};

static int by_id(const void *a, const void *b)
{
	const struct svc_row *x = a, *y = b;

	return x->e.val.id < y->e.val.id ? -1 : x->e.val.id > y->e.val.id;
}

static int snap_take(const struct km_maps *m, struct snap *s)
{
	struct km_service_entry *e = NULL;
	size_t n = 0;
	int r;

	memset(s, 0, sizeof(*s));
	r = km_stats_read(m, s->stats);
	r = r ?: km_counters_read(m, s->counters);
	r = r ?: km_services_list(m, &e, &n);
	if (r)
		return r;
	s->svc = calloc(n + 1, sizeof(*s->svc));
	if (!s->svc) {
		free(e);
		return km_log_errno(-ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n && !r; i++) {
		s->svc[i].e = e[i];
		r = km_svc_stat_read(m, e[i].val.id, &s->svc[i].st);
	}
	free(e);
	s->n_svc = n;
	qsort(s->svc, n, sizeof(*s->svc), by_id);
	s->t = km_mono_ns();
	return r;
}

static void snap_free(struct snap *s)
{
	free(s->svc);
	s->svc = NULL;
}

/* ---- map fill ---- */

static const enum km_map_id fill_maps[] = {
    KM_M_SERVICES,   KM_M_SVC_ADDRS, KM_M_BACKENDS, KM_M_BACKEND_SVC,
    KM_M_EDGE_ADDRS, KM_M_ALLOW_A,   KM_M_ALLOW_B,  KM_M_DENY_A,
    KM_M_DENY_B,     KM_M_BLOCKS,    KM_M_RL_SRC,   KM_M_VALIDATED,
    KM_M_PUNCHES,
};
#define N_FILL (sizeof(fill_maps) / sizeof(fill_maps[0]))

static uint32_t map_max(const struct km_maps *m, enum km_map_id id)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);

	if (bpf_obj_get_info_by_fd(m->fd[id], &info, &len))
		return 0;
	return info.max_entries;
}

static const char *short_name(enum km_map_id id)
{
	return km_map_names[id] + 3; /* without "km_" */
}

/* ---- one-shot status ---- */

static void print_config(const struct km_config *cfg)
{
	char a[16];

	printf("%-10s %s, lists %c, rate-limit prefix /%u, icmp echo %s\n",
	       "edge", cli_addr(a, cfg->edge_addr),
	       cfg->active_lists ? 'b' : 'a', cfg->rl_prefix_len,
	       cfg->flags & KM_CFG_F_ICMP_ECHO ? "on" : "off");
	printf("%-10s punch %.0fs, validated player %.0fs, abi %u\n", "idle",
	       cfg->punch_idle_ns / 1e9, cfg->validated_idle_ns / 1e9,
	       cfg->abi_version);
}

/* The list pair packets do not read is empty between reloads: show the
 * active one under the list's name. */
static const char *fill_name(const struct km_config *cfg, enum km_map_id id)
{
	bool b = cfg->active_lists & 1;

	switch (id) {
	case KM_M_ALLOW_A:
	case KM_M_ALLOW_B:
		return (id == KM_M_ALLOW_B) == b ? "allow" : NULL;
	case KM_M_DENY_A:
	case KM_M_DENY_B:
		return (id == KM_M_DENY_B) == b ? "deny" : NULL;
	default:
		return short_name(id);
	}
}

static void print_maps(const struct km_maps *m, const struct km_config *cfg)
{
	int col = 0;

	printf("maps\n");
	for (size_t i = 0; i < N_FILL; i++) {
		const char *name = fill_name(cfg, fill_maps[i]);
		char cnt[48];
		long n;

		if (!name)
			continue;
		n = km_map_count(m, fill_maps[i]);
		snprintf(cnt, sizeof(cnt), "%ld/%u", n < 0 ? 0 : n,
			 map_max(m, fill_maps[i]));
		printf("  %-12s %-12s", name, cnt);
		if (++col == 3) {
			putchar('\n');
			col = 0;
		}
	}
	if (col)
		putchar('\n');
}

static void print_traffic(const struct snap *s)
{
	bool any = false;
	char p[24], b[24];

	printf("%-24s %12s %12s\n", "verdicts", "packets", "bytes");
	for (int r = 0; r < KM_R_MAX; r++) {
		if (!s->stats[r].packets)
			continue;
		any = true;
		printf("  %-22s %12llu %12s\n", km_reason_name(r),
		       (unsigned long long)s->stats[r].packets,
		       cli_si(b, sizeof(b), s->stats[r].bytes, "B"));
	}
	if (!any)
		printf("  (no packets yet)\n");
	any = false;
	printf("counters\n");
	for (int c = 0; c < KM_C_MAX; c++) {
		if (!s->counters[c])
			continue;
		any = true;
		printf("  %-22s %12s\n", km_counter_name(c),
		       cli_si(p, sizeof(p), s->counters[c], ""));
	}
	if (!any)
		printf("  (all zero)\n");
}

static char *svc_name(char *buf, size_t len, const struct km_service_entry *e)
{
	char a[16];

	snprintf(buf, len, "%s %s:%u", cli_proto_name(e->key.proto),
		 cli_addr(a, e->key.addr), ntohs(e->key.port));
	return buf;
}

static void print_services(const struct snap *s)
{
	char n[40], a[16], x[4][16];

	printf("services\n");
	if (!s->n_svc) {
		printf("  (none)\n");
		return;
	}
	printf("  %-4s %-24s %-15s %7s %7s %7s %7s\n", "ID", "SERVICE",
	       "BACKEND", "RX", "FWD", "DROP", "RET");
	for (size_t i = 0; i < s->n_svc; i++) {
		const struct km_svc_stat *st = &s->svc[i].st;

		printf("  %-4u %-24s %-15s %7s %7s %7s %7s\n",
		       s->svc[i].e.val.id, svc_name(n, sizeof(n), &s->svc[i].e),
		       cli_addr(a, s->svc[i].e.val.backend),
		       cli_si(x[0], 16, st->rx_packets, ""),
		       cli_si(x[1], 16, st->fwd_packets, ""),
		       cli_si(x[2], 16, st->drop_packets, ""),
		       cli_si(x[3], 16, st->ret_packets, ""));
	}
}

static struct json_object *svc_stat_json(const struct svc_row *row)
{
	struct json_object *o = json_object_new_object();
	const struct km_svc_stat *st = &row->st;
	char n[40], a[16];

	json_object_object_add(o, "id", cli_json_u64(row->e.val.id));
	json_object_object_add(
	    o, "service",
	    json_object_new_string(svc_name(n, sizeof(n), &row->e)));
	json_object_object_add(
	    o, "backend",
	    json_object_new_string(cli_addr(a, row->e.val.backend)));
	json_object_object_add(
	    o, "origin",
	    json_object_new_string(km_origin_name(row->e.val.origin)));
#define F(x) json_object_object_add(o, #x, cli_json_u64(st->x))
	F(rx_packets);
	F(rx_bytes);
	F(fwd_packets);
	F(fwd_bytes);
	F(drop_packets);
	F(drop_bytes);
	F(ret_packets);
	F(ret_bytes);
#undef F
	return o;
}

static struct json_object *status_json(struct cli_ctx *c,
				       const struct km_maps *m,
				       const struct link_state *ls,
				       const struct km_config *cfg,
				       const struct snap *s)
{
	struct json_object *o = json_object_new_object(), *x, *y;
	char a[16];

	json_object_object_add(o, "pin_root",
			       json_object_new_string(c->pin_root));
	json_object_object_add(o, "link", link_json(ls));
	x = json_object_new_object();
	json_object_object_add(x, "abi_version",
			       cli_json_u64(cfg->abi_version));
	json_object_object_add(
	    x, "edge_address",
	    json_object_new_string(cli_addr(a, cfg->edge_addr)));
	json_object_object_add(
	    x, "active_lists",
	    json_object_new_string(cfg->active_lists ? "b" : "a"));
	json_object_object_add(x, "rate_limit_prefix_len",
			       cli_json_u64(cfg->rl_prefix_len));
	json_object_object_add(
	    x, "icmp_echo",
	    json_object_new_boolean(cfg->flags & KM_CFG_F_ICMP_ECHO));
	json_object_object_add(
	    x, "punch_idle_s",
	    json_object_new_double(cfg->punch_idle_ns / 1e9));
	json_object_object_add(
	    x, "validated_idle_s",
	    json_object_new_double(cfg->validated_idle_ns / 1e9));
	json_object_object_add(o, "config", x);
	x = json_object_new_object();
	for (size_t i = 0; i < N_FILL; i++) {
		long n = km_map_count(m, fill_maps[i]);

		y = json_object_new_object();
		json_object_object_add(y, "entries", json_object_new_int64(n));
		json_object_object_add(y, "max_entries",
				       cli_json_u64(map_max(m, fill_maps[i])));
		json_object_object_add(x, km_map_names[fill_maps[i]], y);
	}
	json_object_object_add(o, "maps", x);
	x = json_object_new_object();
	for (int r = 0; r < KM_R_MAX; r++) {
		y = json_object_new_object();
		json_object_object_add(y, "packets",
				       cli_json_u64(s->stats[r].packets));
		json_object_object_add(y, "bytes",
				       cli_json_u64(s->stats[r].bytes));
		json_object_object_add(x, km_reason_name(r), y);
	}
	json_object_object_add(o, "verdicts", x);
	x = json_object_new_object();
	for (int i = 0; i < KM_C_MAX; i++)
		json_object_object_add(x, km_counter_name(i),
				       cli_json_u64(s->counters[i]));
	json_object_object_add(o, "counters", x);
	x = json_object_new_array();
	for (size_t i = 0; i < s->n_svc; i++)
		json_object_array_add(x, svc_stat_json(&s->svc[i]));
	json_object_object_add(o, "services", x);
	return o;
}

static int status_once(struct cli_ctx *c, const struct km_maps *m,
		       const struct link_state *ls)
{
	struct km_config cfg;
	struct snap s;
	char buf[160];
	int r;

	r = km_config_read(m, &cfg);
	r = r ?: snap_take(m, &s);
	if (r)
		return r;
	if (c->json) {
		cli_json_print(status_json(c, m, ls, &cfg, &s));
	} else {
		printf("%-10s %s\n", "pin root", c->pin_root);
		printf("%-10s %s\n", "attached",
		       link_str(buf, sizeof(buf), ls));
		print_config(&cfg);
		print_maps(m, &cfg);
		print_traffic(&s);
		print_services(&s);
	}
	snap_free(&s);
	return 0;
}

/* ---- --watch ---- */

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct view {
	bool tty;
	int rows, cols, lines;
};

/* One line of the frame; on a terminal it erases what the last frame left. */
static void vline(struct view *v, const char *color, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void vline(struct view *v, const char *color, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (v->tty && v->lines >= v->rows - 1)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (v->tty && (int)strlen(buf) > v->cols)
		buf[v->cols] = '\0';
	/* A reverse-video title bar spans the whole width. */
	if (v->tty && color && !strcmp(color, "1;7"))
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%*s",
			 v->cols - (int)strlen(buf), "");
	if (v->tty && color)
		printf("\033[%sm%s\033[0m\033[K\n", color, buf);
	else
		printf("%s%s\n", buf, v->tty ? "\033[K" : "");
	v->lines++;
}

static const char *reason_color(int r)
{
	const char *n = km_reason_name(r);

	if (!strncmp(n, "drop_", 5))
		return "31"; /* red */
	if (!strncmp(n, "fwd_", 4) || !strncmp(n, "tx_", 3))
		return "32"; /* green */
	return NULL;
}

static double rate(uint64_t now, uint64_t before, double dt)
{
	return now >= before ? (now - before) / dt : 0;
}

static int by_in_rate(const void *a, const void *b)
{
	const double *x = a, *y = b; /* {rate, index} pairs */

	return x[0] < y[0] ? 1 : x[0] > y[0] ? -1 : 0;
}

static const struct svc_row *prev_row(const struct snap *p, uint32_t id)
{
	for (size_t i = 0; i < p->n_svc; i++)
		if (p->svc[i].e.val.id == id)
			return &p->svc[i];
	return NULL;
}

static void watch_services(struct view *v, const struct snap *s,
			   const struct snap *p, double dt)
{
	double(*order)[2] = calloc(s->n_svc + 1, sizeof(*order));
	char n[40], x[5][16];
	size_t shown = 0;

	if (!order)
		return;
	for (size_t i = 0; i < s->n_svc; i++) {
		const struct svc_row *pr = prev_row(p, s->svc[i].e.val.id);

		order[i][0] =
		    pr ? rate(s->svc[i].st.rx_packets, pr->st.rx_packets, dt)
		       : 0;
		order[i][1] = i;
	}
	qsort(order, s->n_svc, sizeof(*order), by_in_rate);
	vline(v, "1", "%-26s %8s %9s %8s %8s %8s", "SERVICE", "IN pps",
	      "IN bit/s", "FWD pps", "DROP pps", "RET pps");
	for (size_t k = 0; k < s->n_svc; k++) {
		const struct svc_row *r = &s->svc[(size_t)order[k][1]];
		const struct svc_row *pr = prev_row(p, r->e.val.id);
		struct km_svc_stat z = {};
		const struct km_svc_stat *a = &r->st, *b = pr ? &pr->st : &z;

		/* Keep two lines for the map and counter footer. */
		if (v->tty && v->lines >= v->rows - 4 && k + 1 < s->n_svc) {
			vline(v, NULL, "  ... and %zu more services",
			      s->n_svc - shown);
			break;
		}
		vline(v, NULL, "%-26s %8s %9s %8s %8s %8s",
		      svc_name(n, sizeof(n), &r->e),
		      cli_si(x[0], 16, rate(a->rx_packets, b->rx_packets, dt),
			     ""),
		      cli_si(x[1], 16, 8 * rate(a->rx_bytes, b->rx_bytes, dt),
			     ""),
		      cli_si(x[2], 16, rate(a->fwd_packets, b->fwd_packets, dt),
			     ""),
		      cli_si(x[3], 16,
			     rate(a->drop_packets, b->drop_packets, dt), ""),
		      cli_si(x[4], 16, rate(a->ret_packets, b->ret_packets, dt),
			     ""));
		shown++;
	}
	if (!s->n_svc)
		vline(v, NULL, "  (no services)");
	free(order);
}

static void watch_footer(struct view *v, const struct km_maps *m,
			 const struct snap *s, const struct snap *p, double dt)
{
	static const enum km_map_id shown[] = {KM_M_RL_SRC, KM_M_VALIDATED,
					       KM_M_BLOCKS, KM_M_PUNCHES};
	char line[256], a[16], b[16];
	size_t n = 0;

	n += snprintf(line, sizeof(line), "maps:");
	for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++) {
		long c = km_map_count(m, shown[i]);

		n += snprintf(line + n, sizeof(line) - n, " %s %s/%s",
			      short_name(shown[i]),
			      cli_si(a, sizeof(a), c < 0 ? 0 : c, ""),
			      cli_si(b, sizeof(b), map_max(m, shown[i]), ""));
	}
	vline(v, NULL, "%s", line);
	n = snprintf(line, sizeof(line), "events/s:");
	for (int c = 0; c < KM_C_MAX && n < sizeof(line); c++) {
		double r = rate(s->counters[c], p->counters[c], dt);

		if (r > 0)
			n += snprintf(line + n, sizeof(line) - n, " %s %s",
				      km_counter_name(c),
				      cli_si(a, sizeof(a), r, ""));
	}
	vline(v, NULL, "%s", n > strlen("events/s:") ? line : "events/s: none");
}

static void watch_frame(struct cli_ctx *c, struct view *v,
			const struct km_maps *m, const struct link_state *ls,
			const struct snap *s, const struct snap *p,
			double interval)
{
	double dt = (s->t - p->t) / 1e9, tp = 0, tb = 0;
	char x[3][16], clock[16];
	time_t now = time(NULL);
	bool any = false;

	strftime(clock, sizeof(clock), "%H:%M:%S", localtime(&now));
	if (v->tty) {
		struct winsize ws;

		v->rows = 24;
		v->cols = 80;
		if (!ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) && ws.ws_row &&
		    ws.ws_col) {
			v->rows = ws.ws_row;
			v->cols = ws.ws_col;
		}
		printf("\033[H");
	}
	v->lines = 0;
	vline(v, "1;7", " kilimanjaro  %-16s %-22s %s  every %gs ",
	      ls->ifname[0] ? ls->ifname : c->pin_root,
	      ls->attached ? ls->mode : "NOT ATTACHED", clock, interval);
	vline(v, NULL, "%s", "");
	vline(v, "1", "%-26s %10s %10s %14s", "VERDICT", "packets/s", "bits/s",
	      "total packets");
	for (int r = 0; r < KM_R_MAX; r++) {
		double pr = rate(s->stats[r].packets, p->stats[r].packets, dt);
		double br = 8 * rate(s->stats[r].bytes, p->stats[r].bytes, dt);

		tp += pr;
		tb += br;
		if (pr <= 0)
			continue;
		any = true;
		vline(v, reason_color(r), "%-26s %10s %10s %14s",
		      km_reason_name(r), cli_si(x[0], 16, pr, ""),
		      cli_si(x[1], 16, br, ""),
		      cli_si(x[2], 16, s->stats[r].packets, ""));
	}
	if (!any)
		vline(v, NULL, "  (no packets in this interval)");
	vline(v, "1", "%-26s %10s %10s", "total", cli_si(x[0], 16, tp, ""),
	      cli_si(x[1], 16, tb, ""));
	vline(v, NULL, "%s", "");
	watch_services(v, s, p, dt);
	vline(v, NULL, "%s", "");
	watch_footer(v, m, s, p, dt);
	if (v->tty)
		printf("\033[J");
	else
		putchar('\n');
	fflush(stdout);
}

static void watch_json(const struct snap *s, const struct snap *p)
{
	double dt = (s->t - p->t) / 1e9;
	struct json_object *o = json_object_new_object(), *x, *y;

	json_object_object_add(o, "time", json_object_new_int64(time(NULL)));
	json_object_object_add(o, "interval_s", json_object_new_double(dt));
	x = json_object_new_object();
	for (int r = 0; r < KM_R_MAX; r++) {
		double pr = rate(s->stats[r].packets, p->stats[r].packets, dt);

		if (pr <= 0)
			continue;
		y = json_object_new_object();
		json_object_object_add(y, "pps", json_object_new_double(pr));
		json_object_object_add(
		    y, "bps",
		    json_object_new_double(
			8 * rate(s->stats[r].bytes, p->stats[r].bytes, dt)));
		json_object_object_add(x, km_reason_name(r), y);
	}
	json_object_object_add(o, "verdicts", x);
	x = json_object_new_array();
	for (size_t i = 0; i < s->n_svc; i++) {
		const struct svc_row *pr = prev_row(p, s->svc[i].e.val.id);
		struct km_svc_stat z = {};
		const struct km_svc_stat *a = &s->svc[i].st,
					 *b = pr ? &pr->st : &z;
		char n[40];

		y = json_object_new_object();
		json_object_object_add(y, "id",
				       cli_json_u64(s->svc[i].e.val.id));
		json_object_object_add(y, "service",
				       json_object_new_string(svc_name(
					   n, sizeof(n), &s->svc[i].e)));
#define R(name, f, mul)                                                        \
	json_object_object_add(                                                \
	    y, name, json_object_new_double(mul *rate(a->f, b->f, dt)))
		R("rx_pps", rx_packets, 1);
		R("rx_bps", rx_bytes, 8);
		R("fwd_pps", fwd_packets, 1);
		R("drop_pps", drop_packets, 1);
		R("ret_pps", ret_packets, 1);
#undef R
		json_object_array_add(x, y);
	}
	json_object_object_add(o, "services", x);
	puts(json_object_to_json_string_ext(
	    o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(stdout);
	json_object_put(o);
}

static void sleep_s(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (time_t)s) * 1e9)};

	/* A signal ends the sleep early: that is how --watch stops. */
	nanosleep(&ts, NULL);
}

static int status_watch(struct cli_ctx *c, const struct km_maps *m,
			double interval)
{
	struct sigaction sa = {.sa_handler = on_signal};
	struct view v = {.tty = !c->json && isatty(STDOUT_FILENO)};
	struct link_state ls;
	struct snap prev, cur;
	int r;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	r = snap_take(m, &prev);
	if (r)
		return r;
	if (v.tty)
		printf("\033[?1049h\033[?25l\033[H\033[2J"); /* alt screen */
	for (bool first = true; !stop; first = false) {
		/* The first frame comes quickly, then one per interval. */
		sleep_s(first && interval > 0.5 ? 0.5 : interval);
		if (stop)
			break;
		r = link_read(c->pin_root, &ls);
		r = r ?: snap_take(m, &cur);
		if (r)
			break;
		if (c->json)
			watch_json(&cur, &prev);
		else
			watch_frame(c, &v, m, &ls, &cur, &prev, interval);
		snap_free(&prev);
		prev = cur;
	}
	snap_free(&prev);
	if (v.tty)
		printf("\033[?25h\033[?1049l");
	fflush(stdout);
	return r;
}

int cmd_status(struct cli_ctx *c, int argc, char **argv)
{
	double watch = -1;
	bool watching = false;
	const struct cli_opt opts[] = {
	    {.name = "watch",
	     .type = CLI_OPT_OPT_SECONDS,
	     .dst = &watch,
	     .max = 3600,
	     .dflt = 1.0,
	     .seen = &watching},
	    {.name = NULL},
	};
	struct link_state ls;
	struct km_maps m;
	char *pos[1];
	int np, r;

	r = cli_args("status", usage, argc, argv, opts, pos, &np, 0, 0);
	if (r)
		return r;
	if (watching && watch < 0.1)
		return km_log_errno(
		    -EINVAL, "status: --watch interval must be at least 0.1 s");
	r = cli_open_maps(c, &m);
	if (r)
		return r;
	r = link_read(c->pin_root, &ls);
	if (!r)
		r = watching ? status_watch(c, &m, watch)
			     : status_once(c, &m, &ls);
	km_maps_close(&m);
	return r;
}
