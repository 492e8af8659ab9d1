/* test_wordnet.c - ImageNet classes and the WordNet 3.0 hierarchy.
 * Hierarchy checks on the real data.noun skip when wordnet-base is absent;
 * parser checks use synthetic files written to a temporary directory. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include "wordnet/wordnet.h"

static ordo_wn *real_wn(void)   /* NULL (and the test skips) without WordNet */
{
    ordo_err err = {{0}};
    ordo_wn *wn = ordo_wn_open(NULL, &err);
    if (wn && !ordo_wn_has_hierarchy(wn)) {
        ordo_wn_free(wn);
        return NULL;
    }
    return wn;
}

#define NEED_WN(wn)                                                           \
    ordo_wn *wn = real_wn();                                                  \
    if (!wn) SKIP("WordNet data.noun not found (apt-get install wordnet-base)")

static void t_classes_without_wordnet(void)
{
    ordo_err err = {{0}};
    ordo_wn *wn = ordo_wn_open("none", &err);
    CHECK_MSG(wn != NULL, "%s", err.msg);
    if (!wn) return;
    CHECK(!ordo_wn_has_hierarchy(wn));
    CHECK(!strcmp(ordo_wn_class_wnid(wn, 0), "n01440764"));
    CHECK(!strcmp(ordo_wn_class_name(wn, 0), "n01440764"));   /* wnid as name */
    CHECK(!strcmp(ordo_wn_class_wnid(wn, 999), "n15075141"));
    CHECK(ordo_wn_class_wnid(wn, 1000) == NULL && ordo_wn_class_wnid(wn, -1) == NULL);
    CHECK(ordo_wn_class_index(wn, "n01440764") == 0);
    CHECK(ordo_wn_class_index(wn, "n15075141") == 999);
    CHECK(ordo_wn_class_index(wn, "n04037443") == 751);
    CHECK(ordo_wn_class_index(wn, "n00000000") == -1);
    CHECK(ordo_wn_class_index(wn, "") == -1 && ordo_wn_class_index(wn, NULL) == -1);
    /* Every wnid maps back to its index: the list is sorted and unique. */
    int ok = 1;
    for (int c = 0; c < ORDO_WN_CLASSES; c++)
        ok &= ordo_wn_class_index(wn, ordo_wn_class_wnid(wn, c)) == c;
    CHECK(ok);
    /* Hierarchy calls fail with a message, not a crash. */
    err.msg[0] = 0;
    CHECK(ordo_wn_lookup(wn, "n04285146", &err) == -1);
    CHECK_MSG(strstr(err.msg, "WordNet") != NULL, "%s", err.msg);
    float w[ORDO_WN_CLASSES];
    long s = 4285146;
    CHECK(ordo_wn_class_weights(wn, &s, 1, w, &err) == -1);
    CHECK(ordo_wn_class_under(wn, 0, 1440764) == 0);
    long a[4];
    CHECK(ordo_wn_class_ancestors(wn, 0, a, 4) == -1);
    CHECK(!strcmp(ordo_wn_synset_name(wn, 1440764), ""));
    ordo_wn_free(wn);
}

static void t_shared_wnids_match(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/imagenet/wnids.txt", test_data_dir());
    FILE *f = fopen(path, "r");
    if (!f) SKIP("%s absent", path);
    ordo_err err = {{0}};
    ordo_wn *wn = ordo_wn_open("none", &err);
    char line[64];
    int c = 0, bad = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (c >= ORDO_WN_CLASSES || strcmp(line, ordo_wn_class_wnid(wn, c))) bad++;
        c++;
    }
    fclose(f);
    CHECK_MSG(c == ORDO_WN_CLASSES && bad == 0, "%d lines, %d mismatches", c, bad);
    ordo_wn_free(wn);
}

