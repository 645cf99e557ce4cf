/* spec.c — job spec entry points: JSON text (cJSON, offsets for bad JSON) or
 * x-npy query pairs → cv_spec_t, the spec's common fields (inputs, output,
 * priority, timeout_ms, async, keep, result_encoding, select, precision) and
 * the typed-read helpers of spec_internal.h. Op parameters: spec_params.c.
 * Owns what it allocates; any thread. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "json_arena.h"
#include "json_parse.h"
#include "json_num.h"
#include "spec_internal.h"
#include "tensor_json.h"

#define CV_SPEC_EXACT_INT 9007199254740992.0   /* 2^53 */

/* ---- paths and typed reads ---- */

void cv__spec_key(cv__path_t out, const char *parent, const char *key) {
  if (parent && *parent)
    snprintf(out, CV_ERR_FIELD_MAX, "%s.%s", parent, key);
  else
    snprintf(out, CV_ERR_FIELD_MAX, "%s", key);
}

void cv__spec_idx(cv__path_t out, const char *parent, int i) { snprintf(out, CV_ERR_FIELD_MAX, "%s[%d]", parent, i); }

int cv__spec_unknown_key(const char *path, const char *where, cv_error_t *err) {
  return cv_error_set(err, CV_EINVALID_ARGUMENT, path, "unknown key in %s", where);
}

static int cmp_key(const void *a, const void *b) {
  return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

int cv__spec_unique_keys(const cJSON *obj, const char *parent, cv_error_t *err) {
  int n = cJSON_GetArraySize(obj);
  if (n < 2) return 0;
  const cJSON *small[16];
  const cJSON **v = n <= 16 ? small : malloc((size_t)n * sizeof *v);
  if (!v) return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "no memory to check keys");
  int i = 0;
  for (const cJSON *c = obj->child; c; c = c->next) v[i++] = c;
  qsort(v, (size_t)n, sizeof *v, cmp_key);   /* O(n log n): objects may be large */
  int rc = 0;
  for (i = 1; i < n && !rc; i++)
    if (strcmp(v[i - 1]->string, v[i]->string) == 0) {
      cv__path_t p;
      cv__spec_key(p, parent, v[i]->string);
      rc = cv_error_set(err, CV_EINVALID_ARGUMENT, p, "appears more than once");
    }
  if (v != small) free(v);
  return rc;
}

int cv__spec_int(const cJSON *v, const char *path, int64_t lo, int64_t hi, int64_t *out, cv_error_t *err) {
  if (!cJSON_IsNumber(v))
    return cv_error_set(err, CV_EINVALID_ARGUMENT, path, "must be an integer%s",
                        cJSON_IsString(v) ? ", not a string" : "");
  const double d = v->valuedouble;
  if (!(d == trunc(d))) return cv_error_set(err, CV_EINVALID_ARGUMENT, path, "must be an integer");
  const double dlo = (double)lo, dhi = (double)hi;
  if (d < dlo || d > dhi || fabs(d) > CV_SPEC_EXACT_INT) {
    if (hi >= INT32_MAX)
      return cv_error_set(err, CV_EINVALID_ARGUMENT, path, "must be >= %lld (and not huge)", (long long)lo);
    return cv_error_set(err, CV_EINVALID_ARGUMENT, path, "must be between %lld and %lld", (long long)lo,
                        (long long)hi);
  }
  *out = (int64_t)d;
  return 0;
}

int cv__spec_int32(const cJSON *v, const char *path, int lo, int hi, int *out, cv_error_t *err) {
  int64_t x = 0;
  int rc = cv__spec_int(v, path, lo, hi, &x, err);
  if (!rc) *out = (int)x;
  return rc;
}

int cv__spec_bool(const cJSON *v, const char *path, bool *out, cv_error_t *err) {
  if (!cJSON_IsBool(v)) return cv_error_set(err, CV_EINVALID_ARGUMENT, path, "must be true or false");
  *out = cJSON_IsTrue(v);
  return 0;
}

