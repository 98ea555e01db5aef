// SPDX-License-Identifier: GPL-2.0-only
/* controller/state.c: what a restart keeps, the version chain of the
 * deltas, the punch relay's two variants, the A2S key rotation, and the
 * refusal of files that are not our database. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "frame.h"
#include "state.h"

#define KV1(x) Kilimanjaro__V1__##x

static char dir[64], db[96];
static uint64_t fake_now = 1000000;

static uint64_t clock_fake(void)
{
	return fake_now;
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/kt-unit-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/state.db", dir);
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(ctl_state, .init = setup, .fini = teardown);

static void open_st(struct state *st)
{
	cr_assert_eq(state_open(st, db, 30, 300), 0);
	st->now_ms = clock_fake;
}

static void make_service(struct KV1(Service) * s, struct KV1(ServiceKey) * k,
			 uint32_t port)
{
	kilimanjaro__v1__service__init(s);
	kilimanjaro__v1__service_key__init(k);
	k->proto = KILIMANJARO__V1__PROTO__PROTO_UDP;
	k->addr = 0xC6120A01;
	k->port = port;
	s->key = k;
	s->backend = 0xC6120202;
}

/* Decode every frame of buf into envelopes (the caller frees them). */
static size_t decode_all(const uint8_t *buf, size_t len, KmEnvelope **out,
			 size_t max)
{
	struct km_frame_reader rd;
	size_t n = 0, off = 0;

	km_frame_reader_init(&rd, 0);
	while (off < len) {
		const uint8_t *f;
		const char *why;
		uint32_t fl;
		size_t used;
		int r = km_frame_feed(&rd, buf + off, len - off, &used, &f, &fl,
				      &why);

		off += used;
		cr_assert_geq(r, 0);
		if (!r)
			break;
		cr_assert_lt(n, max);
		cr_assert_eq(km_envelope_decode(f, fl, &out[n], &why), 0);
		n++;
	}
	km_frame_reader_free(&rd);
	return n;
}

Test(ctl_state, restart_loses_nothing)
{
	KV1(Service) svc;
	KV1(ServiceKey) key;
	struct state st;
	uint8_t key_before[16];

	open_st(&st);
	cr_assert_eq(st.version, 0);
	make_service(&svc, &key, 27015);
	svc.name = "tf2";
	cr_assert_eq(state_service_put(&st, &svc), 0);
	cr_assert_eq(state_prefix_add(&st, ST_DENY, 0xC6120400, 24), 0);
	cr_assert_eq(state_prefix_add(&st, ST_ALLOW, 0xC6120500, 24), 0);
	cr_assert_eq(state_block_add(&st, 0xC6120606, 0), 0);
	cr_assert_eq(state_block_add(&st, 0xC6120607, 60000), 0);
	cr_assert_eq(st.version, 5);
	memcpy(key_before, st.a2s.key, 16);
	state_close(&st);

	open_st(&st);
	cr_assert_eq(st.version, 5, "version after restart: %llu",
		     (unsigned long long)st.version);
	cr_assert_eq(st.n_services, 1);
	cr_assert_str_eq(st.services[0]->name, "tf2");
	cr_assert_eq(st.services[0]->key->port, 27015);
	cr_assert_eq(st.n_list[ST_DENY], 1);
	cr_assert_eq(st.lists[ST_DENY][0].addr, 0xC6120400);
	cr_assert_eq(st.n_list[ST_ALLOW], 1);
	cr_assert_eq(st.n_blocks, 2);
	cr_assert_eq(memcmp(key_before, st.a2s.key, 16), 0,
		     "the A2S key changed across a restart");
	state_close(&st);
}

Test(ctl_state, conflicts_and_missing_entries)
{
	struct state st;

	open_st(&st);
	cr_assert_eq(state_prefix_add(&st, ST_DENY, 0xC6120400, 24), 0);
	cr_assert_eq(state_prefix_add(&st, ST_DENY, 0xC6120400, 24), -EEXIST);
	cr_assert_eq(state_prefix_add(&st, ST_ALLOW, 0xC6120400, 24), -EEXIST,
		     "a prefix must not be in allow and deny at once");
	cr_assert_eq(state_prefix_del(&st, ST_ALLOW, 0xC6120400, 24), -ENOENT);
	cr_assert_eq(state_service_del(&st, 17, 0xC6120A01, 1), -ENOENT);
	cr_assert_eq(state_block_del(&st, 0xC6120606), -ENOENT);
	cr_assert_eq(st.version, 1, "a refused change moved the version");
	state_close(&st);
}

