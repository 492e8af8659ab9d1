/* sports.c - the zero-shot sports prior (see sports.h for the model). */
#include "wordnet/sports.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The default list. Chosen by reading the WordNet 3.0 hierarchy above the
 * 1000 ILSVRC classes, not by fitting photos: classes that are objects made
 * for sport, people doing sport, and what athletes wear or ride. Weight 0.5
 * marks things often seen outside sport too. WordNet's sports venues
 * (athletic facility, stadium, rink) have no ILSVRC class under them, so
 * venues only enter through the scoreboard. Sports cars and horses are left
 * out on purpose: most photos of them are not about sport. */
static const char sports_default[] =
    "# Equipment\n"
    "n04285146      # sports equipment: gymnastic apparatus, free weights, golf cart,\n"
    "               #   baseball, basketball, croquet ball, golf ball\n"
    "n03414162      # game equipment: soccer/tennis/rugby/volley/ping-pong balls,\n"
    "               #   pool table, punching bag\n"
    "n04028315 0    # puzzle (jigsaw, crossword): game equipment, but not sport\n"
    "n04285622      # sports implement: racket\n"
    "n04019541      # puck, hockey puck (WordNet files it under disk)\n"
    "n02879718      # bow (archery)\n"
    "n04228054      # ski\n"
    "n03888257 0.5  # parachute (skydiving)\n"
    "n04149813      # scoreboard\n"
    "# People\n"
    "n09820263      # athlete: ballplayer\n"
    "n10019552 0.5  # diver, frogman: scuba diver\n"
    "# What athletes wear\n"
    "n03379051      # football helmet\n"
    "n03127747      # crash helmet\n"
    "n03623198      # knee pad\n"
    "n04371563      # swimsuit: swimming trunks, maillot/tank suit, bikini\n"
    "n02837789 0.5  # bikini: mostly beach, not sport\n"
    "n02807133      # bathing cap, swimming cap\n"
    "n04434932 0.5  # tights, leotards (gymnastics, dance)\n"
    "n04229816 0.5  # ski mask\n"
    "n04251144 0.5  # snorkel\n"
    "n04120489 0.5  # running shoe\n"
    "# Vehicles and craft built for racing or sport\n"
    "n04037443      # racer, race car, racing car\n"
    "n03444034      # go-kart\n"
    "n02860847      # bobsled\n"
    "n03218198 0.5  # dogsled (mushing)\n"
    "n04252077 0.5  # snowmobile\n"
    "n02951358 0.5  # canoe\n"
    "n03873416 0.5  # paddle, boat paddle\n"
    "n04273569 0.5  # speedboat\n"
    "n04128499 0.5  # sailboat: catamaran, trimaran\n"
    "n02834778 0.5  # bicycle: mountain bike, tandem\n"
    "n04509417 0.5  # unicycle\n";

#define SP_MAX_ENTRIES 4096
#define SP_MAX_FILE (1L << 20)

struct ordo_sports {
    float w[ORDO_WN_CLASSES];
    int n;
    long *syn;
    float *wt;
};

const char *ordo_sports_default_list(void) { return sports_default; }