int cv__spec_string(const cJSON *v, const char *path, const char **out, cv_error_t *err) {
  if (!cJSON_IsString(v)) return cv_error_set(err, CV_EINVALID_ARGUMENT, path, "must be a string");
  *out = v->valuestring;
  return 0;
}

int cv__spec_word(const cJSON *v, const char *path, const char *const *words, int *out, cv_error_t *err) {
  const char *s = NULL;
  int rc = cv__spec_string(v, path, &s, err);
  if (rc) return rc;
  char list[CV_ERR_MSG_MAX / 2] = "";
  for (int i = 0; words[i]; i++) {
    if (strcasecmp(s, words[i]) == 0) {
      *out = i;
      return 0;
    }
    size_t n = strlen(list);
    snprintf(list + n, sizeof list - n, "%s\"%s\"", i ? ", " : "", words[i]);
  }
  return cv_error_set(err, CV_EINVALID_ARGUMENT, path, "is \"%.40s\"; must be one of %s", s, list);
}

bool cv__spec_lower(const char *s, char *out, size_t n) {
  size_t i = 0;
  for (; s[i]; i++) {
    if (i + 1 >= n) return false;
    out[i] = (char)tolower((unsigned char)s[i]);
  }
  out[i] = '\0';
  return true;
}

/* ---- names, inputs, output, select ---- */

static bool valid_name(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n >= CV_NAME_MAX) return false;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)s[i]) && s[i] != '_') return false;
  return true;
}

static int name_error(const char *path, cv_error_t *err) {
  return cv_error_set(err, CV_EINVALID_ARGUMENT, path, "names are 1 to %d letters, digits or '_'",
                      CV_NAME_MAX - 1);
}

/* Appends an empty input slot named name (or finds the existing one, emptied). */
static cv_spec_input_t *input_slot(cv_spec_t *s, const char *name) {
  for (int i = 0; i < s->n_inputs; i++)
    if (strcmp(s->inputs[i].name, name) == 0) {
      cv_spec_input_t *in = &s->inputs[i];
      cv_tensor_unref(in->tensor);
      free(in->ref);
      in->tensor = NULL;
      in->ref = NULL;
      return in;
    }
  cv_spec_input_t *v = realloc(s->inputs, (size_t)(s->n_inputs + 1) * sizeof *v);
  if (!v) return NULL;
  s->inputs = v;
  cv_spec_input_t *in = &v[s->n_inputs++];
  memset(in, 0, sizeof *in);
  snprintf(in->name, sizeof in->name, "%s", name);
  return in;
}

static int parse_input(cv_spec_t *s, const cJSON *v, const cv_spec_limits_t *lim, cv_error_t *err) {
  cv__path_t path;
  cv__spec_key(path, "inputs", v->string);
  if (!valid_name(v->string)) return name_error(path, err);
  cv_tensor_t *t = NULL;
  cv_input_kind_t kind;
  const char *ref = NULL;
  if (cJSON_IsString(v)) {
    const char *str = v->valuestring;
    if (strncmp(str, "tensor:", 7) == 0) {
      kind = CV_INPUT_TENSOR;
      ref = str + 7;
    } else if (strncmp(str, "file:", 5) == 0) {
      kind = CV_INPUT_FILE;
      ref = str + 5;
    } else {
      return cv_error_set(err, CV_EINVALID_ARGUMENT, path,
                          "a string input is \"tensor:<id>\" or \"file:<path>\"");
    }
    if (!*ref) return cv_error_set(err, CV_EINVALID_ARGUMENT, path, "\"%s\" needs a %s after it", str,
                                   kind == CV_INPUT_TENSOR ? "tensor id" : "path");
  } else if (cJSON_IsObject(v)) {
    kind = CV_INPUT_INLINE;
    int rc = cv_tensor_from_json(v, path, lim ? lim->max_tensor_bytes : 0, &t, err);
    if (rc) return rc;
  } else {
    return cv_error_set(err, CV_EINVALID_ARGUMENT, path,
                        "must be a tensor object, \"tensor:<id>\" or \"file:<path>\"");
  }
  char *dup = ref ? strdup(ref) : NULL;
  cv_spec_input_t *in = (!ref || dup) ? input_slot(s, v->string) : NULL;
  if (!in) {
    free(dup);
    cv_tensor_unref(t);
    return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "no memory for an input");
  }
  in->kind = kind;
  in->tensor = t;
  in->ref = dup;
  return 0;
}

