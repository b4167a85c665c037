# speech: flite (no pkg-config), espeak-ng, pocketsphinx 5prealpha (+ sphinxbase), ffmpeg's
# libraries for decoding.
# pocketsphinx's cflags put sphinxbase's headers (err.h, matrix.h, heap.h, ...) on the include
# path; they would shadow system headers for every other file, so only the one file that
# talks to pocketsphinx gets them.
PKGS += espeak-ng libavformat libavcodec libswresample libavutil
EXTRA_LDLIBS += $(shell pkg-config --libs pocketsphinx) \
                -lflite_cmu_us_slt -lflite_cmu_us_rms -lflite_cmu_us_awb -lflite_cmu_us_kal16 \
                -lflite_usenglish -lflite_cmulex -lflite
%/speech_asr_ps.o: CFLAGS += $(shell pkg-config --cflags pocketsphinx)
