/* runner.c — runs each unit test in a forked child with a timeout and prints
 * TAP. Exit 0 when every test passed or skipped, 1 otherwise. A name given
 * on the command line runs only that test, in-process (for gdb). */
#include "runner.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define CV_TEST_TIMEOUT_S 60
#define CV_TEST_SKIP_CODE 77

void cv_test_skip(const char *reason) {
  fprintf(stdout, "# SKIP %s\n", reason);
  fflush(stdout);
  _exit(CV_TEST_SKIP_CODE);
}

static int timeout_s(void) {
  const char *m = getenv("CV_TEST_TIMEOUT_MULTIPLIER");
  int mul = m ? atoi(m) : 1;
  return CV_TEST_TIMEOUT_S * (mul > 0 ? mul : 1);
}

int cv_test_run_all(const cv_test_t *tests, int n, int argc, char **argv) {
  if (argc > 1) {
    for (int i = 0; i < n; i++)
      if (strcmp(tests[i].name, argv[1]) == 0) {
        tests[i].fn();
        printf("ok - %s\n", tests[i].name);
        return 0;
      }
    fprintf(stderr, "no test named %s\n", argv[1]);
    return 2;
  }
  int failed = 0;
  printf("1..%d\n", n);
  fflush(stdout);
  for (int i = 0; i < n; i++) {
    pid_t pid = fork();
    if (pid < 0) {
      perror("fork");
      return 1;
    }
    if (pid == 0) {
      alarm((unsigned)timeout_s());
      tests[i].fn();
      fflush(stdout);
      exit(0); /* not _exit: LeakSanitizer checks at exit, per test */
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
      printf("ok %d - %s\n", i + 1, tests[i].name);
    } else if (WIFEXITED(st) && WEXITSTATUS(st) == CV_TEST_SKIP_CODE) {
      printf("ok %d - %s # SKIP\n", i + 1, tests[i].name);
    } else {
      failed++;
      if (WIFSIGNALED(st))
        printf("not ok %d - %s (signal %d%s)\n", i + 1, tests[i].name, WTERMSIG(st),
               WTERMSIG(st) == SIGALRM ? ", timeout" : "");
      else
        printf("not ok %d - %s (exit %d)\n", i + 1, tests[i].name, WEXITSTATUS(st));
    }
    fflush(stdout);
  }
  printf("# %d passed, %d failed\n", n - failed, failed);
  return failed ? 1 : 0;
}
