/* test_json_parse.c — proto/json_parse: differential tests against cJSON on
 * hand-written and seeded random documents (same tree: types, keys in order,
 * strings bytewise, doubles bitwise, cJSON's list links), and invalid
 * documents (every truncation, bad escapes, surrogates, control bytes, bad
 * numbers, bad UTF-8, depth) with their error offsets. Buffers are malloc'd
 * to the exact length so ASan sees any read past the end. */
#include <stdbool.h>
#include <stdint.h>

#include "../../proto/json_arena.h"
#include "../../proto/json_parse.h"
#include "runner.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define LEAK_CHECK() CV_ASSERT(__lsan_do_recoverable_leak_check() == 0)
#else
#define LEAK_CHECK() ((void)0)
#endif

/* ---- helpers ---- */

static char *dup_exact(const char *s, size_t n) {
  char *b = malloc(n ? n : 1);
  CV_ASSERT(b);
  if (n) memcpy(b, s, n);
  return b;
}

static uint64_t bits(double d) {
  uint64_t b;
  memcpy(&b, &d, sizeof b);
  return b;
}

/* a is cJSON's tree, b ours: same shape and values; b's links as cJSON makes them. */
static void tree_eq(const cJSON *a, const cJSON *b, const char *doc) {
  if ((a->type & 0xFF) != (b->type & 0xFF)) CV_FAIL_("type %d vs %d in %.200s", a->type, b->type, doc);
  if (!a->string != !b->string || (a->string && strcmp(a->string, b->string)))
    CV_FAIL_("key \"%s\" vs \"%s\" in %.200s", a->string ? a->string : "(null)", b->string ? b->string : "(null)",
             doc);
  if (b->string) CV_ASSERT(b->type & cJSON_StringIsConst);
  if (cJSON_IsString(a)) {
    CV_ASSERT(cJSON_IsString(b) && (b->type & cJSON_IsReference));
    if (strcmp(a->valuestring, b->valuestring)) CV_FAIL_("string \"%s\" vs \"%s\"", a->valuestring, b->valuestring);
  }
  if (cJSON_IsNumber(a)) {
    if (bits(a->valuedouble) != bits(b->valuedouble) || a->valueint != b->valueint)
      CV_FAIL_("number %.17g (%d) vs %.17g (%d) in %.200s", a->valuedouble, a->valueint, b->valuedouble,
               b->valueint, doc);
  }
  CV_ASSERT_EQ(cJSON_GetArraySize(a), cJSON_GetArraySize(b));
  const cJSON *ca = a->child, *cb = b->child, *last = NULL;
  for (; ca && cb; ca = ca->next, cb = cb->next) {
    if (last) CV_ASSERT(cb->prev == last);
    tree_eq(ca, cb, doc);
    last = cb;
  }
  CV_ASSERT(!ca && !cb);
  if (b->child) CV_ASSERT(b->child->prev == last);   /* cJSON's first->prev == last */
}

/* doc must be valid: both parsers accept it and agree. */
static void check_same(const char *doc, size_t n) {
  const char *end = NULL;
  cJSON *a = cJSON_ParseWithLengthOpts(doc, n, &end, 0);
  if (!a) CV_FAIL_("cJSON refuses %.300s", doc);
  char *buf = dup_exact(doc, n);
  size_t off = (size_t)-1;
  cJSON *b = cv_json_parse_insitu(buf, n, &off);
  if (!b) CV_FAIL_("refused at byte %zu: %.300s", off, doc);
  tree_eq(a, b, doc);
  /* lookups through the public API work on in-situ keys */
  if (cJSON_IsObject(a))
    for (const cJSON *c = a->child; c; c = c->next)
      if (cJSON_GetObjectItemCaseSensitive(b, c->string) == NULL)
        CV_FAIL_("key %s not found", c->string);
  cJSON_Delete(a);
  cJSON_Delete(b);
  free(buf);
}

static void check_same_s(const char *doc) { check_same(doc, strlen(doc)); }

/* doc must be refused at byte off (off < 0: anywhere in 0..len). */
static void check_bad(const char *doc, size_t n, long off) {
  char *buf = dup_exact(doc, n);
  size_t got = (size_t)-1;
  cJSON *b = cv_json_parse_insitu(buf, n, &got);
  if (b) CV_FAIL_("accepted: %.*s", (int)(n < 300 ? n : 300), doc);
  if (got > n || (off >= 0 && got != (size_t)off))
    CV_FAIL_("offset %zu, want %ld (len %zu): %.*s", got, off, n, (int)(n < 300 ? n : 300), doc);
  free(buf);
}

