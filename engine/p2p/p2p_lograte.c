/*
 * p2p_lograte: one line per reason per interval, and summaries (see p2p_lograte.h). Pure.
 */
#include "p2p_lograte.h"

#include <stdio.h>
#include <string.h>

void p2p_lograte_init(struct p2p_lograte *lr, uint64_t interval_ms)
{
    memset(lr, 0, sizeof(*lr));
    lr->interval_ms = interval_ms;
}

static struct p2p_lograte_slot *slot_for(struct p2p_lograte *lr, const char *reason)
{
    char key[P2P_LOGRATE_REASON_MAX];
    snprintf(key, sizeof(key), "%s", reason);
    struct p2p_lograte_slot *free_slot = NULL;
    for (int i = 0; i < P2P_LOGRATE_SLOTS; i++) {
        struct p2p_lograte_slot *s = &lr->slot[i];
        if (s->used && strcmp(s->reason, key) == 0)
            return s;
        if (!s->used && !free_slot)
            free_slot = s;
    }
    struct p2p_lograte_slot *s = free_slot ? free_slot : &lr->slot[P2P_LOGRATE_SLOTS];
    if (!s->used) {
        memset(s, 0, sizeof(*s));
        snprintf(s->reason, sizeof(s->reason), "%s", free_slot ? key : P2P_LOGRATE_OTHER);
    }
    return s;
}

bool p2p_lograte_hit(struct p2p_lograte *lr, const char *reason, int level, const char *detail,
                     uint64_t now_ms)
{
    struct p2p_lograte_slot *s = slot_for(lr, reason);
    if (!s->used || (s->held == 0 && now_ms - s->start_ms >= lr->interval_ms)) {
        s->used = true;
        s->level = level;
        s->start_ms = now_ms;
        s->held = 0;
        return true;
    }
    s->held++;
    if (detail)
        snprintf(s->detail, sizeof(s->detail), "%s", detail);
    return false;
}

bool p2p_lograte_next(struct p2p_lograte *lr, uint64_t now_ms, bool all,
                      struct p2p_lograte_summary *out)
{
    for (int i = 0; i <= P2P_LOGRATE_SLOTS; i++) {
        struct p2p_lograte_slot *s = &lr->slot[i];
        if (!s->used)
            continue;
        bool over = now_ms - s->start_ms >= lr->interval_ms;
        if (s->held > 0 && (over || all)) {
            memcpy(out->reason, s->reason, sizeof(out->reason));
            memcpy(out->detail, s->detail, sizeof(out->detail));
            out->level = s->level;
            out->count = s->held;
            out->window_ms = now_ms - s->start_ms;
            s->start_ms = now_ms; /* a new window: the flood may go on */
            s->held = 0;
            return true;
        }
        if (over && s->held == 0)
            s->used = false; /* quiet for a whole window: the next event is logged at once */
    }
    return false;
}
