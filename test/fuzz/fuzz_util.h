/*
 * fuzz_util: what the fuzz targets share. FUZZ_CHECK states a property the code under test
 * must hold for every input (decode → encode → decode is stable, a bound is respected); a
 * violation prints where and aborts, which libFuzzer and the smoke driver both report as a
 * crash with the input saved. Also a private temporary directory for targets that must go
 * through a file (WAL, node.conf), removed at exit.
 *
 * Never used by production code; never silences a failure.
 */
#ifndef PX_FUZZ_UTIL_H
#define PX_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: fuzz property failed: %s\n", __FILE__, __LINE__, #cond);       \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Checks that two byte strings are equal. */
#define FUZZ_CHECK_BYTES(a, alen, b, blen)                                                         \
    FUZZ_CHECK((alen) == (blen) && ((alen) == 0 || memcmp((a), (b), (alen)) == 0))

/* Silence the project logger (decoders of files log at WARN) once per process. */
void fuzz_quiet_logs(void);

/* A path "DIR/name" inside a per-process temporary directory, px-fuzz-PID under TMPDIR or
 * /dev/shm (made on first use, removed with its files at exit; a crashed process's
 * directory is removed by the next one). Aborts if the directory cannot be made. */
const char *fuzz_tmp_path(const char *name);

/* Write data to path (create/truncate). Aborts on failure: the fuzzer cannot go on. */
void fuzz_write_file(const char *path, const uint8_t *data, size_t len);

#endif
