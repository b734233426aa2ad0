/*
 * px_log: the logger. One line per event:
 *
 *     2026-11-29T22:30:59.123Z INFO consensus committed block height=5 txs=12
 *
 * that is: UTC timestamp, level, module, message, then key=value pairs. Levels are set per
 * module ("info,consensus=debug,p2p=warn"). Thread safe; each line is written with a single
 * write(2) so lines of different threads never interleave. Never used by the consensus core.
 */
#ifndef PX_LOG_H
#define PX_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum px_log_level {
    PX_LOG_TRACE = 0,
    PX_LOG_DEBUG,
    PX_LOG_INFO,
    PX_LOG_WARN,
    PX_LOG_ERROR,
    PX_LOG_OFF,
};

#define PX_LOG_LINE_MAX 4096      /* longer lines are cut and end with "..." */
#define PX_LOG_MODULE_MAX 32      /* modules with their own level */
#define PX_LOG_MODULE_NAME_MAX 24 /* bytes of a module name, including the NUL */

/* Where formatted lines go (with the trailing newline). Default: standard error. */
typedef void (*px_log_sink_fn)(const char *line, size_t len, void *user);

/* Parse "trace", "debug", "info", "warn", "error", "off". PX_EINVAL if unknown. */
int px_log_level_parse(const char *s, enum px_log_level *out);
const char *px_log_level_name(enum px_log_level level);

/* Set levels from a spec: a default level optionally followed by module=level pairs,
 * separated by commas, e.g. "info,consensus=debug". On error (PX_EINVAL: bad level or
 * syntax; PX_EBOUND: more than PX_LOG_MODULE_MAX modules) nothing is changed. */
int px_log_set_spec(const char *spec);
/* Set one module's level (module NULL: the default level). PX_EBOUND, PX_EINVAL. */
int px_log_set_level(const char *module, enum px_log_level level);
/* Forget all module levels, default back to info, sink back to standard error. */
void px_log_reset(void);
void px_log_set_sink(px_log_sink_fn sink, void *user);

bool px_log_enabled(enum px_log_level level, const char *module);

/* Log one event. kvfmt is a printf format for the key=value part (may be NULL or "").
 * Values that may contain spaces should be passed through px_log_quote. */
void px_log(enum px_log_level level, const char *module, const char *msg, const char *kvfmt, ...)
    __attribute__((format(printf, 4, 5)));
void px_logv(enum px_log_level level, const char *module, const char *msg, const char *kvfmt,
             va_list ap) __attribute__((format(printf, 4, 0)));

/* Format one line (with newline) into buf; returns its length. Pure: tests use it. */
size_t px_log_format(char *buf, size_t cap, uint64_t wall_ns, enum px_log_level level,
                     const char *module, const char *msg, const char *kv);

/* Quote s for use as a value when it contains spaces, quotes, '=' or control characters
 * (Go-style "..." with \" \\ \n \t \xNN escapes); otherwise copy it. Returns buf. */
const char *px_log_quote(char *buf, size_t cap, const char *s);

#define PX_TRACE(mod, msg, ...) px_log(PX_LOG_TRACE, mod, msg, __VA_ARGS__)
#define PX_DEBUG(mod, msg, ...) px_log(PX_LOG_DEBUG, mod, msg, __VA_ARGS__)
#define PX_INFO(mod, msg, ...) px_log(PX_LOG_INFO, mod, msg, __VA_ARGS__)
#define PX_WARN(mod, msg, ...) px_log(PX_LOG_WARN, mod, msg, __VA_ARGS__)
#define PX_ERROR(mod, msg, ...) px_log(PX_LOG_ERROR, mod, msg, __VA_ARGS__)

#endif
