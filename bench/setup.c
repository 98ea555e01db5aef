// SPDX-License-Identifier: GPL-2.0-only
/*
 * What the runs need besides Kilimanjaro's maps: the counting drop program
 * on the veth peer, the --diagnose object on Kilimanjaro's maps, and a
 * check of the rewriting paths' output before anything is timed.
 */
#include "kmbench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "bench.skel.h"
#include "cost.skel.h"
#include "kmtest.h"
#include "log.h"

/* The peer lives in another namespace: enter it for the attach (the
 * ifindex is resolved there), come back. The link holds the attachment
 * until kmbench exits. */
int kmb_attach_sink(struct kmb_ctx *c, const char *netns, const char *ifname)
{
	int self, peer, ifindex, err = 0;
	char path[256];

	snprintf(path, sizeof(path), "/run/netns/%s", netns);
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return km_log_errno(-errno,
				    "cannot open our network namespace");
	peer = open(path, O_RDONLY | O_CLOEXEC);
	if (peer < 0) {
		err = km_log_errno(-errno, "cannot open %s", path);
		goto out_self;
	}
	if (setns(peer, CLONE_NEWNET)) {
		err = km_log_errno(-errno, "cannot enter %s", path);
		goto out_peer;
	}
	ifindex = (int)if_nametoindex(ifname);
	if (!ifindex)
		err =
		    km_log_errno(-errno, "no interface %s in %s", ifname, path);
	else
		c->sink_link =
		    bpf_program__attach_xdp(c->b->progs.kmb_sink, ifindex);
	if (!err && !c->sink_link)
		err = km_log_errno(-errno, "cannot attach the sink to %s",
				   ifname);
	if (setns(self, CLONE_NEWNET))
		err = km_log_errno(-errno, "cannot return to our namespace");
out_peer:
	close(peer);
out_self:
	close(self);
	return err;
}

/* cost.bpf.c's map `name` becomes Kilimanjaro's map `km_name`. */
static int cost_reuse(struct kmb_ctx *c, const char *name, const char *km_name)
{
	struct bpf_map *from, *to;
	int err;

	from = bpf_object__find_map_by_name(kmb_km_obj(&c->km), km_name);
	to = bpf_object__find_map_by_name(c->cost->obj, name);
	if (!from || !to)
		return km_log_errno(-ENOENT, "map %s missing", name);
	err = bpf_map__reuse_fd(to, bpf_map__fd(from));
	if (err)
		return km_log_errno(err, "cannot share %s with cost.bpf.o",
				    name);
	return 0;
}

int kmb_cost_open(struct kmb_ctx *c)
{
	static const char *const shared[] = {
	    KM_MAP_SERVICES,  KM_MAP_RL_SRC, KM_MAP_SVC_CFG,
	    KM_MAP_VALIDATED, KM_MAP_BLOCKS,
	};
	struct km_config kc;
	struct cost_cfg *g;
	__u32 zero = 0, epoch;
	int err = 0;

	c->cost = cost__open();
	if (!c->cost)
		return km_log_errno(-errno, "cannot open cost.bpf.o");
	for (size_t i = 0; i < sizeof(shared) / sizeof(shared[0]) && !err; i++)
		err = cost_reuse(c, shared[i], shared[i]);
	if (err)
		return err;
	/* The deny trie packets read: lib/maps.c filled the inactive pair
	 * and flipped, so it may be either. */
	if (bpf_map_lookup_elem(c->km.fd_config, &zero, &kc))
		return km_log_errno(-errno, "cannot read %s", KM_MAP_CONFIG);
	err = cost_reuse(c, KM_MAP_DENY_A,
			 kc.active_lists ? KM_MAP_DENY_B : KM_MAP_DENY_A);
	if (err)
		return err;
	err = cost__load(c->cost);
	if (err)
		return km_log_errno(err, "cannot load cost.bpf.o");
	g = &c->cost->bss->cfg;
	g->player = htonl(KMB_PLAYER);
	g->denied = htonl(KMB_DENY_SRC);
	g->validated = htonl(KMB_PLAYER_RET);
	g->edge = htonl(KMB_EDGE);
	g->backend = htonl(KMB_BACKEND);
	g->flood_base = KMB_FLOOD_BASE;
	g->flood_mask = KMB_FLOOD_MASK;
	g->svc.proto = IPPROTO_UDP;
	g->svc.port = htons(KMB_PORT_FWD);
	g->svc.addr = htonl(KMB_SVC);
	g->divisor = 50000000;
	g->fwd_id = c->km.svc_id[KMB_SVC_FWD];
	g->flood_id = c->km.svc_id[KMB_SVC_FLOOD];
	kmb_a2s_key(&g->sip_k0, &g->sip_k1, &epoch);
	return 0;
}

/* XDP_TX, checksums and lengths right (tests/lib's verifier, which shares
 * no code with the builder), to the next hop's MAC, the outer (or only)
 * IPv4 header to outer_dst and, for IPIP, the inner one to inner_dst; an
 * A2S reply carries the cached answer (resp. the player's challenge).
 * `via_gen`: through kmb_gen (kmb_gen_tail for s->gen_tail), as the timed
 * runs do. */
