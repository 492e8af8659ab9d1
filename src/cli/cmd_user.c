/* cmd_user.c - `ordo user add NAME` / `ordo user list`: annotators. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "server/server.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ordo user add NAME [--role ROLE] [--reset] [--url URL] [--project DIR]\n"
            "       ordo user role NAME ROLE [--project DIR]\n"
            "       ordo user list [--project DIR]\n"
            "'add' creates an annotator and prints its token and login link (shown once;\n"
            "only a hash is stored). --reset gives an existing annotator a new token.\n"
            "--url is the address annotators reach 'ordo serve' at (default\n"
            "http://127.0.0.1:8080).\n"
            "ROLE: annotator (default: answers, undoes or changes only their own answers),\n"
            "reviewer (also resolves disagreements and corrects anyone's answers) or\n"
            "admin (also edits the label set from the page).\n");
}

static void print_user(const char *name, int64_t labels, void *ctx)
{
    (void)ctx;
    printf("%s\t%" PRId64 "\n", name, labels);
}

int cli_user(int argc, char **argv)
{
    const char *project = NULL, *url = "http://127.0.0.1:8080";
    int reset = 0, role = -1;
    static const struct option opts[] = {
        {"project", required_argument, NULL, 'P'}, {"url", required_argument, NULL, 'u'},
        {"reset", no_argument, NULL, 'r'},         {"help", no_argument, NULL, 'h'},
        {"role", required_argument, NULL, 'R'},
        {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "P:u:rR:h", opts, NULL)) != -1) {
        switch (c) {
        case 'P': project = optarg; break;
        case 'u': url = optarg; break;
        case 'r': reset = 1; break;
        case 'R':
            if ((role = ordo_srv_role_parse(optarg)) < 0) {
                fprintf(stderr, "ordo user: --role is annotator, reviewer or admin\n");
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    int add = optind + 2 == argc && !strcmp(argv[optind], "add");
    int list = optind + 1 == argc && !strcmp(argv[optind], "list");
    int setrole = optind + 3 == argc && !strcmp(argv[optind], "role");
    if (setrole && (role = ordo_srv_role_parse(argv[optind + 2])) < 0) {
        fprintf(stderr, "ordo user: ROLE is annotator, reviewer or admin\n");
        return 2;
    }
    if (!add && !list && !setrole) {
        usage(stderr);
        return 2;
    }
    ordo_err err = {{0}};
    char dir[4096];
    if (ordo_store_find(project, dir, sizeof dir, &err) < 0) {
        fprintf(stderr, "ordo user: %s\n", err.msg);
        return 1;
    }
    ordo_store *s = ordo_store_open(dir, 0, &err);
    if (!s) {
        fprintf(stderr, "ordo user: %s\n", err.msg);
        return 1;
    }
    int rc = 0;
    if (add) {
        char token[ORDO_SRV_TOKEN_LEN + 1];
        const char *name = argv[optind + 1];
        if (ordo_srv_user_add(s, name, reset, token, sizeof token, &err) < 0) {
            fprintf(stderr, "ordo user: %s\n", err.msg);
            rc = 1;
        } else {
            size_t n = strlen(url);
            printf("annotator: %s\ntoken: %s\nlogin: %.*s/login?t=%s\n", name, token,
                   (int)(n && url[n - 1] == '/' ? n - 1 : n), url, token);
            if (role >= 0 && ordo_srv_user_role(s, name, role, &err) < 0) {
                fprintf(stderr, "ordo user: %s\n", err.msg);
                rc = 1;
            }
        }
    } else if (setrole) {
        if (ordo_srv_user_role(s, argv[optind + 1], role, &err) < 0) {
            fprintf(stderr, "ordo user: %s\n", err.msg);
            rc = 1;
        } else {
            printf("%s: %s\n", argv[optind + 1], ordo_srv_role_name(role));
        }
    } else if (ordo_srv_user_list(s, print_user, NULL, &err) < 0) {
        fprintf(stderr, "ordo user: %s\n", err.msg);
        rc = 1;
    }
    ordo_store_close(s);
    return rc;
}
