/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Kilimanjaro ABI: the one header shared by the XDP program, the mapper's
 * TC/XDP program and every userspace process.
 *
 * Contract:
 *  - every struct here is a map key or value; layouts are versioned by
 *    KM_ABI_VERSION. A changed struct gets a new map name (km_<name>_v2) and
 *    a migration in the loader, never a silent mismatch;
 *  - byte order is part of the type: __be* fields are network order, every
 *    other integer is host order;
 *  - times are CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns()) unless a
 *    field says otherwise;
 *  - no bitfields, no bool, no pointers, explicit padding.
 */
#ifndef KILIMANJARO_ABI_H
#define KILIMANJARO_ABI_H

#include <linux/types.h>

/* 2: km_stats/km_counters have a fixed capacity (KM_STATS_SLOTS) so that
 * new reasons never change a pinned map again; the A2S maps. */
#define KM_ABI_VERSION 2

/* Per-service arrays are indexed by service id, 0 .. KM_MAX_SERVICES-1. */
#define KM_MAX_SERVICES 4096
#define KM_MAX_EDGE_ADDRS 64

/* Default map sizes; the loader may override them from the config
 * ("map_sizes") before the first load. Sizes of existing pins win: a
 * different size in the config is reported as an error. */
#define KM_DEF_PREFIXES 65536   /* each of allow_a/allow_b/deny_a/deny_b */
#define KM_DEF_BLOCKS 65536
#define KM_DEF_RL_SRC 262144
#define KM_DEF_VALIDATED 131072
#define KM_DEF_PUNCHES 65536
#define KM_EVENTS_BYTES (256 * 1024)

/* Map names: "km_" + at most 12 characters. Pinned as
 * <pin-root>/<name>, pin-root default /sys/fs/bpf/kilimanjaro/<ifname>. */
#define KM_MAP_CONFIG "km_config"
#define KM_MAP_EDGE_ADDRS "km_edge_addrs"
#define KM_MAP_SERVICES "km_services"
#define KM_MAP_SVC_CFG "km_svc_cfg"
#define KM_MAP_SVC_ADDRS "km_svc_addrs"
#define KM_MAP_BACKENDS "km_backends"
#define KM_MAP_BACKEND_SVC "km_backend_svc"
#define KM_MAP_SVC_REV "km_svc_rev"
#define KM_MAP_FIB_CACHE "km_fib_cache"
#define KM_MAP_VAL_SEEN "km_val_seen"
#define KM_MAP_UNVAL_SEEN "km_unval_seen"
#define KM_MAP_SVC_CACHE "km_svc_cache"
#define KM_MAP_REV_CACHE "km_rev_cache"
#define KM_MAP_VAL_FILTER "km_val_filter"
#define KM_MAP_ALLOW_A "km_allow_a"
#define KM_MAP_ALLOW_B "km_allow_b"
#define KM_MAP_DENY_A "km_deny_a"
#define KM_MAP_DENY_B "km_deny_b"
#define KM_MAP_ALLOW_BM_A "km_allow_bm_a"
#define KM_MAP_ALLOW_BM_B "km_allow_bm_b"
#define KM_MAP_DENY_BM_A "km_deny_bm_a"
#define KM_MAP_DENY_BM_B "km_deny_bm_b"
#define KM_MAP_BLOCKS "km_blocks"
#define KM_MAP_RL_SRC "km_rl_src"
#define KM_MAP_RL_TOTAL "km_rl_total"
#define KM_MAP_VALIDATED "km_validated"
#define KM_MAP_PUNCHES "km_punches"
#define KM_MAP_STATS "km_stats"
#define KM_MAP_COUNTERS "km_counters"
#define KM_MAP_SVC_STATS "km_svc_stats"
#define KM_MAP_EVENTS "km_events"
#define KM_MAP_A2S_CFG "km_a2s_cfg"
#define KM_MAP_A2S_KEY "km_a2s_key"
#define KM_MAP_A2S_INFO "km_a2s_info"
#define KM_MAP_A2S_STATS "km_a2s_stats"
#define KM_MAP_A2S_WSTATS "km_a2s_wstats"
#define KM_MAP_XSKS "km_xsks"
/* The pinned bpf_link of the XDP attachment. */
#define KM_PIN_LINK "km_link"

