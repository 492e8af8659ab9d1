/* test_img.c - image decoding and preprocessing.
 *
 * Without arguments: the unit tests (hostile inputs built in memory from
 * tiny embedded files, pixel checks, preprocessing on odd shapes, the fuzz
 * regressions in tests/corpus/img_regress/, a real photo from $ORDO_DATA).
 * tests/test_img_corpus.py adds the larger generated corpus, checked against
 * PIL; tests/test_preprocess.py the comparison with PIL on real photos.
 *
 * With --dump: a helper for tests/test_preprocess.py, which compares ordo
 * with PIL. For each FILE it writes to stdout, little-endian int32s:
 *   status (0 ok, -1 error); on error: msglen, msg bytes;
 *   on success: w, h, orig_w, orig_h, w*h*3 RGB bytes, then if --size S > 0:
 *   S and S*S*3 float32 (the preprocessed tensor), or -1, msglen, msg.
 *   test_img --dump [--min-side N] [--size S] [--crop F] FILE...
 * Also: --bench MIN_SIDE SIZE FILE... (decode + preprocess rate) and
 * --seeds DIR (the tiny files, as fuzzing seeds). */
#include "test.h"

#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "img/img.h"


#include "img/img_internal.h"

/* Tiny valid files of each format (generated once with PIL; the pixel
 * pattern is px(x, y) below), used as seeds for truncation and bit flips. */
/* 8x6 jpg made by PIL */
static const unsigned char tiny_jpg[646] = {
    0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01,
    0x00, 0x01, 0x00, 0x00, 0xff, 0xdb, 0x00, 0x43, 0x00, 0x10, 0x0b, 0x0c, 0x0e, 0x0c, 0x0a, 0x10,
    0x0e, 0x0d, 0x0e, 0x12, 0x11, 0x10, 0x13, 0x18, 0x28, 0x1a, 0x18, 0x16, 0x16, 0x18, 0x31, 0x23,
    0x25, 0x1d, 0x28, 0x3a, 0x33, 0x3d, 0x3c, 0x39, 0x33, 0x38, 0x37, 0x40, 0x48, 0x5c, 0x4e, 0x40,
    0x44, 0x57, 0x45, 0x37, 0x38, 0x50, 0x6d, 0x51, 0x57, 0x5f, 0x62, 0x67, 0x68, 0x67, 0x3e, 0x4d,
    0x71, 0x79, 0x70, 0x64, 0x78, 0x5c, 0x65, 0x67, 0x63, 0xff, 0xdb, 0x00, 0x43, 0x01, 0x11, 0x12,
    0x12, 0x18, 0x15, 0x18, 0x2f, 0x1a, 0x1a, 0x2f, 0x63, 0x42, 0x38, 0x42, 0x63, 0x63, 0x63, 0x63,
    0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63,
    0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63,
    0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0xff, 0xc0,
    0x00, 0x11, 0x08, 0x00, 0x06, 0x00, 0x08, 0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11,
    0x01, 0xff, 0xc4, 0x00, 0x1f, 0x00, 0x00, 0x01, 0x05, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09,
    0x0a, 0x0b, 0xff, 0xc4, 0x00, 0xb5, 0x10, 0x00, 0x02, 0x01, 0x03, 0x03, 0x02, 0x04, 0x03, 0x05,
    0x05, 0x04, 0x04, 0x00, 0x00, 0x01, 0x7d, 0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21,
    0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07, 0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23,
    0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0, 0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17,
    0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a,
    0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a,
    0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a,
    0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99,
    0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7,
    0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5,
    0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1,
    0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xff, 0xc4, 0x00, 0x1f, 0x01, 0x00, 0x03,
    0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0xff, 0xc4, 0x00, 0xb5, 0x11, 0x00,
    0x02, 0x01, 0x02, 0x04, 0x04, 0x03, 0x04, 0x07, 0x05, 0x04, 0x04, 0x00, 0x01, 0x02, 0x77, 0x00,
    0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71, 0x13,
    0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33, 0x52, 0xf0, 0x15,
    0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1, 0x17, 0x18, 0x19, 0x1a, 0x26, 0x27,
    0x28, 0x29, 0x2a, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49,
    0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
    0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88,
    0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6,
    0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4,
    0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe2,
    0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9,
    0xfa, 0xff, 0xda, 0x00, 0x0c, 0x03, 0x01, 0x00, 0x02, 0x11, 0x03, 0x11, 0x00, 0x3f, 0x00, 0xaf,
    0xa7, 0xe8, 0x30, 0xf1, 0xd2, 0x8a, 0x28, 0xaf, 0x3d, 0xce, 0x57, 0xdc, 0xd3, 0x05, 0x88, 0xab,
    0xec, 0x97, 0xbc, 0x7f, 0xff, 0xd9,
};

/* 8x6 png made by PIL */
static const unsigned char tiny_png[84] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x06, 0x08, 0x02, 0x00, 0x00, 0x00, 0x71, 0x67, 0x48,
    0xac, 0x00, 0x00, 0x00, 0x1b, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x64, 0x60, 0x60, 0x90,
    0x63, 0x60, 0xc7, 0x44, 0x2c, 0x0c, 0x1a, 0xbc, 0x0c, 0x0c, 0xec, 0x98, 0x88, 0x1e, 0x12, 0x00,
    0x16, 0x0c, 0x03, 0x17, 0x17, 0x40, 0xff, 0xcd, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44,
    0xae, 0x42, 0x60, 0x82,
};

