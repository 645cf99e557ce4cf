/* test_config.c — config/config.{h,c} and values.c: defaults, every option
 * from every source with precedence (defaults < file < env < flags), sizes,
 * bad values with their option name and source, bounds, unknown keys and
 * flags, --config, --help, reload, the JSON view and the cgroup RAM probe.
 * Uses temp files and synthetic envp arrays; never the real environment. */
#include <cjson/cJSON.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../config/config.h"
#include "runner.h"

#define MAX_ARGS 32

/* ---- helpers ---- */

static char tmp_dir[64];

/* Every test runs in a fresh empty directory, so no config/convoyd.json
 * from the build tree is picked up by accident. */
static void enter_tmp(void) {
  snprintf(tmp_dir, sizeof tmp_dir, "/tmp/cv_cfg.XXXXXX");
  CV_ASSERT(mkdtemp(tmp_dir) != NULL);
  CV_ASSERT(chdir(tmp_dir) == 0);
}

static int rm_one(const char *p, const struct stat *st, int type, struct FTW *ftw) {
  (void)st, (void)type, (void)ftw;
  return remove(p);
}

/* Removes the test's directory (tests that fail leave it for a look). */
static void leave_tmp(void) {
  CV_ASSERT(chdir("/") == 0);
  CV_ASSERT(nftw(tmp_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0);
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  CV_ASSERT(f != NULL);
  fputs(text, f);
  fclose(f);
}

/* Loads with argv = {"convoyd", [--config file], args…} and envp = env. */
static int load(cv_config_t *c, const char *file, const char *const *env, const char *const *args,
                cv_error_t *err) {
  char *argv[MAX_ARGS];
  int argc = 0;
  argv[argc++] = (char *)"convoyd";
  if (file) {
    argv[argc++] = (char *)"--config";
    argv[argc++] = (char *)file;
  }
  for (int i = 0; args && args[i]; i++) argv[argc++] = (char *)args[i];
  argv[argc] = NULL;
  cv_error_clear(err);
  return cv_config_load(c, argc, argv, (char **)env, NULL, err);
}

/* The option's value as compact JSON, through cv_config_to_json. */
static void value_json(const cv_config_t *c, const char *name, char *out, size_t n) {
  int opt = -1;
  for (int i = 0; i < CV_CONFIG_COUNT; i++)
    if (strcmp(cv_config_name((cv_config_opt_t)i), name) == 0) opt = i;
  if (opt < 0) CV_FAIL_("no option %s", name);
  cJSON *o = cv_config_to_json(c, 1u << opt);
  CV_ASSERT(o != NULL);
  cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  CV_ASSERT(v != NULL);
  char *s = cJSON_PrintUnformatted(v);
  snprintf(out, n, "%s", s);
  cJSON_free(s);
  cJSON_Delete(o);
}

static void flag_of(const char *name, char *out, size_t n) {
  snprintf(out, n, "--%s", name);
  for (char *p = out + 2; *p; p++)
    if (*p == '_') *p = '-';
}

static void env_of(const char *name, const char *val, char *out, size_t n) {
  int k = snprintf(out, n, "CONVOY_");
  for (const char *p = name; *p; p++) out[k++] = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
  snprintf(out + k, n - (size_t)k, "=%s", val);
}

/* ---- defaults ---- */

static void test_defaults(void) {
  enter_tmp();
  cv_config_t c;
  cv_error_t err;
  CV_ASSERT_OK(load(&c, NULL, NULL, NULL, &err));
  CV_ASSERT_STREQ(c.listen, "127.0.0.1:8080");
  CV_ASSERT_STREQ(c.data_dir, "var");
  CV_ASSERT_EQ(c.backend, CV_BACKEND_KIND_AUTO);
  CV_ASSERT_STREQ(c.devices, "all");
  CV_ASSERT_EQ(c.threads, cv_config_cores());
  CV_ASSERT_EQ(c.max_body_bytes, 8ull << 30);
  CV_ASSERT_EQ(c.max_json_bytes, 16ull << 20);
  CV_ASSERT_EQ(c.max_tensor_bytes, 8ull << 30);
  CV_ASSERT_EQ(c.max_queue_jobs, 1024);
  uint64_t ram = cv_config_memory_bytes("");
  CV_ASSERT(ram > 0);
  CV_ASSERT_EQ(c.max_inflight_bytes, ram / 2);
  CV_ASSERT_EQ(c.max_batch, 64);
  CV_ASSERT_EQ(c.max_batch_delay_us, 500);
  CV_ASSERT_EQ(c.wait_s, 30);
  CV_ASSERT_EQ(c.result_ttl_s, 600);
  CV_ASSERT_EQ(c.result_store_bytes, ram / 4);
  CV_ASSERT_EQ(c.max_connections, 1024);
  CV_ASSERT_EQ(c.connection_timeout_s, 60);
  CV_ASSERT_STREQ(c.api_keys_file, "");
  CV_ASSERT_EQ(c.log_format, CV_LOG_FORMAT_TEXT);
  CV_ASSERT_EQ(c.log_level, CV_LOG_INFO);
  CV_ASSERT_EQ(c.drain_timeout_s, 30);
  CV_ASSERT_STREQ(c.config_path, "");
  /* cv_config_defaults alone gives the same values */
  cv_config_t d;
  cv_config_defaults(&d);
  cJSON *a = cv_config_to_json(&c, CV_CONFIG_ALL), *b = cv_config_to_json(&d, CV_CONFIG_ALL);
  CV_ASSERT(cJSON_Compare(a, b, true));
  cJSON_Delete(a);
  cJSON_Delete(b);
  leave_tmp();
}

/* The shipped config/convoyd.json must state exactly the defaults. */
static void test_example_file_is_defaults(void) {
  char path[4096];
  const char *src = __FILE__, *cut = strstr(src, "tests/unit/test_config.c");
  if (src[0] != '/' || !cut) CV_SKIP("source path unknown");
  snprintf(path, sizeof path, "%.*sconfig/convoyd.json", (int)(cut - src), src);
  enter_tmp();
  cv_config_t c, d;
  cv_error_t err;
  int rc = load(&c, path, NULL, NULL, &err);
  if (rc) CV_FAIL_("%s", err.message);
  CV_ASSERT_STREQ(c.config_path, path);
  cv_config_defaults(&d);
  cJSON *a = cv_config_to_json(&c, CV_CONFIG_ALL), *b = cv_config_to_json(&d, CV_CONFIG_ALL);
  CV_ASSERT(cJSON_Compare(a, b, true));
  cJSON_Delete(a);
  cJSON_Delete(b);
  leave_tmp();
}

/* ---- every option from every source ---- */

typedef struct {
  const char *name;
  const char *file_json, *file_want;   /* value as written in the file, and read back */
  const char *env, *env_want;
  const char *flag, *flag_want;
} source_row_t;

static const source_row_t source_rows[] = {
    {"listen", "\"0.0.0.0:9000\"", "\"0.0.0.0:9000\"", "[::1]:8081", "\"[::1]:8081\"", "localhost:0", "\"localhost:0\""},
    {"data_dir", "\"/tmp/a\"", "\"/tmp/a\"", "/tmp/b", "\"/tmp/b\"", "rel/c", "\"rel/c\""},
    {"backend", "\"cpu\"", "\"cpu\"", "cuda", "\"cuda\"", "AUTO", "\"auto\""},
    {"devices", "\"0\"", "\"0\"", "0,1", "\"0,1\"", "3,2", "\"3,2\""},
    {"threads", "3", "3", "5", "5", "1024", "1024"},
    {"max_body_bytes", "\"1GiB\"", "1073741824", "2MB", "2000000", "4096", "4096"},
    {"max_json_bytes", "1048576", "1048576", "1KiB", "1024", "2 MiB", "2097152"},
    {"max_tensor_bytes", "\"1TiB\"", "1099511627776", "3GB", "3000000000", "10b", "10"},
    {"max_queue_jobs", "10", "10", "20", "20", "30", "30"},
    {"max_inflight_bytes", "\"1gib\"", "1073741824", "5MiB", "5242880", "6KiB", "6144"},
    {"max_batch", "2", "2", "3", "3", "4", "4"},
    {"max_batch_delay_us", "0", "0", "1000", "1000", "1000000", "1000000"},
    {"inline_max_bytes", "0", "0", "1MiB", "1048576", "64KiB", "65536"},
    {"wait_s", "0", "0", "1", "1", "3600", "3600"},
    {"result_ttl_s", "\"1\"", "1", "2", "2", "604800", "604800"},
    {"result_store_bytes", "1", "1", "2", "2", "1PiB", "1125899906842624"},
    {"max_connections", "1", "1", "65536", "65536", "100", "100"},
    {"connection_timeout_s", "5", "5", "6", "6", "86400", "86400"},
    {"api_keys_file", "\"/etc/keys\"", "\"/etc/keys\"", "", "\"\"", "k.txt", "\"k.txt\""},
    {"log_format", "\"json\"", "\"json\"", "text", "\"text\"", "JSON", "\"json\""},
    {"log_level", "\"debug\"", "\"debug\"", "error", "\"error\"", "Warn", "\"warn\""},
    {"drain_timeout_s", "0", "0", "10", "10", "3600", "3600"},
    {"device_memory_budget", "\"2GiB\"", "2147483648", "0", "0", "64MiB", "67108864"},
};
_Static_assert(sizeof source_rows / sizeof *source_rows == CV_CONFIG_COUNT, "one row per option");

static void test_every_option_every_source(void) {
  enter_tmp();
  for (size_t r = 0; r < CV_CONFIG_COUNT; r++) {
    const source_row_t *row = &source_rows[r];
    CV_ASSERT_STREQ(row->name, cv_config_name((cv_config_opt_t)r));   /* design.md order */
    char file[128], body[512], env[600], flag[64], flag_eq[600], got[256];
    cv_config_t c;
    cv_error_t err;
    snprintf(file, sizeof file, "%s/c%zu.json", tmp_dir, r);
    snprintf(body, sizeof body, "{\"%s\": %s}", row->name, row->file_json);
    write_file(file, body);
    env_of(row->name, row->env, env, sizeof env);
    flag_of(row->name, flag, sizeof flag);
    snprintf(flag_eq, sizeof flag_eq, "%s=%s", flag, row->flag);
    const char *envp[] = {"CONVOY_BIN=/x", "PATH=/bin", env, NULL};
    const char *args_sep[] = {flag, row->flag, NULL}, *args_eq[] = {flag_eq, NULL};
    struct {
      const char *file;
      const char *const *env, *const *args;
      const char *want;
    } steps[] = {
        {file, NULL, NULL, row->file_want},         /* file over defaults */
        {NULL, envp, NULL, row->env_want},          /* env alone */
        {file, envp, NULL, row->env_want},          /* env over file */
        {NULL, NULL, args_sep, row->flag_want},     /* flag alone, --name value */
        {file, envp, args_sep, row->flag_want},     /* flag over env over file */
        {file, envp, args_eq, row->flag_want},      /* --name=value */
    };
    for (size_t s = 0; s < sizeof steps / sizeof *steps; s++) {
      int rc = load(&c, steps[s].file, steps[s].env, steps[s].args, &err);
      if (rc) CV_FAIL_("row %s step %zu: rc %d: %s", row->name, s, rc, err.message);
      value_json(&c, row->name, got, sizeof got);
      if (strcmp(got, steps[s].want) != 0)
        CV_FAIL_("row %s step %zu: got %s, want %s", row->name, s, got, steps[s].want);
    }
  }
  leave_tmp();
}

/* ---- sizes, booleans, listen, devices ---- */

static void test_sizes(void) {
  static const struct {
    const char *s;
    int ok;
    uint64_t v;
  } rows[] = {
      {"0", 1, 0}, {"512", 1, 512}, {"1KiB", 1, 1024}, {"1kib", 1, 1024}, {"8 GiB", 1, 8ull << 30},
      {"16MiB", 1, 16ull << 20}, {"2TiB", 1, 2ull << 40}, {"1PiB", 1, 1ull << 50}, {"1KB", 1, 1000},
      {"1kB", 1, 1000}, {"5MB", 1, 5000000}, {"2GB", 1, 2000000000}, {"1TB", 1, 1000000000000ull},
      {"3PB", 1, 3000000000000000ull}, {"10B", 1, 10}, {"10b", 1, 10},
      {"18446744073709551615", 1, UINT64_MAX},
      {"", 0, 0}, {"GiB", 0, 0}, {"1.5GiB", 0, 0}, {"1G", 0, 0}, {"1K", 0, 0}, {"1M", 0, 0},
      {"-1", 0, 0}, {"1 ", 0, 0}, {" 1", 0, 0}, {"1XiB", 0, 0}, {"1e3", 0, 0}, {"0x10", 0, 0},
      {"18446744073709551616", 0, 0}, {"17179869184GiB", 0, 0}, {"1GiBs", 0, 0}, {"1 GiB ", 0, 0},
  };
  for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
    uint64_t v = 12345;
    int rc = cv_config_parse_size(rows[i].s, &v);
    if ((rc == 0) != rows[i].ok) CV_FAIL_("row %zu '%s': rc %d", i, rows[i].s, rc);
    if (rows[i].ok && v != rows[i].v) CV_FAIL_("row %zu '%s': %llu", i, rows[i].s, (unsigned long long)v);
    if (!rows[i].ok) CV_ASSERT_EQ(rc, -CV_EINVALID_ARGUMENT);
  }
  CV_ASSERT(cv_config_parse_size(NULL, NULL) != 0);
}

