/* test_server_parts.c — convoyd's pure pieces, table-driven: the router
 * (templates, params, 405 Allow), Accept negotiation with q-values, the
 * streaming multipart parser fed in every chunk size, the .npy body sink,
 * and API key loading/checking. */
#include <stdlib.h>
#include <unistd.h>

#include "../../server/server.h"
#include "../../server/tbuf.h"
#include "runner.h"

static void test_router(void) {
  static const struct {
    const char *path;
    cv_route_t route;
    const char *p0, *p1;
  } rows[] = {
      {"/v1/jobs", CV_ROUTE_JOBS, NULL, NULL},
      {"/v1/jobs/j_1", CV_ROUTE_JOB, "j_1", NULL},
      {"/v1/jobs/j_1/result", CV_ROUTE_JOB_RESULT, "j_1", NULL},
      {"/v1/jobs/j_1/result/d1_dd", CV_ROUTE_JOB_OUTPUT, "j_1", "d1_dd"},
      {"/v1/tensors", CV_ROUTE_TENSORS, NULL, NULL},
      {"/v1/tensors/t_9", CV_ROUTE_TENSOR, "t_9", NULL},
      {"/v1/wavelets/db4", CV_ROUTE_WAVELET, "db4", NULL},
      {"/openapi.yaml", CV_ROUTE_OPENAPI, NULL, NULL},
      {"/v1/jobs/", CV_ROUTE_NONE, NULL, NULL},
      {"/v1/jobs//result", CV_ROUTE_NONE, NULL, NULL},
      {"/v1/jobs/a/result/b/c", CV_ROUTE_NONE, NULL, NULL},
      {"/v1/job", CV_ROUTE_NONE, NULL, NULL},
      {"", CV_ROUTE_NONE, NULL, NULL},
      {"/", CV_ROUTE_NONE, NULL, NULL},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    cv_route_match_t m;
    bool ok = cv_route_match(rows[i].path, &m);
    if (m.route != rows[i].route) CV_FAIL_("row %zu (%s): route %d != %d", i, rows[i].path, m.route, rows[i].route);
    CV_ASSERT_EQ(ok, rows[i].route != CV_ROUTE_NONE);
    const char *want[2] = {rows[i].p0, rows[i].p1};
    for (int k = 0; k < 2; k++) {
      if (!want[k]) continue;
      CV_ASSERT(k < m.n_params);
      CV_ASSERT_EQ(m.param_len[k], strlen(want[k]));
      CV_ASSERT(!memcmp(m.param[k], want[k], m.param_len[k]));
    }
  }
  char allow[64];
  cv_route_allow_header(CV_ROUTE_JOB, allow, sizeof allow);
  CV_ASSERT_STREQ(allow, "GET, HEAD, DELETE");
  cv_route_allow_header(CV_ROUTE_JOBS, allow, sizeof allow);
  CV_ASSERT_STREQ(allow, "GET, HEAD, POST");
  CV_ASSERT(cv_route_allows(CV_ROUTE_OPS, CV_M_HEAD));
  CV_ASSERT(!cv_route_allows(CV_ROUTE_OPS, CV_M_POST));
  CV_ASSERT_EQ(cv_method_bit("BREW"), CV_M_OTHER);
  CV_ASSERT_STREQ(cv_route_template(CV_ROUTE_JOB_OUTPUT), "/v1/jobs/{id}/result/{name}");
}

static void test_accept(void) {
  static const cv_fmt_t offers[] = {CV_FMT_JSON, CV_FMT_NPZ, CV_FMT_NPY};
  static const struct {
    const char *accept;
    int want;
  } rows[] = {
      {NULL, 0},
      {"", 0},
      {"*/*", 0},
      {"application/json", 0},
      {"application/zip", 1},
      {"application/x-npz", 1},
      {"application/x-npy", 2},
      {"application/octet-stream", 2},
      {"APPLICATION/ZIP", 1},
      {"text/html", -1},
      {"text/html, */*;q=0.1", 0},
      {"application/zip;q=0.5, application/json", 0},
      {"application/json;q=0, application/zip;q=0.2", 1},
      {"application/json;q=0", -1},   /* json refused, nothing else named */
      {"application/*;q=0.9, application/zip", 1},
      {"application/x-npy; q=0.8, application/zip; q=0.9", 1},
      {"application/zip, */*", 1},
      {"application/zip;q=0, */*", 0},
      {"  application/x-npy  ;  q=1  ", 2},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    int got = cv_accept_pick(rows[i].accept, offers, 3);
    if (got != rows[i].want) CV_FAIL_("row %zu '%s': %d != %d", i, rows[i].accept, got, rows[i].want);
  }
}

/* ---- multipart ---- */

typedef struct mp_log_s {
  char text[4096];
  size_t n;
} mp_log_t;

