/* http.h — the small HTTP/1.1 subset the control API speaks: one request parsed from a byte
 * buffer (request line, headers, a Content-Length body), and responses formatted into a buffer.
 * Everything a client sends is bounded: the head to HTTP_MAX_HEAD bytes, the body to
 * HTTP_MAX_BODY; chunked bodies are refused. The parser never reads past len and allocates
 * nothing, so it can be fed hostile bytes (tests/fuzz/fuzz_api.c). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#define HTTP_MAX_HEAD 8192
#define HTTP_MAX_BODY 65536
#define HTTP_MAX_PATH 1024

enum http_parse_result {
    HTTP_INCOMPLETE, /* need more bytes */
    HTTP_COMPLETE,   /* req filled; *consumed bytes belong to this request */
    HTTP_BAD,        /* answer 400 with err and close the connection */
};

struct http_request {
    char method[8];
    char path[HTTP_MAX_PATH]; /* without the query string */
    const char *body;         /* points into the parsed buffer; NUL-terminated is not promised */
    size_t body_len;
    bool close;           /* Connection: close, or HTTP/1.0 */
    bool expect_continue; /* Expect: 100-continue (the head is complete, the body is not) */
    size_t head_len;      /* bytes of request line and headers, with the blank line */
};

/* Parse the request at the start of buf[0..len). On HTTP_INCOMPLETE, req->head_len is non-zero
 * once the head is complete (and req->expect_continue tells whether to send 100 Continue). */
enum http_parse_result http_parse(const char *buf, size_t len, struct http_request *req,
                                  size_t *consumed, char *err, size_t errlen);

const char *http_reason(int status);
/* Format a response (status line, Content-Type: application/json when there is a body,
 * Content-Length, Connection: close when asked). Returns the length, or 0 if cap is too small. */
size_t http_format_response(char *out, size_t cap, int status, const char *body, size_t body_len,
                            bool close);
