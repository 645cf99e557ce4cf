/* wavelet_json.c — builds the /v1/wavelets bodies with cJSON. Taps go in as
 * raw number text of our own making, because cJSON's printer accepts 15 digits
 * within an epsilon (not bit-exact) and prints -0 as 0. Pure; any thread. */
#include "wavelet_json.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CV_JSON_DOUBLE_MAX 40

/* The shortest of %.15g/%.16g/%.17g that reads back to the same bits; a
 * float-looking form (".0" added to integral text so -0 survives parsers
 * that would read "-0" as the integer 0). */
static void json_double(char buf[CV_JSON_DOUBLE_MAX], double v) {
  if (!isfinite(v)) {
    snprintf(buf, CV_JSON_DOUBLE_MAX, "null");
    return;
  }
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(buf, CV_JSON_DOUBLE_MAX, "%.*g", prec, v);
    for (char *p = buf; *p; p++)
      if (*p == ',') *p = '.';   /* a non-C LC_NUMERIC */
    double back = strtod(buf, NULL);
    if (memcmp(&back, &v, sizeof v) == 0) break;
  }
  if (!strpbrk(buf, ".eEn")) strcat(buf, ".0");
}

static cJSON *taps_array(const double *taps, int n) {
  cJSON *arr = cJSON_CreateArray();
  if (!arr) return NULL;
  char num[CV_JSON_DOUBLE_MAX];
  for (int i = 0; i < n; i++) {
    json_double(num, taps[i]);
    cJSON *item = cJSON_CreateRaw(num);
    if (!item) {
      cJSON_Delete(arr);
      return NULL;
    }
    cJSON_AddItemToArray(arr, item);
  }
  return arr;
}

char *cv_wavelets_list_json(void) {
  cJSON *root = cJSON_CreateObject();
  cJSON *list = root ? cJSON_AddArrayToObject(root, "wavelets") : NULL;
  char *out = NULL;
  if (!list) goto done;
  for (int i = 0; i < cv_wavelet_count(); i++) {
    const cv_wavelet_info_t *w = cv_wavelet_get(i);
    cJSON *o = cJSON_CreateObject();
    if (!o) goto done;
    cJSON_AddItemToArray(list, o);
    if (!cJSON_AddStringToObject(o, "name", w->name) ||
        !cJSON_AddStringToObject(o, "family", w->family))
      goto done;
  }
  out = cJSON_PrintUnformatted(root);
done:
  cJSON_Delete(root);
  return out;
}

char *cv_wavelet_json(const cv_wavelet_info_t *w) {
  if (!w) return NULL;
  char *out = NULL;
  cJSON *root = cJSON_CreateObject(), *filters = NULL;
  if (!root || !cJSON_AddStringToObject(root, "name", w->name) ||
      !cJSON_AddStringToObject(root, "family", w->family) ||
      !(filters = cJSON_AddObjectToObject(root, "filters")))
    goto done;
  static const char *const keys[4] = {"dec_lo", "dec_hi", "rec_lo", "rec_hi"};
  const double *const taps[4] = {w->dec_lo, w->dec_hi, w->rec_lo, w->rec_hi};
  const int lens[4] = {w->dec_len, w->dec_len, w->rec_len, w->rec_len};
  for (int k = 0; k < 4; k++) {
    cJSON *arr = taps_array(taps[k], lens[k]);
    if (!arr) goto done;
    cJSON_AddItemToObject(filters, keys[k], arr);
  }
  if (!cJSON_AddBoolToObject(root, "orthogonal", w->orthogonal) ||
      !cJSON_AddBoolToObject(root, "biorthogonal", w->biorthogonal) ||
      !cJSON_AddStringToObject(root, "symmetry", w->symmetry))
    goto done;
  cJSON *vm = w->vanishing_moments_psi < 0
                  ? cJSON_AddNullToObject(root, "vanishing_moments_psi")
                  : cJSON_AddNumberToObject(root, "vanishing_moments_psi", w->vanishing_moments_psi);
  if (!vm || !cJSON_AddNumberToObject(root, "dec_len", w->dec_len)) goto done;
  out = cJSON_PrintUnformatted(root);
done:
  cJSON_Delete(root);
  return out;
}
