// SPDX-License-Identifier: GPL-2.0-only
#include "state.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "frame.h"
#include "log.h"
#include "state_db.h"

#define KV1(x) Kilimanjaro__V1__##x

uint64_t state_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int state_frame_envelope(const KV1(Envelope) * env, uint8_t **out, size_t *len)
{
	/* km_frame_encode sets a missing schema; ours always carry one. */
	return km_frame_encode((KV1(Envelope) *)env, 0, out, len);
}

/* ---- loading ---- */

static int load_services(struct state *st)
{
	sqlite3_stmt *s;
	int r = db_query(st->db, &s, "SELECT pb FROM services");

	while (!r && sqlite3_step(s) == SQLITE_ROW) {
		KV1(Service) *svc = kilimanjaro__v1__service__unpack(
		    NULL, (size_t)sqlite3_column_bytes(s, 0),
		    sqlite3_column_blob(s, 0));

		if (!svc || st->n_services >= STATE_MAX_SERVICES) {
			r = km_log_errno(-EINVAL,
					 "db: services: a row is not a "
					 "valid Service message");
			kilimanjaro__v1__service__free_unpacked(svc, NULL);
			break;
		}
		st->services[st->n_services++] = svc;
	}
	sqlite3_finalize(s);
	return r;
}

static int load_rows(struct state *st)
{
	sqlite3_stmt *s;
	int r;

	r = db_query(st->db, &s, "SELECT list, addr, len FROM prefixes");
	while (!r && sqlite3_step(s) == SQLITE_ROW) {
		int l = sqlite3_column_int(s, 0);

		if ((l != ST_ALLOW && l != ST_DENY) ||
		    st->n_list[l] >= STATE_MAX_PREFIXES) {
			r = km_log_errno(-EINVAL, "db: prefixes: bad row");
			break;
		}
		st->lists[l][st->n_list[l]++] = (struct st_prefix){
		    .addr = (uint32_t)sqlite3_column_int64(s, 1),
		    .len = (uint8_t)sqlite3_column_int(s, 2)};
	}
	sqlite3_finalize(s);
	if (r)
		return r;
	r = db_query(st->db, &s, "SELECT addr, expires_ms FROM blocks");
	while (!r && sqlite3_step(s) == SQLITE_ROW &&
	       st->n_blocks < STATE_MAX_BLOCKS)
		st->blocks[st->n_blocks++] = (struct st_block){
		    .addr = (uint32_t)sqlite3_column_int64(s, 0),
		    .expires_ms = (uint64_t)sqlite3_column_int64(s, 1)};
	sqlite3_finalize(s);
	if (r)
		return r;
	r = db_query(st->db, &s,
		     "SELECT proto, saddr, sport, raddr, rport, backend, "
		     "expires_ms FROM punches");
	while (!r && sqlite3_step(s) == SQLITE_ROW &&
	       st->n_punches < STATE_MAX_PUNCHES)
		st->punches[st->n_punches++] = (struct st_punch){
		    .proto = (uint8_t)sqlite3_column_int(s, 0),
		    .saddr = (uint32_t)sqlite3_column_int64(s, 1),
		    .sport = (uint16_t)sqlite3_column_int(s, 2),
		    .raddr = (uint32_t)sqlite3_column_int64(s, 3),
		    .rport = (uint16_t)sqlite3_column_int(s, 4),
		    .backend = (uint32_t)sqlite3_column_int64(s, 5),
		    .expires_ms = (uint64_t)sqlite3_column_int64(s, 6)};
	sqlite3_finalize(s);
	return r;
}

