// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * floodgen's frame rewriter, run by BPF_PROG_TEST_RUN in live-frames mode:
 * every frame gets a random source address inside the configured prefix and
 * a random source port, with both checksums updated, and leaves by XDP_TX
 * (in live-frames mode: transmitted on the ingress interface given in the
 * test-run context).
 *
 * Live-frames mode restores the data pointers but not the bytes of a
 * recycled page: a page comes back holding whatever its last user wrote (our
 * previous rewrite, or the edge's IPIP encapsulation, which moved the
 * Ethernet header in front of the old one). So every frame is first copied
 * whole from the template, then the source fields are set and both
 * checksums updated incrementally from the template's (RFC 1624).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

/* Source prefix, host order: address = src_base | (random & src_hostmask). */
const volatile __u32 src_base = 0;
const volatile __u32 src_hostmask = 0;

/* The frame as floodgen built it (valid checksums), padded to 8 bytes. */
#define FLOODGEN_TMPL_MAX 256
const volatile __u64 tmpl[FLOODGEN_TMPL_MAX / 8] = {0};
const volatile __u32 tmpl_len = 0;

/* Frames rewritten and sent; read by floodgen after the run. */
__u64 frames_tx = 0;
/* Frames that were not the template's UDP/IPv4 shape (never expected). */
__u64 frames_bad = 0;

static __always_inline __u16 csum_fold(__u32 s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), on 16-bit words as stored. */
static __always_inline __u16 csum_replace16(__u16 check, __u16 old, __u16 new)
{
	__u32 s = (__u16)~check + (__u16)~old + (__u32) new;

	return ~csum_fold(s);
}

SEC("xdp")
int floodgen_rewrite(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u16 old_lo, old_hi, new_lo, new_hi, new_port, uc;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);
	__u64 *w = data;
	__be32 saddr;
	int i, j;

	if (data + tmpl_len != data_end || (void *)(udp + 1) > data_end) {
		__sync_fetch_and_add(&frames_bad, 1);
		return XDP_DROP;
	}
	for (i = 0; i < FLOODGEN_TMPL_MAX / 8; i++) {
		if ((void *)(w + i + 1) > data_end)
			break;
		w[i] = tmpl[i];
	}
	/* The tail shorter than a word, byte by byte. */
	for (j = 0; j < 7; j++) {
		__u8 *b = (__u8 *)data + i * 8 + j;

		if (i >= FLOODGEN_TMPL_MAX / 8 || (void *)(b + 1) > data_end)
			break;
		*b = ((const volatile __u8 *)tmpl)[i * 8 + j];
	}

	saddr = bpf_htonl(src_base | (bpf_get_prandom_u32() & src_hostmask));
	/* Ports below 1024 would look like services; keep them out. */
	new_port = bpf_htons(1024 + bpf_get_prandom_u32() % 64512);

	old_hi = ((__u16 *)&ip->saddr)[0];
	old_lo = ((__u16 *)&ip->saddr)[1];
	new_hi = ((__u16 *)&saddr)[0];
	new_lo = ((__u16 *)&saddr)[1];

	ip->check = csum_replace16(csum_replace16(ip->check, old_hi, new_hi),
				   old_lo, new_lo);
	ip->saddr = saddr;

	/* The UDP checksum covers the pseudo header (source address). */
	uc = csum_replace16(udp->check, old_hi, new_hi);
	uc = csum_replace16(uc, old_lo, new_lo);
	uc = csum_replace16(uc, udp->source, new_port);
	udp->check = uc ? uc : 0xffff;
	udp->source = new_port;

	__sync_fetch_and_add(&frames_tx, 1);
	return XDP_TX;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
