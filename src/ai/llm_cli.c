/* llm_cli.c — `stepd ai chat` (placeholder until the llm module lands). */
#include "ai/ai_cli.h"

#include <stdio.h>

int ai_cli_chat(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "stepd ai chat: the llm module is not built yet\n");
    return 1;
}
