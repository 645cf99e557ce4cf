/* config.c — the loader for CV_CONFIG_MAP: one descriptor per row (offset,
 * type, limits), and generic code over the descriptors for defaults, value
 * parsing and validation, the JSON file, CONVOY_* variables, flags, SIGHUP
 * reload, --help and the JSON view (value forms and machine probes: values.c).
 * Called by main before threads start, and by the reload thread. */
#include "config.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#ifndef CONVOY_VERSION
#define CONVOY_VERSION "0.0.0-dev"
#endif

#define ENV_PREFIX "CONVOY_"
#define ENV_CONFIG "CONVOY_CONFIG"
#define ECHO_MAX 64   /* longest value quoted back in an error message */

/* ---- the descriptor table, generated from CV_CONFIG_MAP ---- */

typedef enum { T_STRING, T_ENUM, T_INT, T_SIZE, T_BOOL, T_COUNT } otype_t;

static const char *const type_names[] = {"string", "enum", "int", "size", "bool"};
static_assert(sizeof type_names / sizeof *type_names == T_COUNT, "one name per type");

typedef struct {
  const char *name, *env, *def, *help;
  otype_t type;
  size_t off, size;
  const char *const *names;   /* ENUM: value names, index = enum value */
  int n_names;
  uint64_t min, max;          /* INT, SIZE: value; STRING: length */
  bool reload;
  int (*check)(const char *v, char *why, size_t n);   /* STRING: format, 0 or -1 + why */
} opt_t;

#define XX(uc, lc) #lc,
static const char *const names_backend_kind[] = {CV_BACKEND_KIND_MAP(XX)};
static const char *const names_log_format[] = {CV_LOG_FORMAT_MAP(XX)};
#undef XX
#define XX(uc, lc, tag) #lc,
static const char *const names_log_level[] = {CV_LOG_LEVEL_MAP(XX)};
#undef XX
static_assert(sizeof names_backend_kind / sizeof *names_backend_kind == CV_BACKEND_KIND_COUNT, "");
static_assert(sizeof names_log_format / sizeof *names_log_format == CV_LOG_FORMAT_COUNT, "");
static_assert(sizeof names_log_level / sizeof *names_log_level == CV_LOG_LEVEL_COUNT, "");
static_assert(sizeof(cv_backend_kind_t) == sizeof(int) && sizeof(cv_log_level_t) == sizeof(int) &&
                  sizeof(cv_log_format_t) == sizeof(int), "enum fields are stored as int");
static_assert(CV_CONFIG_COUNT <= 31, "option masks are 32-bit");

static int check_listen(const char *v, char *why, size_t n);
static int check_devices(const char *v, char *why, size_t n);

#define NAMES_STRING(arg) NULL, 0
#define NAMES_INT(arg) NULL, 0
#define NAMES_SIZE(arg) NULL, 0
#define NAMES_BOOL(arg) NULL, 0
#define NAMES_ENUM(arg) names_##arg, (int)(sizeof names_##arg / sizeof *names_##arg)

static const opt_t opts[CV_CONFIG_COUNT] = {
#define XX(uc, name, type, arg, def, min, max, reload, check, help)                               \
  {#name, ENV_PREFIX #uc, def, help, T_##type, offsetof(cv_config_t, name),                         \
   sizeof(((cv_config_t *)0)->name), NAMES_##type(arg), (uint64_t)(min), (uint64_t)(max), reload, \
   check},
    CV_CONFIG_MAP(XX)
#undef XX
};

const char *cv_config_version(void) { return CONVOY_VERSION; }

const char *cv_config_name(cv_config_opt_t o) {
  return (unsigned)o < CV_CONFIG_COUNT ? opts[o].name : NULL;
}

bool cv_config_reloadable(cv_config_opt_t o) { return (unsigned)o < CV_CONFIG_COUNT && opts[o].reload; }

/* ---- scalar parsing ---- */

static const struct {
  const char *unit;
  uint64_t mult;
} size_units[] = {
    {"", 1},         {"b", 1},          {"kib", CV_KIB},     {"mib", CV_MIB},
    {"gib", CV_GIB}, {"tib", CV_TIB},   {"pib", CV_PIB},     {"kb", 1000ull},
    {"mb", 1000000ull}, {"gb", 1000000000ull}, {"tb", 1000000000000ull}, {"pb", 1000000000000000ull},
};

