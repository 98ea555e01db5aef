/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Port punches: flows a backend opened through this edge from a port that
 * is not a service (or that userspace installed). Learned and refreshed on
 * the decap path, looked up for traffic from the remote. Idle entries
 * expire after punch_idle_ns; last_seen_ns is written at most once a
 * second so steady traffic does not write the entry on every packet.
 */
#ifndef KM_PUNCH_BPF_H
#define KM_PUNCH_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "kilimanjaro_abi.h"
#include "encap.bpf.h"
#include "lists.bpf.h"
#include "maps.bpf.h"
#include "pkt.bpf.h"
#include "stats.bpf.h"

#define KM_TOUCH_NS KM_NSEC_PER_SEC

static __always_inline void km_touch(__u64 *last_seen, __u64 now)
{
	if (km_older_than(now, *last_seen, KM_TOUCH_NS - 1))
		*last_seen = now;
}

/* Remote -> (service address, punched port): forward to the punch's
 * backend after block and deny; not rate limited (the backend asked for
 * this flow). Anything else to a service address serves nothing. */
static __always_inline int km_punch_in(struct xdp_md *ctx, struct km_pkt *p)
{
	struct km_punch_key k = {
		.proto = p->proto,
		.svc_addr = p->daddr,
		.remote = p->saddr,
		.svc_port = p->dport,
		.remote_port = p->sport,
	};
	__u64 idle = p->cfg->punch_idle_ns;
	struct km_punch *pu;
	__be32 backend;
	int r;

	pu = bpf_map_lookup_elem(&km_punches, &k);
	if (!pu)
		return KM_R_DROP_NO_SERVICE;
	km_pkt_now_coarse(p);
	if (idle && km_older_than(p->now, pu->last_seen_ns, idle)) {
		bpf_map_delete_elem(&km_punches, &k);
		km_count(KM_C_PUNCH_EXPIRED);
		return KM_R_DROP_NO_SERVICE;
	}
	r = km_check_source(p);
	if (r != KM_CONTINUE)
		return r;
	/* Only traffic that goes through keeps the flow alive. */
	km_touch(&pu->last_seen_ns, p->now);
	backend = pu->backend;
	return km_encap(ctx, p, backend, 0, KM_R_FWD_PUNCH);
}

/* Decap path, inner source not a service: the backend opened this flow. */
static __always_inline void km_punch_learn(struct km_pkt *p,
					   const struct km_punch_key *k,
					   __be32 backend)
{
	struct km_punch *pu, np = {};
	long err;

	pu = bpf_map_lookup_elem(&km_punches, k);
	if (pu) {
		km_touch(&pu->last_seen_ns, km_pkt_now_coarse(p));
		if (pu->backend != backend)
			pu->backend = backend;
		return;
	}
	np.backend = backend;
	np.origin = KM_ORIGIN_LEARNED;
	np.last_seen_ns = km_pkt_now_coarse(p);
	err = bpf_map_update_elem(&km_punches, k, &np, BPF_NOEXIST);
	if (err == -KM_EEXIST /* another CPU learned it first */)
		return;
	if (err) {
		km_count(KM_C_INSERT_FAILED);
		return;
	}
	km_count(KM_C_PUNCH_LEARNED);
	km_event_punch(k, backend, p->now);
}

#endif /* KM_PUNCH_BPF_H */
