/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kmtest: what the bpf, mapper and bench tests share.
 *
 *  - a packet builder (Ethernet, IPv4 with options/fragment bits, UDP, TCP,
 *    ICMP echo, an optional IPIP outer header, payload, padding) that
 *    computes correct checksums unless told to corrupt them;
 *  - an independent checksum verifier: it re-parses the output bytes and
 *    recomputes every checksum with its own code (verify.c shares nothing
 *    with the builder), so a builder bug cannot hide a program bug;
 *  - BPF helpers: run an XDP program with BPF_PROG_TEST_RUN, sum per-CPU
 *    arrays, count map entries;
 *  - the Kilimanjaro XDP object loaded for tests (settable clock) with
 *    helpers that write its maps directly, field by field from the ABI, so
 *    the tests do not depend on lib/maps.c (which they may test later).
 *
 * Conventions: IPv4 addresses are uint32_t in network order (KMT_IP4 builds
 * them as constants); ports, IDs and fragment fields of the builder are in
 * host order; map keys and values follow bpf/kilimanjaro_abi.h. Functions
 * return 0 (or a length) on success and -errno on failure, after printing
 * what failed to stderr.
 */
#ifndef KMTEST_H
#define KMTEST_H

#include <stddef.h>
#include <stdint.h>

#include "kilimanjaro_abi.h"