/* 0, -1 (not a size) or -2 (does not fit 64 bits). */
static int size_parse(const char *s, uint64_t *out) {
  uint64_t v = 0;
  const char *p = s;
  for (; *p >= '0' && *p <= '9'; p++) {
    unsigned d = (unsigned)(*p - '0');
    if (v > (UINT64_MAX - d) / 10) return -2;
    v = v * 10 + d;
  }
  if (p == s) return -1;
  if (*p == ' ' && !*(p += strspn(p, " "))) return -1;   /* a space only before a unit */
  for (size_t i = 0; i < sizeof size_units / sizeof *size_units; i++)
    if (strcasecmp(p, size_units[i].unit) == 0) {
      if (v > UINT64_MAX / size_units[i].mult) return -2;
      *out = v * size_units[i].mult;
      return 0;
    }
  return -1;
}

int cv_config_parse_size(const char *s, uint64_t *out) {
  return s && out && size_parse(s, out) == 0 ? 0 : -CV_EINVALID_ARGUMENT;
}

/* 0, -1 (not an integer) or -2 (outside int64). */
static int int_parse(const char *s, int64_t *out) {
  bool neg = *s == '-';
  const char *p = s + (*s == '-' || *s == '+');
  uint64_t v = 0;
  if (!*p) return -1;
  for (; *p; p++) {
    if (*p < '0' || *p > '9') return -1;
    if (v > (UINT64_MAX - 9) / 10) return -2;
    v = v * 10 + (unsigned)(*p - '0');
  }
  if (v > (uint64_t)INT64_MAX + neg) return -2;
  *out = neg ? (int64_t)(0 - v) : (int64_t)v;
  return 0;
}

/* Exact form for limits and defaults: "8GiB", "16MiB", "1000". */
static void fmt_size(uint64_t v, char *out, size_t n) {
  static const char *const u[] = {"PiB", "TiB", "GiB", "MiB", "KiB"};
  static const uint64_t m[] = {CV_PIB, CV_TIB, CV_GIB, CV_MIB, CV_KIB};
  for (int i = 0; i < 5; i++)
    if (v && v % m[i] == 0) {
      snprintf(out, n, "%llu%s", (unsigned long long)(v / m[i]), u[i]);
      return;
    }
  snprintf(out, n, "%llu", (unsigned long long)v);
}

/* A value as quoted back in messages: at most ECHO_MAX bytes, no controls. */
static void echo(const char *v, char *out, size_t n) {
  size_t i = 0;
  for (; v[i] && i < ECHO_MAX && i + 4 < n; i++) out[i] = (unsigned char)v[i] < 0x20 ? '?' : v[i];
  snprintf(out + i, n - i, "%s", v[i] ? "..." : "");
}

/* ---- string formats ---- */

static int check_listen(const char *v, char *why, size_t n) {
  char host[256];
  int port;
  if (cv_config_split_listen(v, host, &port) == 0) return 0;
  snprintf(why, n, "is not host:port with a port 0..65535 (e.g. 127.0.0.1:8080, [::1]:8080)");
  return -1;
}

static int check_devices(const char *v, char *why, size_t n) {
  uint64_t m;
  if (cv_config_device_mask(v, &m) == 0) return 0;
  snprintf(why, n, "is not 'all' or a comma list of distinct device ids 0..63");
  return -1;
}

/* ---- one value: parse, check, store ---- */

typedef union {
  int64_t i;
  uint64_t u;
  bool b;
  int e;
  const char *s;
} val_t;

/* Parses text for o into *v, or writes the reason ("'loud' is not one of …")
 * to why and returns -1. */