static void test_bools(void) {
  static const struct {
    const char *s;
    int rc, v;
  } rows[] = {{"true", 0, 1}, {"TRUE", 0, 1}, {"yes", 0, 1}, {"on", 0, 1}, {"1", 0, 1},
              {"false", 0, 0}, {"No", 0, 0}, {"off", 0, 0}, {"0", 0, 0},
              {"", -1, 0}, {"2", -1, 0}, {"truee", -1, 0}, {"y", -1, 0}};
  for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
    bool v = !rows[i].v;
    int rc = cv_config_parse_bool(rows[i].s, &v);
    if ((rc == 0) != (rows[i].rc == 0)) CV_FAIL_("row %zu '%s': rc %d", i, rows[i].s, rc);
    if (rc == 0) CV_ASSERT_EQ(v, rows[i].v);
  }
}

static void test_listen_forms(void) {
  static const struct {
    const char *s, *host;
    int port;
  } rows[] = {
      {"127.0.0.1:8080", "127.0.0.1", 8080}, {"[::1]:8080", "::1", 8080}, {"0.0.0.0:0", "0.0.0.0", 0},
      {"localhost:65535", "localhost", 65535}, {"[::]:1", "::", 1}, {"my-host.example:80", "my-host.example", 80},
      {"[fe80::1:2]:443", "fe80::1:2", 443},
      {"localhost", NULL, 0}, {"[::1]8080", NULL, 0}, {"1.2.3.4:65536", NULL, 0}, {"::1:8080", NULL, 0},
      {"[nothex]:80", NULL, 0}, {"999.1.1.1:80", NULL, 0}, {"host:", NULL, 0}, {":80", NULL, 0},
      {"a b:80", NULL, 0}, {"host:8o", NULL, 0}, {"host:-1", NULL, 0}, {"[::1:80", NULL, 0},
      {"host:123456", NULL, 0}, {"[]:80", NULL, 0}, {"", NULL, 0},
  };
  for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
    char host[256] = "";
    int port = -7;
    int rc = cv_config_split_listen(rows[i].s, host, &port);
    if ((rc == 0) != (rows[i].host != NULL)) CV_FAIL_("row %zu '%s': rc %d", i, rows[i].s, rc);
    if (rc == 0) {
      CV_ASSERT_STREQ(host, rows[i].host);
      CV_ASSERT_EQ(port, rows[i].port);
    }
  }
}

