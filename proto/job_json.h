/* job_json.h — the job JSON of design.md §2 and the error body. The writer
 * appends to a cv_strbuf_t (hand-written, no DOM: the server's hot path and
 * sync 200s with inline data); cv_job_to_json wraps it in a cJSON tree for
 * the CLI. Any thread: a job's changing fields are copied under j->mu, then
 * formatted with no lock held (outputs of a finished job never change). */
#ifndef CV_JOB_JSON_H
#define CV_JOB_JSON_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "../engine/job.h"
#include "strbuf.h"

/* What the server adds to the plain job JSON. Per-output arrays have
 * j->outs.n_out entries; NULL means "none" for every output. */
typedef struct cv_job_json_opts_s {
  const char *url_prefix;           /* "/v1/jobs/" → outputs[n].url; NULL leaves url out */
  const bool *selected;             /* outputs listed; NULL = all */
  const char *const *tensor_ids;    /* "t_…" of kept outputs (NULL entries: not kept) */
  const char *const *paths;         /* disk paths written (NULL entries: none) */
  bool with_data;                   /* succeeded: add each output's data (a sync 200) */
  bool b64;                         /* … as data_b64 */
  int state;                        /* -1: the job's own state; else report this one
                                       (a job whose disk sink is still writing is running) */
  const cv_error_t *error;          /* reported instead of the job's own error when set
                                       (a sink that failed); with state FAILED */
} cv_job_json_opts_t;

/* Opts that give the plain job JSON: no url, every output, no data. */
void cv_job_json_opts_init(cv_job_json_opts_t *o);

/* Appends {"id","op","state","priority","created_at","started_at",
 * "finished_at","queue_ms","run_ms","device","batch_size","outputs","error",
 * "warnings"}; outputs (when succeeded, else null) map each name to
 * {"shape","dtype","bytes"[,"url"][,"tensor"][,"path"][,"data"|"data_b64"]}.
 * 0 or the strbuf's error. */
int cv_job_json_append(cv_strbuf_t *sb, cv_job_t *j, const cv_job_json_opts_t *o);

/* Appends {"error":{"code","message","field"}} (field null when empty;
 * message the code's default when empty). */
int cv_error_json_append(cv_strbuf_t *sb, const cv_error_t *e);

/* The plain job JSON as a cJSON tree (CLI); url_prefix as above. The caller
 * frees it with cJSON_Delete; NULL when out of memory. */
cJSON *cv_job_to_json(cv_job_t *j, const char *url_prefix);

/* {"error":{"code","message","field"}} as a cJSON tree. */
cJSON *cv_error_to_json(const cv_error_t *e);

/* RFC 3339 UTC with milliseconds ("2026-11-25T11:20:00.123Z") into buf (>= 32). */
void cv_format_rfc3339(int64_t rt_ns, char *buf, size_t cap);

#endif
