/* json_parse.c — the in-situ JSON parser: one iterative pass with an explicit
 * stack of open containers (no recursion), children appended in O(1) through
 * cJSON's first->prev == last convention, strings scanned 16 bytes at a time
 * (SSE2) for '"', '\\', control and non-ASCII bytes and unescaped in place,
 * numbers by cv_parse_f64. Owns nothing but the tree it returns. Any thread. */
#include "json_parse.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "json_num.h"

static inline bool is_ws(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

static inline char *skip_ws(char *p, const char *end) {
  while (p < end && is_ws(*p)) p++;
  return p;
}

/* First byte in [p, end) that is '"', '\\', < 0x20 or >= 0x80; end if none. */
static inline char *scan_plain(char *p, const char *end) {
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(0x20);
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    /* signed compare: bytes >= 0x80 are negative, so below 0x20 too */
    const __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
                                     _mm_cmplt_epi8(v, space));
    const int mask = _mm_movemask_epi8(hit);
    if (mask) return p + __builtin_ctz((unsigned)mask);
    p += 16;
  }
#endif
  for (; p < end; p++) {
    const unsigned char u = (unsigned char)*p;
    if (u == '"' || u == '\\' || u < 0x20 || u >= 0x80) break;
  }
  return p;
}

static inline int hex_val(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* The 4 hex digits at p (p + 4 <= end checked by the caller), or -1. */
static inline int32_t hex4(const char *p) {
  int32_t v = 0;
  for (int i = 0; i < 4; i++) {
    const int h = hex_val(p[i]);
    if (h < 0) return -1;
    v = v << 4 | h;
  }
  return v;
}

/* Length of the well-formed UTF-8 sequence at p (lead byte >= 0x80), or 0
 * (RFC 3629: no overlongs, no surrogates, nothing past U+10FFFF). */
static size_t utf8_len(const unsigned char *p, const unsigned char *end) {
  const unsigned char c = p[0];
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF;   /* range of the second byte */
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi) return 0;
  for (size_t i = 2; i < n; i++)
    if ((p[i] & 0xC0) != 0x80) return 0;
  return n;
}

