/*
 * rpc_query: CometBFT's event query language, the common part: conditions joined by AND,
 * each `key OP operand` with OP one of = < <= > >= CONTAINS, or `key EXISTS`; operands
 * are 'quoted strings' or numbers. Keys are composite event keys ("transfer.amount",
 * "tm.event", "tx.height"). Used by tx_search, block_search and websocket subscriptions.
 * Bounded (RPC_QUERY_MAX_LEN text, RPC_QUERY_MAX_CONDS conditions); never allocates.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "px_error.h"
#include "rpc_internal.h"

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

static bool key_char(char c)
{
    return isalnum((unsigned char)c) || c == '.' || c == '_' || c == '-' || c == '/';
}

static bool word(const char *p, const char *w)
{
    size_t n = strlen(w);
    return strncasecmp(p, w, n) == 0 && !key_char(p[n]);
}

int rpc_query_parse(const char *text, struct rpc_query_expr *q, char *why, size_t cap)
{
    memset(q, 0, sizeof *q);
    if (text == NULL || strlen(text) > RPC_QUERY_MAX_LEN) {
        snprintf(why, cap, "query is missing or longer than %d bytes", RPC_QUERY_MAX_LEN);
        return PX_EINVAL;
    }
    const char *p = skip_ws(text);
    if (*p == '\0') {
        snprintf(why, cap, "query is empty");
        return PX_EINVAL;
    }
    for (;;) {
        if (q->n == RPC_QUERY_MAX_CONDS) {
            snprintf(why, cap, "more than %d conditions", RPC_QUERY_MAX_CONDS);
            return PX_EINVAL;
        }
        struct rpc_qcond *c = &q->c[q->n];
        size_t k = 0;
        while (key_char(*p) && k + 1 < sizeof c->key)
            c->key[k++] = *p++;
        if (k == 0 || key_char(*p)) {
            snprintf(why, cap, "expected an event key at offset %d", (int)(p - text));
            return PX_EINVAL;
        }
        p = skip_ws(p);
        if (word(p, "EXISTS")) {
            c->op = RPC_Q_EXISTS;
            p += 6;
        } else {
            if (word(p, "CONTAINS")) {
                c->op = RPC_Q_CONTAINS;
                p += 8;
            } else if (p[0] == '<' && p[1] == '=') {
                c->op = RPC_Q_LE;
                p += 2;
            } else if (p[0] == '>' && p[1] == '=') {
                c->op = RPC_Q_GE;
                p += 2;
            } else if (*p == '<' || *p == '>' || *p == '=') {
                c->op = *p == '<' ? RPC_Q_LT : *p == '>' ? RPC_Q_GT : RPC_Q_EQ;
                p++;
            } else {
                snprintf(why, cap, "expected an operator after '%s'", c->key);
                return PX_EINVAL;
            }
            p = skip_ws(p);
            if (*p == '\'') {
                p++;
                size_t n = 0;
                while (*p && *p != '\'' && n + 1 < sizeof c->str)
                    c->str[n++] = *p++;
                if (*p != '\'') {
                    snprintf(why, cap, "unterminated or too long string for '%s'", c->key);
                    return PX_EINVAL;
                }
                p++;
            } else if (isdigit((unsigned char)*p) || *p == '-') {
                char *end;
                c->num = strtod(p, &end);
                if (end == p || !isfinite(c->num)) {
                    snprintf(why, cap, "bad number for '%s'", c->key);
                    return PX_EINVAL;
                }
                size_t n = (size_t)(end - p);
                if (n >= sizeof c->str)
                    n = sizeof c->str - 1;
                memcpy(c->str, p, n);
                c->is_num = true;
                p = end;
            } else {
                snprintf(why, cap, "expected a 'string' or a number for '%s'", c->key);
                return PX_EINVAL;
            }
            if (c->op == RPC_Q_CONTAINS && c->is_num) {
                snprintf(why, cap, "CONTAINS takes a string");
                return PX_EINVAL;
            }
            if (c->op != RPC_Q_EQ && c->op != RPC_Q_CONTAINS && !c->is_num) {
                snprintf(why, cap, "'%s': < <= > >= compare numbers", c->key);
                return PX_EINVAL;
            }
        }
        q->n++;
        p = skip_ws(p);
        if (*p == '\0')
            return 0;
        if (!word(p, "AND")) {
            snprintf(why, cap, "expected AND at offset %d", (int)(p - text));
            return PX_EINVAL;
        }
        p = skip_ws(p + 3);
    }
}

static bool cond_value(const struct rpc_qcond *c, const char *v)
{
    switch (c->op) {
    case RPC_Q_EXISTS:
        return true;
    case RPC_Q_CONTAINS:
        return strstr(v, c->str) != NULL;
    case RPC_Q_EQ:
        if (!c->is_num)
            return strcmp(v, c->str) == 0;
        break;
    default:
        break;
    }
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end != '\0')
        return false;
    switch (c->op) {
    case RPC_Q_EQ:
        return x == c->num;
    case RPC_Q_LT:
        return x < c->num;
    case RPC_Q_LE:
        return x <= c->num;
    case RPC_Q_GT:
        return x > c->num;
    case RPC_Q_GE:
        return x >= c->num;
    default:
        return false;
    }
}

static bool cond_match(const struct rpc_qcond *c, json_t *events, const char *const *keys,
                       const char *const *vals, size_t n_extra)
{
    for (size_t i = 0; i < n_extra; i++)
        if (strcmp(keys[i], c->key) == 0 && cond_value(c, vals[i]))
            return true;
    const char *dot = strrchr(c->key, '.');
    if (dot == NULL)
        return false;
    size_t tlen = (size_t)(dot - c->key);
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev)
    {
        const char *type = json_string_value(json_object_get(ev, "type"));
        if (type == NULL || strlen(type) != tlen || strncmp(type, c->key, tlen) != 0)
            continue;
        size_t k;
        json_t *a;
        json_array_foreach(json_object_get(ev, "attributes"), k, a)
        {
            const char *key = json_string_value(json_object_get(a, "key"));
            const char *val = json_string_value(json_object_get(a, "value"));
            if (key && val && strcmp(key, dot + 1) == 0 && cond_value(c, val))
                return true;
        }
    }
    return false;
}

bool rpc_query_match(const struct rpc_query_expr *q, json_t *events, const char *const *keys,
                     const char *const *vals, size_t n_extra)
{
    for (size_t i = 0; i < q->n; i++)
        if (!cond_match(&q->c[i], events, keys, vals, n_extra))
            return false;
    return true;
}

void rpc_query_height_range(const struct rpc_query_expr *q, const char *key, uint64_t *lo,
                            uint64_t *hi)
{
    for (size_t i = 0; i < q->n; i++) {
        const struct rpc_qcond *c = &q->c[i];
        if (strcmp(c->key, key) != 0 || !c->is_num || c->num < 0 || c->num > 9e18)
            continue;
        uint64_t v = (uint64_t)c->num;
        bool integral = (double)v == c->num;
        switch (c->op) {
        case RPC_Q_EQ:
            if (v > *lo)
                *lo = v;
            if (v < *hi)
                *hi = v;
            break;
        case RPC_Q_GE:
        case RPC_Q_GT: {
            uint64_t m = c->op == RPC_Q_GT && integral ? v + 1 : (integral ? v : v + 1);
            if (m > *lo)
                *lo = m;
            break;
        }
        case RPC_Q_LE:
        case RPC_Q_LT: {
            uint64_t m = c->op == RPC_Q_LT && integral ? (v ? v - 1 : 0) : v;
            if (m < *hi)
                *hi = m;
            break;
        }
        default:
            break;
        }
    }
}