static void t_names(void)
{
    NEED_WN(wn);
    CHECK(!strcmp(ordo_wn_class_name(wn, 0), "tench, Tinca tinca"));
    int racer = ordo_wn_class_index(wn, "n04037443");
    CHECK(racer == 751);
    CHECK_MSG(!strcmp(ordo_wn_class_name(wn, racer), "racer, race car, racing car"), "%s",
              ordo_wn_class_name(wn, racer));
    CHECK(!strcmp(ordo_wn_class_name(wn, 999), "toilet tissue, toilet paper, bathroom tissue"));
    CHECK(!strcmp(ordo_wn_synset_name(wn, 4285146), "sports equipment"));
    CHECK(!strcmp(ordo_wn_synset_name(wn, 12345), ""));       /* not a synset */
    ordo_wn_free(wn);
}

static void t_hierarchy(void)
{
    NEED_WN(wn);
    const long dog = 2084071, equipment = 3294048, sports_eq = 4285146, game_eq = 3414162;
    /* ILSVRC's 118 dog breeds are classes 151..268, all under 'dog'. */
    int n = 0, in_range = 1;
    for (int c = 0; c < ORDO_WN_CLASSES; c++)
        if (ordo_wn_class_under(wn, c, dog)) {
            n++;
            in_range &= c >= 151 && c <= 268;
        }
    CHECK_MSG(n == 118 && in_range, "%d classes under dog", n);
    CHECK(!ordo_wn_class_under(wn, 0, dog));
    /* A synset is under itself. */
    CHECK(ordo_wn_class_under(wn, 0, 1440764));
    /* WordNet 3.0: tennis ball < ball < game equipment < equipment; it is
     * NOT under sports equipment (baseball and basketball are). */
    int tb = ordo_wn_class_index(wn, "n04409515");
    CHECK(ordo_wn_class_under(wn, tb, game_eq));
    CHECK(ordo_wn_class_under(wn, tb, equipment));
    CHECK(!ordo_wn_class_under(wn, tb, sports_eq));
    CHECK(ordo_wn_class_under(wn, ordo_wn_class_index(wn, "n02799071"), sports_eq)); /* baseball */
    /* Bad arguments: no crash, just "no". */
    CHECK(!ordo_wn_class_under(wn, -1, dog) && !ordo_wn_class_under(wn, 1000, dog));
    CHECK(!ordo_wn_class_under(wn, 0, 99999999));
    /* Ancestors: itself first, then nearer before farther, ending at entity. */
    long a[64];
    int na = ordo_wn_class_ancestors(wn, 0, a, 64);
    CHECK(na > 5 && na <= 64);
    if (na > 5 && na <= 64) {
        CHECK(a[0] == 1440764);
        CHECK(a[1] == 1439121);   /* its direct hypernym: cyprinid */
        int fish = 0;
        for (int i = 0; i < na; i++) fish |= a[i] == 2512053;
        CHECK(fish);
        CHECK(a[na - 1] == 1740);   /* entity */
    }
    CHECK(ordo_wn_class_ancestors(wn, 0, a, 2) == na);   /* total even if cap small */
    ordo_wn_free(wn);
}