/* Who installed an entry. A reload or a sync only touches its own origin. */
enum km_origin {
	KM_ORIGIN_NONE = 0,
	KM_ORIGIN_CONFIG = 1,     /* the loader, from the config file */
	KM_ORIGIN_CLI = 2,        /* `kilimanjaro ... add` */
	KM_ORIGIN_CONTROLLER = 3, /* the agent, from the controller */
	KM_ORIGIN_LEARNED = 4,    /* the XDP program itself */
	KM_ORIGIN_MAX,
};

/*
 * Every packet the XDP program sees ends in exactly one of these; counted
 * per CPU in km_stats (packets and bytes, bytes = frame length as received).
 * Documented one by one in docs/design.md ("Verdicts").
 */
enum km_reason {
	KM_R_PASS_NOT_IPV4 = 0,   /* ARP, IPv6, ...: to the kernel */
	KM_R_PASS_NOT_OURS,       /* IPv4 neither to a service nor to the edge */
	KM_R_PASS_EDGE,           /* to an edge address (SSH, BGP, ...) */
	KM_R_PASS_FIB,            /* forward/decap wanted, FIB lookup failed: kernel */
	KM_R_FWD_SERVICE,         /* player -> service, IPIP to the backend */
	KM_R_FWD_PUNCH,           /* remote -> punched port, IPIP to the backend */
	KM_R_FWD_DECAP,           /* backend -> player, decapsulated and sent */
	KM_R_TX_ICMP_ECHO,        /* echo request to a service answered here */
	KM_R_DROP_TRUNCATED,      /* frame shorter than the headers it claims */
	KM_R_DROP_BAD_IP,         /* IPv4 header inconsistent (ihl, tot_len) */
	KM_R_DROP_IP_OPTIONS,     /* IHL > 5 towards a service */
	KM_R_DROP_FRAGMENT,       /* IPv4 fragment towards a service */
	KM_R_DROP_BLOCKED,        /* source on the timed block list */
	KM_R_DROP_DENIED,         /* source in a deny prefix */
	KM_R_DROP_RATELIMIT,      /* source bucket exhausted */
	KM_R_DROP_RL_BLOCKED,     /* source within its block time after a limit */
	KM_R_DROP_SVC_LIMIT,      /* service-wide unvalidated budget exhausted */
	KM_R_DROP_NO_SERVICE,     /* to a service address, no service or punch */
	KM_R_DROP_ICMP,           /* ICMP to a service that is not an echo request */
	KM_R_DROP_IPIP_NOT_BACKEND, /* IPIP whose outer source is not a backend */
	KM_R_DROP_IPIP_BAD_INNER, /* IPIP inner packet not from a service of that backend, or malformed */
	KM_R_DROP_TOO_BIG,        /* encapsulated packet exceeds the egress MTU */
	KM_R_DROP_INTERNAL,       /* a helper failed (adjust_head, ...) */
	/* A2S (issue 3, docs/design.md "A2S"). Only UDP requests to a service
	 * with A2S enabled, after the block/deny/allow lists and the limits. */
	KM_R_TX_A2S_CHALLENGE,    /* request without a valid challenge: 9-byte
				     S2C_CHALLENGE sent back (never larger
				     than the request) */
	KM_R_TX_A2S_CACHED,       /* A2S_INFO with a valid challenge answered
				     from km_a2s_info */
	KM_R_REDIR_A2S_WORKER,    /* request the XDP program cannot answer
				     (PLAYER, RULES, INFO miss): to this
				     queue's AF_XDP worker */
	KM_R_REDIR_A2S_INGEST,    /* a game server's answer to a worker's
				     query (decapsulated, inner destination is
				     the edge address): to this queue's worker */
	KM_R_PASS_A2S_INGEST,     /* the same, no worker on this queue: to the
				     kernel (the querying worker's UDP socket) */
	KM_R_MAX,
};

