// SPDX-License-Identifier: GPL-2.0-only
/* Independent frame checker. Written apart from pkt.c on purpose: fields
 * are read byte by byte into host integers and summed as 16-bit values
 * (RFC 1071), the pseudo header assembled field by field, so an error in
 * the builder's memory-order checksum cannot cancel out here. */
#include "kmtest.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static unsigned int be16_at(const uint8_t *p)
{
	return (unsigned int)p[0] << 8 | p[1];
}

/* RFC 1071 sum of bytes as big-endian 16-bit words, odd byte padded. */
static unsigned long rfc1071_add(unsigned long sum, const uint8_t *p,
				 size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += be16_at(p + i);
	if (len & 1)
		sum += (unsigned long)p[len - 1] << 8;
	return sum;
}

static unsigned int rfc1071_final(unsigned long sum)
{
	while (sum > 0xffff)
		sum = (sum & 0xffff) + (sum >> 16);
	return (unsigned int)sum;
}

static int fail(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	if (why && why_len) {
		va_start(ap, fmt);
		vsnprintf(why, why_len, fmt, ap);
		va_end(ap);
	}
	return -EBADMSG;
}

/* Pseudo header sum for TCP/UDP: addresses as two words each, protocol,
 * L4 length. */
static unsigned long pseudo_sum(const uint8_t *ip, unsigned int proto,
				unsigned int l4len)
{
	unsigned long s = 0;

	s += be16_at(ip + 12) + be16_at(ip + 14);
	s += be16_at(ip + 16) + be16_at(ip + 18);
	s += proto;
	s += l4len;
	return s;
}

static int check_l4(const uint8_t *ip, const uint8_t *l4, unsigned int len,
		    unsigned int proto, const char *tag, char *why,
		    size_t why_len)
{
	unsigned int stored, total;

	switch (proto) {
	case 17: /* UDP */
		if (len < 8)
			return fail(why, why_len,
				    "%s UDP header truncated (%u)", tag, len);
		if (be16_at(l4 + 4) != len)
			return fail(why, why_len,
				    "%s UDP length %u != IP payload %u", tag,
				    be16_at(l4 + 4), len);
		stored = be16_at(l4 + 6);
		if (stored == 0)
			return 0;
		total = rfc1071_final(
		    rfc1071_add(pseudo_sum(ip, 17, len), l4, len));
		if (total != 0xffff)
			return fail(why, why_len,
				    "%s UDP checksum 0x%04x wrong (sum 0x%04x)",
				    tag, stored, total);
		return 0;
	case 6: /* TCP */
		if (len < 20 || (unsigned int)(l4[12] >> 4) * 4 > len)
			return fail(why, why_len, "%s TCP header truncated",
				    tag);
		total =
		    rfc1071_final(rfc1071_add(pseudo_sum(ip, 6, len), l4, len));
		if (total != 0xffff)
			return fail(why, why_len,
				    "%s TCP checksum 0x%04x wrong (sum 0x%04x)",
				    tag, be16_at(l4 + 16), total);
		return 0;
	case 1: /* ICMP: no pseudo header */
		if (len < 8)
			return fail(why, why_len, "%s ICMP header truncated",
				    tag);
		total = rfc1071_final(rfc1071_add(0, l4, len));
		if (total != 0xffff)
			return fail(
			    why, why_len,
			    "%s ICMP checksum 0x%04x wrong (sum 0x%04x)", tag,
			    be16_at(l4 + 2), total);
		return 0;
	default:
		return 0;
	}
}

/* Checks one IPv4 header at ip with `avail` bytes after it in the frame;
 * sets *hl and *tot. */
