// SPDX-License-Identifier: GPL-2.0-only
/*
 * Hot source lines of the program under test, for bench/run --profile:
 * kmbench --lines writes where each source line of km_xdp landed in the
 * JIT image (the kernel's jited_line_info, names from the program's BTF);
 * kmbench --hot reads perf's sampled instruction pointers and counts them
 * per line. perf cannot annotate BPF code here (no libopcodes), and this
 * needs nothing but the kernel's own records.
 */
#include "kmbench.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "log.h"

struct prog_lines {
	struct bpf_line_info *li;
	__u64 *jited;
	__u64 ksym;
	__u32 len, n, btf_id;
};

/* Two calls: the counts first, then the arrays. */
static int prog_lines_get(int fd, struct prog_lines *pl)
{
	struct bpf_prog_info info = {};
	__u32 ilen = sizeof(info), nl, nj, lrs, flen;

	if (bpf_obj_get_info_by_fd(fd, &info, &ilen))
		return -errno;
	nl = info.nr_line_info;
	nj = info.nr_jited_line_info;
	lrs = info.line_info_rec_size;
	if (!nl || nl != nj || info.nr_jited_ksyms < 1)
		return -ENODATA;
	pl->li = calloc(nl, lrs);
	pl->jited = calloc(nj, sizeof(__u64));
	if (!pl->li || !pl->jited)
		return -ENOMEM;
	memset(&info, 0, sizeof(info));
	info.nr_line_info = nl;
	info.line_info_rec_size = lrs;
	info.line_info = (uintptr_t)pl->li;
	info.nr_jited_line_info = nj;
	info.jited_line_info_rec_size = sizeof(__u64);
	info.jited_line_info = (uintptr_t)pl->jited;
	info.nr_jited_ksyms = 1;
	info.jited_ksyms = (uintptr_t)&pl->ksym;
	info.nr_jited_func_lens = 1;
	info.jited_func_lens = (uintptr_t)&flen;
	ilen = sizeof(info);
	if (bpf_obj_get_info_by_fd(fd, &info, &ilen))
		return -errno;
	pl->n = nl;
	pl->len = flen;
	pl->btf_id = info.btf_id;
	return 0;
}

/* "# <start> <len>", then "<address> <file>:<line> <source>" per record. */
int kmb_lines_dump(int prog_fd, const char *path)
{
	struct prog_lines pl = {};
	struct btf *btf = NULL;
	FILE *f = NULL;
	int err;

	err = prog_lines_get(prog_fd, &pl);
	if (err) {
		km_log_errno(err, "no line information for km_xdp");
		goto out;
	}
	btf = btf__load_from_kernel_by_id(pl.btf_id);
	f = fopen(path, "we");
	if (!btf || !f) {
		err = km_log_errno(-errno, "cannot write %s", path);
		goto out;
	}
	fprintf(f, "# %" PRIx64 " %u\n", (uint64_t)pl.ksym, pl.len);
	for (__u32 i = 0; i < pl.n; i++) {
		const char *file =
		    btf__name_by_offset(btf, pl.li[i].file_name_off);
		const char *src = btf__name_by_offset(btf, pl.li[i].line_off);
		const char *base = file ? strrchr(file, '/') : NULL;

		fprintf(f, "%" PRIx64 " %s:%u %s\n", (uint64_t)pl.jited[i],
			base   ? base + 1
			: file ? file
			       : "?",
			BPF_LINE_INFO_LINE_NUM(pl.li[i].line_col),
			src ? src : "");
	}
out:
	if (f)
		fclose(f);
	btf__free(btf);
	free(pl.li);
	free(pl.jited);
	return err;
}

struct line {
	uint64_t addr;
	char *text;
	unsigned long hits;
};

static int cmp_addr(const void *a, const void *b)
{
	const struct line *x = a, *y = b;

	return (x->addr > y->addr) - (x->addr < y->addr);
}

static int cmp_text(const void *a, const void *b)
{
	const struct line *x = a, *y = b;

	return strcmp(x->text, y->text);
}

static int cmp_hits(const void *a, const void *b)
{
	const struct line *x = a, *y = b;

	return (x->hits < y->hits) - (x->hits > y->hits);
}

static int lines_load(const char *path, struct line **out, size_t *n,
		      uint64_t *start, uint64_t *len)
{
	char buf[512], *sp;
	struct line *v = NULL, *nv;
	size_t cap = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return km_log_errno(-errno, "cannot read %s", path);
	*n = 0;
	while (fgets(buf, sizeof(buf), f)) {
		buf[strcspn(buf, "\n")] = '\0';
		if (buf[0] == '#') {
			sscanf(buf, "# %" SCNx64 " %" SCNu64, start, len);
			continue;
		}
		sp = strchr(buf, ' ');
		if (!sp)
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 1024;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv)
				break;
			v = nv;
		}
		v[*n] =
		    (struct line){strtoull(buf, NULL, 16), strdup(sp + 1), 0};
		if (!v[*n].text)
			break;
		(*n)++;
	}
	fclose(f);
	qsort(v, *n, sizeof(*v), cmp_addr);
	*out = v;
	return 0;
}

/* Samples (hex addresses, one per line, as `perf script -F ip` prints
 * them) on stdin; the `top` hottest lines of the program to stdout. */
int kmb_lines_hot(const char *path, int top)
{
	uint64_t start = 0, len = 0, ip;
	unsigned long total = 0, inside = 0;
	struct line *v = NULL;
	char buf[128];
	size_t n = 0, lo, hi;
	int err;

	err = lines_load(path, &v, &n, &start, &len);
	if (err || !n)
		return err ?: km_log_errno(-ENODATA, "%s: no lines", path);
	while (fgets(buf, sizeof(buf), stdin)) {
		if (sscanf(buf, " %" SCNx64, &ip) != 1)
			continue;
		total++;
		if (ip < start || ip >= start + len || ip < v[0].addr)
			continue;
		inside++;
		for (lo = 0, hi = n; hi - lo > 1;)
			if (v[(lo + hi) / 2].addr <= ip)
				lo = (lo + hi) / 2;
			else
				hi = (lo + hi) / 2;
		v[lo].hits++;
	}
	/* A source line is often in several places of the image. */
	qsort(v, n, sizeof(*v), cmp_text);
	for (size_t i = 1; i < n; i++)
		if (!strcmp(v[i].text, v[i - 1].text)) {
			v[i].hits += v[i - 1].hits;
			v[i - 1].hits = 0;
		}
	qsort(v, n, sizeof(*v), cmp_hits);
	printf("samples %lu, in km_xdp %lu (%.1f%%); its hottest lines, in %% "
	       "of all samples:\n",
	       total, inside, total ? 100.0 * inside / total : 0);
	for (size_t i = 0; i < n && (int)i < top && v[i].hits; i++)
		printf("%5.1f%%  %.100s\n", 100.0 * v[i].hits / total,
		       v[i].text);
	for (size_t i = 0; i < n; i++)
		free(v[i].text);
	free(v);
	return 0;
}
