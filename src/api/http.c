/* http.c — HTTP/1.1 request parsing for the control API (RFC 9112 subset). A request is a
 * request line, header fields up to an empty line, and a body of exactly Content-Length bytes.
 * Lines may end in CRLF or a bare LF. Anything outside this subset (chunked transfer coding,
 * conflicting lengths, control characters, an over-long head or body) is refused with a reason,
 * rather than guessed at: the API's clients are programs, and a clear 400 helps them more. */
#include "api/http.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static enum http_parse_result http_bad(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return HTTP_BAD;
}

/* Offset just past the blank line ending the head, or 0 if it is not in buf yet. */
static size_t http_head_end(const char *buf, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (buf[i] != '\n') continue;
        if (buf[i + 1] == '\n') return i + 2;
        if (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n') return i + 3;
    }
    return 0;
}

/* One line of the head: [p, end of line); returns the start of the next line. */
static const char *http_line(const char *p, const char *end, size_t *n)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) nl = end;
    size_t l = (size_t)(nl - p);
    if (l && p[l - 1] == '\r') l--;
    *n = l;
    return nl < end ? nl + 1 : end;
}

static bool http_token_char(char c)
{
    return isalnum((unsigned char)c) || strchr("!#$%&'*+-.^_`|~", c);
}

static enum http_parse_result http_request_line(const char *p, size_t n, struct http_request *req,
                                                char *err, size_t errlen)
{
    size_t m = 0;
    while (m < n && http_token_char(p[m]))
        m++;
    if (m == 0 || m >= sizeof(req->method) || m == n || p[m] != ' ')
        return http_bad(err, errlen, "malformed request line");
    memcpy(req->method, p, m);
    req->method[m] = 0;
    const char *t = p + m + 1, *end = p + n;
    const char *sp = memchr(t, ' ', (size_t)(end - t));
    if (!sp || sp == t) return http_bad(err, errlen, "malformed request line");
    size_t tl = (size_t)(sp - t);
    for (size_t k = 0; k < tl; k++)
        if ((unsigned char)t[k] <= 0x20 || (unsigned char)t[k] >= 0x7f)
            return http_bad(err, errlen, "request target contains a control or non-ASCII byte");
    if (t[0] != '/') return http_bad(err, errlen, "request target must be an absolute path");
    const char *q = memchr(t, '?', tl);
    if (q) tl = (size_t)(q - t);
    if (tl >= sizeof(req->path)) return http_bad(err, errlen, "request path too long");
    memcpy(req->path, t, tl);
    req->path[tl] = 0;
    const char *v = sp + 1;
    size_t vl = (size_t)(end - v);
    if (vl == 8 && !memcmp(v, "HTTP/1.1", 8)) return HTTP_COMPLETE;
    if (vl == 8 && !memcmp(v, "HTTP/1.0", 8)) {
        req->close = true;
        return HTTP_COMPLETE;
    }
    return http_bad(err, errlen, "unsupported protocol version (HTTP/1.1 expected)");
}

/* Header value with surrounding blanks removed. */
static void http_trim(const char **v, size_t *n)
{
    while (*n && (**v == ' ' || **v == '\t'))
        (*v)++, (*n)--;
    while (*n && ((*v)[*n - 1] == ' ' || (*v)[*n - 1] == '\t'))
        (*n)--;
}

static bool http_value_is(const char *v, size_t n, const char *word)
{
    return n == strlen(word) && !strncasecmp(v, word, n);
}