Test(ctl_state, deltas_chain_from_any_version)
{
	KmEnvelope *env[8];
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, n;
	struct state st;
	uint64_t to;

	open_st(&st);
	for (uint32_t i = 0; i < 4; i++)
		cr_assert_eq(
		    state_prefix_add(&st, ST_DENY, 0xC6120000 + (i << 8), 24),
		    0);
	cr_assert_eq(state_prefix_del(&st, ST_DENY, 0xC6120100, 24), 0);
	cr_assert_eq(state_deltas_since(&st, 2, "e", &buf, &len, &cap, &to), 0);
	cr_assert_eq(to, 5);
	n = decode_all(buf, len, env, 8);
	cr_assert_eq(n, 3);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(env[i]->body_case,
			     KILIMANJARO__V1__ENVELOPE__BODY_DELTA);
		cr_assert_eq(env[i]->delta->base_version, 2 + i);
		cr_assert_eq(env[i]->delta->version, 3 + i);
	}
	cr_assert_eq(env[2]->delta->n_del_deny, 1);
	cr_assert_eq(env[2]->delta->del_deny[0]->addr, 0xC6120100);
	for (size_t i = 0; i < n; i++)
		km_envelope_free(env[i]);
	/* Nothing new: nothing appended. */
	len = 0;
	cr_assert_eq(state_deltas_since(&st, 5, "e", &buf, &len, &cap, &to), 0);
	cr_assert_eq(len, 0);
	/* An edge claiming a version the controller never had: resync. */
	cr_assert_eq(state_deltas_since(&st, 9, "e", &buf, &len, &cap, &to),
		     -ERANGE);
	free(buf);
	state_close(&st);
}

Test(ctl_state, an_edge_older_than_the_log_or_the_restart_gets_a_snapshot)
{
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;
	struct state st;
	uint64_t to;

	open_st(&st);
	cr_assert_eq(state_block_add(&st, 0xC6120606, 0), 0);
	state_close(&st);
	open_st(&st);
	/* The deltas before the restart are not in memory any more. */
	cr_assert_eq(state_deltas_since(&st, 0, "e", &buf, &len, &cap, &to),
		     -ERANGE);
	cr_assert_eq(state_deltas_since(&st, 1, "e", &buf, &len, &cap, &to), 0);
	free(buf);
	state_close(&st);
}

Test(ctl_state, punch_relayed_to_others_not_back_to_its_edge)
{
	struct st_punch p = {.proto = 17,
			     .saddr = 0xC6120A01,
			     .sport = 27015,
			     .raddr = 0xC6120702,
			     .rport = 5000,
			     .backend = 0xC6120202};
	KmEnvelope *env[2];
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;
	struct state st;
	uint64_t to;

	open_st(&st);
	cr_assert_eq(state_punch_learned(&st, &p, "edge-a"), 0);
	cr_assert_eq(
	    state_deltas_since(&st, 0, "edge-b", &buf, &len, &cap, &to), 0);
	cr_assert_eq(decode_all(buf, len, env, 2), 1);
	cr_assert_eq(env[0]->delta->n_add_punches, 1);
	cr_assert_eq(env[0]->delta->add_punches[0]->remote_port, 5000);
	cr_assert_eq(env[0]->delta->add_punches[0]->backend, 0xC6120202);
	km_envelope_free(env[0]);
	len = 0;
	cr_assert_eq(
	    state_deltas_since(&st, 0, "edge-a", &buf, &len, &cap, &to), 0);
	cr_assert_eq(decode_all(buf, len, env, 2), 1);
	cr_assert_eq(env[0]->delta->version, 1,
		     "the reporting edge must still move to the version");
	cr_assert_eq(env[0]->delta->n_add_punches, 0);
	km_envelope_free(env[0]);
	free(buf);
	state_close(&st);
}

