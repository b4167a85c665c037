# core runtime: its packages are CORE_PKGS in the Makefile (libuv libh2o jansson sqlite3 libcurl)
