/* wordnet.c - ImageNet classes + WordNet 3.0 noun hierarchy (data.noun).
 *
 * data.noun format (WordNet 3.0, wndb(5)): a license header of lines starting
 * with two spaces, then one line per synset:
 *   offset lex_filenum ss_type w_cnt(2 hex) [word lex_id(hex)]... p_cnt(3 dec)
 *   [ptr_symbol offset pos source/target(4 hex)]... [frames] | gloss
 * We keep each synset's lemmas and its '@' / '@i' pointers. The file is
 * untrusted input: every field is bounds-checked and a malformed line is an
 * error naming the line.
 *
 * For the 1000 classes we precompute their ancestor sets once: every synset
 * that has a class under it gets a slot holding a 1000-bit class set, so
 * ordo_wn_class_under is a binary search plus a bit test and ordo_wn_mass is
 * one pass over at most 1000 set bits.
 */
#include "wordnet/wordnet.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const wn_wnids[ORDO_WN_CLASSES] = {
#include "wordnet/wnids.inc"
};

#define WN_WORDS 16                     /* 1000 bits */
#define WN_MAX_FILE (256L << 20)        /* data.noun is ~15 MB */

typedef struct {
    long off;
    uint32_t name;      /* into names: "a, b c" */
    uint32_t lem;       /* into lemmas: nlem NUL-terminated raw lemmas */
    uint32_t hyp;       /* into hyp[] */
    uint16_t nlem, nhyp;
    int32_t slot;       /* class-set slot, -1 if no class under it */
} wn_syn;

typedef struct {
    char *p;
    size_t n, cap;
} wn_buf;

struct ordo_wn {
    int have;                       /* data.noun loaded */
    char index_path[4096];          /* index.noun next to data.noun */
    wn_syn *syn;
    size_t nsyn;
    int32_t *hyp;                   /* synset indices */
    size_t nhyp;
    wn_buf names, lemmas;
    uint64_t (*sets)[WN_WORDS];     /* per slot: classes under that synset */
    size_t nslot;
    int32_t cls_syn[ORDO_WN_CLASSES];   /* synset index of each class */
    int32_t *anc;                   /* per class ancestors, BFS order */
    uint32_t anc_at[ORDO_WN_CLASSES + 1];
};

/* ---- small helpers ---------------------------------------------------- */

static int buf_add(wn_buf *b, const char *s, size_t n, uint32_t *at)
{
    if (b->n + n + 1 > UINT32_MAX) return -1;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1 << 16;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) return -1;
        b->p = p;
        b->cap = cap;
    }
    if (at) *at = (uint32_t)b->n;
    memcpy(b->p + b->n, s, n);
    b->n += n;
    return 0;
}

static int buf_end(wn_buf *b)   /* terminates the current string */
{
    char z = 0;
    if (buf_add(b, &z, 1, NULL)) return -1;
    return 0;
}

/* Next space-separated token of [*p, end); 0 if none. */
static int tok(const char **p, const char *end, const char **t, size_t *n)
{
    const char *s = *p;
    while (s < end && *s == ' ') s++;
    const char *e = s;
    while (e < end && *e != ' ') e++;
    *t = s;
    *n = (size_t)(e - s);
    *p = e;
    return e > s;
}

/* Parses all of [t, t+n) as a number in base; -1 on any junk. */
static long tok_num(const char *t, size_t n, int base)
{
    if (n == 0 || n > 12) return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        int d;
        char c = t[i];
        if (c >= '0' && c <= '9') d = c - '0';
        else if (base == 16 && c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (base == 16 && c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return -1;
        v = v * base + d;
    }
    return v;
}

static long find_syn(const ordo_wn *wn, long off)
{
    size_t lo = 0, hi = wn->nsyn;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (wn->syn[mid].off < off) lo = mid + 1;
        else hi = mid;
    }
    return lo < wn->nsyn && wn->syn[lo].off == off ? (long)lo : -1;
}

/* Parses "n01440764" (exactly 'n' + 8 digits) or "01440764"; -1 otherwise. */
static long parse_wnid(const char *s)
{
    if (s[0] == 'n') s++;
    size_t n = strlen(s);
    if (n != 8) return -1;
    return tok_num(s, n, 10);
}

