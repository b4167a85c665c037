/* nn_cli.c — `stepd nn ...` (placeholder until the neural engine lands; issue 12). */
#include "ai/ai_cli.h"

#include <stdio.h>

int ai_cli_nn(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "stepd nn: the neural inference engine is not built yet\n");
    return 1;
}
