/*
 * px_test: helpers for tests. Temporary directories, child processes started and stopped
 * by PID (every one still running is killed when the test process exits, whatever way it
 * exits), waiting on a condition with a deadline instead of sleeping, and free loopback
 * ports. Tests only; never linked into a shipped binary.
 */
#ifndef PX_TEST_H
#define PX_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Make a fresh directory under $TMPDIR (or /tmp) named phalanx-<tag>-XXXXXX.
 * Returns 0 or a PX_E code. */
int pxt_tmpdir(const char *tag, char *out, size_t cap);
/* Remove a directory tree (like rm -rf). Refuses paths outside the temp root. */
int pxt_rmtree(const char *path);

/* Start argv[0] (a path) with argv; stdout and stderr go to log_path (appended) if it is
 * not NULL. Returns the PID, or a negative PX_E code. */
pid_t pxt_spawn(const char *const argv[], const char *log_path);
/* Send sig to pid, wait up to timeout_ms for it to exit, then SIGKILL it.
 * *status (may be NULL) receives the wait status. Returns 0, or PX_ENOTFOUND if pid was
 * not started by pxt_spawn or already reaped. */
int pxt_stop(pid_t pid, int sig, int timeout_ms, int *status);
/* Run argv[0] to its end (at most timeout_ms, then SIGKILL and PX_ETIMEDOUT) with stdout
 * and stderr going to log_path (truncated first). *status gets the wait status; *out (may
 * be NULL) the output, malloc'd and NUL-terminated. 0 or a PX_E code. */
int pxt_run(const char *const argv[], const char *log_path, int timeout_ms, int *status,
            char **out);

/* pxt_run for tests: the exit status of a program that must run to its end; fails the
 * running cmocka test if it cannot start, exceeds timeout_ms or dies of a signal. */
int pxt_run_exit(const char *const argv[], const char *log_path, int timeout_ms, char **out);

/* Drop the log lines of the code under test (px_log to a sink that discards). */
void pxt_quiet_logs(void);

/* True if pid is still running (reaps it if it has exited; *status gets the wait status). */
bool pxt_running(pid_t pid, int *status);
/* Kill (SIGKILL) and reap every process still running that pxt_spawn started. */
void pxt_stop_all(void);

typedef bool (*pxt_cond_fn)(void *user);
/* Call cond until it returns true or timeout_ms passes; between calls wait a little
 * (1 ms growing to 50 ms). Returns true if cond became true. */
bool pxt_wait_until(pxt_cond_fn cond, void *user, int timeout_ms);

/* A TCP port on 127.0.0.1 that was free when asked (bind to port 0). 0 on failure. */
uint16_t pxt_free_port(void);
/* `count` consecutive free ports spaced `stride` apart starting at the returned base;
 * 0 on failure. For testnets: port base + stride*i + k. */
uint16_t pxt_free_port_range(int count, int stride);

/* Read a whole file into a malloc'd NUL-terminated buffer (NULL on error). */
char *pxt_read_file(const char *path, size_t *len);
/* Write a whole file (mode 0644). 0 or PX_E code. */
int pxt_write_file(const char *path, const void *data, size_t len);
/* Disk damage: overwrite len bytes of an existing file at offset with bytes drawn from
 * seed (the same seed, the same bytes). 0 or PX_E code. */
int pxt_damage_file(const char *path, uint64_t offset, size_t len, unsigned seed);

#endif