/* ---- loading data.noun ------------------------------------------------ */

static char *read_file(const char *path, size_t *len, ordo_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        ordo_err_set(err, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 65536 + 1 > cap) {
            cap = cap ? cap * 2 : 1 << 20;
            if (cap > (size_t)WN_MAX_FILE + 65536 + 1) {
                ordo_err_set(err, "%s: larger than %ld bytes, not a data.noun", path, WN_MAX_FILE);
                goto fail;
            }
            char *p = realloc(buf, cap);
            if (!p) { ordo_err_set(err, "out of memory reading %s", path); goto fail; }
            buf = p;
        }
        size_t got = fread(buf + n, 1, 65536, f);
        n += got;
        if (got < 65536) {
            if (ferror(f)) { ordo_err_set(err, "cannot read %s", path); goto fail; }
            break;
        }
    }
    fclose(f);
    buf[n] = 0;
    *len = n;
    return buf;
fail:
    fclose(f);
    free(buf);
    return NULL;
}

/* Parses one synset line [s, end). Pointer targets go to hyp_off as
 * offsets (resolved to indices later). Returns 0 or -1 with a reason. */
static int parse_line(ordo_wn *wn, const char *s, const char *end,
                      long **hyp_off, size_t *hyp_cap, const char **why)
{
    const char *t;
    size_t n;
    wn_syn sy = {0};
    sy.slot = -1;

    if (!tok(&s, end, &t, &n) || n != 8 || (sy.off = tok_num(t, n, 10)) < 0)
        return *why = "bad synset offset", -1;
    if (!tok(&s, end, &t, &n) || tok_num(t, n, 10) < 0)
        return *why = "bad lex_filenum", -1;
    if (!tok(&s, end, &t, &n) || n != 1 || t[0] != 'n')
        return *why = "not a noun synset (ss_type)", -1;
    long wcnt;
    if (!tok(&s, end, &t, &n) || (wcnt = tok_num(t, n, 16)) <= 0)
        return *why = "bad word count", -1;

    for (long i = 0; i < wcnt; i++) {
        const char *w;
        size_t wl;
        if (!tok(&s, end, &w, &wl)) return *why = "missing word", -1;
        if (!tok(&s, end, &t, &n) || tok_num(t, n, 16) < 0)
            return *why = "bad lex_id", -1;
        uint32_t at;
        if (buf_add(&wn->lemmas, w, wl, &at) || buf_end(&wn->lemmas))
            return *why = "out of memory", -1;
        if (i == 0) sy.lem = at;
        /* Display name: lemmas with '_' -> ' ', joined with ", ". */
        if (i > 0 && buf_add(&wn->names, ", ", 2, NULL)) return *why = "out of memory", -1;
        size_t start = wn->names.n;
        if (buf_add(&wn->names, w, wl, i == 0 ? &sy.name : NULL))
            return *why = "out of memory", -1;
        for (size_t k = start; k < wn->names.n; k++)
            if (wn->names.p[k] == '_') wn->names.p[k] = ' ';
    }
    if (wcnt > UINT16_MAX) return *why = "too many words", -1;
    sy.nlem = (uint16_t)wcnt;
    if (buf_end(&wn->names)) return *why = "out of memory", -1;

    long pcnt;
    if (!tok(&s, end, &t, &n) || n != 3 || (pcnt = tok_num(t, n, 10)) < 0)
        return *why = "bad pointer count", -1;
    sy.hyp = (uint32_t)wn->nhyp;
    for (long i = 0; i < pcnt; i++) {
        const char *sym, *pos;
        size_t sl, pl;
        long off;
        if (!tok(&s, end, &sym, &sl)) return *why = "missing pointer", -1;
        if (!tok(&s, end, &t, &n) || n != 8 || (off = tok_num(t, n, 10)) < 0)
            return *why = "bad pointer offset", -1;
        if (!tok(&s, end, &pos, &pl) || pl != 1) return *why = "bad pointer pos", -1;
        if (!tok(&s, end, &t, &n) || n != 4 || tok_num(t, n, 16) < 0)
            return *why = "bad pointer source/target", -1;
        int is_hyp = (sl == 1 && sym[0] == '@') || (sl == 2 && sym[0] == '@' && sym[1] == 'i');
        if (!is_hyp || pos[0] != 'n') continue;
        if (wn->nhyp == *hyp_cap) {
            size_t cap = *hyp_cap ? *hyp_cap * 2 : 1 << 16;
            long *p = realloc(*hyp_off, cap * sizeof *p);
            if (!p) return *why = "out of memory", -1;
            *hyp_off = p;
            *hyp_cap = cap;
        }
        (*hyp_off)[wn->nhyp++] = off;
    }
    if (wn->nhyp - sy.hyp > UINT16_MAX) return *why = "too many hypernyms", -1;
    sy.nhyp = (uint16_t)(wn->nhyp - sy.hyp);
    /* The gloss must follow: a line cut short (truncated file) fails here. */
    if (!tok(&s, end, &t, &n) || n != 1 || t[0] != '|') {
        /* noun lines have no verb frames, so '|' comes right after pointers */
        return *why = "missing '|' gloss separator (truncated line?)", -1;
    }
    if (wn->nsyn > INT32_MAX - 1) return *why = "too many synsets", -1;
    wn->syn[wn->nsyn++] = sy;
    return 0;
}

