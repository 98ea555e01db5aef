/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The world every bpf-edge test starts from, and the helpers that run one
 * frame and check what a user of the data plane would see: the XDP
 * action, exactly one reason counted (with the frame's length in bytes),
 * the output bytes, and every output checksum recomputed independently.
 *
 * Addresses (198.18.0.0/15 only) match tests/bpf/run-in-netns.sh.
 */
#ifndef EDGE_COMMON_H
#define EDGE_COMMON_H

#include <criterion/criterion.h>

#include <linux/bpf.h>
#include <stddef.h>
#include <stdint.h>

#include "kmtest.h"

#define EDGE KMT_IP4(198, 18, 0, 1)  /* edge address, e0's address */
#define EDGE2 KMT_IP4(198, 18, 0, 9) /* second edge address (not outer src) */
#define SVC1                                                                   \
	KMT_IP4(198, 18, 50, 10)       /* UDP 27015 (id 0), UDP 27016 (id 1),  \
					  TCP 27015 (id 2): backend BE_TX */
#define SVC2 KMT_IP4(198, 18, 50, 20)  /* UDP 27015 (id 3): backend BE_RD */
#define SVC3 KMT_IP4(198, 18, 50, 30)  /* UDP 27015 (id 4): backend BE_NR */
#define SVC4 KMT_IP4(198, 18, 50, 40)  /* UDP 27015 (id 5): backend BE_OTHER */
#define BE_TX KMT_IP4(198, 18, 100, 2) /* routed via e0 (ingress): XDP_TX */
#define BE_OTHER KMT_IP4(198, 18, 100, 3)
#define BE_RD KMT_IP4(198, 18, 101, 2) /* routed via e1: XDP_REDIRECT */
#define BE_NR KMT_IP4(198, 18, 200, 2) /* no route: PASS_FIB */
#define NOT_BACKEND KMT_IP4(198, 18, 100, 9)
#define PLAYER KMT_IP4(198, 19, 0, 7)
#define PLAYER2 KMT_IP4(198, 19, 0, 8)	    /* same /24 as PLAYER */
#define PLAYER_FAR KMT_IP4(198, 19, 1, 7)   /* next /24 */
#define PLAYER_E1 KMT_IP4(198, 18, 101, 50) /* a player routed via e1 */
#define NOWHERE KMT_IP4(198, 18, 200, 7)    /* unrouted player */
#define NOT_OURS KMT_IP4(198, 19, 200, 1)

#define ID_SVC1_UDP 0
#define ID_SVC1_UDP_RW 1 /* 27016 -> 28016 */
#define ID_SVC1_TCP 2	 /* 27015 -> 28015 */
#define ID_SVC2 3
#define ID_SVC3 4
#define ID_SVC4 5

#define SEC_NS 1000000000ULL
#define MS_NS 1000000ULL
#define PUNCH_IDLE_NS (30 * SEC_NS)
#define VALIDATED_IDLE_NS (60 * SEC_NS)

extern struct kmt_env env;
extern uint32_t if0, if1; /* ifindex of e0 (ingress), e1 */

/* Load the object and install the base world (services above, EDGE and
 * EDGE2 edge addresses, echo answering on, every limit off). */
void world_setup(void);
void world_setup_sized(const struct kmt_map_size *sizes, size_t n);
void world_teardown(void);
/* Re-derive every derived service map through lib/maps.c (after
 * kmt_service_add). */
void services_derive(void);
/* lib/maps.c's handle on the loaded object's maps (closed by teardown). */
struct km_maps;
const struct km_maps *lib_maps(void);

/* One frame through the program and what it did. */
struct res {
	uint32_t action;
	uint8_t in[KMT_FRAME_MAX];
	size_t in_len;
	uint8_t out[KMT_FRAME_MAX];
	size_t out_len;
	struct km_stat stats[KM_R_MAX]; /* deltas */
	__u64 ctr[KM_C_MAX];		/* deltas */
	int reason;			/* the one reason counted, or -1 */
};

/* Default player packet: UDP PLAYER:40000 -> SVC1:27015, 32 bytes. */
void player_pkt(struct kmt_pkt *p);
/* Backend reply: IPIP BE_TX -> EDGE, inner UDP SVC1:27015 -> PLAYER:40000. */
void backend_pkt(struct kmt_pkt *p);

/* Runs p (ingress ifindex) and asserts that exactly one packet was counted
 * under exactly one reason, with the frame length as its bytes. */
void send_pkt(const struct kmt_pkt *p, uint32_t ifindex, struct res *r);
/* send_pkt + action and reason; verifies output checksums for TX and
 * REDIRECT, and for PASS that the frame is unchanged. */
void send_expect(const struct kmt_pkt *p, uint32_t ifindex, uint32_t action,
		 unsigned int reason, struct res *r);

/* Expected outputs, compared byte for byte (see edge_common.c for the
 * outer-header fields checked separately). */
void expect_encap(const struct res *r, const struct kmt_pkt *in,
		  uint32_t backend, uint16_t dport, int egress);
void expect_decap(const struct res *r, const struct kmt_pkt *in, int egress);
void expect_echo_reply(const struct res *r, const struct kmt_pkt *in);
void expect_frame(const struct res *r, const uint8_t *exp, size_t exp_len);

/* Helpers on the maps. */
void set_cfg(void (*edit)(struct km_config *c));
void set_limits(uint32_t id, const struct km_svc_cfg *cfg);
void clock_set(uint64_t ns);
void clock_add(uint64_t ns);
int validated_get(uint32_t id, uint32_t player, struct km_validated *v);
int punch_get(const struct km_punch_key *k, struct km_punch *v);
long map_count(const char *name);
__u64 counter(unsigned int c);

const char *xdp_action_name(uint32_t a);
const char *reason_name(int r);

#endif
