/* cmd_audit.c - `ordo audit`: label errors, near-duplicate groups and
 * evaluation leaks in one run; a terminal summary, or CSV / JSON lines. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit_store.h"
#include "base/text.h"
#include "cli/cli.h"
#include "dist/dist.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ordo audit [--project DIR] [--labels | --dups] [--cosine C] [--knn W]\n"
            "                  [--top N] [--all] [--csv | --json] [--oof FILE] [--no-save]\n"
            "                  [--folds F] [--seed S] [--mpi]\n"
            "Finds what is wrong in the data:\n"
            "  label errors    confident learning on cross-fitted (out-of-fold) probabilities of\n"
            "                  the current learner averaged with a leave-one-out nearest-neighbour\n"
            "                  vote; each suspect with the label the model would give. Flagged\n"
            "                  suspects go to a second annotator in 'ordo serve' (reason recheck).\n"
            "  near-duplicates groups of images whose embeddings have cosine >= C (bursts,\n"
            "                  resized, recompressed, cropped or flipped copies); 'ordo next' and\n"
            "                  the server never hand out two members of a group in one batch.\n"
            "  leaks           training labels that are near-duplicates of evaluation-sample\n"
            "                  images; 'ordo train' keeps them out of training.\n"
            "  --labels / --dups  only that part (leaks come with --dups)\n"
            "  --cosine C      near-duplicate (and leak) threshold (default 0.85)\n"
            "  --knn W         weight of the nearest-neighbour vote, 0..1 (default 0.3; 0: model alone)\n"
            "  --top N         suspects and groups in the summary (default 20)\n"
            "  --all           CSV/JSON: every audited label, not only the flagged ones\n"
            "  --csv, --json   rows (kind = suspect, duplicate, leak) instead of a summary\n"
            "  --oof FILE      write the learner's out-of-fold probabilities (CSV: image_id,label,class...)\n"
            "  --no-save       report only; the server's recheck queue keeps the last saved run\n"
            "  --mpi           under mpirun: the near-duplicate search split over the ranks (same\n"
            "                  groups as one process); rank 0 audits the labels, saves and prints\n");
}

static void path_of(ordo_store *s, int64_t id, char *p, size_t cap)
{
    ordo_err e;
    if (ordo_store_image_path(s, id, p, cap, &e)) snprintf(p, cap, "(image %lld)", (long long)id);
}

typedef struct { int64_t id; size_t t; } keyed;

static int cmp_keyed(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int write_oof(const char *file, const ordo_audit_result *r)
{
    FILE *f = fopen(file, "w");
    if (!f) return -1;
    fprintf(f, "image_id,label");
    for (int c = 0; c < r->classes; c++) { fputc(',', f); ordo_text_csv(f, r->class_names[c]); }
    fputc('\n', f);
    /* r->sus is ranked; the oof rows follow image id order */
    keyed *pos = malloc((r->nsus ? r->nsus : 1) * sizeof *pos);
    if (!pos) { fclose(f); return -1; }
    for (size_t t = 0; t < r->nsus; t++) pos[t] = (keyed){r->sus[t].image_id, t};
    qsort(pos, r->nsus, sizeof *pos, cmp_keyed);
    for (size_t i = 0; i < r->nsus; i++) {
        const ordo_audit_suspect *u = &r->sus[pos[i].t];
        fprintf(f, "%lld,", (long long)u->image_id);
        ordo_text_csv(f, u->label);
        for (int c = 0; c < r->classes; c++) fprintf(f, ",%.6g", r->oof[i * (size_t)r->classes + (size_t)c]);
        fputc('\n', f);
    }
    free(pos);
    return fclose(f);
}

