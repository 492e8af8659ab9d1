/* test.h - a minimal test harness. Each tests/test_*.c is one program:
 *
 *   static void t_sniff(void) { CHECK(x == 1); CHECK_MSG(ok, "why %d", v); }
 *   int main(void) { RUN(t_sniff); return test_summary(); }
 *
 * A test passes when none of its CHECKs failed. SKIP("reason") ends a test
 * as skipped (for example when ../shared is absent). The program's last line
 * is "N passed, N failed, N skipped"; tests/run.sh adds them up.
 */
#ifndef ORDO_TEST_H
#define ORDO_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failed_now, test_skipped_now;
static int test_npass, test_nfail, test_nskip;

#define CHECK_MSG(cond, ...)                                                  \
    do {                                                                      \
        if (!(cond)) {                                                        \
            printf("    %s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
            printf(__VA_ARGS__);                                              \
            printf("\n");                                                     \
            test_failed_now = 1;                                              \
        }                                                                     \
    } while (0)
#define CHECK(cond) CHECK_MSG(cond, "%s", "")
#define SKIP(...)                                                             \
    do {                                                                      \
        printf("    skip: ");                                                 \
        printf(__VA_ARGS__);                                                  \
        printf("\n");                                                         \
        test_skipped_now = 1;                                                 \
        return;                                                               \
    } while (0)

#define RUN(fn)                                                               \
    do {                                                                      \
        test_failed_now = test_skipped_now = 0;                               \
        fflush(stdout);                                                       \
        fn();                                                                 \
        if (test_failed_now) { test_nfail++; printf("FAIL %s\n", #fn); }    \
        else if (test_skipped_now) { test_nskip++; printf("skip %s\n", #fn); } \
        else { test_npass++; printf("ok   %s\n", #fn); }                      \
        fflush(stdout);                                                       \
    } while (0)

static inline int test_summary(void)
{
    printf("%d passed, %d failed, %d skipped\n", test_npass, test_nfail, test_nskip);
    return test_nfail ? 1 : 0;
}

/* Where the shared test data lives: $ORDO_DATA, else ../shared. */
static inline const char *test_data_dir(void)
{
    const char *d = getenv("ORDO_DATA");
    return d && *d ? d : "../shared";
}

#endif