int kmb_check_output(struct kmb_ctx *c, const struct kmb_scen *s, bool via_gen,
		     uint32_t outer_dst, uint32_t inner_dst)
{
	enum kmb_tmpl t = s->tmpl;
	uint8_t out[KMT_FRAME_MAX];
	struct kmt_xdp_run r = {
	    .in = c->tmpl[t],
	    .in_len = KMB_PKT_LEN,
	    .out = out,
	    .out_cap = sizeof(out),
	    .ifindex = c->ifindex,
	};
	uint32_t dst, idst = 0;
	struct kmt_view v;
	char what[96], why[128];
	int fd = kmb_target_fd(c, s), err;
	bool a2s_ok = true;

	snprintf(what, sizeof(what), "%s output%s", s->name,
		 via_gen ? " via generator" : "");
	if (via_gen) {
		err = kmb_gen_setup(c, s);
		if (err)
			return err;
		fd = bpf_program__fd(s->gen_tail ? c->b->progs.kmb_gen_tail
						 : c->b->progs.kmb_gen);
	}
	err = kmt_xdp_run(fd, &r);
	if (err)
		return err;
	if (r.retval != XDP_TX) {
		kmb_fail(c, what, "verdict %u, expected XDP_TX", r.retval);
		return 0;
	}
	if (kmt_verify_frame(out, r.out_len, &v, why, sizeof(why))) {
		kmb_fail(c, what, "output: %s", why);
		return 0;
	}
	memcpy(&dst, out + v.l3 + 16, 4);
	if (inner_dst && v.inner_l3 != (size_t)-1)
		memcpy(&idst, out + v.inner_l3 + 16, 4);
	if (memcmp(out, KMT_MAC_NEIGH, 6) || ntohl(dst) != outer_dst ||
	    ntohl(idst) != inner_dst)
		kmb_fail(c, what, "output not sent to the expected addresses");
	if (t == KMB_T_A2S_HIT)
		a2s_ok =
		    v.proto == IPPROTO_UDP &&
		    kmb_a2s_answer_ok(out + v.l4 + 8, r.out_len - v.l4 - 8);
	if (t == KMB_T_A2S_CHAL)
		a2s_ok =
		    v.proto == IPPROTO_UDP &&
		    kmb_a2s_challenge_ok(out + v.l4 + 8, r.out_len - v.l4 - 8);
	if (!a2s_ok)
		kmb_fail(c, what, "not the expected A2S reply");
	return 0;
}

/* The generator's flood frames: a valid IPv4 header (the checksum is
 * patched, not recomputed) with a new source each time. */
static int check_flood_frames(struct kmb_ctx *c)
{
	const struct kmb_scen s = {
	    .name = "generator",
	    .target = KMB_TG_PASS,
	    .tmpl = KMB_T_FLOOD,
	    .vary = KMB_V_SOURCE,
	};
	uint8_t out[KMT_FRAME_MAX];
	struct kmt_xdp_run r = {
	    .in = c->tmpl[KMB_T_FLOOD],
	    .in_len = KMB_PKT_LEN,
	    .out = out,
	    .out_cap = sizeof(out),
	    .ifindex = c->ifindex,
	};
	uint32_t src, prev = 0;
	struct kmt_view v;
	char why[128] = "";
	int err;

	err = kmb_gen_setup(c, &s);
	for (int i = 0; i < 3 && !err; i++) {
		err = kmt_xdp_run(bpf_program__fd(c->b->progs.kmb_gen), &r);
		if (err)
			break;
		memcpy(&src, out + 14 + 12, 4);
		src = ntohl(src);
		if (r.retval != XDP_PASS ||
		    kmt_verify_frame(out, r.out_len, &v, why, sizeof(why)))
			kmb_fail(c, s.name, "flood frame %d: verdict %u, %s", i,
				 r.retval, why);
		else if ((src & ~KMB_FLOOD_MASK) != KMB_FLOOD_BASE ||
			 (i && src == prev))
			kmb_fail(c, s.name, "flood frame %d from %08x", i, src);
		prev = src;
	}
	return err;
}

int kmb_check_outputs_of(struct kmb_ctx *c, const struct kmb_out_check *chk,
			 size_t n)
{
	int err = 0;

	for (size_t i = 0; i < n && !err; i++) {
		err = kmb_check_output(c, &kmb_scens[chk[i].s], false,
				       chk[i].outer, chk[i].inner);
		err = err
			  ?: kmb_check_output(c, &kmb_scens[chk[i].s], true,
					      chk[i].outer, chk[i].inner);
	}
	return err;
}

int kmb_check_outputs(struct kmb_ctx *c)
{
	static const struct kmb_out_check chk[] = {
	    {KMB_S_FWD, KMB_BACKEND, KMB_SVC},
	    {KMB_S_DECAP, KMB_PLAYER_RET, 0},
	    {KMB_S_A2S_HIT, KMB_PLAYER, 0},
	};

	return kmb_check_outputs_of(c, chk, sizeof(chk) / sizeof(chk[0])) ?:
	       check_flood_frames(c);
}
