# nn: stepd's neural inference engine (src/nn/*.c; issue 12). The Makefile's source lists do
# not cover src/nn yet, so its objects are added here as extra prerequisites of both
# libraries (their recipes link $^). Once the Makefile picks up NN_SRC, drop the two rules.
NN_SRC := $(sort $(wildcard src/nn/*.c))
NN_OBJ := $(NN_SRC:%.c=$(BUILD)/%.o)
# This file is included before the Makefile's first rule: keep `all` the default goal.
.DEFAULT_GOAL := all
$(BUILD)/libstepd.a: $(NN_OBJ)
$(BUILD)/libstepd-ai.so: $(NN_OBJ)
-include $(NN_OBJ:.o=.d)