static void logf_(mp_log_t *l, const char *s, size_t n) {
  if (l->n + n < sizeof l->text) {
    memcpy(l->text + l->n, s, n);
    l->n += n;
    l->text[l->n] = 0;
  }
}

static int on_begin(void *u, const cv_mp_part_t *p, cv_error_t *err) {
  char b[300];
  int k = snprintf(b, sizeof b, "[%s|%s|%s:", p->name, p->filename, p->content_type);
  logf_(u, b, (size_t)k);
  return 0;
}
static int on_data(void *u, const char *p, size_t n, cv_error_t *err) {
  logf_(u, p, n);
  return 0;
}
static int on_end(void *u, cv_error_t *err) {
  logf_(u, "]", 1);
  return 0;
}
static const cv_mp_handler_t mp_h = {on_begin, on_data, on_end};

static const char mp_body[] =
    "preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"spec\"\r\n\r\n{\"op\":\"dwt\"}\r\n"
    "--XyZ\r\nContent-Disposition: form-data; name=\"x\"; filename=\"x.npy\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    "\r\n--Xy\r\n--XyQ\r\r\n-\r\n"
    "--XyZ--\r\nepilogue";
static const char mp_want[] =
    "[spec||:{\"op\":\"dwt\"}][x|x.npy|application/octet-stream:\r\n--Xy\r\n--XyQ\r\r\n-]";

static void test_multipart_chunks(void) {
  size_t len = sizeof mp_body - 1;
  for (size_t chunk = 1; chunk <= len; chunk++) {
    cv_multipart_t m;
    mp_log_t log = {{0}, 0};
    cv_error_t err;
    CV_ASSERT_OK(cv_multipart_init(&m, "multipart/form-data; boundary=\"XyZ\"", &mp_h, &log, &err));
    for (size_t off = 0; off < len; off += chunk) {
      size_t n = len - off < chunk ? len - off : chunk;
      CV_ASSERT_OK(cv_multipart_feed(&m, mp_body + off, n, &err));
    }
    CV_ASSERT_OK(cv_multipart_finish(&m, &err));
    if (strcmp(log.text, mp_want)) CV_FAIL_("chunk %zu: got '%s'", chunk, log.text);
  }
}

static void test_multipart_errors(void) {
  static const struct {
    const char *ctype, *body;
  } rows[] = {
      {"multipart/form-data", "--b--\r\n"},                                        /* no boundary */
      {"multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nzz"},   /* no close */
      {"multipart/form-data; boundary=b", "--b\r\nX-Other: 1\r\n\r\nzz\r\n--b--"},  /* no disposition */
      {"multipart/form-data; boundary=b", "--b\r\nContent-Disposition: attachment\r\n\r\nzz\r\n--b--"},
      {"multipart/form-data; boundary=b", "--bX\r\n"},                             /* bad delimiter line */
      {"multipart/form-data; boundary=b", "nothing at all"},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    cv_multipart_t m;
    mp_log_t log = {{0}, 0};
    cv_error_t err;
    int rc = cv_multipart_init(&m, rows[i].ctype, &mp_h, &log, &err);
    if (!rc) rc = cv_multipart_feed(&m, rows[i].body, strlen(rows[i].body), &err);
    if (!rc) rc = cv_multipart_finish(&m, &err);
    if (rc != -CV_EINVALID_ARGUMENT) CV_FAIL_("row %zu: rc %d", i, rc);
  }
}

/* ---- .npy sink ---- */

static void test_npy_sink(void) {
  float data[6] = {1, 2, 3, 4, 5, 6};
  cv_array_t a = {.dtype = CV_DTYPE_F32, .ndim = 2, .shape = {2, 3}, .data = data};
  char buf[4096 + sizeof data];
  size_t hl = cv_npy_header(&a, buf, 4096);
  CV_ASSERT(hl > 0);
  memcpy(buf + hl, data, sizeof data);
  size_t len = hl + sizeof data;
  for (size_t chunk = 1; chunk <= len; chunk += 7) {
    cv_npy_sink_t s = {.max_bytes = 1 << 20};
    cv_error_t err;
    for (size_t off = 0; off < len; off += chunk)
      CV_ASSERT_OK(cv_npy_sink_feed(&s, buf + off, len - off < chunk ? len - off : chunk, &err));
    cv_tensor_t *t;
    CV_ASSERT_OK(cv_npy_sink_finish(&s, &t, &err));
    CV_ASSERT_EQ(t->a.ndim, 2);
    CV_ASSERT_EQ(t->a.shape[1], 3);
    CV_ASSERT(!memcmp(t->a.data, data, sizeof data));
    cv_tensor_unref(t);
    cv_npy_sink_free(&s);
  }
  /* truncated, trailing bytes, too large */
  cv_npy_sink_t s = {.max_bytes = 1 << 20};
  cv_error_t err;
  cv_tensor_t *t;
  CV_ASSERT_OK(cv_npy_sink_feed(&s, buf, len - 1, &err));
  CV_ASSERT_EQ(cv_npy_sink_finish(&s, &t, &err), -CV_EINVALID_ARGUMENT);
  cv_npy_sink_free(&s);
  CV_ASSERT_EQ(cv_npy_sink_feed(&s, buf, len, &err), 0);
  CV_ASSERT_EQ(cv_npy_sink_feed(&s, "x", 1, &err), -CV_EINVALID_ARGUMENT);
  cv_npy_sink_free(&s);
  s.max_bytes = 8;
  CV_ASSERT_EQ(cv_npy_sink_feed(&s, buf, len, &err), -CV_EPAYLOAD_TOO_LARGE);
  cv_npy_sink_free(&s);
  CV_ASSERT_EQ(cv_npy_sink_finish(&s, &t, &err), -CV_EINVALID_ARGUMENT);   /* empty */
}

