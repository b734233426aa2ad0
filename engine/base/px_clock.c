/*
 * px_clock: the system clock, the fake clock, and RFC 3339 conversion.
 * The conversion is done by hand (days from civil date) so that it never depends on the
 * process's time zone or locale.
 */
#include "px_clock.h"

#include "px_error.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static uint64_t sys_mono(void *user)
{
    (void)user;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t sys_wall(void *user)
{
    (void)user;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static const struct px_clock system_clock = {sys_mono, sys_wall, NULL};

void px_timespec_after(int clock_id, uint64_t ns, struct timespec *out)
{
    clock_gettime((clockid_t)clock_id, out);
    uint64_t nsec = (uint64_t)out->tv_nsec + ns % 1000000000ull;
    out->tv_sec += (time_t)(ns / 1000000000ull + nsec / 1000000000ull);
    out->tv_nsec = (long)(nsec % 1000000000ull);
}

const struct px_clock *px_clock_system(void)
{
    return &system_clock;
}

static uint64_t fake_mono(void *user)
{
    return ((struct px_fake_clock *)user)->mono;
}

static uint64_t fake_wall(void *user)
{
    return ((struct px_fake_clock *)user)->wall;
}

void px_fake_clock_init(struct px_fake_clock *fc, uint64_t mono_ns, uint64_t wall_ns)
{
    fc->clock.mono_ns = fake_mono;
    fc->clock.wall_ns = fake_wall;
    fc->clock.user = fc;
    fc->mono = mono_ns;
    fc->wall = wall_ns;
}

void px_fake_clock_advance(struct px_fake_clock *fc, uint64_t ns)
{
    fc->mono += ns;
    fc->wall += ns;
}

/* Howard Hinnant's days_from_civil / civil_from_days (public domain algorithms). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

int px_time_format(char *buf, size_t cap, uint64_t wall_ns, int digits)
{
    if (digits < 0 || digits > 9)
        return PX_EINVAL;
    uint64_t secs = wall_ns / 1000000000u;
    uint32_t frac = (uint32_t)(wall_ns % 1000000000u);
    int64_t days = (int64_t)(secs / 86400);
    unsigned sod = (unsigned)(secs % 86400);
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    char fbuf[12] = "";
    if (digits > 0) {
        char all[10];
        snprintf(all, sizeof(all), "%09u", frac);
        fbuf[0] = '.';
        memcpy(fbuf + 1, all, (size_t)digits);
        fbuf[digits + 1] = '\0';
    }
    int n = snprintf(buf, cap, "%04lld-%02u-%02uT%02u:%02u:%02u%sZ", (long long)y, m, d, sod / 3600,
                     sod / 60 % 60, sod % 60, fbuf);
    if (n < 0 || (size_t)n >= cap)
        return PX_ETOOBIG;
    return n;
}

static int digits_n(const char **p, int n, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return PX_EINVAL;
        v = v * 10 + (unsigned)(c - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

static int expect(const char **p, char c)
{
    if (**p != c)
        return PX_EINVAL;
    (*p)++;
    return 0;
}

int px_time_parse(const char *s, uint64_t *wall_ns)
{
    const char *p = s;
    unsigned y, mo, d, h, mi, sec, frac = 0;
    if (digits_n(&p, 4, &y) || expect(&p, '-') || digits_n(&p, 2, &mo) || expect(&p, '-') ||
        digits_n(&p, 2, &d))
        return PX_EINVAL;
    if (*p != 'T' && *p != 't')
        return PX_EINVAL;
    p++;
    if (digits_n(&p, 2, &h) || expect(&p, ':') || digits_n(&p, 2, &mi) || expect(&p, ':') ||
        digits_n(&p, 2, &sec))
        return PX_EINVAL;
    if (*p == '.') {
        p++;
        int nd = 0;
        while (*p >= '0' && *p <= '9') {
            if (nd == 9)
                return PX_EINVAL;
            frac = frac * 10 + (unsigned)(*p - '0');
            nd++;
            p++;
        }
        if (nd == 0)
            return PX_EINVAL;
        for (; nd < 9; nd++)
            frac *= 10;
    }
    int64_t offset_s = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        p++;
        unsigned oh, om;
        if (digits_n(&p, 2, &oh) || expect(&p, ':') || digits_n(&p, 2, &om) || oh > 23 || om > 59)
            return PX_EINVAL;
        offset_s = sign * (int64_t)(oh * 3600 + om * 60);
    } else {
        return PX_EINVAL;
    }
    if (*p != '\0')
        return PX_EINVAL;
    static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 60)
        return PX_EINVAL;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo == 2 && d == 29 && !leap)
        return PX_EINVAL;
    if (sec == 60) /* a leap second is read as the last second of its minute */
        sec = 59;
    int64_t days = days_from_civil(y, mo, d);
    int64_t t = days * 86400 + h * 3600 + mi * 60 + sec - offset_s;
    if (t < 0 || t > (int64_t)(UINT64_MAX / 1000000000u) - 1)
        return PX_EINVAL;
    *wall_ns = (uint64_t)t * 1000000000u + frac;
    return 0;
}
