/*
 * p2p_lograte: at most one log line per reason per interval for events that strangers can
 * repeat at will (connections refused, dropped or banned before they became peers), and a
 * summary of what was held back, so that a connect/close loop cannot fill the disk.
 *
 * The first event of a reason is logged at once and opens a window of interval_ms; later
 * events of that reason within the window are only counted. When the window is over, a
 * summary is due if anything was counted ("refused K connections (reason) in the last N s"),
 * and a new window opens; a window that passed with nothing held back is forgotten, so the
 * next event is logged at once again. Reasons beyond P2P_LOGRATE_SLOTS share one slot.
 *
 * Pure: time comes in as an argument; never logs, never allocates. The caller serialises
 * calls (p2p does it under its mutex).
 */
#ifndef P2P_LOGRATE_H
#define P2P_LOGRATE_H

#include <stdbool.h>
#include <stdint.h>

#define P2P_LOGRATE_SLOTS 16
#define P2P_LOGRATE_REASON_MAX 96 /* bytes of a reason, with its NUL; longer ones are cut */
#define P2P_LOGRATE_DETAIL_MAX 64 /* bytes of the detail kept (the last address) */
#define P2P_LOGRATE_OTHER "(other reasons)"

struct p2p_lograte_slot {
    char reason[P2P_LOGRATE_REASON_MAX];
    int level; /* the caller's log level of this reason's lines */
    bool used;
    uint64_t start_ms; /* the window opened then */
    uint64_t held;     /* events counted, not logged, in this window */
    char detail[P2P_LOGRATE_DETAIL_MAX];
};

struct p2p_lograte {
    uint64_t interval_ms;
    struct p2p_lograte_slot slot[P2P_LOGRATE_SLOTS + 1]; /* the last one: P2P_LOGRATE_OTHER */
};

struct p2p_lograte_summary {
    char reason[P2P_LOGRATE_REASON_MAX];
    int level;
    uint64_t count;     /* events held back */
    uint64_t window_ms; /* over this long */
    char detail[P2P_LOGRATE_DETAIL_MAX];
};

void p2p_lograte_init(struct p2p_lograte *lr, uint64_t interval_ms);

/* One event of `reason` (logged at `level`) at now_ms; detail (may be NULL) is kept for the
 * summary. True: log this event now. False: it was counted for a summary. */
bool p2p_lograte_hit(struct p2p_lograte *lr, const char *reason, int level, const char *detail,
                     uint64_t now_ms);

/* The next summary due at now_ms (all: every one with something held back, window over or
 * not, as at shutdown). Fills *out and returns true, or returns false when none is due. Call
 * until false. */
bool p2p_lograte_next(struct p2p_lograte *lr, uint64_t now_ms, bool all,
                      struct p2p_lograte_summary *out);

#endif