/* Events that are not verdicts; per-CPU u64 in km_counters. */
enum km_counter {
	KM_C_RL_NEW = 0,       /* rate-limit buckets created (insertions into km_rl_src) */
	KM_C_VALIDATED_NEW,    /* players newly validated */
	KM_C_VALIDATED_EXPIRED,/* validated entries found idle and removed */
	KM_C_PUNCH_LEARNED,    /* port punches learned on the decap path */
	KM_C_PUNCH_EXPIRED,    /* punches found idle and removed */
	KM_C_BLOCK_ADDED,      /* blocks the data plane added */
	KM_C_BLOCK_EXPIRED,    /* blocks found expired and removed */
	KM_C_EVENT_LOST,       /* ring buffer full: event not reported */
	KM_C_INSERT_FAILED,    /* a map update from XDP failed (map full) */
	KM_C_A2S_SEEN,         /* A2S requests recognised by the parse stage */
	KM_C_MAX,
};

/* km_stats and km_counters are PERCPU_ARRAYs of this many slots (more than
 * KM_R_MAX / KM_C_MAX): adding a reason or a counter keeps the pinned map.
 * Slots >= KM_R_MAX / KM_C_MAX stay 0. */
#define KM_STATS_SLOTS 64
_Static_assert(KM_R_MAX <= KM_STATS_SLOTS, "km_stats capacity");
_Static_assert(KM_C_MAX <= KM_STATS_SLOTS, "km_counters capacity");

enum km_proto_idx { KM_P_UDP = 0, KM_P_TCP = 1, KM_P_ICMP = 2, KM_P_MAX };

/* km_stats value, per CPU, indexed by enum km_reason. */
struct km_stat {
	__u64 packets;
	__u64 bytes;
};
_Static_assert(sizeof(struct km_stat) == 16, "km_stat");

/* km_config: ARRAY, one entry (key 0). Written by the loader only. */
struct km_config {
	__u32 abi_version;      /* KM_ABI_VERSION of the loader that wrote it */
	__u32 active_lists;     /* 0: km_allow_a/km_deny_a active, 1: *_b */
	__be32 edge_addr;       /* outer source of IPIP to backends */
	__u32 flags;            /* KM_CFG_F_* */
	__u64 punch_idle_ns;    /* punch expires after this idle time */
	__u64 validated_idle_ns;/* validated player expires after this idle time */
	__u64 test_now_ns;      /* only read when the object was loaded with
				   rodata km_settable_clock = 1 (tests) */
	__u8 rl_prefix_len;     /* unvalidated buckets aggregate sources by this
				   prefix length (1..32, default 24) */
	__u8 lib_flags;         /* KM_LIB_F_*: kept by lib/maps.c alone (its
				   km_config_write preserves them, like
				   active_lists); 0 is always safe */
	__u16 svc_epoch;        /* bumped by lib/maps.c after every change of
				   km_services: the data plane's per-CPU
				   service cache (km_svc_cache) drops entries
				   of another epoch */
	__u8 pad[4];
};
_Static_assert(sizeof(struct km_config) == 48, "km_config");

#define KM_CFG_F_ICMP_ECHO 0x1 /* answer echo requests to service addresses */

/* km_config.lib_flags */
#define KM_LIB_F_NO_BLOCKS 0x1 /* km_blocks is empty: packets skip the lookup.
				  Cleared before a block is added, set when
				  an edit leaves the map empty (expiry by
				  the data plane leaves it clear). */

/* km_edge_addrs: HASH, key __be32 edge address, value struct km_edge_addr. */
struct km_edge_addr {
	__u32 flags;  /* reserved, 0 */
	__u8 origin;  /* enum km_origin */
	__u8 pad[3];
};
_Static_assert(sizeof(struct km_edge_addr) == 8, "km_edge_addr");

/* km_services: HASH, (protocol, service address, port) -> service. */
struct km_service_key {
	__u8 proto;    /* IPPROTO_UDP or IPPROTO_TCP */
	__u8 pad;
	__be16 port;   /* network order */
	__be32 addr;   /* network order */
};
_Static_assert(sizeof(struct km_service_key) == 8, "km_service_key");

