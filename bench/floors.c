// SPDX-License-Identifier: GPL-2.0-only
/*
 * The floors (floors.bpf.c, bench/README.md "Floors"): loaded next to
 * Kilimanjaro, given the same addresses, service, per-source bucket, A2S
 * key and cached answer as the scenarios they bound, and checked before
 * anything is timed.
 */
#include "kmbench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "floors.skel.h"
#include "kilimanjaro.skel.h"
#include "kmtest.h"
#include "log.h"
#include "maps.h"

static const char *const floor_names[KMB_F_MAX] = {
    [KMB_F_DECAP] = "floor_decap",
    [KMB_F_FORWARD] = "floor_forward",
    [KMB_F_FORWARD_SRC] = "floor_forward_src",
    [KMB_F_A2S_CHALLENGE] = "floor_a2s_challenge",
    [KMB_F_A2S_HIT] = "floor_a2s_hit",
};

const char *kmb_floor_name(int f)
{
	return f >= 0 && f < KMB_F_MAX ? floor_names[f] : "floor_?";
}

static int put(const struct bpf_map *m, const void *key, const void *val)
{
	if (bpf_map__update_elem(m, key, bpf_map__key_size(m), val,
				 bpf_map__value_size(m), BPF_ANY))
		return km_log_errno(-errno, "cannot write floors' %s",
				    bpf_map__name(m));
	return 0;
}

/* The a2s_hit scenario's cache entry, copied byte for byte. */
static int copy_answer(struct kmb_ctx *c)
{
	static struct km_a2s_entry e;
	struct bpf_map *mi;
	__u32 zero = 0, id = c->km.svc_id[KMB_SVC_A2S];

	mi = bpf_object__find_map_by_name(kmb_km_obj(&c->km), KM_MAP_A2S_INFO);
	if (!mi || bpf_map_lookup_elem(bpf_map__fd(mi), &id, &e))
		return km_log_errno(-ENOENT, "no cached A2S answer to copy");
	return put(c->fl->maps.floor_a2s, &zero, &e);
}

int kmb_floors_open(struct kmb_ctx *c)
{
	struct kmb_floor_cfg cfg = {.edge = htonl(KMB_EDGE)};
	struct kmb_floor_hop hop;
	struct km_service_key sk = {
	    .proto = IPPROTO_UDP,
	    .port = htons(KMB_PORT_FWD),
	    .addr = htonl(KMB_SVC),
	};
	struct km_svc_cached svc = {
	    .key = sk,
	    .svc = {.id = c->km.svc_id[KMB_SVC_FWD],
		    .backend = htonl(KMB_BACKEND)},
	    .valid = 1,
	};
	__u32 slot = kmb_svc_slot(&sk);
	struct km_rl_key rk = {
	    .service_id = c->km.svc_id[KMB_SVC_FWD],
	    .prefix = htonl(KMB_PLAYER),
	};
	struct km_bucket b = {};
	__u32 zero = 0;
	int err;

	c->fl = floors__open_and_load();
	if (!c->fl)
		return km_log_errno(-errno, "cannot load floors.bpf.o");
	kmb_a2s_key(&cfg.a2s_k0, &cfg.a2s_k1, &cfg.a2s_epoch);
	/* Towards the veth peer, as Kilimanjaro's FIB lookup finds it. */
	memcpy(hop.dmac, KMT_MAC_NEIGH, sizeof(hop.dmac));
	memcpy(hop.smac, KMT_MAC_EDGE, sizeof(hop.smac));
	err = put(c->fl->maps.floor_cfg, &zero, &cfg);
	err = err ?: put(c->fl->maps.floor_hop, &zero, &hop);
	err = err ?: put(c->fl->maps.floor_services, &slot, &svc);
	err = err ?: put(c->fl->maps.floor_rl_src, &rk, &b);
	return err ?: copy_answer(c);
}

void kmb_floors_close(struct kmb_ctx *c)
{
	floors__destroy(c->fl);
	c->fl = NULL;
}

int kmb_floors_read(const struct kmb_ctx *c, uint64_t v[KMB_F_MAX])
{
	int fd = bpf_map__fd(c->fl->maps.floor_cnt);
	__u64 n;
	int err;

	for (uint32_t f = 0; f < KMB_F_MAX; f++) {
		err = kmt_percpu_sum(fd, f, &n, 1);
		if (err)
			return err;
		v[f] = n;
	}
	return 0;
}

/* The A2S hit template with its challenge's first byte changed: the floor
 * must refuse it (XDP_DROP) and count nothing, or it does not verify. */
static int check_wrong_challenge(struct kmb_ctx *c)
{
	const struct kmb_scen *s = &kmb_scens[KMB_S_FL_A2S_HIT];
	uint8_t in[KMB_PKT_LEN];
	struct kmt_xdp_run r = {
	    .in = in,
	    .in_len = KMB_PKT_LEN,
	    .ifindex = c->ifindex,
	};
	uint64_t before[KMB_F_MAX], after[KMB_F_MAX];
	/* Ethernet, IPv4, UDP, the 25-byte request, then the challenge. */
	const size_t ch_off = 14 + 20 + 8 + 25;
	int err;

	memcpy(in, c->tmpl[KMB_T_A2S_HIT], sizeof(in));
	in[ch_off] ^= 0x5a;
	err = kmb_floors_read(c, before);
	err = err ?: kmt_xdp_run(kmb_target_fd(c, s), &r);
	err = err ?: kmb_floors_read(c, after);
	if (err)
		return err;
	if (r.retval != XDP_DROP || memcmp(before, after, sizeof(before)) != 0)
		kmb_fail(
		    c, s->name,
		    "a wrong challenge got verdict %u and %s counted", r.retval,
		    memcmp(before, after, sizeof(before)) ? "was" : "was not");
	return 0;
}

int kmb_floors_check(struct kmb_ctx *c)
{
	static const struct kmb_out_check chk[] = {
	    {KMB_S_FL_DECAP, KMB_PLAYER_RET, 0},
	    {KMB_S_FL_FWD, KMB_BACKEND, KMB_SVC},
	    {KMB_S_FL_FWD_SRC, KMB_BACKEND, KMB_SVC},
	    {KMB_S_FL_A2S_HIT, KMB_PLAYER, 0},
	    {KMB_S_FL_A2S_CHAL, KMB_PLAYER, 0},
	};

	return kmb_check_outputs_of(c, chk, sizeof(chk) / sizeof(chk[0])) ?:
	       check_wrong_challenge(c);
}