static int load_data(ordo_wn *wn, const char *file, ordo_err *err)
{
    size_t len;
    char *buf = read_file(file, &len, err);
    if (!buf) return -1;
    long *hyp_off = NULL;
    size_t hyp_cap = 0;
    int rc = -1;

    if (memchr(buf, 0, len)) {   /* text only: NULs would cut names short */
        ordo_err_set(err, "%s: contains NUL bytes (not a WordNet data.noun)", file);
        goto out;
    }
    /* One synset per line at most: count lines to size the array. */
    size_t lines = 1;
    for (size_t i = 0; i < len; i++) lines += buf[i] == '\n';
    wn->syn = malloc(lines * sizeof *wn->syn);
    if (!wn->syn) { ordo_err_set(err, "out of memory"); goto out; }

    const char *p = buf, *end = buf + len;
    long lineno = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        lineno++;
        if (le > p && le[-1] == '\r') le--;
        if (le > p && p[0] != ' ') {            /* header lines start with "  " */
            if (!nl) {
                ordo_err_set(err, "%s: line %ld: no newline at end (truncated file?)", file, lineno);
                goto out;
            }
            const char *why = "?";
            if (parse_line(wn, p, le, &hyp_off, &hyp_cap, &why)) {
                ordo_err_set(err, "%s: line %ld: %s", file, lineno, why);
                goto out;
            }
            /* Offsets are byte positions, so a real file is sorted; binary
             * search relies on it. */
            if (wn->nsyn > 1 && wn->syn[wn->nsyn - 2].off >= wn->syn[wn->nsyn - 1].off) {
                ordo_err_set(err, "%s: line %ld: synset offset not increasing (corrupt file)",
                             file, lineno);
                goto out;
            }
        }
        p = nl ? nl + 1 : end;
    }
    if (wn->nsyn == 0) {
        ordo_err_set(err, "%s: no noun synsets (not a WordNet data.noun?)", file);
        goto out;
    }
    wn->hyp = malloc((wn->nhyp ? wn->nhyp : 1) * sizeof *wn->hyp);
    if (!wn->hyp) { ordo_err_set(err, "out of memory"); goto out; }
    for (size_t i = 0; i < wn->nhyp; i++) {
        long k = find_syn(wn, hyp_off[i]);
        if (k < 0) {
            ordo_err_set(err, "%s: hypernym %08ld is not a synset (corrupt or truncated file)",
                         file, hyp_off[i]);
            goto out;
        }
        wn->hyp[i] = (int32_t)k;
    }
    rc = 0;
out:
    free(hyp_off);
    free(buf);
    return rc;
}

/* ---- class ancestor sets ---------------------------------------------- */

