// SPDX-License-Identifier: GPL-2.0-only
/*
 * kilimanjaro top: a live view of the stats ring, redrawn in place with
 * ANSI sequences on the alternate screen. The terminal is restored on q,
 * Ctrl-C, SIGTERM and SIGHUP: the signal handlers only set a flag, the
 * loop does the restoring.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "snapview.h"

static const char top_usage[] =
    "usage: kilimanjaro [-i IFNAME] top [--run-dir DIR] [--iterations N]\n"
    "\n"
    "Packets/s and bits/s by verdict and by service, and the A2S hit rate,\n"
    "from the stats ring kilimanjaro-statsd writes (default\n"
    "/run/kilimanjaro/IFNAME/stats.ring; no BPF access needed). Redrawn at\n"
    "every new snapshot. q or Ctrl-C quits. --iterations N: draw N\n"
    "snapshots, then exit (without a terminal: plain text, no escapes).\n";

static volatile sig_atomic_t top_stop, top_winch;

static void on_stop(int sig)
{
	(void)sig;
	top_stop = 1;
}

static void on_winch(int sig)
{
	(void)sig;
	top_winch = 1;
}

struct term {
	bool tty;
	bool raw; /* termios changed: restore */
	struct termios saved;
	struct sigaction old[4];
	int rows, cols;
};

static const int stop_sigs[] = {SIGINT, SIGTERM, SIGHUP};

static void term_size(struct term *t)
{
	struct winsize ws;

	t->rows = 24;
	t->cols = 100;
	if (t->tty && !ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) && ws.ws_row) {
		t->rows = ws.ws_row;
		t->cols = ws.ws_col;
	}
}

static void term_enter(struct term *t)
{
	struct sigaction sa = {.sa_handler = on_stop};
	struct termios raw;

	/* No SA_RESTART: poll() returns EINTR and the loop sees the flag. */
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < 3; i++)
		sigaction(stop_sigs[i], &sa, &t->old[i]);
	sa.sa_handler = on_winch;
	sigaction(SIGWINCH, &sa, &t->old[3]);
	t->tty = isatty(STDOUT_FILENO) && isatty(STDIN_FILENO);
	term_size(t);
	if (!t->tty)
		return;
	if (!tcgetattr(STDIN_FILENO, &t->saved)) {
		raw = t->saved;
		raw.c_lflag &= ~(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		t->raw = !tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw);
	}
	/* Alternate screen, cursor hidden. */
	fputs("\033[?1049h\033[?25l", stdout);
	fflush(stdout);
}

static void term_leave(struct term *t)
{
	if (t->tty) {
		fputs("\033[?25h\033[?1049l", stdout);
		fflush(stdout);
	}
	if (t->raw)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &t->saved);
	for (size_t i = 0; i < 3; i++)
		sigaction(stop_sigs[i], &t->old[i], NULL);
	sigaction(SIGWINCH, &t->old[3], NULL);
}

/* One line; on a terminal cut at its width and the rest of the line
 * cleared, so a shorter redraw leaves no old characters behind. */
static void __attribute__((format(printf, 3, 4)))
line(const struct term *t, int *row, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (t->tty && *row >= t->rows - 1)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (t->tty && t->cols > 0 && (int)strlen(buf) > t->cols)
		buf[t->cols] = 0;
	fputs(buf, stdout);
	fputs(t->tty ? "\033[K\n" : "\n", stdout);
	(*row)++;
}

