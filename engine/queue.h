/* queue.h — the engine's priority queue of jobs: ten intrusive FIFO lists,
 * priority 0 (highest) to 9. Not locked itself: the engine's mutex guards it.
 * The queue holds one job reference per queued job. */
#ifndef CV_QUEUE_H
#define CV_QUEUE_H

#include "job.h"

#define CV_PRIORITY_LEVELS 10

typedef struct cv_queue_s {
  cv_job_t *head[CV_PRIORITY_LEVELS], *tail[CV_PRIORITY_LEVELS];
  int n;
} cv_queue_t;

void cv_queue_init(cv_queue_t *q);
void cv_queue_push(cv_queue_t *q, cv_job_t *j);              /* takes the caller's reference */
cv_job_t *cv_queue_pop(cv_queue_t *q);                        /* highest priority, oldest; NULL if empty */
/* Like cv_queue_pop, among jobs whose device_mask has any bit of mask. */
cv_job_t *cv_queue_pop_for(cv_queue_t *q, uint32_t mask);
bool cv_queue_remove(cv_queue_t *q, cv_job_t *j);            /* true when j was queued (ref returns to caller) */
/* First job with like's batch key that a device in mask may run. */
cv_job_t *cv_queue_take_like(cv_queue_t *q, const cv_job_t *like, uint32_t mask);

#endif
