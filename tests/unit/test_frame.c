// SPDX-License-Identifier: GPL-2.0-only
/* lib/frame: the incremental reader (cap before allocation, any split of
 * the stream), the writer, and the Envelope decoder's refusals. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

static uint8_t *ping_frame(uint64_t nonce, size_t *len)
{
	Kilimanjaro__V1__Ping ping = KILIMANJARO__V1__PING__INIT;
	KmEnvelope env = KILIMANJARO__V1__ENVELOPE__INIT;
	uint8_t *out;

	ping.nonce = nonce;
	env.body_case = KILIMANJARO__V1__ENVELOPE__BODY_PING;
	env.ping = &ping;
	cr_assert_eq(km_frame_encode(&env, 0, &out, len), 0);
	return out;
}

static uint64_t decode_ping(const uint8_t *f, uint32_t n)
{
	KmEnvelope *env;
	const char *why = NULL;
	uint64_t nonce;

	cr_assert_eq(km_envelope_decode(f, n, &env, &why), 0, "%s", why);
	cr_assert_eq(env->schema, KM_SCHEMA_VERSION);
	cr_assert_eq(env->body_case, KILIMANJARO__V1__ENVELOPE__BODY_PING);
	nonce = env->ping->nonce;
	km_envelope_free(env);
	return nonce;
}

Test(frame, two_frames_fed_one_byte_at_a_time)
{
	size_t la, lb, used;
	uint8_t *a = ping_frame(7, &la), *b = ping_frame(9, &lb);
	uint8_t *both = malloc(la + lb);
	struct km_frame_reader r;
	const uint8_t *f;
	uint32_t fl;
	uint64_t got[2];
	int nframes = 0;

	memcpy(both, a, la);
	memcpy(both + la, b, lb);
	km_frame_reader_init(&r, 0);
	for (size_t i = 0; i < la + lb; i++) {
		int ret = km_frame_feed(&r, both + i, 1, &used, &f, &fl, NULL);

		cr_assert_geq(ret, 0);
		cr_assert_eq(used, 1);
		if (ret == 1) {
			cr_assert_lt(nframes, 2);
			got[nframes++] = decode_ping(f, fl);
		}
	}
	cr_assert_eq(nframes, 2);
	cr_assert_eq(got[0], 7);
	cr_assert_eq(got[1], 9);
	cr_assert_eq(r.frames, 2);
	km_frame_reader_free(&r);
	free(a);
	free(b);
	free(both);
}

Test(frame, two_frames_in_one_buffer)
{
	size_t la, lb, used, off = 0;
	uint8_t *a = ping_frame(1, &la), *b = ping_frame(2, &lb);
	uint8_t buf[256];
	struct km_frame_reader r;
	const uint8_t *f;
	uint32_t fl;

	memcpy(buf, a, la);
	memcpy(buf + la, b, lb);
	km_frame_reader_init(&r, 0);
	cr_assert_eq(km_frame_feed(&r, buf, la + lb, &used, &f, &fl, NULL), 1);
	cr_assert_eq(used, la, "the reader stops at the end of a frame");
	cr_assert_eq(decode_ping(f, fl), 1);
	off = used;
	cr_assert_eq(
	    km_frame_feed(&r, buf + off, la + lb - off, &used, &f, &fl, NULL),
	    1);
	cr_assert_eq(decode_ping(f, fl), 2);
	cr_assert(!km_frame_partial(&r), "a returned frame is not partial");
	km_frame_reader_free(&r);
	free(a);
	free(b);
}

Test(frame, length_of_4_GiB_refused_before_allocating)
{
	const uint8_t hdr[] = {0xff, 0xff, 0xff, 0xff, 0x08, 0x01};
	struct km_frame_reader r;
	const uint8_t *f;
	uint32_t fl;
	size_t used;
	const char *why = NULL;

	km_frame_reader_init(&r, 0);
	cr_assert_eq(km_frame_feed(&r, hdr, sizeof(hdr), &used, &f, &fl, &why),
		     -EMSGSIZE);
	cr_assert_null(r.buf, "nothing allocated for an oversized frame");
	cr_assert_not_null(why);
	cr_assert(strstr(why, "exceeds the cap"), "%s", why);
	/* The stream cannot be resynchronised: it stays refused. */
	cr_assert_eq(km_frame_feed(&r, hdr, 1, &used, &f, &fl, NULL),
		     -EMSGSIZE);
	km_frame_reader_free(&r);
}