/* ---- API keys ---- */

static void test_auth(void) {
  char path[] = "/tmp/cv-keys-XXXXXX";
  int fd = mkstemp(path);
  CV_ASSERT(fd >= 0);
  const char *text = "# comment\n  alpha  \n\nbeta-2\r\n";
  CV_ASSERT_EQ(write(fd, text, strlen(text)), (long long)strlen(text));
  close(fd);
  cv_auth_t a;
  cv_error_t err;
  CV_ASSERT_OK(cv_auth_init(&a));
  CV_ASSERT(cv_auth_check(&a, NULL));   /* keys off */
  CV_ASSERT_OK(cv_auth_load(&a, path, &err));
  CV_ASSERT(cv_auth_enabled(&a));
  static const struct {
    const char *h;
    bool ok;
  } rows[] = {{"Bearer alpha", true}, {"bearer beta-2", true}, {"Bearer  alpha ", true}, {"Bearer alph", false},
              {"Bearer alphaa", false}, {"Bearer ", false}, {"Basic alpha", false}, {NULL, false},
              {"Bearer # comment", false}, {"alpha", false}};
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
    if (cv_auth_check(&a, rows[i].h) != rows[i].ok) CV_FAIL_("row %zu '%s'", i, rows[i].h ? rows[i].h : "(null)");
  CV_ASSERT_EQ(cv_auth_load(&a, "/nonexistent/keys", &err), -CV_EINVALID_ARGUMENT);
  CV_ASSERT(cv_auth_check(&a, "Bearer alpha"));   /* old keys kept */
  CV_ASSERT_OK(cv_auth_load(&a, "", &err));
  CV_ASSERT(!cv_auth_enabled(&a));
  cv_auth_close(&a);
  cv_auth_close(&a);
  unlink(path);
}

/* The per-thread buffer cache: a given-back buffer comes back for a request
 * it fits, the smallest fitting one first; at most CV_TBUF_KEEP are kept;
 * over CV_TBUF_MAX nothing is kept; buffers stay plain malloc blocks. */
static void test_tbuf(void) {
  size_t cap = 0;
  char *a = cv_tbuf_get(5000, &cap);
  CV_ASSERT(a && cap >= 5000);
  a[4999] = 1;
  cv_tbuf_put(a);
  char *b = cv_tbuf_get(4000, &cap);
  CV_ASSERT(b == a && cap >= 5000);   /* reused */
  char *c = cv_tbuf_get(100000, &cap);   /* nothing kept fits */
  CV_ASSERT(c && c != a && cap >= 100000);
  c = realloc(c, 200000);   /* a plain malloc block */
  CV_ASSERT(c);
  cv_tbuf_put(c);
  cv_tbuf_put(b);
  CV_ASSERT(cv_tbuf_get(10, NULL) == b);   /* the smallest that fits */
  cv_tbuf_put(b);
  char *big = cv_tbuf_get(CV_TBUF_MAX + 1, NULL);
  CV_ASSERT(big);
  cv_tbuf_put(big);   /* freed, not kept */
  big = cv_tbuf_get(CV_TBUF_MAX + 1, NULL);
  CV_ASSERT(big);
  free(big);
  char *many[CV_TBUF_KEEP + 2];
  for (int i = 0; i < CV_TBUF_KEEP + 2; i++) CV_ASSERT((many[i] = cv_tbuf_get(64, NULL)));
  for (int i = 0; i < CV_TBUF_KEEP + 2; i++) cv_tbuf_put(many[i]);
  cv_tbuf_put(NULL);
  for (int i = 0; i < CV_TBUF_KEEP; i++) free(cv_tbuf_get(1, NULL));   /* empty the cache (LSan) */
}

#define CV_TEST_LIST(XX) XX(router) XX(accept) XX(multipart_chunks) XX(multipart_errors) XX(npy_sink) XX(auth) \
  XX(tbuf)
CV_TEST_MAIN(CV_TEST_LIST)
