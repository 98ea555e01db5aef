/* SPDX-License-Identifier: GPL-2.0-only */
/* SQLite helpers for state.c (not used elsewhere). */
#ifndef KM_CTL_STATE_DB_H
#define KM_CTL_STATE_DB_H

#include <stdarg.h>
#include <stdint.h>

#include <sqlite3.h>

#define STATE_DB_SCHEMA 1

int db_open(const char *path, sqlite3 **out);
/* Run one statement. fmt: 'i' int64_t, 'b' (const void *, size_t), 'n'. */
int db_run(sqlite3 *db, const char *sql, const char *fmt, ...);
int db_changes(sqlite3 *db);
int db_begin(sqlite3 *db);
int db_commit(sqlite3 *db, uint64_t version);
void db_rollback(sqlite3 *db);
/* db_begin, db_run(sql, fmt, ap), db_commit(version); rollback on error. */
int db_vchange(sqlite3 *db, uint64_t version, const char *sql, const char *fmt,
	       va_list ap);
int db_query(sqlite3 *db, sqlite3_stmt **out, const char *sql);
int db_get_version(sqlite3 *db, uint64_t *v);

#endif
