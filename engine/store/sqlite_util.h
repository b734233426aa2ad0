/*
 * sqlite_util: the boundary between SQLite and the project: opening a database with the
 * settings every store uses (WAL, synchronous=FULL, foreign keys, busy timeout), running
 * simple statements, and turning SQLite result codes into PX_E codes with a log line.
 * SQLite's codes never travel above this file's callers.
 */
#ifndef PX_SQLITE_UTIL_H
#define PX_SQLITE_UTIL_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Open path (creating it unless readonly) and apply the pragmas. Logs and returns PX_EIO
 * on failure. `module` names the caller in log lines. */
int sqlu_open(const char *path, bool readonly, const char *module, sqlite3 **out);
/* Execute one or more statements without results. */
int sqlu_exec(sqlite3 *db, const char *module, const char *sql);
/* Map a SQLite result code to a PX_E code (SQLITE_OK/DONE/ROW → 0). */
int sqlu_err(int rc);
/* Log a failed call with SQLite's message and return its PX_E code. */
int sqlu_fail(sqlite3 *db, const char *module, const char *what, int rc);
/* Check or set PRAGMA user_version: a fresh database (0) gets `version`; another value
 * than `version` is PX_ECORRUPT. */
int sqlu_schema_version(sqlite3 *db, const char *module, int version);

/* Open a store: the database (sqlu_open), its schema and version when writable, then every
 * statement of sql[0..n) prepared once into st[]. On error everything opened is closed,
 * *db is NULL and st[] is all NULL. */
int sqlu_open_store(const char *path, bool readonly, const char *module, const char *schema,
                    int version, const char *const *sql, size_t n, sqlite3 **db, sqlite3_stmt **st);
/* Finalize st[0..n) and close db (NULL is fine). */
void sqlu_close_store(sqlite3 *db, sqlite3_stmt **st, size_t n);
/* Make a statement ready for its next use: reset, bindings cleared. */
void sqlu_finish(sqlite3_stmt *s);

/* Size of the database in bytes (page count times page size; the -wal file aside). */
int sqlu_db_bytes(sqlite3 *db, const char *module, uint64_t *bytes);
/* SQLite's PRAGMA quick_check: every page of the file is read and the structure of every
 * b-tree and free list checked (index contents are not compared with their tables), so it
 * costs a read of the whole file. 0 if sound; PX_ECORRUPT with SQLite's first complaint in
 * detail; PX_EIO (or another code) when the file cannot be read. */
int sqlu_quick_check(sqlite3 *db, const char *module, char *detail, size_t cap);
/* The file of the main database ("" for an in-memory one). */
const char *sqlu_path(sqlite3 *db);

#endif
