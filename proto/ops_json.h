/* ops_json.h — the body of GET /v1/ops (design.md §2): every op with its
 * accepted dtypes, documented parameters (name, type, default, help) and
 * input/output names, from the op registry's doc tables. Shared by convoyd
 * and `convoy ops`. Pure; any thread. */
#ifndef CV_OPS_JSON_H
#define CV_OPS_JSON_H

#include <cjson/cJSON.h>

/* {"ops":[{"name","dtypes":[…],"parameters":[{"name","type","default","help"}],
 *  "inputs":[…],"outputs":[…]}]} as a cJSON tree (caller: cJSON_Delete);
 * NULL when out of memory. */
cJSON *cv_ops_json(void);

/* The same, printed unformatted: a malloc'd string (free with free()) and
 * its length; NULL when out of memory. */
char *cv_ops_json_text(size_t *len);

#endif