/* 8x6 gif made by PIL */
static const unsigned char tiny_gif[179] = {
    0x47, 0x49, 0x46, 0x38, 0x37, 0x61, 0x08, 0x00, 0x06, 0x00, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x33, 0x00, 0x00, 0x66, 0x00, 0x00, 0x00, 0x33, 0x00, 0x33, 0x33, 0x00, 0x66, 0x00, 0x33, 0x99,
    0x00, 0x33, 0xcc, 0x00, 0x33, 0x00, 0x33, 0x33, 0x33, 0x33, 0x33, 0x66, 0x33, 0x33, 0x99, 0x33,
    0x33, 0xcc, 0x33, 0x33, 0x00, 0x66, 0x33, 0x33, 0x66, 0x33, 0x66, 0x66, 0x33, 0xcc, 0x66, 0x33,
    0x00, 0x99, 0x33, 0x33, 0x99, 0x33, 0x66, 0x99, 0x33, 0x00, 0xcc, 0x33, 0x33, 0xcc, 0x33, 0xcc,
    0x66, 0x66, 0x66, 0x99, 0x66, 0x99, 0x99, 0x66, 0xcc, 0x99, 0x66, 0x33, 0xcc, 0x66, 0x66, 0xcc,
    0x66, 0x99, 0xcc, 0x66, 0xcc, 0xcc, 0x66, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00,
    0x00, 0x00, 0x08, 0x00, 0x06, 0x00, 0x00, 0x08, 0x38, 0x00, 0x01, 0x04, 0x08, 0x50, 0x40, 0x80,
    0x81, 0x03, 0x07, 0x06, 0x20, 0x20, 0xa0, 0x40, 0xc1, 0x82, 0x05, 0x0c, 0x06, 0x38, 0x48, 0xa0,
    0xe0, 0x01, 0x44, 0x0b, 0x0d, 0x1c, 0x48, 0x78, 0xf0, 0x00, 0x03, 0x04, 0x0b, 0x11, 0x22, 0x48,
    0xb8, 0x30, 0x01, 0x03, 0x86, 0x0c, 0x14, 0x34, 0x54, 0xd8, 0xb0, 0x81, 0x43, 0x87, 0x0e, 0x01,
    0x01, 0x00, 0x3b,
};

/* 8x6 webp made by PIL */
static const unsigned char tiny_webp[52] = {
    0x52, 0x49, 0x46, 0x46, 0x2c, 0x00, 0x00, 0x00, 0x57, 0x45, 0x42, 0x50, 0x56, 0x50, 0x38, 0x4c,
    0x1f, 0x00, 0x00, 0x00, 0x2f, 0x07, 0x40, 0x01, 0x00, 0x99, 0x8c, 0xe8, 0x7f, 0x6c, 0xa2, 0x08,
    0xd1, 0xff, 0x80, 0x90, 0x80, 0x30, 0xc7, 0xff, 0x8d, 0x92, 0x05, 0xe3, 0x31, 0x0d, 0x31, 0x01,
    0x40, 0xad, 0x1b, 0x00,
};

/* 8x6 bmp made by PIL */
static const unsigned char tiny_bmp[198] = {
    0x42, 0x4d, 0xc6, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x36, 0x00, 0x00, 0x00, 0x28, 0x00,
    0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x01, 0x00, 0x18, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x90, 0x00, 0x00, 0x00, 0xc4, 0x0e, 0x00, 0x00, 0xc4, 0x0e, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x41, 0xc8, 0x00, 0x48, 0xc8, 0x1e, 0x4f, 0xc8, 0x3c, 0x56,
    0xc8, 0x5a, 0x5d, 0xc8, 0x78, 0x64, 0xc8, 0x96, 0x6b, 0xc8, 0xb4, 0x72, 0xc8, 0xd2, 0x34, 0xa0,
    0x00, 0x3b, 0xa0, 0x1e, 0x42, 0xa0, 0x3c, 0x49, 0xa0, 0x5a, 0x50, 0xa0, 0x78, 0x57, 0xa0, 0x96,
    0x5e, 0xa0, 0xb4, 0x65, 0xa0, 0xd2, 0x27, 0x78, 0x00, 0x2e, 0x78, 0x1e, 0x35, 0x78, 0x3c, 0x3c,
    0x78, 0x5a, 0x43, 0x78, 0x78, 0x4a, 0x78, 0x96, 0x51, 0x78, 0xb4, 0x58, 0x78, 0xd2, 0x1a, 0x50,
    0x00, 0x21, 0x50, 0x1e, 0x28, 0x50, 0x3c, 0x2f, 0x50, 0x5a, 0x36, 0x50, 0x78, 0x3d, 0x50, 0x96,
    0x44, 0x50, 0xb4, 0x4b, 0x50, 0xd2, 0x0d, 0x28, 0x00, 0x14, 0x28, 0x1e, 0x1b, 0x28, 0x3c, 0x22,
    0x28, 0x5a, 0x29, 0x28, 0x78, 0x30, 0x28, 0x96, 0x37, 0x28, 0xb4, 0x3e, 0x28, 0xd2, 0x00, 0x00,
    0x00, 0x07, 0x00, 0x1e, 0x0e, 0x00, 0x3c, 0x15, 0x00, 0x5a, 0x1c, 0x00, 0x78, 0x23, 0x00, 0x96,
    0x2a, 0x00, 0xb4, 0x31, 0x00, 0xd2,
};

