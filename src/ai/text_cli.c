/* text_cli.c — `stepd ai text` (placeholder until the text module lands). */
#include "ai/ai_cli.h"

#include <stdio.h>

int ai_cli_text(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "stepd ai text: the text module is not built yet\n");
    return 1;
}
