# core runtime: everything is in PKGS already (libuv libh2o jansson sqlite3)