static void px(int x, int y, unsigned char out[3])
{
    out[0] = (unsigned char)(x * 30);
    out[1] = (unsigned char)(y * 40);
    out[2] = (unsigned char)((x * 7 + y * 13) % 256);
}

typedef struct tiny_file { const char *fmt; const unsigned char *p; size_t n; int lossless; } tiny_file;
static const tiny_file tiny[] = {
    {"jpeg", tiny_jpg, sizeof tiny_jpg, 0}, {"png", tiny_png, sizeof tiny_png, 1},
    {"gif", tiny_gif, sizeof tiny_gif, 0},  {"webp", tiny_webp, sizeof tiny_webp, 1},
    {"bmp", tiny_bmp, sizeof tiny_bmp, 1},
};
#define NTINY (sizeof tiny / sizeof tiny[0])

static int one_line(const ordo_err *e) { return e->msg[0] && !strchr(e->msg, '\n'); }

static void t_sniff(void)
{
    for (size_t i = 0; i < NTINY; i++) {
        const char *f = ordo_img_sniff(tiny[i].p, tiny[i].n);
        CHECK_MSG(f && !strcmp(f, tiny[i].fmt), "%s sniffed as %s", tiny[i].fmt, f ? f : "NULL");
    }
    CHECK(ordo_img_sniff((const unsigned char *)"hello", 5) == NULL);
    CHECK(ordo_img_sniff(tiny_jpg, 2) == NULL);
    CHECK(ordo_img_sniff(NULL, 10) == NULL);
    CHECK(ordo_img_sniff((const unsigned char *)"RIFF\0\0\0\0WAVE", 12) == NULL);
}

static void t_tiny_pixels(void)
{
    for (size_t i = 0; i < NTINY; i++) {
        ordo_image im;
        ordo_err err = {{0}};
        int rc = ordo_img_decode(tiny[i].p, tiny[i].n, NULL, &im, &err);
        CHECK_MSG(rc == 0, "%s: %s", tiny[i].fmt, err.msg);
        if (rc) continue;
        CHECK(im.w == 8 && im.h == 6 && im.orig_w == 8 && im.orig_h == 6);
        CHECK(!strcmp(im.format, tiny[i].fmt));
        int worst = 0;
        for (int y = 0; y < 6; y++)
            for (int x = 0; x < 8; x++) {
                unsigned char e[3];
                px(x, y, e);
                for (int c = 0; c < 3; c++) {
                    int d = abs(im.rgb[(y * 8 + x) * 3 + c] - e[c]);
                    if (d > worst) worst = d;
                }
            }
        /* lossless formats exactly; JPEG q50 / GIF's 256-colour palette close */
        int tol = tiny[i].lossless ? 0 : 40;
        CHECK_MSG(worst <= tol, "%s: max pixel error %d > %d", tiny[i].fmt, worst, tol);
        ordo_image_free(&im);
    }
}

static void t_junk(void)
{
    ordo_image im;
    ordo_err err = {{0}};
    CHECK(ordo_img_decode(NULL, 0, NULL, &im, &err) == -1 && strstr(err.msg, "empty"));
    CHECK(im.rgb == NULL);
    const char *txt = "GIF? no, just some text in a file named photo.jpg\n";
    CHECK(ordo_img_decode((const unsigned char *)txt, strlen(txt), NULL, &im, &err) == -1);
    CHECK_MSG(strstr(err.msg, "not an image") && one_line(&err), "%s", err.msg);
    unsigned char rnd[4096];
    uint32_t s = 12345;
    for (int k = 0; k < 50; k++) {
        for (size_t i = 0; i < sizeof rnd; i++) rnd[i] = (unsigned char)((s = s * 1103515245u + 12345u) >> 24);
        /* random bytes behind each magic: must fail cleanly, never crash */
        const char *magic[] = {"\xff\xd8\xff", "\x89PNG\r\n\x1a\n", "RIFF\x10\0\0\0WEBPVP8 ", "GIF89a", "BM"};
        const char *m = magic[k % 5];
        memcpy(rnd, m, strlen(m) + (k % 5 == 2 ? 4 : 0));
        err.msg[0] = 0;
        int rc = ordo_img_decode(rnd, sizeof rnd, NULL, &im, &err);
        if (rc == 0) ordo_image_free(&im);
        else CHECK_MSG(one_line(&err), "random %d: no message", k);
    }
}

/* A JPEG whose frame header declares 60000x60000 must be refused from the
 * header alone (before libjpeg allocates), and the caller's cap is honoured. */
static void t_bomb(void)
{
    unsigned char b[sizeof tiny_jpg];
    memcpy(b, tiny_jpg, sizeof b);
    size_t sof = 0;
    for (size_t i = 2; i + 9 < sizeof b; i++)
        if (b[i] == 0xFF && b[i + 1] == 0xC0) { sof = i; break; }
    CHECK(sof > 0);
    b[sof + 5] = 60000 >> 8; b[sof + 6] = 60000 & 255;
    b[sof + 7] = 60000 >> 8; b[sof + 8] = 60000 & 255;
    ordo_image im;
    ordo_err err = {{0}};
    CHECK(ordo_img_decode(b, sizeof b, NULL, &im, &err) == -1);
    CHECK_MSG(strstr(err.msg, "decompression bomb") && strstr(err.msg, "60000x60000"), "%s", err.msg);
    ordo_img_opts o = {0, 47};  /* 8x6 = 48 pixels: one too many */
    for (size_t i = 0; i < NTINY; i++) {
        CHECK_MSG(ordo_img_decode(tiny[i].p, tiny[i].n, &o, &im, &err) == -1 &&
                  strstr(err.msg, "decompression bomb"), "%s: %s", tiny[i].fmt, err.msg);
    }
    o.max_pixels = 48;
    for (size_t i = 0; i < NTINY; i++) {
        CHECK_MSG(ordo_img_decode(tiny[i].p, tiny[i].n, &o, &im, &err) == 0, "%s", err.msg);
        ordo_image_free(&im);
    }
}

