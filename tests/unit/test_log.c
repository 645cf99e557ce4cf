/* test_log.c — config/log.{h,c}: level filtering (arguments not evaluated
 * below the level), text and JSON line shapes, JSON escaping and UTF-8
 * handling, the access log, request ids (format, uniqueness, fork, validity
 * table) and 4 threads logging long lines into one file without interleaving. */
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../config/log.h"
#include "../../proto/errors.h"
#include "runner.h"

/* ---- helpers ---- */

typedef struct {
  char path[64];
  int fd;
} sink_t;

static void sink_open(sink_t *s) {
  snprintf(s->path, sizeof s->path, "/tmp/cv_log.XXXXXX");
  s->fd = mkstemp(s->path);
  CV_ASSERT(s->fd >= 0);
}

/* Reads what was logged so far (NUL-terminated, caller frees). */
static char *sink_read(sink_t *s, size_t *len) {
  FILE *f = fopen(s->path, "rb");
  CV_ASSERT(f != NULL);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  rewind(f);
  char *b = malloc((size_t)n + 1);
  CV_ASSERT(b != NULL);
  CV_ASSERT(fread(b, 1, (size_t)n, f) == (size_t)n);
  b[n] = '\0';
  fclose(f);
  if (len) *len = (size_t)n;
  return b;
}

static void sink_close(sink_t *s) {
  close(s->fd);
  unlink(s->path);
}

static int count_lines(const char *b) {
  int n = 0;
  for (; *b; b++) n += *b == '\n';
  return n;
}

/* Checks "YYYY-MM-DDTHH:MM:SS.mmmZ" at s. */
static void assert_timestamp(const char *s) {
  static const char pat[] = "dddd-dd-ddTdd:dd:dd.dddZ";
  for (int i = 0; pat[i]; i++) {
    bool ok = pat[i] == 'd' ? (s[i] >= '0' && s[i] <= '9') : s[i] == pat[i];
    if (!ok) CV_FAIL_("bad timestamp at %d: %.30s", i, s);
  }
}

static int evaluations;
static int bump(void) { return ++evaluations; }

/* ---- levels ---- */

static void test_level_filtering(void) {
  sink_t s;
  cv_logger_t lg;
  sink_open(&s);
  CV_ASSERT_OK(cv_log_init(&lg, s.fd, CV_LOG_WARN, CV_LOG_FORMAT_TEXT));
  evaluations = 0;
  cv_log(&lg, CV_LOG_DEBUG, NULL, "debug %d", bump());
  cv_log(&lg, CV_LOG_INFO, NULL, "info %d", bump());
  cv_log_job(&lg, CV_LOG_INFO, "r1", "j_1", "cpu", "job %d", bump());
  CV_ASSERT_EQ(evaluations, 0);   /* arguments below the level are never evaluated */
  cv_log(&lg, CV_LOG_WARN, NULL, "warn %d", bump());
  cv_log(&lg, CV_LOG_ERROR, NULL, "error %d", bump());
  CV_ASSERT_EQ(evaluations, 2);
  cv_log_set_level(&lg, CV_LOG_DEBUG);   /* reload */
  cv_log(&lg, CV_LOG_DEBUG, NULL, "debug %d", bump());
  cv_log_access(&lg, "r", "GET", "/healthz", 200, 0, 2, 0.001, "::1");
  cv_log_set_level(&lg, CV_LOG_ERROR);
  cv_log(&lg, CV_LOG_WARN, NULL, "warn %d", bump());
  cv_log_access(&lg, "r", "GET", "/healthz", 200, 0, 2, 0.001, "::1");   /* info: dropped */
  cv_log_set_level(&lg, CV_LOG_LEVEL_COUNT);   /* ignored */
  CV_ASSERT(!cv_log_enabled(&lg, CV_LOG_WARN));
  CV_ASSERT(!cv_log_enabled(NULL, CV_LOG_ERROR));
  cv_log(NULL, CV_LOG_ERROR, NULL, "%d", bump());   /* no logger: nothing, no crash */
  CV_ASSERT_EQ(evaluations, 3);
  char *b = sink_read(&s, NULL);
  CV_ASSERT_EQ(count_lines(b), 4);
  CV_ASSERT(strstr(b, "WARN  [-] warn 1\n") && strstr(b, "ERROR [-] error 2\n") &&
            strstr(b, "DEBUG [-] debug 3\n") && strstr(b, "GET /healthz"));
  CV_ASSERT(!strstr(b, "info") && !strstr(b, "job"));
  free(b);
  cv_log_destroy(&lg);
  sink_close(&s);
  /* bad arguments */
  CV_ASSERT_EQ(cv_log_init(&lg, -1, CV_LOG_INFO, CV_LOG_FORMAT_TEXT), -CV_EINVALID_ARGUMENT);
  CV_ASSERT_EQ(cv_log_init(&lg, 2, CV_LOG_LEVEL_COUNT, CV_LOG_FORMAT_TEXT), -CV_EINVALID_ARGUMENT);
  CV_ASSERT_EQ(cv_log_init(&lg, 2, CV_LOG_INFO, CV_LOG_FORMAT_COUNT), -CV_EINVALID_ARGUMENT);
  CV_ASSERT_STREQ(cv_log_level_name(CV_LOG_WARN), "warn");
  CV_ASSERT_STREQ(cv_log_format_name(CV_LOG_FORMAT_JSON), "json");
}

