// gpc: the command line for gpcd's containers (see cli/commands.h).
#include "cli/commands.h"

int main(int argc, char** argv) { return gpc::cli::GpcMain(argc, argv); }