/* Every prefix and every single-byte corruption of each tiny file: no crash,
 * no leak (run under ASan), and a one-line message whenever it fails. */
static void t_truncate_and_flip(void)
{
    for (size_t i = 0; i < NTINY; i++) {
        unsigned char *b = malloc(tiny[i].n);
        int ok_prefixes = 0;
        for (size_t cut = 0; cut < tiny[i].n; cut++) {
            memcpy(b, tiny[i].p, cut);  /* exact-size copy so ASan sees overreads */
            ordo_image im;
            ordo_err err = {{0}};
            unsigned char *c = malloc(cut ? cut : 1);
            memcpy(c, b, cut);
            if (ordo_img_decode(c, cut, NULL, &im, &err) == 0) { ok_prefixes++; ordo_image_free(&im); }
            else CHECK_MSG(one_line(&err), "%s cut %zu: no message", tiny[i].fmt, cut);
            free(c);
        }
        /* Only cuts in the trailer, after every pixel, may decode: JPEG EOI
         * (2 bytes), PNG's last IDAT CRC + IEND (16), GIF terminator (1). */
        CHECK_MSG(ok_prefixes <= 16, "%s: %d truncated prefixes decoded", tiny[i].fmt, ok_prefixes);
        for (size_t pos = 0; pos < tiny[i].n; pos++) {
            memcpy(b, tiny[i].p, tiny[i].n);
            b[pos] ^= 0xA5;
            ordo_image im;
            ordo_err err = {{0}};
            if (ordo_img_decode(b, tiny[i].n, NULL, &im, &err) == 0) ordo_image_free(&im);
            else CHECK_MSG(one_line(&err), "%s flip %zu: no message", tiny[i].fmt, pos);
        }
        free(b);
    }
}

/* A real photo cut at many points: each is refused with a reason. */
static void t_truncated_photo(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/datasets/imagenet-sample/n01440764_tench.JPEG", test_data_dir());
    FILE *f = fopen(path, "rb");
    if (!f) SKIP("%s not found (set ORDO_DATA)", path);
    static unsigned char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    int refused = 0, tried = 0;
    for (size_t cut = 3; cut + 2 < n; cut += n / 97) {
        unsigned char *c = malloc(cut);
        memcpy(c, buf, cut);
        ordo_image im;
        ordo_err err = {{0}};
        tried++;
        if (ordo_img_decode(c, cut, NULL, &im, &err) == 0) ordo_image_free(&im);
        else if (one_line(&err) && (strstr(err.msg, "truncated") || strstr(err.msg, "JPEG"))) refused++;
        free(c);
    }
    CHECK_MSG(refused == tried, "%d of %d truncations refused", refused, tried);
}

static void t_exif_parse(void)
{
    /* "Exif\0\0" + TIFF header + IFD0 with one entry: Orientation = v */
    unsigned char le[] = {'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 42, 0, 8, 0, 0, 0,
                          1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0, 0, 0};
    unsigned char be[] = {'E', 'x', 'i', 'f', 0, 0, 'M', 'M', 0, 42, 0, 0, 0, 8,
                          0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 8, 0, 0, 0, 0};
    CHECK(ordo_img_exif_orientation(le, sizeof le) == 6);
    CHECK(ordo_img_exif_orientation(be, sizeof be) == 8);
    CHECK(ordo_img_exif_orientation(le + 6, sizeof le - 6) == 6);  /* bare TIFF (PNG/WebP) */
    for (size_t n = 0; n < sizeof le; n++)  /* every truncation: default, no overread */
        CHECK(ordo_img_exif_orientation(le, n) == (n >= 28 ? 6 : 1));
    unsigned char bad[sizeof le];
    memcpy(bad, le, sizeof le);
    bad[24] = 9;  /* out of range */
    CHECK(ordo_img_exif_orientation(bad, sizeof bad) == 1);
    memcpy(bad, le, sizeof le);
    bad[10] = 0xF0; bad[11] = 0xFF; bad[12] = 0xFF; bad[13] = 0xFF;  /* IFD offset far away */
    CHECK(ordo_img_exif_orientation(bad, sizeof bad) == 1);
    memcpy(bad, le, sizeof le);
    bad[14] = 0xFF; bad[15] = 0xFF;  /* 65535 entries claimed */
    CHECK(ordo_img_exif_orientation(bad, sizeof bad) == 6);
    bad[16] = 0;  /* and the real one gone: walks to the end, stops */
    CHECK(ordo_img_exif_orientation(bad, sizeof bad) == 1);
}

/* The 8 EXIF orientations on a 3x2 image whose pixels are their own index;
 * expected layouts written out by hand from the EXIF 2.32 definitions. */
