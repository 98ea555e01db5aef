// SPDX-License-Identifier: GPL-2.0-only
/* The SQLite side of state.c: schema, checks at open, loading, and the
 * statement helper every change uses. */
#include "state_db.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"

static const char schema_sql[] =
    "CREATE TABLE meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);"
    "CREATE TABLE services (proto INTEGER NOT NULL, addr INTEGER NOT NULL,"
    " port INTEGER NOT NULL, pb BLOB NOT NULL,"
    " PRIMARY KEY (proto, addr, port));"
    "CREATE TABLE prefixes (list INTEGER NOT NULL, addr INTEGER NOT NULL,"
    " len INTEGER NOT NULL, PRIMARY KEY (addr, len));"
    "CREATE TABLE blocks (addr INTEGER PRIMARY KEY,"
    " expires_ms INTEGER NOT NULL);"
    "CREATE TABLE punches (proto INTEGER NOT NULL, saddr INTEGER NOT NULL,"
    " sport INTEGER NOT NULL, raddr INTEGER NOT NULL,"
    " rport INTEGER NOT NULL, backend INTEGER NOT NULL,"
    " expires_ms INTEGER NOT NULL,"
    " PRIMARY KEY (proto, saddr, sport, raddr, rport));"
    "CREATE TABLE a2s_key (id INTEGER PRIMARY KEY CHECK (id = 1),"
    " key_id INTEGER NOT NULL, key BLOB NOT NULL, prev_key BLOB,"
    " rotated_ms INTEGER NOT NULL);"
    "INSERT INTO meta VALUES ('schema', 1), ('version', 0);";

/* fmt: one char per parameter, 'i' int64_t, 'b' (const void *, size_t),
 * 'n' NULL. */
static int db_vrun(sqlite3 *db, sqlite3_stmt **out, const char *sql,
		   const char *fmt, va_list ap)
{
	sqlite3_stmt *s;
	int i = 1, rc;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return km_log_errno(-EIO, "db: %s: %s", sql,
				    sqlite3_errmsg(db));
	for (const char *f = fmt; *f; f++, i++) {
		if (*f == 'i') {
			sqlite3_bind_int64(s, i, va_arg(ap, int64_t));
		} else if (*f == 'b') {
			const void *p = va_arg(ap, const void *);
			size_t n = va_arg(ap, size_t);

			sqlite3_bind_blob(s, i, p, (int)n, SQLITE_TRANSIENT);
		} else {
			sqlite3_bind_null(s, i);
		}
	}
	if (out) {
		*out = s;
		return 0;
	}
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return km_log_errno(-EIO, "db: %s: %s", sql,
				    sqlite3_errmsg(db));
	return 0;
}

int db_run(sqlite3 *db, const char *sql, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = db_vrun(db, NULL, sql, fmt, ap);
	va_end(ap);
	return r;
}

int db_changes(sqlite3 *db)
{
	return sqlite3_changes(db);
}

int db_begin(sqlite3 *db)
{
	return db_run(db, "BEGIN IMMEDIATE", "");
}

/* Bump the version and commit; on any failure roll everything back. */
int db_commit(sqlite3 *db, uint64_t version)
{
	int r = db_run(db, "UPDATE meta SET v = ? WHERE k = 'version'", "i",
		       (int64_t)version);

	if (!r)
		r = db_run(db, "COMMIT", "");
	if (r)
		db_rollback(db);
	return r;
}

