/*
 * px_log: formatting, per-module levels and the sink. Must never fail towards its caller:
 * a line that does not fit is cut, a write error is ignored.
 */
#include "px_log.h"

#include "px_clock.h"
#include "px_error.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct module_level {
    char name[PX_LOG_MODULE_NAME_MAX];
    enum px_log_level level;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static enum px_log_level default_level = PX_LOG_INFO;
static struct module_level modules[PX_LOG_MODULE_MAX];
static size_t n_modules;
static px_log_sink_fn sink;
static void *sink_user;

static const char *const level_names[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "OFF"};
static const char *const level_words[] = {"trace", "debug", "info", "warn", "error", "off"};

int px_log_level_parse(const char *s, enum px_log_level *out)
{
    for (int i = 0; i <= PX_LOG_OFF; i++) {
        if (strcmp(s, level_words[i]) == 0) {
            *out = (enum px_log_level)i;
            return 0;
        }
    }
    return PX_EINVAL;
}

const char *px_log_level_name(enum px_log_level level)
{
    if ((int)level < 0 || level > PX_LOG_OFF)
        return "?";
    return level_names[level];
}

static struct module_level *find_module(const char *module)
{
    for (size_t i = 0; i < n_modules; i++)
        if (strcmp(modules[i].name, module) == 0)
            return &modules[i];
    return NULL;
}

static int set_level_locked(const char *module, enum px_log_level level)
{
    if (module == NULL) {
        default_level = level;
        return 0;
    }
    if (module[0] == '\0' || strlen(module) >= PX_LOG_MODULE_NAME_MAX)
        return PX_EINVAL;
    struct module_level *m = find_module(module);
    if (m == NULL) {
        if (n_modules == PX_LOG_MODULE_MAX)
            return PX_EBOUND;
        m = &modules[n_modules++];
        snprintf(m->name, sizeof(m->name), "%s", module);
    }
    m->level = level;
    return 0;
}

int px_log_set_level(const char *module, enum px_log_level level)
{
    if ((int)level < 0 || level > PX_LOG_OFF)
        return PX_EINVAL;
    pthread_mutex_lock(&lock);
    int rc = set_level_locked(module, level);
    pthread_mutex_unlock(&lock);
    return rc;
}

/* Parse a spec into arrays without touching the live settings. */
struct spec_item {
    char module[PX_LOG_MODULE_NAME_MAX]; /* "" for the default level */
    enum px_log_level level;
};

static int parse_spec(const char *spec, struct spec_item *items, size_t cap, size_t *n)
{
    char buf[1024];
    if (strlen(spec) >= sizeof(buf))
        return PX_ETOOBIG;
    snprintf(buf, sizeof(buf), "%s", spec);
    *n = 0;
    char *tok = buf;
    for (;;) {
        char *comma = strchr(tok, ',');
        if (comma)
            *comma = '\0';
        while (*tok == ' ')
            tok++;
        if (*tok == '\0')
            return PX_EINVAL; /* empty item: "", "info,", "a,,b" */
        if (*n == cap)
            return PX_EBOUND;
        struct spec_item *it = &items[(*n)++];
        char *eq = strchr(tok, '=');
        const char *lvl = tok;
        it->module[0] = '\0';
        if (eq) {
            *eq = '\0';
            if (tok[0] == '\0' || strlen(tok) >= sizeof(it->module))
                return PX_EINVAL;
            memcpy(it->module, tok, strlen(tok) + 1);
            lvl = eq + 1;
        }
        if (px_log_level_parse(lvl, &it->level) != 0)
            return PX_EINVAL;
        if (!comma)
            break;
        tok = comma + 1;
    }
    return *n == 0 ? PX_EINVAL : 0;
}

int px_log_set_spec(const char *spec)
{
    struct spec_item items[PX_LOG_MODULE_MAX + 1];
    size_t n;
    int rc = parse_spec(spec, items, PX_LOG_MODULE_MAX + 1, &n);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&lock);
    /* count new modules first so that a failure changes nothing */
    size_t extra = 0;
    for (size_t i = 0; i < n; i++)
        if (items[i].module[0] && find_module(items[i].module) == NULL)
            extra++;
    if (n_modules + extra > PX_LOG_MODULE_MAX) {
        pthread_mutex_unlock(&lock);
        return PX_EBOUND;
    }
    for (size_t i = 0; i < n; i++)
        set_level_locked(items[i].module[0] ? items[i].module : NULL, items[i].level);
    pthread_mutex_unlock(&lock);
    return 0;
}