static void t_orientation(void)
{
    static const int want[9][6] = {
        {0}, {0},
        {2, 1, 0, 5, 4, 3},   /* 2: mirrored left-right */
        {5, 4, 3, 2, 1, 0},   /* 3: rotated 180 */
        {3, 4, 5, 0, 1, 2},   /* 4: mirrored top-bottom */
        {0, 3, 1, 4, 2, 5},   /* 5: transposed, 2x3 */
        {3, 0, 4, 1, 5, 2},   /* 6: rotated 90 clockwise, 2x3 */
        {5, 2, 4, 1, 3, 0},   /* 7: transversed, 2x3 */
        {2, 5, 1, 4, 0, 3},   /* 8: rotated 90 counter-clockwise, 2x3 */
    };
    for (int o = 2; o <= 8; o++) {
        ordo_image im = {3, 2, 3, 2, "png", malloc(18)};
        for (int i = 0; i < 6; i++) im.rgb[3 * i] = im.rgb[3 * i + 1] = im.rgb[3 * i + 2] = (unsigned char)i;
        ordo_err err;
        CHECK(ordo_img_apply_orientation(&im, o, &err) == 0);
        int sw = o >= 5;
        CHECK(im.w == (sw ? 2 : 3) && im.h == (sw ? 3 : 2));
        CHECK(im.orig_w == im.w && im.orig_h == im.h);
        for (int i = 0; i < 6; i++)
            CHECK_MSG(im.rgb[3 * i] == want[o][i], "orientation %d pixel %d: %d != %d", o, i,
                      im.rgb[3 * i], want[o][i]);
        ordo_image_free(&im);
    }
}

static float *prep(int w, int h, unsigned char v, int size, int *rc)
{
    ordo_image im = {w, h, w, h, "png", malloc((size_t)w * h * 3)};
    memset(im.rgb, v, (size_t)w * h * 3);
    float *t = malloc(sizeof(float) * (size_t)size * size * 3);
    ordo_err err;
    *rc = ordo_img_preprocess(&im, size, 0.875f, t, &err);
    ordo_image_free(&im);
    return t;
}

static void t_preprocess_shapes(void)
{
    CHECK(ordo_img_min_side_for(224, 0.875f) == 256);
    CHECK(ordo_img_min_side_for(240, 0.875f) == 274);
    CHECK(ordo_img_min_side_for(260, 0.875f) == 297);
    /* constant images of any shape stay exactly constant: weights sum to 1 */
    static const int shapes[][2] = {{1, 1}, {1, 7}, {7, 1}, {1, 60000}, {60000, 1},
                                    {5000, 3}, {300, 200}, {224, 224}, {256, 256}, {3000, 2000}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int rc;
        float *t = prep(shapes[s][0], shapes[s][1], 200, 224, &rc);
        CHECK_MSG(rc == 0, "%dx%d", shapes[s][0], shapes[s][1]);
        int bad = 0;
        for (int i = 0; rc == 0 && i < 224 * 224 * 3; i++) bad += t[i] != (200.0f - 127.0f) / 128.0f;
        CHECK_MSG(bad == 0, "%dx%d: %d values off", shapes[s][0], shapes[s][1], bad);
        free(t);
    }
    /* a horizontal ramp stays a non-decreasing ramp */
    ordo_image im = {400, 300, 400, 300, "png", malloc(400 * 300 * 3)};
    for (int y = 0; y < 300; y++)
        for (int x = 0; x < 400; x++) memset(im.rgb + (y * 400 + x) * 3, x * 255 / 399, 3);
    float *t = malloc(sizeof(float) * 224 * 224 * 3);
    ordo_err err;
    CHECK(ordo_img_preprocess(&im, 224, 0.875f, t, &err) == 0);
    int nondec = 1;
    for (int x = 1; x < 224; x++) nondec &= t[(100 * 224 + x) * 3] >= t[(100 * 224 + x - 1) * 3];
    CHECK(nondec);
    CHECK(t[0] > -1.0f && t[223 * 3] < 1.0f);  /* the crop drops the ends */
    CHECK(ordo_img_preprocess(&im, 0, 0.875f, t, &err) == -1 && one_line(&err));
    CHECK(ordo_img_preprocess(&im, 224, 0.0f, t, &err) == -1);
    CHECK(ordo_img_preprocess(&im, 224, 0.0f / 0.0f, t, &err) == -1);
    ordo_image empty = {0, 0, 0, 0, "png", NULL};
    CHECK(ordo_img_preprocess(&empty, 224, 0.875f, t, &err) == -1);
    free(t);
    ordo_image_free(&im);
}

/* The SIMD resize paths (AVX2, AVX-512: picked at run time) must give the
 * portable path's output to the bit, on any shape: tiny rows that fit no
 * 16-byte window, tails, up- and downscales, DCT-scaled extents, saturating
 * black/white edges. ORDO_KERNEL=c|avx2 forces the lower paths. */
