# llm: chat completions client on libcurl (src/ai/llm*.c)
PKGS += libcurl