struct km_service {
	__u32 id;            /* index into km_svc_cfg, km_svc_stats, km_rl_total */
	__be32 backend;      /* game-server host, IPIP outer destination */
	__be16 backend_port; /* 0: keep the port; else rewrite to this */
	__u8 origin;         /* enum km_origin */
	__u8 flags;          /* KM_SVC_F_* */
};
_Static_assert(sizeof(struct km_service) == 12, "km_service");

/*
 * A token bucket (GCRA): rate per second and burst. 0 rate = unlimited.
 * block_ms: after the bucket rejects a packet, the source is refused for
 * this long (0 = no block time, just drop the excess).
 */
struct km_limit {
	__u32 pps;         /* packets per second, 0 = unlimited */
	__u32 burst_pkts;  /* bucket depth in packets (>= 1 when pps != 0) */
	__u64 bps;         /* bytes per second (IP length), 0 = unlimited */
	__u64 burst_bytes; /* bucket depth in bytes */
	__u32 block_ms;    /* block time after the limit is exceeded */
	__u32 ns_per_pkt;  /* 1e9 / pps (rounded down), written by lib/maps.c
			      with pps so that packets do not divide; 0 when
			      pps is 0 or the writer left it out: the data
			      plane then divides itself (same verdicts). Was
			      padding: a 0 from an older writer is valid. */
};
_Static_assert(sizeof(struct km_limit) == 32, "km_limit");

/* km_svc_cfg: ARRAY[KM_MAX_SERVICES], indexed by service id. */
struct km_svc_cfg {
	struct km_limit unvalidated; /* per source prefix (rl_prefix_len), for
					unvalidated sources */
	struct km_limit validated;   /* per validated player address */
	struct km_limit total;       /* per CPU share of the service-wide budget
					for unvalidated sources (the loader
					divides by the number of CPUs) */
	struct km_limit icmp;        /* echo requests, per source prefix */
	__u32 flags;                 /* KM_SVC_F_* mirror */
	__u32 pad;
};
_Static_assert(sizeof(struct km_svc_cfg) == 136, "km_svc_cfg");

#define KM_SVC_F_A2S 0x1 /* A2S caching enabled (issue 3) */

/* km_svc_addrs: HASH, key __be32 service address. Derived from km_services by
 * userspace (lib/maps.c) after every change of km_services. */
struct km_svc_addr {
	__u32 icmp_service_id; /* lowest service id at this address: its icmp
				  limit applies to echo requests */
	__u32 services;        /* number of services at this address */
};
_Static_assert(sizeof(struct km_svc_addr) == 8, "km_svc_addr");

/* km_backends: HASH, key __be32 backend address, value __u32 number of
 * services it serves. Derived. */

/* km_backend_svc: HASH, (backend, service address) -> __u32 number of
 * services. Derived. Decapsulation requires a hit here. */
struct km_backend_svc_key {
	__be32 backend;
	__be32 svc_addr;
};
_Static_assert(sizeof(struct km_backend_svc_key) == 8, "km_backend_svc_key");

/* km_svc_rev: HASH, derived (one entry per service). The return path's
 * view of a service: the backend answers from (service address, the port
 * it was sent to), which is backend_port when the service rewrites it.
 * A hit both authenticates the inner source (the backend serves that
 * service) and names the service; a miss is a port punch. */
struct km_svc_rev_key {
	__u8 proto;      /* IPPROTO_UDP or IPPROTO_TCP */
	__u8 pad;
	__be16 port;     /* backend_port, or the service port when that is 0 */
	__be32 svc_addr; /* service address (the inner source) */
	__be32 backend;  /* the backend (the outer source) */
};
_Static_assert(sizeof(struct km_svc_rev_key) == 12, "km_svc_rev_key");

