/* multipart.c — streaming multipart/form-data: a delimiter search with
 * memmem plus a held-back tail (a delimiter "\r\n--B" cannot start inside a
 * proper prefix of itself after byte 0, since boundaries hold no CR), a tiny
 * state machine for the bytes after a delimiter, and a bounded header block.
 * Called by one MHD thread per request. */
#include "multipart.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

enum { MP_PREAMBLE, MP_AFTER_DELIM, MP_AFTER_DASH, MP_AFTER_CR, MP_HEADERS, MP_DATA, MP_END };

/* Copies the value of parameter key (case-insensitive) from a header value
 * such as `form-data; name="x"; filename="a.npy"`. */
static bool header_param(const char *v, const char *key, char *out, size_t cap) {
  size_t kl = strlen(key);
  const char *p = v;
  while ((p = strchr(p, ';'))) {
    p++;
    while (*p == ' ' || *p == '\t') p++;
    if (strncasecmp(p, key, kl) != 0) continue;
    const char *q = p + kl;
    while (*q == ' ' || *q == '\t') q++;
    if (*q != '=') continue;
    q++;
    while (*q == ' ' || *q == '\t') q++;
    size_t n = 0;
    if (*q == '"') {
      for (q++; *q && *q != '"'; q++) {
        if (*q == '\\' && q[1]) q++;
        if (n + 1 >= cap) return false;
        out[n++] = *q;
      }
      if (*q != '"') return false;
    } else {
      for (; *q && *q != ';' && *q != ' ' && *q != '\t'; q++) {
        if (n + 1 >= cap) return false;
        out[n++] = *q;
      }
    }
    out[n] = 0;
    return true;
  }
  return false;
}

int cv_multipart_init(cv_multipart_t *m, const char *content_type, const cv_mp_handler_t *h, void *u,
                      cv_error_t *err) {
  memset(m, 0, sizeof *m);
  m->h = h;
  m->u = u;
  char b[CV_MP_BOUNDARY_MAX + 2];
  if (!content_type || !header_param(content_type, "boundary", b, sizeof b) || !b[0] ||
      strlen(b) > CV_MP_BOUNDARY_MAX)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, NULL,
                        "multipart/form-data needs a boundary parameter of 1 to %d characters",
                        CV_MP_BOUNDARY_MAX);
  for (const char *c = b; *c; c++)
    if (*c == '\r' || *c == '\n')
      return cv_error_set(err, CV_EINVALID_ARGUMENT, NULL, "bad multipart boundary");
  m->dlen = (size_t)snprintf(m->delim, sizeof m->delim, "\r\n--%s", b);
  /* The body may open with "--B" directly: pretend a CRLF came first. */
  memcpy(m->tail, "\r\n", 2);
  m->tail_len = 2;
  m->state = MP_PREAMBLE;
  return 0;
}

static int emit(cv_multipart_t *m, const char *p, size_t n, cv_error_t *err) {
  if (m->state != MP_DATA || n == 0) return 0;   /* preamble bytes are dropped */
  return m->h->data(m->u, p, n, err);
}

/* Parses the header block of one part and calls begin. */
static int part_begin(cv_multipart_t *m, cv_error_t *err) {
  cv_mp_part_t part;
  memset(&part, 0, sizeof part);
  bool have_cd = false;
  m->hdr[m->hdr_len] = 0;
  char *save = NULL;
  for (char *line = strtok_r(m->hdr, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
    char *colon = strchr(line, ':');
    if (!colon) return cv_error_set(err, CV_EINVALID_ARGUMENT, NULL, "malformed multipart part header");
    *colon = 0;
    const char *v = colon + 1;
    while (*v == ' ' || *v == '\t') v++;
    if (!strcasecmp(line, "Content-Disposition")) {
      if (strncasecmp(v, "form-data", 9) != 0)
        return cv_error_set(err, CV_EINVALID_ARGUMENT, NULL, "a multipart part is not form-data");
      if (!header_param(v, "name", part.name, sizeof part.name) || !part.name[0])
        return cv_error_set(err, CV_EINVALID_ARGUMENT, NULL, "a multipart part has no usable name");
      header_param(v, "filename", part.filename, sizeof part.filename);
      have_cd = true;
    } else if (!strcasecmp(line, "Content-Type")) {
      snprintf(part.content_type, sizeof part.content_type, "%s", v);
    }
  }
  if (!have_cd)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, NULL, "a multipart part has no Content-Disposition");
  m->hdr_len = 0;
  m->parts++;
  m->in_part = true;
  return m->h->begin(m->u, &part, err);
}

