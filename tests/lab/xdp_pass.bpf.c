// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Attached to the router's veth peers of interfaces that send frames by
 * XDP_TX (the edge's ed0). A veth only takes frames from its
 * peer's XDP_TX/redirect into its NAPI ring when it runs NAPI; with GRO as
 * the only reason for NAPI, frames sat in the ring until some other packet
 * woke it up (seen on 6.18). An XDP program makes NAPI run for every frame.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int lab_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