static void draw_verdicts(const struct term *t, const struct snapview *v,
			  int *row)
{
	const struct km_snapshot *s = v->cur, *p = v->prev;
	double pps[KM_VC_MAX] = {0}, bps[KM_VC_MAX] = {0}, tp = 0, tb = 0;
	uint64_t req = 0, hit = 0;
	char a[24], b[24], h[48];

	for (uint32_t r = 0; v->dt_ns && r < s->n_reasons && r < KM_R_MAX;
	     r++) {
		enum km_verdict_class c = km_reason_class(r);

		pps[c] += snapview_rate(v, p->reasons[r].packets,
					s->reasons[r].packets);
		bps[c] += 8 * snapview_rate(v, p->reasons[r].bytes,
					    s->reasons[r].bytes);
	}
	for (uint32_t i = 0; v->dt_ns && i < s->n_services; i++) {
		const struct km_snap_service *x = &s->services[i],
					     *y = snapview_prev_svc(v, x);

		uint64_t hh, tt;

		if (!y)
			continue;
		km_a2s_hits(&y->a2s, &x->a2s, &hh, &tt);
		hit += hh;
		req += tt;
	}
	if (req)
		snprintf(h, sizeof(h), "%.1f%% of %s", 100.0 * hit / req,
			 cli_si(a, sizeof(a), req * 1e9 / v->dt_ns, " req/s"));
	else
		snprintf(h, sizeof(h), "- (no A2S requests to answer)");
	line(t, row, "%-8s %10s %10s    A2S hit rate: %s", "verdict", "pkt/s",
	     "bit/s", h);
	for (int c = 0; c < KM_VC_MAX; c++) {
		tp += pps[c];
		tb += bps[c];
		line(t, row, "%-8s %10s %10s", km_verdict_class_name(c),
		     cli_si(a, sizeof(a), pps[c], ""),
		     cli_si(b, sizeof(b), bps[c], ""));
	}
	line(t, row, "%-8s %10s %10s", "total", cli_si(a, sizeof(a), tp, ""),
	     cli_si(b, sizeof(b), tb, ""));
}

/* The busiest reasons of the interval on one line. */
static void draw_reasons(const struct term *t, const struct snapview *v,
			 int *row)
{
	char out[400] = "", a[24];
	size_t n = 0;
	double best[KM_R_MAX];

	for (uint32_t r = 0; r < KM_R_MAX; r++)
		best[r] = v->dt_ns && r < v->cur->n_reasons
			      ? snapview_rate(v, v->prev->reasons[r].packets,
					      v->cur->reasons[r].packets)
			      : 0;
	for (int k = 0; k < 6; k++) {
		uint32_t m = 0;

		for (uint32_t r = 1; r < KM_R_MAX; r++)
			if (best[r] > best[m])
				m = r;
		if (best[m] <= 0)
			break;
		n += snprintf(out + n, sizeof(out) - n, "  %s %s",
			      km_reason_name(m),
			      cli_si(a, sizeof(a), best[m], "/s"));
		best[m] = 0;
		if (n >= sizeof(out))
			break;
	}
	line(t, row, "reasons:%s", n ? out : "  (no packets)");
}

struct svc_rate {
	const struct km_snap_service *s;
	double v[8]; /* pps and bps per kind: rx, fwd, drop, ret */
	double hit;  /* A2S hit rate, < 0 when none */
};

static int by_rx(const void *a, const void *b)
{
	const struct svc_rate *x = a, *y = b;
	double dx = x->v[0] + x->v[6], dy = y->v[0] + y->v[6];

	return dx < dy	 ? 1
	       : dx > dy ? -1
			 : (x->s->id > y->s->id) - (x->s->id < y->s->id);
}

static void draw_services(const struct term *t, const struct snapview *v,
			  int *row)
{
	const struct km_snapshot *s = v->cur;
	struct svc_rate *sr =
	    calloc(s->n_services ? s->n_services : 1, sizeof(*sr));
	char c[8][24], name[48], h[16];

	if (!sr)
		return;
	for (uint32_t i = 0; i < s->n_services; i++) {
		const struct km_snap_service *p =
		    snapview_prev_svc(v, &s->services[i]);
		const uint64_t *x = (const uint64_t *)&s->services[i].st;

		sr[i].s = &s->services[i];
		sr[i].hit = -1;
		for (int k = 0; p && k < 8; k++)
			sr[i].v[k] =
			    (k & 1 ? 8 : 1) *
			    snapview_rate(v, ((const uint64_t *)&p->st)[k],
					  x[k]);
		if (p) {
			uint64_t hh, tt;

			km_a2s_hits(&p->a2s, &s->services[i].a2s, &hh, &tt);
			if (tt)
				sr[i].hit = (double)hh / (double)tt;
		}
	}
	qsort(sr, s->n_services, sizeof(*sr), by_rx);
	line(t, row, "%-28s %9s %9s %9s %9s %9s %9s %7s", "service", "rx pkt/s",
	     "rx bit/s", "fwd pkt/s", "drop pkt/s", "ret pkt/s", "ret bit/s",
	     "a2s hit");
	for (uint32_t i = 0; i < s->n_services; i++) {
		for (int k = 0; k < 8; k++)
			cli_si(c[k], sizeof(c[k]), sr[i].v[k], "");
		if (sr[i].hit >= 0)
			snprintf(h, sizeof(h), "%.1f%%", 100 * sr[i].hit);
		else
			snprintf(h, sizeof(h), "-");
		line(t, row, "%-28s %9s %9s %9s %9s %9s %9s %7s",
		     km_snap_service_name(name, sizeof(name), &sr[i].s->key),
		     c[0], c[1], c[2], c[4], c[6], c[7], h);
	}
	if (!s->n_services)
		line(t, row, "  (no services)");
	if (s->flags & KM_SNAP_F_TRUNCATED)
		line(t, row, "  (%u of %u services in the snapshot)",
		     s->n_services, s->services_total);
	free(sr);
}