/* ---- addresses ---- */

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define KMT_IP4(a, b, c, d)                                                    \
	((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 |            \
	 (uint32_t)(d) << 24)
#define KMT_BE16(x) ((uint16_t)((((x)&0xff) << 8) | (((x) >> 8) & 0xff)))
#else
#define KMT_IP4(a, b, c, d)                                                    \
	((uint32_t)(d) | (uint32_t)(c) << 8 | (uint32_t)(b) << 16 |            \
	 (uint32_t)(a) << 24)
#define KMT_BE16(x) ((uint16_t)(x))
#endif

/* "a.b.c.d" of a network-order address, in a static rotating buffer (4
 * slots: safe for a few uses in one printf). */
const char *kmt_ip_str(uint32_t addr_be);

/* ---- packet builder ---- */

#define KMT_PAYLOAD_MAX 1600
#define KMT_FRAME_MAX 4096 /* output buffers: larger than any built frame */

/* IPv4 fragment field bits (host order, as in the header after ntohs). */
#define KMT_IP_DF 0x4000
#define KMT_IP_MF 0x2000
#define KMT_IP_OFFMASK 0x1fff

/* struct kmt_ip.flags */
#define KMT_IPF_BAD_CSUM 0x1 /* header checksum off by one */

struct kmt_ip {
	uint32_t saddr; /* network order */
	uint32_t daddr; /* network order */
	uint8_t tos;
	uint8_t ttl;
	uint16_t id;   /* host order */
	uint16_t frag; /* host order: KMT_IP_DF | KMT_IP_MF | offset (8-byte
			  units) */
	uint8_t proto; /* 0: the packet's l4 (inner) / IPPROTO_IPIP (outer) */
	uint8_t opts_len; /* option bytes, multiple of 4, at most 40 */
	uint8_t opts[40];
	/* Malformations; 0 means "the correct value". */
	uint8_t version;  /* 0: 4 */
	uint8_t ihl;	  /* 0: 5 + opts_len / 4 */
	uint16_t tot_len; /* 0: the real length */
	uint32_t flags;	  /* KMT_IPF_* */
};

/* struct kmt_pkt.flags */
#define KMT_F_BAD_L4_CSUM 0x1	/* L4 checksum off by one */
#define KMT_F_UDP_CSUM_ZERO 0x2 /* UDP without checksum (0) */

struct kmt_pkt {
	uint8_t eth_dst[6];
	uint8_t eth_src[6];
	uint16_t
	    eth_type; /* host order; not ETH_P_IP: payload follows Ethernet */
	int ipip;     /* wrap `ip` (and its L4) in the `outer` IPv4 header */
	struct kmt_ip outer;
	struct kmt_ip ip;
	uint8_t l4; /* IPPROTO_UDP, _TCP, _ICMP; other: payload follows IP */
	uint16_t sport; /* host order (UDP/TCP) */
	uint16_t dport; /* host order (UDP/TCP) */
	uint32_t tcp_seq;
	uint32_t tcp_ack;
	uint8_t tcp_flags; /* TH_SYN... (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08,
			      ACK 0x10) */
	uint16_t tcp_win;
	uint8_t icmp_type;
	uint8_t icmp_code;
	uint16_t icmp_id;  /* host order */
	uint16_t icmp_seq; /* host order */
	uint32_t flags;	   /* KMT_F_* */
	size_t pad;	 /* zero bytes after the IP packet (Ethernet padding) */
	size_t truncate; /* non-zero: cut the frame to this many bytes */
	size_t payload_len;
	uint8_t payload[KMT_PAYLOAD_MAX];
};

/* Defaults: Ethernet KMT_MAC_NEIGH -> KMT_MAC_EDGE, IPv4 TTL 64, id 1, UDP
 * 40000 -> 27015, no payload. Addresses are left 0. */
void kmt_pkt_init(struct kmt_pkt *p);
/* Append bytes to the payload (-ENOSPC past KMT_PAYLOAD_MAX). */
int kmt_pkt_payload(struct kmt_pkt *p, const void *data, size_t len);
/* Set a payload of `len` bytes counting 0, 1, 2, ... */
int kmt_pkt_payload_fill(struct kmt_pkt *p, size_t len);
/* Build the frame into buf; returns its length or -errno (-ENOSPC, -EINVAL
 * for inconsistent specs such as options not a multiple of 4). */
int kmt_pkt_build(const struct kmt_pkt *p, uint8_t *buf, size_t cap);

/* ---- independent verification ---- */

/* Offsets found in a frame (SIZE_MAX when absent). */
struct kmt_view {
	size_t l3;	 /* outer (or only) IPv4 header */
	size_t l4;	 /* its payload */
	size_t inner_l3; /* IPIP inner IPv4 header */
	size_t inner_l4; /* inner payload */
	uint8_t proto;	 /* protocol of l3 */
	uint8_t inner_proto;
};

/* Parse and check a frame with code that shares nothing with the builder:
 * every IPv4 header (outer and inner) must be well formed (version 4,
 * IHL >= 5, tot_len within the frame, inner tot_len exactly the outer
 * payload) with a correct header checksum, and every UDP/TCP/ICMP
 * checksum must be correct (a UDP checksum of 0 means "none" and is
 * accepted; non-first fragments carry no L4 header). A frame that is not
 * IPv4 is accepted as is. Returns 0, or -EBADMSG with the reason in why. */
int kmt_verify_frame(const uint8_t *f, size_t len, struct kmt_view *v,
		     char *why, size_t why_len);

/* Print a side-by-side hex dump of two frames, marking bytes that differ. */
void kmt_hexdiff(const char *title, const uint8_t *a, size_t alen,
		 const uint8_t *b, size_t blen);

/* ---- generic BPF helpers (any program, any map) ---- */

/* One BPF_PROG_TEST_RUN of an XDP program. ingress_ifindex must exist in
 * the caller's network namespace (0: none). repeat > 1 runs the program
 * again on its own output: the kernel does not restore the bytes. */
struct kmt_xdp_run {
	const void *in;
	size_t in_len;
	void *out; /* may be NULL */
	size_t out_cap;
	size_t out_len; /* set */
	uint32_t ifindex;
	uint32_t rx_queue;
	uint32_t repeat;   /* 0 or 1: once */
	uint32_t retval;   /* set: the XDP action */
	uint32_t duration; /* set: mean ns per run */
};
int kmt_xdp_run(int prog_fd, struct kmt_xdp_run *r);

/* Sum, over every possible CPU, the `nwords` u64 words of one element of a
 * per-CPU array (a plain array is read once). */
int kmt_percpu_sum(int map_fd, uint32_t key, __u64 *out, size_t nwords);
/* Number of keys in a hash/LRU/LPM map (iterates). */
long kmt_map_count(int map_fd);

/* Pin the calling thread to the CPU it runs on: per-CPU budgets then live
 * on one CPU for the whole test. Returns the CPU or -errno. */
int kmt_pin_cpu(void);

/* ---- the Kilimanjaro XDP object ---- */

struct kilimanjaro; /* kilimanjaro.skel.h */
struct bpf_object;

struct kmt_env {
	struct kilimanjaro *skel;
	struct bpf_object *obj;
	int prog_fd; /* km_xdp */
	int ncpus;   /* possible CPUs */
};

/* Map size overrides applied before load (e.g. a small km_rl_src). */
struct kmt_map_size {
	const char *name;
	uint32_t max_entries;
};

/* Open the skeleton, set rodata km_settable_clock = 1, apply sizes, load,
 * write km_config {abi_version, rl_prefix_len 24, test_now_ns
 * KMT_T0} and pin the thread to its CPU. */
#define KMT_T0 1000000000000ULL /* 1000 s: far from 0, which means "never" */
int kmt_env_open(struct kmt_env *e, const struct kmt_map_size *sizes,
		 size_t nsizes);
void kmt_env_close(struct kmt_env *e); /* accepts a zeroed struct */

/* fd of a map of the object by name (KM_MAP_*), -ENOENT when absent. */
int kmt_fd(const struct kmt_env *e, const char *map_name);

int kmt_config_read(const struct kmt_env *e, struct km_config *c);
int kmt_config_write(const struct kmt_env *e, const struct km_config *c);
/* km_config.test_now_ns */
int kmt_clock_set(const struct kmt_env *e, uint64_t now_ns);
uint64_t kmt_clock_get(const struct kmt_env *e);

/* Sums over CPUs. */
int kmt_stats(const struct kmt_env *e, struct km_stat out[KM_R_MAX]);
int kmt_counters(const struct kmt_env *e, __u64 out[KM_C_MAX]);
int kmt_svc_stat(const struct kmt_env *e, uint32_t id, struct km_svc_stat *out);

/* Map setup, written field by field from the ABI. */
int kmt_edge_add(const struct kmt_env *e, uint32_t addr);
/* Adds km_services, km_svc_cfg[id] (cfg may be NULL: all limits off) and
 * the derived km_svc_addrs, km_backends, km_backend_svc entries as
 * docs/design.md defines them. Ports in host order. */
int kmt_service_add(const struct kmt_env *e, uint8_t proto, uint32_t addr,
		    uint16_t port, uint32_t backend, uint16_t backend_port,
		    uint32_t id, const struct km_svc_cfg *cfg);
int kmt_svc_cfg_set(const struct kmt_env *e, uint32_t id,
		    const struct km_svc_cfg *cfg);
/* map: KM_MAP_ALLOW_A, KM_MAP_DENY_B, ... */
int kmt_prefix_add(const struct kmt_env *e, const char *map, uint32_t addr,
		   uint32_t prefixlen);
int kmt_block_add(const struct kmt_env *e, uint32_t addr, uint64_t until_ns,
		  uint8_t origin);
int kmt_punch_add(const struct kmt_env *e, const struct km_punch_key *k,
		  uint32_t backend, uint8_t origin, uint64_t last_seen_ns);

/* Run one frame through km_xdp once (repeat 1). */
int kmt_env_run(const struct kmt_env *e, struct kmt_xdp_run *r);

/* Consume every event waiting in km_events into out (at most max);
 * returns how many were read or -errno. */
int kmt_events(const struct kmt_env *e, struct km_event *out, size_t max);

/* MACs of the test namespace made by tests/bpf/run-in-netns.sh. */
extern const uint8_t KMT_MAC_EDGE[6];	/* edge interface (ingress) */
extern const uint8_t KMT_MAC_NEIGH[6];	/* its neighbour (router) */
extern const uint8_t KMT_MAC_EDGE2[6];	/* second interface */
extern const uint8_t KMT_MAC_NEIGH2[6]; /* neighbour on the second */

#endif