static int parse_value(const opt_t *o, const char *text, val_t *v, char *why, size_t n) {
  char e[ECHO_MAX + 8], lim[32];
  int rc;
  echo(text, e, sizeof e);
  switch (o->type) {
    case T_STRING: {
      size_t len = strlen(text);
      if (len < o->min) return snprintf(why, n, "must not be empty"), -1;
      if (len > o->max) return snprintf(why, n, "is longer than %llu bytes", (unsigned long long)o->max), -1;
      for (size_t i = 0; i < len; i++)
        if ((unsigned char)text[i] < 0x20 || text[i] == 0x7F)
          return snprintf(why, n, "'%s' contains a control character", e), -1;
      char w[160];
      if (o->check && o->check(text, w, sizeof w) != 0) return snprintf(why, n, "'%s' %s", e, w), -1;
      v->s = text;
      return 0;
    }
    case T_ENUM: {
      for (int i = 0; i < o->n_names; i++)
        if (strcasecmp(text, o->names[i]) == 0) return v->e = i, 0;
      int k = snprintf(why, n, "'%s' is not one of", e);
      for (int i = 0; i < o->n_names && k > 0 && (size_t)k < n; i++)
        k += snprintf(why + k, n - (size_t)k, "%s %s", i ? "," : "", o->names[i]);
      return -1;
    }
    case T_INT:
      rc = int_parse(text, &v->i);
      if (rc == -1) return snprintf(why, n, "'%s' is not an integer", e), -1;
      if (rc == -2 && text[0] == '-')
        return snprintf(why, n, "%s is below the minimum %llu", e, (unsigned long long)o->min), -1;
      if (rc == -2 || (v->i > 0 && (uint64_t)v->i > o->max))
        return snprintf(why, n, "%s is above the maximum %llu", e, (unsigned long long)o->max), -1;
      if (v->i < 0 || (uint64_t)v->i < o->min)
        return snprintf(why, n, "%s is below the minimum %llu", e, (unsigned long long)o->min), -1;
      return 0;
    case T_SIZE:
      rc = size_parse(text, &v->u);
      if (rc == -1)
        return snprintf(why, n, "'%s' is not a size (bytes, or a number with "
                                "KiB/MiB/GiB/TiB/PiB, or KB/MB/GB/TB/PB for powers of 1000)", e), -1;
      if (rc == -2 || v->u > o->max) {
        fmt_size(o->max, lim, sizeof lim);
        return snprintf(why, n, "%s is above the maximum %s", e, lim), -1;
      }
      if (v->u < o->min) {
        fmt_size(o->min, lim, sizeof lim);
        return snprintf(why, n, "%s is below the minimum %s", e, lim), -1;
      }
      return 0;
    case T_BOOL:
      if (cv_config_parse_bool(text, &v->b) != 0)
        return snprintf(why, n, "'%s' is not a boolean (true or false)", e), -1;
      return 0;
    case T_COUNT: break;
  }
  return snprintf(why, n, "bad option type"), -1;
}

static void store(cv_config_t *c, const opt_t *o, const val_t *v) {
  char *f = (char *)c + o->off;
  int iv;
  switch (o->type) {
    case T_STRING: snprintf(f, o->size, "%s", v->s); return;
    case T_ENUM: memcpy(f, &v->e, sizeof v->e); return;
    case T_INT: iv = (int)v->i, memcpy(f, &iv, sizeof iv); return;
    case T_SIZE: memcpy(f, &v->u, sizeof v->u); return;
    case T_BOOL: memcpy(f, &v->b, sizeof v->b); return;
    case T_COUNT: return;
  }
}

/* ---- sources and errors ---- */

typedef enum { SRC_FILE, SRC_ENV, SRC_FLAG } src_kind_t;
typedef struct {
  src_kind_t kind;
  const char *where;   /* file path, variable name or flag as written */
} src_t;

/* Fills err with "<where>: [key: ]<reason>" and returns -CV_EINVALID_ARGUMENT.
 * A long file path keeps its tail so the reason always fits. */
