/*
 * ai_cli.h — the `stepd ai <command>` entry points, one per AI module.
 * Each takes the arguments after the command name (argv[0] is the command) and returns
 * the process exit code: 0 ok, 1 the operation failed (message on stderr), 2 bad usage.
 * Output goes to stdout (JSON), diagnostics to stderr.
 */
#ifndef STEPD_AI_CLI_H
#define STEPD_AI_CLI_H

int ai_cli_main(int argc, char **argv); /* dispatch: argv[0] == "ai" */

int ai_cli_chat(int argc, char **argv);       /* src/ai/llm_cli.c */
int ai_cli_text(int argc, char **argv);       /* src/ai/text_cli.c */
int ai_cli_recommend(int argc, char **argv);  /* src/ai/recommend_cli.c */
int ai_cli_ocr(int argc, char **argv);        /* src/ai/ocr_cli.c */
int ai_cli_speak(int argc, char **argv);      /* src/ai/speech_cli.c */
int ai_cli_transcribe(int argc, char **argv); /* src/ai/speech_cli.c */
int ai_cli_nn(int argc, char **argv);         /* src/ai/nn_cli.c: `stepd nn ...` */

#endif
