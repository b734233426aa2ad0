/*
 * driver: a main() for the fuzz targets when libFuzzer is not there (the normal gcc build,
 * meson option fuzzing=false). It runs the target's LLVMFuzzerTestOneInput over every file
 * of the corpus directories given, then over N pseudo-random inputs drawn from a fixed
 * seed: fresh random bytes, and corpus files mutated (bit flips, interesting values,
 * inserted, deleted, duplicated or truncated ranges, splices of two files). Same seed, same
 * inputs, so a failure in CI replays byte for byte.
 *
 * When the target crashes (sanitizer report, assert, signal) the input being run is saved
 * as crash-<name>-<n> (in PX_FUZZ_ARTIFACTS, default the current directory) and its path
 * printed, so it can be replayed with `fuzz_<name> FILE` or fed to libFuzzer.
 * It never runs an input twice with different bytes and never reads anything but the files
 * it is given.
 *
 * usage: fuzz_<name> [--iterations N] [--seed S] [--max-len L] CORPUS_DIR_OR_FILE...
 *        (PX_FUZZ_ITERATIONS overrides --iterations)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define DRIVER_HAVE_SANITIZER 1
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DRIVER_MAX_FILES 4096
#define DRIVER_MAX_FILE_BYTES (4u * 1024 * 1024)

struct input {
    uint8_t *data;
    size_t len;
};

static struct input corpus[DRIVER_MAX_FILES];
static size_t n_corpus;

/* What is running now, for the crash handler. */
static const uint8_t *volatile cur_data;
static volatile size_t cur_len;
static volatile uint64_t cur_index;
static const char *prog_name = "fuzz";

/* ---- crash reporting (async-signal-safe: open/write only) ------------------------------ */

static size_t put_str(char *buf, size_t off, size_t cap, const char *s)
{
    while (*s && off + 1 < cap)
        buf[off++] = *s++;
    buf[off] = '\0';
    return off;
}

static size_t put_u64(char *buf, size_t off, size_t cap, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n && off + 1 < cap)
        buf[off++] = tmp[--n];
    buf[off] = '\0';
    return off;
}

static void save_current_input(void)
{
    static volatile sig_atomic_t saved;
    if (saved || !cur_data)
        return;
    saved = 1;
    char path[1024];
    const char *dir = getenv("PX_FUZZ_ARTIFACTS");
    size_t off = 0;
    off = put_str(path, off, sizeof(path), dir && *dir ? dir : ".");
    off = put_str(path, off, sizeof(path), "/crash-");
    off = put_str(path, off, sizeof(path), prog_name);
    off = put_str(path, off, sizeof(path), "-");
    put_u64(path, off, sizeof(path), cur_index);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    char msg[1200];
    size_t m = 0;
    if (fd >= 0) {
        size_t done = 0;
        while (done < cur_len) {
            ssize_t w = write(fd, (const uint8_t *)cur_data + done, cur_len - done);
            if (w <= 0)
                break;
            done += (size_t)w;
        }
        close(fd);
        m = put_str(msg, m, sizeof(msg), "\nfuzz driver: input ");
        m = put_u64(msg, m, sizeof(msg), cur_index);
        m = put_str(msg, m, sizeof(msg), " (");
        m = put_u64(msg, m, sizeof(msg), cur_len);
        m = put_str(msg, m, sizeof(msg), " bytes) saved as ");
        m = put_str(msg, m, sizeof(msg), path);
        m = put_str(msg, m, sizeof(msg), "\n");
    } else {
        m = put_str(msg, m, sizeof(msg), "\nfuzz driver: could not save the crashing input\n");
    }
    ssize_t ignored = write(2, msg, m);
    (void)ignored;
}

static void on_signal(int sig)
{
    save_current_input();
    signal(sig, SIG_DFL);
    raise(sig);
}

#ifdef DRIVER_HAVE_SANITIZER
static void on_sanitizer_death(void)
{
    save_current_input();
}
#endif

/* ---- pseudo-random numbers (splitmix64: fixed, portable sequence) ---------------------- */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, n); n > 0. */
static size_t rng_below(size_t n)
{
    return (size_t)(rng_next() % (uint64_t)n);
}

/* ---- corpus ----------------------------------------------------------------------------- */