static void t_preprocess_simd_paths(void)
{
    static const int cases[][5] = {  /* w, h, orig_w (0: same), size, crop per mille */
        {224, 224, 0, 224, 875}, {500, 375, 0, 224, 875}, {375, 282, 500, 224, 875},
        {1, 1, 0, 5, 875},       {5, 3, 0, 17, 1000},     {6, 9, 0, 224, 875},
        {13, 700, 0, 33, 500},   {700, 13, 0, 240, 875},  {1999, 1001, 0, 260, 875},
        {257, 255, 0, 254, 1000}, {64, 64, 0, 63, 100},   {3000, 40, 0, 224, 875}};
    const char *old = getenv("ORDO_KERNEL");
    char *saved = old ? strdup(old) : NULL;
    uint32_t r = 12345;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int w = cases[c][0], h = cases[c][1], size = cases[c][3];
        float crop = cases[c][4] / 1000.0f;
        ordo_image im = {w, h, w, h, "jpeg", malloc((size_t)w * h * 3)};
        if (cases[c][2]) {  /* decoded at 6/8 of the declared size */
            im.orig_w = cases[c][2];
            im.orig_h = (int)((int64_t)h * 8 / 6);
            while ((im.orig_h * 6 + 7) / 8 > h) im.orig_h--;
            while ((im.orig_h * 6 + 7) / 8 < h) im.orig_h++;
        }
        for (size_t i = 0; i < (size_t)w * h * 3; i++) {
            r ^= r << 13; r ^= r >> 17; r ^= r << 5;
            im.rgb[i] = (c % 3 == 0) ? (unsigned char)r : (r & 1) ? 255 : 0;
        }
        size_t n = (size_t)size * size * 3;
        float *ref = malloc(n * sizeof(float)), *t = malloc(n * sizeof(float));
        ordo_err err;
        setenv("ORDO_KERNEL", "c", 1);
        int rc = ordo_img_preprocess(&im, size, crop, ref, &err);
        CHECK_MSG(rc == 0, "%dx%d portable: %s", w, h, rc ? err.msg : "");
        const char *levels[] = {"avx2", NULL};  /* NULL: the best this CPU has */
        for (int l = 0; l < 2 && rc == 0; l++) {
            if (levels[l]) setenv("ORDO_KERNEL", levels[l], 1);
            else unsetenv("ORDO_KERNEL");
            memset(t, 0xff, n * sizeof(float));
            CHECK_MSG(ordo_img_preprocess(&im, size, crop, t, &err) == 0 &&
                      memcmp(ref, t, n * sizeof(float)) == 0,
                      "%dx%d -> %d (%s) differs from the portable path", w, h, size,
                      levels[l] ? levels[l] : "best");
        }
        free(ref);
        free(t);
        ordo_image_free(&im);
    }
    if (saved) setenv("ORDO_KERNEL", saved, 1);
    else unsetenv("ORDO_KERNEL");
    free(saved);
}

/* DCT-domain downscaling: both sides stay >= min_side, declared size kept;
 * only 1/2, 1/4, 1/8 are used, so a photo under twice min_side is not scaled. */
static void t_dct_scaling(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/datasets/imagenet-sample/n01440764_tench.JPEG", test_data_dir());
    ordo_image full, small, big;
    ordo_err err;
    if (ordo_img_load(path, NULL, &full, &err) != 0) SKIP("%s: %s", path, err.msg);
    ordo_img_opts o = {128, 0};
    CHECK(ordo_img_load(path, &o, &small, &err) == 0);
    CHECK_MSG(small.w == (full.w + 1) / 2 && small.h == (full.h + 1) / 2 && small.h >= 128,
              "%dx%d from %dx%d", small.w, small.h, full.w, full.h);
    CHECK(small.orig_w == full.w && small.orig_h == full.h);
    o.min_side = (full.h + 1) / 2 + 1;  /* 1/2 would go under: full size */
    CHECK(ordo_img_load(path, &o, &big, &err) == 0 && big.w == full.w && big.h == full.h);
    ordo_image_free(&big);
    o.min_side = 100000;  /* never upscales */
    CHECK(ordo_img_load(path, &o, &big, &err) == 0 && big.w == full.w && big.h == full.h);
    /* the scaled decode preprocesses onto the same grid: close to the full one */
    float *a = malloc(sizeof(float) * 224 * 224 * 3), *b = malloc(sizeof(float) * 224 * 224 * 3);
    CHECK(ordo_img_preprocess(&full, 224, 0.875f, a, &err) == 0);
    CHECK(ordo_img_preprocess(&small, 224, 0.875f, b, &err) == 0);
    double mean = 0;
    for (int i = 0; i < 224 * 224 * 3; i++) mean += fabs(a[i] - b[i]);
    mean /= 224 * 224 * 3;
    CHECK_MSG(mean < 0.03, "mean abs diff %g", mean);
    free(a);
    free(b);
    ordo_image_free(&full);
    ordo_image_free(&small);
    ordo_image_free(&big);
}

/* Inputs the fuzzer once crashed on (tests/corpus/img_regress/): each must
 * decode or fail with a one-line message. Run from the repository root. */
static void t_fuzz_regressions(void)
{
    const char *dir = "tests/corpus/img_regress";
    DIR *d = opendir(dir);
    if (!d) SKIP("%s not found (run from the repository root)", dir);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        ordo_img_opts o = {0, INT64_C(1) << 20};
        ordo_image im;
        ordo_err err = {{0}};
        if (ordo_img_load(path, &o, &im, &err) == 0) {
            float *t = malloc(sizeof(float) * 64 * 64 * 3);
            CHECK_MSG(ordo_img_preprocess(&im, 64, 0.875f, t, &err) == 0, "%s: %s", path, err.msg);
            free(t);
            ordo_image_free(&im);
        } else {
            CHECK_MSG(one_line(&err), "%s: message %s", path, err.msg);
        }
        n++;
    }
    closedir(d);
    CHECK(n > 0);
}