static enum http_parse_result http_header(const char *p, size_t n, struct http_request *req,
                                          long long *clen, char *err, size_t errlen)
{
    const char *colon = memchr(p, ':', n);
    if (!colon || colon == p) return http_bad(err, errlen, "malformed header line");
    size_t nl = (size_t)(colon - p);
    for (size_t k = 0; k < nl; k++)
        if (!http_token_char(p[k])) return http_bad(err, errlen, "malformed header name");
    const char *v = colon + 1;
    size_t vl = n - nl - 1;
    for (size_t k = 0; k < vl; k++)
        if ((unsigned char)v[k] < 0x20 && v[k] != '\t')
            return http_bad(err, errlen, "control byte in a header value");
    http_trim(&v, &vl);
    if (nl == 14 && !strncasecmp(p, "Content-Length", 14)) {
        if (vl == 0 || vl > 12) return http_bad(err, errlen, "bad Content-Length");
        long long x = 0;
        for (size_t k = 0; k < vl; k++) {
            if (!isdigit((unsigned char)v[k])) return http_bad(err, errlen, "bad Content-Length");
            x = x * 10 + (v[k] - '0');
        }
        if (*clen >= 0 && *clen != x) return http_bad(err, errlen, "conflicting Content-Length");
        *clen = x;
    } else if (nl == 17 && !strncasecmp(p, "Transfer-Encoding", 17)) {
        return http_bad(err, errlen, "Transfer-Encoding is not supported (send Content-Length)");
    } else if (nl == 10 && !strncasecmp(p, "Connection", 10)) {
        if (http_value_is(v, vl, "close")) req->close = true;
        if (http_value_is(v, vl, "keep-alive")) req->close = false;
    } else if (nl == 6 && !strncasecmp(p, "Expect", 6)) {
        if (!http_value_is(v, vl, "100-continue"))
            return http_bad(err, errlen, "unsupported Expect header");
        req->expect_continue = true;
    }
    return HTTP_COMPLETE;
}

enum http_parse_result http_parse(const char *buf, size_t len, struct http_request *req,
                                  size_t *consumed, char *err, size_t errlen)
{
    memset(req, 0, sizeof(*req));
    *consumed = 0;
    /* Blank lines before a request are allowed (RFC 9112 §2.2). */
    size_t skip = 0;
    while (skip < len && (buf[skip] == '\r' || buf[skip] == '\n'))
        skip++;
    if (skip > 64) return http_bad(err, errlen, "too many blank lines before the request");
    const char *b = buf + skip;
    size_t l = len - skip;
    size_t head = http_head_end(b, l < HTTP_MAX_HEAD ? l : HTTP_MAX_HEAD);
    if (!head) {
        if (l >= HTTP_MAX_HEAD)
            return http_bad(err, errlen, "request head longer than %d bytes", HTTP_MAX_HEAD);
        return HTTP_INCOMPLETE;
    }
    const char *p = b, *end = b + head;
    size_t n;
    p = http_line(p, end, &n);
    if (http_request_line(b, n, req, err, errlen) == HTTP_BAD) return HTTP_BAD;
    long long clen = -1;
    unsigned nheaders = 0;
    while (p < end) {
        const char *line = p;
        p = http_line(p, end, &n);
        if (n == 0) break;
        if (line[0] == ' ' || line[0] == '\t')
            return http_bad(err, errlen, "folded header lines are not supported");
        if (++nheaders > 64) return http_bad(err, errlen, "too many header fields");
        if (http_header(line, n, req, &clen, err, errlen) == HTTP_BAD) return HTTP_BAD;
    }
    if (clen > HTTP_MAX_BODY)
        return http_bad(err, errlen, "request body longer than %d bytes", HTTP_MAX_BODY);
    if (clen < 0) clen = 0;
    req->head_len = skip + head;
    if (l - head < (size_t)clen) return HTTP_INCOMPLETE;
    req->expect_continue = false;
    req->body = b + head;
    req->body_len = (size_t)clen;
    *consumed = skip + head + (size_t)clen;
    return HTTP_COMPLETE;
}

const char *http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

size_t http_format_response(char *out, size_t cap, int status, const char *body, size_t body_len,
                            bool close)
{
    int n;
    if (status == 204 || status == 100)
        n = snprintf(out, cap, "HTTP/1.1 %d %s\r\nServer: vessel\r\n%s\r\n", status,
                     http_reason(status), close ? "Connection: close\r\n" : "");
    else
        n = snprintf(out, cap,
                     "HTTP/1.1 %d %s\r\nServer: vessel\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n%s\r\n",
                     status, http_reason(status), body_len, close ? "Connection: close\r\n" : "");
    if (n < 0 || (size_t)n >= cap) return 0;
    size_t used = (size_t)n;
    if (status == 204 || status == 100) return used;
    if (body_len > cap - used) return 0;
    memcpy(out + used, body, body_len);
    return used + body_len;
}
