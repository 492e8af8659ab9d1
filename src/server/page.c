/* page.c - the labeling page's files, embedded into the binary at build time.
 *
 * The page is plain files under src/server/page/ (no JS build step). The
 * assembler's .incbin copies each file's bytes into .rodata; paths are
 * relative to the repository root, where make runs (the Makefile makes this
 * object depend on the page files). Only the names in the table below can
 * ever be served, so no request path reaches the file system. */
#include <string.h>

#include "server/srv_internal.h"

#define SRV_EMBED(sym, file)                                                   \
    __asm__(".section .rodata\n"                                               \
            ".global " #sym "\n"                                               \
            ".type " #sym ", @object\n"                                        \
            ".balign 16\n" #sym ":\n"                                          \
            ".incbin \"" file "\"\n"                                           \
            ".global " #sym "_end\n" #sym "_end:\n"                            \
            ".byte 0\n"                                                        \
            ".previous\n");                                                    \
    extern const unsigned char sym[], sym##_end[];

SRV_EMBED(ordo_srv_page_index, "src/server/page/index.html")
SRV_EMBED(ordo_srv_page_js, "src/server/page/app.js")
SRV_EMBED(ordo_srv_page_css, "src/server/page/style.css")

int srv_asset_find(const char *url, srv_asset *out)
{
    static const struct {
        const char *name, *type;
        const unsigned char *begin, *end;
    } tab[] = {
        {"/", "text/html; charset=utf-8", ordo_srv_page_index, ordo_srv_page_index_end},
        {"/login", "text/html; charset=utf-8", ordo_srv_page_index, ordo_srv_page_index_end},
        {"/app.js", "text/javascript; charset=utf-8", ordo_srv_page_js, ordo_srv_page_js_end},
        {"/style.css", "text/css; charset=utf-8", ordo_srv_page_css, ordo_srv_page_css_end},
    };
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (!strcmp(url, tab[i].name)) {
            out->name = tab[i].name;
            out->type = tab[i].type;
            out->data = tab[i].begin;
            out->len = (size_t)(tab[i].end - tab[i].begin);
            return 0;
        }
    return -1;
}