void db_rollback(sqlite3 *db)
{
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

/* One statement in its own transaction, committed as version; on any
 * failure (begin included) everything is rolled back. */
int db_vchange(sqlite3 *db, uint64_t version, const char *sql, const char *fmt,
	       va_list ap)
{
	int r = db_begin(db);

	if (!r)
		r = db_vrun(db, NULL, sql, fmt, ap);
	if (!r)
		r = db_commit(db, version);
	else
		db_rollback(db);
	return r;
}

static int db_scalar(sqlite3 *db, const char *sql, int64_t *out)
{
	sqlite3_stmt *s;
	int rc;

	rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return -EIO;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : -EIO;
}

/* Schema checks: a fresh file gets the schema; anything else must be ours
 * and of the version we know. */
static int db_check_schema(sqlite3 *db, const char *path)
{
	int64_t n = 0, schema = 0;
	char *msg = NULL;
	int r;

	if (db_scalar(db, "SELECT count(*) FROM sqlite_master", &n))
		return km_log_errno(-EINVAL,
				    "%s: not a usable SQLite "
				    "database: %s",
				    path, sqlite3_errmsg(db));
	if (n == 0) {
		if (sqlite3_exec(db, schema_sql, NULL, NULL, &msg) !=
		    SQLITE_OK) {
			r = km_log_errno(-EIO, "%s: creating the schema: %s",
					 path, msg);
			sqlite3_free(msg);
			return r;
		}
		return 0;
	}
	r = db_scalar(db, "SELECT v FROM meta WHERE k = 'schema'", &schema);
	if (r)
		return km_log_errno(-EINVAL,
				    "%s: an SQLite database but not "
				    "a kilimanjaro-controller one "
				    "(no meta schema row)",
				    path);
	if (schema != STATE_DB_SCHEMA)
		return km_log_errno(-EINVAL,
				    "%s: database schema version "
				    "%lld is not supported (this "
				    "controller knows %d)",
				    path, (long long)schema, STATE_DB_SCHEMA);
	return 0;
}

static int db_quick_check(sqlite3 *db, const char *path)
{
	sqlite3_stmt *s;
	int rc, r = 0;

	if (sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &s, NULL))
		return km_log_errno(-EINVAL, "%s: %s", path,
				    sqlite3_errmsg(db));
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW ||
	    strcmp((const char *)sqlite3_column_text(s, 0), "ok"))
		r = km_log_errno(-EINVAL, "%s: database is corrupt: %s", path,
				 rc == SQLITE_ROW
				     ? (const char *)sqlite3_column_text(s, 0)
				     : sqlite3_errmsg(db));
	sqlite3_finalize(s);
	return r;
}

int db_open(const char *path, sqlite3 **out)
{
	sqlite3 *db = NULL;
	char *msg = NULL;
	int r;

	if (sqlite3_open_v2(path, &db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				SQLITE_OPEN_FULLMUTEX,
			    NULL) != SQLITE_OK) {
		r = km_log_errno(-EINVAL, "%s: cannot open database: %s", path,
				 db ? sqlite3_errmsg(db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(db, 5000);
	r = db_quick_check(db, path);
	if (r)
		goto fail;
	/* WAL: readers never wait on the writer; NORMAL: a crash of the
	 * process loses no committed change (only a power loss can lose the
	 * last ones, and never corrupts). */
	if (sqlite3_exec(db,
			 "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
			 "PRAGMA foreign_keys=ON;",
			 NULL, NULL, &msg) != SQLITE_OK) {
		r = km_log_errno(-EINVAL, "%s: %s", path, msg);
		sqlite3_free(msg);
		goto fail;
	}
	r = db_check_schema(db, path);
	if (r)
		goto fail;
	*out = db;
	return 0;
fail:
	sqlite3_close(db);
	return r;
}

int db_query(sqlite3 *db, sqlite3_stmt **out, const char *sql)
{
	if (sqlite3_prepare_v2(db, sql, -1, out, NULL) != SQLITE_OK)
		return km_log_errno(-EIO, "db: %s: %s", sql,
				    sqlite3_errmsg(db));
	return 0;
}

int db_get_version(sqlite3 *db, uint64_t *v)
{
	int64_t x;
	int r = db_scalar(db, "SELECT v FROM meta WHERE k = 'version'", &x);

	if (r || x < 0)
		return km_log_errno(-EINVAL, "db: no valid version row");
	*v = (uint64_t)x;
	return 0;
}
