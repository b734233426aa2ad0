/*
 * The `phalanx` command line: one file per subcommand (cmd_<name>.c), each exporting
 * `int cmd_<name>(int argc, char **argv)` where argv[0] is the subcommand's name.
 * A subcommand prints its own usage for --help and returns the process exit status:
 * 0 success, 1 failure (with a sentence on stderr saying what failed and what to do),
 * 2 bad usage.
 */
#ifndef PHALANX_COMMANDS_H
#define PHALANX_COMMANDS_H

struct phalanx_command {
    const char *name;
    const char *summary; /* one line for `phalanx --help` */
    int (*run)(int argc, char **argv);
};

/* The table, in main.c; ends with a {NULL} entry. */
extern const struct phalanx_command phalanx_commands[];

/* Subcommands. Add yours here and to the table in main.c and to meson.build. */
int cmd_version(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_inspect_wal(int argc, char **argv);
int cmd_abci_test(int argc, char **argv);
int cmd_testnet(int argc, char **argv);
int cmd_rollback(int argc, char **argv);
int cmd_load(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_tx(int argc, char **argv);
int cmd_query(int argc, char **argv);

#endif
