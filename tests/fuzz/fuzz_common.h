/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the fuzz targets share: how a broken invariant is reported, and for
 * the packet targets (fuzz_xdp.c, fuzz_mapper_bpf.c) the input read as a
 * stream of bytes and the check that a decapsulation handed on exactly the
 * inner packet.
 *
 * Define before including: FZ_NAME, the target's name for messages, and
 * optionally FZ_ON_FAIL(), what else to print when an invariant breaks.
 */
#ifndef KM_FUZZ_COMMON_H
#define KM_FUZZ_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmtest.h"

#ifndef FZ_ON_FAIL
#define FZ_ON_FAIL() ((void)0)
#endif

static inline void __attribute__((format(printf, 1, 2)))
fz_detail(const char *fmt, ...)
{
	va_list ap;

	if (*fmt)
		fputs(": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* A violated invariant: say which (and, optionally, printf-style what was
 * seen) and crash, so that libFuzzer saves the input. */
#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, FZ_NAME ": invariant broken: %s",      \
				#cond);                                        \
			fz_detail("" __VA_ARGS__);                             \
			FZ_ON_FAIL();                                          \
			abort();                                               \
		}                                                              \
	} while (0)

/* The harness itself failed (setup, a syscall): not a finding. */
static inline void fz_die(const char *what, int err)
{
	fprintf(stderr, FZ_NAME ": %s: %d\n", what, err);
	exit(1);
}

/* Input bytes, consumed from the front; 0 once exhausted. */
struct src {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t take8(struct src *s)
{
	uint8_t v = 0;

	if (s->n) {
		v = *s->p++;
		s->n--;
	}
	return v;
}

static inline uint16_t take16(struct src *s)
{
	return (uint16_t)(take8(s) << 8 | take8(s));
}

static inline uint32_t take32(struct src *s)
{
	return (uint32_t)take16(s) << 16 | take16(s);
}

/* IPv4 options: 0..40 bytes, in whole words, as the input says. */
static inline void fz_ip_options(struct src *s, struct kmt_ip *ip)
{
	ip->opts_len = (uint8_t)((take8(s) % 11) * 4);
	for (size_t i = 0; i < ip->opts_len; i++)
		ip->opts[i] = take8(s);
}

/* One malformed IPv4 header field out of the first `kinds` of: version,
 * IHL, tot_len, checksum, protocol. */
static inline void fz_ip_malform(struct src *s, struct kmt_ip *ip,
				 unsigned int kinds)
{
	switch (take8(s) % kinds) {
	case 0:
		ip->version = take8(s);
		break;
	case 1:
		ip->ihl = take8(s) & 0xf;
		break;
	case 2:
		ip->tot_len = take16(s);
		break;
	case 3:
		ip->flags |= KMT_IPF_BAD_CSUM;
		break;
	default:
		ip->proto = take8(s);
		break;
	}
}

/*
 * Whether out is the input's Ethernet header followed by the inner_len
 * bytes behind the input's outer IPv4 header. Bit i of mask lets byte
 * off + i of the inner packet differ (a rewritten port and its checksum).
 */
static inline int fz_is_inner(const uint8_t *in, size_t len,
			      const uint8_t *out, size_t out_len,
			      size_t inner_len, size_t off, uint32_t mask)
{
	size_t ohl;

	if (len < 14 + 1)
		return 0;
	ohl = (size_t)(in[14] & 0xf) * 4;
	if (len < 14 + ohl + inner_len || out_len != 14 + inner_len ||
	    memcmp(out, in, 14))
		return 0;
	for (size_t i = 0; i < inner_len; i++)
		if (out[14 + i] != in[14 + ohl + i] &&
		    !(i >= off && i - off < 32 && (mask >> (i - off) & 1)))
			return 0;
	return 1;
}

#endif