Test(ctl_state, punches_and_blocks_expire_from_snapshots)
{
	struct st_punch p = {.proto = 17,
			     .saddr = 0xC6120A01,
			     .sport = 1,
			     .raddr = 0xC6120702,
			     .rport = 2,
			     .backend = 0xC6120202};
	uint8_t *f;
	size_t len;
	uint64_t v;
	KmEnvelope *env;
	struct state st;
	const char *why;

	open_st(&st);
	cr_assert_eq(state_punch_learned(&st, &p, "a"), 0);
	cr_assert_eq(state_block_add(&st, 0xC6120606, 1000), 0);
	cr_assert_eq(state_block_add(&st, 0xC6120607, 0), 0);
	fake_now += 500;
	cr_assert_eq(state_snapshot_frame(&st, &f, &len, &v), 0);
	cr_assert_eq(km_envelope_decode(f + 4, len - 4, &env, &why), 0);
	cr_assert_eq(env->snapshot->n_punches, 1);
	cr_assert_eq(env->snapshot->n_blocks, 2);
	for (size_t i = 0; i < 2; i++)
		if (env->snapshot->blocks[i]->addr == 0xC6120606)
			cr_assert_eq(env->snapshot->blocks[i]->duration_ms, 500,
				     "a block's remaining time, not its total");
	cr_assert_not_null(env->snapshot->a2s_key);
	cr_assert_eq(env->snapshot->a2s_key->key.len, 16);
	km_envelope_free(env);
	free(f);
	fake_now += 300 * 1000;
	state_sweep(&st);
	cr_assert_eq(st.n_punches, 0);
	cr_assert_eq(st.n_blocks, 1, "the permanent block must stay");
	state_close(&st);
	open_st(&st);
	cr_assert_eq(st.n_punches, 0, "the sweep did not reach the db");
	state_close(&st);
}

Test(ctl_state, a2s_rotation_keeps_previous_key_for_two_epochs)
{
	uint8_t k1[16], k2[16];
	struct state st;
	uint32_t wait = 0;

	open_st(&st);
	memcpy(k1, st.a2s.key, 16);
	cr_assert_eq(state_a2s_rotate(&st, false, NULL), 0);
	cr_assert_eq(st.a2s.key_id, 2);
	cr_assert(st.a2s.has_prev);
	cr_assert_eq(memcmp(st.a2s.prev, k1, 16), 0);
	cr_assert_neq(memcmp(st.a2s.key, k1, 16), 0);
	memcpy(k2, st.a2s.key, 16);
	fake_now += 30 * 1000; /* one epoch: challenges under k1 still live */
	cr_assert_eq(state_a2s_rotate(&st, false, &wait), -EAGAIN);
	cr_assert_eq(wait, 30);
	fake_now += 30 * 1000;
	cr_assert_eq(state_a2s_rotate(&st, false, NULL), 0);
	cr_assert_eq(memcmp(st.a2s.prev, k2, 16), 0);
	state_close(&st);
	open_st(&st);
	cr_assert_eq(st.a2s.key_id, 3);
	cr_assert_eq(memcmp(st.a2s.prev, k2, 16), 0);
	state_close(&st);
}

static void write_file(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	fputs(s, f);
	fclose(f);
}

Test(ctl_state, a_file_that_is_not_a_database_is_refused)
{
	struct state st;

	write_file(db, "this is not an SQLite database, not even close......"
		       "................................................");
	cr_assert_eq(state_open(&st, db, 30, 300), -EINVAL);
}

static void sql(const char *s)
{
	sqlite3 *h;

	cr_assert_eq(sqlite3_open(db, &h), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(h, s, NULL, NULL, NULL), SQLITE_OK, "%s", s);
	sqlite3_close(h);
}

Test(ctl_state, another_applications_database_is_refused)
{
	struct state st;

	sql("CREATE TABLE t (x INTEGER)");
	cr_assert_eq(state_open(&st, db, 30, 300), -EINVAL);
}

Test(ctl_state, a_newer_schema_is_refused)
{
	struct state st;

	open_st(&st);
	state_close(&st);
	sql("UPDATE meta SET v = 99 WHERE k = 'schema'");
	cr_assert_eq(state_open(&st, db, 30, 300), -EINVAL);
}

Test(ctl_state, a_corrupt_service_row_is_refused)
{
	struct state st;

	open_st(&st);
	state_close(&st);
	sql("INSERT INTO services VALUES (17, 1, 2, x'ffffffff')");
	cr_assert_eq(state_open(&st, db, 30, 300), -EINVAL);
}
