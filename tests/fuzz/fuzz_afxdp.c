// SPDX-License-Identifier: GPL-2.0-only
/*
 * kilimanjaro-afxdp's parsers of outside input: what game servers send
 * (a stream of datagrams, each length-prefixed, into a2s_answer_parse and
 * one split assembler, as a worker sees them) and redirected frames
 * (pkt_udp_parse, then a reply built from the frame must pass kmtest's
 * independent verifier).
 * Invariants: no crash; an assembled answer is one A2S message of at most
 * A2S_ANSWER_MAX bytes; after a bad or complete answer the assembler is
 * empty; a parsed frame's payload lies inside the frame.
 */
#define FZ_NAME "fuzz-afxdp"
#include "fuzz_common.h"

#include "../../afxdp-worker/a2s_pkt.h"
#include "../../afxdp-worker/a2s_split.h"

static struct a2s_split split;
static uint8_t out[A2S_ANSWER_MAX];

static void datagram(const uint8_t *p, size_t n)
{
	struct a2s_answer a;
	const char *why = NULL;
	enum a2s_kind k;
	int r;

	if (a2s_answer_parse(p, n, &a, &why)) {
		CHECK(why != NULL);
		return;
	}
	if (a.type != A2S_A_SPLIT)
		return;
	r = a2s_split_add(&split, &a, 1, out, sizeof(out), &why);
	if (r < 0)
		CHECK(why != NULL && split.total == 0);
	if (r > 0) {
		CHECK(r <= A2S_ANSWER_MAX, "%d", r);
		CHECK(a2s_message_kind(out, (size_t)r, &k) == 0);
		CHECK(split.total == 0);
	}
}

static void frame(const uint8_t *f, size_t n)
{
	uint8_t reply[KMT_FRAME_MAX];
	struct kmt_view v;
	struct pkt_udp u;
	const char *why;
	char vwhy[128];
	int len;

	if (pkt_udp_parse(f, n, &u, &why))
		return;
	CHECK(u.payload_off + u.payload_len <= n);
	len = pkt_reply_build(reply, sizeof(reply), &u, f + u.payload_off,
			      u.payload_len);
	CHECK(len > 0);
	CHECK(!kmt_verify_frame(reply, (size_t)len, &v, vwhy, sizeof(vwhy)),
	      "%s", vwhy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct src s = {data, size};

	a2s_split_reset(&split);
	frame(data, size);
	while (s.n) {
		size_t n = take16(&s) % 1500;

		if (n > s.n)
			n = s.n;
		datagram(s.p, n);
		s.p += n;
		s.n -= n;
	}
	return 0;
}