static void test_device_lists(void) {
  static const struct {
    const char *s;
    int ok;
    uint64_t mask;
  } rows[] = {{"all", 1, UINT64_MAX}, {"0", 1, 1}, {"0,1", 1, 3}, {"3,2", 1, 12}, {"63", 1, 1ull << 63},
              {"", 0, 0}, {"0,,1", 0, 0}, {"64", 0, 0}, {"1,1", 0, 0}, {"x", 0, 0}, {"all,0", 0, 0},
              {"0,", 0, 0}, {",0", 0, 0}, {"0 ,1", 0, 0}, {"-1", 0, 0}, {"ALL", 0, 0}, {"007", 0, 0}};
  for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
    uint64_t m = 0;
    int rc = cv_config_device_mask(rows[i].s, &m);
    if ((rc == 0) != rows[i].ok) CV_FAIL_("row %zu '%s': rc %d", i, rows[i].s, rc);
    if (rc == 0 && m != rows[i].mask) CV_FAIL_("row %zu '%s': mask %llx", i, rows[i].s, (unsigned long long)m);
  }
}

/* ---- bad values: rc, field and the one-line message ---- */

typedef enum { FROM_FLAG, FROM_ENV, FROM_FILE } from_t;

typedef struct {
  from_t from;
  const char *name, *value;   /* FROM_FILE: the JSON text of the value */
  const char *field, *msg;    /* msg: the whole message after the source prefix */
} bad_row_t;

