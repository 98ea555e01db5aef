// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: the controller-protocol frame reader (lib/frame.c) on
 * a byte stream delivered in chunks whose sizes the input also chooses, as
 * a socket would deliver them. Checks of lib/frame.h's contract:
 *
 *  - a frame is returned only when all of its bytes arrived, and never
 *    longer than the cap (a small cap here, so refusals are reached);
 *  - the bytes of the returned frames plus their headers are exactly the
 *    bytes consumed up to the last frame; *used never exceeds the chunk;
 *  - after -EMSGSIZE the reader stays refused and nothing was allocated;
 *  - every complete frame goes through the Envelope decoder and
 *    lib/pbcheck, which must not crash whatever it holds.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "log.h"
#include "pbcheck.h"

#define FZ_NAME "fuzz_frame"
#include "fuzz_common.h"

#define CAP 4096

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	km_log_init("fuzz_frame", LOG_EMERG);
	return 0;
}

static void check_frame(const uint8_t *f, uint32_t n)
{
	char why[KM_PB_WHY_LEN];
	const char *derr = NULL;
	KmEnvelope *env;

	if (km_envelope_decode(f, n, &env, &derr)) {
		CHECK(derr && derr[0]);
		return;
	}
	if (km_pb_check(env, why, sizeof(why)))
		CHECK(why[0], "a refusal without a reason");
	km_envelope_free(env);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct km_frame_reader r;
	const uint8_t *p, *f;
	size_t left, total = 0, framed = 0, used;
	uint32_t fl;
	int refused = 0, ret;
	uint8_t pat;

	if (size < 1)
		return 0;
	/* First byte: the chunk size pattern; the rest is the stream. */
	pat = data[0];
	p = data + 1;
	left = size - 1;
	km_frame_reader_init(&r, CAP);
	while (left && !refused) {
		size_t chunk = pat ? 1 + (pat + total) % 97 : left, off = 0;

		if (chunk > left)
			chunk = left;
		while (off < chunk) {
			const char *why = NULL;

			ret = km_frame_feed(&r, p + off, chunk - off, &used, &f,
					    &fl, &why);
			CHECK(used <= chunk - off, "used %zu of %zu", used,
			      chunk - off);
			if (ret == -EMSGSIZE) {
				CHECK(!r.buf, "allocated for a refused frame");
				CHECK(why && strstr(why, "exceeds the cap"));
				refused = 1;
				break;
			}
			CHECK(ret == 0 || ret == 1, "ret %d", ret);
			off += used;
			total += used;
			if (ret == 0) {
				CHECK(off == chunk, "0 before the chunk ended");
				CHECK(km_frame_partial(&r) || used == 0);
				continue;
			}
			CHECK(used > 0, "a frame from no bytes");
			CHECK(fl <= CAP, "frame of %u > cap", fl);
			CHECK(!km_frame_partial(&r));
			framed += KM_FRAME_HDR + fl;
			CHECK(framed == total, "frames %zu bytes, consumed %zu",
			      framed, total);
			check_frame(f, fl);
		}
		p += chunk;
		left -= chunk;
	}
	if (refused)
		CHECK(km_frame_feed(&r, data, size, &used, &f, &fl, NULL) ==
		      -EMSGSIZE);
	km_frame_reader_free(&r);
	return 0;
}
