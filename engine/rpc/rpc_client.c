/*
 * rpc_client: one JSON-RPC call over HTTP/1.1 with nng's HTTP client (see rpc_client.h).
 * Checks the envelope (jsonrpc "2.0", our id) before trusting an answer; never keeps a
 * connection or any state between calls.
 */
#include "rpc_client.h"

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "px_error.h"

#define WHY(...)                                                                                   \
    do {                                                                                           \
        if (why != NULL)                                                                           \
            snprintf(why, why_cap, __VA_ARGS__);                                                   \
    } while (0)

int rpc_client_call(const char *addr, const char *method, json_t *params, int timeout_ms,
                    json_t **result, char *why, size_t why_cap)
{
    *result = NULL;
    char url_text[300];
    const char *rest = NULL;
    if (addr != NULL && strncmp(addr, "tcp://", 6) == 0)
        rest = addr + 6;
    else if (addr != NULL && strncmp(addr, "http://", 7) == 0)
        rest = addr + 7;
    if (rest == NULL || *rest == '\0' ||
        (size_t)snprintf(url_text, sizeof url_text, "http://%s", rest) >= sizeof url_text) {
        WHY("bad node address '%s' (expected tcp://HOST:PORT)", addr ? addr : "");
        return PX_ECONFIG;
    }
    size_t ul = strlen(url_text);
    if (url_text[ul - 1] != '/' && ul + 1 < sizeof url_text)
        memcpy(url_text + ul, "/", 2);
    /* A request id above 2^32, as cosmjs sends, so servers are exercised on that. */
    json_int_t id = 100000000000LL + (json_int_t)(time(NULL) % 1000000);
    json_t *p = params ? json_incref(params) : json_object();
    json_t *req = json_pack("{s:s, s:I, s:s, s:o}", "jsonrpc", "2.0", "id", id, "method", method,
                            "params", p);
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (body == NULL)
        return PX_ENOMEM;

    nng_url *url = NULL;
    nng_http_client *client = NULL;
    nng_http_req *hreq = NULL;
    nng_http_res *hres = NULL;
    nng_aio *aio = NULL;
    int err = 0, rv;
    if ((rv = nng_url_parse(&url, url_text)) != 0) {
        WHY("bad node address '%s'", addr);
        err = PX_ECONFIG;
        goto out;
    }
    if (nng_http_client_alloc(&client, url) != 0 || nng_http_req_alloc(&hreq, url) != 0 ||
        nng_http_res_alloc(&hres) != 0 || nng_aio_alloc(&aio, NULL, NULL) != 0) {
        err = PX_ENOMEM;
        goto out;
    }
    nng_http_req_set_method(hreq, "POST");
    nng_http_req_set_header(hreq, "Content-Type", "application/json");
    if (nng_http_req_set_data(hreq, body, strlen(body)) != 0) {
        err = PX_ENOMEM;
        goto out;
    }
    nng_aio_set_timeout(aio, timeout_ms > 0 ? timeout_ms : 10000);
    nng_http_client_transact(client, hreq, hres, aio);
    nng_aio_wait(aio);
    rv = nng_aio_result(aio);
    if (rv != 0) {
        WHY("no answer from %s: %s", addr, nng_strerror(rv));
        err = rv == NNG_ETIMEDOUT ? PX_ETIMEDOUT : PX_ECLOSED;
        goto out;
    }
    void *data = NULL;
    size_t len = 0;
    nng_http_res_get_data(hres, &data, &len);
    json_error_t je;
    json_t *rep = data ? json_loadb(data, len, 0, &je) : NULL;
    if (rep == NULL) {
        WHY("%s answered HTTP %u with no JSON-RPC body", addr,
            (unsigned)nng_http_res_get_status(hres));
        err = PX_EPROTO;
        goto out;
    }
    const char *ver = json_string_value(json_object_get(rep, "jsonrpc"));
    json_t *rid = json_object_get(rep, "id");
    json_t *e = json_object_get(rep, "error");
    json_t *res = json_object_get(rep, "result");
    if (ver == NULL || strcmp(ver, "2.0") != 0 || !json_is_integer(rid) ||
        json_integer_value(rid) != id || (e == NULL) == (res == NULL)) {
        WHY("%s answered something that is not a JSON-RPC 2.0 response to our request", addr);
        err = PX_EPROTO;
    } else if (e != NULL) {
        const char *msg = json_string_value(json_object_get(e, "message"));
        const char *d = json_string_value(json_object_get(e, "data"));
        WHY("%s: %s%s%s", method, msg ? msg : "error", d ? ": " : "", d ? d : "");
        err = PX_EAPP;
    } else {
        *result = json_incref(res);
    }
    json_decref(rep);
out:
    if (aio)
        nng_aio_free(aio);
    if (hres)
        nng_http_res_free(hres);
    if (hreq)
        nng_http_req_free(hreq);
    if (client)
        nng_http_client_free(client);
    if (url)
        nng_url_free(url);
    free(body);
    return err;
}
