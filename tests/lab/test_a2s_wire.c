// SPDX-License-Identifier: GPL-2.0-only
/* The lab fixture's A2S encoders: bytes checked against Valve's layout by
 * hand-written expectations, split fragments reassembled. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "a2s_wire.h"

static const struct a2s_server srv = {
    .name = "N",
    .map = "M",
    .folder = "tf",
    .game = "G",
    .version = "1",
    .keywords = "k",
    .app_id = 440,
    .game_port = 27015,
    .players = 2,
    .max_players = 24,
    .bots = 0,
    .rules = 100,
    .serial = -1,
};

Test(a2s_wire, parse_requests)
{
	uint8_t b[64];
	struct a2s_request r;
	int n;

	n = a2s_build_request(A2S_KIND_INFO, -1, b, sizeof(b));
	cr_assert_eq(n, 25);
	cr_assert_eq(a2s_parse_request(b, n, &r), 0);
	cr_assert_eq(r.kind, A2S_KIND_INFO);
	cr_assert_eq(r.has_challenge, 0);

	n = a2s_build_request(A2S_KIND_INFO, 0x11223344, b, sizeof(b));
	cr_assert_eq(n, 29);
	cr_assert_eq(a2s_parse_request(b, n, &r), 0);
	cr_assert(r.has_challenge);
	cr_assert_eq(r.challenge, 0x11223344);
	cr_assert_eq(b[25], 0x44, "challenge bytes are little endian");

	n = a2s_build_request(A2S_KIND_RULES, -1, b, sizeof(b));
	cr_assert_eq(n, 9);
	cr_assert_eq(a2s_parse_request(b, n, &r), 0);
	cr_assert_eq(r.kind, A2S_KIND_RULES);
	cr_assert_eq(r.has_challenge, 0, "FFFFFFFF asks for a challenge");
	memset(b + 5, 0, 4);
	cr_assert_eq(a2s_parse_request(b, n, &r), 0);
	cr_assert_eq(r.has_challenge, 0, "00000000 asks for a challenge");

	/* Truncated, wrong header, wrong payload, unknown type. */
	n = a2s_build_request(A2S_KIND_PLAYER, 7, b, sizeof(b));
	cr_assert_eq(a2s_parse_request(b, n - 1, &r), -EINVAL);
	cr_assert_eq(r.kind, A2S_KIND_BAD);
	b[0] = 0xFE;
	cr_assert_eq(a2s_parse_request(b, n, &r), -EINVAL);
	n = a2s_build_request(A2S_KIND_INFO, -1, b, sizeof(b));
	b[10] ^= 1;
	cr_assert_eq(a2s_parse_request(b, n, &r), -EINVAL);
	cr_assert_eq(a2s_parse_request(b, 24, &r), -EINVAL);
	memcpy(b, "\xff\xff\xff\xff\x69", 5);
	cr_assert_eq(a2s_parse_request(b, 5, &r), -EINVAL);
	cr_assert_eq(a2s_parse_request(b, 0, &r), -EINVAL);
}

Test(a2s_wire, info_layout)
{
	static const uint8_t want[] = {
	    0xff, 0xff, 0xff, 0xff, 0x49, 17,	'N',  0,   'M', 0, 't', 'f', 0,
	    'G',  0,	0xb8, 0x01, 2,	  24,	0,    'd', 'l', 0, 1,	'1', 0,
	    0xa1, 0x87, 0x69, 'k',  0,	  0xb8, 0x01, 0,   0,	0, 0,	0,   0};
	uint8_t b[256];
	int n = a2s_build_info(&srv, b, sizeof(b));

	cr_assert_eq(n, (int)sizeof(want));
	cr_assert_arr_eq(b, want, sizeof(want));
	cr_assert_eq(a2s_build_info(&srv, b, sizeof(want) - 1), -ENOSPC);
}

Test(a2s_wire, players_and_challenge)
{
	uint8_t b[256];
	int n = a2s_build_players(&srv, b, sizeof(b));

	/* header 5 + count 1 + 2 x (index 1 + "player_0N\0" 10 + 4 + 4) */
	cr_assert_eq(n, 6 + 2 * 19);
	cr_assert_eq(b[4], 0x44);
	cr_assert_eq(b[5], 2);
	cr_assert_str_eq((char *)b + 7, "player_00");
	cr_assert_eq(b[6 + 19 + 1 + 10], 10, "second player's score");
	cr_assert_eq(a2s_build_challenge(0xa1b2c3d4, b, sizeof(b)), 9);
	cr_assert_arr_eq(b, "\xff\xff\xff\xff\x41\xd4\xc3\xb2\xa1", 9);
}

Test(a2s_wire, split_reassembles)
{
	static uint8_t msg[A2S_MAX_MSG], out[A2S_MAX_MSG], frag[2048];
	int n = a2s_build_rules(&srv, msg, sizeof(msg));
	int total = a2s_split_count(n, 1200), i, fl;
	size_t off = 0;

	cr_assert_gt(n, 2400, "100 rules need three fragments");
	cr_assert_eq(total, (n + 1187) / 1188);
	cr_assert_eq(msg[4], 0x45);
	cr_assert_eq(msg[5] | msg[6] << 8, 100);
	for (i = 0; i < total; i++) {
		fl = a2s_build_fragment(msg, n, 0x80000005u, 1200, i, frag,
					sizeof(frag));
		cr_assert_gt(fl, 12);
		cr_assert_leq(fl, 1200);
		cr_assert_arr_eq(frag, "\xfe\xff\xff\xff\x05\x00\x00\x00", 8,
				 "compression bit never set");
		cr_assert_eq(frag[8], total);
		cr_assert_eq(frag[9], i);
		cr_assert_eq(frag[10] | frag[11] << 8, 1200);
		memcpy(out + off, frag + 12, fl - 12);
		off += fl - 12;
	}
	cr_assert_eq(off, (size_t)n);
	cr_assert_arr_eq(out, msg, n);
	cr_assert_eq(
	    a2s_build_fragment(msg, n, 1, 1200, total, frag, sizeof(frag)),
	    -EINVAL);
	cr_assert_eq(a2s_split_count(100, 100), 1);
	cr_assert_eq(a2s_split_count(300000, 100), -EMSGSIZE);
}