/* ---- text lines ---- */

static void test_text_shape(void) {
  sink_t s;
  cv_logger_t lg;
  sink_open(&s);
  CV_ASSERT_OK(cv_log_init(&lg, s.fd, CV_LOG_DEBUG, CV_LOG_FORMAT_TEXT));
  cv_log(&lg, CV_LOG_INFO, "abc123", "listening on %s:%d", "127.0.0.1", 8080);
  cv_log_job(&lg, CV_LOG_WARN, "r2", "j_00ff", "cuda:0", "retrying on %s", "cpu");
  cv_log(&lg, CV_LOG_ERROR, NULL, "two\nlines\tand \x01 ctl");
  char *b = sink_read(&s, NULL);
  CV_ASSERT_EQ(count_lines(b), 3);
  char *l1 = b, *l2 = strchr(l1, '\n') + 1, *l3 = strchr(l2, '\n') + 1;
  assert_timestamp(l1);
  CV_ASSERT(strncmp(l1 + 24, " INFO  [abc123] listening on 127.0.0.1:8080\n", 44) == 0);
  assert_timestamp(l2);
  CV_ASSERT(strncmp(l2 + 24, " WARN  [r2] job=j_00ff dev=cuda:0 retrying on cpu\n", 50) == 0);
  assert_timestamp(l3);
  CV_ASSERT(strncmp(l3 + 24, " ERROR [-] two\\nlines\\tand \\u0001 ctl\n", 38) == 0);   /* one line */
  free(b);
  cv_log_destroy(&lg);
  sink_close(&s);
}

/* ---- JSON lines ---- */

/* Parses the single JSON line at b; checks the key order ts level rid job dev msg. */
static cJSON *parse_line(const char *line) {
  const char *nl = strchr(line, '\n');
  CV_ASSERT(nl != NULL);
  const char *end = NULL;
  cJSON *o = cJSON_ParseWithLengthOpts(line, (size_t)(nl - line), &end, 0);
  if (!o) CV_FAIL_("not JSON: %.*s", (int)(nl - line), line);
  CV_ASSERT(end == nl);
  static const char *const keys[] = {"ts", "level", "rid", "job", "dev", "msg"};
  cJSON *it = o->child;
  for (int i = 0; i < 6; i++, it = it->next) {
    CV_ASSERT(it != NULL);
    CV_ASSERT_STREQ(it->string, keys[i]);
  }
  cJSON *ts = cJSON_GetObjectItem(o, "ts");
  CV_ASSERT(cJSON_IsString(ts));
  assert_timestamp(ts->valuestring);
  CV_ASSERT_EQ(strlen(ts->valuestring), 24);
  return o;
}

