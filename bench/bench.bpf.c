// SPDX-License-Identifier: GPL-2.0-only
/*
 * Programs of the benchmark (bench/README.md explains the method):
 *
 *  - kmb_tx, kmb_drop, kmb_pass: the bare baselines (MAC swap + XDP_TX,
 *    XDP_DROP) and the empty program the wrapper's cost is measured with;
 *  - kmb_gen: the "restorer/generator" run before the program under test.
 *    BPF_PROG_TEST_RUN with `repeat`, and live frames on a recycled page,
 *    hand a program its own previous output. kmb_gen puts the template frame
 *    back (length and bytes), optionally stamps a new IPv4 address on it
 *    (source, or the player of a tunnelled reply), and tail-calls the
 *    program under test, so every iteration takes the same
 *    path. Its cost is measured with kmb_pass as the target and subtracted;
 *    kmb_gen_tail restores the length at the tail instead (A2S replies);
 *  - kmb_sink: XDP on the veth peer; drops and counts the IPv4 frames the
 *    edge sent.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "bench_abi.h"

struct kmb_gen_cfg gen;
__u64 gen_seq;

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} kmb_target SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} kmb_sink_cnt SEC(".maps");

SEC("xdp")
int kmb_tx(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u8 tmp[ETH_ALEN];

	if ((void *)(eth + 1) > end)
		return XDP_ABORTED;
	__builtin_memcpy(tmp, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, tmp, ETH_ALEN);
	return XDP_TX;
}

SEC("xdp")
int kmb_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}

SEC("xdp")
int kmb_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

/* Incremental checksum update for one changed 32-bit word (RFC 1624). */
static __always_inline __u16 csum_replace4(__u16 check, __u32 from, __u32 to)
{
	__u32 sum = (__u16)~check;

	sum += (__u16)~from + (__u16) ~(from >> 16);
	sum += (__u16)to + (__u16)(to >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* The template over the packet (already KMB_PKT_LEN long), one address
 * stamped, then the program under test. */
static __always_inline int gen_body(struct xdp_md *ctx)
{
	__u32 aoff, coff, val, *addr;
	void *data, *end;
	__u16 *check;
	__u64 *dst;

	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	if (data + KMB_PKT_LEN > end)
		return XDP_ABORTED;
	dst = data;
#pragma unroll
	for (int i = 0; i < KMB_PKT_LEN / 8; i++)
		dst[i] = gen.pkt[i];

	/* Offsets known only at run time: bounded, then checked against
	 * the packet's end again (the verifier forgets the range). */
	aoff = gen.addr_off;
	coff = gen.csum_off;
	if (aoff > KMB_PKT_LEN - 4 || coff > KMB_PKT_LEN - 2)
		return XDP_ABORTED;
	addr = data + aoff;
	check = data + coff;
	if ((void *)(addr + 1) > end || (void *)(check + 1) > end)
		return XDP_ABORTED;
	val = bpf_htonl(gen.base + (__u32)(gen_seq++ & gen.mask));
	*check = csum_replace4(*check, *addr, val);
	*addr = val;

	bpf_tail_call(ctx, &kmb_target, 0);
	return XDP_ABORTED;
}

SEC("xdp")
int kmb_gen(struct xdp_md *ctx)
{
	long len = (long)ctx->data_end - (long)ctx->data;

	/* The previous iteration may have encapsulated (+20) or
	 * decapsulated (-20): move the head back to the template length.
	 * Always called, delta 0 included, so its cost is the same for every
	 * target. */
	if (bpf_xdp_adjust_head(ctx, (int)(len - KMB_PKT_LEN)))
		return XDP_ABORTED;
	return gen_body(ctx);
}

/* The same for programs that change the frame's end (the A2S replies
 * shrink or grow it with bpf_xdp_adjust_tail): the head never moves, so
 * the length is put back at the tail. Its own cost is measured the same
 * way (kmb_gen_tail -> kmb_pass). */
SEC("xdp")
int kmb_gen_tail(struct xdp_md *ctx)
{
	long len = (long)ctx->data_end - (long)ctx->data;

	if (bpf_xdp_adjust_tail(ctx, (int)(KMB_PKT_LEN - len)))
		return XDP_ABORTED;
	return gen_body(ctx);
}

/* Counts IPv4 frames only: the namespace's own chatter (ARP, IPv6
 * neighbour discovery) must not pass for the bench's frames. */
SEC("xdp")
int kmb_sink(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u32 k = 0;
	__u64 *c;

	if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	c = bpf_map_lookup_elem(&kmb_sink_cnt, &k);
	if (c)
		(*c)++;
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
