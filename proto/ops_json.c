/* ops_json.c — builds GET /v1/ops from cv_op_params_doc, cv_op_dtypes_doc and
 * the inputs/outputs doc strings (comma lists split into arrays). */
#include "ops_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/ops.h"

static cJSON *name_list(const char *csv) {
  cJSON *arr = cJSON_CreateArray();
  char buf[256];
  snprintf(buf, sizeof buf, "%s", csv ? csv : "");
  char *save = NULL;
  for (char *t = strtok_r(buf, ",", &save); arr && t; t = strtok_r(NULL, ",", &save))
    cJSON_AddItemToArray(arr, cJSON_CreateString(t));
  return arr;
}

cJSON *cv_ops_json(void) {
  cJSON *root = cJSON_CreateObject(), *ops = cJSON_AddArrayToObject(root, "ops");
  if (!ops) {
    cJSON_Delete(root);
    return NULL;
  }
  for (int op = 0; op < CV_OP_COUNT; op++) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToArray(ops, o);
    cJSON_AddStringToObject(o, "name", cv_op_name((cv_op_t)op));
    int n = 0;
    const char *const *dt = cv_op_dtypes_doc((cv_op_t)op, &n);
    cJSON_AddItemToObject(o, "dtypes", cJSON_CreateStringArray(dt, n));
    cJSON *params = cJSON_AddArrayToObject(o, "parameters");
    const cv_param_doc_t *pd = cv_op_params_doc((cv_op_t)op, &n);
    for (int i = 0; params && i < n; i++) {
      cJSON *p = cJSON_CreateObject();
      cJSON_AddItemToArray(params, p);
      cJSON_AddStringToObject(p, "name", pd[i].name);
      cJSON_AddStringToObject(p, "type", pd[i].type);
      cJSON *def = pd[i].default_json ? cJSON_Parse(pd[i].default_json) : NULL;
      cJSON_AddItemToObject(p, "default", def ? def : cJSON_CreateNull());
      cJSON_AddStringToObject(p, "help", pd[i].help);
    }
    cJSON_AddItemToObject(o, "inputs", name_list(cv_op_inputs_doc((cv_op_t)op)));
    cJSON_AddItemToObject(o, "outputs", name_list(cv_op_outputs_doc((cv_op_t)op)));
  }
  return root;
}

char *cv_ops_json_text(size_t *len) {
  cJSON *root = cv_ops_json();
  if (!root) return NULL;
  char *s = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  if (s && len) *len = strlen(s);
  return s;
}