static int load_a2s(struct state *st)
{
	sqlite3_stmt *s;
	int r =
	    db_query(st->db, &s,
		     "SELECT key_id, key, prev_key, rotated_ms FROM a2s_key");

	if (r)
		return r;
	if (sqlite3_step(s) == SQLITE_ROW) {
		if (sqlite3_column_bytes(s, 1) != STATE_A2S_KEY_LEN ||
		    (sqlite3_column_type(s, 2) != SQLITE_NULL &&
		     sqlite3_column_bytes(s, 2) != STATE_A2S_KEY_LEN)) {
			sqlite3_finalize(s);
			return km_log_errno(-EINVAL,
					    "db: a2s_key: a key is "
					    "not %d bytes",
					    STATE_A2S_KEY_LEN);
		}
		st->a2s.key_id = (uint32_t)sqlite3_column_int64(s, 0);
		memcpy(st->a2s.key, sqlite3_column_blob(s, 1),
		       STATE_A2S_KEY_LEN);
		st->a2s.has_prev = sqlite3_column_type(s, 2) != SQLITE_NULL;
		if (st->a2s.has_prev)
			memcpy(st->a2s.prev, sqlite3_column_blob(s, 2),
			       STATE_A2S_KEY_LEN);
		st->a2s.rotated_ms = (uint64_t)sqlite3_column_int64(s, 3);
		sqlite3_finalize(s);
		return 0;
	}
	sqlite3_finalize(s);
	/* First start: the fleet's key. Not a versioned change: no edge has
	 * seen a version yet that lacked it. */
	if (RAND_bytes(st->a2s.key, STATE_A2S_KEY_LEN) != 1)
		return -EIO;
	st->a2s.key_id = 1;
	st->a2s.rotated_ms = st->now_ms();
	return db_run(st->db, "INSERT INTO a2s_key VALUES (1, ?, ?, NULL, ?)",
		      "ibi", (int64_t)1, st->a2s.key, (size_t)STATE_A2S_KEY_LEN,
		      (int64_t)st->a2s.rotated_ms);
}

int state_open(struct state *st, const char *path, uint32_t epoch_s,
	       uint32_t punch_ttl_s)
{
	int r;

	memset(st, 0, sizeof(*st));
	pthread_mutex_init(&st->lock, NULL);
	st->notify_fd = -1;
	st->epoch_s = epoch_s;
	st->punch_ttl_s = punch_ttl_s;
	st->now_ms = state_wall_ms;
	st->services = calloc(STATE_MAX_SERVICES, sizeof(*st->services));
	st->lists[0] = calloc(STATE_MAX_PREFIXES, sizeof(struct st_prefix));
	st->lists[1] = calloc(STATE_MAX_PREFIXES, sizeof(struct st_prefix));
	st->blocks = calloc(STATE_MAX_BLOCKS, sizeof(*st->blocks));
	st->punches = calloc(STATE_MAX_PUNCHES, sizeof(*st->punches));
	if (!st->services || !st->lists[0] || !st->lists[1] || !st->blocks ||
	    !st->punches) {
		r = -ENOMEM;
		goto fail;
	}
	r = db_open(path, (sqlite3 **)&st->db);
	if (r)
		goto fail;
	r = db_get_version(st->db, &st->version);
	if (!r)
		r = load_services(st);
	if (!r)
		r = load_rows(st);
	if (!r)
		r = load_a2s(st);
	if (r) {
		km_err("%s: cannot load the state", path);
		goto fail;
	}
	st->log_first = st->version + 1;
	st->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (st->notify_fd < 0) {
		r = -errno;
		goto fail;
	}
	return 0;
fail:
	state_close(st);
	return r;
}

void state_close(struct state *st)
{
	for (size_t i = 0; i < st->n_services; i++)
		kilimanjaro__v1__service__free_unpacked(st->services[i], NULL);
	free(st->services);
	free(st->lists[0]);
	free(st->lists[1]);
	free(st->blocks);
	free(st->punches);
	for (size_t i = 0; i < STATE_LOG_LEN; i++) {
		free(st->log[i].frame);
		free(st->log[i].alt_frame);
		free(st->log[i].origin);
	}
	if (st->db)
		sqlite3_close(st->db);
	if (st->notify_fd >= 0)
		close(st->notify_fd);
	pthread_mutex_destroy(&st->lock);
	memset(st, 0, sizeof(*st));
	st->notify_fd = -1;
}

uint64_t state_version(struct state *st)
{
	uint64_t v;

	pthread_mutex_lock(&st->lock);
	v = st->version;
	pthread_mutex_unlock(&st->lock);
	return v;
}

/* ---- the delta log ---- */

/* Record version st->version's delta (already committed). A frame that
 * cannot be built leaves a hole: edges that need it get a snapshot. */