static int build_classes(ordo_wn *wn, ordo_err *err)
{
    int rc = -1;
    /* mark[i] = class+1 that last visited synset i (per-class visited set) */
    int32_t *mark = calloc(wn->nsyn, sizeof *mark);
    int32_t *queue = malloc(wn->nsyn * sizeof *queue);
    size_t anc_cap = 32 * ORDO_WN_CLASSES, nanc = 0, slot_cap = 0;
    wn->anc = malloc(anc_cap * sizeof *wn->anc);
    if (!mark || !queue || !wn->anc) { ordo_err_set(err, "out of memory"); goto out; }

    for (int c = 0; c < ORDO_WN_CLASSES; c++) {
        long k = find_syn(wn, parse_wnid(wn_wnids[c]));
        if (k < 0) {
            ordo_err_set(err, "WordNet data.noun lacks class %d's synset %s "
                         "(not WordNet 3.0, or truncated)", c, wn_wnids[c]);
            goto out;
        }
        wn->cls_syn[c] = (int32_t)k;
        wn->anc_at[c] = (uint32_t)nanc;
        /* Breadth-first over @ and @i; mark makes cycles harmless. */
        size_t qh = 0, qt = 0;
        queue[qt++] = (int32_t)k;
        mark[k] = c + 1;
        while (qh < qt) {
            int32_t s = queue[qh++];
            if (nanc == anc_cap) {
                anc_cap *= 2;
                int32_t *p = realloc(wn->anc, anc_cap * sizeof *p);
                if (!p) { ordo_err_set(err, "out of memory"); goto out; }
                wn->anc = p;
            }
            wn->anc[nanc++] = s;
            wn_syn *sy = &wn->syn[s];
            if (sy->slot < 0) {
                if (wn->nslot == slot_cap) {
                    slot_cap = slot_cap ? slot_cap * 2 : 1024;
                    void *p = realloc(wn->sets, slot_cap * sizeof *wn->sets);
                    if (!p) { ordo_err_set(err, "out of memory"); goto out; }
                    wn->sets = p;
                }
                memset(wn->sets[wn->nslot], 0, sizeof wn->sets[0]);
                sy->slot = (int32_t)wn->nslot++;
            }
            wn->sets[sy->slot][c / 64] |= (uint64_t)1 << (c % 64);
            for (uint32_t h = 0; h < sy->nhyp; h++) {
                int32_t t = wn->hyp[sy->hyp + h];
                if (mark[t] != c + 1) {
                    mark[t] = c + 1;
                    queue[qt++] = t;
                }
            }
        }
    }
    wn->anc_at[ORDO_WN_CLASSES] = (uint32_t)nanc;
    rc = 0;
out:
    free(mark);
    free(queue);
    return rc;
}

/* ---- public API ------------------------------------------------------- */

ordo_wn *ordo_wn_open(const char *path, ordo_err *err)
{
    ordo_wn *wn = calloc(1, sizeof *wn);
    if (!wn) { ordo_err_set(err, "out of memory"); return NULL; }

    int explicit = 1;
    if (!path || !*path) {
        path = getenv("ORDO_WORDNET");
        if (!path || !*path) { path = "/usr/share/wordnet"; explicit = 0; }
    }
    if (!strcmp(path, "none")) return wn;  /* WordNet switched off on purpose */
    char file[4096];
    struct stat st;
    if (stat(path, &st) != 0) {
        if (!explicit) return wn;          /* no WordNet: wnids only */
        ordo_err_set(err, "WordNet: cannot open %s: %s", path, strerror(errno));
        goto fail;
    }
    int n;
    if (S_ISDIR(st.st_mode)) {
        n = snprintf(file, sizeof file, "%s/data.noun", path);
        if (n > 0 && (size_t)n < sizeof file)
            snprintf(wn->index_path, sizeof wn->index_path, "%s/index.noun", path);
    } else {
        n = snprintf(file, sizeof file, "%s", path);
        const char *slash = strrchr(path, '/');
        int dl = slash ? (int)(slash - path) : 0;
        if (n > 0 && (size_t)n < sizeof file)
            snprintf(wn->index_path, sizeof wn->index_path, "%.*s%sindex.noun",
                     dl, path, slash ? "/" : "");
    }
    if (n < 0 || (size_t)n >= sizeof file) {
        ordo_err_set(err, "WordNet path too long");
        goto fail;
    }
    if (!explicit && stat(file, &st) != 0) return wn;
    if (load_data(wn, file, err) || build_classes(wn, err)) {
        ordo_err_wrap(err, "WordNet");
        goto fail;
    }
    wn->have = 1;
    return wn;
fail:
    ordo_wn_free(wn);
    return NULL;
}

