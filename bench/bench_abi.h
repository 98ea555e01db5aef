/* SPDX-License-Identifier: GPL-2.0-only */
/* Shared by bench.bpf.c and kmbench: the generator's settings (.bss). */
#ifndef KMB_BENCH_ABI_H
#define KMB_BENCH_ABI_H

#include <linux/types.h>

/* Every frame of the benchmark is this long on the wire (before the
 * program under test encapsulates or decapsulates it). */
#define KMB_PKT_LEN 128

struct kmb_gen_cfg {
	__u64 pkt[KMB_PKT_LEN / 8]; /* the template frame, restored each run */
	__u32 src_base;             /* host order: first IPv4 source */
	__u32 src_mask;             /* source = src_base + (seq & src_mask);
				       0 keeps the template's source */
};
_Static_assert(sizeof(struct kmb_gen_cfg) == KMB_PKT_LEN + 8, "kmb_gen_cfg");

#endif