static void t_load_errors(void)
{
    ordo_image im;
    ordo_err err = {{0}};
    CHECK(ordo_img_load("/nonexistent/x.jpg", NULL, &im, &err) == -1 && strstr(err.msg, "cannot open"));
    CHECK(ordo_img_load("/", NULL, &im, &err) == -1 && one_line(&err));
    CHECK(ordo_img_decode(tiny_png, sizeof tiny_png, NULL, NULL, &err) == -1);
    /* a (sparse) file over 1 GiB is refused from its size, before reading */
    char tmpl[] = "/tmp/ordo_test_img_XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd < 0) SKIP("mkstemp failed");
    int trunc_ok = ftruncate(fd, (off_t)(1 << 30) + 1) == 0;
    close(fd);
    if (trunc_ok)
        CHECK_MSG(ordo_img_load(tmpl, NULL, &im, &err) == -1 && strstr(err.msg, "larger than"), "%s", err.msg);
    unlink(tmpl);
}

static void put32(int32_t v) { fwrite(&v, 4, 1, stdout); }

static void put_err(const char *msg)
{
    put32(-1);
    put32((int32_t)strlen(msg));
    fwrite(msg, 1, strlen(msg), stdout);
}

static int dump_main(int argc, char **argv)
{
    ordo_img_opts opts = {0, 0};
    int size = 0;
    float crop = 0.875f;
    int i = 2;
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "--min-side") && i + 1 < argc) opts.min_side = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--size") && i + 1 < argc) size = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--crop") && i + 1 < argc) crop = (float)atof(argv[++i]);
        else break;
    }
    float *t = size > 0 ? malloc(sizeof(float) * (size_t)size * size * 3) : NULL;
    for (; i < argc; i++) {
        ordo_image im;
        ordo_err err = {{0}};
        if (ordo_img_load(argv[i], &opts, &im, &err) != 0) { put_err(err.msg); continue; }
        put32(0);
        put32(im.w); put32(im.h); put32(im.orig_w); put32(im.orig_h);
        fwrite(im.rgb, 1, (size_t)im.w * im.h * 3, stdout);
        if (size > 0) {
            if (ordo_img_preprocess(&im, size, crop, t, &err) != 0) {
                put_err(err.msg);
            } else {
                put32(size);
                fwrite(t, sizeof(float), (size_t)size * size * 3, stdout);
            }
        }
        ordo_image_free(&im);
    }
    free(t);
    return 0;
}

/* Times decode + preprocess over FILEs: test_img --bench MIN_SIDE SIZE FILE... */
static int bench_main(int argc, char **argv)
{
    if (argc < 5) return 2;
    ordo_img_opts opts = {atoi(argv[2]), 0};
    int size = atoi(argv[3]);
    float *t = malloc(sizeof(float) * (size_t)size * size * 3);
    /* CPU time as well as wall time: the figure that survives a busy machine */
    struct timespec a, b, ca, cb;
    int n = 0;
    clock_gettime(CLOCK_MONOTONIC, &a);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ca);
    for (int i = 4; i < argc; i++) {
        ordo_image im;
        ordo_err err;
        if (ordo_img_load(argv[i], &opts, &im, &err) != 0) continue;
        if (ordo_img_preprocess(&im, size, 0.875f, t, &err) == 0) n++;
        ordo_image_free(&im);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cb);
    double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) * 1e-9;
    double c = (double)(cb.tv_sec - ca.tv_sec) + (double)(cb.tv_nsec - ca.tv_nsec) * 1e-9;
    printf("%d images: %.1f images/s wall, %.1f images/s per CPU-second "
           "(min_side %d, size %d, 1 thread)\n", n, n / s, n / c, opts.min_side, size);
    free(t);
    return 0;
}

/* ---- progressive JPEGs: the lean decode (jpeg.c) ------------------------ */

#include <jpeglib.h>

/* A w x h JPEG of a textured pattern (plenty of AC energy in every
 * component), encoded by libjpeg in memory: ncomp 1 (grey) or 3, chroma
 * subsampled 2x2 (4:2:0) or not, progressive with libjpeg's own scan script
 * (jpeg_simple_progression, what Pillow and cjpeg write), restart interval
 * in MCU rows (0: none). */
