#include "base/text.h"

#include <string.h>

void ordo_text_csv(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

void ordo_text_csv_fields(FILE *f, const char *const *v, int n)
{
    for (int i = 0; i < n; i++) {
        if (i) fputc(',', f);
        ordo_text_csv(f, v[i]);
    }
}

/* Length of the valid UTF-8 sequence at s, or 0 if it is not one
 * (overlong forms, surrogates and code points past U+10FFFF are invalid). */
static int utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    if (c < 0x80) return 1;
    int n;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF) { n = 2; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { n = 3; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 4; cp = c & 0x07; }
    else return 0;
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
    return n;
}

int ordo_text_utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = utf8_len(p);
        if (!n) return 0;
        p += n;
    }
    return 1;
}

void ordo_text_json(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', f);
    while (*p) {
        unsigned c = *p;
        if (c == '"' || c == '\\') { fputc('\\', f); fputc((int)c, f); p++; }
        else if (c == '\n') { fputs("\\n", f); p++; }
        else if (c == '\r') { fputs("\\r", f); p++; }
        else if (c == '\t') { fputs("\\t", f); p++; }
        else if (c < 0x20 || c == 0x7F) { fprintf(f, "\\u%04x", c); p++; }
        else if (c < 0x80) { fputc((int)c, f); p++; }
        else {
            int n = utf8_len(p);
            if (n) { fwrite(p, 1, (size_t)n, f); p += n; }
            else { fputs("\\ufffd", f); p++; }
        }
    }
    fputc('"', f);
}