static void log_append(struct state *st, KV1(ConfigDelta) * d,
		       KV1(ConfigDelta) * alt, const char *origin)
{
	KV1(Envelope) env = KILIMANJARO__V1__ENVELOPE__INIT;
	struct st_delta *e = &st->log[st->version % STATE_LOG_LEN];
	uint64_t one = 1;

	free(e->frame);
	free(e->alt_frame);
	free(e->origin);
	memset(e, 0, sizeof(*e));
	if (st->version - st->log_first >= STATE_LOG_LEN)
		st->log_first = st->version - STATE_LOG_LEN + 1;
	e->version = st->version;
	env.schema = KM_SCHEMA_VERSION;
	env.body_case = KILIMANJARO__V1__ENVELOPE__BODY_DELTA;
	env.delta = d;
	if (state_frame_envelope(&env, &e->frame, &e->len))
		e->frame = NULL;
	if (alt && origin) {
		env.delta = alt;
		e->origin = strdup(origin);
		if (!e->origin ||
		    state_frame_envelope(&env, &e->alt_frame, &e->alt_len)) {
			free(e->frame);
			e->frame = NULL;
		}
	}
	if (st->notify_fd >= 0 &&
	    write(st->notify_fd, &one, sizeof(one)) != sizeof(one))
		km_debug("state: notify: %s", strerror(errno));
}

int state_deltas_since(struct state *st, uint64_t from, const char *edge,
		       uint8_t **buf, size_t *len, size_t *cap, uint64_t *to)
{
	int r = 0;

	pthread_mutex_lock(&st->lock);
	if (from > st->version ||
	    (from < st->version && from + 1 < st->log_first)) {
		r = -ERANGE;
		goto out;
	}
	for (uint64_t v = from + 1; v <= st->version; v++) {
		const struct st_delta *e = &st->log[v % STATE_LOG_LEN];
		bool mine = e->origin && edge && !strcmp(e->origin, edge);
		const uint8_t *f = mine ? e->alt_frame : e->frame;
		size_t n = mine ? e->alt_len : e->len;

		if (e->version != v || !f) {
			r = -ERANGE;
			goto out;
		}
		if (*len + n > *cap) {
			size_t nc = (*len + n) * 2;
			uint8_t *nb = realloc(*buf, nc);

			if (!nb) {
				r = -ENOMEM;
				goto out;
			}
			*buf = nb;
			*cap = nc;
		}
		memcpy(*buf + *len, f, n);
		*len += n;
	}
	*to = st->version;
out:
	pthread_mutex_unlock(&st->lock);
	return r;
}

/* ---- changes ---- */

static bool svc_key_eq(const KV1(ServiceKey) * a, uint8_t proto, uint32_t addr,
		       uint16_t port)
{
	return a->proto == proto && a->addr == addr && a->port == port;
}

static long svc_find(struct state *st, uint8_t proto, uint32_t addr,
		     uint16_t port)
{
	for (size_t i = 0; i < st->n_services; i++)
		if (svc_key_eq(st->services[i]->key, proto, addr, port))
			return (long)i;
	return -1;
}

static void delta_init(struct state *st, KV1(ConfigDelta) * d)
{
	kilimanjaro__v1__config_delta__init(d);
	d->version = st->version + 1;
	d->base_version = st->version;
}

/* With st->lock held: run one statement in its own transaction committed
 * as version st->version + 1; on success init d (and alt, if given) as the
 * delta from st->version and bump st->version. On failure nothing changes
 * and the error is returned. */
static int state_change(struct state *st, KV1(ConfigDelta) * d,
			KV1(ConfigDelta) * alt, const char *sql,
			const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = db_vchange(st->db, st->version + 1, sql, fmt, ap);
	va_end(ap);
	if (r)
		return r;
	delta_init(st, d);
	if (alt)
		delta_init(st, alt);
	st->version++;
	return 0;
}