static int parse_inputs(cv_spec_t *s, const cJSON *v, const cv_spec_limits_t *lim, cv_error_t *err) {
  if (cJSON_IsNull(v)) return 0;
  if (!cJSON_IsObject(v))
    return cv_error_set(err, CV_EINVALID_ARGUMENT, "inputs", "must be an object {name: tensor}");
  int rc = cv__spec_unique_keys(v, "inputs", err);
  for (const cJSON *c = v->child; c && !rc; c = c->next) rc = parse_input(s, c, lim, err);
  return rc;
}

/* Lexical checks only: the server resolves the path under data_dir/outputs. */
static int out_path(const cJSON *v, const char *path, char **out, cv_error_t *err) {
  const char *s = NULL;
  int rc = cv__spec_string(v, path, &s, err);
  if (rc) return rc;
  if (!*s) return cv_error_set(err, CV_EINVALID_ARGUMENT, path, "is empty");
  if (s[0] == '/' || s[0] == '\\')
    return cv_error_set(err, CV_EINVALID_ARGUMENT, path, "must be relative to data_dir/outputs");
  for (const char *p = s; *p;) {   /* no ".." component, with / or \ as separators */
    size_t n = strcspn(p, "/\\");
    if (n == 2 && p[0] == '.' && p[1] == '.')
      return cv_error_set(err, CV_EINVALID_ARGUMENT, path, "must not leave data_dir/outputs (\"..\")");
    p += n;
    if (*p) p++;
  }
  if (!(*out = strdup(s))) return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "no memory");
  return 0;
}

static int parse_output(cv_spec_t *s, const cJSON *v, cv_error_t *err) {
  if (cJSON_IsNull(v)) return 0;
  if (!cJSON_IsObject(v))
    return cv_error_set(err, CV_EINVALID_ARGUMENT, "output",
                        "must be {\"path\": \"…npz\"} or {\"dir\": \"…/\", \"format\": \"npy\"}");
  int rc = cv__spec_unique_keys(v, "output", err);
  const cJSON *fmt = NULL;
  for (const cJSON *c = v->child; c && !rc; c = c->next) {
    cv__path_t p;
    cv__spec_key(p, "output", c->string);
    if (strcmp(c->string, "path") == 0)
      rc = out_path(c, p, &s->output_path, err);
    else if (strcmp(c->string, "dir") == 0)
      rc = out_path(c, p, &s->output_dir, err);
    else if (strcmp(c->string, "format") == 0)
      fmt = cJSON_IsNull(c) ? NULL : c;
    else if (strcmp(c->string, "overwrite") == 0)
      rc = cJSON_IsNull(c) ? 0 : cv__spec_bool(c, p, &s->overwrite, err);
    else
      rc = cv__spec_unknown_key(p, "output (path, dir, format, overwrite)", err);
  }
  if (rc) return rc;
  if (!s->output_path == !s->output_dir)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, "output", s->output_path ? "takes path or dir, not both"
                                                                             : "needs path or dir");
  static const char *const FORMATS[] = {"npy", "npz", NULL};
  int f = s->output_path ? 1 : 0;   /* path: one .npz; dir: .npy files */
  if (fmt && (rc = cv__spec_word(fmt, "output.format", FORMATS, &f, err))) return rc;
  if (s->output_path && f == 0)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, "output.format",
                        "a path is one .npz file; use {\"dir\": …, \"format\": \"npy\"} for .npy files");
  s->output_npy = f == 0;
  s->has_output = true;
  return 0;
}