static void t_lookup(void)
{
    NEED_WN(wn);
    ordo_err err = {{0}};
    CHECK(ordo_wn_lookup(wn, "n04285146", &err) == 4285146);
    CHECK(ordo_wn_lookup(wn, "04285146", &err) == 4285146);
    CHECK(ordo_wn_lookup(wn, "sports equipment", &err) == 4285146);
    CHECK(ordo_wn_lookup(wn, "Sports_Equipment", &err) == 4285146);
    CHECK(ordo_wn_lookup(wn, "sports_equipment.n.01", &err) == 4285146);
    CHECK(ordo_wn_lookup(wn, "dog.n.01", &err) == 2084071);
    CHECK(ordo_wn_lookup(wn, "dog#1", &err) == 2084071);
    CHECK(ordo_wn_lookup(wn, "dog.n.07", &err) == 2710044);   /* andiron */
    CHECK(ordo_wn_lookup(wn, "tennis ball", &err) == 4409515);
    err.msg[0] = 0;
    CHECK(ordo_wn_lookup(wn, "dog", &err) == -1);
    CHECK_MSG(strstr(err.msg, "ambiguous") && strstr(err.msg, "dog.n.01 = n02084071"), "%s",
              err.msg);
    CHECK(ordo_wn_lookup(wn, "dog.n.08", &err) == -1);
    CHECK(ordo_wn_lookup(wn, "dog.n.0", &err) == -1);
    CHECK(ordo_wn_lookup(wn, "n99999999", &err) == -1);
    CHECK(ordo_wn_lookup(wn, "n0428514", &err) == -1);       /* 7 digits: a lemma, none */
    CHECK(ordo_wn_lookup(wn, "no such thing at all", &err) == -1);
    CHECK(ordo_wn_lookup(wn, "", &err) == -1);
    char big[1000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    CHECK(ordo_wn_lookup(wn, big, &err) == -1);
    ordo_wn_free(wn);
}

static void t_mass(void)
{
    NEED_WN(wn);
    float p[ORDO_WN_CLASSES] = {0};
    int tb = ordo_wn_class_index(wn, "n04409515");
    p[tb] = 1;
    CHECK(ordo_wn_mass(wn, p, 3294048) == 1.0);   /* equipment */
    CHECK(ordo_wn_mass(wn, p, 4409515) == 1.0);   /* itself */
    CHECK(ordo_wn_mass(wn, p, 4285146) == 0.0);   /* sports equipment */
    CHECK(ordo_wn_mass(wn, p, 2084071) == 0.0);   /* dog */
    CHECK(ordo_wn_mass(wn, p, 99999999) == 0.0);  /* unknown synset */
    for (int c = 0; c < ORDO_WN_CLASSES; c++) p[c] = 0.001f;
    CHECK(fabs(ordo_wn_mass(wn, p, 2084071) - 0.118) < 1e-5);
    CHECK(fabs(ordo_wn_mass(wn, p, 1740) - 1.0) < 1e-4);   /* entity: everything */
    /* class_weights agrees with class_under, as a union over the list. */
    long s[2] = {2084071, 4285146};
    float w[ORDO_WN_CLASSES];
    ordo_err err = {{0}};
    CHECK(ordo_wn_class_weights(wn, s, 2, w, &err) == 0);
    int ok = 1, n = 0;
    for (int c = 0; c < ORDO_WN_CLASSES; c++) {
        int want = ordo_wn_class_under(wn, c, s[0]) || ordo_wn_class_under(wn, c, s[1]);
        ok &= w[c] == (float)want;
        n += want;
    }
    CHECK(ok && n == 118 + 10);
    long bad = 12345;
    CHECK(ordo_wn_class_weights(wn, &bad, 1, w, &err) == -1);
    ordo_wn_free(wn);
}

static void t_coarse(void)
{
    NEED_WN(wn);
    const long *cs;
    int n = ordo_wn_default_coarse(&cs);
    int g[ORDO_WN_CLASSES];
    ordo_err err = {{0}};
    CHECK(n > 5);
    CHECK_MSG(ordo_wn_coarse(wn, cs, n, g, &err) == 0, "%s", err.msg);
    int ok = 1, other = 0;
    for (int c = 0; c < ORDO_WN_CLASSES; c++) {
        ok &= g[c] >= 0 && g[c] <= n;
        if (g[c] < n) ok &= ordo_wn_class_under(wn, c, cs[g[c]]);
        other += g[c] == n;
    }
    CHECK(ok);
    CHECK_MSG(other < 150, "%d classes in 'other'", other);
    CHECK(cs[g[151]] == 2084071);    /* Chihuahua: the dog group, not "mammal" */
    /* The first listed synset wins. */
    long two[2] = {1740, 2084071};   /* entity first: everything in group 0 */
    CHECK(ordo_wn_coarse(wn, two, 2, g, &err) == 0 && g[151] == 0 && g[0] == 0);
    long bad = 12345;
    CHECK(ordo_wn_coarse(wn, &bad, 1, g, &err) == -1);
    ordo_wn_free(wn);
}

/* ---- synthetic data.noun files ------------------------------------------ */

static char tmpdir[64];

static const char *tmp_path(const char *name)
{
    static char p[128];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    return p;
}

/* A minimal but complete data.noun: a root, a parent, and the 1000 classes;
 * class 0 reaches the parent through an instance hypernym (@i). */
static void write_synthetic(FILE *f)
{
    ordo_wn *ids = ordo_wn_open("none", NULL);
    fprintf(f, "  1 a license header line  \n  2 another  \n");
    fprintf(f, "00000100 03 n 01 root_thing 0 000 | the root\n");
    fprintf(f, "00000200 03 n 02 named_parent 0 Parent_Two 1 001 @ 00000100 n 0000 | p\n");
    for (int c = 0; c < ORDO_WN_CLASSES; c++)
        fprintf(f, "%s 05 n 01 class_%d 0 001 %s 00000200 n 0000 | gloss %d\n",
                ordo_wn_class_wnid(ids, c) + 1, c, c == 0 ? "@i" : "@", c);
    ordo_wn_free(ids);
}

static void t_synthetic_instance_hypernym(void)
{
    FILE *f = fopen(tmp_path("data.noun"), "w");
    if (!f) SKIP("cannot write %s", tmp_path("data.noun"));
    write_synthetic(f);
    fclose(f);
    ordo_err err = {{0}};
    ordo_wn *wn = ordo_wn_open(tmpdir, &err);   /* a directory works too */
    CHECK_MSG(wn != NULL, "%s", err.msg);
    if (!wn) return;
    CHECK(ordo_wn_has_hierarchy(wn));
    CHECK(!strcmp(ordo_wn_class_name(wn, 0), "class 0"));
    CHECK(!strcmp(ordo_wn_synset_name(wn, 200), "named parent, Parent Two"));
    CHECK(ordo_wn_class_under(wn, 0, 200) && ordo_wn_class_under(wn, 0, 100));   /* via @i */
    CHECK(ordo_wn_class_under(wn, 999, 100));
    float p[ORDO_WN_CLASSES];
    for (int c = 0; c < ORDO_WN_CLASSES; c++) p[c] = 0.001f;
    CHECK(fabs(ordo_wn_mass(wn, p, 100) - 1.0) < 1e-4);
    CHECK(ordo_wn_lookup(wn, "Parent two", &err) == 200);   /* case, '_' */
    CHECK(ordo_wn_lookup(wn, "class_7", &err) == atol(ordo_wn_class_wnid(wn, 7) + 1));
    ordo_wn_free(wn);
}

/* Writes the synthetic file cut at `keep` bytes, or with a line replaced. */
static int open_fails(const char *content, size_t len, const char *want, const char *what)
{
    FILE *f = fopen(tmp_path("bad.noun"), "wb");
    if (!f) return 0;
    fwrite(content, 1, len, f);
    fclose(f);
    ordo_err err = {{0}};
    ordo_wn *wn = ordo_wn_open(tmp_path("bad.noun"), &err);
    int ok = wn == NULL && err.msg[0] && (!want || strstr(err.msg, want));
    if (!ok) printf("    %s: wn=%p err='%s' (wanted '%s')\n", what, (void *)wn, err.msg,
                    want ? want : "");
    ordo_wn_free(wn);
    return ok;
}

static void t_corrupt_files(void)
{
    ordo_err err = {{0}};
    CHECK(ordo_wn_open("/nonexistent/wordnet/data.noun", &err) == NULL);
    CHECK(strstr(err.msg, "/nonexistent") != NULL);

    /* The synthetic file in memory, then broken in several ways. */
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    write_synthetic(m);
    fclose(m);
    CHECK(open_fails("", 0, "no noun synsets", "empty"));
    CHECK(open_fails("garbage\n", 8, "line 1", "garbage"));
    CHECK(open_fails(buf, len / 2, NULL, "truncated mid-file"));
    CHECK(open_fails(buf, len - 1, "truncated", "last newline missing"));
    /* Every cut point in the first lines fails cleanly (ASan would catch
     * reads past the end). */
    int all = 1;
    for (size_t k = 1; k < 400 && k < len; k += 7) all &= open_fails(buf, k, NULL, "cut");
    CHECK(all);
    char line[256];
    const char *bad_lines[] = {
        "00000300 03 n 01 x 0 999 | pointer count larger than pointers\n",
        "00000300 03 n zz x 0 000 | bad word count\n",
        "00000300 03 n 01 x 0 001 @ 0000010 n 0000 | short offset\n",
        "00000300 03 n 01 x 0 001 @ 00000777 n 0000 | dangling hypernym\n",
        "00000300 03 v 01 x 0 000 | verb\n",
        "00000300 03 n 01 x 0 000 no gloss bar\n",
        "00000050 03 n 01 x 0 000 | offset goes backwards\n",
    };
    for (size_t i = 0; i < sizeof bad_lines / sizeof bad_lines[0]; i++) {
        /* header + root + the bad line: fails before the class check */
        int n = snprintf(line, sizeof line, "  1 header\n00000100 03 n 01 r 0 000 | r\n%s",
                         bad_lines[i]);
        const char *want = strstr(bad_lines[i], "dangling") ? "not a synset" : "line 3";
        CHECK_MSG(open_fails(line, (size_t)n, want, bad_lines[i]), "%s", bad_lines[i]);
    }
    /* Well-formed but missing the ImageNet classes. */
    const char *small = "00000100 03 n 01 r 0 000 | r\n";
    CHECK(open_fails(small, strlen(small), "lacks class", "no classes"));
    free(buf);
}

/* Single-byte mutations of a valid file: each either loads or fails with a
 * message; never a crash (run under ASan via make san). */
static void t_mutations(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    write_synthetic(m);
    fclose(m);
    static const char repl[] = {' ', '\n', '|', '@', '0', '9', 'f', 'n', 'z', '\0'};
    unsigned seed = 12345;
    int ok = 1, loaded = 0;
    for (int i = 0; i < 300; i++) {
        seed = seed * 1103515245u + 12345u;
        size_t at = (seed >> 8) % len;
        char old = buf[at];
        buf[at] = repl[(seed >> 3) % sizeof repl];
        FILE *f = fopen(tmp_path("mut.noun"), "wb");
        if (!f) break;
        fwrite(buf, 1, len, f);
        fclose(f);
        ordo_err err = {{0}};
        ordo_wn *wn = ordo_wn_open(tmp_path("mut.noun"), &err);
        if (wn) {
            loaded++;
            ok &= ordo_wn_class_name(wn, 500) != NULL;
        } else {
            ok &= err.msg[0] != 0;
        }
        ordo_wn_free(wn);
        buf[at] = old;
    }
    CHECK(ok);
    CHECK(loaded > 0 && loaded < 300);   /* some mutations are harmless, most not */
    free(buf);
}

static void t_truncated_real_copy(void)
{
    const char *src = getenv("ORDO_WORDNET");
    char path[4096];
    snprintf(path, sizeof path, "%s", src && *src ? src : "/usr/share/wordnet/data.noun");
    if (strlen(path) < 9 || strcmp(path + strlen(path) - 9, "data.noun"))
        strncat(path, "/data.noun", sizeof path - strlen(path) - 1);
    FILE *f = fopen(path, "rb");
    if (!f) SKIP("no data.noun at %s", path);
    FILE *g = fopen(tmp_path("trunc.noun"), "wb");
    char chunk[65536];
    size_t total = 0, n;
    while (g && total < 7000000 && (n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        fwrite(chunk, 1, n, g);   /* a copy cut at ~7 MB, mid-line */
        total += n;
    }
    fclose(f);
    if (!g) SKIP("cannot write %s", tmp_path("trunc.noun"));
    fclose(g);
    ordo_err err = {{0}};
    ordo_wn *wn = ordo_wn_open(tmp_path("trunc.noun"), &err);
    CHECK(wn == NULL);
    CHECK_MSG(strstr(err.msg, "trunc") != NULL, "%s", err.msg);
    ordo_wn_free(wn);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ordo_test_wn.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        printf("cannot create a temporary directory\n");
        return 1;
    }
    RUN(t_classes_without_wordnet);
    RUN(t_shared_wnids_match);
    RUN(t_names);
    RUN(t_hierarchy);
    RUN(t_lookup);
    RUN(t_mass);
    RUN(t_coarse);
    RUN(t_synthetic_instance_hypernym);
    RUN(t_corrupt_files);
    RUN(t_mutations);
    RUN(t_truncated_real_copy);
    const char *names[] = {"data.noun", "bad.noun", "trunc.noun", "mut.noun"};
    for (size_t i = 0; i < 4; i++) unlink(tmp_path(names[i]));
    rmdir(tmpdir);
    return test_summary();
}