int state_service_put(struct state *st, const KV1(Service) * svc)
{
	KV1(ConfigDelta) d;
	KV1(Service) *copy = NULL, *arr[1];
	const KV1(ServiceKey) *k = svc->key;
	size_t n = kilimanjaro__v1__service__get_packed_size(svc);
	uint8_t *blob = malloc(n ? n : 1);
	long i;
	int r;

	if (!blob)
		return -ENOMEM;
	kilimanjaro__v1__service__pack(svc, blob);
	copy = kilimanjaro__v1__service__unpack(NULL, n, blob);
	if (!copy) {
		free(blob);
		return -ENOMEM;
	}
	pthread_mutex_lock(&st->lock);
	i = svc_find(st, (uint8_t)k->proto, k->addr, (uint16_t)k->port);
	if (i < 0 && st->n_services >= STATE_MAX_SERVICES) {
		r = -ENOSPC;
		goto out;
	}
	r = state_change(st, &d, NULL,
			 "INSERT OR REPLACE INTO services VALUES (?, ?, ?, ?)",
			 "iiib", (int64_t)k->proto, (int64_t)k->addr,
			 (int64_t)k->port, blob, n);
	if (r)
		goto out;
	if (i >= 0) {
		kilimanjaro__v1__service__free_unpacked(st->services[i], NULL);
		st->services[i] = copy;
	} else {
		st->services[st->n_services++] = copy;
	}
	copy = NULL;
	arr[0] = (KV1(Service) *)svc;
	d.n_add_services = 1;
	d.add_services = arr;
	log_append(st, &d, NULL, NULL);
out:
	pthread_mutex_unlock(&st->lock);
	kilimanjaro__v1__service__free_unpacked(copy, NULL);
	free(blob);
	return r;
}

int state_service_del(struct state *st, uint8_t proto, uint32_t addr,
		      uint16_t port)
{
	KV1(ServiceKey) key = KILIMANJARO__V1__SERVICE_KEY__INIT, *arr[1];
	KV1(ConfigDelta) d;
	long i;
	int r;

	pthread_mutex_lock(&st->lock);
	i = svc_find(st, proto, addr, port);
	if (i < 0) {
		r = -ENOENT;
		goto out;
	}
	r = state_change(st, &d, NULL,
			 "DELETE FROM services WHERE proto = ? AND addr = ? "
			 "AND port = ?",
			 "iii", (int64_t)proto, (int64_t)addr, (int64_t)port);
	if (r)
		goto out;
	kilimanjaro__v1__service__free_unpacked(st->services[i], NULL);
	st->services[i] = st->services[--st->n_services];
	key.proto = proto;
	key.addr = addr;
	key.port = port;
	arr[0] = &key;
	d.n_del_services = 1;
	d.del_services = arr;
	log_append(st, &d, NULL, NULL);
out:
	pthread_mutex_unlock(&st->lock);
	return r;
}

static long prefix_find(struct state *st, enum st_list l, uint32_t addr,
			uint8_t len)
{
	for (size_t i = 0; i < st->n_list[l]; i++)
		if (st->lists[l][i].addr == addr && st->lists[l][i].len == len)
			return (long)i;
	return -1;
}

/* One prefix change (add or del) on list l, as a delta. */
static int prefix_change(struct state *st, enum st_list l, uint32_t addr,
			 uint8_t len, bool add)
{
	KV1(Prefix) p = KILIMANJARO__V1__PREFIX__INIT, *arr[1] = {&p};
	KV1(ConfigDelta) d;
	long i;
	int r;

	pthread_mutex_lock(&st->lock);
	i = prefix_find(st, l, addr, len);
	if (add && (i >= 0 || prefix_find(st, !l, addr, len) >= 0)) {
		r = -EEXIST; /* a prefix is in allow or deny, never both */
		goto out;
	}
	if (!add && i < 0) {
		r = -ENOENT;
		goto out;
	}
	if (add && st->n_list[l] >= STATE_MAX_PREFIXES) {
		r = -ENOSPC;
		goto out;
	}
	if (add)
		r = state_change(st, &d, NULL,
				 "INSERT INTO prefixes VALUES (?, ?, ?)", "iii",
				 (int64_t)l, (int64_t)addr, (int64_t)len);
	else
		r = state_change(
		    st, &d, NULL,
		    "DELETE FROM prefixes WHERE addr = ? AND len = ?", "ii",
		    (int64_t)addr, (int64_t)len);
	if (r)
		goto out;
	if (add)
		st->lists[l][st->n_list[l]++] =
		    (struct st_prefix){.addr = addr, .len = len};
	else
		st->lists[l][i] = st->lists[l][--st->n_list[l]];
	p.addr = addr;
	p.len = len;
	if (l == ST_ALLOW && add) {
		d.n_add_allow = 1;
		d.add_allow = arr;
	} else if (l == ST_ALLOW) {
		d.n_del_allow = 1;
		d.del_allow = arr;
	} else if (add) {
		d.n_add_deny = 1;
		d.add_deny = arr;
	} else {
		d.n_del_deny = 1;
		d.del_deny = arr;
	}
	log_append(st, &d, NULL, NULL);
out:
	pthread_mutex_unlock(&st->lock);
	return r;
}