static void test_json_shape_and_escaping(void) {
  sink_t s;
  cv_logger_t lg;
  sink_open(&s);
  CV_ASSERT_OK(cv_log_init(&lg, s.fd, CV_LOG_DEBUG, CV_LOG_FORMAT_JSON));
  const char *tricky = "quote\" back\\ nl\n cr\r tab\t bs\b ff\f ctl\x01\x1f del\x7f é 日本 🙂 /slash";
  cv_log(&lg, CV_LOG_INFO, "rid-1", "%s", tricky);
  cv_log_job(&lg, CV_LOG_DEBUG, "r\"2", "j_1", "cpu", "done in %.3f s", 0.25);
  cv_log(&lg, CV_LOG_WARN, NULL, "bad utf8 \xff\xfe end \xc3 \xe2\x82 \xed\xa0\x80 \xc0\xaf");
  char *b = sink_read(&s, NULL);
  CV_ASSERT_EQ(count_lines(b), 3);
  char *l2 = strchr(b, '\n') + 1, *l3 = strchr(l2, '\n') + 1;

  cJSON *o = parse_line(b);
  CV_ASSERT_STREQ(cJSON_GetObjectItem(o, "level")->valuestring, "info");
  CV_ASSERT_STREQ(cJSON_GetObjectItem(o, "rid")->valuestring, "rid-1");
  CV_ASSERT(cJSON_IsNull(cJSON_GetObjectItem(o, "job")));
  CV_ASSERT(cJSON_IsNull(cJSON_GetObjectItem(o, "dev")));
  CV_ASSERT_STREQ(cJSON_GetObjectItem(o, "msg")->valuestring, tricky);   /* round trip */
  cJSON_Delete(o);
  /* the escapes as written: short forms, \u00XX, UTF-8 passed through */
  CV_ASSERT(strstr(b, "quote\\\" back\\\\ nl\\n cr\\r tab\\t bs\\b ff\\f ctl\\u0001\\u001f del\x7f é 日本 🙂 /slash\""));

  o = parse_line(l2);
  CV_ASSERT_STREQ(cJSON_GetObjectItem(o, "level")->valuestring, "debug");
  CV_ASSERT_STREQ(cJSON_GetObjectItem(o, "rid")->valuestring, "r\"2");
  CV_ASSERT_STREQ(cJSON_GetObjectItem(o, "job")->valuestring, "j_1");
  CV_ASSERT_STREQ(cJSON_GetObjectItem(o, "dev")->valuestring, "cpu");
  CV_ASSERT_STREQ(cJSON_GetObjectItem(o, "msg")->valuestring, "done in 0.250 s");
  cJSON_Delete(o);

  /* bytes that are not UTF-8 (stray, truncated, surrogate, overlong) become U+FFFD */
  o = parse_line(l3);
  CV_ASSERT(cJSON_IsNull(cJSON_GetObjectItem(o, "rid")));
  CV_ASSERT_STREQ(cJSON_GetObjectItem(o, "msg")->valuestring,
                  "bad utf8 \xef\xbf\xbd\xef\xbf\xbd end \xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd "
                  "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd");
  cJSON_Delete(o);
  free(b);
  cv_log_destroy(&lg);
  sink_close(&s);
}

/* A message over CV_LOG_MSG_MAX is cut with "...", and the JSON stays valid
 * even when every byte needs escaping. */
