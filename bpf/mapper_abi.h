/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * kilimanjaro-mapper ABI: shared by bpf/mapper.bpf.c (XDP decap + TC egress
 * encap on a game-server host), mapper/ (userspace) and its tests.
 *
 * Same contract as kilimanjaro_abi.h: every struct is a map key or value,
 * layouts are versioned by KMM_ABI_VERSION (a changed struct gets a new map
 * name), __be* fields are network order, every other integer host order,
 * times are CLOCK_MONOTONIC ns (bpf_ktime_get_ns()), no bitfields, no bool,
 * no pointers, explicit padding.
 */
#ifndef KILIMANJARO_MAPPER_ABI_H
#define KILIMANJARO_MAPPER_ABI_H

#include <linux/types.h>

#define KMM_ABI_VERSION 1

#define KMM_MAX_EDGES 256
#define KMM_MAX_SERVICES 1024
#define KMM_DEF_FLOWS 262144

/* Map names: "km_m_" + at most 10 characters (the kernel keeps 15).
 * Pinned as <pin-root>/<name>, default pin root
 * /sys/fs/bpf/kilimanjaro-mapper/<ifname>. */
#define KMM_MAP_CONFIG "km_m_config"
#define KMM_MAP_EDGES "km_m_edges"
#define KMM_MAP_SERVICES "km_m_services"
#define KMM_MAP_FLOWS "km_m_flows"
#define KMM_MAP_STATS "km_m_stats"
#define KMM_MAP_COUNTERS "km_m_counters"
/* Pinned bpf_links: the XDP attachment and the tcx egress attachment. */
#define KMM_PIN_XDP_LINK "km_m_xdp_link"
#define KMM_PIN_TC_LINK "km_m_tc_link"

/*
 * Every packet either program sees ends in exactly one of these; counted per
 * CPU in km_m_stats (packets, and bytes = frame length as the program saw
 * it). XDP reasons first, then TC egress reasons.
 */
enum kmm_reason {
	KMM_R_XDP_PASS_NOT_IPV4 = 0, /* ARP, IPv6, ...: to the kernel */
	KMM_R_XDP_PASS_NOT_IPIP,     /* IPv4, not protocol 4: to the kernel */
	KMM_R_XDP_PASS_NOT_HOST,     /* IPIP whose outer destination is not
					the host address: to the kernel */
	KMM_R_XDP_DECAP,	     /* decapsulated, inner packet passed */
	KMM_R_XDP_DROP_NOT_EDGE,     /* IPIP to the host, outer source is not
					a configured edge */
	KMM_R_XDP_DROP_BAD_OUTER,    /* IPIP outer header truncated,
					inconsistent or a fragment */
	KMM_R_XDP_DROP_BAD_INNER,    /* inner packet truncated, not IPv4,
					inconsistent lengths */
	KMM_R_XDP_DROP_NOT_SERVICE,  /* inner destination is not a service
					address */
	KMM_R_XDP_DROP_INTERNAL,     /* a helper failed (adjust_head) */
	KMM_R_TC_PASS_NOT_IPV4,	     /* egress, not IPv4: untouched */
	KMM_R_TC_PASS_NOT_SERVICE,   /* egress IPv4 whose source is not a
					service address: untouched */
	KMM_R_TC_PASS_IPIP,	     /* egress IPIP: our own output passing
					again after bpf_redirect_neigh (or
					another tunnel): untouched */
	KMM_R_TC_ENCAP_LEARNED,	     /* encapsulated to the learned edge */
	KMM_R_TC_ENCAP_DEFAULT,	     /* no (live) learned flow: default edge */
	KMM_R_TC_DROP_NO_EDGE,	     /* no learned flow and no default edge */
	KMM_R_TC_DROP_BAD_IP,	     /* egress IPv4 header inconsistent */
	KMM_R_TC_DROP_TOO_BIG,	     /* encapsulated packet exceeds the MTU */
	KMM_R_TC_DROP_INTERNAL,	     /* a helper failed (adjust_room, ...) */
	KMM_R_MAX,
};

