/*
 * fuzz_util: helpers shared by the fuzz targets (see fuzz_util.h). Never used by
 * production code.
 */
#include "fuzz_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
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

static void remove_tmp_dir(void)
{
    DIR *d = opendir(tmp_dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char p[512];
            snprintf(p, sizeof(p), "%s/%s", tmp_dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(tmp_dir);
}

const char *fuzz_tmp_path(const char *name)
{
    static char path[512];
    if (!tmp_dir[0]) {
        /* files are rewritten for every input: prefer memory (/dev/shm) over a disk */
        const char *base = getenv("TMPDIR");
        if (!base || !*base)
            base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(tmp_dir, sizeof(tmp_dir), "%s/px-fuzz-XXXXXX", base);
        if (!mkdtemp(tmp_dir)) {
            perror("fuzz: mkdtemp");
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
