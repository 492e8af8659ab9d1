/* test_sports.c - the zero-shot sports prior (src/wordnet/sports.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include "wordnet/sports.h"

static ordo_wn *real_wn(void)
{
    ordo_wn *wn = ordo_wn_open(NULL, NULL);
    if (wn && !ordo_wn_has_hierarchy(wn)) {
        ordo_wn_free(wn);
        return NULL;
    }
    return wn;
}

#define NEED_WN(wn)                                                           \
    ordo_wn *wn = real_wn();                                                  \
    if (!wn) SKIP("WordNet data.noun not found (apt-get install wordnet-base)")

static float weight_of(const ordo_sports *sp, const ordo_wn *wn, const char *wnid)
{
    return ordo_sports_class_weights(sp)[ordo_wn_class_index(wn, wnid)];
}

static void t_default_list(void)
{
    NEED_WN(wn);
    ordo_err err = {{0}};
    unsetenv("ORDO_SPORTS_SYNSETS");
    ordo_sports *sp = ordo_sports_new(wn, NULL, &err);
    CHECK_MSG(sp != NULL, "%s", err.msg);
    if (!sp) { ordo_wn_free(wn); return; }
    CHECK(ordo_sports_count(sp) > 10);
    float w0;
    CHECK(ordo_sports_synset(sp, 0, &w0) == 4285146 && w0 == 1.0f);  /* sports equipment */
    CHECK(ordo_sports_synset(sp, -1, NULL) == -1);
    CHECK(ordo_sports_synset(sp, ordo_sports_count(sp), NULL) == -1);
    CHECK(weight_of(sp, wn, "n04037443") == 1.0f);   /* racer */
    CHECK(weight_of(sp, wn, "n04409515") == 1.0f);   /* tennis ball, via game equipment */
    CHECK(weight_of(sp, wn, "n02790996") == 1.0f);   /* barbell, via sports equipment */
    CHECK(weight_of(sp, wn, "n09835506") == 1.0f);   /* ballplayer, via athlete */
    CHECK(weight_of(sp, wn, "n03598930") == 0.0f);   /* jigsaw puzzle: excluded later */
    CHECK(weight_of(sp, wn, "n02837789") == 0.5f);   /* bikini: overrides swimsuit's 1 */
    CHECK(weight_of(sp, wn, "n04371430") == 1.0f);   /* swimming trunks */
    CHECK(weight_of(sp, wn, "n01440764") == 0.0f);   /* tench */
    CHECK(weight_of(sp, wn, "n04285008") == 0.0f);   /* sports car: left out on purpose */
    /* Every weight in [0, 1], and most classes have none. */
    const float *w = ordo_sports_class_weights(sp);
    int ok = 1, n = 0;
    for (int c = 0; c < ORDO_WN_CLASSES; c++) {
        ok &= w[c] >= 0 && w[c] <= 1;
        n += w[c] > 0;
    }
    CHECK(ok && n > 30 && n < 100);
    /* The score is sum(w * p), clamped to [0, 1]. */
    float p[ORDO_WN_CLASSES] = {0};
    p[ordo_wn_class_index(wn, "n04037443")] = 0.6f;   /* racer, w 1 */
    p[ordo_wn_class_index(wn, "n02837789")] = 0.2f;   /* bikini, w 0.5 */
    p[0] = 0.2f;                                      /* tench, w 0 */
    CHECK(fabsf(ordo_sports_score(sp, p) - 0.7f) < 1e-6f);
    for (int c = 0; c < ORDO_WN_CLASSES; c++) p[c] = 1.0f;   /* not a distribution */
    CHECK(ordo_sports_score(sp, p) == 1.0f);
    memset(p, 0, sizeof p);
    CHECK(ordo_sports_score(sp, p) == 0.0f);
    p[5] = NAN;
    CHECK(ordo_sports_score(sp, p) == 0.0f);
    ordo_sports_free(sp);
    ordo_wn_free(wn);
}

