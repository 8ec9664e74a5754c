/* maildir_deliver.c: being written */
