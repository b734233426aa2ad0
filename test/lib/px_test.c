/*
 * px_test: see px_test.h. Every spawned child is remembered in a fixed table so that an
 * atexit handler can kill whatever a failing test left behind.
 */
#include "px_test.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "px_error.h"
#include "px_log.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CHILDREN 256

static pid_t children[MAX_CHILDREN];
static int n_children;
static bool atexit_done;

static const char *tmp_root(void)
{
    const char *t = getenv("TMPDIR");
    return (t && t[0]) ? t : "/tmp";
}

int pxt_tmpdir(const char *tag, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/phalanx-%s-XXXXXX", tmp_root(), tag);
    if (n < 0 || (size_t)n >= cap)
        return PX_ETOOBIG;
    if (mkdtemp(out) == NULL)
        return px_err_from_errno(errno);
    return 0;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 ? 0 : -1;
}

int pxt_rmtree(const char *path)
{
    const char *root = tmp_root();
    if (strncmp(path, root, strlen(root)) != 0 || strstr(path, "/phalanx-") == NULL)
        return PX_EPERM;
    if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return px_err_from_errno(errno);
    return 0;
}

static void stop_all_atexit(void)
{
    pxt_stop_all();
}

static void forget(pid_t pid)
{
    for (int i = 0; i < n_children; i++) {
        if (children[i] == pid) {
            children[i] = children[--n_children];
            return;
        }
    }
}

static bool known(pid_t pid)
{
    for (int i = 0; i < n_children; i++)
        if (children[i] == pid)
            return true;
    return false;
}

pid_t pxt_spawn(const char *const argv[], const char *log_path)
{
    if (n_children == MAX_CHILDREN)
        return PX_EBOUND;
    if (!atexit_done) {
        atexit(stop_all_atexit);
        atexit_done = true;
    }
    int fd = -1;
    if (log_path) {
        fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0)
            return px_err_from_errno(errno);
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        return px_err_from_errno(err);
    }
    if (pid == 0) {
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, STDIN_FILENO);
        execv(argv[0], (char *const *)argv);
        dprintf(STDERR_FILENO, "pxt_spawn: exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    if (fd >= 0)
        close(fd);
    children[n_children++] = pid;
    return pid;
}

struct run_wait {
    pid_t pid;
    int status;
};

static bool run_exited(void *user)
{
    struct run_wait *w = user;
    return !pxt_running(w->pid, &w->status);
}

int pxt_run(const char *const argv[], const char *log_path, int timeout_ms, int *status, char **out)
{
    if (out)
        *out = NULL;
    remove(log_path);
    struct run_wait w = {pxt_spawn(argv, log_path), 0};
    if (w.pid < 0)
        return (int)w.pid;
    if (!pxt_wait_until(run_exited, &w, timeout_ms)) {
        pxt_stop(w.pid, SIGKILL, 1000, &w.status);
        return PX_ETIMEDOUT;
    }
    *status = w.status;
    if (out) {
        *out = pxt_read_file(log_path, NULL);
        if (!*out)
            *out = strdup("");
    }
    return 0;
}

int pxt_run_exit(const char *const argv[], const char *log_path, int timeout_ms, char **out)
{
    int status = 0;
    int err = pxt_run(argv, log_path, timeout_ms, &status, out);
    if (err == PX_ETIMEDOUT)
        fail_msg("%s did not finish within %d ms", argv[0], timeout_ms);
    assert_int_equal(err, 0);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void discard(const char *line, size_t len, void *user)
{
    (void)line;
    (void)len;
    (void)user;
}

void pxt_quiet_logs(void)
{
    px_log_set_sink(discard, NULL);
}

bool pxt_running(pid_t pid, int *status)
{
    int st = 0;
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == 0)
        return true;
    if (r == pid) {
        forget(pid);
        if (status)
            *status = st;
    }
    return false;
}

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int pxt_stop(pid_t pid, int sig, int timeout_ms, int *status)
{
    if (!known(pid))
        return PX_ENOTFOUND;
    kill(pid, sig);
    uint64_t deadline = now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    long wait = 1;
    for (;;) {
        int st = 0;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD)) {
            forget(pid);
            if (status)
                *status = st;
            return 0;
        }
        if (now_ms() >= deadline)
            break;
        nap_ms(wait);
        wait = wait < 50 ? wait * 2 : 50;
    }
    kill(pid, SIGKILL);
    int st = 0;
    waitpid(pid, &st, 0);
    forget(pid);
    if (status)
        *status = st;
    return 0;
}

void pxt_stop_all(void)
{
    while (n_children > 0) {
        pid_t pid = children[n_children - 1];
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        forget(pid);
    }
}

bool pxt_wait_until(pxt_cond_fn cond, void *user, int timeout_ms)
{
    uint64_t deadline = now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    long wait = 1;
    for (;;) {
        if (cond(user))
            return true;
        if (now_ms() >= deadline)
            return false;
        nap_ms(wait);
        wait = wait < 50 ? wait * 2 : 50;
    }
}

static int bind_port(uint16_t port, uint16_t *got)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    int rc = bind(fd, (struct sockaddr *)&a, sizeof(a));
    if (rc == 0 && got) {
        socklen_t len = sizeof(a);
        rc = getsockname(fd, (struct sockaddr *)&a, &len);
        *got = ntohs(a.sin_port);
    }
    close(fd);
    return rc;
}

uint16_t pxt_free_port(void)
{
    uint16_t p = 0;
    return bind_port(0, &p) == 0 ? p : 0;
}

uint16_t pxt_free_port_range(int count, int stride)
{
    /* try bases in a range away from the kernel's ephemeral ports, seeded by our pid */
    unsigned seed = (unsigned)getpid();
    for (int attempt = 0; attempt < 200; attempt++) {
        seed = seed * 1103515245u + 12345u;
        uint16_t base = (uint16_t)(20000 + (seed >> 8) % 10000);
        bool ok = true;
        for (int i = 0; i < count && ok; i++)
            for (int k = 0; k < stride && ok; k++)
                ok = bind_port((uint16_t)(base + stride * i + k), NULL) == 0;
        if (ok)
            return base;
    }
    return 0;
}

char *pxt_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0)
            break;
        if (n + 1 == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        if (len)
            *len = n;
    }
    return buf;
}

int pxt_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return px_err_from_errno(errno);
    size_t w = fwrite(data, 1, len, f);
    int rc = fclose(f);
    return (w == len && rc == 0) ? 0 : PX_EIO;
}

int pxt_damage_file(const char *path, uint64_t offset, size_t len, unsigned seed)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return px_err_from_errno(errno);
    uint8_t *junk = malloc(len ? len : 1);
    if (!junk) {
        close(fd);
        return PX_ENOMEM;
    }
    uint32_t x = seed * 2654435761u + 1u;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13; /* xorshift32 */
        x ^= x >> 17;
        x ^= x << 5;
        junk[i] = (uint8_t)x;
    }
    ssize_t w = pwrite(fd, junk, len, (off_t)offset);
    free(junk);
    int rc = fsync(fd);
    close(fd);
    return w == (ssize_t)len && rc == 0 ? 0 : PX_EIO;
}
