# core runtime: everything is in PKGS already (libuv libh2o jansson sqlite3)
PKGS += libcurl   # the CLI talks to a running server
