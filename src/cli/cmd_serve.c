/* cmd_serve.c - `ordo serve`: the labeling web server. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "server/server.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ordo serve [--bind ADDR] [--port N] [--project DIR] [options]\n"
            "Serves the labeling page and its API until interrupted (Ctrl-C).\n\n"
            "  --bind ADDR        IP address to listen on (default 127.0.0.1). On\n"
            "                     127.0.0.1 or ::1 no token is needed (annotator 'local');\n"
            "                     on any other address every API call needs an annotator\n"
            "                     token from 'ordo user add NAME'. Use TLS (a reverse\n"
            "                     proxy) before exposing it beyond a trusted network.\n"
            "  --port N           TCP port (default 8080; 0 = any free port)\n"
            "  --project DIR      the project (default: $ORDO_PROJECT or the nearest .ordo)\n"
            "  --double-share F   share of images labeled by two annotators (default 0.1)\n"
            "  --batch N          images per queue batch from the composer (default 200)\n"
            "  --threads N        worker threads (default 4)\n"
            "  --timeout S        drop connections idle for S seconds (default 15)\n"
            "  --deadline S       a request's headers and body must arrive within S seconds\n"
            "                     in total, however slowly they trickle (default 10)\n"
            "  --per-ip N         connections per client address (default 256; behind a\n"
            "                     reverse proxy every client shares the proxy's address)\n"
            "  --retrain-every N  retrain the page's model after N new answers (default\n"
            "                     100; 0 = only from the dashboard's button)\n");
}

int cli_serve(int argc, char **argv)
{
    const char *project = NULL;
    ordo_srv_opts o = {0};
    o.port = 8080;
    o.double_share = -1;
    static const struct option opts[] = {
        {"bind", required_argument, NULL, 'b'},    {"port", required_argument, NULL, 'p'},
        {"project", required_argument, NULL, 'P'}, {"double-share", required_argument, NULL, 'd'},
        {"batch", required_argument, NULL, 'B'},   {"threads", required_argument, NULL, 't'},
        {"timeout", required_argument, NULL, 'T'}, {"per-ip", required_argument, NULL, 'i'},
        {"retrain-every", required_argument, NULL, 'r'},
        {"deadline", required_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "b:p:P:d:B:t:T:i:r:D:h", opts, NULL)) != -1) {
        switch (c) {
        case 'b': o.bind = optarg; break;
        case 'p': if (cli_parse_int("--port", optarg, 0, 65535, &o.port)) return 2; break;
        case 'P': project = optarg; break;
        case 'd': {
            char *end;
            o.double_share = strtod(optarg, &end);
            if (*end || !(o.double_share >= 0 && o.double_share <= 1)) {
                fprintf(stderr, "ordo serve: --double-share expects a number from 0 to 1\n");
                return 2;
            }
            break;
        }
        case 'B': if (cli_parse_int("--batch", optarg, 1, 100000, &o.batch)) return 2; break;
        case 't': if (cli_parse_int("--threads", optarg, 1, 256, &o.threads)) return 2; break;
        case 'T': if (cli_parse_int("--timeout", optarg, 1, 3600, &o.conn_timeout_s)) return 2; break;
        case 'i': if (cli_parse_int("--per-ip", optarg, 1, 100000, &o.per_ip)) return 2; break;
        case 'D':
            if (cli_parse_int("--deadline", optarg, 1, 3600, &o.request_deadline_s)) return 2;
            break;
        case 'r': {
            int v;
            if (cli_parse_int("--retrain-every", optarg, 0, 10000000, &v)) return 2;
            o.retrain_every = v ? v : -1;
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    ordo_err err = {{0}};
    char dir[4096];
    if (ordo_store_find(project, dir, sizeof dir, &err) < 0) {
        fprintf(stderr, "ordo serve: %s\n", err.msg);
        return 1;
    }
    o.project = dir;

    /* Block the stop signals before the server's threads start, so only
     * sigwait below receives them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    ordo_srv *srv = ordo_srv_start(&o, &err);
    if (!srv) {
        fprintf(stderr, "ordo serve: %s\n", err.msg);
        return 1;
    }
    const char *bind = o.bind ? o.bind : "127.0.0.1";
    int v6 = strchr(bind, ':') != NULL;
    printf("ordo: serving %s at http://%s%s%s:%d/\n", dir, v6 ? "[" : "", bind, v6 ? "]" : "",
           ordo_srv_port(srv));
    if (ordo_srv_requires_token(srv))
        printf("ordo: annotator tokens required (create one with 'ordo user add NAME')\n");
    else
        printf("ordo: loopback only; labels are recorded as annotator 'local' unless signed in\n");
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    fprintf(stderr, "ordo serve: stopping (signal %d)\n", sig);
    ordo_srv_stop(srv);
    return 0;
}
