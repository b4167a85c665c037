/* main.c — the stepd command line. */
#include "ai/ai_cli.h"

#include <stdio.h>
#include <string.h>
#include <stepd/step.h>

int main(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "--version")) {
        printf("stepd %s\n", STEPD_VERSION);
        return 0;
    }
    if (argc >= 2 && !strcmp(argv[1], "ai"))
        return ai_cli_main(argc - 1, argv + 1);
    fprintf(stderr, "usage: stepd COMMAND ...\n");
    return 2;
}