int state_prefix_add(struct state *st, enum st_list l, uint32_t addr,
		     uint8_t len)
{
	return prefix_change(st, l, addr, len, true);
}

int state_prefix_del(struct state *st, enum st_list l, uint32_t addr,
		     uint8_t len)
{
	return prefix_change(st, l, addr, len, false);
}

static long block_find(struct state *st, uint32_t addr)
{
	for (size_t i = 0; i < st->n_blocks; i++)
		if (st->blocks[i].addr == addr)
			return (long)i;
	return -1;
}

int state_block_add(struct state *st, uint32_t addr, uint64_t duration_ms)
{
	KV1(Block) b = KILIMANJARO__V1__BLOCK__INIT, *arr[1] = {&b};
	KV1(ConfigDelta) d;
	uint64_t exp;
	long i;
	int r;

	pthread_mutex_lock(&st->lock);
	exp = duration_ms ? st->now_ms() + duration_ms : 0;
	i = block_find(st, addr);
	if (i < 0 && st->n_blocks >= STATE_MAX_BLOCKS) {
		r = -ENOSPC;
		goto out;
	}
	r = state_change(st, &d, NULL,
			 "INSERT OR REPLACE INTO blocks VALUES (?, ?)", "ii",
			 (int64_t)addr, (int64_t)exp);
	if (r)
		goto out;
	if (i < 0)
		i = (long)st->n_blocks++;
	st->blocks[i] = (struct st_block){.addr = addr, .expires_ms = exp};
	b.addr = addr;
	b.has_duration_ms = true;
	b.duration_ms = duration_ms;
	d.n_add_blocks = 1;
	d.add_blocks = arr;
	log_append(st, &d, NULL, NULL);
out:
	pthread_mutex_unlock(&st->lock);
	return r;
}

int state_block_del(struct state *st, uint32_t addr)
{
	KV1(ConfigDelta) d;
	uint32_t arr[1] = {addr};
	long i;
	int r;

	pthread_mutex_lock(&st->lock);
	i = block_find(st, addr);
	if (i < 0) {
		r = -ENOENT;
		goto out;
	}
	r = state_change(st, &d, NULL, "DELETE FROM blocks WHERE addr = ?", "i",
			 (int64_t)addr);
	if (r)
		goto out;
	st->blocks[i] = st->blocks[--st->n_blocks];
	d.n_del_blocks = 1;
	d.del_blocks = arr;
	log_append(st, &d, NULL, NULL);
out:
	pthread_mutex_unlock(&st->lock);
	return r;
}

static bool punch_eq(const struct st_punch *a, const struct st_punch *b)
{
	return a->proto == b->proto && a->saddr == b->saddr &&
	       a->sport == b->sport && a->raddr == b->raddr &&
	       a->rport == b->rport;
}

static void punch_to_pb(const struct st_punch *p, KV1(PortPunch) * o)
{
	kilimanjaro__v1__port_punch__init(o);
	o->proto = p->proto;
	o->service_addr = p->saddr;
	o->service_port = p->sport;
	o->remote_addr = p->raddr;
	o->remote_port = p->rport;
	o->backend = p->backend;
}