struct km_svc_rev {
	__u32 id;        /* service id */
	__be16 svc_port; /* the service's port: the player's replies come
			    from it (inner source port rewritten when it
			    differs from the key's port) */
	__u16 pad;
};
_Static_assert(sizeof(struct km_svc_rev) == 8, "km_svc_rev");

/* km_allow_*, km_deny_*: LPM_TRIE, BPF_F_NO_PREALLOC. */
struct km_prefix_key {
	__u32 prefixlen; /* 0..32 */
	__be32 addr;     /* network order, host bits zero */
};
_Static_assert(sizeof(struct km_prefix_key) == 8, "km_prefix_key");

struct km_prefix_val {
	__u8 origin; /* enum km_origin */
	__u8 pad[7];
};
_Static_assert(sizeof(struct km_prefix_val) == 8, "km_prefix_val");

/*
 * km_allow_bm_*, km_deny_bm_*: ARRAY (BPF_F_MMAPABLE) of KM_BM_WORDS __u64,
 * next to the LPM trie of the same name and pair (km_config.active_lists
 * switches both). Two bits per /24, DIR-24-8 style: /24 number
 * n = host-order address >> 8 is in word n / 32 at bit (n % 32) * 2.
 *   KM_BM_TRIE (0, also 3): look the address up in the trie. 0 is what a
 *                      new or never-built bitmap holds, so a bitmap that
 *                      userspace did not build only costs the trie lookup;
 *   KM_BM_NONE (1):    no prefix of the list touches this /24: miss;
 *   KM_BM_ALL (2):     a prefix of length <= 24 covers the whole /24: hit.
 * Written only by lib/maps.c, through mmap, into the inactive pair before a
 * flip. 4 MiB each, 16 MiB for the four.
 */
#define KM_BM_WORDS (1U << 19)
#define KM_BM_TRIE 0
#define KM_BM_NONE 1
#define KM_BM_ALL 2
#define KM_BM_MASK 3

/* km_blocks: LRU_HASH, key __be32 source address. */
struct km_block {
	__u64 until_ns; /* blocked while now < until_ns */
	__u8 origin;    /* enum km_origin */
	__u8 reason;    /* enum km_block_reason */
	__u8 pad[6];
};
_Static_assert(sizeof(struct km_block) == 16, "km_block");

enum km_block_reason {
	KM_BLOCK_MANUAL = 0,     /* config, CLI or controller */
	KM_BLOCK_RATELIMIT = 1,  /* a limit was exceeded */
	KM_BLOCK_REASON_MAX,
};

/* Token-bucket state (GCRA theoretical arrival times). */
struct km_bucket {
	__u64 tat_pkts;        /* ns */
	__u64 tat_bytes;       /* ns */
	__u64 blocked_until;   /* ns; 0 = not blocked */
};
_Static_assert(sizeof(struct km_bucket) == 24, "km_bucket");

/* km_rl_src: LRU_HASH (BPF_F_NO_COMMON_LRU), unvalidated sources
 * aggregated by prefix. */
struct km_rl_key {
	__u32 service_id;
	__be32 prefix;   /* source address masked to rl_prefix_len */
	__u8 kind;       /* 0: service traffic, 1: ICMP echo */
	__u8 pad[7];
};
_Static_assert(sizeof(struct km_rl_key) == 16, "km_rl_key");

/* km_rl_total: PERCPU_ARRAY[KM_MAX_SERVICES] of struct km_bucket. */

/* km_validated: LRU_HASH. Inserted only on the decap path (the backend
 * answered this player), so spoofed sources can never insert or evict. */
struct km_validated_key {
	__u32 service_id;
	__be32 player;
};
_Static_assert(sizeof(struct km_validated_key) == 8, "km_validated_key");

struct km_validated {
	__u64 last_seen_ns;   /* last packet from the backend to this player */
	struct km_bucket bucket;
};
_Static_assert(sizeof(struct km_validated) == 32, "km_validated");

/* km_punches: LRU_HASH. (protocol, service address, port the backend used,
 * remote, remote port) -> backend. */