Test(frame, cap_is_inclusive)
{
	uint8_t buf[4 + 100] = {0, 0, 0, 100};
	uint8_t over[4] = {0, 0, 0, 101};
	struct km_frame_reader r;
	const uint8_t *f;
	uint32_t fl;
	size_t used;

	km_frame_reader_init(&r, 100);
	cr_assert_eq(km_frame_feed(&r, buf, sizeof(buf), &used, &f, &fl, NULL),
		     1);
	cr_assert_eq(fl, 100);
	cr_assert_eq(km_frame_feed(&r, over, 4, &used, &f, &fl, NULL),
		     -EMSGSIZE);
	km_frame_reader_free(&r);
}

Test(frame, truncated_frame_is_partial)
{
	size_t n, used;
	uint8_t *a = ping_frame(3, &n);
	struct km_frame_reader r;
	const uint8_t *f;
	uint32_t fl;

	km_frame_reader_init(&r, 0);
	cr_assert(!km_frame_partial(&r));
	cr_assert_eq(km_frame_feed(&r, a, 2, &used, &f, &fl, NULL), 0);
	cr_assert(km_frame_partial(&r), "inside the header");
	cr_assert_eq(km_frame_feed(&r, a + 2, n - 3, &used, &f, &fl, NULL), 0);
	cr_assert(km_frame_partial(&r), "inside the payload");
	km_frame_reader_free(&r);
	free(a);
}

Test(frame, encode_refuses_over_cap)
{
	Kilimanjaro__V1__Ack ack = KILIMANJARO__V1__ACK__INIT;
	KmEnvelope env = KILIMANJARO__V1__ENVELOPE__INIT;
	char err[200];
	uint8_t *out = NULL;
	size_t n;

	memset(err, 'x', sizeof(err) - 1);
	err[sizeof(err) - 1] = 0;
	ack.error = err;
	env.body_case = KILIMANJARO__V1__ENVELOPE__BODY_ACK;
	env.ack = &ack;
	cr_assert_eq(km_frame_encode(&env, 100, &out, &n), -EMSGSIZE);
	cr_assert_null(out);
}

Test(frame, decode_refuses_garbage_and_empty)
{
	const uint8_t junk[] = {0xde, 0xad, 0xbe, 0xef, 0x13, 0x37, 0xff};
	KmEnvelope *env = NULL;
	const char *why = NULL;

	cr_assert_eq(km_envelope_decode(junk, sizeof(junk), &env, &why),
		     -EBADMSG);
	cr_assert_null(env);
	cr_assert(strstr(why, "not a valid Envelope"), "%s", why);
	why = NULL;
	cr_assert_eq(km_envelope_decode(junk, 0, &env, &why), -EBADMSG);
	cr_assert(strstr(why, "empty frame"), "%s", why);
}

Test(frame, decode_truncated_payload)
{
	size_t n;
	uint8_t *a = ping_frame(0x123456789ull, &n);
	KmEnvelope *env = NULL;
	const char *why = NULL;

	cr_assert_eq(km_envelope_decode(a + 4, n - 5, &env, &why), -EBADMSG);
	cr_assert_not_null(why);
	free(a);
}

/* protobuf-c keeps a field numbered 0 and re-encodes it into bytes that
 * do not decode (found by fuzz-envelope): refused at decoding. */
Test(frame, decode_refuses_field_number_0)
{
	const uint8_t ok[] = {0x08, 0x01, 0x8a, 0x01, 0x02, 0x08, 0x2a};
	/* Tag 0 written in two bytes (0x80 0x00): protobuf-c refuses the
	 * one-byte form itself, not this one. */
	const uint8_t bad[] = {0x08, 0x01, 0x80, 0x00, 0x00,
			       0x8a, 0x01, 0x02, 0x08, 0x2a};
	const uint8_t nested[] = {0x08, 0x01, 0x8a, 0x01, 0x05,
				  0x08, 0x2a, 0x80, 0x00, 0x00};
	KmEnvelope *env = NULL;
	const char *why = NULL;

	cr_assert_eq(km_envelope_decode(ok, sizeof(ok), &env, &why), 0, "%s",
		     why);
	cr_assert_eq(env->ping->nonce, 42);
	km_envelope_free(env);
	cr_assert_eq(km_envelope_decode(bad, sizeof(bad), &env, &why),
		     -EBADMSG);
	cr_assert(strstr(why, "numbered 0"), "%s", why);
	cr_assert_eq(km_envelope_decode(nested, sizeof(nested), &env, &why),
		     -EBADMSG);
}