static int fail(cv_error_t *err, const src_t *src, const char *key, const char *field,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int fail(cv_error_t *err, const src_t *src, const char *key, const char *field,
                const char *fmt, ...) {
  char why[CV_ERR_MSG_MAX], where[96];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  size_t wl = strlen(src->where);
  if (wl >= sizeof where) snprintf(where, sizeof where, "...%s", src->where + wl - (sizeof where - 4));
  else snprintf(where, sizeof where, "%s", src->where);
  if (key) return cv_error_set(err, CV_EINVALID_ARGUMENT, field, "%s: %s: %s", where, key, why);
  return cv_error_set(err, CV_EINVALID_ARGUMENT, field, "%s: %s", where, why);
}

static int set_text(cv_config_t *c, const opt_t *o, const char *text, const src_t *src,
                    cv_error_t *err) {
  char why[CV_ERR_MSG_MAX];
  val_t v;
  if (parse_value(o, text, &v, why, sizeof why) != 0)
    return fail(err, src, src->kind == SRC_FILE ? o->name : NULL, o->name, "%s", why);
  store(c, o, &v);
  return 0;
}

/* Option whose name matches s with '-' read as '_' (flags: dashes only;
 * loose: either, any case — for "did you mean" hints). */
static const opt_t *find_opt(const char *s, size_t len, bool flag, bool loose) {
  for (int i = 0; i < CV_CONFIG_COUNT; i++) {
    const char *nm = opts[i].name;
    size_t k = 0;
    for (; k < len && nm[k]; k++) {
      char a = s[k], b = nm[k];
      if (loose) a = a == '-' ? '_' : (char)tolower((unsigned char)a);
      else if (flag && b == '_') b = '-';
      if (a != b) break;
    }
    if (k == len && !nm[k]) return &opts[i];
  }
  return NULL;
}

static void flag_of(const opt_t *o, char *out, size_t n) {
  size_t k = (size_t)snprintf(out, n, "--%s", o->name);
  for (size_t i = 2; i < k && i < n; i++)
    if (out[i] == '_') out[i] = '-';
}

/* ---- defaults ---- */

void cv_config_defaults(cv_config_t *c) {
  memset(c, 0, sizeof *c);
  uint64_t ram = cv_config_memory_bytes("");
  int cores = cv_config_cores();
  for (int i = 0; i < CV_CONFIG_COUNT; i++) {
    const opt_t *o = &opts[i];
    char why[CV_ERR_MSG_MAX];
    val_t v;
    if ((o->type == T_INT || o->type == T_SIZE) &&
        (strcmp(o->def, "cores") == 0 || strncmp(o->def, "ram/", 4) == 0)) {
      uint64_t x = o->def[0] == 'c' ? (uint64_t)cores : ram / (uint64_t)atoi(o->def + 4);
      x = x < o->min ? o->min : x > o->max ? o->max : x;
      if (o->type == T_INT) v.i = (int64_t)x;
      else v.u = x;
    } else if (parse_value(o, o->def, &v, why, sizeof why) != 0) {
      continue;   /* a table typo; test_config checks every default parses */
    }
    store(c, o, &v);
  }
}

/* ---- the config file ---- */

static int load_file(cv_config_t *c, const char *path, const char *origin, cv_error_t *err) {
  src_t src = {SRC_FILE, path}, osrc = {SRC_FLAG, origin};
  FILE *f = fopen(path, "rb");
  if (!f) return fail(err, &osrc, NULL, "config", "cannot open '%s': %s", path, strerror(errno));
  char *buf = malloc(CV_CONFIG_FILE_MAX + 2);   /* one byte over the cap, and a NUL */
  if (!buf) {
    fclose(f);
    return cv_error_set(err, CV_EOUT_OF_MEMORY, "config", "out of memory reading %s", path);
  }
  size_t n = fread(buf, 1, CV_CONFIG_FILE_MAX + 1, f);
  buf[n] = '\0';
  int rd_err = ferror(f);
  fclose(f);
  int rc = 0;
  cJSON *root = NULL;
  const char *end = NULL;
  if (rd_err) rc = fail(err, &src, NULL, "config", "cannot read the file");
  else if (n > CV_CONFIG_FILE_MAX) rc = fail(err, &src, NULL, "config", "larger than 1 MiB");
  else if (!(root = cJSON_ParseWithLengthOpts(buf, n, &end, 0)))
    rc = fail(err, &src, NULL, "config", "not valid JSON (at byte %zu)", end ? (size_t)(end - buf) : 0);
  else if (end + strspn(end, " \t\r\n") != buf + n)
    rc = fail(err, &src, NULL, "config", "text after the JSON object (at byte %zu)", (size_t)(end - buf));
  else if (!cJSON_IsObject(root))
    rc = fail(err, &src, NULL, "config", "must be a JSON object of option: value");
  uint32_t seen = 0;
  for (cJSON *it = root && rc == 0 ? root->child : NULL; it && rc == 0; it = it->next) {
    const char *key = it->string;
    if (strncmp(key, "//", 2) == 0) continue;   /* comment keys */
    const opt_t *o = find_opt(key, strlen(key), false, false), *near;
    if (!o) {
      near = find_opt(key, strlen(key), false, true);
      rc = near ? fail(err, &src, key, key, "unknown option (did you mean %s?)", near->name)
                : fail(err, &src, key, key, "unknown option");
      break;
    }
    int idx = (int)(o - opts);
    if (seen >> idx & 1) {
      rc = fail(err, &src, key, o->name, "given twice");
      break;
    }
    seen |= 1u << idx;
    char num[48];
    const char *text = NULL;
    if (cJSON_IsString(it) && o->type != T_BOOL) {
      text = it->valuestring;
    } else if (cJSON_IsNumber(it) && (o->type == T_INT || o->type == T_SIZE)) {
      double d = it->valuedouble;
      if (!isfinite(d) || d != floor(d)) {
        rc = fail(err, &src, key, o->name, "%g is not an integer", d);
        break;
      }
      snprintf(num, sizeof num, "%.0f", d);
      text = num;
    } else if (cJSON_IsBool(it) && o->type == T_BOOL) {
      text = cJSON_IsTrue(it) ? "true" : "false";
    }
    if (!text) {
      static const char *const want[] = {"a string", "a string", "an integer",
                                         "a size (a number of bytes or a string such as \"8GiB\")",
                                         "true or false"};
      static_assert(sizeof want / sizeof *want == T_COUNT, "one phrase per type");
      rc = fail(err, &src, key, o->name, "expected %s", want[o->type]);
      break;
    }
    rc = set_text(c, o, text, &src, err);
  }
  cJSON_Delete(root);
  free(buf);
  if (rc == 0) snprintf(c->config_path, sizeof c->config_path, "%s", path);
  return rc;
}

/* ---- environment and flags ---- */

static const char *env_get(char **envp, const char *name) {
  size_t n = strlen(name);
  for (char **e = envp; e && *e; e++)
    if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') return *e + n + 1;
  return NULL;
}

static int apply_env(cv_config_t *c, char **envp, cv_error_t *err) {
  for (int i = 0; i < CV_CONFIG_COUNT; i++) {
    const char *v = env_get(envp, opts[i].env);
    src_t src = {SRC_ENV, opts[i].env};
    if (v) {
      int rc = set_text(c, &opts[i], v, &src, err);
      if (rc) return rc;
    }
  }
  return 0;
}

typedef struct {
  bool help, version;
  const char *config;   /* last --config value */
} scan_t;

/* Walks argv. With c == NULL it only records --help, --version and --config
 * (skipping what it does not know); with c it applies every flag and fails
 * on anything wrong. */
static int walk_argv(cv_config_t *c, int argc, char **argv, scan_t *sc, cv_error_t *err) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    src_t src = {SRC_FLAG, a};
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      sc->help = true;
      continue;
    }
    if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
      sc->version = true;
      continue;
    }
    if (strncmp(a, "--", 2) != 0 || !a[2]) {
      if (c) return cv_error_set(err, CV_EINVALID_ARGUMENT, a, "unexpected argument '%s' (options are --name value)", a);
      continue;
    }
    const char *name = a + 2, *eq = strchr(name, '='), *val = eq ? eq + 1 : NULL;
    size_t nl = eq ? (size_t)(eq - name) : strlen(name);
    char flag[64];
    snprintf(flag, sizeof flag, "%.*s", (int)(nl + 2 < sizeof flag ? nl + 2 : sizeof flag - 1), a);
    src.where = flag;
    bool is_config = nl == 6 && strncmp(name, "config", 6) == 0;
    const opt_t *o = is_config ? NULL : find_opt(name, nl, true, false);
    if (!o && !is_config) {
      if (!c) continue;
      const opt_t *near = find_opt(name, nl, true, true);
      char hint[96] = "";
      if (near) {
        char f[64];
        flag_of(near, f, sizeof f);
        snprintf(hint, sizeof hint, " (did you mean %s?)", f);
      }
      return cv_error_set(err, CV_EINVALID_ARGUMENT, flag, "%s: unknown flag%s; see --help", flag, hint);
    }
    if (!val && o && o->type == T_BOOL) val = "true";
    if (!val && i + 1 < argc) val = argv[++i];
    if (!val) {
      if (c) return fail(err, &src, NULL, is_config ? "config" : o->name, "missing value");
      continue;
    }
    if (is_config) sc->config = val;
    else if (c) {
      int rc = set_text(c, o, val, &src, err);
      if (rc) return rc;
    }
  }
  return 0;
}

