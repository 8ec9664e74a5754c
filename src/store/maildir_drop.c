/* maildir_drop.c: being written */