static int parse_select(cv_spec_t *s, const cJSON *v, cv_error_t *err) {
  if (cJSON_IsNull(v)) return 0;
  int n = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : 0;
  if (n < 1) return cv_error_set(err, CV_EINVALID_ARGUMENT, "select", "must be a list of output names");
  if (!(s->select = calloc((size_t)n, sizeof *s->select)))
    return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "no memory");
  int i = 0;
  for (const cJSON *c = v->child; c; c = c->next, i++) {
    cv__path_t p;
    cv__spec_idx(p, "select", i);
    if (!cJSON_IsString(c)) return cv_error_set(err, CV_EINVALID_ARGUMENT, p, "must be an output name");
    if (!valid_name(c->valuestring)) return name_error(p, err);
    for (int k = 0; k < i; k++)
      if (strcmp(s->select[k], c->valuestring) == 0)
        return cv_error_set(err, CV_EINVALID_ARGUMENT, p, "names \"%s\" twice", c->valuestring);
    snprintf(s->select[i], CV_NAME_MAX, "%s", c->valuestring);
    s->n_select = i + 1;
  }
  return 0;
}

/* ---- the spec object ---- */

static int common_field(cv_spec_t *s, const cJSON *m, const cv_spec_limits_t *lim, cv_error_t *err) {
  static const char *const ENCODINGS[] = {"json", "b64", NULL};
  static const char *const PRECISIONS[] = {"default", "highest", "fp32", "ieee", "tf32", NULL};
  const char *k = m->string;
  const bool null = cJSON_IsNull(m);
  int w, rc;
  int64_t x = 0;
  if (strcmp(k, "inputs") == 0) return parse_inputs(s, m, lim, err);
  if (strcmp(k, "output") == 0) return parse_output(s, m, err);
  if (strcmp(k, "select") == 0) return parse_select(s, m, err);
  if (strcmp(k, "async") == 0) return null ? 0 : cv__spec_bool(m, k, &s->async, err);
  if (strcmp(k, "keep") == 0) return null ? 0 : cv__spec_bool(m, k, &s->keep, err);
  if (strcmp(k, "priority") == 0)
    return null ? 0 : cv__spec_int32(m, k, 0, CV_SPEC_PRIORITY_MAX, &s->priority, err);
  if (strcmp(k, "timeout_ms") == 0) {
    if (null || (rc = cv__spec_int(m, k, 0, INT64_MAX, &x, err))) return null ? 0 : rc;
    s->timeout_ms = x;
    return 0;
  }
  if (strcmp(k, "result_encoding") == 0) {
    if (null || (rc = cv__spec_word(m, k, ENCODINGS, &w, err))) return null ? 0 : rc;
    s->result_b64 = w == 1;
    return 0;
  }
  if (strcmp(k, "precision") == 0) {
    if (null || (rc = cv__spec_word(m, k, PRECISIONS, &w, err))) return null ? 0 : rc;
    s->precision = w == 4 ? CV_PRECISION_TF32 : CV_PRECISION_DEFAULT;
    return 0;
  }
  return 1;
}

static int parse_op(const cJSON *root, cv_op_t *op, cv_error_t *err) {
  const cJSON *v = NULL;
  for (const cJSON *c = root->child; c && !v; c = c->next)
    if (strcmp(c->string, "op") == 0) v = c;
  if (!v) return cv_error_set(err, CV_EINVALID_ARGUMENT, "op", "is required: dwt, idwt, sepconv or conv");
  if (!cJSON_IsString(v))
    return cv_error_set(err, CV_EINVALID_ARGUMENT, "op", "must be a string: dwt, idwt, sepconv or conv");
  char low[16];
  if (!cv__spec_lower(v->valuestring, low, sizeof low) || cv_op_parse(low, op))
    return cv_error_set(err, CV_EUNSUPPORTED_OP, "op", "unknown op \"%.40s\"; one of dwt, idwt, sepconv, conv",
                        v->valuestring);
  return 0;
}

