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
struct bpf_link;
struct bench;
struct cost;
struct floors;

/* Addresses of the bench namespace (bench/run makes it), host order. */
#define KMB_EDGE 0xc6120001u	   /* 198.18.0.1: edge, on the veth */
#define KMB_NEIGH 0xc6120002u	   /* 198.18.0.2: next hop (veth peer) */
#define KMB_SVC 0xc6120101u	   /* 198.18.1.1: service address */
#define KMB_BACKEND 0xc6120201u	   /* 198.18.2.1: game-server host */
#define KMB_PLAYER 0xc6120301u	   /* 198.18.3.1: forwarded player */
#define KMB_PLAYER_RET 0xc6120302u /* 198.18.3.2: player of the decap path */
#define KMB_RL_SRC 0xc6120401u	   /* 198.18.4.1: rate-limited source */
#define KMB_DENY_NET 0xc613ff00u   /* 198.19.255.0/24: the denied prefix */
#define KMB_DENY_SRC 0xc613ff01u   /* 198.19.255.1 */
/* 198.19.254.7/32, also denied: a prefix longer than /24, which the
 * lists' /24 bitmap cannot settle, so the trie is looked up. */
#define KMB_DENY_HOST 0xc613fe07u
/* Flood sources: 198.19.0.0/17, one new address per packet. km_rl_src is
 * loaded with fewer entries than that (KMB_RL_SRC_ENTRIES), so a source
 * comes back only after its state was evicted. */
#define KMB_FLOOD_BASE 0xc6130000u
#define KMB_FLOOD_MASK 0x7fffu
#define KMB_RL_SRC_ENTRIES 16384
/* Players of the many-players decap: 198.18.128.0/20, one per packet in
 * turn, so that per-destination caches see a realistic spread. */
#define KMB_PLAYERS_BASE 0xc6128000u
#define KMB_PLAYERS_MASK 0x0fffu

#define KMB_PORT_FWD 27015   /* service 0: forward, deny, decap */
#define KMB_PORT_FLOOD 27017 /* service 1: flood (service budget spent) */
#define KMB_PORT_RL 27016    /* service 2: rate limit (source budget spent) */
#define KMB_PORT_A2S 27018   /* service 3: A2S caching (bench/a2s.c) */
/* Index of struct kmb_km.svc_id (lib/maps.c allocates the ids). */
#define KMB_SVC_FWD 0
#define KMB_SVC_FLOOD 1
#define KMB_SVC_RL 2
#define KMB_SVC_A2S 3
#define KMB_SVC_MAX 4
#define KMB_PREFIXES 10000 /* in each of the allow and deny lists */

enum kmb_tmpl {
	KMB_T_FORWARD = 0, /* player -> service 0 */
	KMB_T_FORWARD_VAL, /* validated player (the decap path's) -> service 0
			    */
	KMB_T_DENY,	   /* denied source -> service 0 */
	KMB_T_DENY_HOST,   /* source denied by a /32 -> service 0 */
	KMB_T_RL,	   /* rate-limited source -> service 2 */
	KMB_T_DECAP,	   /* IPIP backend -> edge, service 0 -> player */
	KMB_T_DECAP_MANY,  /* the same to 4096 players in turn */
	KMB_T_FLOOD,	   /* new source -> service 1 */
	KMB_T_A2S_HIT,	   /* A2S_INFO with a valid challenge -> service 3 */
	KMB_T_A2S_CHAL,	   /* A2S_INFO without challenge -> service 3 */
	KMB_T_MAX,
};