/* ---- load and reload ---- */

static int load(cv_config_t *c, int argc, char **argv, char **envp, FILE *help_out, bool reload,
                cv_error_t *err) {
  scan_t sc = {0};
  cv_config_defaults(c);
  walk_argv(NULL, argc, argv, &sc, err);
  if (!reload && (sc.help || sc.version)) {
    FILE *out = help_out ? help_out : stdout;
    if (sc.help) cv_config_print_help(out);
    else fprintf(out, "convoyd %s\n", CONVOY_VERSION);
    fflush(out);
    return 1;
  }
  const char *path = sc.config, *origin = "--config";
  if (!path && (path = env_get(envp, ENV_CONFIG))) origin = ENV_CONFIG;
  struct stat st;
  if (!path && stat(CV_CONFIG_DEFAULT_FILE, &st) == 0) path = CV_CONFIG_DEFAULT_FILE, origin = path;
  int rc = path ? load_file(c, path, origin, err) : 0;
  if (rc == 0) rc = apply_env(c, envp, err);
  if (rc == 0) rc = walk_argv(c, argc, argv, &sc, err);
  return rc;
}

int cv_config_load(cv_config_t *c, int argc, char **argv, char **envp, FILE *help_out,
                   cv_error_t *err) {
  if (!c) return cv_error_set(err, CV_EINVALID_ARGUMENT, "", "no config");
  return load(c, argc, argv, envp, help_out, false, err);
}