void ordo_wn_free(ordo_wn *wn)
{
    if (!wn) return;
    free(wn->syn);
    free(wn->hyp);
    free(wn->names.p);
    free(wn->lemmas.p);
    free(wn->sets);
    free(wn->anc);
    free(wn);
}

int ordo_wn_has_hierarchy(const ordo_wn *wn) { return wn && wn->have; }

size_t ordo_wn_synset_count(const ordo_wn *wn) { return wn && wn->have ? wn->nsyn : 0; }

long ordo_wn_synset_id(const ordo_wn *wn, size_t i)
{
    return wn && wn->have && i < wn->nsyn ? wn->syn[i].off : -1;
}

const char *ordo_wn_class_wnid(const ordo_wn *wn, int cls)
{
    (void)wn;
    return cls >= 0 && cls < ORDO_WN_CLASSES ? wn_wnids[cls] : NULL;
}

const char *ordo_wn_class_name(const ordo_wn *wn, int cls)
{
    if (cls < 0 || cls >= ORDO_WN_CLASSES) return NULL;
    if (!wn || !wn->have) return wn_wnids[cls];
    return wn->names.p + wn->syn[wn->cls_syn[cls]].name;
}

int ordo_wn_class_index(const ordo_wn *wn, const char *wnid)
{
    (void)wn;
    if (!wnid) return -1;
    /* The list is sorted: binary search. */
    int lo = 0, hi = ORDO_WN_CLASSES;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        int c = strcmp(wn_wnids[mid], wnid);
        if (c == 0) return mid;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

const char *ordo_wn_synset_name(const ordo_wn *wn, long synset)
{
    if (!wn || !wn->have) return "";
    long k = find_syn(wn, synset);
    return k < 0 ? "" : wn->names.p + wn->syn[k].name;
}

/* Lemma equality ignoring case and '_' vs ' '. */
static int lemma_eq(const char *a, const char *b, size_t bn)
{
    size_t i = 0;
    for (; i < bn && a[i]; i++) {
        char x = a[i] == '_' ? ' ' : (char)tolower((unsigned char)a[i]);
        char y = b[i] == '_' ? ' ' : (char)tolower((unsigned char)b[i]);
        if (x != y) return 0;
    }
    return i == bn && a[i] == 0;
}

/* Finds lemma's line in index.noun and fills offs (frequency order).
 * Returns the number of senses, 0 if the lemma is absent, -1 on error. */
static int index_senses(const ordo_wn *wn, const char *lemma, size_t ln,
                        long *offs, int cap, ordo_err *err)
{
    FILE *f = wn->index_path[0] ? fopen(wn->index_path, "r") : NULL;
    if (!f) return ordo_err_set(err, "cannot open WordNet index.noun (%s) to resolve senses",
                                wn->index_path[0] ? wn->index_path : "no path");
    char line[16384];
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == ' ') continue;
        char *sp = strchr(line, ' ');
        if (!sp) continue;
        const char *end = sp + strlen(sp);
        *sp = 0;
        if (!lemma_eq(line, lemma, ln)) continue;
        /* lemma pos synset_cnt p_cnt [ptr]... sense_cnt tagsense_cnt offsets */
        const char *p = sp + 1, *t;
        size_t n;
        long scnt, pcnt;
        if (!tok(&p, end, &t, &n) || n != 1 || t[0] != 'n') break;
        if (!tok(&p, end, &t, &n) || (scnt = tok_num(t, n, 10)) < 0) break;
        if (!tok(&p, end, &t, &n) || (pcnt = tok_num(t, n, 10)) < 0) break;
        for (long i = 0; i < pcnt + 2; i++)
            if (!tok(&p, end, &t, &n)) goto bad;
        for (long i = 0; i < scnt; i++) {
            if (!tok(&p, end, &t, &n)) goto bad;
            while (n && (t[n - 1] == '\n' || t[n - 1] == '\r')) n--;
            long off = tok_num(t, n, 10);
            if (off < 0) goto bad;
            if (found < cap) offs[found] = off;
            found++;
        }
        fclose(f);
        return found;
    }
    fclose(f);
    return 0;
