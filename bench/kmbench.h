/* SPDX-License-Identifier: GPL-2.0-only */
/* kmbench: the benchmark's modules. bench/README.md explains the method. */
#ifndef KMBENCH_H
#define KMBENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench_abi.h"
#include "kilimanjaro_abi.h"

struct kilimanjaro;
struct bpf_object;
struct bench;

/* Addresses of the bench namespace (bench/run makes it), host order. */
#define KMB_EDGE 0xc6120001u      /* 198.18.0.1: edge, on the veth */
#define KMB_NEIGH 0xc6120002u     /* 198.18.0.2: next hop (veth peer) */
#define KMB_SVC 0xc6120101u       /* 198.18.1.1: service address */
#define KMB_BACKEND 0xc6120201u   /* 198.18.2.1: game-server host */
#define KMB_PLAYER 0xc6120301u    /* 198.18.3.1: forwarded player */
#define KMB_PLAYER_RET 0xc6120302u /* 198.18.3.2: player of the decap path */
#define KMB_RL_SRC 0xc6120401u    /* 198.18.4.1: rate-limited source */
#define KMB_DENY_NET 0xc613ff00u  /* 198.19.255.0/24: the denied prefix */
#define KMB_DENY_SRC 0xc613ff01u  /* 198.19.255.1 */
/* Flood sources: 198.19.0.0/17, one new address per packet. km_rl_src is
 * loaded with fewer entries than that (KMB_RL_SRC_ENTRIES), so a source
 * comes back only after its state was evicted. */
#define KMB_FLOOD_BASE 0xc6130000u
#define KMB_FLOOD_MASK 0x7fffu
#define KMB_RL_SRC_ENTRIES 16384

#define KMB_PORT_FWD 27015  /* service 0: forward, deny, decap */
#define KMB_PORT_FLOOD 27017 /* service 1: flood (service budget spent) */
#define KMB_PORT_RL 27016   /* service 2: rate limit (source budget spent) */
#define KMB_SVC_FWD 0
#define KMB_SVC_FLOOD 1
#define KMB_SVC_RL 2
#define KMB_PREFIXES 10000 /* in each of the allow and deny lists */

enum kmb_tmpl {
	KMB_T_FORWARD = 0, /* player -> service 0 */
	KMB_T_FORWARD_VAL, /* validated player (the decap path's) -> service 0 */
	KMB_T_DENY,        /* denied source -> service 0 */
	KMB_T_RL,          /* rate-limited source -> service 2 */
	KMB_T_DECAP,       /* IPIP backend -> edge, service 0 -> player */
	KMB_T_FLOOD,       /* new source -> service 1 */
	KMB_T_MAX,
};

/* The Kilimanjaro object loaded for the bench (real clock, not settable). */
struct kmb_km {
	struct kilimanjaro *skel;
	int prog_fd;
	int fd_config, fd_stats, fd_counters, fd_rl_src, fd_rl_total;
	int ncpus;
};

/* scenario.c */
int kmb_km_open(struct kmb_km *k);
void kmb_km_close(struct kmb_km *k);
struct bpf_object *kmb_km_obj(const struct kmb_km *k);
/* Services, edge address, 10,000 + 10,000 prefixes: the state every
 * scenario runs against. */
int kmb_km_populate(struct kmb_km *k, uint32_t seed);
/* Make the rate-limited source's bucket (resp. service 1's budget) refuse
 * every packet for the next 1000 s. Called before each run: a flood may
 * have evicted the bucket. */
int kmb_km_spend_source(const struct kmb_km *k);
int kmb_km_spend_service(const struct kmb_km *k);
int kmb_template(enum kmb_tmpl t, uint8_t out[KMB_PKT_LEN]);

/* measure.c */
struct kmb_run {
	int prog_fd;          /* kmb_gen (wrapped) or the program itself */
	const uint8_t *pkt;   /* KMB_PKT_LEN bytes */
	uint32_t ifindex;
	uint32_t count;       /* repeat, or frames in live mode */
	bool live;
	uint32_t retval;      /* set (not in live mode) */
	double ns;            /* set: CPU ns per packet (kmb_run()) */
	double wall_ns;       /* set: wall-clock ns per packet */
};
int kmb_run(struct kmb_run *r);
int kmb_stats_read(const struct kmb_km *k, uint64_t pkts[KM_R_MAX]);
int kmb_counters_read(const struct kmb_km *k, uint64_t c[KM_C_MAX]);
int kmb_percpu_u64(int fd, uint32_t key, uint64_t *sum);
int kmb_pin_cpu(int *cpu);
int kmb_find_ksoftirqd(int cpu);
const char *kmb_reason_name(int r);

#endif
