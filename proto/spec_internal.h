/* spec_internal.h — helpers shared by proto/spec.c (common fields, inputs,
 * output, entry points) and proto/spec_params.c (each op's parameters).
 * cv__spec_ prefix; not for other modules. Pure; any thread. */
#ifndef CV_SPEC_INTERNAL_H
#define CV_SPEC_INTERNAL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "errors.h"
#include "spec.h"

typedef char cv__path_t[CV_ERR_FIELD_MAX];

/* "<parent>.<key>" (or "<key>" when parent is empty) and "<parent>[i]". */
void cv__spec_key(cv__path_t out, const char *parent, const char *key);
void cv__spec_idx(cv__path_t out, const char *parent, int i);

/* Every member key of obj appears once; else invalid_argument "<parent>.<key>". */
int cv__spec_unique_keys(const cJSON *obj, const char *parent, cv_error_t *err);
int cv__spec_unknown_key(const char *path, const char *where, cv_error_t *err);

/* Typed reads; errors name path. Integers: integral numbers (3 or 3.0) within
 * lo..hi; strings are refused. Booleans: true/false only. Strings: any
 * JSON string. Names: a string matched case-insensitively against words
 * (NULL-terminated); *out is its index. */
int cv__spec_int(const cJSON *v, const char *path, int64_t lo, int64_t hi, int64_t *out, cv_error_t *err);
int cv__spec_int32(const cJSON *v, const char *path, int lo, int hi, int *out, cv_error_t *err);
int cv__spec_bool(const cJSON *v, const char *path, bool *out, cv_error_t *err);
int cv__spec_string(const cJSON *v, const char *path, const char **out, cv_error_t *err);
int cv__spec_word(const cJSON *v, const char *path, const char *const *words, int *out, cv_error_t *err);
/* Copies s lower-cased into out (size n); false when it does not fit. */
bool cv__spec_lower(const char *s, char *out, size_t n);

/* Consumes one top-level member that is a parameter of p->op: 0 when taken,
 * 1 when the key is not a parameter of that op, or -CV_E…. */
int cv__spec_param(cv_op_params_t *p, const cJSON *member, cv_error_t *err);
/* Checks done once every member was read (required parameters). */
int cv__spec_params_done(const cv_op_params_t *p, cv_error_t *err);

#endif
