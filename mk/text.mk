# text module: Pattern's pickled tagger model (zlib). Language fingerprints are data files
# (libexttextcat-data), read by src/ai/text_lang.c: no library.
PKGS += zlib