bad:
    fclose(f);
    return ordo_err_set(err, "malformed index.noun line for '%.*s'", (int)ln, lemma);
}

long ordo_wn_lookup(const ordo_wn *wn, const char *text, ordo_err *err)
{
    if (!text || !*text) return ordo_err_set(err, "empty synset name");
    if (!wn || !wn->have)
        return ordo_err_set(err, "no WordNet hierarchy loaded (install wordnet-base or set "
                                 "$ORDO_WORDNET to a data.noun) - cannot resolve '%s'", text);
    long id = parse_wnid(text);
    if (id >= 0) {
        if (find_syn(wn, id) < 0)
            return ordo_err_set(err, "'%s' is not a WordNet 3.0 noun synset", text);
        return id;
    }
    size_t ln = strlen(text);
    if (ln > 256) return ordo_err_set(err, "synset name too long");

    /* Sense suffix: "name.n.NN" or "name#N". */
    long sense = -1;
    size_t base = ln;
    const char *hash = strrchr(text, '#');
    if (hash && hash[1]) {
        sense = tok_num(hash + 1, strlen(hash + 1), 10);
        base = (size_t)(hash - text);
    } else if (ln > 4) {
        const char *dot = strrchr(text, '.');
        if (dot && dot - text >= 3 && dot[-1] == 'n' && dot[-2] == '.' && dot[1]) {
            sense = tok_num(dot + 1, strlen(dot + 1), 10);
            base = (size_t)(dot - text - 2);
        }
    }
    if ((hash && hash[1]) || sense >= 0) {
        if (sense <= 0 || base == 0)
            return ordo_err_set(err, "bad sense number in '%s' (want e.g. dog.n.01 or dog#1)", text);
        long offs[256];
        int ns = index_senses(wn, text, base, offs, 256, err);
        if (ns < 0) return -1;
        if (ns == 0) return ordo_err_set(err, "no noun '%.*s' in WordNet", (int)base, text);
        if (sense > ns || sense > 256)
            return ordo_err_set(err, "'%.*s' has only %d noun sense%s", (int)base, text, ns,
                                ns == 1 ? "" : "s");
        return offs[sense - 1];
    }

    /* Plain lemma: every synset holding it. */
    long hit = -1;
    int nhit = 0;
    for (size_t i = 0; i < wn->nsyn; i++) {
        const char *l = wn->lemmas.p + wn->syn[i].lem;
        for (unsigned j = 0; j < wn->syn[i].nlem; j++, l += strlen(l) + 1)
            if (lemma_eq(l, text, ln)) {
                if (nhit++ == 0) hit = wn->syn[i].off;
                break;
            }
    }
    if (nhit == 0) return ordo_err_set(err, "no WordNet noun '%s'", text);
    if (nhit == 1) return hit;

    /* Ambiguous: list the senses in the form lookup accepts. */
    long offs[8];
    int ns = index_senses(wn, text, ln, offs, 8, NULL);
    char list[ORDO_ERR_MAX];
    size_t used = 0;
    list[0] = 0;
    for (int i = 0; i < ns && i < 8 && used < sizeof list; i++) {
        int w = snprintf(list + used, sizeof list - used, "%s%s.n.%02d = n%08ld (%s)",
                         i ? "; " : "", text, i + 1, offs[i], ordo_wn_synset_name(wn, offs[i]));
        if (w < 0) break;
        used += (size_t)w;
    }
    return ordo_err_set(err, "'%s' is ambiguous (%d noun senses): %s%s", text, nhit, list,
                        ns > 8 ? "; ..." : "");
}

static const uint64_t *class_set(const ordo_wn *wn, long synset)
{
    if (!wn || !wn->have) return NULL;
    long k = find_syn(wn, synset);
    if (k < 0 || wn->syn[k].slot < 0) return NULL;
    return wn->sets[wn->syn[k].slot];
}

int ordo_wn_class_under(const ordo_wn *wn, int cls, long synset)
{
    if (cls < 0 || cls >= ORDO_WN_CLASSES) return 0;
    const uint64_t *s = class_set(wn, synset);
    return s && (s[cls / 64] >> (cls % 64) & 1);
}