int state_punch_learned(struct state *st, const struct st_punch *p,
			const char *origin)
{
	KV1(ConfigDelta) d, alt;
	KV1(PortPunch) pb, *arr[1] = {&pb};
	struct st_punch n = *p;
	size_t i;
	int r;

	pthread_mutex_lock(&st->lock);
	n.expires_ms = st->now_ms() + (uint64_t)st->punch_ttl_s * 1000;
	for (i = 0; i < st->n_punches; i++)
		if (punch_eq(&st->punches[i], &n))
			break;
	if (i == st->n_punches && i >= STATE_MAX_PUNCHES) {
		r = -ENOSPC;
		goto out;
	}
	r = state_change(st, &d, &alt,
			 "INSERT OR REPLACE INTO punches VALUES "
			 "(?, ?, ?, ?, ?, ?, ?)",
			 "iiiiiii", (int64_t)n.proto, (int64_t)n.saddr,
			 (int64_t)n.sport, (int64_t)n.raddr, (int64_t)n.rport,
			 (int64_t)n.backend, (int64_t)n.expires_ms);
	if (r)
		goto out;
	st->punches[i] = n;
	if (i == st->n_punches)
		st->n_punches++;
	punch_to_pb(&n, &pb);
	d.n_add_punches = 1;
	d.add_punches = arr;
	log_append(st, &d, &alt, origin);
out:
	pthread_mutex_unlock(&st->lock);
	return r;
}

static void a2s_to_pb(struct state *st, KV1(A2sKey) * k)
{
	kilimanjaro__v1__a2s_key__init(k);
	k->key_id = st->a2s.key_id;
	k->key.data = st->a2s.key;
	k->key.len = STATE_A2S_KEY_LEN;
	if (st->a2s.has_prev) {
		k->has_prev_key = true;
		k->prev_key.data = st->a2s.prev;
		k->prev_key.len = STATE_A2S_KEY_LEN;
	}
	k->has_epoch_s = true;
	k->epoch_s = st->epoch_s;
}

int state_a2s_rotate(struct state *st, bool force, uint32_t *wait_s)
{
	struct st_a2s n;
	KV1(ConfigDelta) d;
	KV1(A2sKey) k;
	uint64_t now, min_ms;
	int r;

	pthread_mutex_lock(&st->lock);
	now = st->now_ms();
	min_ms = 2ull * st->epoch_s * 1000;
	if (!force && st->a2s.has_prev && now < st->a2s.rotated_ms + min_ms) {
		if (wait_s)
			*wait_s = (uint32_t)((st->a2s.rotated_ms + min_ms -
					      now + 999) /
					     1000);
		r = -EAGAIN;
		goto out;
	}
	n = st->a2s;
	memcpy(n.prev, st->a2s.key, STATE_A2S_KEY_LEN);
	n.has_prev = true;
	n.key_id = st->a2s.key_id + 1;
	n.rotated_ms = now;
	if (RAND_bytes(n.key, STATE_A2S_KEY_LEN) != 1) {
		r = -EIO;
		goto out;
	}
	r = state_change(st, &d, NULL,
			 "UPDATE a2s_key SET key_id = ?, key = ?, "
			 "prev_key = ?, rotated_ms = ? WHERE id = 1",
			 "ibbi", (int64_t)n.key_id, n.key,
			 (size_t)STATE_A2S_KEY_LEN, n.prev,
			 (size_t)STATE_A2S_KEY_LEN, (int64_t)n.rotated_ms);
	if (r)
		goto out;
	st->a2s = n;
	a2s_to_pb(st, &k);
	d.a2s_key = &k;
	log_append(st, &d, NULL, NULL);
out:
	pthread_mutex_unlock(&st->lock);
	return r;
}

void state_sweep(struct state *st)
{
	uint64_t now;
	size_t i = 0;

	pthread_mutex_lock(&st->lock);
	now = st->now_ms();
	while (i < st->n_punches) {
		if (st->punches[i].expires_ms <= now)
			st->punches[i] = st->punches[--st->n_punches];
		else
			i++;
	}
	i = 0;
	while (i < st->n_blocks) {
		if (st->blocks[i].expires_ms && st->blocks[i].expires_ms <= now)
			st->blocks[i] = st->blocks[--st->n_blocks];
		else
			i++;
	}
	db_run(st->db, "DELETE FROM punches WHERE expires_ms <= ?", "i",
	       (int64_t)now);
	db_run(st->db,
	       "DELETE FROM blocks WHERE expires_ms != 0 AND expires_ms <= ?",
	       "i", (int64_t)now);
	pthread_mutex_unlock(&st->lock);
}

