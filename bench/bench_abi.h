/* SPDX-License-Identifier: GPL-2.0-only */
/* Shared by bench.bpf.c, cost.bpf.c and kmbench: settings in .bss. */
#ifndef KMB_BENCH_ABI_H
#define KMB_BENCH_ABI_H

#include <linux/types.h>

#include "kilimanjaro_abi.h"

/* Every frame of the benchmark is this long on the wire (before the
 * program under test encapsulates or decapsulates it). */
#define KMB_PKT_LEN 128

struct kmb_gen_cfg {
	__u64 pkt[KMB_PKT_LEN / 8]; /* the template frame, restored each run */
	__u32 src_base;		    /* host order: first IPv4 source */
	__u32 src_mask;		    /* source = src_base + (seq & src_mask);
				       0 keeps the template's source */
};
_Static_assert(sizeof(struct kmb_gen_cfg) == KMB_PKT_LEN + 8, "kmb_gen_cfg");

/* cost.bpf.c's keys (kmbench --diagnose). */
struct cost_cfg {
	__be32 player;	  /* forward scenario's source (in no list) */
	__be32 denied;	  /* deny scenario's source */
	__be32 validated; /* the decap scenario's (validated) player */
	__be32 edge;
	__be32 backend;
	__u32 flood_base; /* host order */
	__u32 flood_mask;
	struct km_service_key svc;
	__u64 divisor; /* cost_div64: any value > 1 */
};

#endif