static const bad_row_t bad_rows[] = {
    {FROM_FLAG, "max_batch", "0", "max_batch", "0 is below the minimum 1"},
    {FROM_FLAG, "max_batch", "4097", "max_batch", "4097 is above the maximum 4096"},
    {FROM_FLAG, "max_batch", "many", "max_batch", "'many' is not an integer"},
    {FROM_FLAG, "wait_s", "-1", "wait_s", "-1 is below the minimum 0"},
    {FROM_FLAG, "wait_s", "99999999999999999999", "wait_s", "99999999999999999999 is above the maximum 3600"},
    {FROM_FLAG, "wait_s", "-99999999999999999999", "wait_s", "-99999999999999999999 is below the minimum 0"},
    {FROM_FLAG, "threads", "1.5", "threads", "'1.5' is not an integer"},
    {FROM_FLAG, "threads", "", "threads", "'' is not an integer"},
    {FROM_FLAG, "max_json_bytes", "5GiB", "max_json_bytes", "5GiB is above the maximum 4GiB"},
    {FROM_FLAG, "max_json_bytes", "0", "max_json_bytes", "0 is below the minimum 1"},
    {FROM_FLAG, "max_body_bytes", "8G", "max_body_bytes",
     "'8G' is not a size (bytes, or a number with KiB/MiB/GiB/TiB/PiB, or KB/MB/GB/TB/PB for powers of 1000)"},
    {FROM_FLAG, "max_body_bytes", "99999999999999999999", "max_body_bytes", "99999999999999999999 is above the maximum 1PiB"},
    {FROM_FLAG, "backend", "gpu", "backend", "'gpu' is not one of auto, cpu, cuda"},
    {FROM_FLAG, "listen", "localhost", "listen",
     "'localhost' is not host:port with a port 0..65535 (e.g. 127.0.0.1:8080, [::1]:8080)"},
    {FROM_FLAG, "listen", "1.2.3.4:65536", "listen",
     "'1.2.3.4:65536' is not host:port with a port 0..65535 (e.g. 127.0.0.1:8080, [::1]:8080)"},
    {FROM_FLAG, "listen", "", "listen", "must not be empty"},
    {FROM_FLAG, "devices", "0,,1", "devices", "'0,,1' is not 'all' or a comma list of distinct device ids 0..63"},
    {FROM_FLAG, "data_dir", "", "data_dir", "must not be empty"},
    {FROM_FLAG, "data_dir", "a\nb", "data_dir", "'a?b' contains a control character"},
    {FROM_ENV, "threads", "abc", "threads", "'abc' is not an integer"},
    {FROM_ENV, "threads", "0", "threads", "0 is below the minimum 1"},
    {FROM_ENV, "log_format", "xml", "log_format", "'xml' is not one of text, json"},
    {FROM_ENV, "result_ttl_s", "604801", "result_ttl_s", "604801 is above the maximum 604800"},
    {FROM_ENV, "listen", "[::1]8080", "listen",
     "'[::1]8080' is not host:port with a port 0..65535 (e.g. 127.0.0.1:8080, [::1]:8080)"},
    {FROM_ENV, "max_inflight_bytes", "lots", "max_inflight_bytes",
     "'lots' is not a size (bytes, or a number with KiB/MiB/GiB/TiB/PiB, or KB/MB/GB/TB/PB for powers of 1000)"},
    {FROM_FILE, "log_level", "\"loud\"", "log_level", "'loud' is not one of error, warn, info, debug"},
    {FROM_FILE, "threads", "1.5", "threads", "1.5 is not an integer"},
    {FROM_FILE, "threads", "\"x\"", "threads", "'x' is not an integer"},
    {FROM_FILE, "threads", "true", "threads", "expected an integer"},
    {FROM_FILE, "threads", "null", "threads", "expected an integer"},
    {FROM_FILE, "threads", "-2", "threads", "-2 is below the minimum 1"},
    {FROM_FILE, "listen", "8080", "listen", "expected a string"},
    {FROM_FILE, "log_level", "[\"info\"]", "log_level", "expected a string"},
    {FROM_FILE, "max_body_bytes", "\"2PiB\"", "max_body_bytes", "2PiB is above the maximum 1PiB"},
    {FROM_FILE, "max_body_bytes", "1e300", "max_body_bytes", NULL},   /* above the maximum; long echo */
    {FROM_FILE, "max_body_bytes", "{}", "max_body_bytes",
     "expected a size (a number of bytes or a string such as \"8GiB\")"},
    {FROM_FILE, "max_connections", "0", "max_connections", "0 is below the minimum 1"},
};

