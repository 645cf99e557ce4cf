/* queue.c — priority FIFO lists for queued jobs; see queue.h. Callers hold
 * the engine mutex. */
#include "queue.h"

#include <string.h>

void cv_queue_init(cv_queue_t *q) { memset(q, 0, sizeof *q); }

static int prio(const cv_job_t *j) {
  return j->priority < 0 ? 0 : j->priority >= CV_PRIORITY_LEVELS ? CV_PRIORITY_LEVELS - 1 : j->priority;
}

void cv_queue_push(cv_queue_t *q, cv_job_t *j) {
  int p = prio(j);
  j->next = NULL;
  if (q->tail[p])
    q->tail[p]->next = j;
  else
    q->head[p] = j;
  q->tail[p] = j;
  q->n++;
}

/* Unlinks j, whose predecessor in list p is prev (NULL = head). */
static void unlink_at(cv_queue_t *q, int p, cv_job_t *prev, cv_job_t *j) {
  if (prev)
    prev->next = j->next;
  else
    q->head[p] = j->next;
  if (q->tail[p] == j) q->tail[p] = prev;
  j->next = NULL;
  q->n--;
}

cv_job_t *cv_queue_pop(cv_queue_t *q) {
  for (int p = 0; p < CV_PRIORITY_LEVELS; p++)
    if (q->head[p]) {
      cv_job_t *j = q->head[p];
      unlink_at(q, p, NULL, j);
      return j;
    }
  return NULL;
}

cv_job_t *cv_queue_pop_for(cv_queue_t *q, uint32_t mask) {
  for (int p = 0; p < CV_PRIORITY_LEVELS; p++)
    for (cv_job_t *prev = NULL, *it = q->head[p]; it; prev = it, it = it->next)
      if (it->device_mask & mask) {
        unlink_at(q, p, prev, it);
        return it;
      }
  return NULL;
}

bool cv_queue_remove(cv_queue_t *q, cv_job_t *j) {
  int p = prio(j);
  for (cv_job_t *prev = NULL, *it = q->head[p]; it; prev = it, it = it->next)
    if (it == j) {
      unlink_at(q, p, prev, j);
      return true;
    }
  return false;
}

cv_job_t *cv_queue_take_like(cv_queue_t *q, const cv_job_t *like, uint32_t mask) {
  for (int p = 0; p < CV_PRIORITY_LEVELS; p++)
    for (cv_job_t *prev = NULL, *it = q->head[p]; it; prev = it, it = it->next)
      if ((it->device_mask & mask) && cv_job_same_key(it, like)) {
        unlink_at(q, p, prev, it);
        return it;
      }
  return NULL;
}
