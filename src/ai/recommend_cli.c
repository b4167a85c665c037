/* recommend_cli.c — `stepd ai recommend` (placeholder until the recommend module lands). */
#include "ai/ai_cli.h"

#include <stdio.h>

int ai_cli_recommend(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "stepd ai recommend: the recommend module is not built yet\n");
    return 1;
}