static int spec_from_object(const cJSON *root, const cv_spec_limits_t *lim, cv_spec_t *s, cv_error_t *err) {
  cv_op_t op;
  int rc = cv__spec_unique_keys(root, "", err);
  if (!rc) rc = parse_op(root, &op, err);
  if (rc) return rc;
  cv_op_params_default(&s->params, op);
  s->params.op = op;
  s->priority = CV_SPEC_PRIORITY_DEFAULT;
  for (const cJSON *c = root->child; c && !rc; c = c->next) {
    if (strcmp(c->string, "op") == 0) continue;
    rc = common_field(s, c, lim, err);
    if (rc == 1) rc = cv__spec_param(&s->params, c, err);
    if (rc == 1)
      rc = cv_error_set(err, CV_EINVALID_ARGUMENT, c->string, "unknown key (not a field of a %s spec)",
                        cv_op_name(op));
  }
  if (!rc) rc = cv__spec_params_done(&s->params, err);
  if (!rc && op == CV_OP_CONV) s->params.u.conv.precision = s->precision;
  return rc;
}

/* Clears a spec but its params (cv_op_params_default sets those; clearing
 * 33 KiB per request showed up in the HTTP profile). */
_Static_assert(offsetof(cv_spec_t, params) == 0, "spec_clear skips params, the first field");
static void spec_clear(cv_spec_t *s) {
  memset((char *)s + sizeof s->params, 0, sizeof *s - sizeof s->params);
  s->params.op = CV_OP_COUNT;
}

int cv_spec_parse_mut(char *json, size_t len, const cv_spec_limits_t *lim, cv_spec_t *out, cv_error_t *err) {
  spec_clear(out);
  size_t off = 0;
  bool arena = cv_json_arena_open();   /* the tree is deleted below, before the arena closes */
  cJSON *root = cv_json_parse_insitu(json, len, &off);
  if (!root) {
    if (arena) cv_json_arena_close();
    return cv_error_set(err, CV_EINVALID_JSON, NULL, "the spec is not valid JSON (at byte %zu)", off);
  }
  int rc = 0;
  if (!cJSON_IsObject(root))
    rc = cv_error_set(err, CV_EINVALID_JSON, NULL, "the spec must be a JSON object");
  else
    rc = spec_from_object(root, lim, out, err);
  cJSON_Delete(root);
  if (arena) cv_json_arena_close();
  if (rc) cv_spec_free(out);
  return rc;
}

int cv_spec_parse(const char *json, size_t len, const cv_spec_limits_t *lim, cv_spec_t *out, cv_error_t *err) {
  spec_clear(out);
  char *copy = malloc(len ? len : 1);   /* the parser rewrites its buffer */
  if (!copy) return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "no memory to parse a %zu-byte spec", len);
  if (len) memcpy(copy, json, len);
  int rc = cv_spec_parse_mut(copy, len, lim, out, err);
  free(copy);
  return rc;
}

/* ---- x-npy query pairs ---- */

/* "" → null; true/false; a JSON number; else the text. */
static cJSON *query_scalar(const char *s, size_t n) {
  if (n == 0) return cJSON_CreateNull();
  if (n == 4 && memcmp(s, "true", 4) == 0) return cJSON_CreateTrue();
  if (n == 5 && memcmp(s, "false", 5) == 0) return cJSON_CreateFalse();
  double d;
  if (cv_parse_f64(s, s + n, &d) == s + n) return cJSON_CreateNumber(d);
  char *t = strndup(s, n);
  cJSON *v = t ? cJSON_CreateString(t) : NULL;
  free(t);
  return v;
}

/* Comma lists become arrays; select and shape are lists even of one. */
static cJSON *query_value(const char *key, const char *s) {
  static const char *const LISTS[] = {"axes", "stride", "dilation", "shape", "select", "wavelet", "mode", "padding", NULL};
  bool list_key = false, always = strcmp(key, "select") == 0 || strcmp(key, "shape") == 0;
  for (int i = 0; LISTS[i]; i++) list_key |= strcmp(key, LISTS[i]) == 0;
  if (!list_key || (!strchr(s, ',') && (!always || !*s))) return query_scalar(s, strlen(s));
  cJSON *a = cJSON_CreateArray();
  for (const char *p = s; a;) {
    size_t n = strcspn(p, ",");
    cJSON *e = query_scalar(p, n);
    if (!e || !cJSON_AddItemToArray(a, e)) {
      cJSON_Delete(e);
      cJSON_Delete(a);
      return NULL;
    }
    if (!p[n]) break;
    p += n + 1;
  }
  return a;
}