int cli_audit(int argc, char **argv)
{
    static const struct option opts[] = {
        {"project", required_argument, NULL, 'p'}, {"labels", no_argument, NULL, 'L'},
        {"dups", no_argument, NULL, 'D'},          {"cosine", required_argument, NULL, 'c'},
        {"knn", required_argument, NULL, 'k'},     {"top", required_argument, NULL, 't'},
        {"all", no_argument, NULL, 'a'},           {"csv", no_argument, NULL, 'C'},
        {"json", no_argument, NULL, 'j'},          {"oof", required_argument, NULL, 'o'},
        {"no-save", no_argument, NULL, 'n'},       {"folds", required_argument, NULL, 'f'},
        {"seed", required_argument, NULL, 's'},    {"help", no_argument, NULL, 'h'},
        {"mpi", no_argument, NULL, 'M'},
        {NULL, 0, NULL, 0}};
    const char *project = NULL, *oof = NULL;
    int only_labels = 0, only_dups = 0, top = 20, all = 0, csv = 0, json = 0, use_mpi = 0, c, v;
    ordo_audit_run_opts o;
    ordo_audit_run_opts_default(&o);
    optind = 1;
    while ((c = getopt_long(argc, argv, "p:LDc:k:t:aCjo:nf:s:h", opts, NULL)) != -1) {
        switch (c) {
        case 'p': project = optarg; break;
        case 'L': only_labels = 1; break;
        case 'D': only_dups = 1; break;
        case 'c':
        case 'k': {
            char *end;
            double x = strtod(optarg, &end);
            if (end == optarg || *end || !(x >= 0 && x <= 1)) {
                fprintf(stderr, "ordo audit: %s needs a number from 0 to 1, not '%s'\n",
                        c == 'c' ? "--cosine" : "--knn", optarg);
                return 2;
            }
            if (c == 'c') o.dup.cosine = x; else o.knn_weight = x;
            break;
        }
        case 't': if (cli_parse_int("--top", optarg, 0, 1000000, &top)) return 2; break;
        case 'a': all = 1; break;
        case 'C': csv = 1; break;
        case 'j': json = 1; break;
        case 'o': oof = optarg; break;
        case 'n': o.save = 0; break;
        case 'f': if (cli_parse_int("--folds", optarg, 2, 20, &o.learn.cv_folds)) return 2; break;
        case 's':
            if (cli_parse_int("--seed", optarg, 0, 2000000000, &v)) return 2;
            o.learn.seed = o.dup.seed = (uint64_t)v;
            break;
        case 'M': use_mpi = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc || (csv && json) || (only_labels && only_dups)) { usage(stderr); return 2; }
    if (only_labels) o.dups = 0;
    if (only_dups) o.labels = 0;
    if (oof && !o.labels) { fprintf(stderr, "ordo audit: --oof needs the label audit\n"); return 2; }
    if (use_mpi && !o.dups) {
        fprintf(stderr, "ordo audit: --mpi splits the near-duplicate search; drop --labels\n");
        return 2;
    }
    ordo_err err = {{0}};
    ordo_dist_mpi *mpi = NULL;
    if (use_mpi) {
        if (!(mpi = ordo_dist_mpi_init(NULL, NULL, &err))) {
            fprintf(stderr, "ordo audit: %s\n", err.msg);
            return 1;
        }
        /* every rank joins the search; rank 0 alone does the rest */
        o.dup.exec = ordo_dist_mpi_rank_exec(mpi);
        if (ordo_dist_mpi_rank(mpi) != 0) { o.labels = 0; o.save = 0; oof = NULL; }
    }
    int rc = 1;
    ordo_store *s = cli_open_project("audit", project, 0);
    if (!s) goto end;
    ordo_audit_result r;
    if (ordo_audit_run(s, &o, &r, &err)) {
        fprintf(stderr, "ordo audit: %s\n", err.msg);
        ordo_store_close(s);
        goto end;
    }
    if (oof && write_oof(oof, &r)) {
        fprintf(stderr, "ordo audit: cannot write %s\n", oof);
        ordo_audit_result_free(&r);
        ordo_store_close(s);
        goto end;
    }
    if (mpi && ordo_dist_mpi_rank(mpi) != 0) {
        ordo_audit_result_free(&r);
        ordo_store_close(s);
        rc = 0;
        goto end;
    }
    if (mpi)
        fprintf(stderr, "mpi: %d ranks searched near-duplicates in %.2f s, %.3f s of it in MPI "
                        "collectives\n", ordo_dist_mpi_size(mpi),
                r.dst.seconds[0] + r.dst.seconds[1] + r.dst.seconds[2] + r.dst.seconds[3],
                ordo_dist_mpi_comm_seconds(mpi));
    char path[4200];
    if (csv || json) {
        if (csv) printf("kind,image_id,path,label,suggested,score,flagged,group_id,similarity,other_id\n");
        for (size_t t = 0; t < r.nsus; t++) {
            const ordo_audit_suspect *u = &r.sus[t];
            if (!u->flagged && !all) continue;
            path_of(s, u->image_id, path, sizeof path);
            if (csv) {
                printf("suspect,%lld,", (long long)u->image_id);
                ordo_text_csv(stdout, path); putchar(',');
                ordo_text_csv(stdout, u->label); putchar(',');
                ordo_text_csv(stdout, u->suggested);
                printf(",%.5f,%d,,,\n", u->score, u->flagged);
            } else {
                printf("{\"kind\":\"suspect\",\"image_id\":%lld,\"path\":", (long long)u->image_id);
                ordo_text_json(stdout, path);
                printf(",\"label\":"); ordo_text_json(stdout, u->label);
                printf(",\"suggested\":"); ordo_text_json(stdout, u->suggested);
                printf(",\"score\":%.5f,\"p_label\":%.5f,\"p_suggested\":%.5f,\"flagged\":%s,"
                       "\"annotator\":", u->score, u->p_label, u->p_suggested,
                       u->flagged ? "true" : "false");
                ordo_text_json(stdout, u->annotator);
                printf("}\n");
            }
        }
        for (size_t t = 0; t < r.nmembers; t++) {
            const ordo_audit_member *m = &r.members[t];
            path_of(s, m->image_id, path, sizeof path);
            if (csv) {
                printf("duplicate,%lld,", (long long)m->image_id);
                ordo_text_csv(stdout, path);
                printf(",,,,,%lld,%.5f,\n", (long long)m->group_id, m->similarity);
            } else {
                printf("{\"kind\":\"duplicate\",\"image_id\":%lld,\"path\":", (long long)m->image_id);
                ordo_text_json(stdout, path);
                printf(",\"group_id\":%lld,\"similarity\":%.5f}\n", (long long)m->group_id, m->similarity);
            }
        }
        for (size_t t = 0; t < r.nleaks; t++) {
            const ordo_audit_leak *l = &r.leaks[t];
            path_of(s, l->train_id, path, sizeof path);
            if (csv) {
                printf("leak,%lld,", (long long)l->train_id);
                ordo_text_csv(stdout, path);
                printf(",,,,,,%.5f,%lld\n", l->cosine, (long long)l->eval_id);
            } else {
                printf("{\"kind\":\"leak\",\"image_id\":%lld,\"path\":", (long long)l->train_id);
                ordo_text_json(stdout, path);
                printf(",\"similarity\":%.5f,\"eval_id\":%lld}\n", l->cosine, (long long)l->eval_id);
            }
        }
    } else {
        if (o.labels) {
            printf("label errors: %zu labels of %d classes, cross-fitted learner %.1f%% out-of-fold "
                   "accuracy; confident learning flags %zu (estimated %.1f%% wrong)\n",
                   r.labels, r.classes, 100 * r.rep.cv_accuracy, r.lst.flagged,
                   100 * r.lst.noise_rate);
            int shown = 0;
            for (size_t t = 0; t < r.nsus && shown < top; t++) {
                const ordo_audit_suspect *u = &r.sus[t];
                if (!u->flagged) continue;
                path_of(s, u->image_id, path, sizeof path);
                printf("  %.3f  %s: '%s' -> '%s' (p %.2f vs %.2f)\n", u->score, path, u->label,
                       u->suggested, u->p_label, u->p_suggested);
                shown++;
            }
        }
        if (o.dups) {
            printf("near-duplicates: %ld groups holding %zu images (%zu pairs at cosine >= %.2f)\n",
                   r.groups, r.nmembers, r.pairs, o.dup.cosine);
            int shown = 0;
            for (size_t t = 0; t < r.nmembers && shown < top;) {
                size_t e = t;
                while (e < r.nmembers && r.members[e].group_id == r.members[t].group_id) e++;
                printf("  group %lld (%zu images):", (long long)r.members[t].group_id, e - t);
                for (size_t q = t; q < e && q < t + 4; q++) {
                    path_of(s, r.members[q].image_id, path, sizeof path);
                    printf(" %s (%.3f)", path, r.members[q].similarity);
                }
                printf(e - t > 4 ? " ...\n" : "\n");
                t = e;
                shown++;
            }
            printf("leaks: %zu training labels are near-duplicates of evaluation-sample images%s\n",
                   r.nleaks, r.nleaks ? "; 'ordo train' keeps them out of training" : "");
        }
        if (r.run_id)
            printf("saved as audit run %lld; flagged labels wait for a second annotator in "
                   "'ordo serve' (reason recheck)\n", (long long)r.run_id);
    }
    rc = fflush(stdout) == 0 ? 0 : 1;
    ordo_audit_result_free(&r);
    ordo_store_close(s);
end:
    if (mpi) {
        if (rc) ordo_dist_mpi_abort(mpi, rc);   /* the others may wait in a collective */
        ordo_dist_mpi_finalize(mpi);
    }
    return rc;
}
