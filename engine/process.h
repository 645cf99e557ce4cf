/* process.h — process-wide settings both convoyd and the convoy CLI make
 * first thing in main, before any thread or OpenMP region: OpenMP's passive
 * wait policy (one re-exec when the environment does not set one) and
 * malloc's trim and mmap thresholds. Main thread, once. */
#ifndef CV_PROCESS_H
#define CV_PROCESS_H

void cv_process_setup(char **argv);

#endif