struct km_punch_key {
	__u8 proto;
	__u8 pad[3];
	__be32 svc_addr;
	__be32 remote;
	__be16 svc_port;
	__be16 remote_port;
};
_Static_assert(sizeof(struct km_punch_key) == 16, "km_punch_key");

struct km_punch {
	__be32 backend;
	__u8 origin;         /* KM_ORIGIN_LEARNED, _CONTROLLER or _CLI */
	__u8 pad[3];
	__u64 last_seen_ns;  /* refreshed by traffic both ways (at most ~1/s);
				userspace entries set it at install time */
};
_Static_assert(sizeof(struct km_punch) == 16, "km_punch");

/* km_fib_cache: PERCPU_ARRAY[KM_FIB_SLOTS], the data plane's own (userspace
 * never writes it): successful bpf_fib_lookup results, direct-mapped by a
 * hash of (destination, ingress ifindex), reused until expires_ns
 * (docs/design.md "FIB and MTU"). */
#define KM_FIB_SLOTS 8192
#define KM_FIB_TTL_NS 1000000000ULL /* route/neighbour changes apply after
				       at most this long */
struct km_fib_entry {
	__be32 dst;          /* lookup destination */
	__be32 src;          /* lookup source */
	__u32 ifindex_in;    /* ingress ifindex of the lookup */
	__u32 ifindex_out;   /* egress ifindex */
	__u8 smac[6];
	__u8 dmac[6];
	__u16 mtu;           /* egress MTU (IP bytes) */
	__u16 pad;
	__u64 expires_ns;    /* km_now_coarse() time; 0 = empty slot */
};
_Static_assert(sizeof(struct km_fib_entry) == 40, "km_fib_entry");

/* km_val_seen: PERCPU_ARRAY[KM_SEEN_SLOTS], the data plane's own: on the
 * decap path, the (service, player) pairs whose km_validated entry this
 * CPU found or inserted less than KM_SEEN_NS ago, so a steady reply stream
 * skips the LRU lookup (docs/design.md "Rate limits and validated
 * players"). Direct-mapped by a hash of the pair. */
#define KM_SEEN_SLOTS 8192
#define KM_SEEN_NS 1000000000ULL
/* km_unval_seen: PERCPU_ARRAY[KM_SEEN_SLOTS] of struct km_seen, the data
 * plane's own: on the player path, the (service, source) pairs this CPU
 * found not validated less than KM_SEEN_NS ago. The decap path clears the
 * pair on every CPU (the first KM_SEEN_CPUS) when it validates it. */
#define KM_SEEN_CPUS 256
struct km_seen {
	__be32 player;
	__u32 service_id;
	__u64 until_ns;  /* km_now_coarse() time; 0 = empty */
};
_Static_assert(sizeof(struct km_seen) == 16, "km_seen");

/* km_val_filter: ARRAY[KM_VAL_FILTER_WORDS] of __u64, the data plane's own:
 * a negative filter in front of km_validated. Bit km_val_filter_bit()
 * of (service id, player) is set (atomically, never cleared) whenever the
 * decap path finds or inserts the pair in km_validated; a clear bit proves
 * the pair is not validated, so the player path skips the LRU lookup. A
 * set bit may be another pair's: it only costs the lookup
 * (docs/design.md "Rate limits and validated players"). 2^21 bits, 256 KiB:
 * small enough to stay in L2, where every flood packet reads a random word. */
#define KM_VAL_FILTER_BITS 21
#define KM_VAL_FILTER_WORDS (1U << (KM_VAL_FILTER_BITS - 6))

/* km_svc_cache: PERCPU_ARRAY[KM_SVC_CACHE_SLOTS], the data plane's own:
 * km_services hits, direct-mapped by a hash of the key, valid while
 * km_config.svc_epoch is unchanged (docs/design.md "Services"). */
#define KM_SVC_CACHE_SLOTS 256
struct km_svc_cached {
	struct km_service_key key;
	struct km_service svc;
	__u16 epoch;   /* svc_epoch when cached */
	__u8 valid;    /* 0 = empty slot */
	__u8 pad;
};
_Static_assert(sizeof(struct km_svc_cached) == 24, "km_svc_cached");