/* ---- the snapshot ---- */

struct snap_bufs {
	KV1(Prefix) * pfx[2];
	KV1(Prefix) * *ppfx[2];
	KV1(Block) * blk, **pblk;
	KV1(PortPunch) * pun, **ppun;
};

static void snap_bufs_free(struct snap_bufs *b)
{
	for (int l = 0; l < 2; l++) {
		free(b->pfx[l]);
		free(b->ppfx[l]);
	}
	free(b->blk);
	free(b->pblk);
	free(b->pun);
	free(b->ppun);
}

static int snap_fill(struct state *st, KV1(ConfigSnapshot) * s,
		     struct snap_bufs *b, uint64_t now)
{
	for (int l = 0; l < 2; l++) {
		b->pfx[l] = calloc(st->n_list[l] + 1, sizeof(KV1(Prefix)));
		b->ppfx[l] = calloc(st->n_list[l] + 1, sizeof(void *));
		if (!b->pfx[l] || !b->ppfx[l])
			return -ENOMEM;
		for (size_t i = 0; i < st->n_list[l]; i++) {
			kilimanjaro__v1__prefix__init(&b->pfx[l][i]);
			b->pfx[l][i].addr = st->lists[l][i].addr;
			b->pfx[l][i].len = st->lists[l][i].len;
			b->ppfx[l][i] = &b->pfx[l][i];
		}
	}
	s->n_allow = st->n_list[ST_ALLOW];
	s->allow = b->ppfx[ST_ALLOW];
	s->n_deny = st->n_list[ST_DENY];
	s->deny = b->ppfx[ST_DENY];
	b->blk = calloc(st->n_blocks + 1, sizeof(KV1(Block)));
	b->pblk = calloc(st->n_blocks + 1, sizeof(void *));
	b->pun = calloc(st->n_punches + 1, sizeof(KV1(PortPunch)));
	b->ppun = calloc(st->n_punches + 1, sizeof(void *));
	if (!b->blk || !b->pblk || !b->pun || !b->ppun)
		return -ENOMEM;
	for (size_t i = 0; i < st->n_blocks; i++) {
		const struct st_block *x = &st->blocks[i];

		if (x->expires_ms && x->expires_ms <= now)
			continue;
		kilimanjaro__v1__block__init(&b->blk[s->n_blocks]);
		b->blk[s->n_blocks].addr = x->addr;
		b->blk[s->n_blocks].has_duration_ms = true;
		b->blk[s->n_blocks].duration_ms =
		    x->expires_ms ? x->expires_ms - now : 0;
		b->pblk[s->n_blocks] = &b->blk[s->n_blocks];
		s->n_blocks++;
	}
	s->blocks = b->pblk;
	for (size_t i = 0; i < st->n_punches; i++) {
		if (st->punches[i].expires_ms <= now)
			continue;
		punch_to_pb(&st->punches[i], &b->pun[s->n_punches]);
		b->ppun[s->n_punches] = &b->pun[s->n_punches];
		s->n_punches++;
	}
	s->punches = b->ppun;
	s->n_services = st->n_services;
	s->services = st->services;
	return 0;
}

int state_snapshot_frame(struct state *st, uint8_t **frame, size_t *len,
			 uint64_t *version)
{
	KV1(Envelope) env = KILIMANJARO__V1__ENVELOPE__INIT;
	KV1(ConfigSnapshot) s = KILIMANJARO__V1__CONFIG_SNAPSHOT__INIT;
	struct snap_bufs b = {0};
	KV1(A2sKey) k;
	int r;

	pthread_mutex_lock(&st->lock);
	s.version = st->version;
	r = snap_fill(st, &s, &b, st->now_ms());
	if (!r) {
		a2s_to_pb(st, &k);
		s.a2s_key = &k;
		env.schema = KM_SCHEMA_VERSION;
		env.body_case = KILIMANJARO__V1__ENVELOPE__BODY_SNAPSHOT;
		env.snapshot = &s;
		r = state_frame_envelope(&env, frame, len);
		*version = st->version;
	}
	pthread_mutex_unlock(&st->lock);
	snap_bufs_free(&b);
	return r;
}
