# text module: language id (libexttextcat), Pattern's pickled tagger model (zlib)
PKGS += libexttextcat zlib