/* Events that are not verdicts; per-CPU __u64 in km_m_counters. */
enum kmm_counter {
	KMM_C_FLOW_LEARNED = 0, /* new flow inserted on decap */
	KMM_C_FLOW_MOVED,	/* known flow arrived through another edge */
	KMM_C_FLOW_REFRESHED,	/* last_seen_ns written (at most ~1/s/flow) */
	KMM_C_FLOW_EXPIRED,	/* idle flow found on egress and deleted */
	KMM_C_INSERT_FAILED,	/* flow map update failed */
	KMM_C_DECAP_NO_LEARN,	/* decapsulated without a flow key (inner
				   fragment, ICMP other than echo request,
				   other protocols) */
	KMM_C_MAX,
};

/* km_m_config: ARRAY, one entry (key 0). Written by kilimanjaro-mapper. */
struct kmm_config {
	__u32 abi_version;   /* KMM_ABI_VERSION of the writer */
	__u32 flags;	     /* KMM_CFG_F_* */
	__be32 host_addr;    /* outer destination of decapsulated IPIP and
				outer source of encapsulated replies */
	__be32 default_edge; /* 0: none (unlearned replies are dropped) */
	__u64 idle_ns;	     /* a flow expires after this idle time */
	__u64 test_now_ns;   /* clock when the object was loaded with rodata
				kmm_settable_clock = 1 (tests only) */
};
_Static_assert(sizeof(struct kmm_config) == 32, "kmm_config");

/* Keep the Ethernet header the kernel built for the player instead of
 * routing the outer header to the edge (bpf_redirect_neigh): for hosts
 * whose next hop to every edge is the one to the players. */
#define KMM_CFG_F_KEEP_L2 0x1

/* km_m_edges: HASH, key __be32 edge address. */
struct kmm_edge {
	__u32 flags; /* reserved, 0 */
	__u32 pad;
};
_Static_assert(sizeof(struct kmm_edge) == 8, "kmm_edge");

/* km_m_services: LPM_TRIE (BPF_F_NO_PREALLOC) of service prefixes. */
struct kmm_prefix_key {
	__u32 prefixlen; /* 0..32 */
	__be32 addr;	 /* network order, host bits zero */
};
_Static_assert(sizeof(struct kmm_prefix_key) == 8, "kmm_prefix_key");

struct kmm_service {
	__u32 flags; /* reserved, 0 */
	__u32 pad;
};
_Static_assert(sizeof(struct kmm_service) == 8, "kmm_service");

/*
 * km_m_flows: LRU_HASH. Inserted only by the decap path (traffic from a
 * configured edge), so spoofed traffic from elsewhere cannot evict it.
 * For ICMP, player_port is the echo identifier and svc_port is 0.
 */
struct kmm_flow_key {
	__u8 proto; /* IPPROTO_UDP, IPPROTO_TCP, IPPROTO_ICMP */
	__u8 pad[3];
	__be32 player;	    /* remote address */
	__be32 svc_addr;    /* service address on this host */
	__be16 player_port; /* network order */
	__be16 svc_port;    /* network order */
};
_Static_assert(sizeof(struct kmm_flow_key) == 16, "kmm_flow_key");

struct kmm_flow {
	__be32 edge; /* outer source the flow arrived from */
	__u32 pad;
	__u64 last_seen_ns; /* refreshed by decap at most once a second */
};
_Static_assert(sizeof(struct kmm_flow) == 16, "kmm_flow");

/* km_m_stats: PERCPU_ARRAY[KMM_R_MAX]. */
struct kmm_stat {
	__u64 packets;
	__u64 bytes;
};
_Static_assert(sizeof(struct kmm_stat) == 16, "kmm_stat");

/* km_m_counters: PERCPU_ARRAY[KMM_C_MAX] of __u64. */

#endif /* KILIMANJARO_MAPPER_ABI_H */
