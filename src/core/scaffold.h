/* scaffold.h — `stepd new NAME`: writes a starter project. */
#ifndef STEPD_CORE_SCAFFOLD_H
#define STEPD_CORE_SCAFFOLD_H

/* argv[0] is "new". Returns a process exit code. */
int scaffold_main(int argc, char **argv);

#endif