static int read_whole(const char *path, struct input *out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    uint8_t *buf = malloc(DRIVER_MAX_FILE_BYTES);
    if (!buf) {
        fclose(f);
        return -1;
    }
    size_t n = fread(buf, 1, DRIVER_MAX_FILE_BYTES, f);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return -1;
    }
    out->data = buf;
    out->len = n;
    return 0;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_file(const char *path)
{
    if (n_corpus == DRIVER_MAX_FILES) {
        fprintf(stderr, "fuzz driver: more than %d corpus files, ignoring %s\n", DRIVER_MAX_FILES,
                path);
        return 0;
    }
    if (read_whole(path, &corpus[n_corpus]) != 0) {
        fprintf(stderr, "fuzz driver: cannot read %s: %s\n", path, strerror(errno));
        return -1;
    }
    n_corpus++;
    return 0;
}

/* Add a file, or every regular file of a directory in name order. */
static int add_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "fuzz driver: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return add_file(path);
    DIR *d = opendir(path);
    if (!d) {
        fprintf(stderr, "fuzz driver: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **grown = realloc(names, cap * sizeof(*names));
            if (!grown) {
                rc = -1;
                break;
            }
            names = grown;
        }
        size_t need = strlen(path) + strlen(e->d_name) + 2;
        names[n] = malloc(need);
        if (!names[n]) {
            rc = -1;
            break;
        }
        snprintf(names[n], need, "%s/%s", path, e->d_name);
        n++;
    }
    closedir(d);
    if (rc == 0)
        qsort(names, n, sizeof(*names), name_cmp);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0 && stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
            rc = add_file(names[i]);
        free(names[i]);
    }
    free(names);
    return rc;
}

/* ---- mutations ------------------------------------------------------------------------- */

static const uint8_t interesting8[] = {0x00, 0x01, 0x02, 0x7F, 0x80, 0xFF, 0xFE, 0x10, 0x20,
                                       0x40, 0x08, 0x0A, 0x12, 0x1A, 0x22, 0x2A, 0x3A};

/* One mutation of buf[*len] (capacity cap) in place. */
static void mutate_once(uint8_t *buf, size_t *len, size_t cap)
{
    size_t n = *len;
    switch (rng_below(8)) {
    case 0: /* flip a bit */
        if (n)
            buf[rng_below(n)] ^= (uint8_t)(1u << rng_below(8));
        break;
    case 1: /* an interesting byte */
        if (n)
            buf[rng_below(n)] = interesting8[rng_below(sizeof(interesting8))];
        break;
    case 2: /* a random byte */
        if (n)
            buf[rng_below(n)] = (uint8_t)rng_next();
        break;
    case 3: { /* insert random bytes */
        size_t k = 1 + rng_below(8);
        if (n + k > cap)
            break;
        size_t at = rng_below(n + 1);
        memmove(buf + at + k, buf + at, n - at);
        for (size_t i = 0; i < k; i++)
            buf[at + i] = (uint8_t)rng_next();
        *len = n + k;
        break;
    }
    case 4: { /* delete a range */
        if (!n)
            break;
        size_t at = rng_below(n);
        size_t k = 1 + rng_below(n - at < 16 ? n - at : 16);
        memmove(buf + at, buf + at + k, n - at - k);
        *len = n - k;
        break;
    }
    case 5: { /* duplicate a range */
        if (!n)
            break;
        size_t at = rng_below(n);
        size_t k = 1 + rng_below(n - at < 32 ? n - at : 32);
        if (n + k > cap)
            break;
        memmove(buf + at + k, buf + at, n - at);
        *len = n + k;
        break;
    }
    case 6: /* truncate */
        if (n)
            *len = rng_below(n);
        break;
    default: { /* overwrite a range with one from another corpus file */
        if (!n || !n_corpus)
            break;
        const struct input *o = &corpus[rng_below(n_corpus)];
        if (!o->len)
            break;
        size_t from = rng_below(o->len);
        size_t at = rng_below(n);
        size_t k = o->len - from;
        if (k > n - at)
            k = n - at;
        memcpy(buf + at, o->data + from, k);
        break;
    }
    }
}

