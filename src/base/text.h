/* text.h - writing strings safely into CSV and JSON output.
 * File names may hold commas, quotes, newlines and invalid UTF-8; these
 * helpers keep every output row parseable. */
#ifndef ORDO_TEXT_H
#define ORDO_TEXT_H

#include <stdio.h>

/* Writes s as a CSV field (RFC 4180): quoted when it holds a comma, quote,
 * CR or LF, with quotes doubled. */
void ordo_text_csv(FILE *f, const char *s);

/* Writes n CSV fields (ordo_text_csv each) separated by commas, no line end. */
void ordo_text_csv_fields(FILE *f, const char *const *v, int n);

/* Writes s as a JSON string literal, quotes included. Control characters are
 * escaped; bytes that are not valid UTF-8 become U+FFFD so the output is
 * always valid JSON. */
void ordo_text_json(FILE *f, const char *s);

/* 1 if s is valid UTF-8. */
int ordo_text_utf8_valid(const char *s);

#endif