static void test_bad_values(void) {
  enter_tmp();
  char long_dir[5000];
  memset(long_dir, 'd', sizeof long_dir - 1);
  long_dir[sizeof long_dir - 1] = '\0';
  for (size_t r = 0; r < sizeof bad_rows / sizeof *bad_rows + 1; r++) {
    bad_row_t row = r < sizeof bad_rows / sizeof *bad_rows
                        ? bad_rows[r]
                        : (bad_row_t){FROM_FLAG, "data_dir", long_dir, "data_dir", "is longer than 4095 bytes"};
    char file[128], body[5200], env[5100], flag[64], want[600];
    const char *envp[] = {env, NULL}, *args[] = {flag, row.value, NULL};
    cv_config_t c;
    cv_error_t err;
    int rc;
    flag_of(row.name, flag, sizeof flag);
    if (row.from == FROM_FLAG) {
      rc = load(&c, NULL, NULL, args, &err);
      snprintf(want, sizeof want, "%s: %s", flag, row.msg);
    } else if (row.from == FROM_ENV) {
      env_of(row.name, row.value, env, sizeof env);
      rc = load(&c, NULL, envp, NULL, &err);
      snprintf(want, sizeof want, "%.*s: %s", (int)strcspn(env, "="), env, row.msg);
    } else {
      snprintf(file, sizeof file, "%s/bad%zu.json", tmp_dir, r);
      snprintf(body, sizeof body, "{\"max_batch\": 3, \"%s\": %s}", row.name, row.value);
      write_file(file, body);
      rc = load(&c, file, NULL, NULL, &err);
      snprintf(want, sizeof want, "%s: %s: %s", file, row.name, row.msg ? row.msg : "");
    }
    if (rc != -CV_EINVALID_ARGUMENT) CV_FAIL_("row %zu (%s=%s): rc %d", r, row.name, row.value, rc);
    if (strcmp(err.field, row.field) != 0) CV_FAIL_("row %zu: field '%s' want '%s'", r, err.field, row.field);
    if (strchr(err.message, '\n')) CV_FAIL_("row %zu: message has a newline: %s", r, err.message);
    if (row.msg && strcmp(err.message, want) != 0)
      CV_FAIL_("row %zu:\n#  got  %s\n#  want %s", r, err.message, want);
    if (!row.msg && !strstr(err.message, "is above the maximum 1PiB"))
      CV_FAIL_("row %zu: %s", r, err.message);
  }
  leave_tmp();
}

/* Every int and size option: min and max pass, one below / above fails. */
static void test_bounds(void) {
  static const struct {
    const char *name;
    uint64_t min, max;
  } rows[] = {
      {"threads", 1, 1024}, {"max_body_bytes", 1, 1ull << 50}, {"max_json_bytes", 1, 4ull << 30},
      {"max_tensor_bytes", 1, 1ull << 50}, {"max_queue_jobs", 1, 1048576},
      {"max_inflight_bytes", 1, 1ull << 50}, {"max_batch", 1, 4096}, {"max_batch_delay_us", 0, 1000000},
      {"wait_s", 0, 3600}, {"result_ttl_s", 1, 604800}, {"result_store_bytes", 1, 1ull << 50},
      {"max_connections", 1, 65536}, {"connection_timeout_s", 1, 86400}, {"drain_timeout_s", 0, 3600},
      /* device_memory_budget (0..1PiB): its min is 0, so "−1" is a parse error, not "below the minimum" */
  };
  enter_tmp();
  for (size_t r = 0; r < sizeof rows / sizeof *rows; r++) {
    char arg[128], got[64], want[64];
    const char *args[] = {arg, NULL};
    cv_config_t c;
    cv_error_t err;
    struct {
      long long v;
      bool ok;
    } tries[] = {{(long long)rows[r].min, true}, {(long long)rows[r].max, true},
                 {(long long)rows[r].min - 1, false}, {(long long)rows[r].max + 1, false}};
    char flag[64];
    flag_of(rows[r].name, flag, sizeof flag);
    for (int t = 0; t < 4; t++) {
      snprintf(arg, sizeof arg, "%s=%lld", flag, tries[t].v);
      int rc = load(&c, NULL, NULL, args, &err);
      if ((rc == 0) != tries[t].ok) CV_FAIL_("%s: rc %d (%s)", arg, rc, err.message);
      if (rc == 0) {
        value_json(&c, rows[r].name, got, sizeof got);
        snprintf(want, sizeof want, "%lld", tries[t].v);
        CV_ASSERT_STREQ(got, want);
      } else {
        CV_ASSERT_STREQ(err.field, rows[r].name);
        CV_ASSERT(strstr(err.message, t == 2 ? "below the minimum" : "above the maximum") != NULL);
      }
    }
  }
  leave_tmp();
}

/* ---- unknown keys and flags, --config, env ---- */

static void expect_fail(int rc, const cv_error_t *err, const char *field, const char *msg) {
  if (rc != -CV_EINVALID_ARGUMENT) CV_FAIL_("rc %d, want invalid_argument (%s)", rc, msg);
  CV_ASSERT_STREQ(err->field, field);
  if (!strstr(err->message, msg)) CV_FAIL_("message '%s' lacks '%s'", err->message, msg);
  CV_ASSERT(strchr(err->message, '\n') == NULL);
}