void px_log_reset(void)
{
    pthread_mutex_lock(&lock);
    default_level = PX_LOG_INFO;
    n_modules = 0;
    sink = NULL;
    sink_user = NULL;
    pthread_mutex_unlock(&lock);
}

void px_log_set_sink(px_log_sink_fn fn, void *user)
{
    pthread_mutex_lock(&lock);
    sink = fn;
    sink_user = user;
    pthread_mutex_unlock(&lock);
}

bool px_log_enabled(enum px_log_level level, const char *module)
{
    pthread_mutex_lock(&lock);
    enum px_log_level min = default_level;
    struct module_level *m = module ? find_module(module) : NULL;
    if (m)
        min = m->level;
    pthread_mutex_unlock(&lock);
    return level >= min && level < PX_LOG_OFF;
}

size_t px_log_format(char *buf, size_t cap, uint64_t wall_ns, enum px_log_level level,
                     const char *module, const char *msg, const char *kv)
{
    if (cap < 5)
        return 0;
    char ts[40];
    if (px_time_format(ts, sizeof(ts), wall_ns, 3) < 0)
        snprintf(ts, sizeof(ts), "-");
    int n = snprintf(buf, cap, "%s %s %s %s%s%s", ts, px_log_level_name(level),
                     module ? module : "-", msg ? msg : "", (kv && kv[0]) ? " " : "", kv ? kv : "");
    size_t len = n < 0 ? 0 : (size_t)n;
    if (len >= cap - 1) { /* cut: keep room for "...\n" */
        len = cap - 5;
        memcpy(buf + len, "...", 3);
        len += 3;
    }
    /* one event, one line: no newline may come from the caller's text */
    for (size_t i = 0; i < len; i++)
        if (buf[i] == '\n' || buf[i] == '\r')
            buf[i] = ' ';
    buf[len++] = '\n';
    buf[len] = '\0';
    return len;
}

static bool needs_quote(const char *s)
{
    if (*s == '\0')
        return true;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f)
            return true;
    return false;
}

const char *px_log_quote(char *buf, size_t cap, const char *s)
{
    if (cap == 0)
        return buf;
    if (!needs_quote(s)) {
        snprintf(buf, cap, "%s", s);
        return buf;
    }
    size_t o = 0;
#define PUT(c)                                                                                     \
    do {                                                                                           \
        if (o + 2 < cap)                                                                           \
            buf[o++] = (c);                                                                        \
    } while (0)
    PUT('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            PUT('\\');
            PUT((char)*p);
        } else if (*p == '\n') {
            PUT('\\');
            PUT('n');
        } else if (*p == '\t') {
            PUT('\\');
            PUT('t');
        } else if (*p < ' ' || *p == 0x7f) {
            static const char hx[] = "0123456789abcdef";
            PUT('\\');
            PUT('x');
            PUT(hx[*p >> 4]);
            PUT(hx[*p & 15]);
        } else {
            PUT((char)*p);
        }
    }
#undef PUT
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

void px_logv(enum px_log_level level, const char *module, const char *msg, const char *kvfmt,
             va_list ap)
{
    if (!px_log_enabled(level, module))
        return;
    char kv[PX_LOG_LINE_MAX];
    kv[0] = '\0';
    if (kvfmt && kvfmt[0])
        vsnprintf(kv, sizeof(kv), kvfmt, ap);
    char line[PX_LOG_LINE_MAX + 8];
    size_t len = px_log_format(line, sizeof(line), px_clock_wall_ns(px_clock_system()), level,
                               module, msg, kv);
    pthread_mutex_lock(&lock);
    px_log_sink_fn fn = sink;
    void *user = sink_user;
    pthread_mutex_unlock(&lock);
    if (fn) {
        fn(line, len, user);
        return;
    }
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

void px_log(enum px_log_level level, const char *module, const char *msg, const char *kvfmt, ...)
{
    va_list ap;
    va_start(ap, kvfmt);
    px_logv(level, module, msg, kvfmt, ap);
    va_end(ap);
}