static int check_ip(const uint8_t *ip, size_t avail, const char *tag,
		    unsigned int *hl, unsigned int *tot, char *why,
		    size_t why_len)
{
	unsigned int sum;

	if (avail < 20)
		return fail(why, why_len, "%s IPv4 header truncated (%zu)", tag,
			    avail);
	if (ip[0] >> 4 != 4)
		return fail(why, why_len, "%s IP version %u", tag, ip[0] >> 4);
	*hl = (unsigned int)(ip[0] & 0xf) * 4;
	*tot = be16_at(ip + 2);
	if (*hl < 20 || *hl > avail)
		return fail(why, why_len, "%s IHL %u bad", tag, *hl / 4);
	if (*tot < *hl || *tot > avail)
		return fail(why, why_len,
			    "%s tot_len %u bad (ihl %u, %zu left)", tag, *tot,
			    *hl, avail);
	sum = rfc1071_final(rfc1071_add(0, ip, *hl));
	if (sum != 0xffff)
		return fail(why, why_len,
			    "%s IP header checksum 0x%04x wrong (sum 0x%04x)",
			    tag, be16_at(ip + 10), sum);
	return 0;
}

static int is_fragment(const uint8_t *ip)
{
	return (be16_at(ip + 6) & 0x3fff) != 0;
}

int kmt_verify_frame(const uint8_t *f, size_t len, struct kmt_view *v,
		     char *why, size_t why_len)
{
	struct kmt_view tmp;
	unsigned int hl, tot, ihl, itot;
	const uint8_t *ip, *in;
	int r;

	if (!v)
		v = &tmp;
	v->l3 = v->l4 = v->inner_l3 = v->inner_l4 = SIZE_MAX;
	v->proto = v->inner_proto = 0;
	if (why && why_len)
		why[0] = '\0';
	if (len < 14)
		return fail(why, why_len, "frame shorter than Ethernet (%zu)",
			    len);
	if (be16_at(f + 12) != 0x0800)
		return 0;
	ip = f + 14;
	r = check_ip(ip, len - 14, "outer", &hl, &tot, why, why_len);
	if (r)
		return r;
	v->l3 = 14;
	v->l4 = 14 + hl;
	v->proto = ip[9];
	/* A fragment's L4 checksum covers the whole datagram: not here. */
	if (is_fragment(ip))
		return 0;
	if (ip[9] != 4)
		return check_l4(ip, ip + hl, tot - hl, ip[9], "outer", why,
				why_len);
	in = ip + hl;
	r = check_ip(in, tot - hl, "inner", &ihl, &itot, why, why_len);
	if (r)
		return r;
	if (itot != tot - hl)
		return fail(why, why_len,
			    "inner tot_len %u != outer payload %u", itot,
			    tot - hl);
	v->inner_l3 = v->l4;
	v->inner_l4 = v->l4 + ihl;
	v->inner_proto = in[9];
	if (is_fragment(in))
		return 0;
	return check_l4(in, in + ihl, itot - ihl, in[9], "inner", why, why_len);
}

void kmt_hexdiff(const char *title, const uint8_t *a, size_t alen,
		 const uint8_t *b, size_t blen)
{
	size_t n = alen > blen ? alen : blen;

	fprintf(stderr, "%s: got %zu bytes, expected %zu\n", title, alen, blen);
	for (size_t row = 0; row < n; row += 16) {
		fprintf(stderr, "%04zx ", row);
		for (size_t i = row; i < row + 16 && i < n; i++)
			fprintf(stderr, i < alen ? "%02x" : "  ",
				i < alen ? a[i] : 0);
		fprintf(stderr, " | ");
		for (size_t i = row; i < row + 16 && i < n; i++) {
			int diff = i >= alen || i >= blen || a[i] != b[i];

			if (i < blen)
				fprintf(stderr, diff ? "%02X" : "%02x", b[i]);
			else
				fprintf(stderr, "  ");
		}
		fprintf(stderr, "\n");
		for (size_t i = row; i < row + 16 && i < n; i++)
			if (i >= alen || i >= blen || a[i] != b[i]) {
				fprintf(stderr, "     differs at 0x%zx\n", i);
				break;
			}
	}
}