static char tmpfile_path[64];

static ordo_sports *from_file(const ordo_wn *wn, const char *text, ordo_err *err)
{
    FILE *f = fopen(tmpfile_path, "w");
    if (!f) return NULL;
    fputs(text, f);
    fclose(f);
    return ordo_sports_new(wn, tmpfile_path, err);
}

static void t_list_file(void)
{
    NEED_WN(wn);
    ordo_err err = {{0}};
    ordo_sports *sp = from_file(wn,
        "# my own list\n"
        "\n"
        "dog.n.01 0.25   # all dogs a little\n"
        "  n02099601  1  # but golden retrievers fully\n"
        "sports equipment\n"
        "tennis_ball 0.75\r\n",
        &err);
    CHECK_MSG(sp != NULL, "%s", err.msg);
    if (sp) {
        CHECK(ordo_sports_count(sp) == 4);
        CHECK(weight_of(sp, wn, "n02085620") == 0.25f);   /* Chihuahua */
        CHECK(weight_of(sp, wn, "n02099601") == 1.0f);    /* golden retriever */
        CHECK(weight_of(sp, wn, "n02790996") == 1.0f);    /* barbell */
        CHECK(weight_of(sp, wn, "n04409515") == 0.75f);
        CHECK(weight_of(sp, wn, "n04037443") == 0.0f);    /* racer: not listed */
        float w;
        CHECK(ordo_sports_synset(sp, 3, &w) == 4409515 && w == 0.75f);
    }
    ordo_sports_free(sp);

    /* The environment variable picks the file when no path is given. */
    setenv("ORDO_SPORTS_SYNSETS", tmpfile_path, 1);
    sp = ordo_sports_new(wn, NULL, &err);
    CHECK(sp && ordo_sports_count(sp) == 4);
    ordo_sports_free(sp);
    unsetenv("ORDO_SPORTS_SYNSETS");

    /* Errors name the file and line. */
    struct { const char *text, *want; } bad[] = {
        {"n04285146\nno such synset at all\n", "line 2"},
        {"dog\n", "ambiguous"},
        {"n04285146 1.5\n", "not in [0, 1]"},
        {"n04285146 -0.1\n", "not in [0, 1]"},
        {"n04285146 nan\n", "not in [0, 1]"},
        {"# only comments\n\n", "no synsets"},
        {"", "no synsets"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err.msg[0] = 0;
        sp = from_file(wn, bad[i].text, &err);
        CHECK_MSG(sp == NULL && strstr(err.msg, bad[i].want) && strstr(err.msg, tmpfile_path),
                  "case %zu: %s", i, err.msg);
        ordo_sports_free(sp);
    }
    err.msg[0] = 0;
    CHECK(ordo_sports_new(wn, "/nonexistent/list.txt", &err) == NULL);
    CHECK(strstr(err.msg, "/nonexistent/list.txt") != NULL);
    /* A binary file is refused, not parsed. */
    FILE *f = fopen(tmpfile_path, "wb");
    if (f) {
        fwrite("n04285146\n\0\x01\x02", 1, 13, f);
        fclose(f);
        CHECK(ordo_sports_new(wn, tmpfile_path, &err) == NULL);
    }
    ordo_wn_free(wn);
}

static void t_without_wordnet(void)
{
    ordo_err err = {{0}};
    ordo_wn *wn = ordo_wn_open("none", &err);
    CHECK(wn != NULL);
    CHECK(ordo_sports_new(wn, NULL, &err) == NULL);
    CHECK_MSG(strstr(err.msg, "WordNet") != NULL, "%s", err.msg);
    ordo_wn_free(wn);
}

int main(void)
{
    snprintf(tmpfile_path, sizeof tmpfile_path, "/tmp/ordo_test_sports_%d.txt", (int)getpid());
    RUN(t_default_list);
    RUN(t_list_file);
    RUN(t_without_wordnet);
    unlink(tmpfile_path);
    return test_summary();
}