/* ---- main -------------------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s [--iterations N] [--seed S] [--max-len L] CORPUS_DIR_OR_FILE...\n"
            "Runs the fuzz target over each corpus file, then over N seeded random and\n"
            "mutated inputs (PX_FUZZ_ITERATIONS overrides N). A crashing input is saved\n"
            "as crash-NAME-INDEX in PX_FUZZ_ARTIFACTS (default: the current directory).\n",
            prog_name);
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s || *end)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

int main(int argc, char **argv)
{
    const char *slash = strrchr(argv[0], '/');
    prog_name = slash ? slash + 1 : argv[0];
    if (strncmp(prog_name, "fuzz_", 5) == 0)
        prog_name += 5;
    uint64_t iterations = 2000, seed = 1, max_len = 4096;
    int first_path = argc;
    for (int i = 1; i < argc; i++) {
        uint64_t *opt = NULL;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--iterations") == 0) {
            opt = &iterations;
        } else if (strcmp(argv[i], "--seed") == 0) {
            opt = &seed;
        } else if (strcmp(argv[i], "--max-len") == 0) {
            opt = &max_len;
        } else {
            first_path = i;
            break;
        }
        if (i + 1 >= argc || parse_u64(argv[i + 1], opt) != 0) {
            usage(stderr);
            return 2;
        }
        i++;
    }
    const char *env_iter = getenv("PX_FUZZ_ITERATIONS");
    if (env_iter && *env_iter && parse_u64(env_iter, &iterations) != 0) {
        fprintf(stderr, "fuzz driver: bad PX_FUZZ_ITERATIONS=%s\n", env_iter);
        return 2;
    }
    if (first_path >= argc || max_len == 0 || max_len > DRIVER_MAX_FILE_BYTES) {
        usage(stderr);
        return 2;
    }
    for (int i = first_path; i < argc; i++)
        if (add_path(argv[i]) != 0)
            return 2;

    signal(SIGSEGV, on_signal);
    signal(SIGBUS, on_signal);
    signal(SIGFPE, on_signal);
    signal(SIGILL, on_signal);
    signal(SIGABRT, on_signal);
#ifdef DRIVER_HAVE_SANITIZER
    __sanitizer_set_death_callback(on_sanitizer_death);
#endif

    /* Each input is copied into a buffer of exactly its size, so reading one byte past
     * the end is caught by AddressSanitizer. */
    for (size_t i = 0; i < n_corpus; i++) {
        uint8_t *copy = malloc(corpus[i].len ? corpus[i].len : 1);
        if (!copy)
            return 2;
        memcpy(copy, corpus[i].data, corpus[i].len);
        cur_data = copy;
        cur_len = corpus[i].len;
        cur_index = i;
        LLVMFuzzerTestOneInput(copy, corpus[i].len);
        cur_data = NULL;
        free(copy);
    }

    size_t largest = 0;
    for (size_t i = 0; i < n_corpus; i++)
        if (corpus[i].len > largest)
            largest = corpus[i].len;
    size_t cap = (size_t)max_len > largest ? (size_t)max_len : largest;
    cap += 64;
    uint8_t *work = malloc(cap);
    if (!work)
        return 2;
    rng_state = seed;
    for (uint64_t it = 0; it < iterations; it++) {
        size_t len;
        if (!n_corpus || rng_below(4) == 0) {
            len = rng_below((size_t)max_len + 1);
            for (size_t i = 0; i < len; i++)
                work[i] = (uint8_t)rng_next();
        } else {
            const struct input *base = &corpus[rng_below(n_corpus)];
            memcpy(work, base->data, base->len);
            len = base->len;
            size_t rounds = 1 + rng_below(8);
            for (size_t r = 0; r < rounds; r++)
                mutate_once(work, &len, cap);
        }
        uint8_t *copy = malloc(len ? len : 1);
        if (!copy)
            return 2;
        memcpy(copy, work, len);
        cur_data = copy;
        cur_len = len;
        cur_index = n_corpus + it;
        LLVMFuzzerTestOneInput(copy, len);
        cur_data = NULL;
        free(copy);
    }
    free(work);
    for (size_t i = 0; i < n_corpus; i++)
        free(corpus[i].data);
    printf("fuzz %s: %zu corpus inputs and %" PRIu64 " generated inputs (seed %" PRIu64
           ") passed\n",
           prog_name, n_corpus, iterations, seed);
    return 0;
}