static bool same(const cv_config_t *a, const cv_config_t *b, const opt_t *o) {
  const char *x = (const char *)a + o->off, *y = (const char *)b + o->off;
  return o->type == T_STRING ? strcmp(x, y) == 0 : memcmp(x, y, o->size) == 0;
}

int cv_config_reload(cv_config_t *c, int argc, char **argv, char **envp, uint32_t *needs_restart,
                     cv_error_t *err) {
  if (needs_restart) *needs_restart = 0;
  if (!c) return cv_error_set(err, CV_EINVALID_ARGUMENT, "", "no config");
  cv_config_t *fresh = malloc(sizeof *fresh);
  if (!fresh) return cv_error_set(err, CV_EOUT_OF_MEMORY, "", "out of memory reloading the config");
  int rc = load(fresh, argc, argv, envp, NULL, true, err);
  uint32_t changed = 0, kept = 0;
  for (int i = 0; rc == 0 && i < CV_CONFIG_COUNT; i++) {
    const opt_t *o = &opts[i];
    if (same(c, fresh, o)) continue;
    if (!o->reload) {
      kept |= 1u << i;
      continue;
    }
    memcpy((char *)c + o->off, (char *)fresh + o->off, o->size);
    changed |= 1u << i;
  }
  if (rc == 0) memcpy(c->config_path, fresh->config_path, sizeof c->config_path);
  free(fresh);
  if (needs_restart) *needs_restart = kept;
  return rc < 0 ? rc : (int)changed;
}

/* ---- views: JSON and --help ---- */

cJSON *cv_config_to_json(const cv_config_t *c, uint32_t mask) {
  cJSON *obj = cJSON_CreateObject();
  for (int i = 0; obj && c && i < CV_CONFIG_COUNT; i++) {
    const opt_t *o = &opts[i];
    const char *f = (const char *)c + o->off;
    int iv;
    uint64_t u;
    bool b;
    cJSON *item = NULL;
    if (!(mask >> i & 1)) continue;
    switch (o->type) {
      case T_STRING: item = cJSON_CreateString(f); break;
      case T_ENUM:
        memcpy(&iv, f, sizeof iv);
        item = cJSON_CreateString(iv >= 0 && iv < o->n_names ? o->names[iv] : "?");
        break;
      case T_INT: memcpy(&iv, f, sizeof iv), item = cJSON_CreateNumber(iv); break;
      case T_SIZE: memcpy(&u, f, sizeof u), item = cJSON_CreateNumber((double)u); break;
      case T_BOOL: memcpy(&b, f, sizeof b), item = cJSON_CreateBool(b); break;
      case T_COUNT: break;
    }
    if (!item || !cJSON_AddItemToObject(obj, o->name, item)) {
      cJSON_Delete(item);
      cJSON_Delete(obj);
      return NULL;
    }
  }
  return obj;
}

enum { COL_NAME, COL_FLAG, COL_ENV, COL_TYPE, COL_DEFAULT, COL_RANGE, COL_RELOAD, COL_HELP, N_COLS };
#define CELL_MAX 96