static void draw(const struct term *t, const struct snapview *v)
{
	const struct km_snapshot *s = v->cur;
	char maps[400] = "", a[24];
	uint64_t age = km_mono_ns() - s->mono_ns;
	size_t n = 0;
	int row = 0;
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	if (t->tty)
		fputs("\033[H", stdout);
	line(t, &row,
	     "kilimanjaro top  %s  snapshot %llu  every %s  %02d:%02d:%02d",
	     v->path, (unsigned long long)v->info.seq,
	     cli_duration(a, sizeof(a), s->interval_ns / 1e9), tm.tm_hour,
	     tm.tm_min, tm.tm_sec);
	if (v->info.closed || age > 3 * s->interval_ns + 1000000000ull)
		line(t, &row,
		     "!! kilimanjaro-statsd is not publishing: last "
		     "snapshot %.1f s ago",
		     age / 1e9);
	else if (!v->dt_ns)
		line(t, &row, "(rates from the next snapshot on)");
	else
		line(t, &row, "%s", "");
	draw_verdicts(t, v, &row);
	draw_reasons(t, v, &row);
	line(t, &row, "%s", "");
	for (uint32_t i = 0; i < s->n_maps && n < sizeof(maps); i++)
		n += snprintf(maps + n, sizeof(maps) - n, "  %.16s %llu/%llu",
			      s->maps[i].name,
			      (unsigned long long)s->maps[i].entries,
			      (unsigned long long)s->maps[i].max_entries);
	line(t, &row, "maps:%s", maps);
	line(t, &row, "%s", "");
	draw_services(t, v, &row);
	if (t->tty)
		fputs("\033[J", stdout);
	else
		fputs("\n", stdout);
	fflush(stdout);
}

/* Wait for a key, a signal or the next poll; true when q was pressed. */
static bool wait_input(const struct term *t, int ms)
{
	struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
	char ch[16];
	ssize_t n;

	if (!t->tty) {
		poll(NULL, 0, ms);
		return false;
	}
	if (poll(&p, 1, ms) <= 0)
		return false;
	n = read(STDIN_FILENO, ch, sizeof(ch));
	for (ssize_t i = 0; i < n; i++)
		if (ch[i] == 'q' || ch[i] == 'Q' || ch[i] == 3)
			return true;
	return false;
}

static int top_loop(struct term *t, struct snapview *v, uint64_t iterations)
{
	uint64_t drawn = 0, shown = 0;
	int r;

	top_stop = top_winch = 0;
	while (!top_stop) {
		if (v->info.seq != shown || top_winch) {
			top_winch = 0;
			term_size(t);
			draw(t, v);
			shown = v->info.seq;
			if (iterations && ++drawn >= iterations)
				break;
		}
		if (wait_input(t, 50))
			break;
		r = snapview_next(v);
		if (r)
			return r;
	}
	return 0;
}

int cmd_top(struct cli_ctx *c, int argc, char **argv)
{
	const char *run_dir = NULL;
	uint64_t iterations = 0;
	struct cli_opt opts[] = {
	    {.name = "run-dir", .type = CLI_OPT_STR, .dst = &run_dir},
	    {.name = "iterations",
	     .type = CLI_OPT_U64,
	     .dst = &iterations,
	     .max = 1000000},
	    {0},
	};
	struct term t = {0};
	struct snapview v;
	char *pos[1];
	int np, r;

	r = cli_args("top", top_usage, argc, argv, opts, pos, &np, 0, 0);
	if (r)
		return r;
	if (c->json)
		return km_log_errno(-EINVAL, "top: no --json (use "
					     "`kilimanjaro --json stats`)");
	r = snapview_open(&v, c, run_dir);
	if (!r)
		r = snapview_read(&v);
	if (!r) {
		term_enter(&t);
		r = top_loop(&t, &v, iterations);
		term_leave(&t);
	}
	snapview_close(&v);
	return r;
}
