# nn: stepd's neural inference engine (src/nn/*.c, compiled into the AI library by the
# Makefile's AI_SRC); no extra packages to link. Model data: packages/nn.data.sh.