void ordo_sports_free(ordo_sports *sp)
{
    if (!sp) return;
    free(sp->syn);
    free(sp->wt);
    free(sp);
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* Parses one entry [s, e) (comment already cut). 1 = entry, 0 = blank. */
static int parse_entry(const ordo_wn *wn, const char *s, const char *e, long *syn,
                       float *wt, ordo_err *err)
{
    while (s < e && is_space(*s)) s++;
    while (e > s && is_space(e[-1])) e--;
    if (s == e) return 0;
    *wt = 1.0f;
    /* A last token that is a number is the weight. */
    const char *t = e;
    while (t > s && !is_space(t[-1])) t--;
    if (t > s) {
        char num[32];
        size_t n = (size_t)(e - t);
        if (n < sizeof num) {
            memcpy(num, t, n);
            num[n] = 0;
            char *end;
            errno = 0;
            double v = strtod(num, &end);
            if (*end == 0 && errno == 0 && n > 0) {
                if (!(v >= 0 && v <= 1))   /* also rejects NaN */
                    return ordo_err_set(err, "weight %s not in [0, 1]", num);
                *wt = (float)v;
                e = t;
                while (e > s && is_space(e[-1])) e--;
            }
        }
    }
    char name[300];
    if ((size_t)(e - s) >= sizeof name) return ordo_err_set(err, "synset name too long");
    memcpy(name, s, (size_t)(e - s));
    name[e - s] = 0;
    *syn = ordo_wn_lookup(wn, name, err);
    return *syn < 0 ? -1 : 1;
}

ordo_sports *ordo_sports_parse(const ordo_wn *wn, const char *text, const char *origin,
                               ordo_err *err)
{
    if (!ordo_wn_has_hierarchy(wn)) {
        ordo_err_set(err, "sports prior needs the WordNet hierarchy (install wordnet-base "
                          "or set $ORDO_WORDNET)");
        return NULL;
    }
    ordo_sports *sp = calloc(1, sizeof *sp);
    if (!sp) { ordo_err_set(err, "out of memory"); return NULL; }
    int cap = 0, lineno = 0;
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        const char *le = nl ? nl : p + strlen(p);
        const char *hash = memchr(p, '#', (size_t)(le - p));
        lineno++;
        long syn;
        float wt;
        int r = parse_entry(wn, p, hash ? hash : le, &syn, &wt, err);
        if (r < 0) {
            ordo_err_wrap(err, "%s: line %d", origin, lineno);
            goto fail;
        }
        if (r > 0) {
            if (sp->n == SP_MAX_ENTRIES) {
                ordo_err_set(err, "%s: more than %d entries", origin, SP_MAX_ENTRIES);
                goto fail;
            }
            if (sp->n == cap) {
                cap = cap ? cap * 2 : 64;
                long *a = realloc(sp->syn, (size_t)cap * sizeof *a);
                if (a) sp->syn = a;
                float *b = realloc(sp->wt, (size_t)cap * sizeof *b);
                if (b) sp->wt = b;
                if (!a || !b) { ordo_err_set(err, "out of memory"); goto fail; }
            }
            sp->syn[sp->n] = syn;
            sp->wt[sp->n++] = wt;
        }
        p = nl ? nl + 1 : le;
    }
    if (sp->n == 0) {
        ordo_err_set(err, "%s: no synsets listed", origin);
        goto fail;
    }
    /* Later entries override earlier ones for the classes they cover. */
    for (int i = 0; i < sp->n; i++)
        for (int c = 0; c < ORDO_WN_CLASSES; c++)
            if (ordo_wn_class_under(wn, c, sp->syn[i])) sp->w[c] = sp->wt[i];
    return sp;
fail:
    ordo_sports_free(sp);
    return NULL;
}

ordo_sports *ordo_sports_new(const ordo_wn *wn, const char *list_path, ordo_err *err)
{
    if (!list_path || !*list_path) {
        list_path = getenv("ORDO_SPORTS_SYNSETS");
        if (!list_path || !*list_path)
            return ordo_sports_parse(wn, sports_default, "default sports list", err);
    }
    FILE *f = fopen(list_path, "rb");
    if (!f) {
        ordo_err_set(err, "sports list %s: %s", list_path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(SP_MAX_FILE + 1);
    size_t n = buf ? fread(buf, 1, SP_MAX_FILE + 1, f) : 0;
    int bad = !buf || ferror(f);
    fclose(f);
    if (bad || n > SP_MAX_FILE || memchr(buf, 0, n)) {
        ordo_err_set(err, "sports list %s: %s", list_path,
                      !buf ? "out of memory" : n > SP_MAX_FILE ? "larger than 1 MiB"
                      : bad ? "read error" : "contains a NUL byte (not a text file)");
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    ordo_sports *sp = ordo_sports_parse(wn, buf, list_path, err);
    free(buf);
    return sp;
}

float ordo_sports_score(const ordo_sports *sp, const float probs[ORDO_WN_CLASSES])
{
    double s = 0;
    for (int c = 0; c < ORDO_WN_CLASSES; c++) s += (double)sp->w[c] * probs[c];
    /* Clamp: probabilities that sum slightly above 1 must not leave [0, 1]. */
    if (!(s > 0)) return 0;   /* also NaN input */
    return s > 1 ? 1.0f : (float)s;
}

const float *ordo_sports_class_weights(const ordo_sports *sp) { return sp->w; }

int ordo_sports_count(const ordo_sports *sp) { return sp->n; }

long ordo_sports_synset(const ordo_sports *sp, int i, float *weight)
{
    if (i < 0 || i >= sp->n) return -1;
    if (weight) *weight = sp->wt[i];
    return sp->syn[i];
}