/* km_rev_cache: PERCPU_ARRAY[KM_SVC_CACHE_SLOTS], the same for km_svc_rev
 * hits on the decap path (km_svc_rev is derived in the same edits that
 * bump svc_epoch). */
struct km_rev_cached {
	struct km_svc_rev_key key;
	struct km_svc_rev rev;
	__u16 epoch;   /* svc_epoch when cached */
	__u8 valid;    /* 0 = empty slot */
	__u8 pad[5];
};
_Static_assert(sizeof(struct km_rev_cached) == 28, "km_rev_cached");

/* km_svc_stats: PERCPU_ARRAY[KM_MAX_SERVICES]. */
struct km_svc_stat {
	__u64 rx_packets;   /* packets matched to the service */
	__u64 rx_bytes;
	__u64 fwd_packets;  /* encapsulated to the backend */
	__u64 fwd_bytes;
	__u64 drop_packets; /* dropped by block/deny/limits */
	__u64 drop_bytes;
	__u64 ret_packets;  /* backend -> player (decap) */
	__u64 ret_bytes;
};
_Static_assert(sizeof(struct km_svc_stat) == 64, "km_svc_stat");

/* km_events: RINGBUF of struct km_event, for the agent. */
enum km_event_type {
	KM_EV_PUNCH_LEARNED = 1,
	KM_EV_BLOCK_ADDED = 2,
	KM_EV_MAX,
};

struct km_event {
	__u32 type;        /* enum km_event_type */
	__u32 service_id;  /* service concerned, or ~0 */
	__u64 ts_ns;
	struct km_punch_key punch; /* KM_EV_PUNCH_LEARNED */
	__be32 backend;            /* KM_EV_PUNCH_LEARNED */
	__be32 block_addr;         /* KM_EV_BLOCK_ADDED: address or prefix */
	__u8 block_prefix_len;     /* KM_EV_BLOCK_ADDED */
	__u8 block_reason;         /* enum km_block_reason */
	__u8 pad[6];
	__u64 block_until_ns;      /* KM_EV_BLOCK_ADDED */
};
_Static_assert(sizeof(struct km_event) == 56, "km_event");

/*
 * A2S cache (issue 3; docs/design.md "A2S"). Requests: A2S_INFO (54),
 * A2S_PLAYER (55), A2S_RULES (56) over UDP to a service whose
 * km_a2s_cfg.flags has KM_A2S_F_ENABLED.
 */
#define KM_A2S_INFO_MAX 1400  /* largest cached A2S_INFO answer (UDP payload,
				 header FF FF FF FF 49 included); a larger or
				 split answer is served by the worker */
#define KM_A2S_MAX_QUEUES 64  /* km_xsks slots (RX queue index) */

/* km_a2s_cfg: ARRAY[KM_MAX_SERVICES], indexed by service id, written with
 * the service by lib/maps.c (flags 0 = A2S off for that service). */
struct km_a2s_cfg {
	__u32 flags;         /* KM_A2S_F_* */
	__u32 pad;
	__u64 refresh_ns;    /* an answer older than this is stale: served,
				and refreshed by a worker */
	__u64 max_age_ns;    /* an answer older than this is never served */
	__u64 timeout_ns;    /* a server silent this long is down */
};
_Static_assert(sizeof(struct km_a2s_cfg) == 32, "km_a2s_cfg");

#define KM_A2S_F_ENABLED 0x1
#define KM_A2S_F_NO_CHALLENGE 0x2 /* challenge policy "off": cached answers
				     to unproven sources (an amplifier;
				     legacy clients only) */

/* km_a2s_key: ARRAY[1], written by the loader (later the agent). The
 * challenge for a request is SipHash-2-4(key, player address, player port,
 * service address, service port, epoch), truncated to 32 bits; a challenge
 * of the current or the previous epoch, under the current or the previous
 * key, is accepted. The epoch is advanced by userspace from the wall clock
 * (CLOCK_REALTIME / epoch_s), so every edge agrees without the data plane
 * reading a clock. flags 0 (no key yet): no challenges are issued and
 * A2S traffic is forwarded to the game server. */