static inline char *put_utf8(char *w, uint32_t cp) {
  if (cp < 0x80) {
    *w++ = (char)cp;
  } else if (cp < 0x800) {
    *w++ = (char)(0xC0 | cp >> 6);
    *w++ = (char)(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *w++ = (char)(0xE0 | cp >> 12);
    *w++ = (char)(0x80 | (cp >> 6 & 0x3F));
    *w++ = (char)(0x80 | (cp & 0x3F));
  } else {
    *w++ = (char)(0xF0 | cp >> 18);
    *w++ = (char)(0x80 | (cp >> 12 & 0x3F));
    *w++ = (char)(0x80 | (cp >> 6 & 0x3F));
    *w++ = (char)(0x80 | (cp & 0x3F));
  }
  return w;
}

/* The string whose opening quote is at *pp: unescaped in place and
 * NUL-terminated (the unescaped form is never longer, so the NUL lands on
 * the closing quote at the latest). Returns its start and moves *pp past the
 * closing quote; NULL with *pp at the offending byte on error. */
static char *parse_string(char **pp, const char *end) {
  char *p = *pp + 1, *w = p;
  char *const s = p;
  for (;;) {
    char *q = scan_plain(p, end);
    if (w != p) memmove(w, p, (size_t)(q - p));
    w += q - p;
    p = q;
    if (p == end) break;
    const unsigned char c = (unsigned char)*p;
    if (c == '"') {
      *w = '\0';
      *pp = p + 1;
      return s;
    }
    if (c < 0x20) break;
    if (c >= 0x80) {
      const size_t n = utf8_len((const unsigned char *)p, (const unsigned char *)end);
      if (!n) break;
      if (w != p) memmove(w, p, n);
      w += n;
      p += n;
      continue;
    }
    /* a backslash */
    if (end - p < 2) {
      p = (char *)end;
      break;
    }
    char e = p[1];
    switch (e) {
      case '"': case '\\': case '/': *w++ = e; p += 2; continue;
      case 'b': *w++ = '\b'; p += 2; continue;
      case 'f': *w++ = '\f'; p += 2; continue;
      case 'n': *w++ = '\n'; p += 2; continue;
      case 'r': *w++ = '\r'; p += 2; continue;
      case 't': *w++ = '\t'; p += 2; continue;
      case 'u': break;
      default: goto fail;
    }
    if (end - p < 6) {   /* cut short: at its end unless a digit there is bad already */
      for (const char *h = p + 2; h < end; h++)
        if (hex_val(*h) < 0) goto fail;
      p = (char *)end;
      break;
    }
    int32_t cp = hex4(p + 2);
    if (cp < 0 || (cp >= 0xDC00 && cp <= 0xDFFF)) break;   /* bad hex, lone low surrogate */
    int used = 6;
    if (cp >= 0xD800 && cp <= 0xDBFF) {   /* a high surrogate needs its low half (error at the pair) */
      if (end - p < 12 || p[6] != '\\' || p[7] != 'u') break;
      const int32_t lo = hex4(p + 8);
      if (lo < 0xDC00 || lo > 0xDFFF) break;
      cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
      used = 12;
    }
    w = put_utf8(w, (uint32_t)cp);
    p += used;
  }
fail:
  *pp = p;
  return NULL;
}

/* Appends item to container c in O(1): c->child->prev is the last child. */
static inline void append(cJSON *c, cJSON *item) {
  cJSON *first = c->child;
  if (!first) {
    c->child = item;
  } else {
    cJSON *last = first->prev;
    last->next = item;
    item->prev = last;
  }
  (first ? first : item)->prev = item;
}

cJSON *cv_json_parse_insitu(char *buf, size_t len, size_t *err_off) {
  char *p = buf;
  const char *const end = buf + len;
  cJSON *stack[CV_JSON_DEPTH_MAX];
  int depth = 0;
  cJSON *root = NULL;
  char *key = NULL;   /* of the member whose value comes next */
  if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3;
  p = skip_ws(p, end);

value:
  if (p == end) goto fail;
  cJSON *item;
  switch (*p) {
    case '{':
    case '[':
      if (depth == CV_JSON_DEPTH_MAX) goto fail;
      item = *p == '{' ? cJSON_CreateObject() : cJSON_CreateArray();
      break;
    case '"': {
      char *q = p;
      char *s = parse_string(&q, end);
      if (!s) {
        p = q;
        goto fail;
      }
      if (!(item = cJSON_CreateStringReference(s))) goto fail;
      p = q;
      goto link;
    }
    case 't':
      if (end - p < 4 || memcmp(p, "true", 4) != 0) goto fail;
      item = cJSON_CreateTrue();
      p += 4;
      break;
    case 'f':
      if (end - p < 5 || memcmp(p, "false", 5) != 0) goto fail;
      item = cJSON_CreateFalse();
      p += 5;
      break;
    case 'n':
      if (end - p < 4 || memcmp(p, "null", 4) != 0) goto fail;
      item = cJSON_CreateNull();
      p += 4;
      break;
    default: {
      double d;
      const char *q = cv_parse_f64(p, end, &d);
      if (!q) goto fail;
      item = cJSON_CreateNumber(d);
      p += q - p;
      break;
    }
  }
  if (!item) goto fail;
link:
  if (depth == 0) {
    root = item;
  } else {
    if (key) {
      item->string = key;
      item->type |= cJSON_StringIsConst;
      key = NULL;
    }
    append(stack[depth - 1], item);
  }
  if (item->type & (cJSON_Array | cJSON_Object)) {   /* (type tests inline: no call into cJSON) */
    const char close = item->type & cJSON_Array ? ']' : '}';
    p = skip_ws(p + 1, end);
    stack[depth++] = item;
    if (p < end && *p == close) {
      p++;
      depth--;
    } else if (close == ']') {
      goto value;
    } else {
      goto member;
    }
  }

next:   /* after a complete value */
  p = skip_ws(p, end);
  if (depth == 0) {
    if (p != end) goto fail;   /* extra text */
    return root;
  }
  if (p == end) goto fail;
  const bool in_array = stack[depth - 1]->type & cJSON_Array;
  if (*p == ',') {
    p = skip_ws(p + 1, end);
    if (in_array) goto value;
    goto member;
  }
  if (*p != (in_array ? ']' : '}')) goto fail;
  p++;
  depth--;
  goto next;

member:   /* p at an object member's key */
  if (p == end || *p != '"') goto fail;
  {
    char *q = p;
    key = parse_string(&q, end);
    p = q;
    if (!key) goto fail;
  }
  p = skip_ws(p, end);
  if (p == end || *p != ':') goto fail;
  p = skip_ws(p + 1, end);
  goto value;

fail:
  if (err_off) *err_off = (size_t)(p - buf);
  cJSON_Delete(root);
  return NULL;
}
