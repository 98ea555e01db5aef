/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Internet checksum helpers (RFC 1071 sums, RFC 1624 incremental update). */
#ifndef KM_CSUM_BPF_H
#define KM_CSUM_BPF_H

#include <linux/types.h>
#include <linux/ip.h>

static __always_inline __u16 km_csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* Checksum of a 20-byte IPv4 header whose check field is ignored. The
 * header is usually built on the stack, so this reads no packet memory. */
static __always_inline __u16 km_ip_csum(const struct iphdr *ip)
{
	const __u16 *w = (const __u16 *)ip;
	__u32 sum = 0;

#pragma unroll
	for (int i = 0; i < (int)(sizeof(*ip) / 2); i++)
		if (i != 5)
			sum += w[i];
	return km_csum_fold(sum);
}

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'). Operands in the same byte order
 * as they sit in the packet. */
static __always_inline __u16 km_csum_replace16(__u16 check, __u16 old,
					       __u16 new)
{
	__u32 sum = (__u16)~check;

	sum += (__u16)~old;
	sum += new;
	return km_csum_fold(sum);
}

#endif /* KM_CSUM_BPF_H */