static void test_unknown_and_malformed(void) {
  enter_tmp();
  cv_config_t c;
  cv_error_t err;
  const char *a1[] = {"--bogus", "1", NULL}, *a2[] = {"--max_batch", "3", NULL},
             *a3[] = {"stray", NULL}, *a4[] = {"--max-batch", NULL}, *a5[] = {"-x", NULL},
             *a6[] = {"--", NULL}, *a7[] = {"--config", NULL};
  expect_fail(load(&c, NULL, NULL, a1, &err), &err, "--bogus", "--bogus: unknown flag");
  expect_fail(load(&c, NULL, NULL, a2, &err), &err, "--max_batch", "did you mean --max-batch?");
  expect_fail(load(&c, NULL, NULL, a3, &err), &err, "stray", "unexpected argument 'stray'");
  expect_fail(load(&c, NULL, NULL, a4, &err), &err, "max_batch", "--max-batch: missing value");
  expect_fail(load(&c, NULL, NULL, a5, &err), &err, "-x", "unexpected argument");
  expect_fail(load(&c, NULL, NULL, a6, &err), &err, "--", "unexpected argument");
  expect_fail(load(&c, NULL, NULL, a7, &err), &err, "config", "--config: missing value");

  static const struct {
    const char *body, *field, *msg;
  } files[] = {
      {"{\"bogus\": 1}", "bogus", "bogus: unknown option"},
      {"{\"max-batch\": 1}", "max-batch", "unknown option (did you mean max_batch?)"},
      {"{\"max_batch\": 2, \"max_batch\": 3}", "max_batch", "max_batch: given twice"},
      {"{\"max_batch\": 2,}", "config", "not valid JSON (at byte"},
      {"", "config", "not valid JSON"},
      {"{} {}", "config", "text after the JSON object (at byte 2)"},
      {"[1]", "config", "must be a JSON object"},
      {"\"x\"", "config", "must be a JSON object"},
  };
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    char path[128];
    snprintf(path, sizeof path, "%s/u%zu.json", tmp_dir, i);
    write_file(path, files[i].body);
    expect_fail(load(&c, path, NULL, NULL, &err), &err, files[i].field, files[i].msg);
    CV_ASSERT(strncmp(err.message, path, strlen(path)) == 0);   /* names the file */
  }
  /* comment keys, whitespace after the object, an empty object */
  char path[128];
  snprintf(path, sizeof path, "%s/ok.json", tmp_dir);
  write_file(path, "{\"//\": \"note\", \"//max_batch\": 1, \"max_batch\": 9}\n\n");
  CV_ASSERT_OK(load(&c, path, NULL, NULL, &err));
  CV_ASSERT_EQ(c.max_batch, 9);
  write_file(path, "{}");
  CV_ASSERT_OK(load(&c, path, NULL, NULL, &err));
  CV_ASSERT_EQ(c.max_batch, 64);

  /* unknown CONVOY_ variables are ignored; a known one with a bad value is not */
  const char *env_ok[] = {"CONVOY_BOGUS=1", "CONVOY_SOURCE_DIR=/x", "CONVOY_max_batch=0", "CONVOY_=1",
                          "CONVOY_MAX_BATCH", "MAX_BATCH=0", "CONVOY_MAX_BATCH=12", NULL};
  CV_ASSERT_OK(load(&c, NULL, env_ok, NULL, &err));
  CV_ASSERT_EQ(c.max_batch, 12);
  const char *env_bad[] = {"CONVOY_BOGUS=1", "CONVOY_MAX_BATCH=0", NULL};
  expect_fail(load(&c, NULL, env_bad, NULL, &err), &err, "max_batch", "CONVOY_MAX_BATCH: 0 is below the minimum 1");
  leave_tmp();
}

static void test_config_file_choice(void) {
  enter_tmp();
  cv_config_t c;
  cv_error_t err;
  /* --config must exist */
  expect_fail(load(&c, "/nonexistent/convoyd.json", NULL, NULL, &err), &err, "config",
              "--config: cannot open '/nonexistent/convoyd.json': No such file or directory");
  const char *env_cfg[] = {"CONVOY_CONFIG=/nonexistent/c.json", NULL};
  expect_fail(load(&c, NULL, env_cfg, NULL, &err), &err, "config", "CONVOY_CONFIG: cannot open");
  /* no default file: defaults, no path */
  CV_ASSERT_OK(load(&c, NULL, NULL, NULL, &err));
  CV_ASSERT_STREQ(c.config_path, "");
  /* config/convoyd.json in the working dir is read when present */
  CV_ASSERT(mkdir("config", 0700) == 0);
  write_file(CV_CONFIG_DEFAULT_FILE, "{\"max_batch\": 7, \"wait_s\": 8}");
  CV_ASSERT_OK(load(&c, NULL, NULL, NULL, &err));
  CV_ASSERT_EQ(c.max_batch, 7);
  CV_ASSERT_STREQ(c.config_path, CV_CONFIG_DEFAULT_FILE);
  /* --config replaces it (not layered on it); CONVOY_CONFIG too; --config beats CONVOY_CONFIG */
  write_file("other.json", "{\"max_batch\": 5}");
  write_file("env.json", "{\"max_batch\": 6}");
  CV_ASSERT_OK(load(&c, "other.json", NULL, NULL, &err));
  CV_ASSERT_EQ(c.max_batch, 5);
  CV_ASSERT_EQ(c.wait_s, 30);
  const char *env_file[] = {"CONVOY_CONFIG=env.json", NULL};
  CV_ASSERT_OK(load(&c, NULL, env_file, NULL, &err));
  CV_ASSERT_EQ(c.max_batch, 6);
  CV_ASSERT_STREQ(c.config_path, "env.json");
  CV_ASSERT_OK(load(&c, "other.json", env_file, NULL, &err));
  CV_ASSERT_EQ(c.max_batch, 5);
  const char *a[] = {"--config=env.json", NULL};
  CV_ASSERT_OK(load(&c, NULL, NULL, a, &err));
  CV_ASSERT_EQ(c.max_batch, 6);
  /* a bad default file stops start-up too, naming the file */
  write_file(CV_CONFIG_DEFAULT_FILE, "{\"wait_s\": \"soon\"}");
  expect_fail(load(&c, NULL, NULL, NULL, &err), &err, "wait_s", "config/convoyd.json: wait_s: 'soon' is not an integer");
  leave_tmp();
}

/* ---- --help and --version ---- */