/* The Kilimanjaro object loaded for the bench (real clock, not settable). */
struct kmb_km {
	struct kilimanjaro *skel;
	int prog_fd;
	int fd_config, fd_stats, fd_rl_src, fd_rl_total;
	uint32_t svc_id[KMB_SVC_MAX];
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

/* a2s.c: service 3's A2S settings, the key and the cached answer, the
 * request template. */
struct kmt_pkt;
void kmb_a2s_cfg(struct km_a2s_cfg *a);
int kmb_a2s_populate(const struct kmb_km *k);
int kmb_a2s_template(struct kmt_pkt *p);
/* The UDP payload of an answer is the cached A2S_INFO. */
bool kmb_a2s_answer_ok(const uint8_t *payload, size_t len);
/* ... is the S2C_CHALLENGE of the template's player. */
bool kmb_a2s_challenge_ok(const uint8_t *payload, size_t len);
/* The fixed challenge key and epoch the templates are computed with. */
void kmb_a2s_key(__u64 *k0, __u64 *k1, __u32 *epoch);

/* measure.c */
struct kmb_run {
	int prog_fd;	    /* kmb_gen (wrapped) or the program itself */
	const uint8_t *pkt; /* KMB_PKT_LEN bytes */
	uint32_t ifindex;
	uint32_t count; /* repeat, or frames in live mode */
	bool live;
	uint32_t retval;    /* set (not in live mode) */
	double ns;	    /* set: CPU ns per packet (kmb_run()) */
	double wall_ns;	    /* set: wall-clock ns per packet */
	uint32_t kernel_ns; /* set: the kernel's `duration` (whole ns) */
};
int kmb_run(struct kmb_run *r);
int kmb_stats_read(const struct kmb_km *k, uint64_t pkts[KM_R_MAX]);
int kmb_percpu_u64(int fd, uint32_t key, uint64_t *sum);
int kmb_pin_cpu(int *cpu);
int kmb_find_ksoftirqd(int cpu);

/* ---- scenarios (kmbench.c) ---- */

#define KMB_MAX_ROUNDS 64

/* What kmb_gen writes into each packet besides the template. */
enum kmb_vary {
	KMB_V_NONE = 0, /* nothing new */
	KMB_V_SOURCE,	/* a new source from 198.19.0.0/17 (the flood) */
	KMB_V_PLAYER,	/* a new player from 198.18.128.0/20 (inner dst) */
};

/* What a scenario runs (directly, or as kmb_gen's tail-call target). */
enum kmb_target {
	KMB_TG_PASS,
	KMB_TG_TX,
	KMB_TG_DROP,
	KMB_TG_KM,
	KMB_TG_COST,  /* a program of cost.bpf.c (--diagnose) */
	KMB_TG_FLOOR, /* a program of floors.bpf.c */
};

struct kmb_scen {
	const char *name;
	bool live; /* live frames, else repeat */
	bool gen;  /* through kmb_gen (restore + new source) */
	bool gen_tail; /* ... kmb_gen_tail (restores the length at the end) */
	enum kmb_target target;
	enum kmb_tmpl tmpl;
	enum kmb_vary vary; /* what kmb_gen changes per packet */
	int reason;	    /* km_stats reason that must take every packet */
	bool floor_ctr;	    /* reason is a floor_cnt index (enum kmb_floor) */
	uint32_t retval;    /* repeat mode: the expected XDP action */
	bool sent;	    /* live: every frame must reach the veth peer */
	int gen_ref;	    /* gen: the generator with the bare target ... */
	int bare_ref;	    /* ... and that bare target run directly */
	int (*prep)(const struct kmb_km *k);
	const char *prog; /* KMB_TG_COST, _FLOOR: the program's name */
	uint32_t count;	  /* calibrated */
	double ns[KMB_MAX_ROUNDS];
	double wall[KMB_MAX_ROUNDS];
	double
	    kernel[KMB_MAX_ROUNDS]; /* the kernel's duration, for --verbose */
};

/* Index of kmb_scens[]. Repeat-mode scenarios first, then live ones. */
enum kmb_scen_id {
	KMB_S_PASS,
	KMB_S_TX,
	KMB_S_DROP,
	KMB_S_GEN_PASS,
	KMB_S_GEN_TX,
	KMB_S_DENY,
	KMB_S_DENY_HOST,
	KMB_S_RL,
	KMB_S_FWD,
	KMB_S_FWD_VAL,
	KMB_S_DECAP,
	KMB_S_DECAP_MANY,
	KMB_S_FLOOD,
	KMB_S_GEN_TAIL_PASS,
	KMB_S_A2S_HIT,
	KMB_S_A2S_CHAL,
	KMB_S_FL_DECAP, /* floors (floors.bpf.c) */
	KMB_S_FL_FWD,
	KMB_S_FL_FWD_SRC,
	KMB_S_FL_A2S_HIT,
	KMB_S_FL_A2S_CHAL,
	KMB_S_NS_MAX,
	KMB_S_L_TX = KMB_S_NS_MAX,
	KMB_S_L_DROP,
	KMB_S_L_GEN_TX,
	KMB_S_L_GEN_DROP,
	KMB_S_L_FWD,
	KMB_S_L_FLOOD,
	KMB_S_L_A2S_HIT,
	KMB_S_L_FL_FWD,
	KMB_S_L_FL_FWD_SRC,
	KMB_S_L_FL_A2S_HIT,
	KMB_S_MAX,
};

extern struct kmb_scen kmb_scens[KMB_S_MAX];
/* --diagnose: single operations; entry 0 is the empty program. */
extern struct kmb_scen kmb_diag[];
extern const int kmb_n_diag;

struct kmb_ctx {
	struct kmb_km km;
	struct bench *b;
	struct cost *cost; /* --diagnose only */
	struct floors *fl;
	struct bpf_link *sink_link;
	uint32_t ifindex;
	uint8_t tmpl[KMB_T_MAX][KMB_PKT_LEN];
	int rounds, live_rounds; /* per mode */
	int ms, live_ms;	 /* target length of one run */
	int failures;		 /* checks that failed */
};

/* ---- rounds.c ---- */
/* Calibrate, then run the n scenarios of v in `rounds` interleaved rounds,
 * checking every run. */
int kmb_run_rounds(struct kmb_ctx *c, struct kmb_scen *v, int n, int rounds);
/* The program a scenario runs (or kmb_gen tail-calls). */
int kmb_target_fd(const struct kmb_ctx *c, const struct kmb_scen *s);
/* Point kmb_gen at the scenario: template, source stepping, target. */
int kmb_gen_setup(struct kmb_ctx *c, const struct kmb_scen *s);
void kmb_fail(struct kmb_ctx *c, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- setup.c ---- */
/* Attach kmb_sink to ifname in the namespace /run/netns/<netns>. */
int kmb_attach_sink(struct kmb_ctx *c, const char *netns, const char *ifname);
/* Open cost.bpf.o on Kilimanjaro's maps (--diagnose). */
int kmb_cost_open(struct kmb_ctx *c);
/* One forward, decap and A2S hit run, their output checked independently. */
int kmb_check_outputs(struct kmb_ctx *c);
/* One run of scenario s's program (through its generator: via_gen), its
 * output checked: XDP_TX, valid, to these addresses (host order). */
int kmb_check_output(struct kmb_ctx *c, const struct kmb_scen *s, bool via_gen,
		     uint32_t outer_dst, uint32_t inner_dst);
/* One expected output per row: scenario, outer and inner destination, each
 * checked run directly and through its generator. */
struct kmb_out_check {
	int s;
	uint32_t outer, inner;
};
int kmb_check_outputs_of(struct kmb_ctx *c, const struct kmb_out_check *chk,
			 size_t n);

/* ---- floors.c ---- */
/* Load floors.bpf.o and give it the scenarios' configuration. */
int kmb_floors_open(struct kmb_ctx *c);
void kmb_floors_close(struct kmb_ctx *c);
/* floor_cnt summed over the CPUs. */
int kmb_floors_read(const struct kmb_ctx *c, uint64_t v[KMB_F_MAX]);
const char *kmb_floor_name(int f);
/* The floors' outputs checked like the paths' (kmb_check_outputs), and
 * floor_a2s_hit refusing a wrong challenge uncounted. */
int kmb_floors_check(struct kmb_ctx *c);

/* ---- lines.c ---- */
/* Write where each source line of the program landed in its JIT image. */
int kmb_lines_dump(int prog_fd, const char *path);
/* perf's sampled addresses on stdin -> the program's `top` hottest lines. */
int kmb_lines_hot(const char *path, int top);

/* ---- report.c ---- */
double kmb_median(const double *v, int n);
void kmb_report(const struct kmb_ctx *c);
void kmb_report_raw(const struct kmb_ctx *c, const struct kmb_scen *v, int n);
void kmb_report_diag(struct kmb_ctx *c);

#endif