static void check_bad_s(const char *doc, long off) { check_bad(doc, strlen(doc), off); }

/* ---- a seeded generator of valid documents ---- */

typedef struct {
  uint64_t s;
  char *b;
  size_t n, cap;
} gen_t;

static uint64_t rnd(gen_t *g) {   /* splitmix64 */
  uint64_t z = (g->s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static unsigned rn(gen_t *g, unsigned n) { return (unsigned)(rnd(g) % n); }

static void put(gen_t *g, const char *s, size_t n) {
  if (g->n + n + 1 > g->cap) {
    g->cap = (g->n + n + 1) * 2;
    g->b = realloc(g->b, g->cap);
    CV_ASSERT(g->b);
  }
  memcpy(g->b + g->n, s, n);
  g->n += n;
  g->b[g->n] = '\0';
}
static void puts_(gen_t *g, const char *s) { put(g, s, strlen(s)); }
static void putc_(gen_t *g, char c) { put(g, &c, 1); }

static void gen_ws(gen_t *g) {
  static const char WS[] = " \t\n\r";
  if (rn(g, 3) == 0)
    for (unsigned k = rn(g, 4); k; k--) putc_(g, WS[rn(g, 4)]);
}

static void gen_hex4(gen_t *g, unsigned v) {
  char t[8];
  snprintf(t, sizeof t, rn(g, 2) ? "\\u%04x" : "\\u%04X", v);
  puts_(g, t);
}

static void gen_string(gen_t *g) {
  static const char PLAIN[] = "abcXYZ019 +-_.:/=,{}[]'`~!@#$%^&*()";
  static const char *const ESC[] = {"\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t"};
  putc_(g, '"');
  unsigned len = rn(g, 8) == 0 ? 16 + rn(g, 200) : rn(g, 12);
  for (unsigned i = 0; i < len; i++) {
    switch (rn(g, 12)) {
      case 0: puts_(g, ESC[rn(g, 8)]); break;
      case 1: gen_hex4(g, 1 + rn(g, 0x7F)); break;                          /* ASCII (not NUL) */
      case 2: gen_hex4(g, 0x80 + rn(g, 0x780)); break;                      /* 2-byte */
      case 3: { unsigned v = 0x800 + rn(g, 0xF800); if (v >= 0xD800 && v < 0xE000) v -= 0x1000; gen_hex4(g, v); break; }
      case 4: {                                                             /* surrogate pair */
        gen_hex4(g, 0xD800 + rn(g, 0x400));
        gen_hex4(g, 0xDC00 + rn(g, 0x400));
        break;
      }
      case 5: {   /* raw UTF-8 of each length */
        static const char *const U[] = {"\xC3\xA9", "\xDF\xBF", "\xE2\x82\xAC", "\xE0\xA0\x80", "\xED\x9F\xBF",
                                        "\xEF\xBF\xBD", "\xF0\x9F\x98\x80", "\xF0\x90\x80\x80", "\xF4\x8F\xBF\xBF"};
        puts_(g, U[rn(g, 9)]);
        break;
      }
      case 6: if (rn(g, 50) == 0) puts_(g, "\\u0000"); else putc_(g, 'q'); break;
      default: putc_(g, PLAIN[rn(g, sizeof PLAIN - 1)]); break;
    }
  }
  putc_(g, '"');
}

static void gen_digits(gen_t *g, unsigned n, bool lead_nonzero) {
  for (unsigned i = 0; i < n; i++) putc_(g, (char)((i == 0 && lead_nonzero ? '1' + rn(g, 9) : '0' + rn(g, 10))));
}

static void gen_number(gen_t *g) {   /* under cJSON's 63-byte number limit */
  static const char *const SPECIAL[] = {"-0", "0", "-0.0", "1e308", "1.7976931348623157e308", "1e309", "-1e400",
                                        "4.9e-324", "5e-324", "2e-324", "1e-400", "2.2250738585072011e-308",
                                        "2.2250738585072014e-308", "9007199254740993", "2147483647", "2147483648",
                                        "-2147483648", "-2147483649", "0.1", "1E+2", "1e-0", "123456789012345678901234567890"};
  if (rn(g, 10) == 0) {
    puts_(g, SPECIAL[rn(g, sizeof SPECIAL / sizeof *SPECIAL)]);
    return;
  }
  if (rn(g, 3) == 0) putc_(g, '-');
  if (rn(g, 4) == 0) putc_(g, '0');
  else gen_digits(g, 1 + rn(g, 20), true);
  if (rn(g, 2)) {
    putc_(g, '.');
    gen_digits(g, 1 + rn(g, 20), false);
  }
  if (rn(g, 3) == 0) {
    putc_(g, rn(g, 2) ? 'e' : 'E');
    unsigned s = rn(g, 3);
    if (s) putc_(g, s == 1 ? '+' : '-');
    gen_digits(g, 1 + rn(g, 3), false);
  }
}

static void gen_value(gen_t *g, int depth) {
  unsigned k = depth >= 6 ? 2 + rn(g, 6) : rn(g, 8);
  switch (k) {
    case 0:
    case 1: {
      const bool obj = k == 0;
      putc_(g, obj ? '{' : '[');
      gen_ws(g);
      unsigned n = rn(g, 6);
      for (unsigned i = 0; i < n; i++) {
        if (i) {
          putc_(g, ',');
          gen_ws(g);
        }
        if (obj) {
          gen_string(g);
          gen_ws(g);
          putc_(g, ':');
          gen_ws(g);
        }
        gen_value(g, depth + 1);
        gen_ws(g);
      }
      putc_(g, obj ? '}' : ']');
      break;
    }
    case 2: case 3: gen_string(g); break;
    case 4: case 5: gen_number(g); break;
    case 6: puts_(g, rn(g, 2) ? "true" : "false"); break;
    default: puts_(g, "null"); break;
  }
}

/* ---- tests ---- */

static const char *const VALID[] = {
    "{}", "[]", "0", "-0", "\"\"", "true", "false", "null", " \t\r\n{ } \n",
    "{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}",
    "[1,-1,0.5,-0.5,1e3,1E3,1e+3,1e-3,-1.25e-10,0e0,0.0e-0,123456789012345678]",
    "{\"esc\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\",\"u\":\"\\u0041\\u00e9\\u20AC\\ud83d\\ude00\\uFFFF\"}",
    "\"\\u0000tail\"", "{\"k\\u0000x\":1}", "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"",
    "{\"a\":1,\"a\":2}",   /* duplicates are the spec reader's business */
    "[[[[[[[[[[]]]]]]]]]]", "{\"\":\"\"}", "[\"\\/\"]", "\xEF\xBB\xBF{\"bom\":1}",
    "[2.2250738585072011e-308,4.9e-324,1.7976931348623157e308,1e400,-1e400,1e-400]",
    "[0.1,0.2,0.30000000000000004,3.141592653589793,2.718281828459045,1e22,1e23]",
};

static void test_valid_corners(void) {
  for (size_t i = 0; i < sizeof VALID / sizeof *VALID; i++) check_same_s(VALID[i]);
  LEAK_CHECK();
}

/* strings of every length with a special byte at every position around the 16-byte steps */
static void test_long_strings(void) {
  char *doc = malloc(6000);
  static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  int n = sprintf(doc, "{\"inputs\":{\"x\":{\"dtype\":\"float32\",\"data_b64\":\"");
  for (int i = 0; i < 5400; i++) doc[n++] = B64[(i * 7 + i / 13) % 64];
  n += sprintf(doc + n, "==\"}}}");
  check_same(doc, (size_t)n);
  static const char *const SPECIAL[] = {"\\n", "\\\"", "\\u00e9", "\xC3\xA9", "\\ud83d\\ude00", "\\\\"};
  for (int len = 0; len < 40; len++)
    for (int at = 0; at <= len; at++)
      for (size_t s = 0; s < sizeof SPECIAL / sizeof *SPECIAL; s++) {
        int m = 0;
        doc[m++] = '"';
        for (int i = 0; i < len; i++) {
          if (i == at) m += sprintf(doc + m, "%s", SPECIAL[s]);
          doc[m++] = (char)('a' + i % 26);
        }
        doc[m++] = '"';
        check_same(doc, (size_t)m);
        /* the same with a control byte or a bad escape there: refused at it */
        if (at < len) {
          char *bad = dup_exact(doc, (size_t)m);
          bad[1 + at] = 0x1F;
          check_bad(bad, (size_t)m, 1 + at);
          free(bad);
        }
      }
  free(doc);
  LEAK_CHECK();
}

static void test_random_documents(void) {
  gen_t g = {.s = 20261125};
  size_t total = 0;
  for (int k = 0; k < 4000; k++) {
    g.n = 0;
    gen_ws(&g);
    gen_value(&g, 0);
    gen_ws(&g);
    check_same(g.b, g.n);
    total += g.n;
  }
  CV_ASSERT(total > 100000);   /* the generator makes real documents */
  free(g.b);
  LEAK_CHECK();
}

/* every proper prefix of a container document is refused, at a byte <= its length */
static void test_truncations(void) {
  gen_t g = {.s = 7};
  for (int k = 0; k < 300; k++) {
    g.n = 0;
    putc_(&g, '[');
    gen_value(&g, 1);
    putc_(&g, ',');
    gen_value(&g, 1);
    putc_(&g, ']');
    for (size_t len = 0; len < g.n; len++) check_bad(g.b, len, -1);
  }
  for (size_t i = 0; i < sizeof VALID / sizeof *VALID; i++) {
    const char *v = VALID[i];
    if (v[0] != '{' && v[0] != '[') continue;
    for (size_t len = 0; len < strlen(v); len++) check_bad(v, len, -1);
  }
  free(g.b);
  LEAK_CHECK();
}

/* random edits of valid documents: whatever the strict parser accepts, cJSON
 * accepts too, with the same tree; the rest is refused at a byte <= len */
static void test_mutations(void) {
  static const char BYTES[] = "{}[],:\"\\/-+.eE0123456789 \n\tutrfalsn\x01\x80\xC3\xA9\xED\xF4";
  gen_t g = {.s = 99};
  int accepted = 0, refused = 0;
  for (int k = 0; k < 3000; k++) {
    g.n = 0;
    gen_value(&g, 0);
    putc_(&g, ' ');
    for (int edits = 1 + (int)rn(&g, 3); edits > 0; edits--) {
      size_t at = rn(&g, (unsigned)g.n);
      switch (rn(&g, 3)) {
        case 0: g.b[at] = BYTES[rn(&g, sizeof BYTES - 1)]; break;
        case 1: memmove(g.b + at, g.b + at + 1, g.n - at); g.n--; break;
        default: putc_(&g, ' '); memmove(g.b + at + 1, g.b + at, g.n - at - 1); g.b[at] = BYTES[rn(&g, sizeof BYTES - 1)]; break;
      }
      if (!g.n) putc_(&g, '0');
    }
    char *buf = dup_exact(g.b, g.n);
    size_t off = (size_t)-1;
    cJSON *b = cv_json_parse_insitu(buf, g.n, &off);
    if (b) {
      const char *end;
      cJSON *a = cJSON_ParseWithLengthOpts(g.b, g.n, &end, 0);
      if (!a) CV_FAIL_("accepted what cJSON refuses: %.*s", (int)g.n, g.b);
      tree_eq(a, b, g.b);
      cJSON_Delete(a);
      cJSON_Delete(b);
      accepted++;
    } else {
      CV_ASSERT(off <= g.n);
      refused++;
    }
    free(buf);
  }
  CV_ASSERT(accepted > 100 && refused > 1000);   /* both outcomes are exercised */
  free(g.b);
  LEAK_CHECK();
}

static void test_invalid(void) {
  static const struct {
    const char *doc;
    long off;
  } ROWS[] = {
      {"", 0}, {"   ", 3}, {"{\"op\": dwt}", 7}, {"{\"op\":\"conv\"}  xyz", 15}, {"[1] x", 4}, {"1 2", 2},
      /* numbers */
      {"01", 1}, {"[01]", 2}, {"-01", 2}, {"+1", 0}, {"1.", 0}, {"[1.]", 1}, {".5", 0}, {"1e", 0}, {"1e+", 0},
      {"1E-", 0}, {"--1", 0}, {"-", 0}, {"-a", 0}, {"0x10", 1}, {"1.5.2", 3}, {"NaN", 0}, {"Infinity", 0},
      {"-Infinity", 0}, {"[1e5e5]", 4},
      /* structure */
      {"[1,]", 3}, {"[,1]", 1}, {"[1 2]", 3}, {"{\"a\":1,}", 7}, {"{,}", 1}, {"{a:1}", 1}, {"{'a':1}", 1},
      {"{\"a\" 1}", 5}, {"{\"a\":}", 5}, {"{\"a\"}", 4}, {"[}", 1}, {"{]", 1}, {"[1}", 2}, {"{\"a\":1]", 6},
      {"]", 0}, {"tru", 0}, {"nul", 0}, {"falsey", 5}, {"True", 0}, {"[true false]", 6}, {"\v1", 0},
      {"1\f", 1}, {"/*c*/1", 0}, {"\xEF\xBB", 0},
      /* strings */
      {"\"abc", 4}, {"\"\\x\"", 1}, {"\"\\'\"", 1}, {"\"\\u12\"", 1}, {"\"\\u12G4\"", 1}, {"\"\\ud800\"", 1},
      {"\"\\udc00\"", 1}, {"\"\\ud800\\u0041\"", 1}, {"\"\\ud800\\ud800\"", 1}, {"\"ab\\ud83dx\"", 3},
      {"\"a\x01\"", 2}, {"\"a\tb\"", 2}, {"\"a\nb\"", 2}, {"\"\x7f\"", -2},
      /* UTF-8 */
      {"\"\xC0\x80\"", 1}, {"\"\xC1\xBF\"", 1}, {"\"\xE0\x80\x80\"", 1}, {"\"\xED\xA0\x80\"", 1},
      {"\"\xF0\x80\x80\x80\"", 1}, {"\"\xF4\x90\x80\x80\"", 1}, {"\"\xF5\x80\x80\x80\"", 1}, {"\"\x80\"", 1},
      {"\"a\xC3\"", 2}, {"\"\xE2\x82\"", 1}, {"\"\xFF\"", 1}, {"{\"\xC3\x28\":1}", 2},
  };
  for (size_t i = 0; i < sizeof ROWS / sizeof *ROWS; i++) {
    if (ROWS[i].off == -2) {   /* DEL is not a control byte in JSON: accepted */
      check_same_s(ROWS[i].doc);
      continue;
    }
    check_bad_s(ROWS[i].doc, ROWS[i].off);
  }
  /* a NUL byte inside the length is a control byte, not an end */
  check_bad("\"a\0b\"", 5, 2);
  check_bad("[1]\0", 4, 3);
  /* the length is honoured */
  check_bad("[1]", 2, 2);
  LEAK_CHECK();
}

static void test_depth(void) {
  enum { D = CV_JSON_DEPTH_MAX };
  char *doc = malloc(6 * (D + 1) + 16);
  for (int kind = 0; kind < 2; kind++) {
    int n = 0;
    for (int i = 0; i < D; i++) n += sprintf(doc + n, "%s", kind ? "{\"k\":" : "[");
    n += sprintf(doc + n, "7");
    for (int i = 0; i < D; i++) doc[n++] = kind ? '}' : ']';
    check_same(doc, (size_t)n);   /* 1000 deep: both accept */
  }
  int n = 0;
  for (int i = 0; i < D + 1; i++) doc[n++] = '[';
  for (int i = 0; i < D + 1; i++) doc[n++] = ']';
  check_bad(doc, (size_t)n, D);
  const char *end;
  CV_ASSERT(cJSON_ParseWithLengthOpts(doc, (size_t)n, &end, 0) == NULL);   /* cJSON's limit too */
  /* a deep tree that fails at its end is freed */
  n = 0;
  for (int i = 0; i < D; i++) doc[n++] = '[';
  for (int i = 0; i < D - 1; i++) doc[n++] = ']';
  doc[n++] = ',';
  check_bad(doc, (size_t)n, n);
  free(doc);
  LEAK_CHECK();
}

/* in place: the buffer holds the unescaped strings; the tree lives in the arena */
static void test_in_place(void) {
  cv_json_hooks_install();
  char doc[] = "{\"k\\n\":\"a\\u00e9b\",\"n\":[1.5,\"x\\\"y\"]}";
  CV_ASSERT(cv_json_arena_open());
  size_t off;
  cJSON *t = cv_json_parse_insitu(doc, sizeof doc - 1, &off);
  CV_ASSERT(t);
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(t, "k\n");
  CV_ASSERT(cJSON_IsString(v));
  CV_ASSERT_STREQ(cJSON_GetStringValue(v), "a\xC3\xA9"
                                           "b");
  CV_ASSERT(v->valuestring >= doc && v->valuestring < doc + sizeof doc);
  CV_ASSERT(v->string >= doc && v->string < doc + sizeof doc);
  const cJSON *n = cJSON_GetObjectItemCaseSensitive(t, "n");
  CV_ASSERT_EQ(cJSON_GetArraySize(n), 2);
  CV_ASSERT(cJSON_GetArrayItem(n, 0)->valuedouble == 1.5);
  CV_ASSERT_EQ(cJSON_GetArrayItem(n, 0)->valueint, 1);
  CV_ASSERT_STREQ(cJSON_GetArrayItem(n, 1)->valuestring, "x\"y");
  char *printed = cJSON_PrintUnformatted(t);
  CV_ASSERT_STREQ(printed, "{\"k\\n\":\"a\xC3\xA9"
                           "b\",\"n\":[1.5,\"x\\\"y\"]}");
  cJSON_free(printed);
  cJSON_Delete(t);
  cv_json_arena_close();
  LEAK_CHECK();
}

#define CV_TEST_LIST(XX) \
  XX(valid_corners) XX(long_strings) XX(random_documents) XX(truncations) XX(mutations) XX(invalid) XX(depth) XX(in_place)
CV_TEST_MAIN(CV_TEST_LIST)
