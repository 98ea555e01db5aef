// SPDX-License-Identifier: GPL-2.0-only
/* Generic BPF helpers for tests: BPF_PROG_TEST_RUN of XDP, per-CPU sums,
 * map entry counts. Know nothing about Kilimanjaro's maps. */
#include "kmtest.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

int kmt_xdp_run(int prog_fd, struct kmt_xdp_run *r)
{
	struct xdp_md ctx = {
	    .data = 0,
	    .data_end = (__u32)r->in_len,
	    .ingress_ifindex = r->ifindex,
	    .rx_queue_index = r->rx_queue,
	};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = r->in,
		    .data_size_in = (__u32)r->in_len, .data_out = r->out,
		    .data_size_out = r->out ? (__u32)r->out_cap : 0,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx),
		    .repeat = r->repeat ? r->repeat : 1);
	int err;

	err = bpf_prog_test_run_opts(prog_fd, &o);
	if (err) {
		err = -errno;
		fprintf(
		    stderr,
		    "kmtest: BPF_PROG_TEST_RUN (%zu bytes, ifindex %u): %s\n",
		    r->in_len, r->ifindex, strerror(-err));
		return err;
	}
	r->retval = o.retval;
	r->duration = o.duration;
	r->out_len = o.data_size_out;
	return 0;
}

int kmt_percpu_sum(int map_fd, uint32_t key, __u64 *out, size_t nwords)
{
	struct bpf_map_info info = {};
	__u32 ilen = sizeof(info);
	size_t stride, n;
	__u64 *vals;
	int ncpu, err;

	if (bpf_obj_get_info_by_fd(map_fd, &info, &ilen))
		return -errno;
	if (info.value_size != nwords * 8) {
		fprintf(stderr, "kmtest: map %s value size %u, expected %zu\n",
			info.name, info.value_size, nwords * 8);
		return -EINVAL;
	}
	ncpu = info.type == BPF_MAP_TYPE_PERCPU_ARRAY ||
		       info.type == BPF_MAP_TYPE_PERCPU_HASH ||
		       info.type == BPF_MAP_TYPE_LRU_PERCPU_HASH
		   ? libbpf_num_possible_cpus()
		   : 1;
	if (ncpu < 1)
		return ncpu;
	stride = nwords; /* u64 words: already 8-byte aligned */
	n = stride * (size_t)ncpu;
	vals = calloc(n, 8);
	if (!vals)
		return -ENOMEM;
	if (bpf_map_lookup_elem(map_fd, &key, vals)) {
		err = -errno;
		fprintf(stderr, "kmtest: lookup %s[%u]: %s\n", info.name, key,
			strerror(-err));
		free(vals);
		return err;
	}
	memset(out, 0, nwords * 8);
	for (int c = 0; c < ncpu; c++)
		for (size_t w = 0; w < nwords; w++)
			out[w] += vals[(size_t)c * stride + w];
	free(vals);
	return 0;
}

long kmt_map_count(int map_fd)
{
	struct bpf_map_info info = {};
	__u32 ilen = sizeof(info);
	uint8_t *cur, *next;
	long n = 0;
	int err;

	if (bpf_obj_get_info_by_fd(map_fd, &info, &ilen))
		return -errno;
	cur = calloc(2, info.key_size);
	if (!cur)
		return -ENOMEM;
	next = cur + info.key_size;
	err = bpf_map_get_next_key(map_fd, NULL, next);
	while (!err) {
		n++;
		memcpy(cur, next, info.key_size);
		err = bpf_map_get_next_key(map_fd, cur, next);
	}
	free(cur);
	return err == -ENOENT ? n : err;
}

int kmt_pin_cpu(void)
{
	cpu_set_t set;
	int cpu = sched_getcpu();

	if (cpu < 0)
		return -errno;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		return -errno;
	return cpu;
}
