// SPDX-License-Identifier: GPL-2.0-only
/* Controller protocol framing (frame.h). Input is untrusted and fuzzed
 * (tests/fuzz/fuzz_frame.c). */
#include "frame.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

void km_frame_reader_init(struct km_frame_reader *r, uint32_t max)
{
	memset(r, 0, sizeof(*r));
	r->max = max ? max : KM_FRAME_MAX;
}

void km_frame_reader_free(struct km_frame_reader *r)
{
	if (!r)
		return;
	free(r->buf);
	r->buf = NULL;
	r->hdr_got = 0;
	r->got = 0;
}

int km_frame_partial(const struct km_frame_reader *r)
{
	/* A frame returned last time is complete, not partial. */
	if (r->hdr_got == KM_FRAME_HDR && r->buf && r->got == r->len)
		return 0;
	return r->hdr_got > 0;
}

/* The header is complete: check the length, then allocate. */
static int frame_start(struct km_frame_reader *r, const char **why)
{
	r->len = (uint32_t)r->hdr[0] << 24 | (uint32_t)r->hdr[1] << 16 |
		 (uint32_t)r->hdr[2] << 8 | r->hdr[3];
	if (r->len > r->max) {
		if (why)
			*why = "frame length exceeds the cap (KM_FRAME_MAX)";
		return -EMSGSIZE;
	}
	/* One byte more so that an empty frame still has a buffer. */
	r->buf = malloc((size_t)r->len + 1);
	if (!r->buf)
		return -ENOMEM;
	r->got = 0;
	return 0;
}

int km_frame_feed(struct km_frame_reader *r, const uint8_t *data, size_t len,
		  size_t *used, const uint8_t **frame, uint32_t *frame_len,
		  const char **why)
{
	size_t off = 0, n;
	int err;

	*used = 0;
	if (r->hdr_got == KM_FRAME_HDR && !r->buf) {
		/* A previous call refused this stream. */
		if (why)
			*why = "frame length exceeds the cap (KM_FRAME_MAX)";
		return -EMSGSIZE;
	}
	if (r->hdr_got == KM_FRAME_HDR && r->got == r->len) {
		/* The last call returned a frame: start the next one. */
		free(r->buf);
		r->buf = NULL;
		r->hdr_got = 0;
	}
	while (r->hdr_got < KM_FRAME_HDR) {
		if (off == len)
			return 0;
		r->hdr[r->hdr_got++] = data[off++];
		*used = off;
		if (r->hdr_got == KM_FRAME_HDR) {
			err = frame_start(r, why);
			if (err)
				return err;
		}
	}
	n = r->len - r->got;
	if (n > len - off)
		n = len - off;
	memcpy(r->buf + r->got, data + off, n);
	r->got += (uint32_t)n;
	off += n;
	*used = off;
	if (r->got < r->len)
		return 0;
	r->frames++;
	*frame = r->buf;
	*frame_len = r->len;
	return 1;
}

int km_frame_encode(KmEnvelope *env, uint32_t max, uint8_t **out,
		    size_t *out_len)
{
	size_t n;
	uint8_t *b;

	if (!max)
		max = KM_FRAME_MAX;
	if (!env->schema)
		env->schema = KM_SCHEMA_VERSION;
	n = kilimanjaro__v1__envelope__get_packed_size(env);
	if (n > max)
		return km_log_errno(-EMSGSIZE,
				    "frame: %s message of %zu bytes exceeds "
				    "the cap of %u bytes",
				    km_envelope_kind(env), n, max);
	b = malloc(KM_FRAME_HDR + n);
	if (!b)
		return -ENOMEM;
	b[0] = (uint8_t)(n >> 24);
	b[1] = (uint8_t)(n >> 16);
	b[2] = (uint8_t)(n >> 8);
	b[3] = (uint8_t)n;
	kilimanjaro__v1__envelope__pack(env, b + KM_FRAME_HDR);
	*out = b;
	*out_len = KM_FRAME_HDR + n;
	return 0;
}

/*
 * protobuf-c keeps a field numbered 0 as an "unknown field", though no
 * valid encoder writes one, and packs it again into bytes that no longer
 * decode (found by tests/fuzz/fuzz_envelope.c). Such input is malformed:
 * refuse it here, so that whatever is accepted re-encodes faithfully.
 */
static bool fields_valid(const ProtobufCMessage *m, int depth)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const char *base = (const char *)m;

	if (depth > 16)
		return false;
	for (unsigned i = 0; i < m->n_unknown_fields; i++)
		if (m->unknown_fields[i].tag == 0)
			return false;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];

		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *)(base + f->quantifier_offset) != f->id)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n =
			    *(const size_t *)(base + f->quantifier_offset);
			ProtobufCMessage *const *v = *(
			    ProtobufCMessage *const *const *)(base + f->offset);

			for (size_t j = 0; j < n; j++)
				if (!fields_valid(v[j], depth + 1))
					return false;
		} else {
			const ProtobufCMessage *v = *(
			    const ProtobufCMessage *const *)(base + f->offset);

			if (v && !fields_valid(v, depth + 1))
				return false;
		}
	}
	return true;
}

int km_envelope_decode(const uint8_t *buf, size_t len, KmEnvelope **env,
		       const char **why)
{
	*env = kilimanjaro__v1__envelope__unpack(NULL, len, buf);
	if (!*env) {
		if (why)
			*why =
			    len ? "not a valid Envelope protobuf (malformed, "
				  "or a required field is missing)"
				: "empty frame (an Envelope needs schema)";
		return -EBADMSG;
	}
	if (!fields_valid(&(*env)->base, 0)) {
		km_envelope_free(*env);
		*env = NULL;
		if (why)
			*why = "not a valid Envelope protobuf (a field "
			       "numbered 0)";
		return -EBADMSG;
	}
	return 0;
}

void km_envelope_free(KmEnvelope *env)
{
	if (env)
		kilimanjaro__v1__envelope__free_unpacked(env, NULL);
}

const char *km_envelope_kind(const KmEnvelope *env)
{
	switch (env->body_case) {
	case KILIMANJARO__V1__ENVELOPE__BODY_HELLO:
		return "hello";
	case KILIMANJARO__V1__ENVELOPE__BODY_STATS:
		return "stats";
	case KILIMANJARO__V1__ENVELOPE__BODY_PUNCH_LEARNED:
		return "punch_learned";
	case KILIMANJARO__V1__ENVELOPE__BODY_BLOCK_ADDED:
		return "block_added";
	case KILIMANJARO__V1__ENVELOPE__BODY_SNAPSHOT:
		return "snapshot";
	case KILIMANJARO__V1__ENVELOPE__BODY_DELTA:
		return "delta";
	case KILIMANJARO__V1__ENVELOPE__BODY_ACK:
		return "ack";
	case KILIMANJARO__V1__ENVELOPE__BODY_PING:
		return "ping";
	case KILIMANJARO__V1__ENVELOPE__BODY_PONG:
		return "pong";
	default:
		return "none";
	}
}
