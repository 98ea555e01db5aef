// SPDX-License-Identifier: GPL-2.0-only
/* kmtest checks itself: the builder against bytes computed by a third
 * implementation (known answers), the verifier against corrupted frames. */
#include <criterion/criterion.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <linux/if_ether.h>

#include "kmtest.h"

#define PLAYER KMT_IP4(198, 19, 0, 7)
#define SVC KMT_IP4(198, 18, 50, 10)
#define EDGE KMT_IP4(198, 18, 0, 1)
#define BACKEND KMT_IP4(198, 18, 100, 2)

static size_t unhex(const char *s, uint8_t *out)
{
	size_t n = 0;
	unsigned int v;

	for (; s[0] && s[1]; s += 2) {
		sscanf(s, "%2x", &v);
		out[n++] = (uint8_t)v;
	}
	return n;
}

static void expect_bytes(const struct kmt_pkt *p, const char *hex)
{
	uint8_t got[KMT_FRAME_MAX], want[KMT_FRAME_MAX];
	size_t wl = unhex(hex, want);
	int gl = kmt_pkt_build(p, got, sizeof(got));
	char why[128];

	cr_assert_eq(gl, (int)wl, "length %d, expected %zu", gl, wl);
	if (memcmp(got, want, wl))
		kmt_hexdiff("builder", got, (size_t)gl, want, wl);
	cr_assert(!memcmp(got, want, wl), "bytes differ");
	cr_assert_eq(kmt_verify_frame(got, (size_t)gl, NULL, why, sizeof(why)),
		     0, "%s", why);
}

Test(kmtest, udp_known_answer)
{
	struct kmt_pkt p;

	kmt_pkt_init(&p);
	p.ip.saddr = PLAYER;
	p.ip.daddr = SVC;
	p.ip.tos = 0x10;
	p.ip.id = 0x1234;
	kmt_pkt_payload(&p, "hello", 5);
	expect_bytes(
	    &p, "026b6d000001026b6d000002080045100021123400004011aa51c6130007"
		"c612320a9c406987000df80268656c6c6f");
}

Test(kmtest, tcp_known_answer)
{
	struct kmt_pkt p;

	kmt_pkt_init(&p);
	p.ip.saddr = PLAYER;
	p.ip.daddr = SVC;
	p.l4 = IPPROTO_TCP;
	p.sport = 40001;
	p.tcp_seq = 1000;
	p.tcp_flags = 0x02;
	expect_bytes(
	    &p, "026b6d000001026b6d000002080045000028000100004006bc98c6130007"
		"c612320a9c416987000003e8000000005002ffffe7fa0000");
}

Test(kmtest, icmp_known_answer)
{
	struct kmt_pkt p;

	kmt_pkt_init(&p);
	p.ip.saddr = PLAYER;
	p.ip.daddr = SVC;
	p.l4 = IPPROTO_ICMP;
	p.icmp_type = 8;
	p.icmp_id = 0x77;
	p.icmp_seq = 3;
	kmt_pkt_payload(&p, "abcdefgh", 8);
	expect_bytes(
	    &p, "026b6d000001026b6d000002080045000024000100004001bca1c6130007"
		"c612320a080065f0007700036162636465666768");
}

Test(kmtest, ipip_known_answer)
{
	struct kmt_pkt p;

	kmt_pkt_init(&p);
	p.ipip = 1;
	p.outer.saddr = BACKEND;
	p.outer.daddr = EDGE;
	p.ip.saddr = SVC;
	p.ip.daddr = PLAYER;
	p.sport = 27015;
	p.dport = 40000;
	kmt_pkt_payload(&p, "xxx", 3);
	expect_bytes(
	    &p, "026b6d000001026b6d0000020800450000330001000040048a9ec6126402"
		"c61200014500001f000100004011bc96c612320ac613000769879c40"
		"000b4b60787878");
}

