/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * SipHash-2-4 (Aumasson, Bernstein 2012) of exactly 16 bytes, the A2S
 * challenge's input. Only what the data plane needs: two message words, so
 * no length loop the verifier would have to bound. The state after the
 * first word depends on the key and that word alone; km_sip_m0() and
 * km_sip_m1() are split so a check of two epochs under one key compresses
 * the first word once.
 *
 * Plain C on __u64: tests/bpf/edge_a2s.c compiles this header in userspace
 * and checks it against the reference test vectors.
 */
#ifndef KM_SIPHASH_BPF_H
#define KM_SIPHASH_BPF_H

#include <linux/types.h>

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

struct km_sip {
	__u64 v0, v1, v2, v3;
};

static __always_inline __u64 km_rotl64(__u64 x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static __always_inline void km_sipround(struct km_sip *s)
{
	s->v0 += s->v1;
	s->v1 = km_rotl64(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = km_rotl64(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = km_rotl64(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = km_rotl64(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = km_rotl64(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = km_rotl64(s->v2, 32);
}

static __always_inline void km_sip_word(struct km_sip *s, __u64 m)
{
	s->v3 ^= m;
	km_sipround(s);
	km_sipround(s);
	s->v0 ^= m;
}

/* Key (k0, k1 as the little-endian words of the 16-byte key) and the first
 * message word (bytes 0..7, little endian). */
static __always_inline void km_sip_m0(struct km_sip *s, __u64 k0, __u64 k1,
				      __u64 m0)
{
	s->v0 = k0 ^ 0x736f6d6570736575ULL;
	s->v1 = k1 ^ 0x646f72616e646f6dULL;
	s->v2 = k0 ^ 0x6c7967656e657261ULL;
	s->v3 = k1 ^ 0x7465646279746573ULL;
	km_sip_word(s, m0);
}

/* The second word (bytes 8..15), the length block (16 bytes, no tail) and
 * the finalisation; s is left as km_sip_m0() made it. */
static __always_inline __u64 km_sip_m1(const struct km_sip *s0, __u64 m1)
{
	struct km_sip s = *s0;

	km_sip_word(&s, m1);
	km_sip_word(&s, 16ULL << 56);
	s.v2 ^= 0xff;
	km_sipround(&s);
	km_sipround(&s);
	km_sipround(&s);
	km_sipround(&s);
	return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

static __always_inline __u64 km_siphash16(__u64 k0, __u64 k1, __u64 m0,
					  __u64 m1)
{
	struct km_sip s;

	km_sip_m0(&s, k0, k1, m0);
	return km_sip_m1(&s, m1);
}

#endif /* KM_SIPHASH_BPF_H */