static void help_row(const opt_t *o, uint64_t ram, int cores, char cell[N_COLS][CELL_MAX]) {
  char a[32], b[32];
  snprintf(cell[COL_NAME], CELL_MAX, "%s", o->name);
  flag_of(o, cell[COL_FLAG], CELL_MAX);
  snprintf(cell[COL_ENV], CELL_MAX, "%s", o->env);
  snprintf(cell[COL_TYPE], CELL_MAX, "%s", type_names[o->type]);
  if (!o->def[0]) snprintf(cell[COL_DEFAULT], CELL_MAX, "(none)");
  else if (strcmp(o->def, "cores") == 0) snprintf(cell[COL_DEFAULT], CELL_MAX, "cores (%d here)", cores);
  else if (strncmp(o->def, "ram/", 4) == 0)
    snprintf(cell[COL_DEFAULT], CELL_MAX, "%s (%.1fGiB here)", o->def,
             (double)(ram / (uint64_t)atoi(o->def + 4)) / (double)CV_GIB);
  else snprintf(cell[COL_DEFAULT], CELL_MAX, "%s", o->def);
  switch (o->type) {
    case T_STRING: snprintf(cell[COL_RANGE], CELL_MAX, "len %llu..%llu", (unsigned long long)o->min,
                            (unsigned long long)o->max); break;
    case T_ENUM: {
      int k = 0;
      for (int i = 0; i < o->n_names && k < CELL_MAX; i++)
        k += snprintf(cell[COL_RANGE] + k, CELL_MAX - (size_t)k, "%s%s", i ? "|" : "", o->names[i]);
      break;
    }
    case T_INT: snprintf(cell[COL_RANGE], CELL_MAX, "%llu..%llu", (unsigned long long)o->min,
                         (unsigned long long)o->max); break;
    case T_SIZE:
      fmt_size(o->min, a, sizeof a), fmt_size(o->max, b, sizeof b);
      snprintf(cell[COL_RANGE], CELL_MAX, "%s..%s", a, b);
      break;
    case T_BOOL: snprintf(cell[COL_RANGE], CELL_MAX, "true|false"); break;
    case T_COUNT: break;
  }
  snprintf(cell[COL_RELOAD], CELL_MAX, "%s", o->reload ? "yes" : "no");
  cell[COL_HELP][0] = '\0';   /* printed from o->help, unbounded */
}

void cv_config_print_help(FILE *out) {
  static const char *const head[N_COLS] = {"OPTION", "FLAG", "ENV", "TYPE", "DEFAULT", "RANGE", "RELOAD", "HELP"};
  char cells[CV_CONFIG_COUNT][N_COLS][CELL_MAX];
  size_t w[N_COLS];
  uint64_t ram = cv_config_memory_bytes("");
  int cores = cv_config_cores();
  for (int k = 0; k < N_COLS; k++) w[k] = strlen(head[k]);
  for (int i = 0; i < CV_CONFIG_COUNT; i++) {
    help_row(&opts[i], ram, cores, cells[i]);
    for (int k = 0; k < N_COLS; k++)
      if (strlen(cells[i][k]) > w[k]) w[k] = strlen(cells[i][k]);
  }
  fprintf(out,
          "usage: convoyd [--config FILE] [--OPTION VALUE | --OPTION=VALUE]...\n"
          "       convoyd --help | --version\n\n"
          "Sources, later ones win: defaults; the config file (--config FILE, else $%s, else\n"
          "%s in the working directory when present: a JSON object of option: value,\n"
          "keys starting with // are comments); %s<OPTION> environment variables; flags.\n"
          "Sizes are bytes, or a number with KiB, MiB, GiB, TiB, PiB (powers of 1024) or KB, MB,\n"
          "GB, TB, PB (powers of 1000). RELOAD yes: SIGHUP applies a changed value.\n\n",
          ENV_CONFIG, CV_CONFIG_DEFAULT_FILE, ENV_PREFIX);
  for (int k = 0; k < N_COLS; k++)
    fprintf(out, "%-*s%s", k + 1 < N_COLS ? (int)w[k] : 0, head[k], k + 1 < N_COLS ? "  " : "\n");
  for (int i = 0; i < CV_CONFIG_COUNT; i++) {
    for (int k = 0; k + 1 < N_COLS; k++) fprintf(out, "%-*s  ", (int)w[k], cells[i][k]);
    fprintf(out, "%s\n", opts[i].help);
  }
}