double ordo_wn_mass(const ordo_wn *wn, const float *probs, long synset)
{
    const uint64_t *s = class_set(wn, synset);
    if (!s || !probs) return 0;
    double m = 0;
    for (int w = 0; w < WN_WORDS; w++)
        for (uint64_t b = s[w]; b; b &= b - 1)
            m += probs[w * 64 + __builtin_ctzll(b)];
    return m;
}

static int check_synset(const ordo_wn *wn, long synset, ordo_err *err)
{
    if (!wn || !wn->have)
        return ordo_err_set(err, "no WordNet hierarchy loaded (install wordnet-base or set $ORDO_WORDNET)");
    if (find_syn(wn, synset) < 0)
        return ordo_err_set(err, "n%08ld is not a WordNet 3.0 noun synset", synset);
    return 0;
}

int ordo_wn_class_weights(const ordo_wn *wn, const long *synsets, int n,
                          float w[ORDO_WN_CLASSES], ordo_err *err)
{
    for (int c = 0; c < ORDO_WN_CLASSES; c++) w[c] = 0;
    if (!wn || !wn->have) return check_synset(wn, 0, err);
    for (int j = 0; j < n; j++) {
        if (check_synset(wn, synsets[j], err)) return -1;
        const uint64_t *s = class_set(wn, synsets[j]);
        for (int c = 0; s && c < ORDO_WN_CLASSES; c++)
            if (s[c / 64] >> (c % 64) & 1) w[c] = 1;
    }
    return 0;
}

int ordo_wn_class_ancestors(const ordo_wn *wn, int cls, long *out, int cap)
{
    if (!wn || !wn->have || cls < 0 || cls >= ORDO_WN_CLASSES) return -1;
    uint32_t a = wn->anc_at[cls], b = wn->anc_at[cls + 1];
    for (uint32_t i = a; i < b && (int)(i - a) < cap; i++)
        out[i - a] = wn->syn[wn->anc[i]].off;
    return (int)(b - a);
}

int ordo_wn_coarse(const ordo_wn *wn, const long *synsets, int n,
                   int group[ORDO_WN_CLASSES], ordo_err *err)
{
    for (int c = 0; c < ORDO_WN_CLASSES; c++) group[c] = n;
    if (!wn || !wn->have) return check_synset(wn, 0, err);
    for (int j = n - 1; j >= 0; j--) {     /* earlier entries win */
        if (check_synset(wn, synsets[j], err)) return -1;
        const uint64_t *s = class_set(wn, synsets[j]);
        for (int c = 0; s && c < ORDO_WN_CLASSES; c++)
            if (s[c / 64] >> (c % 64) & 1) group[c] = j;
    }
    return 0;
}

/* Default coarse groups, specific before general (the first match wins).
 * Chosen so that each holds a sizeable, visually coherent share of the 1000
 * classes; what matches none falls into "other". */
static const long wn_coarse_default[] = {
    2084071,   /* dog, domestic dog */
    1503061,   /* bird */
    2512053,   /* fish */
    1661091,   /* reptile */
    1627424,   /* amphibian */
    2159955,   /* insect */
    1767661,   /* arthropod (spiders, crabs, ...) */
    1905661,   /* invertebrate */
    1861778,   /* mammal (other than dog) */
    7846,      /* person */
    17222,     /* plant, flora */
    12992868,  /* fungus */
    7705711,   /* produce: vegetables, fruit */
    21265,     /* food, nutrient */
    4576211,   /* wheeled vehicle */
    3125870,   /* craft (boats, aircraft) */
    3800933,   /* musical instrument */
    3405725,   /* furniture */
    3528263,   /* home appliance */
    3051540,   /* clothing */
    3094503,   /* container */
    4341686,   /* structure, construction */
    3183080,   /* device */
    3563967,   /* implement */
    3575240,   /* instrumentality (other equipment) */
    3122748,   /* covering (other than clothing) */
    9287968,   /* geological formation */
    19128,     /* natural object */
};

int ordo_wn_default_coarse(const long **synsets)
{
    *synsets = wn_coarse_default;
    return (int)(sizeof wn_coarse_default / sizeof wn_coarse_default[0]);
}
