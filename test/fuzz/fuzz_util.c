/*
 * fuzz_util: helpers shared by the fuzz targets (see fuzz_util.h). Never used by
 * production code.
 */
#include "fuzz_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "px_log.h"

static void discard_line(const char *line, size_t len, void *user)
{
    (void)line;
    (void)len;
    (void)user;
}

void fuzz_quiet_logs(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    px_log_set_sink(discard_line, NULL);
}

static char tmp_dir[256];

/* Remove dir and the files in it (our temporary dirs hold no subdirectories). */
static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char p[512];
            snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

static void remove_tmp_dir(void)
{
    remove_dir(tmp_dir);
}

/* A process that crashed (every finding ends in abort) leaves its px-fuzz-PID directory
 * behind: remove those whose process is gone. */
static void remove_stale_dirs(const char *base)
{
    DIR *d = opendir(base);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end;
        if (strncmp(e->d_name, "px-fuzz-", 8) != 0)
            continue;
        long pid = strtol(e->d_name + 8, &end, 10);
        if (*end != '\0' || pid <= 0)
            continue;
        if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
            char p[512];
            snprintf(p, sizeof(p), "%s/%s", base, e->d_name);
            remove_dir(p);
        }
    }
    closedir(d);
}

const char *fuzz_tmp_path(const char *name)
{
    static char path[512];
    if (!tmp_dir[0]) {
        /* files are rewritten for every input: prefer memory (/dev/shm) over a disk */
        const char *base = getenv("TMPDIR");
        if (!base || !*base)
            base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        remove_stale_dirs(base);
        snprintf(tmp_dir, sizeof(tmp_dir), "%s/px-fuzz-%ld", base, (long)getpid());
        remove_dir(tmp_dir); /* a dead process of the same pid */
        if (mkdir(tmp_dir, 0700) != 0) {
            perror("fuzz: mkdir");
            abort();
        }
        atexit(remove_tmp_dir);
    }
    snprintf(path, sizeof(path), "%s/%s", tmp_dir, name);
    return path;
}

void fuzz_write_file(const char *path, const uint8_t *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        perror("fuzz: open");
        abort();
    }
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, data + done, len - done);
        if (w <= 0) {
            perror("fuzz: write");
            abort();
        }
        done += (size_t)w;
    }
    close(fd);
}