/* Adds key: value to obj (made on first use under root as name). */
static int query_put(cJSON *root, const char *name, cJSON **obj, const char *key, cJSON *v) {
  if (!v) return -1;
  if (!*obj && !(*obj = cJSON_AddObjectToObject(root, name))) {
    cJSON_Delete(v);
    return -1;
  }
  if (!cJSON_AddItemToObject(*obj, key, v)) {
    cJSON_Delete(v);
    return -1;
  }
  return 0;
}

int cv_spec_from_query(const char *const *keys, const char *const *vals, int n, cv_tensor_t *x,
                       const cv_spec_limits_t *lim, cv_spec_t *out, cv_error_t *err) {
  spec_clear(out);
  for (int i = 0; i < n; i++)
    for (int j = 0; j < i; j++)
      if (strcmp(keys[i], keys[j]) == 0)
        return cv_error_set(err, CV_EINVALID_ARGUMENT, keys[i], "appears more than once in the query");
  cJSON *root = cJSON_CreateObject(), *inputs = NULL, *output = NULL;
  int rc = root ? 0 : -1;
  for (int i = 0; i < n && !rc; i++) {
    const char *k = keys[i], *v = vals[i] ? vals[i] : "";
    if (strncmp(k, "inputs.", 7) == 0) {
      if (x && strcmp(k + 7, "x") == 0) {
        cJSON_Delete(root);
        return cv_error_set(err, CV_EINVALID_ARGUMENT, k, "the request body is input x");
      }
      rc = query_put(root, "inputs", &inputs, k + 7, cJSON_CreateString(v));
    } else if (strncmp(k, "output.", 7) == 0) {
      cJSON *e = strcmp(k + 7, "overwrite") == 0 ? query_scalar(v, strlen(v)) : cJSON_CreateString(v);
      rc = query_put(root, "output", &output, k + 7, e);
    } else if (strcmp(k, "inputs") == 0 || strcmp(k, "output") == 0) {
      cJSON_Delete(root);
      return cv_error_set(err, CV_EINVALID_ARGUMENT, k, "name a member: %s.<name>=…", k);
    } else {
      cJSON *e = query_value(k, v);
      rc = e && cJSON_AddItemToObject(root, k, e) ? 0 : (cJSON_Delete(e), -1);
    }
  }
  if (rc) {
    cJSON_Delete(root);
    return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "no memory for the query spec");
  }
  rc = spec_from_object(root, lim, out, err);
  cJSON_Delete(root);
  if (!rc && x) rc = cv_spec_add_input(out, "x", x, err);
  if (rc) cv_spec_free(out);
  return rc;
}

/* ---- inputs added by callers, lookup, free ---- */

int cv_spec_add_input(cv_spec_t *s, const char *name, cv_tensor_t *t, cv_error_t *err) {
  cv__path_t path;
  cv__spec_key(path, "inputs", name);
  if (!valid_name(name)) return name_error(path, err);
  if (!t) return cv_error_set(err, CV_EINVALID_ARGUMENT, path, "no tensor");
  cv_spec_input_t *in = input_slot(s, name);
  if (!in) return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "no memory for an input");
  in->kind = CV_INPUT_INLINE;
  in->tensor = cv_tensor_ref(t);
  return 0;
}

const cv_spec_input_t *cv_spec_find_input(const cv_spec_t *s, const char *name) {
  for (int i = 0; i < s->n_inputs; i++)
    if (strcmp(s->inputs[i].name, name) == 0) return &s->inputs[i];
  return NULL;
}

void cv_spec_free(cv_spec_t *s) {
  if (!s) return;
  for (int i = 0; i < s->n_inputs; i++) {
    cv_tensor_unref(s->inputs[i].tensor);
    free(s->inputs[i].ref);
  }
  free(s->inputs);
  free(s->output_path);
  free(s->output_dir);
  free(s->select);
  spec_clear(s);
}