struct km_a2s_key {
	__u64 k0, k1;          /* current key */
	__u64 prev_k0, prev_k1;/* previous key (== current when never rotated) */
	__u32 epoch;           /* current epoch number */
	__u32 key_id;          /* bumped on every rotation */
	__u32 flags;           /* KM_A2S_KEY_F_* */
	__u32 epoch_s;         /* seconds per epoch (informational for XDP) */
};
_Static_assert(sizeof(struct km_a2s_key) == 48, "km_a2s_key");
#define KM_A2S_KEY_F_VALID 0x1

/* km_a2s_info: ARRAY[KM_MAX_SERVICES] (BPF_F_MMAPABLE), indexed by service
 * id: the cached A2S_INFO answer. Written only by the AF_XDP workers,
 * through mmap, as a seqlock: seq odd while writing; the XDP program reads
 * seq (even), copies, and re-reads seq; any change means the copy is not
 * sent. The entry names the service it belongs to, so an id reused by
 * another service never serves the old one's answer. */
struct km_a2s_entry {
	__u32 seq;            /* seqlock sequence */
	__u32 flags;          /* KM_A2S_E_* */
	__u64 updated_ns;     /* CLOCK_MONOTONIC of the answer's arrival */
	struct km_service_key svc; /* (UDP, service address, service port) */
	__u16 len;            /* bytes of data[] */
	__u16 pad;
	__u32 csum;           /* 32-bit one's complement sum of data[] as
				 big-endian 16-bit words (odd byte padded
				 with 0), unfolded; 0 when len is 0 */
	__u8 data[KM_A2S_INFO_MAX]; /* UDP payload: FF FF FF FF 49 ... */
};
_Static_assert(sizeof(struct km_a2s_entry) == 1432, "km_a2s_entry");
#define KM_A2S_E_VALID 0x1    /* data holds an answer */
#define KM_A2S_E_DOWN 0x2     /* the server missed its timeout: not served */

/* km_a2s_stats: PERCPU_ARRAY[KM_MAX_SERVICES], the XDP program's A2S
 * counters per service. */
struct km_a2s_stat {
	__u64 requests;        /* A2S requests seen after the limits */
	__u64 challenges;      /* S2C_CHALLENGE sent */
	__u64 bad_challenges;  /* request carried a challenge that failed */
	__u64 cached;          /* answered from km_a2s_info */
	__u64 stale;           /* of which older than refresh_ns */
	__u64 to_worker;       /* redirected to the queue's worker */
	__u64 forwarded;       /* forwarded to the game server (no key, no
				  worker and nothing cached, or a torn read) */
	__u64 ingested;        /* server answers redirected/passed for ingest */
};
_Static_assert(sizeof(struct km_a2s_stat) == 64, "km_a2s_stat");

/* km_a2s_wstats: ARRAY[KM_MAX_SERVICES] (BPF_F_MMAPABLE), the workers'
 * counters per service, added with atomic adds through mmap. */
struct km_a2s_wstat {
	__u64 refreshes;       /* queries sent to the game server */
	__u64 ingested;        /* answers stored in the cache */
	__u64 served;          /* answers sent by a worker (PLAYER, RULES,
				  INFO misses), in requests */
	__u64 served_frames;   /* frames those answers took */
	__u64 pending_dropped; /* requests given up (server down/timeout) */
	__u64 server_down;     /* up -> down transitions */
	__u64 bad_answers;     /* malformed or unexpected server packets */
	__u64 pad;
};
_Static_assert(sizeof(struct km_a2s_wstat) == 64, "km_a2s_wstat");

/* km_xsks: XSKMAP[KM_A2S_MAX_QUEUES], RX queue index -> the AF_XDP socket
 * of that queue's worker. The kernel empties a slot when its socket closes;
 * the XDP program looks the slot up before redirecting and forwards (or
 * passes) when it is empty, never XDP_ABORTED. */

#endif /* KILIMANJARO_ABI_H */