static void test_help_and_version(void) {
  enter_tmp();
  cv_config_t c;
  cv_error_t err;
  char *argv[] = {(char *)"convoyd", (char *)"--max-batch", (char *)"0", (char *)"--help", NULL};
  FILE *f = tmpfile();
  CV_ASSERT(f != NULL);
  CV_ASSERT_EQ(cv_config_load(&c, 4, argv, NULL, f, &err), 1);   /* help wins over a bad value */
  rewind(f);
  char line[1024];
  int rows = 0, seen[CV_CONFIG_COUNT] = {0};
  while (fgets(line, sizeof line, f)) {
    for (int i = 0; i < CV_CONFIG_COUNT; i++) {
      const char *name = cv_config_name((cv_config_opt_t)i);
      size_t n = strlen(name);
      if (strncmp(line, name, n) != 0 || line[n] != ' ') continue;
      char flag[64], env[128];
      flag_of(name, flag, sizeof flag);
      env_of(name, "", env, sizeof env);
      env[strlen(env) - 1] = '\0';   /* drop '=' */
      if (!strstr(line, flag) || !strstr(line, env)) CV_FAIL_("help row lacks flag/env: %s", line);
      if (!strstr(line, cv_config_reloadable((cv_config_opt_t)i) ? "  yes  " : "  no  "))
        CV_FAIL_("help row lacks reload column: %s", line);
      seen[i]++;
      rows++;
    }
  }
  fclose(f);
  CV_ASSERT_EQ(rows, CV_CONFIG_COUNT);
  for (int i = 0; i < CV_CONFIG_COUNT; i++) CV_ASSERT_EQ(seen[i], 1);

  f = tmpfile();
  char *argv2[] = {(char *)"convoyd", (char *)"--version", NULL};
  CV_ASSERT_EQ(cv_config_load(&c, 2, argv2, NULL, f, &err), 1);
  rewind(f);
  CV_ASSERT(fgets(line, sizeof line, f) != NULL);
  CV_ASSERT(strncmp(line, "convoyd ", 8) == 0 && strstr(line, cv_config_version()));
  CV_ASSERT(strlen(cv_config_version()) >= 5);
  fclose(f);
  /* a flag's value that looks like --help is a value, not a request for help */
  char *argv3[] = {(char *)"convoyd", (char *)"--data-dir", (char *)"--help", NULL};
  CV_ASSERT_OK(cv_config_load(&c, 3, argv3, NULL, NULL, &err));
  CV_ASSERT_STREQ(c.data_dir, "--help");
  leave_tmp();
}

/* ---- reload ---- */

static void test_reload(void) {
  enter_tmp();
  cv_config_t c;
  cv_error_t err;
  uint32_t restart = 99;
  write_file("c.json", "{\"log_level\": \"info\", \"data_dir\": \"a\", \"max_batch\": 8, \"wait_s\": 1}");
  const char *args[] = {"--wait-s", "5", NULL}, *env[] = {"CONVOY_RESULT_TTL_S=100", NULL};
  CV_ASSERT_OK(load(&c, "c.json", env, args, &err));
  CV_ASSERT_EQ(c.wait_s, 5);
  char *argv[] = {(char *)"convoyd", (char *)"--config", (char *)"c.json", (char *)"--wait-s", (char *)"5", NULL};
  /* nothing changed */
  CV_ASSERT_EQ(cv_config_reload(&c, 5, argv, (char **)env, &restart, &err), 0);
  CV_ASSERT_EQ(restart, 0);
  /* the file changes reloadable and non-reloadable options and a flagged one */
  write_file("c.json", "{\"log_level\": \"debug\", \"data_dir\": \"b\", \"max_batch\": 8, \"wait_s\": 10,"
                       " \"api_keys_file\": \"keys\", \"max_connections\": 7}");
  const char *env2[] = {"CONVOY_RESULT_TTL_S=200", "CONVOY_MAX_BATCH_DELAY_US=9", NULL};
  int mask = cv_config_reload(&c, 5, argv, (char **)env2, &restart, &err);
  CV_ASSERT_EQ(mask, CV_CONFIG_BIT(LOG_LEVEL) | CV_CONFIG_BIT(API_KEYS_FILE) | CV_CONFIG_BIT(RESULT_TTL_S) |
                         CV_CONFIG_BIT(MAX_BATCH_DELAY_US));
  CV_ASSERT_EQ(restart, CV_CONFIG_BIT(DATA_DIR) | CV_CONFIG_BIT(MAX_CONNECTIONS));
  CV_ASSERT_EQ(c.log_level, CV_LOG_DEBUG);
  CV_ASSERT_STREQ(c.api_keys_file, "keys");
  CV_ASSERT_EQ(c.result_ttl_s, 200);
  CV_ASSERT_EQ(c.max_batch_delay_us, 9);
  CV_ASSERT_EQ(c.wait_s, 5);              /* the flag still wins */
  CV_ASSERT_STREQ(c.data_dir, "a");       /* needs a restart: kept */
  CV_ASSERT_EQ(c.max_connections, 1024);
  /* every reloadable option is reloadable, the others are not (design.md §5;
   * inline_max_bytes is ours and reloads with the batching knobs) */
  uint32_t want = CV_CONFIG_BIT(LOG_LEVEL) | CV_CONFIG_BIT(API_KEYS_FILE) | CV_CONFIG_BIT(MAX_BATCH) |
                  CV_CONFIG_BIT(MAX_BATCH_DELAY_US) | CV_CONFIG_BIT(WAIT_S) | CV_CONFIG_BIT(RESULT_TTL_S) |
                  CV_CONFIG_BIT(INLINE_MAX_BYTES);
  for (int i = 0; i < CV_CONFIG_COUNT; i++)
    CV_ASSERT_EQ(cv_config_reloadable((cv_config_opt_t)i), (want >> i) & 1);
  /* a broken file: error, nothing applied */
  write_file("c.json", "{\"log_level\": \"error\", \"max_batch\": 0}");
  cv_config_t before = c;
  int rc = cv_config_reload(&c, 5, argv, (char **)env2, &restart, &err);
  CV_ASSERT_EQ(rc, -CV_EINVALID_ARGUMENT);
  CV_ASSERT_STREQ(err.field, "max_batch");
  CV_ASSERT(memcmp(&before, &c, sizeof c) == 0);
  /* a shorter string after a longer one compares equal to itself (no stale bytes) */
  write_file("c.json", "{\"api_keys_file\": \"k\"}");
  CV_ASSERT(cv_config_reload(&c, 5, argv, (char **)env2, NULL, &err) & CV_CONFIG_BIT(API_KEYS_FILE));
  CV_ASSERT_STREQ(c.api_keys_file, "k");
  CV_ASSERT_EQ(cv_config_reload(&c, 5, argv, (char **)env2, NULL, &err) & CV_CONFIG_BIT(API_KEYS_FILE), 0);
  leave_tmp();
}

