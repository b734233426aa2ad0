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

#endif