/* A delimiter was consumed: close the part that was open. */
static int on_delim(cv_multipart_t *m, cv_error_t *err) {
  int rc = 0;
  if (m->in_part) {
    m->in_part = false;
    rc = m->h->end(m->u, err);
  }
  m->state = MP_AFTER_DELIM;
  return rc;
}

/* PREAMBLE / DATA: scan for the delimiter; returns bytes consumed. */
static int scan(cv_multipart_t *m, const char *p, size_t n, size_t *used, cv_error_t *err) {
  int rc;
  *used = 0;
  if (m->tail_len) {
    size_t need = m->dlen - m->tail_len, k = need < n ? need : n;
    if (memcmp(p, m->delim + m->tail_len, k) == 0) {
      if (k == need) {
        m->tail_len = 0;
        *used = k;
        return on_delim(m, err);
      }
      memcpy(m->tail + m->tail_len, p, k);
      m->tail_len += k;
      *used = k;
      return 0;
    }
    size_t tl = m->tail_len;
    m->tail_len = 0;
    if ((rc = emit(m, m->tail, tl, err))) return rc;
  }
  const char *hit = memmem(p, n, m->delim, m->dlen);
  if (hit) {
    if ((rc = emit(m, p, (size_t)(hit - p), err))) return rc;
    *used = (size_t)(hit - p) + m->dlen;
    return on_delim(m, err);
  }
  /* Hold back the longest suffix that is a proper prefix of the delimiter. */
  size_t from = n > m->dlen - 1 ? n - (m->dlen - 1) : 0, keep = n;
  for (size_t i = from; i < n; i++)
    if (p[i] == '\r' && memcmp(p + i, m->delim, n - i) == 0) {
      keep = i;
      break;
    }
  if ((rc = emit(m, p, keep, err))) return rc;
  memcpy(m->tail, p + keep, n - keep);
  m->tail_len = n - keep;
  *used = n;
  return 0;
}

int cv_multipart_feed(cv_multipart_t *m, const char *p, size_t n, cv_error_t *err) {
  int rc = 0;
  while (n > 0 && !rc) {
    size_t used = 1;
    char c = *p;
    switch (m->state) {
      case MP_PREAMBLE:
      case MP_DATA:
        rc = scan(m, p, n, &used, err);
        break;
      case MP_AFTER_DELIM:
        if (c == '-') m->state = MP_AFTER_DASH;
        else if (c == '\r') m->state = MP_AFTER_CR;
        else if (c != ' ' && c != '\t')
          rc = cv_error_set(err, CV_EINVALID_ARGUMENT, NULL, "malformed multipart delimiter line");
        break;
      case MP_AFTER_DASH:
        if (c != '-') rc = cv_error_set(err, CV_EINVALID_ARGUMENT, NULL, "malformed multipart close delimiter");
        m->state = MP_END;
        break;
      case MP_AFTER_CR:
        if (c != '\n') rc = cv_error_set(err, CV_EINVALID_ARGUMENT, NULL, "malformed multipart delimiter line");
        m->state = MP_HEADERS;
        m->hdr_len = 0;
        break;
      case MP_HEADERS:
        if (m->hdr_len + 1 >= sizeof m->hdr) {
          rc = cv_error_set(err, CV_EINVALID_ARGUMENT, NULL, "multipart part headers over %d bytes",
                            CV_MP_HEADER_MAX);
          break;
        }
        m->hdr[m->hdr_len++] = c;
        if (m->hdr_len == 2 && !memcmp(m->hdr, "\r\n", 2)) {
          m->hdr_len = 0;
          m->state = MP_DATA;
          rc = part_begin(m, err);
        } else if (m->hdr_len >= 4 && !memcmp(m->hdr + m->hdr_len - 4, "\r\n\r\n", 4)) {
          m->hdr_len -= 4;
          m->state = MP_DATA;
          rc = part_begin(m, err);
        }
        break;
      case MP_END:
        used = n;   /* epilogue: ignored */
        break;
    }
    p += used;
    n -= used;
  }
  return rc;
}

int cv_multipart_finish(cv_multipart_t *m, cv_error_t *err) {
  if (m->state != MP_END)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, NULL, "multipart body ends without its closing boundary");
  return 0;
}