/* ---- JSON view ---- */

static void test_to_json(void) {
  cv_config_t c;
  cv_config_defaults(&c);
  cJSON *o = cv_config_to_json(&c, CV_CONFIG_ALL);
  CV_ASSERT(o != NULL);
  CV_ASSERT_EQ(cJSON_GetArraySize(o), CV_CONFIG_COUNT);
  int i = 0;
  for (cJSON *it = o->child; it; it = it->next, i++) CV_ASSERT_STREQ(it->string, cv_config_name((cv_config_opt_t)i));
  CV_ASSERT_STREQ(cJSON_GetObjectItem(o, "log_level")->valuestring, "info");
  CV_ASSERT_STREQ(cJSON_GetObjectItem(o, "backend")->valuestring, "auto");
  CV_ASSERT_EQ(cJSON_GetObjectItem(o, "max_body_bytes")->valuedouble, 8589934592.0);
  cJSON_Delete(o);
  o = cv_config_to_json(&c, CV_CONFIG_BIT(MAX_BATCH) | CV_CONFIG_BIT(WAIT_S));
  CV_ASSERT_EQ(cJSON_GetArraySize(o), 2);
  CV_ASSERT_EQ(cJSON_GetObjectItem(o, "max_batch")->valueint, 64);
  cJSON_Delete(o);
  CV_ASSERT(cv_config_name(CV_CONFIG_COUNT) == NULL);
}

/* ---- the machine ---- */

static void mkdirs(const char *path) {
  char p[512];
  snprintf(p, sizeof p, "%s", path);
  for (char *s = p + 1; *s; s++)
    if (*s == '/') {
      *s = '\0';
      mkdir(p, 0700);
      *s = '/';
    }
  mkdir(p, 0700);
}

static void put(const char *root, const char *rel, const char *text) {
  char p[512], d[512];
  snprintf(p, sizeof p, "%s%s", root, rel);
  snprintf(d, sizeof d, "%s", p);
  *strrchr(d, '/') = '\0';
  mkdirs(d);
  write_file(p, text);
}

static void test_memory_cgroups(void) {
  enter_tmp();
  uint64_t phys = cv_config_memory_bytes("/nonexistent-root");   /* no cgroup files: physical */
  CV_ASSERT(phys > 0);
  if (phys < 4 * CV_GIB) CV_SKIP("needs more than 4 GiB of RAM to see the limits");
  char r[256];
  /* v2: the leaf has no limit ("max"), its parent 1 GiB */
  snprintf(r, sizeof r, "%s/v2", tmp_dir);
  put(r, "/proc/self/cgroup", "0::/a/b\n");
  put(r, "/sys/fs/cgroup/a/b/memory.max", "max\n");
  put(r, "/sys/fs/cgroup/a/memory.max", "1073741824\n");
  CV_ASSERT_EQ(cv_config_memory_bytes(r), CV_GIB);
  /* v2: the leaf is tighter than the parent */
  put(r, "/sys/fs/cgroup/a/b/memory.max", "536870912\n");
  CV_ASSERT_EQ(cv_config_memory_bytes(r), 512 * CV_MIB);
  /* v1 memory controller, with the kernel's "unlimited" at the root */
  snprintf(r, sizeof r, "%s/v1", tmp_dir);
  put(r, "/proc/self/cgroup", "5:cpu,cpuacct:/x\n4:memory:/x/y\n0::/\n");
  put(r, "/sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n");
  put(r, "/sys/fs/cgroup/memory/x/y/memory.limit_in_bytes", "805306368\n");
  CV_ASSERT_EQ(cv_config_memory_bytes(r), 768 * CV_MIB);
  /* v1 unlimited everywhere: physical */
  put(r, "/sys/fs/cgroup/memory/x/y/memory.limit_in_bytes", "9223372036854771712\n");
  CV_ASSERT_EQ(cv_config_memory_bytes(r), phys);
  /* hybrid: cgroup2 under /sys/fs/cgroup/unified */
  snprintf(r, sizeof r, "%s/hy", tmp_dir);
  put(r, "/proc/self/cgroup", "1:name=systemd:/s\n0::/s\n");
  put(r, "/sys/fs/cgroup/unified/s/memory.max", "2147483648\n");
  CV_ASSERT_EQ(cv_config_memory_bytes(r), 2 * CV_GIB);
  /* a path outside our cgroup namespace: only the root's limit counts */
  snprintf(r, sizeof r, "%s/ns", tmp_dir);
  put(r, "/proc/self/cgroup", "0::/../../elsewhere\n");
  put(r, "/sys/fs/cgroup/memory.max", "3221225472\n");
  CV_ASSERT_EQ(cv_config_memory_bytes(r), 3 * CV_GIB);
  CV_ASSERT(cv_config_cores() >= 1);
  leave_tmp();
}

#define CV_TEST_LIST(XX)                                                                        \
  XX(defaults) XX(example_file_is_defaults) XX(every_option_every_source) XX(sizes) XX(bools)  \
  XX(listen_forms) XX(device_lists) XX(bad_values) XX(bounds) XX(unknown_and_malformed)        \
  XX(config_file_choice) XX(help_and_version) XX(reload) XX(to_json) XX(memory_cgroups)
CV_TEST_MAIN(CV_TEST_LIST)
