// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fill levels of hash maps without walking them: a bpf_map iterator that
 * writes (map id, element count) for every map of the host, the count from
 * the kernel's own per-CPU counter (bpf_map_sum_elem_count, kernel 6.6+).
 * A key walk or batch dump of an empty 262,144-bucket LRU costs
 * milliseconds; this costs a few microseconds per map. Read by
 * lib/snapshot.c (struct km_fill_rec).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* Only the fields read, relocated against the running kernel's BTF. */
struct seq_file;
struct bpf_map {
	__u32 id;
} __attribute__((preserve_access_index));
struct bpf_iter_meta {
	struct seq_file *seq;
} __attribute__((preserve_access_index));
struct bpf_iter__bpf_map {
	struct bpf_iter_meta *meta;
	struct bpf_map *map;
} __attribute__((preserve_access_index));

extern __s64 bpf_map_sum_elem_count(const struct bpf_map *map) __ksym;

struct km_fill_rec {
	__u32 id;
	__u32 pad;
	__s64 count;
};

SEC("iter/bpf_map")
int km_map_fill(struct bpf_iter__bpf_map *ctx)
{
	struct bpf_map *map = ctx->map;
	struct km_fill_rec rec = {};

	if (!map)
		return 0;
	rec.id = map->id;
	rec.count = bpf_map_sum_elem_count(map);
	bpf_seq_write(ctx->meta->seq, &rec, sizeof(rec));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