static void test_long_messages(void) {
  sink_t s;
  cv_logger_t lg;
  sink_open(&s);
  CV_ASSERT_OK(cv_log_init(&lg, s.fd, CV_LOG_DEBUG, CV_LOG_FORMAT_JSON));
  char big[3 * CV_LOG_MSG_MAX];
  memset(big, '\x01', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  char rid[300];
  memset(rid, '"', sizeof rid - 1);
  rid[sizeof rid - 1] = '\0';
  cv_log_job(&lg, CV_LOG_INFO, rid, rid, rid, "%s", big);
  cv_log_access(&lg, rid, big, big, 500, 1, 2, 3.0, big);
  char *b = sink_read(&s, NULL);
  CV_ASSERT_EQ(count_lines(b), 2);
  cJSON *o = parse_line(b);
  const char *msg = cJSON_GetObjectItem(o, "msg")->valuestring;
  CV_ASSERT_EQ(strlen(msg), CV_LOG_MSG_MAX - 1);
  CV_ASSERT(strcmp(msg + CV_LOG_MSG_MAX - 4, "...") == 0);
  cJSON_Delete(o);
  o = parse_line(strchr(b, '\n') + 1);
  CV_ASSERT_EQ(cJSON_GetObjectItem(o, "status")->valueint, 500);
  cJSON_Delete(o);
  free(b);
  cv_log_destroy(&lg);
  sink_close(&s);
}

/* ---- access log ---- */

static void test_access_log(void) {
  sink_t s;
  cv_logger_t lg;
  sink_open(&s);
  CV_ASSERT_OK(cv_log_init(&lg, s.fd, CV_LOG_INFO, CV_LOG_FORMAT_TEXT));
  cv_log_access(&lg, "abc", "POST", "/v1/jobs?wait=5&token=secret", 201, 1234, 56, 0.0125, "10.0.0.1");
  char *b = sink_read(&s, NULL);
  assert_timestamp(b);
  CV_ASSERT_STREQ(b + 24, " INFO  [abc] 10.0.0.1 \"POST /v1/jobs\" 201 in=1234 out=56 0.012500s\n");
  CV_ASSERT(!strstr(b, "secret"));   /* query strings are never logged */
  free(b);
  cv_log_destroy(&lg);
  sink_close(&s);

  sink_open(&s);
  CV_ASSERT_OK(cv_log_init(&lg, s.fd, CV_LOG_INFO, CV_LOG_FORMAT_JSON));
  cv_log_access(&lg, "abc", "GET", "/v1/jobs/j_1?x=\"y\"", 404, 0, 99, 1.5, "[::1]:5555");
  cv_log_access(&lg, NULL, NULL, NULL, 400, 0, 0, NAN, NULL);   /* NaN duration, NULLs */
  b = sink_read(&s, NULL);
  CV_ASSERT_EQ(count_lines(b), 2);
  cJSON *o = parse_line(b);
  CV_ASSERT_STREQ(cJSON_GetObjectItem(o, "level")->valuestring, "info");
  CV_ASSERT_STREQ(cJSON_GetObjectItem(o, "msg")->valuestring, "GET /v1/jobs/j_1 404");
  CV_ASSERT_STREQ(cJSON_GetObjectItem(o, "method")->valuestring, "GET");
  CV_ASSERT_STREQ(cJSON_GetObjectItem(o, "path")->valuestring, "/v1/jobs/j_1");
  CV_ASSERT_EQ(cJSON_GetObjectItem(o, "status")->valueint, 404);
  CV_ASSERT_EQ(cJSON_GetObjectItem(o, "bytes_in")->valueint, 0);
  CV_ASSERT_EQ(cJSON_GetObjectItem(o, "bytes_out")->valueint, 99);
  CV_ASSERT_NEAR(cJSON_GetObjectItem(o, "duration_s")->valuedouble, 1.5, 1e-9);
  CV_ASSERT_STREQ(cJSON_GetObjectItem(o, "remote")->valuestring, "[::1]:5555");
  cJSON_Delete(o);
  o = parse_line(strchr(b, '\n') + 1);
  CV_ASSERT_EQ(cJSON_GetObjectItem(o, "duration_s")->valuedouble, 0);
  CV_ASSERT_STREQ(cJSON_GetObjectItem(o, "path")->valuestring, "-");
  cJSON_Delete(o);
  free(b);
  cv_log_destroy(&lg);
  sink_close(&s);
}

/* ---- request ids ---- */

static int cmp_id(const void *a, const void *b) { return strcmp(a, b); }

static void test_request_id_make(void) {
  enum { N = 2000 };
  static char ids[N][33];
  for (int i = 0; i < N; i++) {
    cv_request_id_make(ids[i]);
    CV_ASSERT_EQ(strlen(ids[i]), 32);
    CV_ASSERT_EQ(strspn(ids[i], "0123456789abcdef"), 32);
    CV_ASSERT(cv_request_id_valid(ids[i]));
  }
  qsort(ids, N, 33, cmp_id);
  for (int i = 1; i < N; i++) CV_ASSERT(strcmp(ids[i - 1], ids[i]) != 0);
  /* a forked child does not repeat its parent's sequence */
  int p[2];
  CV_ASSERT(pipe(p) == 0);
  pid_t pid = fork();
  CV_ASSERT(pid >= 0);
  if (pid == 0) {
    char id[33];
    cv_request_id_make(id);
    _exit(write(p[1], id, 33) == 33 ? 0 : 1);
  }
  char mine[33], child[33];
  cv_request_id_make(mine);
  CV_ASSERT_EQ(read(p[0], child, 33), 33);
  int st;
  waitpid(pid, &st, 0);
  CV_ASSERT(strcmp(mine, child) != 0);
  close(p[0]);
  close(p[1]);
}

static void *make_ids(void *arg) {
  char *out = arg;
  for (int i = 0; i < 100; i++) cv_request_id_make(out + 33 * i);
  return NULL;
}

static void test_request_id_threads(void) {
  static char ids[4 * 100][33];
  pthread_t t[4];
  for (int i = 0; i < 4; i++) CV_ASSERT(pthread_create(&t[i], NULL, make_ids, ids[100 * i]) == 0);
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  qsort(ids, 400, 33, cmp_id);
  for (int i = 1; i < 400; i++) CV_ASSERT(strcmp(ids[i - 1], ids[i]) != 0);
}

static void test_request_id_valid(void) {
  char max[CV_REQUEST_ID_MAX + 2];
  memset(max, 'a', sizeof max);
  max[CV_REQUEST_ID_MAX] = '\0';
  char over[CV_REQUEST_ID_MAX + 2];
  memset(over, 'a', sizeof over - 1);
  over[sizeof over - 1] = '\0';
  static const struct {
    const char *s;
    bool ok;
  } rows[] = {
      {"a", true}, {"0f3c9e", true}, {"req-1_2.3:4/5+6=7", true}, {"{abc}[x]~!@#$%^&*()", true},
      {"", false}, {"has space", false}, {"quo\"te", false}, {"apos'", false}, {"back\\slash", false},
      {"tab\t", false}, {"nl\n", false}, {"del\x7f", false}, {"\x01", false}, {"é", false},
  };
  for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
    if (cv_request_id_valid(rows[i].s) != rows[i].ok) CV_FAIL_("row %zu '%s'", i, rows[i].s);
  CV_ASSERT(cv_request_id_valid(max));    /* 64 */
  CV_ASSERT(!cv_request_id_valid(over));  /* 65 */
  CV_ASSERT(!cv_request_id_valid(NULL));
}

/* ---- concurrency ---- */

enum { THREADS = 4, LINES = 400, PAYLOAD = 2000 };   /* long lines, under CV_LOG_MSG_MAX */

typedef struct {
  cv_logger_t *lg;
  char tag;
} worker_t;

static void *worker(void *arg) {
  worker_t *w = arg;
  char payload[PAYLOAD + 1];
  memset(payload, w->tag, PAYLOAD);
  payload[PAYLOAD] = '\0';
  for (int i = 0; i < LINES; i++) cv_log(w->lg, CV_LOG_INFO, NULL, "%c%04d %s", w->tag, i, payload);
  return NULL;
}

static void check_concurrent(cv_log_format_t format) {
  sink_t s;
  cv_logger_t lg;
  sink_open(&s);
  CV_ASSERT_OK(cv_log_init(&lg, s.fd, CV_LOG_INFO, format));
  pthread_t t[THREADS];
  worker_t w[THREADS];
  for (int i = 0; i < THREADS; i++) {
    w[i] = (worker_t){&lg, (char)('A' + i)};
    CV_ASSERT(pthread_create(&t[i], NULL, worker, &w[i]) == 0);
  }
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
  char *b = sink_read(&s, NULL);
  CV_ASSERT_EQ(count_lines(b), THREADS * LINES);
  int next[THREADS] = {0};
  for (char *line = b; *line;) {
    char *nl = strchr(line, '\n');
    *nl = '\0';
    char *m = strstr(line, format == CV_LOG_FORMAT_JSON ? "\"msg\":\"" : "[-] ");
    CV_ASSERT(m != NULL);
    m += format == CV_LOG_FORMAT_JSON ? 7 : 4;
    int tag = m[0] - 'A';
    CV_ASSERT(tag >= 0 && tag < THREADS);
    CV_ASSERT_EQ(atoi(m + 1), next[tag]);   /* each thread's lines in its order */
    next[tag]++;
    const char *p = m + 6;
    CV_ASSERT_EQ(strspn(p, (char[]){m[0], 0}), PAYLOAD);   /* no other thread's bytes inside */
    CV_ASSERT_STREQ(p + PAYLOAD, format == CV_LOG_FORMAT_JSON ? "\"}" : "");
    line = nl + 1;
  }
  for (int i = 0; i < THREADS; i++) CV_ASSERT_EQ(next[i], LINES);
  free(b);
  cv_log_destroy(&lg);
  sink_close(&s);
}

static void test_concurrent_text(void) { check_concurrent(CV_LOG_FORMAT_TEXT); }
static void test_concurrent_json(void) { check_concurrent(CV_LOG_FORMAT_JSON); }

#define CV_TEST_LIST(XX)                                                                  \
  XX(level_filtering) XX(text_shape) XX(json_shape_and_escaping) XX(long_messages)        \
  XX(access_log) XX(request_id_make) XX(request_id_threads) XX(request_id_valid)          \
  XX(concurrent_text) XX(concurrent_json)
CV_TEST_MAIN(CV_TEST_LIST)
