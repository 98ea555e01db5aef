/* SPDX-License-Identifier: GPL-2.0-only */
/* Shared by bench.bpf.c, cost.bpf.c and kmbench: settings in .bss. */
#ifndef KMB_BENCH_ABI_H
#define KMB_BENCH_ABI_H

#include <linux/types.h>

#include "kilimanjaro_abi.h"

/* Every frame of the benchmark is this long on the wire (before the
 * program under test encapsulates or decapsulates it). */
#define KMB_PKT_LEN 128

/* After restoring the template, kmb_gen writes one IPv4 address of it,
 * addr = base + (seq & mask), and patches the checksum of the IPv4 header
 * that holds it: a new source (or player) per packet. mask 0 writes the
 * template's own address: the same work for every scenario. */
struct kmb_gen_cfg {
	__u64 pkt[KMB_PKT_LEN / 8]; /* the template frame */
	__u32 base;		    /* host order */
	__u32 mask;
	__u32 addr_off; /* offset of the address in the frame */
	__u32 csum_off; /* offset of its IPv4 header checksum */
};
_Static_assert(sizeof(struct kmb_gen_cfg) == KMB_PKT_LEN + 16, "kmb_gen_cfg");

/* Where the rewritten address is: the (outer) source, or the inner
 * destination of an IPIP frame (the player of the decap path). */
#define KMB_OFF_SRC (14 + 12)
#define KMB_OFF_SRC_CSUM (14 + 10)
#define KMB_OFF_INNER_DST (14 + 20 + 16)
#define KMB_OFF_INNER_CSUM (14 + 20 + 10)

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
	__u32 fwd_id;	/* service ids of the forward ... */
	__u32 flood_id; /* ... and flood scenarios */
	__u64 divisor;	/* cost_div64: any value > 1 */
	__u64 sip_k0;	/* cost_siphash: the A2S scenarios' key */
	__u64 sip_k1;
};

/* floors.bpf.c (bench/README.md "Floors"): one packet counter per floor,
 * index of floor_cnt. The same counter serves the repeat and the live run
 * of a floor: every run checks its own delta. */
enum kmb_floor {
	KMB_F_DECAP = 0,
	KMB_F_FORWARD,
	KMB_F_FORWARD_SRC,
	KMB_F_A2S_CHALLENGE,
	KMB_F_A2S_HIT,
	KMB_F_MAX,
};

/* floor_cfg[0]: what the floors read as configuration. */
/* km_service_find()'s slot in km_svc_cache (bpf/kilimanjaro.bpf.c), for
 * the floors' service lookup and kmbench, which fills it. */
static inline __u32 kmb_svc_slot(const struct km_service_key *k)
{
	return (((__u32)k->port << 16 ^ k->proto ^ k->addr) * 0x9e3779b1U) >>
	       (32 - __builtin_ctz(KM_SVC_CACHE_SLOTS));
}

struct kmb_floor_cfg {
	__be32 edge; /* decap: the outer destination; forward: outer source */
	__u32 a2s_epoch; /* the A2S challenge's epoch and key */
	__u64 a2s_k0;
	__u64 a2s_k1;
};

/* floor_hop[0]: a cached next hop (the frame's new Ethernet header). */
struct kmb_floor_hop {
	__u8 dmac[6];
	__u8 smac[6];
};

#endif