static unsigned char *make_jpeg(int w, int h, int ncomp, int sub420, int progressive,
                                int restart_rows, unsigned long *len)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    unsigned char *out = NULL;
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &out, len);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = ncomp;
    c.in_color_space = ncomp == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 90, TRUE);
    if (ncomp == 3 && !sub420) c.comp_info[0].h_samp_factor = c.comp_info[0].v_samp_factor = 1;
    if (progressive) jpeg_simple_progression(&c);
    c.restart_in_rows = restart_rows;
    jpeg_start_compress(&c, TRUE);
    unsigned char *row = malloc((size_t)w * ncomp);
    unsigned s = 12345;
    while (c.next_scanline < c.image_height) {
        const int y = (int)c.next_scanline;
        for (int x = 0; x < w; x++)
            for (int k = 0; k < ncomp; k++) {
                s = s * 1103515245u + 12345u;
                const int v = 128 + (int)(90 * sin(x * (0.13 + 0.05 * k) + y * 0.07 * (k + 1))) +
                              (int)((s >> 16) % 31) - 15;
                row[(size_t)x * ncomp + k] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(row);
    return out;
}

/* The lean decode of a progressive file gives exactly the full decode's
 * pixels at the same DCT scale (grey, 4:4:4, 4:2:0, with and without
 * restart markers, odd sizes), actually leaves scans out where it can, and
 * fails on a truncated or damaged file as the full decode does. */
static void t_progressive_lean(void)
{
    static const struct { int ncomp, sub420, restart, w, h; } cases[] = {
        {3, 1, 0, 203, 157}, {3, 0, 0, 160, 128}, {1, 0, 0, 131, 140}, {3, 1, 2, 250, 190},
        {3, 0, 1, 129, 300},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        unsigned long len = 0;
        unsigned char *jpg = make_jpeg(cases[k].w, cases[k].h, cases[k].ncomp, cases[k].sub420,
                                       1, cases[k].restart, &len);
        /* min_side 16: scale 1/8; 40: 1/4 (luma 2x2: nothing to leave out); 0: full */
        static const int sides[] = {16, 40, 0};
        for (size_t si = 0; si < 3; si++) {
            ordo_image a, b;
            ordo_err ea = {{0}}, eb = {{0}};
            CHECK_MSG(ordo_img_decode_jpeg_scans(jpg, len, sides[si], INT64_C(1) << 30, 0, &a,
                                                 &ea) == 0, "case %zu: %s", k, ea.msg);
            CHECK_MSG(ordo_img_decode_jpeg_scans(jpg, len, sides[si], INT64_C(1) << 30, 1, &b,
                                                 &eb) == 0, "case %zu: %s", k, eb.msg);
            CHECK(a.w == b.w && a.h == b.h && a.orig_w == cases[k].w);
            if (sides[si] == 16) CHECK(a.w == (cases[k].w + 7) / 8);
            CHECK_MSG(a.w == b.w && a.h == b.h && !memcmp(a.rgb, b.rgb, (size_t)a.w * a.h * 3),
                      "case %zu min_side %d: lean pixels differ from the full decode's", k,
                      sides[si]);
            ordo_image_free(&a);
            ordo_image_free(&b);
        }
        /* what is left out: the AC scans of the components seen at 1x1 */
        unsigned char drop[256] = {0};
        drop[1] = 1;                                   /* Y (or grey): id 1 */
        if (!cases[k].sub420) drop[2] = drop[3] = 1;   /* 4:4:4: Cb, Cr at 1x1 too */
        size_t lean = 0;
        unsigned char *l = ordo_img_jpeg_skip_scans(jpg, len, drop, &lean);
        CHECK_MSG(l && lean < len * 3 / 4, "case %zu: %zu of %lu bytes kept", k, lean, len);
        free(l);
        unsigned char none[256] = {0};
        CHECK(!ordo_img_jpeg_skip_scans(jpg, len, none, &lean));   /* nothing to drop */
        /* every truncation fails as the full decode does, same message */
        for (unsigned long cut = 1; cut < len; cut += 1 + cut / 13) {
            ordo_image a, b;
            ordo_err ea = {{0}}, eb = {{0}};
            const int ra = ordo_img_decode_jpeg_scans(jpg, cut, 16, INT64_C(1) << 30, 0, &a, &ea);
            const int rb = ordo_img_decode_jpeg_scans(jpg, cut, 16, INT64_C(1) << 30, 1, &b, &eb);
            CHECK_MSG(ra == rb && ra == -1 && !strcmp(ea.msg, eb.msg) && one_line(&ea),
                      "case %zu cut %lu: %d '%s' vs %d '%s'", k, cut, ra, ea.msg, rb, eb.msg);
            if (ra == 0) ordo_image_free(&a);
            if (rb == 0) ordo_image_free(&b);
        }
        /* damaged bytes anywhere: decoded or refused with one line, never a crash */
        unsigned char *bad = malloc(len);
        for (unsigned long pos = 2; pos < len; pos += 1 + pos / 29) {
            memcpy(bad, jpg, len);
            bad[pos] ^= (unsigned char)(0x5A + pos);
            ordo_image a;
            ordo_err ea = {{0}};
            if (ordo_img_decode_jpeg_scans(bad, len, 16, INT64_C(1) << 30, 0, &a, &ea) == 0)
                ordo_image_free(&a);
            else
                CHECK_MSG(one_line(&ea), "case %zu flip %lu: no message", k, pos);
        }
        free(bad);
        free(jpg);
    }
}

/* Writes the tiny files as fuzzing seeds: test_img --seeds DIR */
static int seeds_main(const char *dir)
{
    for (size_t i = 0; i < NTINY; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/tiny.%s", dir, tiny[i].fmt);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(tiny[i].p, 1, tiny[i].n, f) != tiny[i].n) {
            fprintf(stderr, "cannot write %s\n", path);
            if (f) fclose(f);
            return 1;
        }
        fclose(f);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 2 && !strcmp(argv[1], "--seeds")) return seeds_main(argv[2]);
    if (argc > 1 && !strcmp(argv[1], "--dump")) return dump_main(argc, argv);
    if (argc > 1 && !strcmp(argv[1], "--bench")) return bench_main(argc, argv);
    RUN(t_sniff);
    RUN(t_tiny_pixels);
    RUN(t_junk);
    RUN(t_bomb);
    RUN(t_truncate_and_flip);
    RUN(t_truncated_photo);
    RUN(t_exif_parse);
    RUN(t_orientation);
    RUN(t_preprocess_shapes);
    RUN(t_preprocess_simd_paths);
    RUN(t_dct_scaling);
    RUN(t_progressive_lean);
    RUN(t_fuzz_regressions);
    RUN(t_load_errors);
    return test_summary();
}
