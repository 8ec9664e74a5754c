/* maildir_uid.c: being written */