static int verify_spec(const struct kmt_pkt *p, char *why, size_t n)
{
	uint8_t f[KMT_FRAME_MAX];
	int len = kmt_pkt_build(p, f, sizeof(f));

	cr_assert_gt(len, 0);
	return kmt_verify_frame(f, (size_t)len, NULL, why, n);
}

Test(kmtest, verifier_catches_corruption)
{
	static const uint8_t protos[] = {IPPROTO_UDP, IPPROTO_TCP,
					 IPPROTO_ICMP};
	struct kmt_pkt p;
	char why[128];

	for (size_t i = 0; i < sizeof(protos); i++) {
		for (int ipip = 0; ipip < 2; ipip++) {
			kmt_pkt_init(&p);
			p.ipip = ipip;
			p.outer.saddr = BACKEND;
			p.outer.daddr = EDGE;
			p.ip.saddr = PLAYER;
			p.ip.daddr = SVC;
			p.l4 = protos[i];
			p.icmp_type = 8;
			kmt_pkt_payload_fill(&p, 33);
			cr_assert_eq(verify_spec(&p, why, sizeof(why)), 0, "%s",
				     why);
			p.flags = KMT_F_BAD_L4_CSUM;
			cr_assert_eq(
			    verify_spec(&p, why, sizeof(why)), -EBADMSG,
			    "bad L4 checksum of proto %u accepted", protos[i]);
			p.flags = 0;
			p.ip.flags = KMT_IPF_BAD_CSUM;
			cr_assert_eq(verify_spec(&p, why, sizeof(why)),
				     -EBADMSG);
			p.ip.flags = 0;
			p.outer.flags = KMT_IPF_BAD_CSUM;
			cr_assert_eq(verify_spec(&p, why, sizeof(why)),
				     ipip ? -EBADMSG : 0);
		}
	}
}

Test(kmtest, udp_zero_checksum_and_options)
{
	struct kmt_pkt p;
	char why[128];
	uint8_t f[KMT_FRAME_MAX];
	struct kmt_view v;
	int len;

	kmt_pkt_init(&p);
	p.ip.saddr = PLAYER;
	p.ip.daddr = SVC;
	p.flags = KMT_F_UDP_CSUM_ZERO;
	p.ip.opts_len = 4;
	p.ip.opts[0] = 0x94; /* router alert */
	p.ip.opts[1] = 4;
	p.pad = 10;
	len = kmt_pkt_build(&p, f, sizeof(f));
	cr_assert_eq(len, 14 + 24 + 8 + 10);
	cr_assert_eq(kmt_verify_frame(f, (size_t)len, &v, why, sizeof(why)), 0,
		     "%s", why);
	cr_assert_eq(v.l4, 14 + 24u);
	cr_assert_eq(f[14 + 24 + 6] | f[14 + 24 + 7], 0);
	/* tot_len past the frame is malformed */
	p.pad = 0;
	p.ip.tot_len = 200;
	cr_assert_eq(verify_spec(&p, why, sizeof(why)), -EBADMSG);
}

Test(kmtest, non_ip_and_truncation)
{
	struct kmt_pkt p;
	uint8_t f[KMT_FRAME_MAX];
	int len;

	kmt_pkt_init(&p);
	p.eth_type = ETH_P_ARP;
	kmt_pkt_payload_fill(&p, 28);
	len = kmt_pkt_build(&p, f, sizeof(f));
	cr_assert_eq(len, 42);
	cr_assert_eq(f[12], 0x08);
	cr_assert_eq(f[13], 0x06);
	cr_assert_eq(kmt_verify_frame(f, (size_t)len, NULL, NULL, 0), 0);
	kmt_pkt_init(&p);
	p.truncate = 20;
	cr_assert_eq(kmt_pkt_build(&p, f, sizeof(f)), 20);
	cr_assert_eq(kmt_verify_frame(f, 20, NULL, NULL, 0), -EBADMSG);
	cr_assert_eq(kmt_pkt_build(&p, f, 10), -ENOSPC);
}
